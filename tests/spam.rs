//! The `spam` ACL condition against a fake spamd (`tests/spam/fake_spamd.rs`, on
//! 127.0.0.1 or a unix socket): `tests/spam/inputs/*.txt` run through `rexim -bh`
//! (insta snapshots of the session, the log and what spamd received) and through the
//! real `exim4 -bh` talking to the same fake server, which must give the same SMTP
//! replies, `>>>` trace and `LOG:` lines, and send spamd the same bytes.
//!
//! Fixture: `#!` directives, configuration (main options, `begin acl`), `---`, the
//! dialogue. `@SPAMD@` in the configuration becomes the fake server's address.
//!   `#! reply = TEXT`  what the server answers (`\r`, `\n` escapes)
//!   `#! server = answer | stall | close | unix | refused` (default answer)
//!   `#! diff = no: <reason>`  not compared with exim4
//!   `#! stderr = no: <reason>`  replies and spamd's input compared, stderr not

#[path = "spam/fake_spamd.rs"]
mod fake_spamd;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use fake_spamd::{FakeSpamd, Mode};

struct Fixture {
    name: String,
    config: String,
    dialogue: Vec<u8>,
    reply: Vec<u8>,
    server: String,
    diff: bool,
    stderr: bool,
}

fn unescape(s: &str) -> Vec<u8> {
    s.replace("\\r", "\r").replace("\\n", "\n").into_bytes()
}

fn read_fixture(path: &Path) -> Fixture {
    let text = std::fs::read_to_string(path).unwrap();
    let (head, dialogue) = text.split_once("\n---\n").expect("--- line");
    let mut f = Fixture {
        name: path.file_stem().unwrap().to_string_lossy().into_owned(),
        config: "primary_hostname = mx.test\ntls_advertise_hosts =\nspool_directory = @SPOOL@\n"
            .into(),
        dialogue: Vec::new(),
        reply: Vec::new(),
        server: "answer".into(),
        diff: true,
        stderr: true,
    };
    for line in head.lines() {
        if let Some(d) = line.strip_prefix("#!") {
            let (k, v) = d.split_once('=').expect("directive");
            let v = v.trim();
            match k.trim() {
                "reply" => f.reply = unescape(v),
                "server" => f.server = v.to_string(),
                "diff" => f.diff = !v.starts_with("no"),
                "stderr" => f.stderr = !v.starts_with("no"),
                other => panic!("unknown directive {other}"),
            }
        } else {
            f.config.push_str(line);
            f.config.push('\n');
        }
    }
    for line in dialogue.lines() {
        f.dialogue.extend_from_slice(line.as_bytes());
        f.dialogue.extend_from_slice(b"\r\n");
    }
    f
}

fn scratch(who: &str, name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("rexim-spam-{}-{who}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    use std::os::unix::fs::PermissionsExt;
    for sub in [d.clone(), d.join("scan")] {
        std::fs::create_dir_all(&sub).unwrap();
        std::fs::set_permissions(&sub, std::fs::Permissions::from_mode(0o1777)).unwrap();
    }
    d
}

fn start_server(f: &Fixture, dir: &Path) -> (FakeSpamd, String) {
    let reply = f.reply.clone();
    match f.server.as_str() {
        "unix" => {
            let path = dir.join("spamd.sock");
            let s = FakeSpamd::unix(path.clone(), reply, Mode::Answer);
            (s, path.to_string_lossy().into_owned())
        }
        "refused" => {
            // A port nobody listens on: bind one, then let it go.
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port();
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
fn run(binary: &str, who: &str, f: &Fixture) -> (String, String, String) {
    let dir = scratch(who, &f.name);
    let (server, address) = start_server(f, &dir);
    let spool = dir.to_string_lossy().into_owned();
    let conf = dir.join("test.conf");
    let config = f
        .config
        .replace("@SPOOL@", &spool)
        .replace("@SPAMD@", &address);
    std::fs::write(&conf, config).unwrap();
    let mut child = Command::new(binary)
        .arg("-C")
        .arg(&conf)
        .args(["-bh", "192.0.2.1"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("runs");
    child.stdin.take().unwrap().write_all(&f.dialogue).ok();
    let o = child.wait_with_output().unwrap();
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
        normalise(&t)
    };
    let out = norm(&String::from_utf8_lossy(&o.stdout));
    let err: String = String::from_utf8_lossy(&o.stderr)
        .lines()
        .filter(|l| keep_stderr_line(l))
        .map(|l| norm(l) + "\n")
        .collect();
    let seen: String = requests
        .iter()
        .map(|r| norm(&String::from_utf8_lossy(r).replace('\r', "\\r")) + "--\n")
        .collect();
    let _ = std::fs::remove_dir_all(&dir);
    (out, err, seen)
}

/// Drop what rexim does not trace (host-list option checks of the session core, shared
/// with other work) and the spool copy Exim unlinks (rexim keeps it in memory).
fn keep_stderr_line(l: &str) -> bool {
    let option_check = pcre2::bytes::Regex::new(r"^>>> \S+ in [a-z_0-9]+\? ").unwrap();
    !(option_check.is_match(l.as_bytes()).unwrap()
        || l.starts_with(">>> unspool_mbox(): unlinking")
        || l.starts_with("LOG: SMTP syntax error in"))
}

fn normalise(s: &str) -> String {
    let rules = [
        (
            r"[A-Z][a-z]{2}, \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d [-+]\d{4}",
            "<DATE>",
        ),
        (
            r"[A-Z][a-z]{2} [A-Z][a-z]{2} \d\d \d\d:\d\d:\d\d \d{4}",
            "<BSDDATE>",
        ),
        (r"\b[0-9A-Za-z]{6}-[0-9A-Za-z]{6}-[0-9A-Za-z]{2}\b", "<ID>"),
    ];
    let mut s = s.to_string();
    for (re, rep) in rules {
        let re = pcre2::bytes::Regex::new(re).unwrap();
        let mut res = String::new();
        let mut last = 0;
        for m in re.find_iter(s.as_bytes()) {
            let m = m.unwrap();
            res.push_str(&s[last..m.start()]);
            res.push_str(rep);
            last = m.end();
        }
        res.push_str(&s[last..]);
        s = res;
    }
    s
}

fn fixtures() -> Vec<PathBuf> {
    let mut paths: Vec<_> =
        std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/spam/inputs"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "txt"))
            .collect();
    paths.sort();
    paths
}

#[test]
fn spam_transcripts() {
    insta::glob!("spam/inputs/*.txt", |path| {
        let f = read_fixture(path);
        let (out, err, seen) = run(env!("CARGO_BIN_EXE_rexim"), "snap", &f);
        insta::assert_snapshot!(format!(
            "{out}\n--- stderr\n{err}\n--- spamd received\n{seen}"
        ));
    });
}

#[test]
fn spam_differential_against_exim() {
    let Some(exim) = ["/usr/sbin/exim4", "/usr/sbin/exim"]
        .into_iter()
        .find(|p| Path::new(p).exists())
    else {
        eprintln!("SKIPPED: exim4 is not installed here; the spam snapshots still ran");
        return;
    };
    let mut failures = Vec::new();
    for path in fixtures() {
        let f = read_fixture(&path);
        if !f.diff {
            continue;
        }
        let theirs = run(exim, "exim", &f);
        let ours = run(env!("CARGO_BIN_EXE_rexim"), "rexim", &f);
        for (what, a, b) in [
            ("replies", &theirs.0, &ours.0),
            ("stderr", &theirs.1, &ours.1),
            ("spamd request", &theirs.2, &ours.2),
        ] {
            if a != b && (f.stderr || what != "stderr") {
                failures.push(format!(
                    "{} ({what}):\n--- exim4\n{a}\n--- rexim\n{b}",
                    path.display()
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
