//! `rexim -bd` runs the shared benchmark configuration (`../shared/bench/exim-bench.conf`)
//! unchanged: RCPT ACL (restricted characters, lsearch domain list, `add_header` with a
//! lookup), DATA ACL (`verify = header_syntax`, a body regex, `add_header` with
//! `$message_size`), `queue_only`, the spool from `-DSPOOL_DIR`. Over 127.0.0.1, bounded.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use support::daemon;

const FIXTURE: &str = "/tmp/rexim-bench-fixtures/domains.lsearch";

fn bench_conf() -> Option<PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/bench/exim-bench.conf");
    p.exists().then_some(p)
}

/// The lsearch file the configuration names, as `gen_expansions.py --fixtures-only` writes it.
fn ensure_fixture() {
    if Path::new(FIXTURE).exists() {
        return;
    }
    std::fs::create_dir_all("/tmp/rexim-bench-fixtures").expect("fixture dir");
    let mut text = String::from("# rexim benchmark fixture: local domains for the SMTP bench\n");
    for i in 0..100 {
        text += &format!("bench{i}.example: route=local{i}\n");
    }
    std::fs::write(FIXTURE, text).expect("write the fixture");
}

#[test]
fn daemon_runs_the_benchmark_configuration_unchanged() {
    let Some(conf) = bench_conf() else {
        eprintln!("SKIP: ../shared/bench/exim-bench.conf is not there");
        return;
    };
    ensure_fixture();
    let dir = daemon::fresh_dir("bench-conf");
    let port = daemon::free_port();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_rexim"));
    cmd.args(["-bd", "-C"])
        .arg(&conf)
        .arg(format!("-DSPOOL_DIR={}", dir.join("spool").display()))
        .args(["-oX", &port.to_string()]);
    let d = daemon::launch(dir.clone(), port, cmd);
    let mut c = d.connect();
    assert!(c.reply().starts_with("220 bench.example"));
    let say = |c: &mut support::client::Client<std::net::TcpStream>, line: &str| {
        c.send(line.as_bytes());
        c.reply()
    };
    assert!(say(&mut c, "EHLO client.example\r\n").starts_with("250-bench.example"));
    assert!(say(&mut c, "MAIL FROM:<a@client.example>\r\n").starts_with("250"));
    let relay = say(&mut c, "RCPT TO:<u@elsewhere.example>\r\n");
    assert_eq!(relay, "550 Relay not permitted");
    let restricted = say(&mut c, "RCPT TO:<a|b@bench1.example>\r\n");
    assert_eq!(restricted, "550 Restricted characters in address");
    assert!(say(&mut c, "RCPT TO:<u@bench3.example>\r\n").starts_with("250"));
    assert!(say(&mut c, "DATA\r\n").starts_with("354"));
    let ok = say(
        &mut c,
        "Subject: hello\r\nFrom: a@client.example\r\n\r\nbody\r\n.\r\n",
    );
    let id = ok
        .strip_prefix("250 OK id=")
        .unwrap_or_else(|| panic!("end of DATA: {ok}"))
        .to_string();
    assert!(say(&mut c, "MAIL FROM:<a@client.example>\r\n").starts_with("250"));
    assert!(say(&mut c, "RCPT TO:<u@bench4.example>\r\n").starts_with("250"));
    assert!(say(&mut c, "DATA\r\n").starts_with("354"));
    let spam = say(&mut c, "Subject: x\r\n\r\nBuy cheap watches today\r\n.\r\n");
    assert_eq!(spam, "550 Body matched a spam pattern");
    assert!(say(&mut c, "QUIT\r\n").starts_with("221"));

    // queue_only: the one accepted message waits in the spool with both added headers.
    let spool = rexim::spool::Spool::new(dir.join("spool"));
    assert_eq!(spool.message_ids().expect("list"), vec![id.clone()]);
    let h = spool.read_header(&id).expect("-H");
    let text: String = h
        .headers
        .iter()
        .map(|l| String::from_utf8_lossy(&l.text).into_owned())
        .collect();
    assert!(text.contains("X-Bench-Route: local3\n"), "{text}");
    assert!(text.contains("X-Bench-Checked: size="), "{text}");
    assert!(text.contains(" rcpts=1\n"), "{text}");
    assert_eq!(spool.read_body(&id).expect("-D"), b"body\n");
}
