//! What ACLs do to the header list, replayed in Exim's order: each step (Exim's
//! `add_acl_headers`, after the MAIL/RCPT ACLs, the DKIM, MIME, DATA and non-SMTP
//! ACLs) first marks removed headers old, then inserts the added lines by position.

use super::header::{header_type, HeaderLine};
use crate::acl::state::HeaderPosition;

/// One step's removals (header names) and additions (each ends in a newline).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HeaderBatch {
    pub removed: Vec<String>,
    pub added: Vec<(HeaderPosition, String)>,
}

/// Exim's `header_testname`: the name, case-insensitively, then optional blanks and `:`.
fn has_name(text: &[u8], name: &[u8]) -> bool {
    let Some(head) = text.get(..name.len()) else {
        return false;
    };
    if !head.eq_ignore_ascii_case(name) {
        return false;
    }
    let rest = &text[name.len()..];
    let blanks = rest
        .iter()
        .take_while(|&&c| c == b' ' || c == b'\t')
        .count();
    rest.get(blanks) == Some(&b':')
}

/// Exim's `header_testname_incomplete`: the text starts with `prefix`.
fn starts_with(text: &[u8], prefix: &[u8]) -> bool {
    text.get(..prefix.len())
        .is_some_and(|h| h.eq_ignore_ascii_case(prefix))
}

/// Apply one step to `list`, whose first line is the Received: header Exim reserves.
pub fn apply(list: &mut Vec<HeaderLine>, batch: &HeaderBatch) {
    for h in list.iter_mut().filter(|h| h.kind != b'*') {
        if batch
            .removed
            .iter()
            .any(|n| has_name(&h.text, n.as_bytes()))
        {
            h.kind = b'*';
        }
    }
    // Exim keeps one pointer for both positions: it is found once for
    // `:after_received:` but reset by every `:at_start_rfc:`, and lines inserted after
    // it come out in reverse order, as in Exim.
    let mut anchor: Option<usize> = None;
    for (pos, text) in &batch.added {
        let line = HeaderLine {
            kind: header_type(text.as_bytes()),
            text: text.as_bytes().to_vec(),
        };
        match pos {
            HeaderPosition::AtStart => {
                list.insert(0, line);
                anchor = anchor.map(|a| a + 1);
            }
            HeaderPosition::AfterReceived => {
                let at = *anchor.get_or_insert_with(|| {
                    let first = list
                        .iter()
                        .position(|h| has_name(&h.text, b"Received"))
                        .unwrap_or(0);
                    let run = list[first + 1..]
                        .iter()
                        .take_while(|h| has_name(&h.text, b"Received"))
                        .count();
                    first + run
                });
                list.insert((at + 1).min(list.len()), line);
            }
            HeaderPosition::AtStartRfc => {
                let run = list
                    .iter()
                    .skip(1)
                    .take_while(|h| {
                        has_name(&h.text, b"Received") || starts_with(&h.text, b"Resent-")
                    })
                    .count();
                anchor = Some(run);
                list.insert((run + 1).min(list.len()), line);
            }
            HeaderPosition::End | HeaderPosition::Direct => list.push(line),
        }
    }
}

/// The header list after `batches`: the Received: line first, then the message's own.
pub fn replay(
    received: HeaderLine,
    own: Vec<HeaderLine>,
    batches: &[HeaderBatch],
) -> Vec<HeaderLine> {
    let mut list = Vec::with_capacity(own.len() + 1);
    list.push(received);
    list.extend(own);
    for b in batches {
        apply(&mut list, b);
    }
    list
}

/// Stands for the Received: header while ACLs run (Exim has made it; rexim's
/// expansions do not show it yet): no ACL can add a line with a NUL.
const PLACEHOLDER: &[u8] = b"Received: \0\n";

/// The headers later ACLs see: `base` (without Received:) after `batches`, old ones
/// left out.
pub fn visible(
    base: &crate::expand::message::Message,
    batches: &[HeaderBatch],
) -> crate::expand::message::Message {
    let own = base
        .headers
        .iter()
        .map(|h| HeaderLine {
            kind: header_type(&h.text),
            text: h.text.clone(),
        })
        .collect();
    let received = HeaderLine {
        kind: b'P',
        text: PLACEHOLDER.to_vec(),
    };
    let list = replay(received, own, batches);
    // Everything but the headers as in `base` (its old header list is not copied).
    crate::expand::message::Message {
        headers: list
            .into_iter()
            .filter(|h| h.kind != b'*' && h.text != PLACEHOLDER)
            .map(|h| crate::expand::message::Header { text: h.text })
            .collect(),
        body: base.body.clone(),
        counts: base.counts.clone(),
        uucp_sender: base.uucp_sender.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(t: &str) -> HeaderLine {
        HeaderLine {
            kind: header_type(t.as_bytes()),
            text: t.as_bytes().to_vec(),
        }
    }

    fn names(list: &[HeaderLine]) -> Vec<String> {
        list.iter()
            .map(|h| {
                let t = String::from_utf8_lossy(&h.text);
                let n = t.split(':').next().unwrap_or("").to_string();
                if h.kind == b'*' {
                    format!("*{n}")
                } else {
                    n
                }
            })
            .collect()
    }

    fn batch(added: &[(HeaderPosition, &str)], removed: &[&str]) -> HeaderBatch {
        HeaderBatch {
            removed: removed.iter().map(|s| s.to_string()).collect(),
            added: added
                .iter()
                .map(|(p, t)| (*p, format!("{t}: x\n")))
                .collect(),
        }
    }

    #[test]
    fn positions_as_exim() {
        use HeaderPosition::*;
        let own = vec![
            line("Received: old\n"),
            line("Resent-From: a\n"),
            line("Subject: s\n"),
        ];
        let one = batch(
            &[
                (End, "E1"),
                (AfterReceived, "R1"),
                (AfterReceived, "R2"),
                (AtStartRfc, "F1"),
                (AtStartRfc, "F2"),
                (End, "E2"),
            ],
            &[],
        );
        let list = replay(line("Received: new\n"), own.clone(), &[one]);
        assert_eq!(
            names(&list),
            [
                "Received",
                "Received",
                "F2",
                "F1",
                "R2",
                "R1",
                "Resent-From",
                "Subject",
                "E1",
                "E2"
            ]
        );
        // `:at_start_rfc:` counts from the first line, whatever it is, and leaves its
        // place for a later `:after_received:` of the same step.
        let top = batch(&[(AtStart, "S1"), (AtStart, "S2")], &[]);
        let rfc = batch(&[(AtStartRfc, "F3"), (AfterReceived, "R3")], &[]);
        let list = replay(line("Received: new\n"), own, &[top, rfc]);
        assert_eq!(
            names(&list),
            [
                "S2",
                "R3",
                "F3",
                "S1",
                "Received",
                "Received",
                "Resent-From",
                "Subject"
            ]
        );
    }

    #[test]
    fn removal_comes_first_and_spares_the_same_step() {
        use HeaderPosition::*;
        let own = vec![line("X-A: 1\n"), line("X-Ab: 2\n")];
        let first = batch(&[(End, "X-A")], &["x-a"]);
        let second = batch(&[], &["X-A"]);
        let list = replay(
            line("Received: new\n"),
            own.clone(),
            std::slice::from_ref(&first),
        );
        assert_eq!(names(&list), ["Received", "*X-A", "X-Ab", "X-A"]);
        let list = replay(line("Received: new\n"), own, &[first, second]);
        assert_eq!(names(&list), ["Received", "*X-A", "X-Ab", "*X-A"]);
    }
}
