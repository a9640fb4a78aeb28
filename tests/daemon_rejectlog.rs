//! End-to-end (`rexim -bd` on 127.0.0.1, bounded reads): the rejectlog after
//! rejections in each phase. Once a message has been received (DKIM, MIME and DATA
//! ACLs), Exim follows the line with the envelope (`Envelope-from:`, `Envelope-to:`)
//! and the header list with its flag letters, including what earlier ACLs added or
//! removed; a RCPT rejection, before and after a message, has the line only. The same
//! sessions go to `exim4 -bs` (`-bh` writes no log files); both rejectlogs must be
//! identical once times, ids, exim's `U=` ident and each program's own Received:
//! text are set aside.

mod support;

use support::{daemon, exim_bs};

use exim_bs::{exim_bs, exim_config, have_exim, send, session};

const CONFIG: &str = "message_size_limit = 2k\nacl_smtp_mail = mail\nacl_smtp_rcpt = rcpt\nacl_smtp_predata = predata\n\
acl_smtp_mime = mime\nacl_smtp_data = data\nacl_smtp_dkim = dkim\n\
dkim_verify_signers = signer.example\n\
begin acl\n\
mail:\n  warn add_header = :at_start:X-Mail-Top: m\n  accept\n\
rcpt:\n  deny local_parts = bad\n       message = no such user\n\
  warn add_header = :after_received:X-Rcpt-Rec: $local_part\n  accept\n\
predata:\n  warn add_header = :at_start_rfc:X-Predata-Rfc: p\n\
  warn remove_header = X-Remove-Early\n  accept\n\
dkim:\n  deny condition = ${if def:h_x-dkim-deny:}\n       log_message = dkim says no\n  accept\n\
mime:\n  warn add_header = X-Mime-Seen: yes\n\
  deny condition = ${if def:h_x-mime-deny:}\n       log_message = mime says no\n  accept\n\
data:\n  warn add_header = :at_start:X-Data-Top: d\n  warn remove_header = X-Mail-Top\n\
  deny condition = ${if def:h_x-deny:}\n       message = go away\n       log_message = data says no\n\
  accept\n";

fn message(extra: &str) -> Vec<String> {
    let mut lines: Vec<String> = [
        "MAIL FROM:<a@client.example>",
        "RCPT TO:<bad@test.example>",
        "RCPT TO:<u1@test.example>",
        "RCPT TO:<u2@test.example>",
        "DATA",
        "Received: from x by y; Mon, 1 Jan 2024 00:00:00 +0000",
        "X-Remove-Early: e",
        "Subject: rejected",
        "MIME-Version: 1.0",
        "Content-Type: text/plain",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    lines.push(extra.to_string());
    lines.extend(["", "body", "."].iter().map(|s| s.to_string()));
    lines
}

/// The sessions: DATA, MIME and DKIM rejections (the first followed by a RCPT
/// rejection in a new transaction), and a message over `message_size_limit`.
fn sessions() -> Vec<Vec<String>> {
    let mut data = message("X-Deny: 1");
    data.extend(["MAIL FROM:<b@client.example>", "RCPT TO:<bad@test.example>"].map(String::from));
    // Too big: Exim lists the headers read, before any Received: line or ACL header.
    let mut too_big = message("X-Big: 1");
    let dot = too_big.pop().unwrap();
    too_big.extend((0..80).map(|i| format!("line {i} of a body longer than the size limit")));
    too_big.push(dot);
    let refs = |v: &[String]| session(&v.iter().map(String::as_str).collect::<Vec<_>>());
    vec![
        refs(&data),
        refs(&message("X-Mime-Deny: 1")),
        refs(&message("X-Dkim-Deny: 1")),
        refs(&too_big),
    ]
}

/// Times, ids, the `U=` ident exim4 -bs has and the Received: text each program makes
/// (host, ident, id, date) set aside.
fn normalise(log: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut in_own_received = false;
    for line in log.lines() {
        let mut l = line.to_string();
        let b = l.as_bytes();
        if b.len() > 20 && b[4] == b'-' && b[10] == b' ' && b[13] == b':' {
            l = l[20..].to_string();
        }
        l = l.replace(" U=root", "");
        let words: Vec<String> = l
            .split(' ')
            .map(|w| {
                let id = w.trim_end_matches(';');
                let shape = id.len() == 16 && id.as_bytes()[6] == b'-' && id.as_bytes()[13] == b'-';
                if shape {
                    "<ID>".to_string()
                } else {
                    w.to_string()
                }
            })
            .collect();
        l = words.join(" ");
        if l.starts_with("P Received: ") && !l.contains("from x by y") {
            in_own_received = true;
            out.push("P Received: <made by the receiver>".into());
            continue;
        }
        if in_own_received && (l.starts_with('\t') || l.starts_with(' ')) {
            continue;
        }
        in_own_received = false;
        out.push(l);
    }
    out
}

#[test]
fn rejectlog_listing_matches_exim() {
    let d = daemon::start("rejectlog", CONFIG);
    for s in sessions() {
        send(d.port, &s);
    }
    let ours = std::fs::read_to_string(d.dir.join("spool/log/rejectlog")).unwrap();
    let ours = normalise(&ours);
    // What the listing must hold, exim4 or not: the envelope and the flagged headers.
    let text = ours.join("\n");
    for want in [
        "H=(client.example) [127.0.0.1] F=<a@client.example> rejected RCPT <bad@test.example>: no such user",
        "<ID> H=(client.example) [127.0.0.1] F=<a@client.example> rejected after DATA: data says no\nEnvelope-from: <a@client.example>\nEnvelope-to: <u1@test.example>\n    <u2@test.example>\n  X-Data-Top: d\n* X-Mail-Top: m\n",
        "* X-Remove-Early: e",
        "rejected during MIME ACL checks: mime says no\nEnvelope-from:",
        "  X-Mime-Seen: yes",
        "rejected from <a@client.example> H=(client.example) [127.0.0.1]: message too big: read=",
        " max=2048\nEnvelope-from: <a@client.example>\nEnvelope-to: <u1@test.example>\n    \
         <u2@test.example>\nP Received: from x by y",
    ] {
        assert!(text.contains(want), "missing {want:?} in\n{text}");
    }
    // A RCPT rejection after the rejected message has no listing.
    let after = text
        .split("rejected RCPT <bad@test.example>: no such user\n")
        .nth(2)
        .unwrap_or_else(|| panic!("{text}"));
    assert!(!after.starts_with("Envelope-from"), "{text}");
    if !have_exim() {
        eprintln!("SKIPPED exim4 comparison: exim4 is not installed");
        return;
    }
    let dir = d.dir.join("exim");
    std::fs::create_dir_all(dir.join("spool")).unwrap();
    let conf = exim_config(&dir, &dir.join("spool"), CONFIG);
    for s in sessions() {
        exim_bs(&conf, &s, &[]);
    }
    let theirs = std::fs::read_to_string(dir.join("spool/log/rejectlog")).unwrap();
    assert_eq!(ours, normalise(&theirs));
}
