//! `rexim -bh` fixtures that need a DNS zone, given to the session as its resolver:
//! `tests/arc/inputs/*.txt` (`verify = arc`, zone `tests/arc/zone.txt`) and
//! `tests/csa/inputs/*.txt` (`verify = csa`, zone `tests/csa/zone.txt`) -> insta
//! snapshots. None is run through exim4: Debian's exim4 is built without ARC
//! (`verify = arc` is an unknown verify type there, `$arc_state` an unknown variable),
//! and exim4 cannot be pointed at a fixture zone (the CSA cases that need no DNS are in
//! `tests/bh/inputs/csa_*.txt`, compared with exim4 by `tests/bh.rs`).
//!
//! Fixture format as `tests/bh.rs` (configuration, `---`, dialogue); a dialogue line
//! `@MESSAGE name@` is replaced by the lines of `tests/arc/messages/name.eml`. The
//! sealed messages are made by `cargo test --test bh_zone -- --ignored regenerate`
//! with rexim's signer (RSA signatures are deterministic, so they come out the same).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rexim::mailauth::arc_sign::{parse_spec, sign};
use rexim::mailauth::arc_verify::ArcMessage;

fn arc_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/arc")
}

fn zone() -> rexim::dns::FakeResolver {
    zone_file(&arc_dir().join("zone.txt"))
}

fn zone_file(path: &Path) -> rexim::dns::FakeResolver {
    let text = std::fs::read_to_string(path).expect("zone");
    rexim::dns::FakeResolver::parse(&text).expect("zone parses")
}

fn message(name: &str) -> String {
    std::fs::read_to_string(arc_dir().join(format!("messages/{name}.eml")))
        .unwrap_or_else(|e| panic!("message {name}: {e}"))
}

/// Header lines (continuations joined) and body of a message text.
fn split(text: &str) -> (Vec<Vec<u8>>, Vec<u8>) {
    let (head, body) = text.split_once("\n\n").unwrap_or((text, ""));
    let mut headers: Vec<Vec<u8>> = Vec::new();
    for line in head.lines() {
        let line = format!("{line}\n");
        match headers.last_mut() {
            Some(h) if line.starts_with([' ', '\t']) => h.extend_from_slice(line.as_bytes()),
            _ => headers.push(line.into_bytes()),
        }
    }
    (headers, body.as_bytes().to_vec())
}

/// One hop: the ADMD's Authentication-Results header, then its ARC set on top.
fn hop(text: &str, admd: &str, selector: &str, results: &str) -> String {
    let with_ar = format!("Authentication-Results: {admd}; {results}\n{text}");
    let key = arc_dir().join(format!("keys/{selector}.key"));
    let spec = parse_spec(&format!("{admd}:{selector}:{}", key.display()), 0).unwrap();
    let (headers, body) = split(&with_ar);
    let msg = ArcMessage {
        headers: headers.iter().map(Vec::as_slice).collect(),
        body: &body,
    };
    let set = sign(&spec, &msg).expect("sealed");
    format!(
        "{}{with_ar}",
        String::from_utf8(set).unwrap().replace("\r\n", "\n")
    )
}

/// The sealed fixture messages, from `base.eml`.
#[test]
#[ignore = "writes tests/arc/messages; run by hand after changing the keys or base.eml"]
fn regenerate() {
    let base = message("base");
    let one = hop(
        &base,
        "hop1.example",
        "sel1",
        "spf=pass smtp.mailfrom=origin.example",
    );
    let two = hop(&one, "hop2.example", "sel2", "arc=pass");
    // The list rewrote the body after the first hop sealed it.
    let edited = one.replace("travelled", "went");
    let oldest2 = hop(&edited, "hop2.example", "sel2", "arc=pass");
    // The second hop's copy lost the first hop's set.
    let broken: String = two
        .split_inclusive('\n')
        .fold((String::new(), false), |(mut out, mut skip), line| {
            if !line.starts_with([' ', '\t']) {
                skip = line.starts_with("ARC-") && line.contains("i=1;");
            }
            if !skip {
                out.push_str(line);
            }
            (out, skip)
        })
        .0;
    for (name, text) in [
        ("pass1", one.as_str()),
        ("pass2", two.as_str()),
        ("body_changed", edited.as_str()),
        ("oldest_pass2", oldest2.as_str()),
        ("broken_chain", broken.as_str()),
    ] {
        std::fs::write(arc_dir().join(format!("messages/{name}.eml")), text).unwrap();
    }
}

struct Fixture {
    config: String,
    dialogue: Vec<u8>,
}

fn read_fixture(path: &Path, spool: &str) -> Fixture {
    let text = std::fs::read_to_string(path).expect("fixture");
    let (head, dialogue) = text.split_once("---\n").expect("--- line");
    let config = format!("primary_hostname = mx.test\nspool_directory = {spool}\n{head}");
    let mut d = Vec::new();
    for line in dialogue.lines() {
        let lines: Vec<String> = match line
            .strip_prefix("@MESSAGE ")
            .and_then(|n| n.strip_suffix('@'))
        {
            Some(name) => message(name).lines().map(str::to_string).collect(),
            None => vec![line.to_string()],
        };
        for l in lines {
            d.extend_from_slice(l.as_bytes());
            d.extend_from_slice(b"\r\n");
        }
    }
    Fixture {
        config,
        dialogue: d,
    }
}

/// Dates and message ids differ run to run.
fn normalise(s: &str) -> String {
    let date = pcre2::bytes::Regex::new(
        r"[A-Z][a-z]{2}, \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d [-+]\d{4}",
    )
    .unwrap();
    let id = pcre2::bytes::Regex::new(r"\b[0-9A-Za-z]{6}-[0-9A-Za-z]{6}-[0-9A-Za-z]{2}\b").unwrap();
    let mut s = s.to_string();
    for (re, rep) in [(&date, "<DATE>"), (&id, "<ID>")] {
        let mut out = String::new();
        let mut last = 0;
        for m in re.find_iter(s.as_bytes()) {
            let m = m.unwrap();
            out.push_str(&s[last..m.start()]);
            out.push_str(rep);
            last = m.end();
        }
        out.push_str(&s[last..]);
        s = out;
    }
    s
}

/// The fixture's zone: `zone.txt` next to its `inputs/` directory.
fn run(path: &Path) -> (String, String, String) {
    let zone_path = path.parent().unwrap().parent().unwrap().join("zone.txt");
    let name = path.file_stem().unwrap().to_string_lossy().into_owned();
    let spool = std::env::temp_dir().join(format!("rexim-bhzone-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&spool).unwrap();
    let spool_s = spool.to_string_lossy().into_owned();
    let f = read_fixture(path, &spool_s);
    let macros = rexim::config::initial_macros(&[]).unwrap();
    let loaded = rexim::config::load_text("fixture.conf", f.config.clone(), macros);
    assert!(loaded.errors.is_empty(), "{:?}", loaded.errors);
    let (cfg, mut acls) = rexim::smtp::SessionConfig::from_config(&loaded).expect("config");
    acls.env.resolver = Arc::new(zone_file(&zone_path));
    let argv = vec!["-bh".to_string(), "192.0.2.1".to_string()];
    let o = rexim::cli::bh::parse_args(&argv).unwrap();
    let mut s = rexim::cli::bh::session(&o, cfg, acls).expect("session");
    let mut out = Vec::new();
    let mut err = Vec::new();
    rexim::cli::bh::run(&mut s, &mut f.dialogue.as_slice(), &mut out, &mut err);
    let _ = std::fs::remove_dir_all(&spool);
    let log: String = String::from_utf8_lossy(&err)
        .lines()
        .filter(|l| l.starts_with("LOG:"))
        .map(|l| normalise(l) + "\n")
        .collect();
    (
        normalise(&String::from_utf8_lossy(&out)),
        log,
        f.config.replace(&spool_s, "<SPOOL>"),
    )
}

#[test]
fn csa_transcripts() {
    insta::glob!("csa/inputs/*.txt", |path| {
        let (out, log, config) = run(path);
        insta::with_settings!({ description => config }, {
            insta::assert_snapshot!(format!("{out}\n--- log\n{log}"));
        });
    });
}

#[test]
fn arc_transcripts() {
    insta::glob!("arc/inputs/*.txt", |path| {
        let (out, log, config) = run(path);
        insta::with_settings!({ description => config }, {
            insta::assert_snapshot!(format!("{out}\n--- log\n{log}"));
        });
    });
}

/// The committed messages still verify as their names say (keys and messages agree).
#[test]
fn committed_messages_verify_as_named() {
    let z = zone();
    for (name, state) in [
        ("base", "none"),
        ("pass1", "pass"),
        ("pass2", "pass"),
        ("oldest_pass2", "pass"),
        ("body_changed", "fail"),
        ("broken_chain", "fail"),
    ] {
        let (headers, body) = split(&message(name));
        let msg = ArcMessage {
            headers: headers.iter().map(Vec::as_slice).collect(),
            body: &body,
        };
        let o = rexim::mailauth::arc_verify::verify(&msg, &z);
        assert_eq!(o.state, state, "{name}: {o:?}");
    }
}
