//! Local (non-SMTP) reception, differential against `exim4`: each fixture in
//! `tests/local/inputs/` gives command-line arguments, configuration lines and the
//! message on stdin. Both programs run it with their own spool and logs under a temp
//! directory (`-odq`: nothing is delivered); stdout, stderr, the exit status, the
//! `-H`/`-D` files and the log files must be identical once message ids, times and
//! dates are normalised. The normalised result is the snapshot.
//!
//! Fixture format: `args: ...` (whitespace-separated), `main: <line>` (main section),
//! `acl: <line>` (an `acl` section line), `escapes: yes` (`\r`, `\0`, `\n` in the
//! message are byte escapes), `differs: <reason>` (compared with the snapshot only, for
//! what exim4 does beyond reception), `server: spamd | clamd | dccifd` (a fake
//! content scanner on 127.0.0.1, fresh for each program; `@SERVER@` in the
//! configuration lines becomes its `127.0.0.1 <port>`, and the bytes it received are
//! part of the result), `reply: TEXT` (its answer; `\r`, `\n`, `\0` escapes), then
//! `---` and the message.

#[path = "malware/fake_clamd.rs"]
#[allow(dead_code)] // only its TCP server is used here
mod fake_clamd;
#[path = "dcc/fake_dccifd.rs"]
#[allow(dead_code)] // only its TCP server is used here
mod fake_dccifd;
#[path = "spam/fake_spamd.rs"]
#[allow(dead_code)] // only its TCP server is used here
mod fake_spamd;
mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

struct Fixture {
    args: Vec<String>,
    main: Vec<String>,
    acl: Vec<String>,
    stdin: Vec<u8>,
    /// Why exim4's result is not compared, if it is not.
    differs: Option<String>,
    /// The fake scanner daemon to start, and its answer.
    server: Option<String>,
    reply: Vec<u8>,
}

/// A fake scanner daemon on 127.0.0.1: its port, and what it has received so far.
struct Server {
    port: u16,
    take: Box<dyn Fn() -> Vec<Vec<u8>>>,
}

fn start_server(kind: &str, reply: Vec<u8>) -> Server {
    match kind {
        "spamd" => {
            let s = fake_spamd::FakeSpamd::tcp(reply, fake_spamd::Mode::Answer);
            Server {
                port: s.port,
                take: Box::new(move || s.take_requests()),
            }
        }
        "clamd" => {
            let s = fake_clamd::FakeClamd::tcp(reply, fake_clamd::Mode::Answer);
            Server {
                port: s.port,
                take: Box::new(move || s.take_requests()),
            }
        }
        "dccifd" => {
            let s = fake_dccifd::FakeDccifd::tcp(reply, fake_dccifd::Mode::Answer);
            Server {
                port: s.port,
                take: Box::new(move || s.take_requests()),
            }
        }
        other => panic!("unknown fake server {other}"),
    }
}

fn unescape(s: &str) -> Vec<u8> {
    let mut out = Vec::new();
    let mut it = s.bytes();
    while let Some(c) = it.next() {
        if c != b'\\' {
            out.push(c);
            continue;
        }
        match it.next() {
            Some(b'r') => out.push(b'\r'),
            Some(b'n') => out.push(b'\n'),
            Some(b'0') => out.push(0),
            Some(b'\\') => out.push(b'\\'),
            Some(o) => out.extend_from_slice(&[b'\\', o]),
            None => out.push(b'\\'),
        }
    }
    out
}

fn read_fixture(path: &Path) -> Fixture {
    let text = std::fs::read_to_string(path).unwrap();
    let (head, body) = text.split_once("---\n").expect("fixture needs ---");
    let mut f = Fixture {
        args: Vec::new(),
        main: Vec::new(),
        acl: Vec::new(),
        stdin: body.as_bytes().to_vec(),
        differs: None,
        server: None,
        reply: Vec::new(),
    };
    let mut escapes = false;
    for line in head.lines() {
        if let Some(a) = line.strip_prefix("args:") {
            f.args.extend(a.split_whitespace().map(String::from));
        } else if let Some(m) = line.strip_prefix("main:") {
            f.main.push(m.trim().to_string());
        } else if let Some(m) = line.strip_prefix("acl:") {
            f.acl.push(m.to_string());
        } else if let Some(k) = line.strip_prefix("server:") {
            f.server = Some(k.trim().to_string());
        } else if let Some(r) = line.strip_prefix("reply:") {
            f.reply = unescape(r.trim());
        } else if let Some(r) = line.strip_prefix("differs:") {
            f.differs = Some(r.trim().to_string());
        } else if line.trim() == "escapes: yes" {
            escapes = true;
        }
    }
    if escapes {
        f.stdin = unescape(body);
    }
    f
}

fn config(dir: &Path, f: &Fixture, server: &str) -> PathBuf {
    let spool = dir.join("spool");
    let mut c = format!(
        "spool_directory = {0}\nlog_file_path = {0}/log/%slog\nkeep_environment =\n\
         primary_hostname = test.example\nexim_user = root\nexim_group = root\n\
         queue_only = true\n",
        spool.display()
    );
    for m in &f.main {
        c.push_str(&m.replace("@SERVER@", server));
        c.push('\n');
    }
    c.push_str("begin acl\n");
    for a in &f.acl {
        c.push_str(&a.replace("@SERVER@", server));
        c.push('\n');
    }
    let path = dir.join("test.conf");
    std::fs::write(&path, c).unwrap();
    path
}

/// Run one program on the fixture; everything it left, in one text.
fn run(program: &str, dir: &Path, f: &Fixture) -> String {
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir.join("spool")).unwrap();
    let server = f
        .server
        .as_deref()
        .map(|k| start_server(k, f.reply.clone()));
    let address = server
        .as_ref()
        .map_or(String::new(), |s| format!("127.0.0.1 {}", s.port));
    let conf = config(dir, f, &address);
    let mut child = Command::new(program)
        .arg("-C")
        .arg(&conf)
        .arg("-odq")
        .args(&f.args)
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        let _ = stdin.write_all(&f.stdin);
    }
    let out = child.wait_with_output().unwrap();
    let mut all = format!(
        "exit: {}\n--- stdout\n{}--- stderr\n{}",
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let mut files: Vec<PathBuf> = Vec::new();
    for sub in ["input", "log"] {
        if let Ok(rd) = std::fs::read_dir(dir.join("spool").join(sub)) {
            let mut names: Vec<PathBuf> = rd.map(|e| e.unwrap().path()).collect();
            names.sort();
            files.extend(names);
        }
    }
    for p in files {
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        let text = String::from_utf8_lossy(&std::fs::read(&p).unwrap()).into_owned();
        all += &format!("--- {name}\n{text}");
    }
    // Scan files (`malware`) are removed with the message unless no_mbox_unspool.
    if let Ok(rd) = std::fs::read_dir(dir.join("spool").join("scan")) {
        let mut names: Vec<String> = rd
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        for n in names {
            let inner = dir.join("spool").join("scan").join(&n);
            let mut files: Vec<String> = std::fs::read_dir(&inner)
                .map(|rd| {
                    rd.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                        .collect()
                })
                .unwrap_or_default();
            files.sort();
            all += &format!("--- scan/{n}: {}\n", files.join(" "));
        }
    }
    if let Some(server) = &server {
        all += "--- the scanner received\n";
        for r in (server.take)() {
            all += &String::from_utf8_lossy(&r).replace('\r', "\\r");
            all += "\n--\n";
        }
        all = all.replace(&format!(":{}", server.port), ":<PORT>");
        all = all.replace(&format!(" {}", server.port), " <PORT>");
    }
    normalise(&all, &dir.display().to_string())
}

fn shape(s: &[u8], pat: &[u8]) -> bool {
    // `9` a digit, `A` an upper-case letter, `a` lower case, `x` alphanumeric, `s` a sign.
    s.len() >= pat.len()
        && pat.iter().zip(s).all(|(p, c)| match p {
            b'9' => c.is_ascii_digit(),
            b'A' => c.is_ascii_uppercase(),
            b'a' => c.is_ascii_lowercase(),
            b'x' => c.is_ascii_alphanumeric(),
            b's' => *c == b'+' || *c == b'-',
            _ => p == c,
        })
}

/// Message ids become `<ID1>`, `<ID2>` ... in order; times and dates become fixed words.
fn normalise(text: &str, dir: &str) -> String {
    const ID: &[u8] = b"xxxxxx-xxxxxx-xx";
    const TS: &[u8] = b"9999-99-99 99:99:99";
    const DATE: &[u8] = b"Aaa, 99 Aaa 9999 99:99:99 s9999";
    // `${tod_bsdinbox}`, on the `From ` line scanners get.
    const BSD: &[u8] = b"Aaa Aaa 99 99:99:99 9999";
    let t = text.replace(dir, "<DIR>");
    let b = t.as_bytes();
    let mut ids: Vec<Vec<u8>> = Vec::new();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        // Generated Message-Ids hold the id after `<E` (`=E` on log lines).
        let boundary = i == 0
            || !b[i - 1].is_ascii_alphanumeric()
            || (i >= 2 && b[i - 1] == b'E' && (b[i - 2] == b'<' || b[i - 2] == b'='));
        let rest = &b[i..];
        if boundary && shape(rest, ID) && rest.get(16).is_none_or(|c| !c.is_ascii_alphanumeric()) {
            let id = rest[..16].to_vec();
            let n = match ids.iter().position(|x| *x == id) {
                Some(k) => k + 1,
                None => {
                    ids.push(id);
                    ids.len()
                }
            };
            out.extend_from_slice(format!("<ID{n}>").as_bytes());
            i += 16;
        } else if boundary && shape(rest, TS) {
            out.extend_from_slice(b"<TS>");
            i += TS.len();
        } else if boundary && shape(rest, BSD) {
            out.extend_from_slice(b"<BSDDATE>");
            i += BSD.len();
        } else if boundary && shape(rest, DATE) {
            out.extend_from_slice(b"<DATE>");
            i += DATE.len();
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    let t = String::from_utf8_lossy(&out).into_owned();
    let mut lines: Vec<String> = Vec::new();
    for l in t.split_inclusive('\n') {
        let body = l.trim_end_matches('\n');
        let nl = if l.ends_with('\n') { "\n" } else { "" };
        let fixed = if body.starts_with("-received_time_usec ") {
            "-received_time_usec <USEC>".to_string()
        } else if body.starts_with("-received_time_complete ") {
            "-received_time_complete <TIME>".to_string()
        } else if body.len() > 2
            && body.ends_with(" 0")
            && body[..body.len() - 2].bytes().all(|c| c.is_ascii_digit())
        {
            "<TIME> 0".to_string()
        } else {
            body.to_string()
        };
        lines.push(fixed + nl);
    }
    lines.concat()
}

fn have_exim() -> bool {
    Command::new("exim4")
        .arg("-bV")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

#[test]
fn local_reception_matches_exim() {
    let exim = have_exim();
    if !exim {
        eprintln!("exim4 not installed: comparing rexim with its snapshots only");
    }
    let root = std::env::temp_dir().join(format!("rexim-local-{}", std::process::id()));
    let failures = std::cell::RefCell::new(Vec::new());
    insta::glob!("local/inputs/*.txt", |path| {
        let f = read_fixture(path);
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        let ours = run(
            env!("CARGO_BIN_EXE_rexim"),
            &root.join(format!("{name}-rexim")),
            &f,
        );
        if let Some(why) = &f.differs {
            eprintln!("{name}: not compared with exim4: {why}");
        } else if exim {
            let theirs = run("exim4", &root.join(format!("{name}-exim")), &f);
            if ours != theirs {
                failures.borrow_mut().push(format!(
                    "=== {name}\n--- rexim\n{ours}\n--- exim4\n{theirs}"
                ));
            }
        }
        insta::assert_snapshot!(ours);
    });
    let _ = std::fs::remove_dir_all(&root);
    let failures = failures.into_inner();
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// A message rexim queued with `-t` is read by Exim's own tools: `exim4 -bp` lists it,
/// `exim4 -Mvh` prints its `-H` file, `exipick` finds it by sender.
#[test]
fn exim_tools_read_a_local_message() {
    if !have_exim() {
        eprintln!("exim4 not installed: skipping the exim4 -bp/-Mvh/exipick check");
        return;
    }
    let dir = std::env::temp_dir().join(format!("rexim-local-tools-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("spool")).unwrap();
    let f = Fixture {
        args: vec!["-t".into(), "-oep".into()],
        main: vec!["queue_list_requires_admin = false".into()],
        acl: Vec::new(),
        stdin: b"To: a@b.example\nBcc: hidden@c.example\nSubject: tools\n\nbody\n".to_vec(),
        differs: None,
        server: None,
        reply: Vec::new(),
    };
    let conf = config(&dir, &f, "");
    let mut child = Command::new(env!("CARGO_BIN_EXE_rexim"))
        .arg("-C")
        .arg(&conf)
        .args(["-odq", "-t", "-oep"])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        child.stdin.take().unwrap().write_all(&f.stdin).unwrap();
    }
    assert!(child.wait().unwrap().success());
    let id = std::fs::read_dir(dir.join("spool/input"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .find_map(|n| n.strip_suffix("-H").map(String::from))
        .expect("a -H file");
    let exim = |args: &[&str]| {
        let out = Command::new("exim4")
            .arg("-C")
            .arg(&conf)
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "exim4 {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let bp = exim(&["-bp"]);
    assert!(
        bp.contains(&id) && bp.contains("<root@test.example>"),
        "{bp}"
    );
    assert!(
        bp.contains("a@b.example") && bp.contains("hidden@c.example"),
        "{bp}"
    );
    let mvh = exim(&["-Mvh", &id]);
    assert!(
        mvh.contains("-received_protocol local") && mvh.contains("-local"),
        "{mvh}"
    );
    assert!(mvh.contains("* Bcc: hidden@c.example"), "{mvh}");
    let pick = Command::new("exipick")
        .arg("--spool")
        .arg(dir.join("spool"))
        .args(["-i", "-f", "root@test.example"])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&pick.stdout).trim(), id);
    let _ = std::fs::remove_dir_all(&dir);
}
