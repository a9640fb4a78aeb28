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
use support::scanner::{Names, Started, PRELUDE};

use fake_spamd::{FakeSpamd, Mode};

fn start_server(f: &scanner::Fixture, dir: &Path) -> Started {
    let reply = f.reply.clone();
    match f.server.as_str() {
        "unix" => {
            let path = dir.join("spamd.sock");
            let s = FakeSpamd::unix(path.clone(), reply, Mode::Answer);
            started(s, path.to_string_lossy().into_owned())
        }
        "refused" => {
            let port = support::ports::bound_port_without_listener();
            let s = FakeSpamd::tcp(reply, Mode::Close);
            started(s, format!("127.0.0.1 {port}"))
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
            started(s, a)
        }
    }
}

fn started(s: FakeSpamd, address: String) -> Started {
    Started {
        address,
        requests: Box::new(move || s.take_requests()),
    }
}

/// One `-bh` run of `binary`: stdout, stderr, and what spamd received, normalised.
fn run(binary: &str, who: &str, f: &scanner::Fixture) -> (String, String, String) {
    let names = Names {
        kind: "spam",
        name: "SPAMD",
        extra: &[],
    };
    scanner::run_against(binary, who, f, &names, |dir| start_server(f, dir))
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
