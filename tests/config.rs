//! Configuration fixtures: `tests/config/inputs/*.conf` are loaded by the `rexim` binary with
//! the `-bP ...` requests named in their header, the output (stdout, then stderr) is
//! snapshotted, and the same requests are run through the real `exim4`, whose stdout and
//! first error must be identical.
//!
//! Header: leading comment lines `# run: ARGS` (whitespace-separated, no quoting; each is one
//! run, `-C <file>` is added), and optionally `# diff: no: <reason>`.
//! `@DIR@` in outputs stands for the fixture directory `tests/config/`.
//! Debian's own configuration files are checked by `debian_configs_match_exim` (read from the
//! installed package at test time, never copied here).

use std::path::{Path, PathBuf};
use std::process::Command;

/// Options rexim has (seed features) that Debian's exim4 build lacks: not compared.
const REXIM_ONLY: &[&str] = &[
    "arc_sign",
    "bmi_config_file",
    "bmi_deliver_alternate",
    "bmi_deliver_default",
    "bmi_dont_deliver",
    "bmi_rule",
    "dcc_direct_add_header",
    "dccifd_address",
    "dccifd_options",
];

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/config")
}

struct Run {
    stdout: String,
    stderr: String,
    code: i32,
}

fn run(program: &str, conf: &Path, args: &[String]) -> Run {
    let out = Command::new(program)
        .arg("-C")
        .arg(conf)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("running {program}: {e}"));
    Run {
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        code: out.status.code().unwrap_or(-1),
    }
}

fn rexim(conf: &Path, args: &[String]) -> Run {
    run(env!("CARGO_BIN_EXE_rexim"), conf, args)
}

fn header(text: &str) -> (Vec<Vec<String>>, bool) {
    let mut runs = Vec::new();
    let mut diff = true;
    for line in text.lines().take_while(|l| l.starts_with('#')) {
        if let Some(a) = line.strip_prefix("# run:") {
            runs.push(a.split_whitespace().map(String::from).collect());
        } else if line.starts_with("# diff: no") {
            diff = false;
        }
    }
    if runs.is_empty() {
        runs.push(vec!["-bP".to_string(), "all".to_string()]);
    }
    (runs, diff)
}

/// Replace timestamps (`2026-01-02 03:04:05 `) so log-style errors compare stably.
fn strip_timestamps(s: &str) -> String {
    s.lines()
        .map(|l| {
            let b = l.as_bytes();
            if b.len() > 20 && b[4] == b'-' && b[7] == b'-' && b[13] == b':' && b[19] == b' ' {
                format!("<time> {}", &l[20..])
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn without_rexim_only(s: &str) -> String {
    s.lines()
        .filter(|l| {
            let name = l.split(" =").next().unwrap_or("");
            let name = name.strip_prefix("no_").unwrap_or(name);
            !REXIM_ONLY.contains(&name)
        })
        .map(|l| format!("{l}\n"))
        .collect()
}

/// The first error block of a stderr text (Exim stops at the first; rexim lists all).
fn first_error(s: &str) -> String {
    let s = strip_timestamps(s);
    let lines: Vec<&str> = s
        .lines()
        .filter(|l| !l.contains("purging the environment") && !l.contains("keep_environment"))
        .collect();
    let mut out = Vec::new();
    for (i, l) in lines.iter().enumerate() {
        if i > 0 && !l.starts_with("  ") {
            break;
        }
        out.push(*l);
    }
    out.join("\n")
}

#[test]
fn config_fixtures() {
    let base = dir();
    insta::glob!("config/inputs/*.conf", |path| {
        let text = std::fs::read_to_string(path).unwrap();
        let (runs, _) = header(&text);
        let mut snap = String::new();
        for args in &runs {
            let r = rexim(path, args);
            snap.push_str(&format!(
                "$ rexim -C <file> {} (exit {})\n",
                args.join(" "),
                r.code
            ));
            snap.push_str(&r.stdout);
            if !r.stderr.is_empty() {
                snap.push_str("--- stderr\n");
                snap.push_str(&strip_timestamps(&r.stderr));
                snap.push('\n');
            }
        }
        let snap = snap.replace(&base.to_string_lossy().into_owned(), "@DIR@");
        insta::with_settings!({ description => text.clone(), omit_expression => true, snapshot_path => "config/snapshots", prepend_module_to_snapshot => false }, {
            insta::assert_snapshot!(snap);
        });
    });
}

fn have_exim() -> bool {
    Command::new("exim4")
        .arg("-bV")
        .arg("-C")
        .arg("/dev/null")
        .output()
        .is_ok_and(|o| o.status.success())
}

fn compare(path: &Path, args: &[String]) -> Result<(), String> {
    let r = rexim(path, args);
    let e = run("exim4", path, args);
    let (rs, es) = (without_rexim_only(&r.stdout), without_rexim_only(&e.stdout));
    if rs != es {
        return Err(format!(
            "{} {:?}: stdout differs\n--- rexim\n{rs}--- exim4\n{es}",
            path.display(),
            args
        ));
    }
    let (rf, ef) = (first_error(&r.stderr), first_error(&e.stderr));
    if rf != ef {
        return Err(format!(
            "{} {:?}: first error differs\n--- rexim\n{rf}\n--- exim4\n{ef}",
            path.display(),
            args
        ));
    }
    if (r.code == 0) != (e.code == 0) {
        return Err(format!(
            "{} {:?}: exit {} vs exim4 {}",
            path.display(),
            args,
            r.code,
            e.code
        ));
    }
    Ok(())
}

#[test]
fn differential_against_exim() {
    if !have_exim() {
        eprintln!("SKIPPED: exim4 is not installed; config differential not run");
        return;
    }
    let mut failures = Vec::new();
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir().join("inputs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "conf"))
        .collect();
    entries.sort();
    for path in entries {
        let text = std::fs::read_to_string(&path).unwrap();
        let (runs, diff) = header(&text);
        if !diff {
            continue;
        }
        for args in runs {
            if let Err(e) = compare(&path, &args) {
                failures.push(e);
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn debian_configs_match_exim() {
    if !have_exim() {
        eprintln!("SKIPPED: exim4 is not installed; Debian configs not checked");
        return;
    }
    let files = [
        "/etc/exim4/exim4.conf.template",
        "/var/lib/exim4/config.autogenerated",
    ];
    let mut failures = Vec::new();
    for f in files {
        let path = Path::new(f);
        if !path.exists() {
            eprintln!("SKIPPED: {f} not present");
            continue;
        }
        let cfg = rexim::config::load_file(f, rexim::config::initial_macros(&[]).unwrap()).unwrap();
        assert!(cfg.errors.is_empty(), "{f}: {:?}", cfg.errors);
        let mut requests: Vec<Vec<String>> = [
            "all",
            "config",
            "router_list",
            "transport_list",
            "authenticator_list",
        ]
        .iter()
        .map(|s| vec!["-bP".to_string(), s.to_string()])
        .collect();
        for d in &cfg.routers {
            requests.push(vec!["-bP".into(), "router".into(), d.name.clone()]);
        }
        for d in &cfg.transports {
            requests.push(vec!["-bP".into(), "transport".into(), d.name.clone()]);
        }
        for d in &cfg.authenticators {
            requests.push(vec!["-bP".into(), "authenticator".into(), d.name.clone()]);
        }
        for n in &cfg.named_lists {
            requests.push(vec!["-bP".into(), format!("+{}", n.name)]);
        }
        for args in requests {
            if let Err(e) = compare(path, &args) {
                failures.push(e);
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn version_lists_registries() {
    let r = rexim(Path::new("/dev/null"), &["-bV".to_string()]);
    assert_eq!(r.code, 0);
    assert!(
        r.stdout.contains(
            "Support for: rustls TLS_resume PRDR DKIM DMARC SPF SRS Experimental_Brightmail Experimental_DCC Experimental_ARC\n"
        ),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("\nMalware: clamd cmdline sock\n"),
        "{}",
        r.stdout
    );
    let lookups = r
        .stdout
        .lines()
        .find(|l| l.starts_with("Lookups (built-in):"))
        .expect("lookups line");
    for t in rexim::lookup::TYPES {
        assert!(
            lookups.split(' ').any(|w| w == t.name),
            "{} missing from {lookups}",
            t.name
        );
    }
    assert!(r.stdout.contains(
        "Routers (configuration only, not run): accept dnslookup manualroute redirect\n"
    ));
    assert!(r.stdout.ends_with("Configuration file is /dev/null\n"));
}
