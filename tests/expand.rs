//! Expansion fixtures: `tests/expand/inputs/*.txt` -> insta snapshots, and the same
//! fixtures run through the real `exim4 -be`, which must print identical bytes.
//!
//! Fixture format: optional header lines `key = value` ended by a line `---`, then
//! one `-be` input line per line. Header keys:
//!   `diff = no: <reason>`   not compared with exim4 (rexim-only behaviour)
//!   `var.NAME = VALUE`       set a variable (implies no diff: exim -be cannot)
//!   `tainted.NAME = VALUE`   set a tainted variable (implies no diff)
//!   `message = FILE`         load tests/expand/data/FILE as with `-bem`
//!   `now = EPOCH`            pin the clock (implies no diff)
//!   `snapshot = no`          differential only (output varies by day)
//!   `limit.max_output = N`   lower the output-size limit (implies no diff; also
//!                            `limit.max_depth`, `limit.max_list_items`)
//!   `mdb = NAME.mdb from NAME.txt`  build an LMDB file at test time with
//!                            `mdb_load -n -T` from data/NAME.txt (implies no diff:
//!                            Debian's exim4 has no lmdb); `@MDB@` is its directory
//!   `dns = ZONEFILE`         answer `dnsdb` from data/ZONEFILE (implies no diff)
//! `@DATA@` in the body is replaced by the absolute path of tests/expand/data.

mod support;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;

use rexim::cli::be;
use rexim::expand::context::FixedClock;
use rexim::Context;
use support::transcript::{exim_binary, fixture_paths};

struct Fixture {
    name: String,
    body: String,
    diff: bool,
    snapshot: bool,
    vars: Vec<(String, String, bool)>,
    message: Option<PathBuf>,
    now: Option<i64>,
    limits: Vec<(String, usize)>,
    mdb: Vec<(String, String)>,
    dns: Option<PathBuf>,
}

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/expand/data")
}

fn load(path: &Path) -> Fixture {
    let text = std::fs::read_to_string(path).expect("fixture readable");
    let (header, body) = match text.split_once("\n---\n") {
        Some((h, b)) => (h.to_string(), b.to_string()),
        None => (String::new(), text.clone()),
    };
    let data = data_dir();
    let mut fx = Fixture {
        name: path.file_name().unwrap().to_string_lossy().into_owned(),
        body: body.replace("@DATA@", &data.to_string_lossy()),
        diff: true,
        snapshot: true,
        vars: Vec::new(),
        message: None,
        now: None,
        limits: Vec::new(),
        mdb: Vec::new(),
        dns: None,
    };
    for line in header
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
    {
        let (k, v) = line
            .split_once(" = ")
            .unwrap_or_else(|| panic!("{}: bad header line {line:?}", fx.name));
        let v = v.replace("@DATA@", &data.to_string_lossy());
        if let Some(name) = k.strip_prefix("var.") {
            fx.vars.push((name.to_string(), v, false));
            fx.diff = false;
        } else if let Some(name) = k.strip_prefix("limit.") {
            fx.limits
                .push((name.to_string(), v.parse().expect("limit.NAME = number")));
            fx.diff = false;
        } else if let Some(name) = k.strip_prefix("tainted.") {
            fx.vars.push((name.to_string(), v, true));
            fx.diff = false;
        } else {
            match k {
                "diff" => fx.diff = !v.starts_with("no"),
                "snapshot" => fx.snapshot = v != "no",
                "message" => fx.message = Some(data.join(v)),
                "now" => {
                    fx.now = Some(v.parse().expect("now = epoch"));
                    fx.diff = false;
                }
                "mdb" => {
                    let (db, src) = v
                        .split_once(" from ")
                        .expect("mdb = NAME.mdb from NAME.txt");
                    fx.mdb.push((db.trim().to_string(), src.trim().to_string()));
                    fx.diff = false;
                }
                "dns" => {
                    fx.dns = Some(data.join(v));
                    fx.diff = false;
                }
                _ => panic!("{}: unknown header key {k}", fx.name),
            }
        }
    }
    fx
}

/// Directory of the LMDB files built for one fixture (`@MDB@`).
fn mdb_dir(fx: &Fixture) -> PathBuf {
    std::env::temp_dir().join(format!("rexim-mdb-{}-{}", std::process::id(), fx.name))
}

/// Build the fixture's LMDB files with `mdb_load -n -T` (never committed).
fn build_mdb(fx: &Fixture) {
    let dir = mdb_dir(fx);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("mdb temp dir");
    for (db, src) in &fx.mdb {
        let status = Command::new("mdb_load")
            .args(["-n", "-T", "-f"])
            .arg(data_dir().join(src))
            .arg(dir.join(db))
            .status()
            .unwrap_or_else(|e| {
                panic!("{}: cannot run mdb_load (Debian lmdb-utils): {e}", fx.name)
            });
        assert!(status.success(), "{}: mdb_load failed for {src}", fx.name);
    }
}

fn context(fx: &Fixture) -> Context {
    let mut ctx = match &fx.dns {
        Some(zone) => {
            let text = std::fs::read_to_string(zone).expect("zone file");
            let resolver = rexim::dns::FakeResolver::parse(&text)
                .unwrap_or_else(|e| panic!("{}: {e}", fx.name));
            Context::new(
                rexim::lookup::Lookups::default()
                    .with_resolver(Arc::new(resolver))
                    .shared(),
            )
        }
        None => Context::default(),
    };
    for (name, value, tainted) in &fx.vars {
        let ok = if *tainted {
            ctx.set_tainted(name, value)
        } else {
            ctx.set(name, value.as_str())
        };
        assert!(ok, "{}: {name} is not a variable", fx.name);
    }
    for (name, n) in &fx.limits {
        match name.as_str() {
            "max_output" => ctx.limits.max_output = *n,
            "max_depth" => ctx.limits.max_depth = *n as u32,
            "max_list_items" => ctx.limits.max_list_items = *n,
            _ => panic!("{}: unknown limit {name}", fx.name),
        }
    }
    if let Some(now) = fx.now {
        ctx.clock = Arc::new(FixedClock(now));
    }
    if let Some(m) = &fx.message {
        be::load_message(&mut ctx, &m.to_string_lossy()).expect("message file");
    }
    ctx
}

fn transcript(fx: &Fixture) -> String {
    let mut ctx = context(fx);
    let exchanges = be::session(&mut fx.body.as_bytes(), &mut ctx).expect("session");
    let mut out = String::new();
    for ex in exchanges {
        out.push_str(&ex.input);
        out.push_str("\n=> ");
        out.push_str(&String::from_utf8_lossy(&ex.output));
        out.push('\n');
    }
    out
}

#[test]
fn expand_fixtures() {
    insta::glob!("expand/inputs/*.txt", |path| {
        let fx = load(path);
        if !fx.snapshot {
            return;
        }
        let data = data_dir().to_string_lossy().into_owned();
        let mut fx = fx;
        let mdb = mdb_dir(&fx).to_string_lossy().into_owned();
        if !fx.mdb.is_empty() {
            build_mdb(&fx);
            fx.body = fx.body.replace("@MDB@", &mdb);
        }
        let out = transcript(&fx)
            .replace(&mdb, "@MDB@")
            .replace(&data, "@DATA@");
        if !fx.mdb.is_empty() {
            let _ = std::fs::remove_dir_all(&mdb);
        }
        insta::with_settings!({ description => fx.body.replace(&mdb, "@MDB@").replace(&data, "@DATA@"), omit_expression => true, snapshot_path => "expand/snapshots", prepend_module_to_snapshot => false }, {
            insta::assert_snapshot!(out);
        });
    });
}

fn run_be(program: &str, pre_args: &[&str], fx: &Fixture) -> Vec<u8> {
    let mut args: Vec<String> = pre_args.iter().map(|s| s.to_string()).collect();
    match &fx.message {
        Some(m) => {
            args.push("-bem".into());
            args.push(m.to_string_lossy().into_owned());
        }
        None => args.push("-be".into()),
    }
    let mut child = Command::new(program)
        .args(&args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
    child
        .stdin
        .take()
        .unwrap()
        .write_all(fx.body.as_bytes())
        .unwrap();
    child.wait_with_output().expect("output").stdout
}

#[test]
fn differential_against_exim() {
    let Some(exim) = exim_binary() else {
        eprintln!("SKIPPED: exim4 is not installed here; the checked-in snapshots still ran");
        return;
    };
    let paths = fixture_paths("expand/inputs");
    let mut failures = Vec::new();
    let mut compared = 0;
    for p in paths {
        let fx = load(&p);
        if !fx.diff {
            continue;
        }
        compared += 1;
        let theirs = run_be(exim, &["-C", "/dev/null"], &fx);
        let ours = run_be(env!("CARGO_BIN_EXE_rexim"), &[], &fx);
        if theirs != ours {
            failures.push(format!(
                "{}:\n--- exim4\n{}\n--- rexim\n{}",
                fx.name,
                String::from_utf8_lossy(&theirs),
                String::from_utf8_lossy(&ours)
            ));
        }
    }
    assert!(compared > 0, "no fixtures were compared");
    assert!(
        failures.is_empty(),
        "{} fixture(s) differ from exim4:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
