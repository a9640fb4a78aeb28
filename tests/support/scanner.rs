//! The fixture runs of the content-scanner tests (malware, spam, dcc): a fixture file
//! (`#!` directives, configuration, `---`, the dialogue) run through `-bh` against a
//! fake scanner server, and the differential of those runs against the real Exim.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use super::transcript;

pub struct Fixture {
    pub name: String,
    pub config: String,
    pub dialogue: Vec<u8>,
    /// `#! reply = TEXT`: what the fake server answers.
    pub reply: Vec<u8>,
    /// `#! server = MODE`: how the fake server behaves (default `answer`).
    pub server: String,
    /// `#! diff = no: <reason>`: not compared with Exim.
    pub diff: bool,
    /// `#! stderr = no: <reason>`: compared with Exim, but not its stderr.
    pub stderr: bool,
}

/// `\r`, `\n` and `\0` escapes.
pub fn unescape(s: &str) -> Vec<u8> {
    s.replace("\\r", "\r")
        .replace("\\n", "\n")
        .replace("\\0", "\0")
        .into_bytes()
}

/// Read a fixture; its configuration starts with `prelude`.
pub fn read_fixture(path: &Path, prelude: &str) -> Fixture {
    let text = std::fs::read_to_string(path).unwrap();
    let (head, dialogue) = text.split_once("\n---\n").expect("--- line");
    let mut f = Fixture {
        name: path.file_stem().unwrap().to_string_lossy().into_owned(),
        config: prelude.into(),
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

/// A fresh `rexim-<kind>-<pid>-<who>-<name>` directory with a `scan/` below it, both
/// mode 1777 (the scanners and Exim write their files there).
pub fn scratch(kind: &str, who: &str, name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("rexim-{kind}-{}-{who}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    use std::os::unix::fs::PermissionsExt;
    for sub in [d.clone(), d.join("scan")] {
        std::fs::create_dir_all(&sub).unwrap();
        std::fs::set_permissions(&sub, std::fs::Permissions::from_mode(0o1777)).unwrap();
    }
    d
}

/// `binary -C conf -bh 192.0.2.1` with `dialogue` on its stdin.
pub fn run_bh(binary: &str, conf: &Path, dialogue: &[u8]) -> Output {
    let mut child = Command::new(binary)
        .arg("-C")
        .arg(conf)
        .args(["-bh", "192.0.2.1"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("runs");
    child.stdin.take().unwrap().write_all(dialogue).ok();
    child.wait_with_output().unwrap()
}

/// A run's stdout, the stderr lines `keep` takes, and the requests the server got
/// (`\r` shown as `\\r`, each ended by `--`), each passed through `norm`.
pub fn transcript(
    o: &Output,
    requests: &[Vec<u8>],
    keep: impl Fn(&str) -> bool,
    norm: impl Fn(&str) -> String,
) -> (String, String, String) {
    let out = norm(&String::from_utf8_lossy(&o.stdout));
    let err: String = String::from_utf8_lossy(&o.stderr)
        .lines()
        .filter(|l| keep(l))
        .map(|l| norm(l) + "\n")
        .collect();
    let seen: String = requests
        .iter()
        .map(|r| norm(&String::from_utf8_lossy(r).replace('\r', "\\r")) + "--\n")
        .collect();
    (out, err, seen)
}

/// Run every fixture of `tests/<kind>/inputs` that is not `diff = no` through the real
/// Exim and rexim (`run(binary, who, fixture)`) and fail on any difference in the
/// replies, stderr (unless `stderr = no`) or what the server (`server`) received.
pub fn differential(
    kind: &str,
    server: &str,
    prelude: &str,
    run: impl Fn(&str, &str, &Fixture) -> (String, String, String),
) {
    let Some(exim) = transcript::exim_binary() else {
        eprintln!("SKIPPED: exim4 is not installed here; the {kind} snapshots still ran");
        return;
    };
    let mut failures = Vec::new();
    for path in transcript::fixture_paths(&format!("{kind}/inputs")) {
        let f = read_fixture(&path, prelude);
        if !f.diff {
            continue;
        }
        let theirs = run(exim, "exim", &f);
        let ours = run(env!("CARGO_BIN_EXE_rexim"), "rexim", &f);
        for (what, a, b) in [
            ("replies", &theirs.0, &ours.0),
            ("stderr", &theirs.1, &ours.1),
            (&format!("{server} request") as &str, &theirs.2, &ours.2),
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

/// The start of every malware and spam fixture's configuration.
pub const PRELUDE: &str =
    "primary_hostname = mx.test\ntls_advertise_hosts =\nspool_directory = @SPOOL@\n";

/// A fake scanner up for one run: where it listens (`host port`, or a socket path) and
/// how to take what it received (the closure owns the server, keeping it up till then).
pub struct Started {
    pub address: String,
    pub requests: Box<dyn FnOnce() -> Vec<Vec<u8>>>,
}

/// How a scanner's fixtures name it: `@NAME@` in the configuration (its address; `@PORT@`
/// its port), `<NAME>` in transcripts, plus other `(placeholder, value, shown as)` texts.
pub struct Names<'a> {
    pub kind: &'a str,
    pub name: &'a str,
    pub extra: &'a [(&'a str, String, &'a str)],
}

/// One `-bh` run of `binary` against the scanner `start` puts up in the run's directory:
/// stdout, the stderr lines kept by [`keep_stderr_line`], and what the scanner received,
/// with addresses, ports, paths and dates replaced by names.
pub fn run_against(
    binary: &str,
    who: &str,
    f: &Fixture,
    names: &Names,
    start: impl FnOnce(&Path) -> Started,
) -> (String, String, String) {
    use transcript::{substitute, BSD_DATE, DATE, MESSAGE_ID};
    let dir = scratch(names.kind, who, &f.name);
    let server = start(&dir);
    let address = server.address.clone();
    let spool = dir.to_string_lossy().into_owned();
    let conf = dir.join("test.conf");
    let mut config = f
        .config
        .replace("@SPOOL@", &spool)
        .replace(&format!("@{}@", names.name), &address)
        .replace("@PORT@", address.split_once(' ').map_or("0", |(_, p)| p));
    for (placeholder, value, _) in names.extra {
        config = config.replace(placeholder, value);
    }
    std::fs::write(&conf, config).unwrap();
    let o = run_bh(binary, &conf, &f.dialogue);
    let requests = (server.requests)();
    let norm = |t: &str| {
        let mut t = t
            .replace(&conf.to_string_lossy().into_owned(), "<CONF>")
            .replace(&address, &format!("<{}>", names.name))
            .replace(&spool, "<SPOOL>");
        for (_, value, shown) in names.extra {
            t = t.replace(value, shown);
        }
        let t = match address.split_once(' ') {
            Some((_, port)) => t.replace(&format!(":{port}"), ":<PORT>"),
            None => t,
        };
        substitute(&t, &[DATE, BSD_DATE, MESSAGE_ID])
    };
    let t = transcript(&o, &requests, keep_stderr_line, norm);
    let _ = std::fs::remove_dir_all(&dir);
    t
}

/// Drop what rexim does not trace: host-list option checks of the session core (shared
/// with other work), the debug line naming each scan file Exim unlinks (rexim keeps the
/// spool copy in memory and removes the scan directory without a trace line), and
/// syntax-error log lines of the dialogue's end.
pub fn keep_stderr_line(l: &str) -> bool {
    let option_check = pcre2::bytes::Regex::new(r"^>>> \S+ in [a-z_0-9]+\? ").unwrap();
    !(option_check.is_match(l.as_bytes()).unwrap()
        || l.starts_with(">>> unspool_mbox(): unlinking")
        || l.starts_with("LOG: SMTP syntax error in"))
}
