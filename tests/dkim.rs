//! DKIM verification and DMARC through `rexim -bh` (in-process, keys and `_dmarc`
//! records answered by a fixture zone): `tests/dkim/inputs/*.txt` -> insta snapshots.
//!
//! exim4 cannot be compared on these: it asks real DNS for the keys and `_dmarc` records,
//! which the fixture zone only simulates, and Debian's exim4 is built without DMARC. The
//! cases exim4 can judge (no signature, a key whose lookup fails offline, a DKIM ACL that
//! denies) are fixtures in `tests/bh/inputs/dkim_*.txt`, compared there.
//!
//! The signed messages in `tests/dkim/messages/` were made by mail-auth's signer with the
//! keys in `tests/dkim/keys/` (`cargo test --test dkim -- --ignored regenerate` remakes
//! them; their `t=` is the time they were made). `fresh_signature_passes` signs one at
//! test time.
//!
//! Fixture format: `#! zone = <zone line>` directives (`@rsa2048@` etc. become the test
//! key's `p=` value, `@DIR@` the `tests/dkim` directory), configuration, `---`, the
//! dialogue; a dialogue line `@name@` is replaced by `messages/name.eml`.

mod support;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use support::dkim_sign::{public_key, signed, Signer};
use support::transcript::{substitute, DATE, MESSAGE_ID};

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/dkim")
}

const KEYS: &[&str] = &["rsa2048", "ed25519"];

fn substitute_keys(line: &str) -> String {
    let mut l = line.replace("@DIR@", &dir().to_string_lossy());
    for k in KEYS {
        l = l.replace(&format!("@{k}@"), &public_key(k));
    }
    l
}

/// Run one fixture text through an in-process `-bh 192.0.2.1` session; replies and
/// stderr (trace and log lines), dates and ids normalised.
fn run_fixture(text: &str) -> String {
    let (head, dialogue) = text.split_once("\n---\n").expect("--- line");
    let mut zone = String::new();
    let mut config = String::from("primary_hostname = mx.test\n");
    for line in head.lines() {
        match line.strip_prefix("#! zone =") {
            Some(z) => {
                zone.push_str(&substitute_keys(z.trim()));
                zone.push('\n');
            }
            None => {
                config.push_str(&substitute_keys(line));
                config.push('\n');
            }
        }
    }
    let mut input = Vec::new();
    for line in dialogue.lines() {
        let name = line.strip_prefix('@').and_then(|l| l.strip_suffix('@'));
        let text = match name {
            Some(n) => std::fs::read_to_string(dir().join("messages").join(format!("{n}.eml")))
                .unwrap_or_else(|_| panic!("message {n}")),
            None => format!("{line}\n"),
        };
        for l in text.lines() {
            input.extend_from_slice(l.as_bytes());
            input.extend_from_slice(b"\r\n");
        }
    }
    run_session(&config, &zone, &input)
}

fn run_session(config: &str, zone: &str, input: &[u8]) -> String {
    let macros = rexim::config::initial_macros(&[]).unwrap();
    let loaded = rexim::config::load_text("fixture.conf", config.to_string(), macros);
    assert!(
        loaded.errors.is_empty(),
        "config errors: {:?}",
        loaded.errors
    );
    let (cfg, mut acls) = rexim::smtp::SessionConfig::from_config(&loaded).expect("config");
    let fake = rexim::dns::FakeResolver::parse(zone).expect("zone");
    // SPF (for DMARC) answers from the same zone.
    acls.env.spf_dns = rexim::mailauth::spf_dns::SpfDns::Offline(Arc::new(
        rexim::mailauth::spf_dns::OfflineZone::from_zone(&fake),
    ));
    acls.env.resolver = Arc::new(fake);
    let o = rexim::cli::bh::parse_args(&["-bh".into(), "192.0.2.1".into()]).unwrap();
    let mut s = rexim::cli::bh::session(&o, cfg, acls).expect("session");
    let mut out = Vec::new();
    let mut err = Vec::new();
    rexim::cli::bh::run(&mut s, &mut &input[..], &mut out, &mut err);
    normalise(&format!(
        "{}\n--- log\n{}",
        String::from_utf8_lossy(&out),
        String::from_utf8_lossy(&err)
    ))
}

fn normalise(s: &str) -> String {
    substitute(&s.replace('\r', ""), &[DATE, MESSAGE_ID])
}

#[test]
fn dkim_transcripts() {
    insta::glob!("dkim/inputs/*.txt", |path| {
        let text = std::fs::read_to_string(path).unwrap();
        let out = run_fixture(&format!("\n{text}"));
        insta::with_settings!({ description => text }, {
            insta::assert_snapshot!(out);
        });
    });
}

const BASE: &str = "From: Alice <alice@example.com>\nTo: u@mx.test\nSubject: DKIM test\n\
Date: Tue, 01 Dec 2026 12:00:00 +0000\nMessage-ID: <m1@example.com>\n\nHello.\nThis body is signed.\n";

fn rsa<'a>(domain: &'a str, selector: &'a str) -> Signer<'a> {
    Signer {
        domain,
        selector,
        key: "rsa2048",
        relaxed: true,
        identity: None,
    }
}

#[test]
fn fresh_signature_passes() {
    let msg = signed(
        BASE,
        &[Signer {
            identity: Some("alice@example.com"),
            ..rsa("example.com", "sel")
        }],
    );
    let zone = format!(
        "sel._domainkey.example.com TXT \"v=DKIM1; k=rsa; p={}\"",
        public_key("rsa2048")
    );
    let config = "primary_hostname = mx.test\nacl_smtp_rcpt = rcpt\nacl_smtp_dkim = dkim\n\
        log_selector = +dkim_verbose\nbegin acl\nrcpt:\n  accept\n\
        dkim:\n  accept dkim_status = pass\n         logwrite = passed $dkim_cur_signer\n";
    let mut input = Vec::new();
    let dialogue = format!(
        "EHLO c.example\nMAIL FROM:<alice@example.com>\nRCPT TO:<u@mx.test>\nDATA\n{msg}.\nQUIT\n"
    );
    for l in dialogue.lines() {
        input.extend_from_slice(l.as_bytes());
        input.extend_from_slice(b"\r\n");
    }
    let out = run_session(config, &zone, &input);
    assert!(out.contains("passed example.com"), "{out}");
    assert!(out.contains("passed alice@example.com"), "{out}");
    assert!(
        out.contains("a=rsa-sha256 b=2048 i=alice@example.com t="),
        "{out}"
    );
    assert!(out.contains("[verification succeeded]"), "{out}");
    assert!(out.contains(" DKIM=example.com"), "{out}");
}

/// Remake `tests/dkim/messages/*.eml` (their `t=` changes: update the snapshots too).
#[test]
#[ignore]
fn regenerate() {
    let out = dir().join("messages");
    std::fs::create_dir_all(&out).unwrap();
    let write =
        |name: &str, text: &str| std::fs::write(out.join(format!("{name}.eml")), text).unwrap();
    let with_from = |from: &str| BASE.replace("Alice <alice@example.com>", from);
    write(
        "pass_rsa",
        &signed(
            BASE,
            &[Signer {
                identity: Some("alice@example.com"),
                ..rsa("example.com", "sel")
            }],
        ),
    );
    write(
        "pass_ed25519_simple",
        &signed(
            BASE,
            &[Signer {
                key: "ed25519",
                relaxed: false,
                ..rsa("example.com", "ed")
            }],
        ),
    );
    let body_changed =
        signed(BASE, &[rsa("example.com", "sel")]).replace("is signed", "was changed");
    write("body_changed", &body_changed);
    write(
        "two_signers",
        &signed(
            BASE,
            &[
                rsa("example.com", "sel"),
                Signer {
                    key: "ed25519",
                    ..rsa("other.example", "s2")
                },
            ],
        ),
    );
    write("bad_key", &signed(BASE, &[rsa("badkey.example", "sel")]));
    write("no_key", &signed(BASE, &[rsa("nokey.example", "sel")]));
    write(
        "sha1",
        &signed(BASE, &[rsa("example.com", "sel")]).replace("a=rsa-sha256", "a=rsa-sha1"),
    );
    write(
        "dmarc_fail",
        &signed(
            &with_from("Bob <bob@strict.example>"),
            &[rsa("other.example", "sel")],
        ),
    );
    write("dmarc_none", &with_from("Carol <carol@relaxed.example>"));
    write("dmarc_norecord", &with_from("Dave <dave@nodmarc.example>"));
    write("unsigned", BASE);
}
