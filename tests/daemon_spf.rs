//! End-to-end SPF in `rexim -bd` over 127.0.0.1: the `spf` condition runs in the RCPT
//! ACL of a real session and `add_header = $spf_received` reaches the spool. The client
//! is on the loopback address, which Exim's libspf2 build always passes ("localhost is
//! always allowed.") without asking DNS, so this test needs no resolver at all.

mod support;

use support::daemon::{self, Daemon};

const ACLS: &str = "\
acl_check_rcpt:
  deny    senders = *@blocked.example
          spf = pass
          message = SPF $spf_result for blocked: $spf_header_comment
  deny    spf = fail
          message = SPF says no: $spf_smtp_comment
  warn    add_header = $spf_received
  accept
";

fn start() -> Daemon {
    daemon::start(
        "daemon-spf",
        &format!("acl_smtp_rcpt = acl_check_rcpt\nbegin acl\n{ACLS}\n"),
    )
}

#[test]
fn spf_in_the_rcpt_acl_and_received_spf_in_the_spool() {
    let d = start();
    let mut c = d.connect();
    assert!(c.reply().starts_with("220 "));
    c.cmd("EHLO client.example");
    // The condition ran at RCPT: the deny fires with libspf2's loopback comment.
    assert_eq!(
        c.cmd("MAIL FROM:<eve@blocked.example>").get(..3),
        Some("250")
    );
    assert_eq!(
        c.cmd("RCPT TO:<u@test.example>"),
        "550 SPF pass for blocked: test.example: localhost is always allowed."
    );
    assert_eq!(c.cmd("RSET").get(..3), Some("250"));
    // `spf = fail` never holds for a loopback client; the message is stored with the
    // Received-SPF: header the warn statement added.
    assert_eq!(c.cmd("MAIL FROM:<a@client.example>").get(..3), Some("250"));
    assert_eq!(c.cmd("RCPT TO:<u@test.example>").get(..3), Some("250"));
    assert_eq!(c.cmd("DATA").get(..3), Some("354"));
    let r = c.cmd("Subject: spf\r\n\r\nbody\r\n.");
    assert!(r.starts_with("250 OK id="), "{r}");
    let id = r.trim_start_matches("250 OK id=").to_string();
    assert_eq!(c.cmd("QUIT").get(..3), Some("221"));

    let spool = d.spool();
    let h = spool.read_header(&id).expect("read -H");
    let headers: String = h
        .headers
        .iter()
        .map(|hl| String::from_utf8_lossy(&hl.text).into_owned())
        .collect();
    assert!(
        headers.contains(
            "Received-SPF: pass (test.example: localhost is always allowed.) \
             client-ip=127.0.0.1; envelope-from=a@client.example; helo=client.example;\n"
        ),
        "{headers}"
    );
}
