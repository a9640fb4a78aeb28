//! The `spam` ACL condition against a fake spamd (`tests/spam/fake_spamd.rs`, on
//! 127.0.0.1 or a unix socket): `tests/spam/inputs/*.txt` run through `rexim -bh`
//! (insta snapshots of the session, the log and what spamd received) and through the
//! real `exim4 -bh` talking to the same fake server, which must give the same SMTP
//! replies, `>>>` trace and `LOG:` lines, and send spamd the same bytes.
//!
//! scanner::Fixture: `#!` directives, configuration (main options, `begin acl`), `---`, the
//! dialogue. `@SPAMD@` in the configuration becomes the fake server's address.
//!   `#! reply = TEXT`  what the server answers (`\r`, `\n` escapes)
//!   `#! server = answer | stall | close | unix | refused` (default answer)
//!   `#! diff = no: <reason>`  not compared with exim4
//!   `#! stderr = no: <reason>`  replies and spamd's input compared, stderr not

#[path = "spam/fake_spamd.rs"]
mod fake_spamd;
mod support;

use std::path::Path;

use support::scanner;
use support::transcript::{substitute, BSD_DATE, DATE, MESSAGE_ID};

use fake_spamd::{FakeSpamd, Mode};

/// The start of every fixture's configuration.
const PRELUDE: &str =
    "primary_hostname = mx.test\ntls_advertise_hosts =\nspool_directory = @SPOOL@\n";

fn start_server(f: &scanner::Fixture, dir: &Path) -> (FakeSpamd, String) {
    let reply = f.reply.clone();
    match f.server.as_str() {
        "unix" => {
            let path = dir.join("spamd.sock");
            let s = FakeSpamd::unix(path.clone(), reply, Mode::Answer);
            (s, path.to_string_lossy().into_owned())
        }
        "refused" => {
            let port = support::ports::bound_port_without_listener();
            let s = FakeSpamd::tcp(reply, Mode::Close);
            (s, format!("127.0.0.1 {port}"))
        }
        mode => {
            let mode = match mode {
                "answer" => Mode::Answer,
                "stall" => Mode::Stall,
                "close" => Mode::Close,
                other => panic!("unknown server mode {other}"),
            };
            let s = FakeSpamd::tcp(reply, mode);
            let a = format!("127.0.0.1 {}", s.port);
            (s, a)
        }
    }
}

/// One `-bh` run of `binary`: stdout, stderr, and what spamd received, normalised.
fn run(binary: &str, who: &str, f: &scanner::Fixture) -> (String, String, String) {
    let dir = scanner::scratch("spam", who, &f.name);
    let (server, address) = start_server(f, &dir);
    let spool = dir.to_string_lossy().into_owned();
    let conf = dir.join("test.conf");
    let config = f
        .config
        .replace("@SPOOL@", &spool)
        .replace("@SPAMD@", &address);
    std::fs::write(&conf, config).unwrap();
    let o = scanner::run_bh(binary, &conf, &f.dialogue);
    let requests = server.take_requests();
    let norm = |t: &str| {
        let t = t
            .replace(&conf.to_string_lossy().into_owned(), "<CONF>")
            .replace(&address, "<SPAMD>")
            .replace(&spool, "<SPOOL>");
        let t = match address.split_once(' ') {
            Some((_, port)) => t.replace(&format!(":{port}"), ":<PORT>"),
            None => t,
        };
        substitute(&t, &[DATE, BSD_DATE, MESSAGE_ID])
    };
    let t = scanner::transcript(&o, &requests, keep_stderr_line, norm);
    let _ = std::fs::remove_dir_all(&dir);
    t
}

/// Drop what rexim does not trace (host-list option checks of the session core, shared
/// with other work) and the spool copy Exim unlinks (rexim keeps it in memory).
fn keep_stderr_line(l: &str) -> bool {
    let option_check = pcre2::bytes::Regex::new(r"^>>> \S+ in [a-z_0-9]+\? ").unwrap();
    !(option_check.is_match(l.as_bytes()).unwrap()
        || l.starts_with(">>> unspool_mbox(): unlinking")
        || l.starts_with("LOG: SMTP syntax error in"))
}

#[test]
fn spam_transcripts() {
    insta::glob!("spam/inputs/*.txt", |path| {
        let f = scanner::read_fixture(path, PRELUDE);
        let (out, err, seen) = run(env!("CARGO_BIN_EXE_rexim"), "snap", &f);
        insta::assert_snapshot!(format!(
            "{out}\n--- stderr\n{err}\n--- spamd received\n{seen}"
        ));
    });
}

#[test]
fn spam_differential_against_exim() {
    scanner::differential("spam", "spamd", PRELUDE, run);
}
