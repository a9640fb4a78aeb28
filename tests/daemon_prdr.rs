//! PRDR end to end: `rexim -bd` on 127.0.0.1 and a Python client speaking PRDR
//! (`tests/prdr/prdr_client.py`): the 353 reply, one reply per recipient, the final
//! summary; the spool keeps the message for the accepted recipients only, the log has
//! Exim's PRDR lines, and `exim4 -bp` reads the spool back with those recipients.

mod support;

use std::path::Path;
use std::process::Command;
use support::daemon;

const ACLS: &str =
    "begin acl\nprdr:\n  deny local_parts = ^bad\n       message = not for $local_part\n  \
defer local_parts = ^later\n  accept\n";

fn client(port: u16, rcpts: &[&str]) -> Option<Vec<String>> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/prdr/prdr_client.py");
    let out = match Command::new("python3")
        .arg(script)
        .arg(port.to_string())
        .arg("a@client.example")
        .args(rcpts)
        .output()
    {
        Ok(o) => o,
        Err(e) => {
            eprintln!("SKIPPED: python3 is not available here ({e})");
            return None;
        }
    };
    assert!(
        out.status.success(),
        "client failed ({}): {}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    Some(
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(String::from)
            .collect(),
    )
}

fn after_data(lines: &[String]) -> Vec<String> {
    let at = lines
        .iter()
        .position(|l| l.starts_with("354"))
        .expect("354");
    lines[at + 1..].to_vec()
}

#[test]
fn prdr_client_gets_per_recipient_replies_and_the_spool_keeps_the_accepted() {
    let d = daemon::start(
        "prdr-e2e",
        &format!("prdr_enable = true\nacl_smtp_rcpt = accept\nacl_smtp_data_prdr = prdr\n{ACLS}"),
    );
    let Some(lines) = client(
        d.port,
        &[
            "ok1@test.example",
            "bad@test.example",
            "Later@test.example",
            "ok2@test.example",
        ],
    ) else {
        return;
    };
    assert!(
        lines.iter().any(|l| l == "250 OK, PRDR Requested"),
        "{lines:?}"
    );
    let tail = after_data(&lines);
    assert_eq!(tail[0], "353 PRDR content analysis beginning");
    assert_eq!(tail[1], "250 PRDR R=<ok1@test.example> acceptance");
    assert_eq!(tail[2], "550 not for bad");
    assert_eq!(tail[3], "450 PRDR R=<Later@test.example> temporary refusal");
    assert_eq!(tail[4], "250 PRDR R=<ok2@test.example> acceptance");
    let id = tail[5]
        .strip_prefix("250 id=")
        .and_then(|r| r.strip_suffix(" message accepted for some recipients"))
        .unwrap_or_else(|| panic!("{}", tail[5]))
        .to_string();
    let h = d.header_file(&id);
    assert!(
        h.contains("\n2\nok1@test.example\nok2@test.example\n"),
        "{h}"
    );
    assert!(
        !h.contains("bad@test.example") && !h.contains("Later@"),
        "{h}"
    );
    // The Received: header is Exim's from before PRDR: no `for` with four recipients.
    assert!(!h.contains("\tfor "), "{h}");
    let log = d.mainlog();
    for want in [
        format!("{id} PRDR R=<ok1@test.example> acceptance"),
        format!("{id} PRDR bad@test.example not for bad"),
        format!("{id} PRDR R=<Later@test.example> temporary refusal"),
        format!("{id} PRDR R=<ok2@test.example> acceptance"),
    ] {
        assert!(log.contains(&want), "{want} missing from:\n{log}");
    }
    let arrival = log.lines().find(|l| l.contains(" <= ")).expect("<= line");
    assert!(arrival.contains(" P=esmtp PRDR S="), "{arrival}");
    if let Some(bp) = exim4_bp(&d) {
        assert!(bp.contains(&id), "{bp}");
        assert!(
            bp.contains("ok1@test.example") && bp.contains("ok2@test.example"),
            "{bp}"
        );
        assert!(!bp.contains("bad@test.example"), "{bp}");
    }
}

#[test]
fn prdr_refusing_every_recipient_keeps_nothing() {
    let d = daemon::start(
        "prdr-e2e-none",
        &format!("prdr_enable = true\nacl_smtp_rcpt = accept\nacl_smtp_data_prdr = prdr\n{ACLS}"),
    );
    let Some(lines) = client(d.port, &["bad1@test.example", "bad2@test.example"]) else {
        return;
    };
    let tail = after_data(&lines);
    assert_eq!(tail[1], "550 not for bad1");
    assert_eq!(tail[2], "550 not for bad2");
    assert!(
        tail[3].starts_with("550 id=") && tail[3].ends_with(" message rejected for all recipients"),
        "{}",
        tail[3]
    );
    let input = d.spool_dir().join("input");
    let files: Vec<_> = std::fs::read_dir(&input)
        .map(|r| r.filter_map(|e| e.ok()).collect())
        .unwrap_or_default();
    assert!(files.is_empty(), "{files:?}");
    let log = d.mainlog();
    assert!(!log.contains(" <= "), "{log}");
}

/// `exim4 -bp` on the daemon's spool, when exim4 is installed.
fn exim4_bp(d: &daemon::Daemon) -> Option<String> {
    let bp = support::tools::exim4(&d.exim_conf(""), &["-bp"]);
    if bp.is_none() {
        eprintln!("SKIPPED (exim4 -bp read-back): exim4 is not installed here");
    }
    bp
}
