//! Log writer tests: a session's lines written to mainlog/rejectlog, read by `eximstats`
//! and `exigrep` where installed.

use std::process::Command;
use std::sync::Arc;

use super::{is_rejection, Log, LogError, LogFiles};
use crate::expand::Context;
use crate::smtp::{Peer, Session, SessionConfig};

fn session_log(lines: &[&str]) -> Vec<String> {
    let config = "acl_smtp_rcpt = acl_rcpt\nbegin acl\nacl_rcpt:\n  deny recipients = bad@x.example\n  accept\n";
    let macros = crate::config::initial_macros(&[]).expect("macros");
    let loaded = crate::config::load_text("test.conf", config, macros);
    assert!(loaded.errors.is_empty(), "{:?}", loaded.errors);
    let (mut cfg, acls) = SessionConfig::from_config(&loaded).expect("config");
    cfg.primary_hostname = "mx.test".into();
    let peer = Peer {
        address: "192.0.2.1".into(),
        port: 1234,
        ..Peer::default()
    };
    let mut s = Session::new(Arc::new(cfg), Arc::new(acls), Context::default(), peer);
    s.start();
    let mut input = lines.join("\r\n");
    input.push_str("\r\n");
    s.feed(input.as_bytes());
    std::mem::take(&mut s.log)
}

fn temp(tag: &str) -> std::path::PathBuf {
    let p = std::env::temp_dir().join(format!("rexim-log-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&p);
    std::fs::create_dir_all(&p).unwrap();
    p
}

#[test]
fn paths_and_errors() {
    let l = LogFiles::from_options("", "/var/spool/x").unwrap();
    assert_eq!(
        l.path(Log::Main, 0).to_str(),
        Some("/var/spool/x/log/mainlog")
    );
    let l = LogFiles::from_options(" : /l/%slog-%D", "/s").unwrap();
    let p = l
        .path(Log::Reject, 86400 * 365)
        .to_string_lossy()
        .into_owned();
    assert!(p.starts_with("/l/rejectlog-1971"), "{p}");
    assert!(matches!(
        LogFiles::from_options("syslog", "/s"),
        Err(LogError::Syslog(_))
    ));
    assert!(matches!(
        LogFiles::from_options("/l/log", "/s"),
        Err(LogError::NoPercentS(_))
    ));
    let cfg = crate::config::load_text(
        "t.conf",
        "spool_directory = /sp\nlog_file_path = /l/%s.log\n",
        crate::config::initial_macros(&[]).expect("macros"),
    );
    let l = LogFiles::from_config(&cfg).unwrap();
    assert_eq!(l.path(Log::Panic, 0).to_str(), Some("/l/panic.log"));
    assert!(is_rejection("H=[1.2.3.4] F=<a@b> rejected RCPT <c@d>: no"));
    assert!(!is_rejection("1xVcWP-0003VF-2p <= unrejected@x P=esmtp"));
    assert!(is_rejection(
        "plain authenticator failed for (x) [1.2.3.4]: 535 Incorrect authentication data"
    ));
    assert!(is_rejection(
        "SMTP call from (x) [1.2.3.4] dropped: too many unrecognized commands (last was \"X\")"
    ));
    assert!(is_rejection(
        "refused connection from [1.2.3.4] (host_reject_connection)"
    ));
    assert!(!is_rejection(
        "no MAIL in SMTP connection from (x) [1.2.3.4] D=0s C=EHLO,QUIT"
    ));
}

#[test]
fn lines_have_exims_timestamp_and_reach_both_logs() {
    let dir = temp("ts");
    let logs = LogFiles::from_options(&format!("{}/%slog", dir.display()), "/unused").unwrap();
    let lines = session_log(&[
        "EHLO c.example",
        "MAIL FROM:<a@b.example>",
        "RCPT TO:<bad@x.example>",
        "RCPT TO:<good@x.example>",
        "DATA",
        "Subject: s",
        "",
        "b",
        ".",
        "QUIT",
    ]);
    assert!(
        lines.iter().any(|l| l.contains(" <= a@b.example ")),
        "{lines:?}"
    );
    assert!(
        lines.iter().any(|l| l.contains("rejected RCPT")),
        "{lines:?}"
    );
    // 2026-11-23 22:28:25 UTC.
    let now = 1_795_472_905;
    logs.session_lines(&lines, now).unwrap();
    logs.session_lines(&lines, now + 1).unwrap();
    let main = std::fs::read_to_string(dir.join("mainlog")).unwrap();
    let reject = std::fs::read_to_string(dir.join("rejectlog")).unwrap();
    assert_eq!(main.lines().count(), 2 * lines.len());
    assert_eq!(reject.lines().count(), 2);
    let ts = crate::expand::computed::tod("log", now, 0).unwrap();
    for l in main.lines().take(lines.len()) {
        assert!(l.starts_with(&format!("{ts} ")), "{l}");
        assert_eq!(l.as_bytes()[19], b' ');
    }
    assert!(
        reject
            .lines()
            .all(|l| l.contains("rejected RCPT <bad@x.example>")),
        "{reject}"
    );

    if Command::new("eximstats")
        .arg("-h0")
        .arg("/dev/null")
        .output()
        .is_err()
    {
        eprintln!("SKIP eximstats part: eximstats is not installed");
        let _ = std::fs::remove_dir_all(&dir);
        return;
    }
    let st = Command::new("eximstats")
        .args(["-txt", "-h0", "-nr"])
        .arg(dir.join("mainlog"))
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&st.stdout).into_owned();
    assert!(st.status.success(), "{out}");
    let received = out
        .lines()
        .find(|l| l.trim_start().starts_with("Received"))
        .unwrap_or_default()
        .to_string();
    let fields: Vec<&str> = received.split_whitespace().collect();
    // "Received <volume> <messages> <hosts> ...": two messages from one host.
    assert_eq!(fields.get(2), Some(&"2"), "{out}");
    let rejects = out
        .lines()
        .find(|l| l.trim_start().starts_with("Rejects"))
        .unwrap_or_default()
        .to_string();
    assert_eq!(rejects.split_whitespace().nth(1), Some("2"), "{out}");
    // exigrep finds a message's lines by its id.
    let id = lines
        .iter()
        .find(|l| l.contains(" <= "))
        .and_then(|l| l.split(' ').next())
        .unwrap()
        .to_string();
    if let Ok(g) = Command::new("exigrep")
        .arg(&id)
        .arg(dir.join("mainlog"))
        .output()
    {
        let text = String::from_utf8_lossy(&g.stdout).into_owned();
        assert!(
            text.contains(&format!("{ts} {id} <= a@b.example")),
            "{text}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
