//! `-bh` transcripts: `tests/bh/inputs/*.txt` -> insta snapshots, and the same fixtures
//! run through the real `exim4 -bh`, whose SMTP replies must be identical, and whose
//! stderr (the `>>>` ACL trace and the `LOG:` lines) must be identical after
//! [`normalise_stderr`].
//!
//! Fixture format: configuration text (main options and `begin acl`), a line `---`,
//! then the dialogue, one command or data line per line, each sent with CRLF. Lines
//! starting `#!` before the config are directives:
//!   `#! host = IP[.port]`    the calling host (default 192.0.2.1)
//!   `#! diff = no: <reason>` not compared with exim4
//!   `#! stderr = no: <reason>` replies compared with exim4, stderr not
//!   `#! args = -oMs name ...` extra command-line options (`-oMa`, `-oMs`, `-oMi`, `-oMt`)
//! Every config gets `primary_hostname = mx.test` and a `spool_directory` (where the MIME ACL decodes parts; shown as `<SPOOL>`) in
//! front. In replies, the banner date becomes `<DATE>`
//! and message ids become `<ID>`.

mod support;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use support::transcript::{exim_binary, fixture_paths, substitute, DATE, MESSAGE_ID};

/// A fresh spool directory for one run of one fixture (exim4 and rexim apart: Exim's
/// hints databases are not LMDB files). World-writable, as exim4 -bh runs as its own
/// user; shown as `<SPOOL>` in outputs and removed afterwards.
fn fresh_spool(who: &str, fixture: &str) -> String {
    let d = std::env::temp_dir().join(format!("rexim-bh-{}-{who}-{fixture}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    use std::os::unix::fs::PermissionsExt;
    // `scan/` too: decoded MIME parts go into per-message directories under it.
    for sub in [d.clone(), d.join("scan")] {
        std::fs::create_dir_all(&sub).unwrap();
        std::fs::set_permissions(&sub, std::fs::Permissions::from_mode(0o1777)).unwrap();
    }
    d.to_string_lossy().into_owned()
}

/// Placeholder for the spool directory in fixture configurations.
const SPOOL: &str = "@SPOOL@";

fn prelude() -> String {
    format!("primary_hostname = mx.test\nspool_directory = {SPOOL}\n")
}

struct Fixture {
    name: String,
    config: String,
    dialogue: Vec<u8>,
    host: String,
    diff: bool,
    stderr_diff: bool,
    args: Vec<String>,
}

fn read_fixture(path: &Path) -> Fixture {
    let text = std::fs::read_to_string(path).expect("fixture");
    let text = format!("\n{text}");
    let (head, dialogue) = text
        .split_once("\n---\n")
        .unwrap_or_else(|| panic!("{}: no --- line", path.display()));
    let mut host = "192.0.2.1".to_string();
    let mut diff = true;
    let mut stderr_diff = true;
    let mut args = Vec::new();
    let mut config = prelude();
    for line in head.lines() {
        if let Some(d) = line.strip_prefix("#!") {
            let (k, v) = d.split_once('=').expect("directive");
            match k.trim() {
                "host" => host = v.trim().to_string(),
                "diff" => diff = !v.trim().starts_with("no"),
                "stderr" => stderr_diff = !v.trim().starts_with("no"),
                "args" => args = v.split_whitespace().map(String::from).collect(),
                other => panic!("unknown directive {other}"),
            }
        } else {
            config.push_str(line);
            config.push('\n');
        }
    }
    let mut d = Vec::new();
    for line in dialogue.lines() {
        d.extend_from_slice(line.as_bytes());
        d.extend_from_slice(b"\r\n");
    }
    Fixture {
        name: path
            .file_stem()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        config,
        dialogue: d,
        host,
        diff,
        stderr_diff,
        args,
    }
}

/// Replace the banner date and message ids, which differ run to run.
fn normalise(out: &str) -> String {
    let s = substitute(out, &[DATE, MESSAGE_ID]);
    cram_challenges(&cram_trace(&s))
}

/// The `-bh` trace of a CRAM-MD5 exchange shows the challenge (pid and time) and the
/// digest computed from it.
fn cram_trace(out: &str) -> String {
    let mut res = String::new();
    for line in out.split_inclusive('\n') {
        let body = line.trim_end_matches('\n');
        let eol = &line[body.len()..];
        if let Some(v) = body.strip_prefix(">>>           challenge = <") {
            let host = v.split_once('@').map_or("", |(_, h)| h);
            res.push_str(&format!(">>>           challenge = <PID.TIME@{host}{eol}"));
        } else if body.starts_with(">>>           digest    = ") {
            res.push_str(&format!(">>>           digest    = <DIGEST>{eol}"));
        } else {
            res.push_str(line);
        }
    }
    res
}

/// A CRAM-MD5 challenge holds the server's pid and the time: `334 <CRAM-MD5 @HOST>`
/// (and in the trace, the digest computed over it: `<DIGEST>`).
fn cram_challenges(out: &str) -> String {
    use base64::Engine;
    let shape = pcre2::bytes::Regex::new(r"^<\d+\.\d+@(.*)>$").unwrap();
    let mut res = String::new();
    for line in out.split_inclusive('\n') {
        let b64 = line.strip_prefix("334 ").map(str::trim_end);
        let clear = b64.and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok());
        // Exim's (and rexim's) CRAM-MD5 trace shows the challenge and the digest of it.
        if let Some(rest) = line.strip_prefix(">>>           challenge = ") {
            let host = rest.trim_end().rsplit('@').next().unwrap_or("");
            res.push_str(&format!(">>>           challenge = <CRAM-MD5 @{host}\n"));
            continue;
        }
        if line.starts_with(">>>           digest    = ") {
            res.push_str(">>>           digest    = <DIGEST>\n");
            continue;
        }
        match clear.and_then(|c| {
            let host = shape.captures(&c).ok()??.get(1)?.as_bytes().to_vec();
            Some(String::from_utf8_lossy(&host).into_owned())
        }) {
            Some(host) => res.push_str(&format!("334 <CRAM-MD5 @{host}>\r\n")),
            None => res.push_str(line),
        }
    }
    res
}

/// The configuration file name rexim's loader is given (the trace prints it).
const CONF_NAME: &str = "fixture.conf";

/// Make exim4's and rexim's stderr comparable: dates, ids and the configuration file
/// name, and the spool files Exim traces as it unlinks them.
fn normalise_stderr(err: &str, exim_conf: &str) -> String {
    let mut out = String::new();
    for line in err.lines() {
        // rexim keeps the spool copy Exim scans (`<id>.eml`) and decoded parts in memory
        // or removes them itself; Exim traces each file it unlinks.
        if line.starts_with(">>> unspool_mbox(): unlinking") {
            continue;
        }
        let l = normalise(&line.replace(exim_conf, CONF_NAME));
        out.push_str(&l);
        out.push('\n');
    }
    out
}

/// Run a fixture through rexim: its replies and its stderr, with the spool shown as
/// `<SPOOL>`. `who` names the run's own spool directory.
fn run_rexim(f: &Fixture, who: &str) -> (String, String) {
    let macros = rexim::config::initial_macros(&[]).unwrap();
    let spool = fresh_spool(who, &f.name);
    let config = f.config.replace(SPOOL, &spool);
    let loaded = rexim::config::load_text(CONF_NAME, config, macros);
    assert!(
        loaded.errors.is_empty(),
        "config errors: {:?}",
        loaded.errors
    );
    let (cfg, acls) = rexim::smtp::SessionConfig::from_config(&loaded).expect("session config");
    let mut argv = vec!["-bh".to_string(), f.host.clone()];
    argv.extend(f.args.iter().cloned());
    let o = rexim::cli::bh::parse_args(&argv).expect("arguments");
    let mut s = rexim::cli::bh::session(&o, cfg, acls).expect("session");
    s.ctx.named_lists = Some(std::sync::Arc::new(rexim::config::ConfigLists(
        loaded.named_lists.clone(),
    )));
    let mut out = Vec::new();
    let mut err = Vec::new();
    rexim::cli::bh::run(&mut s, &mut f.dialogue.as_slice(), &mut out, &mut err);
    let _ = std::fs::remove_dir_all(&spool);
    (
        normalise(&String::from_utf8_lossy(&out).replace(&spool, "<SPOOL>")),
        String::from_utf8_lossy(&err).replace(&spool, "<SPOOL>"),
    )
}

#[test]
fn bh_transcripts() {
    insta::glob!("bh/inputs/*.txt", |path| {
        let f = read_fixture(path);
        let (out, log) = run_rexim(&f, "snapshot");
        let log: String = log.lines().map(|l| normalise(l) + "\n").collect();
        insta::with_settings!({ description => String::from_utf8_lossy(&f.dialogue).replace('\r', "") }, {
            insta::assert_snapshot!(format!("{out}\n--- log\n{log}"));
        });
    });
}

#[test]
fn differential_against_exim() {
    let Some(exim) = exim_binary() else {
        eprintln!("SKIPPED: exim4 is not installed here; the -bh snapshots still ran");
        return;
    };
    let dir = std::env::temp_dir().join(format!("rexim-bh-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut failures = Vec::new();
    for path in fixture_paths("bh/inputs") {
        let f = read_fixture(&path);
        if !f.diff {
            continue;
        }
        let conf = dir.join("exim.conf");
        let spool = fresh_spool("exim", &f.name);
        std::fs::write(&conf, f.config.replace(SPOOL, &spool)).unwrap();
        let mut child = Command::new(exim)
            .arg("-C")
            .arg(&conf)
            .arg("-bh")
            .arg(&f.host)
            .args(&f.args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("exim4 runs");
        child.stdin.take().unwrap().write_all(&f.dialogue).ok();
        let o = child.wait_with_output().unwrap();
        let _ = std::fs::remove_dir_all(&spool);
        let exim_out = normalise(&String::from_utf8_lossy(&o.stdout).replace(&spool, "<SPOOL>"));
        let exim_stderr = String::from_utf8_lossy(&o.stderr).replace(&spool, "<SPOOL>");
        let (ours, our_err) = run_rexim(&f, "rexim");
        let conf_text = conf.to_string_lossy();
        let exim_err = normalise_stderr(&exim_stderr, &conf_text);
        let our_err = normalise_stderr(&our_err, &conf_text);
        if f.stderr_diff && exim_err != our_err {
            failures.push(format!(
                "{} (stderr):\n{}",
                path.display(),
                line_diff(&exim_err, &our_err)
            ));
        }
        if exim_out != ours {
            failures.push(format!(
                "{}:\n--- exim4\n{exim_out}\n--- rexim\n{ours}\n--- exim4 stderr\n{}",
                path.display(),
                String::from_utf8_lossy(&o.stderr)
            ));
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        failures.is_empty(),
        "{} fixture(s) differ from exim4:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// The lines that differ, marked `-` (exim4) and `+` (rexim), with their positions.
fn line_diff(exim: &str, ours: &str) -> String {
    let a: Vec<&str> = exim.lines().collect();
    let b: Vec<&str> = ours.lines().collect();
    let mut out = String::new();
    for i in 0..a.len().max(b.len()) {
        let (x, y) = (a.get(i), b.get(i));
        if x != y {
            if let Some(x) = x {
                out.push_str(&format!("{i:4} - {x}\n"));
            }
            if let Some(y) = y {
                out.push_str(&format!("{i:4} + {y}\n"));
            }
        }
    }
    out
}
