//! The header work Exim does on a locally submitted message before its ACLs run
//! (receive.c): header types, `-t` recipients (Bcc: kept only in the spool), and the
//! local fixups — a `From:` that is just the caller's login rewritten with the full
//! name, `Sender:` dropped for untrusted callers, missing `Message-Id:`, `From:` and
//! `Date:` added, and a `Sender:` added when `From:` is not the caller
//! (`local_from_check`). With `Resent-` headers the rules apply to the resent set.

use crate::expand::address::{find_address_end, Options, Parser};

/// One header line and whether it is old (kept in the spool as `*`, not sent, not seen).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    pub text: Vec<u8>,
    pub old: bool,
}

/// What the fixups depend on (Exim's flags for this message).
#[derive(Debug, Clone, Default)]
pub struct Facts {
    pub message_id: String,
    /// Sanitised `message_id_header_domain` (else `primary_hostname`) and `_text`.
    pub id_domain: String,
    pub id_text: String,
    /// `qualify_domain` (Exim's `qualify_domain_sender`) and `qualify_recipient`.
    pub qualify_domain: String,
    pub qualify_recipient: String,
    /// The envelope sender (empty: `<>`).
    pub sender: Vec<u8>,
    pub login: String,
    /// The caller's name, already a phrase (`parse_fix_phrase`).
    pub name: String,
    pub sender_local: bool,
    pub trusted: bool,
    pub suppress_local_fixups: bool,
    /// A trusted caller named a sending host (`-oMa`): the message is not local for
    /// the Message-Id:, From: and Date: additions.
    pub from_host: bool,
    /// `-F` was given; `-f` (or a `From ` line) set the sender.
    pub name_forced: bool,
    pub sender_forced: bool,
    /// Batched SMTP (`-bS`): the caller's name goes in a new From: only when forced.
    pub smtp_input: bool,
    pub local_from_check: bool,
    pub local_sender_retain: bool,
    /// `${tod_full}` at arrival.
    pub date: String,
    /// The `return_path_remove`, `envelope_to_remove`, `delivery_date_remove` options.
    pub return_path_remove: bool,
    pub envelope_to_remove: bool,
    pub delivery_date_remove: bool,
}

pub(crate) fn name_of(h: &[u8]) -> &[u8] {
    let end = h.iter().position(|&c| c == b':').unwrap_or(h.len());
    h[..end].trim_ascii_end()
}

fn value_of(h: &[u8]) -> &[u8] {
    let colon = h.iter().position(|&c| c == b':').map_or(h.len(), |p| p + 1);
    &h[colon..]
}

fn is_resent(h: &[u8]) -> bool {
    h.len() >= 7 && h[..7].eq_ignore_ascii_case(b"resent-")
}

/// The name without any `Resent-` prefix, lowercased.
fn base_name(h: &[u8]) -> Vec<u8> {
    let n = name_of(h);
    let n = if is_resent(n) { &n[7..] } else { n };
    n.to_ascii_lowercase()
}

/// Exim's `local_part_quote`.
pub fn quote_local_part(s: &str) -> String {
    let b = s.as_bytes();
    let last = b.len().saturating_sub(1);
    let needs = b.is_empty()
        || b.iter().enumerate().any(|(i, &c)| {
            !c.is_ascii_alphanumeric()
                && !b"!#$%&'*+-/=?^_`{|}~".contains(&c)
                && (c != b'.' || i == 0 || i == last)
        });
    if !needs {
        return s.to_string();
    }
    let mut q = String::from("\"");
    for c in s.chars() {
        if c == '"' || c == '\\' {
            q.push('\\');
        }
        q.push(c);
    }
    q.push('"');
    q
}

/// One bad address found by `-t`: the text from it to the end of the header, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadAddress {
    pub text: String,
    pub error: String,
}

/// `-t`: the recipients in To:, Cc: and Bcc: (the `Resent-` ones if any exist), less
/// those in `exclude` (the command-line addresses, already qualified); Bcc: becomes old.
/// Returns the recipients, the bad addresses, and whether some were excluded.
pub fn extract_recipients(
    headers: &mut [Header],
    exclude: &[Vec<u8>],
) -> (Vec<Vec<u8>>, Vec<BadAddress>, bool) {
    let resents = headers.iter().any(|h| is_resent(&h.text));
    let mut found = Vec::new();
    let mut bad = Vec::new();
    let mut ignored = false;
    for h in headers.iter_mut() {
        let base = base_name(&h.text);
        if !matches!(base.as_slice(), b"to" | b"cc" | b"bcc") || (resents && !is_resent(&h.text)) {
            continue;
        }
        let value = value_of(&h.text);
        let start = value.iter().take_while(|c| c.is_ascii_whitespace()).count();
        // Each address (newlines from continuations removed, the white space after
        // them kept) with the header's text from it to the end, for error reports.
        let mut pieces: Vec<(Vec<u8>, String)> = Vec::new();
        let mut s = &value[start..];
        while !s.is_empty() {
            let end = find_address_end(s, false);
            let one: Vec<u8> = s[..end].iter().copied().filter(|&c| c != b'\n').collect();
            let rest = crate::local::printing(&String::from_utf8_lossy(s.trim_ascii_end()));
            pieces.push((one, rest));
            s = &s[(end + 1).min(s.len())..];
            let skip = s.iter().take_while(|c| c.is_ascii_whitespace()).count();
            s = &s[skip..];
        }
        let mut parser = Parser::new(Options::default());
        parser.allow_group = true;
        for (one, rest) in &pieces {
            match parser.extract(one) {
                Ok(a) => {
                    let addr = a.address;
                    if exclude.contains(&addr) {
                        ignored = true;
                    } else {
                        found.push(addr);
                    }
                }
                Err(e) if e == "empty address" => {}
                Err(e) => bad.push(BadAddress {
                    text: rest.clone(),
                    error: e,
                }),
            }
        }
        if base == b"bcc" {
            h.old = true;
        }
    }
    (found, bad, ignored)
}

/// Apply the local fixups to `headers` (in place: old lines marked, new ones added).
/// Returns the `id=` element for the log when the message brought its own Message-Id.
pub fn apply(headers: &mut Vec<Header>, f: &Facts) {
    let resents = headers.iter().any(|h| is_resent(&h.text));
    let prefix = if resents { "Resent-" } else { "" };
    let in_set = |h: &[u8]| !resents || is_resent(h);
    let mut from: Option<usize> = None;
    let mut msgid = false;
    let mut date = false;
    let fixups = !f.suppress_local_fixups;
    let add_missing = fixups && !f.from_host;
    let n = headers.len();
    for i in 0..n {
        let text = headers[i].text.clone();
        match base_name(&text).as_slice() {
            b"date" if in_set(&text) => date = true,
            b"delivery-date" if f.delivery_date_remove && !is_resent(&text) => {
                headers[i].old = true
            }
            b"envelope-to" if f.envelope_to_remove && !is_resent(&text) => headers[i].old = true,
            b"return-path" if f.return_path_remove && !is_resent(&text) => headers[i].old = true,
            b"message-id" if !msgid && in_set(&text) => msgid = true,
            b"from" if in_set(&text) => {
                from = Some(i);
                // Sendmail compatibility: `From: login` gets the full name.
                let v = value_of(&text).trim_ascii_start();
                let v = v.strip_suffix(b"\n").unwrap_or(v);
                if v.eq_ignore_ascii_case(f.login.as_bytes()) {
                    let name = if is_resent(&text) {
                        "Resent-From"
                    } else {
                        "From"
                    };
                    headers.push(Header {
                        text: format!("{name}: {} <{}@{}>\n", f.name, f.login, f.qualify_domain)
                            .into_bytes(),
                        old: false,
                    });
                    headers[i].old = true;
                    from = Some(headers.len() - 1);
                }
            }
            b"sender"
                if !f.local_sender_retain
                    && f.sender_local
                    && !f.trusted
                    && fixups
                    && in_set(&text) =>
            {
                headers[i].old = true
            }
            _ => {}
        }
    }
    // New lines go at the end, or with Resent- headers at the start (RFC 5322 3.6.6).
    let add = |headers: &mut Vec<Header>, text: String| {
        let h = Header {
            text: text.into_bytes(),
            old: false,
        };
        if resents {
            headers.insert(0, h);
        } else {
            headers.push(h);
        }
    };
    if !msgid && add_missing {
        let dot = if f.id_text.is_empty() { "" } else { "." };
        add(
            headers,
            format!(
                "{prefix}Message-Id: <E{}{dot}{}@{}>\n",
                f.message_id, f.id_text, f.id_domain
            ),
        );
    }
    if from.is_none() && add_missing {
        let oname = if !f.trusted || f.name_forced || (!f.smtp_input && !f.sender_forced) {
            f.name.as_str()
        } else {
            ""
        };
        let wrap = |addr: &str| {
            if oname.is_empty() {
                addr.to_string()
            } else {
                format!("{oname} <{addr}>")
            }
        };
        let line = if f.sender.is_empty() {
            f.sender_local.then(|| {
                format!(
                    "{prefix}From: {}\n",
                    wrap(&format!(
                        "{}@{}",
                        quote_local_part(&f.login),
                        f.qualify_domain
                    ))
                )
            })
        } else {
            Some(format!(
                "{prefix}From: {}\n",
                wrap(&String::from_utf8_lossy(&f.sender))
            ))
        };
        if let Some(l) = line {
            headers.push(Header {
                text: l.into_bytes(),
                old: false,
            });
            from = Some(headers.len() - 1);
        }
    }
    if let Some(i) = from.filter(|_| f.local_from_check && f.sender_local && !f.trusted && fixups) {
        let generated = format!("{}@{}", quote_local_part(&f.login), f.qualify_domain);
        let value = value_of(&headers[i].text).to_vec();
        let same = crate::expand::address::extract(&value).is_ok_and(|a| {
            let addr = String::from_utf8_lossy(&a.address);
            addr.eq_ignore_ascii_case(&generated)
                || (a.domain_offset == 0 && addr.eq_ignore_ascii_case(&f.login))
        });
        if !same {
            headers.push(Header {
                text: format!("{prefix}Sender: {} <{generated}>\n", f.name).into_bytes(),
                old: false,
            });
        }
    }
    qualify_headers(headers, &f.qualify_domain, &f.qualify_recipient);
    if !date && add_missing {
        add(headers, format!("{prefix}Date: {}\n", f.date));
    }
}

/// Exim's `rewrite_address_qualify` over the address headers of a local message:
/// an address without a domain gets `@qualify_domain` (From:, Sender:, Reply-To:) or
/// `@qualify_recipient` (To:, Cc:, Bcc:), in place; a changed header is added after the
/// original, which becomes old. As Exim, a lengthened address ending more than 40
/// characters into the new text is followed by a folding newline.
pub fn qualify_headers(headers: &mut Vec<Header>, sender_domain: &str, recipient_domain: &str) {
    let mut i = 0;
    while i < headers.len() {
        let h = &headers[i];
        let resent = is_resent(&h.text);
        let domain = match base_name(&h.text).as_slice() {
            b"from" | b"sender" => sender_domain,
            b"reply-to" if !resent => sender_domain,
            b"to" | b"cc" | b"bcc" => recipient_domain,
            _ => "",
        };
        if h.old || domain.is_empty() {
            i += 1;
            continue;
        }
        if let Some(text) = qualify_one(&h.text, domain) {
            headers[i].old = true;
            headers.insert(i + 1, Header { text, old: false });
            i += 1;
        }
        i += 1;
    }
}

fn qualify_one(header: &[u8], domain: &str) -> Option<Vec<u8>> {
    let colon = header.iter().position(|&c| c == b':')? + 1;
    let mut text = header.to_vec();
    let mut pos = colon
        + text[colon..]
            .iter()
            .take_while(|c| c.is_ascii_whitespace())
            .count();
    let mut last_newline = 0usize;
    let mut changed = false;
    let mut parser_group = (true, false);
    while pos < text.len() {
        let ss = pos + find_address_end(&text[pos..], false);
        let piece = text[pos..ss].to_vec();
        let mut parser = Parser::new(Options::default());
        (parser.allow_group, parser.found_group) = parser_group;
        let found = parser.extract(&piece);
        parser_group = (parser.allow_group, parser.found_group);
        let sprev = pos;
        let mut s = (ss + 1).min(text.len());
        while s < text.len() && text[s].is_ascii_whitespace() {
            s += 1;
        }
        let Ok(a) = found else {
            pos = s;
            continue;
        };
        if a.domain_offset != 0 || a.address.is_empty() || a.address[0] == b'@' {
            pos = s;
            continue;
        }
        let mut new = a.address.clone();
        new.push(b'@');
        new.extend_from_slice(domain.as_bytes());
        let old_len = a.end - a.start;
        let mut out = text[..sprev + a.start].to_vec();
        out.extend_from_slice(&new);
        out.extend_from_slice(&text[sprev + a.end..s]);
        let resume = out.len();
        if new.len() > old_len && out.len() - last_newline > 40 {
            let mut p = s;
            while p > 0 && (text[p - 1] == b' ' || text[p - 1] == b'\t') {
                p -= 1;
            }
            if p == 0 || text[p - 1] != b'\n' {
                last_newline = out.len();
                out.extend_from_slice(b"\n\t");
            }
        }
        out.extend_from_slice(&text[s..]);
        text = out;
        pos = resume;
        changed = true;
    }
    changed.then_some(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hs(lines: &[&str]) -> Vec<Header> {
        lines
            .iter()
            .map(|l| Header {
                text: l.as_bytes().to_vec(),
                old: false,
            })
            .collect()
    }

    fn facts() -> Facts {
        Facts {
            message_id: "1xYWIu-0006NX-1W".into(),
            id_domain: "test.example".into(),
            qualify_domain: "test.example".into(),
            sender: b"fred@test.example".to_vec(),
            login: "fred".into(),
            name: "Fred Bloggs".into(),
            sender_local: true,
            local_from_check: true,
            date: "Tue, 01 Dec 2026 22:26:28 +0000".into(),
            ..Facts::default()
        }
    }

    #[test]
    fn untrusted_caller_gets_sender_and_fixups() {
        let mut h = hs(&["From: boss@corp.example\n", "Sender: x@y\n"]);
        apply(&mut h, &facts());
        let texts: Vec<String> = h
            .iter()
            .map(|h| {
                format!(
                    "{}{}",
                    if h.old { "*" } else { "" },
                    String::from_utf8_lossy(&h.text)
                )
            })
            .collect();
        assert_eq!(
            texts,
            vec![
                "From: boss@corp.example\n",
                "*Sender: x@y\n",
                "Message-Id: <E1xYWIu-0006NX-1W@test.example>\n",
                "Sender: Fred Bloggs <fred@test.example>\n",
                "Date: Tue, 01 Dec 2026 22:26:28 +0000\n",
            ]
        );
    }

    #[test]
    fn login_from_is_rewritten() {
        let mut h = hs(&["From: fred\n", "Date: x\n", "Message-ID: <a@b>\n"]);
        apply(&mut h, &facts());
        assert!(h[0].old);
        assert_eq!(h[3].text, b"From: Fred Bloggs <fred@test.example>\n");
        assert_eq!(h.len(), 4);
    }

    #[test]
    fn unqualified_header_addresses_are_qualified() {
        let mut h = hs(&["To: bob, Fred <jim>\n", "Reply-To: carol\n", "Cc: a@b\n"]);
        qualify_headers(&mut h, "s.example", "r.example");
        assert!(h[0].old && h[2].old && !h[4].old);
        assert_eq!(h[1].text, b"To: bob@r.example, Fred <jim@r.example>\n");
        assert_eq!(h[3].text, b"Reply-To: carol@s.example\n");
    }

    #[test]
    fn t_takes_to_cc_bcc_and_hides_bcc() {
        let mut h = hs(&[
            "To: a@b.example, Fred <c@d.example>\n",
            "Cc: e@f.example\n",
            "Bcc: g@h.example\n",
            "Subject: x\n",
        ]);
        let (r, bad, ignored) = extract_recipients(&mut h, &[b"c@d.example".to_vec()]);
        assert_eq!(
            r,
            vec![
                b"a@b.example".to_vec(),
                b"e@f.example".to_vec(),
                b"g@h.example".to_vec()
            ]
        );
        assert!(bad.is_empty() && ignored);
        assert!(h[2].old && !h[0].old);
    }
}
