//! End-to-end (`rexim -bd` on 127.0.0.1, bounded reads): where ACL `add_header` lines
//! land in the spooled header list, for each position prefix and ACL phase (MAIL,
//! RCPT, PREDATA, MIME, PRDR, DATA), with `remove_header` between them. The same
//! dialogue goes to `exim4 -bs` (its own spool); both `-H` files are read back with
//! `exim4 -Mvh` and their header sections must be identical, apart from the text of
//! the Received: line each program makes.

#[path = "support/daemon.rs"]
mod daemon;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

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

fn reply(r: &mut BufReader<TcpStream>) -> String {
    let mut all = String::new();
    loop {
        let mut line = String::new();
        assert!(r.read_line(&mut line).unwrap() > 0, "closed: {all}");
        all.push_str(&line);
        if line.as_bytes().get(3) != Some(&b'-') {
            return all;
        }
    }
}

/// Run the dialogue against the daemon; the id of the accepted message.
fn send(port: u16, lines: &[String]) -> String {
    let s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(daemon::IO_TIMEOUT)).unwrap();
    let mut r = BufReader::new(s.try_clone().unwrap());
    let mut w = s;
    let mut all = reply(&mut r);
    let mut in_data = false;
    for l in lines {
        w.write_all(format!("{l}\r\n").as_bytes()).unwrap();
        if in_data && l != "." {
            continue;
        }
        let mut rep = reply(&mut r);
        // PRDR answers the final dot with one reply per recipient, then its summary.
        while l == "." && !rep.contains("id=") && !rep.starts_with(['4', '5']) {
            all.push_str(&rep);
            rep = reply(&mut r);
        }
        in_data = rep.starts_with("354");
        all.push_str(&rep);
    }
    id_in(&all)
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

/// A configuration for exim4 -bs with its own spool under `dir`.
fn exim_config(dir: &Path, spool: &Path, extra: &str) -> PathBuf {
    let path = dir.join("exim.conf");
    std::fs::write(
        &path,
        format!(
            "spool_directory = {0}\nlog_file_path = {0}/log/%slog\nkeep_environment =\n\
             exim_user = root\nexim_group = root\nqueue_only = true\n\
             queue_list_requires_admin = false\nprimary_hostname = test.example\n{extra}",
            spool.display()
        ),
    )
    .unwrap();
    path
}

/// Feed the dialogue to `exim4 -bs` as if from 127.0.0.1; the message id.
fn exim_bs(conf: &Path, lines: &[String]) -> String {
    let mut child = Command::new("exim4")
        .arg("-C")
        .arg(conf)
        .args(["-bs", "-oMa", "127.0.0.1", "-oMs", "client.example"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let input: String = lines.iter().map(|l| format!("{l}\r\n")).collect();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    id_in(&String::from_utf8_lossy(&out.stdout))
}

fn have_exim() -> bool {
    Command::new("exim4")
        .arg("-bV")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

#[test]
fn header_positions_match_exim_in_every_phase() {
    let d = daemon::start("headers", ACLS);
    let ours_plain = send(d.port, &dialogue(false));
    let ours_prdr = send(d.port, &dialogue(true));
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
    let theirs_plain = exim_bs(&theirs_conf, &dialogue(false));
    let theirs_prdr = exim_bs(&theirs_conf, &dialogue(true));
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
