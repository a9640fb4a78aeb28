//! The `dcc` ACL condition against a fake dccifd (`tests/dcc/fake_dccifd.rs`, on
//! 127.0.0.1 or a unix socket): `tests/dcc/inputs/*.txt` run through `rexim -bh`, with
//! insta snapshots of the session, its trace and log lines, and the bytes dccifd got.
//! There is no differential test: Debian's exim4 is built without DCC (`dcc` is an
//! unknown condition there), so these expectations come from Exim's dcc.c.
//!
//! Fixture: `#!` directives, configuration (main options, `begin acl`), `---`, the
//! dialogue. `@DCCIFD@` in the configuration becomes the fake server's address.
//!   `#! reply = TEXT`  what the server answers (`\r`, `\n` escapes)
//!   `#! server = answer | close | unix | refused` (default answer)

#[path = "dcc/fake_dccifd.rs"]
mod fake_dccifd;
#[path = "spam/fake_spamd.rs"]
#[allow(dead_code)] // only its TCP server is used here
mod fake_spamd;
mod support;

use std::path::Path;

use support::scanner;
use support::transcript::{substitute, DATE, MESSAGE_ID};

use fake_dccifd::{FakeDccifd, Mode};

/// The start of every fixture's configuration.
const PRELUDE: &str = "primary_hostname = mx.test\ntls_advertise_hosts =\n";

fn start_server(f: &scanner::Fixture, dir: &Path) -> (FakeDccifd, String) {
    let reply = f.reply.clone();
    match f.server.as_str() {
        "unix" => {
            let path = dir.join("dccifd");
            let s = FakeDccifd::unix(path.clone(), reply, Mode::Answer);
            (s, path.to_string_lossy().into_owned())
        }
        "refused" => {
            let port = support::ports::bound_port_without_listener();
            (
                FakeDccifd::tcp(reply, Mode::Close),
                format!("127.0.0.1 {port}"),
            )
        }
        "answer" | "close" => {
            let mode = if f.server == "close" {
                Mode::Close
            } else {
                Mode::Answer
            };
            let s = FakeDccifd::tcp(reply, mode);
            let a = format!("127.0.0.1 {}", s.port);
            (s, a)
        }
        other => panic!("unknown server mode {other}"),
    }
}

/// One `rexim -bh` run: stdout, stderr, and what dccifd received, normalised.
fn run(f: &scanner::Fixture) -> (String, String, String) {
    let dir = scanner::scratch("dcc", "rexim", &f.name);
    let (server, address) = start_server(f, &dir);
    let conf = dir.join("test.conf");
    std::fs::write(&conf, f.config.replace("@DCCIFD@", &address)).unwrap();
    let o = scanner::run_bh(env!("CARGO_BIN_EXE_rexim"), &conf, &f.dialogue);
    let norm = |t: &str| {
        let t = t
            .replace(&conf.to_string_lossy().into_owned(), "<CONF>")
            .replace(&address, "<DCCIFD>");
        substitute(&t, &[DATE, MESSAGE_ID])
    };
    let t = scanner::transcript(
        &o,
        &server.take_requests(),
        |l| !l.starts_with(">>> host in "),
        norm,
    );
    let _ = std::fs::remove_dir_all(&dir);
    t
}

#[test]
fn dcc_transcripts() {
    insta::glob!("dcc/inputs/*.txt", |path| {
        let f = scanner::read_fixture(path, PRELUDE);
        let (out, err, seen) = run(&f);
        insta::assert_snapshot!(format!(
            "{out}\n--- stderr\n{err}\n--- dccifd received\n{seen}"
        ));
    });
}

/// `rexim -bd` end to end: the DCC header reaches the `-H` file (added at once with
/// `dcc_direct_add_header`, before the DATA ACL's own `add_header` lines), and
/// `control = bmi_run` without the Brightmail SDK writes the panic-log line and
/// spools the message without verdicts.
#[test]
fn daemon_spools_the_dcc_header() {
    let dccifd = FakeDccifd::tcp(
        b"A\nA\nX-DCC-Test-Metrics: fake.dcc 1104; Body=1 Fuz1=1\n\n".to_vec(),
        Mode::Answer,
    );
    let d = support::daemon::start(
        "dcc",
        &format!(
            "dccifd_address = 127.0.0.1 {}\ndcc_direct_add_header = true\n\
             acl_smtp_rcpt = rcpt\nacl_smtp_data = data\nbegin acl\n\
             rcpt:\n  accept control = bmi_run\n\
             data:\n  warn add_header = X-Queued: early\n       dcc = *\n  accept add_header = $dcc_header\n",
            dccifd.port
        ),
    );
    let mut c = d.connect();
    assert!(c.reply().starts_with("220"));
    let mut id = String::new();
    for (line, expect) in [
        ("EHLO client.test", "250"),
        ("MAIL FROM:<alice@example.org>", "250"),
        ("RCPT TO:<bob@example.net>", "250"),
        ("DATA", "354"),
        ("Subject: hi\r\n\r\nbody\r\n.", "250 OK id="),
        ("QUIT", "221"),
    ] {
        let rep = c.cmd(line);
        assert!(rep.starts_with(expect), "{line}: {rep}");
        if let Some(i) = rep.strip_prefix("250 OK id=") {
            id = i.trim().to_string();
        }
    }
    let spool = d.spool();
    let h = rexim::spool::header::HeaderFile::parse(
        &std::fs::read(spool.file(&id, "H").unwrap()).unwrap(),
    )
    .unwrap();
    let texts: Vec<String> = h
        .headers
        .iter()
        .map(|l| format!("{} {}", l.kind as char, String::from_utf8_lossy(&l.text)))
        .collect();
    let at = |name: &str| texts.iter().position(|t| t[2..].starts_with(name));
    let dcc =
        at("X-DCC-Test-Metrics: fake.dcc 1104; Body=1 Fuz1=1\n").expect("X-DCC header spooled");
    // The X-Queued line was queued before dcc ran, but Exim adds it when the ACL ends.
    assert_eq!(
        texts[at("X-Queued: early\n").expect("X-Queued")],
        "  X-Queued: early\n"
    );
    assert!(dcc < at("X-Queued").unwrap(), "{texts:?}");
    // Added again by add_header = $dcc_header: Exim keeps both copies.
    let copies = texts
        .iter()
        .filter(|t| t[2..].starts_with("X-DCC-Test-Metrics:"))
        .count();
    assert_eq!(copies, 2, "{texts:?}");
    assert!(rexim::features::bmi::verdicts_from_spool(&h).is_none());
    let requests = dccifd.take_requests();
    assert_eq!(requests.len(), 1);
    assert!(requests[0]
        .starts_with(b"header\n127.0.0.1\nHELO localhost\nalice@example.org\nbob@example.net\n\n"));
    let panic = d.log("paniclog");
    assert!(
        panic.contains(&format!(
            "{id} bmi error [loc 0 type 0]: could not initialize Brightmail system. (Brightmail SDK not available)"
        )),
        "paniclog: {panic}"
    );
    let main = d.mainlog();
    assert!(
        !main.contains("bmi error"),
        "panic-only line in mainlog: {main}"
    );
    assert!(
        main.contains(&format!("{id} <= alice@example.org")),
        "{main}"
    );
    // Exim 4.96 reads the header back from rexim's spool.
    if let Some(shown) = support::tools::exim4(&d.exim_conf(""), &["-Mvh", &id]) {
        assert!(
            shown.contains("  X-DCC-Test-Metrics: fake.dcc 1104; Body=1 Fuz1=1\n"),
            "{shown}"
        );
    }
}

/// The library's ACL entry point in the non-SMTP phase (a local message: the client
/// address dccifd gets is 127.0.0.1), with the dccifd settings on the ACL set.
#[test]
fn library_api_in_the_non_smtp_phase() {
    use rexim::acl::{api, read::read_inline, AclSet, Phase, Rc};
    let dccifd = FakeDccifd::tcp(
        b"G\nG\nX-DCC-Test-Metrics: fake.dcc 1104; Body=1\n\n".to_vec(),
        Mode::Answer,
    );
    let mut acls = AclSet::default();
    acls.env.dcc.address = format!("127.0.0.1 {}", dccifd.port);
    let mut acl =
        read_inline("defer !dcc = *\n      message = greylisted: $dcc_result\naccept").unwrap();
    acl.name = "check".into();
    acls.insert(acl);
    let facts = api::SessionFacts {
        sender: Some("local@example.org".into()),
        recipients: vec!["a@example.net".into()],
        message: Some(b"Subject: local\n\nbody\n".to_vec()),
        ..Default::default()
    };
    let out = api::evaluate(&acls, Phase::NotSmtp, "check", &facts);
    assert_eq!(out.verdict.rc, Rc::Defer);
    assert_eq!(out.verdict.user_message.as_deref(), Some("greylisted: G"));
    let got = dccifd.take_requests();
    assert_eq!(
        String::from_utf8_lossy(&got[0]),
        "header\n127.0.0.1\nHELO localhost\nlocal@example.org\na@example.net\n\nSubject: local\n\r\nbody\n"
    );
}

/// A dccifd that does not answer in time: the condition defers with a log line
/// (Exim has no limit and would wait as long as dccifd does).
#[test]
fn slow_dccifd_defers_after_the_time_limit() {
    use rexim::acl::{api, read::read_inline, AclSet, Phase, Rc};
    let dccifd = FakeDccifd::tcp(b"A\nA\n\n".to_vec(), Mode::Stall);
    let mut acls = AclSet::default();
    acls.env.dcc.address = format!("127.0.0.1 {}", dccifd.port);
    acls.env.dcc.timeout = std::time::Duration::from_millis(300);
    let mut acl = read_inline("accept dcc = *").unwrap();
    acl.name = "check".into();
    acls.insert(acl);
    let facts = api::SessionFacts {
        ip: "192.0.2.1".into(),
        sender: Some("a@example.org".into()),
        recipients: vec!["b@example.net".into()],
        message: Some(b"Subject: slow\n\nbody\n".to_vec()),
        ..Default::default()
    };
    let start = std::time::Instant::now();
    let out = api::evaluate(&acls, Phase::Data, "check", &facts);
    assert!(start.elapsed() < std::time::Duration::from_secs(2));
    assert_eq!(out.verdict.rc, Rc::Defer);
    let texts: Vec<&str> = out.logs.iter().map(|l| l.text.as_str()).collect();
    assert_eq!(texts, ["DCC: no answer from dccifd within 0.3s"]);
}

/// With `dcc_direct_add_header` the header is in the message `spam` sends next, as
/// the seed spec intends ("helps to get the DCC Header through to SpamAssassin").
#[test]
fn direct_header_reaches_spamd() {
    use rexim::acl::{api, read::read_inline, AclSet, Phase, Rc};
    let dccifd = FakeDccifd::tcp(
        b"A\nA\nX-DCC-Test-Metrics: fake.dcc 1104; Body=1\n\n".to_vec(),
        Mode::Answer,
    );
    let spamd = fake_spamd::FakeSpamd::tcp(
        b"SPAMD/1.1 0 EX_OK\r\nContent-length: 8\r\n\r\n0.1/5.0\r\n".to_vec(),
        fake_spamd::Mode::Answer,
    );
    let mut acls = AclSet::default();
    acls.env.dcc.address = format!("127.0.0.1 {}", dccifd.port);
    acls.env.dcc.direct_add_header = true;
    acls.env.spamd_address = format!("127.0.0.1 {}", spamd.port);
    let mut acl = read_inline("warn dcc = *\nwarn spam = nobody:true\naccept").unwrap();
    acl.name = "check".into();
    acls.insert(acl);
    let facts = api::SessionFacts {
        ip: "192.0.2.1".into(),
        sender: Some("a@example.org".into()),
        recipients: vec!["b@example.net".into()],
        message: Some(b"Subject: both\n\nbody\n".to_vec()),
        ..Default::default()
    };
    let out = api::evaluate(&acls, Phase::Data, "check", &facts);
    assert_eq!(out.verdict.rc, Rc::Ok);
    let sent = spamd.take_requests();
    let text = String::from_utf8_lossy(&sent[0]);
    assert!(
        text.contains("Subject: both\nX-DCC-Test-Metrics: fake.dcc 1104; Body=1\n\nbody\n"),
        "{text}"
    );
}
