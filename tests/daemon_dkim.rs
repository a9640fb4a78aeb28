//! End-to-end DKIM and DMARC in the SMTP daemon over 127.0.0.1: signed messages (made
//! by mail-auth's signer at test time) pass, fail and are refused by the DKIM ACL; DMARC
//! refuses a message in the DATA ACL; headers the DKIM ACL adds reach the spool and the
//! `<=` line carries `DKIM=`. The daemon runs in this process, built from its
//! configuration file as `rexim -bd` builds it, with the keys and `_dmarc` records
//! answered by a fixture zone instead of real DNS (the binary has no such switch).

mod support;

use support::client::code;
use support::daemon;
use support::dkim_sign::{public_key, signed, Signer};

const ACLS: &str = "\
acl_smtp_rcpt = rcpt
acl_smtp_dkim = dkim
acl_smtp_data = data
dmarc_tld_file = /dev/null
log_selector = +dkim_verbose
begin acl
rcpt:
  accept
dkim:
  deny    dkim_status = fail
          message = DKIM says $dkim_verify_reason for $dkim_cur_signer
  warn    add_header = X-DKIM-Check: $dkim_cur_signer $dkim_verify_status
  accept
data:
  deny    dmarc_status = reject
          message = DMARC policy of $dmarc_used_domain: reject
  warn    add_header = ${authresults{test.example}}
  accept
";

fn zone() -> String {
    format!(
        "sel._domainkey.example.com TXT \"v=DKIM1; k=rsa; p={}\"\n\
         _dmarc.example.com TXT \"v=DMARC1; p=quarantine\"\n\
         _dmarc.strict.example TXT \"v=DMARC1; p=reject\"\n",
        public_key("rsa2048")
    )
}

const BASE: &str = "From: Alice <alice@example.com>\nTo: u@test.example\nSubject: e2e\n\
Date: Tue, 01 Dec 2026 12:00:00 +0000\nMessage-ID: <e2e@example.com>\n\nHello.\n.dot line\n";

#[test]
fn dkim_and_dmarc_in_the_daemon() {
    let d = daemon::start_in_process(
        "daemon-dkim",
        ACLS,
        rexim::dns::FakeResolver::parse(&zone()).expect("zone"),
    );
    let signer = Signer {
        domain: "example.com",
        selector: "sel",
        key: "rsa2048",
        relaxed: true,
        identity: None,
    };
    let good = signed(BASE, &[signer]);
    let mut c = d.connect();
    assert!(c.reply().starts_with("220 "));
    c.cmd("EHLO client.example");

    let r = c.message("alice@example.com", "u@test.example", &good);
    assert!(r.starts_with("250 OK id="), "{r}");
    let id = r.trim_start_matches("250 OK id=").to_string();

    // The same message in one BDAT chunk (CRLF line ends, no dot-stuffing).
    let crlf = good.replace('\n', "\r\n");
    let bdat = format!(
        "MAIL FROM:<alice@example.com>\r\nRCPT TO:<u@test.example>\r\nBDAT {} LAST\r\n{crlf}",
        crlf.len()
    );
    c.send(bdat.as_bytes());
    assert_eq!(code(&c.reply()), "250");
    assert_eq!(code(&c.reply()), "250");
    let r = c.reply();
    assert!(r.contains("250 OK id="), "{r}");
    let bdat_id = r.rsplit("250 OK id=").next().unwrap().trim().to_string();

    let changed = good.replace("Hello.", "Hello, changed.");
    assert_eq!(
        c.message("alice@example.com", "u@test.example", &changed),
        "550 DKIM says bodyhash_mismatch for example.com"
    );

    let strict = BASE.replace("alice@example.com", "bob@strict.example");
    assert_eq!(
        c.message("bob@strict.example", "u@test.example", &strict),
        "550 DMARC policy of strict.example: reject"
    );
    assert_eq!(code(&c.cmd("QUIT")), "221");

    let spool = d.spool();
    let h = spool.read_header(&id).expect("read -H");
    let headers: String = h
        .headers
        .iter()
        .map(|hl| String::from_utf8_lossy(&hl.text).into_owned())
        .collect();
    assert!(
        headers.contains("X-DKIM-Check: example.com pass\n"),
        "{headers}"
    );
    assert!(
        headers.contains(
            "Authentication-Results: test.example;\n\tdkim=pass header.d=example.com \
             header.s=sel header.a=rsa-sha256;\n\tdmarc=pass header.from=example.com\n"
        ),
        "{headers}"
    );
    // The log is written after the reply; give the session a moment to finish.
    let log = d.poll_log("mainlog", "rejected after DATA");
    assert!(
        log.contains(&format!(
            "{id} DKIM: d=example.com s=sel c=relaxed/relaxed a=rsa-sha256 b=2048 t="
        )),
        "{log}"
    );
    assert!(log.contains("[verification succeeded]"), "{log}");
    assert!(
        log.contains(" DKIM=example.com id=e2e@example.com"),
        "{log}"
    );
    assert!(
        log.lines()
            .any(|l| l.contains(&format!("{bdat_id} <= alice@example.com"))
                && l.contains(" K S=")
                && l.contains(" DKIM=example.com")),
        "{log}"
    );
    assert!(
        log.contains("H=(client.example) [127.0.0.1] rejected DKIM : DKIM says bodyhash_mismatch for example.com"),
        "{log}"
    );
    assert!(
        log.contains("DMARC results: spf_domain=strict.example dmarc_domain=strict.example spf_align=no dkim_align=no enforcement='Reject'"),
        "{log}"
    );
}
