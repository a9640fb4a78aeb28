//! End-to-end (`rexim -bd` on 127.0.0.1, bounded reads): where ACL `add_header` lines
//! land in the spooled header list, for each position prefix and ACL phase (MAIL,
//! RCPT, PREDATA, MIME, PRDR, DATA), with `remove_header` between them. The same
//! dialogue goes to `exim4 -bs` (its own spool); both `-H` files are read back with
//! `exim4 -Mvh` and their header sections must be identical, apart from the text of
//! the Received: line each program makes.

mod support;

use support::{daemon, exim_bs};

use exim_bs::{exim_bs, exim_config, have_exim, send};
use std::path::Path;
use std::process::Command;

const ACLS: &str = "acl_smtp_mail = mail\nacl_smtp_rcpt = rcpt\nacl_smtp_predata = predata\n\
acl_smtp_mime = mime\nacl_smtp_data = data\nacl_smtp_data_prdr = prdr\nprdr_enable = true\n\
begin acl\n\
mail:\n  warn add_header = :at_start:X-Mail-Top: m\n  accept\n\
rcpt:\n  warn add_header = :after_received:X-Rcpt-Rec: $local_part\n\
  warn add_header = X-Rcpt-End: r\n  accept\n\
predata:\n  warn add_header = :at_start_rfc:X-Predata-Rfc: p\n\
  warn remove_header = X-Remove-Early\n  accept\n\
mime:\n  warn add_header = :at_start:X-Mime-Top: m\n  warn remove_header = X-Rcpt-End\n  accept\n\
prdr:\n  warn add_header = :at_start_rfc:X-Prdr: $local_part\n  accept\n\
data:\n  warn add_header = :after_received:X-Data-Rec: d\n\
  warn add_header = X-Data-Seen: ${if def:h_x-rcpt-end:{yes}{no}} ${if def:h_x-mail-top:{yes}{no}}\n\
  warn add_header = :at_end:X-Data-End: d\n  warn remove_header = X-Mail-Top\n  accept\n";

/// The SMTP commands and message lines of one session (`prdr` adds PRDR to MAIL).
fn dialogue(prdr: bool) -> Vec<String> {
    let mail = if prdr {
        "MAIL FROM:<a@client.example> PRDR"
    } else {
        "MAIL FROM:<a@client.example>"
    };
    [
        "EHLO client.example",
        mail,
        "RCPT TO:<u1@test.example>",
        "RCPT TO:<u2@test.example>",
        "DATA",
        "Received: from x by y; Mon, 1 Jan 2024 00:00:00 +0000",
        "X-Remove-Early: e",
        "Resent-From: r@client.example",
        "Subject: positions",
        "MIME-Version: 1.0",
        "Content-Type: text/plain",
        "",
        "body",
        ".",
        "QUIT",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

/// The message id of the final reply (`250 OK id=...`, or PRDR's `250 id=... message`).
fn id_in(replies: &str) -> String {
    replies
        .split("id=")
        .nth(1)
        .and_then(|r| r.get(..16))
        .unwrap_or_else(|| panic!("no id in {replies}"))
        .to_string()
}

/// The header section of `exim4 -Mvh`: one entry per header line, the Received:
/// line a program makes itself (with its host, ids and date) reduced to its flag.
fn headers_of(conf: &Path, id: &str) -> Vec<String> {
    let out = Command::new("exim4")
        .arg("-C")
        .arg(conf)
        .args(["-Mvh", id])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (_, section) = text.split_once("\n\n").unwrap_or_else(|| panic!("{text}"));
    let mut list: Vec<String> = Vec::new();
    for line in section.lines() {
        let starts = line.len() > 4 && line.as_bytes()[..3].iter().all(u8::is_ascii_digit);
        match list.last_mut() {
            Some(last) if !starts => {
                last.push('\n');
                last.push_str(line);
            }
            _ => list.push(line.to_string()),
        }
    }
    list.into_iter()
        .map(|h| {
            if h.contains("(Exim 4.96)") {
                format!("{} Received: <made by the receiver>", &h[3..4])
            } else {
                h
            }
        })
        .collect()
}

#[test]
fn header_positions_match_exim_in_every_phase() {
    let d = daemon::start("headers", ACLS);
    let ours_plain = id_in(&send(d.port, &dialogue(false)));
    let ours_prdr = id_in(&send(d.port, &dialogue(true)));
    // Exim's tools read rexim's spool.
    let reader = d.dir.join("reader");
    std::fs::create_dir_all(&reader).unwrap();
    let ours_conf = exim_config(&reader, &d.dir.join("spool"), "");
    if !have_exim() {
        eprintln!("SKIPPED: exim4 is not installed; checking rexim's own spool only");
        let spool = rexim::spool::Spool::new(d.dir.join("spool"));
        let h = spool.read_header(&ours_plain).unwrap();
        let names: Vec<String> = h
            .headers
            .iter()
            .map(|l| String::from_utf8_lossy(&l.text).into_owned())
            .collect();
        assert!(names[0].starts_with("X-Mime-Top:"), "{names:?}");
        return;
    }
    let theirs_dir = d.dir.join("exim");
    std::fs::create_dir_all(theirs_dir.join("spool")).unwrap();
    let theirs_conf = exim_config(&theirs_dir, &theirs_dir.join("spool"), ACLS);
    let theirs_plain = id_in(&exim_bs(
        &theirs_conf,
        &dialogue(false),
        &["-oMs", "client.example"],
    ));
    let theirs_prdr = id_in(&exim_bs(
        &theirs_conf,
        &dialogue(true),
        &["-oMs", "client.example"],
    ));
    for (ours, theirs, prdr) in [
        (ours_plain, theirs_plain, false),
        (ours_prdr, theirs_prdr, true),
    ] {
        let ours = headers_of(&ours_conf, &ours);
        let theirs = headers_of(&theirs_conf, &theirs);
        assert_eq!(ours, theirs);
        // The fixture exercises what it claims: every position and a removal.
        let all = ours.join("\n");
        for want in [
            "X-Mime-Top",
            "X-Data-Rec",
            "X-Predata-Rfc",
            "* X-Mail-Top",
            "X-Data-End",
        ] {
            assert!(all.contains(want), "{want} missing:\n{all}");
        }
        assert_eq!(all.contains("X-Prdr: u2"), prdr, "{all}");
    }
}
