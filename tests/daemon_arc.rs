//! `verify = arc` end to end: rexim's daemon (`server::build` + `server::serve`, run in
//! this process so it can be given the ARC fixture zone instead of the system resolver)
//! on 127.0.0.1, real SMTP sessions, the `${authresults}` header in the spool and the
//! ` ARC` tag on the `<=` log line. Debian's exim4 has no ARC, so nothing to compare.

mod support;

use std::net::TcpStream;
use std::path::Path;
use support::client::{code, Client};
use support::daemon;

const ACLS: &str = "\
acl_smtp_rcpt = check_rcpt
acl_smtp_data = check_data
begin acl
check_rcpt:
  accept
check_data:
  deny    !verify = arc/pass:none
          message = ARC $arc_state: $arc_state_reason
  warn    add_header = :at_start:${authresults{test.example}}
  accept
";

fn arc_file(name: &str) -> String {
    std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/arc")
            .join(name),
    )
    .expect("ARC fixture file")
}

/// The fixture message `name` from alice to bob; the reply to its final dot.
fn send(c: &mut Client<TcpStream>, name: &str) -> String {
    c.message("alice@origin.example", "bob@test.example", &arc_file(name))
}

#[test]
fn arc_results_reach_the_spool_and_the_log() {
    let zone = rexim::dns::FakeResolver::parse(&arc_file("zone.txt")).unwrap();
    let d = daemon::start_in_process("daemon-arc", ACLS, zone);
    let mut c = d.connect();
    assert_eq!(code(&c.reply()), "220");
    assert_eq!(code(&c.cmd("EHLO client.example")), "250");
    let r = send(&mut c, "messages/pass2.eml");
    assert!(r.starts_with("250 OK id="), "{r}");
    let id = r.trim_start_matches("250 OK id=").to_string();
    assert_eq!(
        send(&mut c, "messages/broken_chain.eml"),
        "550 ARC fail: (sequence; expected i=1)"
    );
    assert_eq!(
        send(&mut c, "messages/body_changed.eml"),
        "550 ARC fail: AMS body hash miscompare"
    );
    assert_eq!(code(&c.cmd("QUIT")), "221");

    let spool = d.spool();
    let h = spool.read_header(&id).expect("read -H");
    // (rexim's spool writer puts ACL-added headers after the message's own, whatever
    // their position option; Exim would put this `:at_start:` one first.)
    let ar = h
        .headers
        .iter()
        .map(|hl| String::from_utf8_lossy(&hl.text).into_owned())
        .find(|t| t.starts_with("Authentication-Results: test.example;"))
        .expect("the added Authentication-Results header");
    assert_eq!(
        ar,
        "Authentication-Results: test.example;\n\tarc=pass (i=2) header.s=sel2 \
         arc.oldest-pass=1 smtp.remote-ip=127.0.0.1\n"
    );
    let log = d.mainlog();
    let arrival = log
        .lines()
        .find(|l| l.contains(&format!("{id} <= ")))
        .unwrap_or_else(|| panic!("no <= line in {log}"));
    assert!(
        arrival.contains(" S=") && arrival.contains(" ARC"),
        "{arrival}"
    );
    assert!(
        log.contains("rejected after DATA: ARC fail: (sequence; expected i=1)"),
        "{log}"
    );
}
