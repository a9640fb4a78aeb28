//! ACL engine fixtures: `tests/acl/inputs/*.txt` hold ACL definitions and cases to run.
//!
//! Format: ACL blocks `name:` followed by statement lines (as in a `begin acl` section),
//! then a line `---`, then cases, one per line: `PHASE ACLNAME [var=value ...]`
//! (values are plain words; use `%20` for a space). The snapshot shows each verdict.
//!
//! Before the first ACL block, optional fixture directives:
//! - `@dns NAME TYPE DATA`: a record of the fake DNS zone the ACLs' resolver answers
//!   from (format of `rexim::dns::FakeResolver`; `NAME SERVFAIL` gives a temporary error).
//!   Without any `@dns` line the zone is empty (every name is NXDOMAIN). List items
//!   such as `@mx_any` ask the same zone, and so do `spf`/`spf_guess` (offline).
//! - `@domainlist NAME = LIST` (also `@hostlist`, `@addresslist`, `@localpartlist`):
//!   a named list for `+NAME` items.
//! - `@hints`: give the ACLs a hints-database directory (a fresh temporary directory per
//!   fixture, shared by its cases, so `ratelimit` state carries from case to case).
//!
//! `@DATA@` in ACL text and named lists is the absolute path of `tests/acl/data/`.
//!
//! Special case words: `message=FILE` reads the message (headers, blank line, body) from
//! `tests/acl/data/FILE`; `now=SECONDS[.FRACTION]` fixes the clock.

use std::sync::Arc;

use rexim::acl::read::{read_acl, Line};
use rexim::acl::{run_acl, AclSet, MessageState, Phase};
use rexim::dns::FakeResolver;
use rexim::expand::message::Message;
use rexim::{parse, Context};

struct Clock(i64, u32);

/// Named lists from `@domainlist` & co: (name, kind letter, raw text).
#[derive(Default)]
struct Named(Vec<(String, char, String)>);

impl rexim::expand::context::NamedLists for Named {
    fn get(&self, name: &str, kind: Option<char>) -> Option<(char, String)> {
        self.0
            .iter()
            .find(|(n, k, _)| n == name && kind.is_none_or(|want| want == *k))
            .map(|(_, k, v)| (*k, v.clone()))
    }
}

impl rexim::expand::context::Clock for Clock {
    fn now(&self) -> (i64, u32) {
        (self.0, self.1)
    }
}

fn phase(name: &str) -> Phase {
    match name {
        "connect" => Phase::Connect,
        "helo" => Phase::Helo,
        "mail" => Phase::Mail,
        "rcpt" => Phase::Rcpt,
        "predata" => Phase::Predata,
        "data" => Phase::Data,
        "quit" => Phase::Quit,
        "notquit" => Phase::NotQuit,
        "vrfy" => Phase::Vrfy,
        "mime" => Phase::Mime,
        "dkim" => Phase::Dkim,
        "prdr" => Phase::Prdr,
        "notsmtp" => Phase::NotSmtp,
        "notsmtp_start" => Phase::NotSmtpStart,
        "auth" => Phase::Auth,
        "etrn" => Phase::Etrn,
        "expn" => Phase::Expn,
        "starttls" => Phase::Starttls,
        "mailauth" => Phase::MailAuth,
        other => panic!("unknown phase {other}"),
    }
}

fn load_acls(text: &str) -> (AclSet, Vec<String>) {
    let mut set = AclSet::default();
    let mut errors = Vec::new();
    let mut current: Option<(String, Vec<Line>)> = None;
    let mut offset = 0;
    let finish = |cur: Option<(String, Vec<Line>)>, set: &mut AclSet, errors: &mut Vec<String>| {
        if let Some((name, lines)) = cur {
            match read_acl(&name, &lines) {
                Ok(a) => set.insert(a),
                Err(es) => errors.extend(es.into_iter().map(|e| format!("{name}: {}", e.message))),
            }
        }
    };
    for line in text.split('\n') {
        let t = line.trim();
        if let Some(name) = t
            .strip_suffix(':')
            .filter(|n| !n.contains(char::is_whitespace) && !n.is_empty() && !line.starts_with(' '))
        {
            finish(current.take(), &mut set, &mut errors);
            current = Some((name.to_string(), Vec::new()));
        } else if let Some((_, lines)) = current.as_mut() {
            lines.push(Line { text: line, offset });
        }
        offset += line.len() + 1;
    }
    finish(current.take(), &mut set, &mut errors);
    (set, errors)
}

/// Variables conditions set, shown after each case when non-empty.
const SHOWN_VARS: &[&str] = &[
    "dnslist_domain",
    "dnslist_matched",
    "dnslist_text",
    "dnslist_value",
    "domain_data",
    "host_data",
    "host_lookup_failed",
    "local_part_data",
    "recipient_data",
    "sender_data",
    "sender_host_name",
    "sender_rate",
    "sender_rate_limit",
    "sender_rate_period",
    "spf_header_comment",
    "spf_received",
    "spf_result",
    "spf_result_guessed",
    "spf_smtp_comment",
];

/// An empty directory of its own for one fixture's hints databases.
fn fresh_dir() -> std::path::PathBuf {
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let d = std::env::temp_dir().join(format!("rexim-acl-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("hints dir");
    d
}

fn run_fixture(text: &str) -> String {
    let (defs, cases) = text.split_once("\n---\n").expect("--- separator");
    let mut zone = String::new();
    let mut hints = None;
    let mut named = Named::default();
    let mut acl_text = String::new();
    for line in defs.split('\n') {
        if let Some(rr) = line.strip_prefix("@dns ") {
            zone.push_str(rr);
            zone.push('\n');
        } else if let Some((kind, rest)) = line
            .strip_prefix('@')
            .and_then(|l| l.split_once("list "))
            .filter(|(k, _)| ["domain", "host", "address", "localpart"].contains(k))
        {
            let (name, value) = rest.split_once('=').expect("@...list NAME = LIST");
            let letter = if kind == "localpart" {
                'l'
            } else {
                kind.chars().next().unwrap()
            };
            let value = value.trim().replace(
                "@DATA@",
                concat!(env!("CARGO_MANIFEST_DIR"), "/tests/acl/data"),
            );
            named.0.push((name.trim().to_string(), letter, value));
        } else if line.trim() == "@hints" {
            hints = Some(fresh_dir());
        } else {
            // Keep offsets stable: directives become blank lines.
            acl_text.push_str(if line.starts_with('@') { "" } else { line });
        }
        acl_text.push('\n');
    }
    let data = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/acl/data");
    let acl_text = acl_text.replace("@DATA@", data);
    let (mut set, errors) = load_acls(&acl_text);
    let fake = FakeResolver::parse(&zone).expect("zone");
    // SPF checks (mail-auth) answer from the same zone, offline.
    set.env.spf_dns = rexim::mailauth::spf_dns::SpfDns::Offline(Arc::new(
        rexim::mailauth::spf_dns::OfflineZone::from_zone(&fake),
    ));
    let resolver: Arc<dyn rexim::dns::Resolver> = Arc::new(fake);
    set.env.resolver = resolver.clone();
    // List items such as `@mx_any` ask the lookups' resolver: the same zone.
    let lookups = rexim::lookup::Lookups::default()
        .with_resolver(resolver)
        .shared();
    set.env.hints_dir = hints.clone();
    let set = Arc::new(set);
    let named = Arc::new(named);
    let mut out = String::new();
    for e in errors {
        out.push_str(&format!("load error: {e}\n"));
    }
    for case in cases.lines().filter(|l| !l.trim().is_empty()) {
        let mut words = case.split_whitespace();
        let ph = phase(words.next().unwrap());
        let acl = words.next().unwrap();
        let mut ctx = Context::new(lookups.clone());
        ctx.named_lists = Some(named.clone());
        ctx.acl = Some(Arc::new(rexim::acl::engine::ExpansionAcls {
            acls: set.clone(),
        }));
        for w in words {
            let (k, v) = w.split_once('=').expect("var=value");
            if k == "message" {
                let path = format!("{}/tests/acl/data/{v}", env!("CARGO_MANIFEST_DIR"));
                let data = std::fs::read(&path).expect("message file");
                ctx.message = Some(Arc::new(Message::parse(&data)));
                continue;
            }
            if k == "now" {
                let (secs, frac) = v.split_once('.').unwrap_or((v, "0"));
                let usec = format!("{frac:0<6}")[..6].parse().expect("usec");
                ctx.clock = Arc::new(Clock(secs.parse().expect("secs"), usec));
                continue;
            }
            assert!(
                ctx.set(k, v.replace("%20", " ").as_str()),
                "{k} is not a variable"
            );
        }
        let mut state = MessageState::default();
        let v = run_acl(&mut ctx, &set, &mut state, ph, &parse(acl), true);
        out.push_str(&format!("{case}\n  => {:?}", v.rc));
        if let Some(m) = &v.user_message {
            out.push_str(&format!(" message={m:?}"));
        }
        if let Some(m) = &v.log_message {
            out.push_str(&format!(" log={m:?}"));
        }
        out.push('\n');
        for (pos, h) in &state.add_headers {
            out.push_str(&format!("  add_header {pos:?} {h:?}\n"));
        }
        for c in &state.controls {
            out.push_str(&format!("  control {c}\n"));
        }
        for l in &state.logs {
            out.push_str(&format!("  log {:?} {:?}\n", l.targets, l.text));
        }
        let mut vars: Vec<_> = ctx
            .acl_m_vars()
            .map(|(k, v)| format!("acl_m{k}={}", v.as_str_lossy()))
            .collect();
        for name in SHOWN_VARS {
            if let Some(v) = ctx.get(name).filter(|v| !v.is_empty()) {
                vars.push(format!("{name}={}", v.as_str_lossy()));
            }
        }
        vars.sort();
        for v in vars {
            out.push_str(&format!("  {v}\n"));
        }
    }
    out.replace(data, "@DATA@")
}

#[test]
fn acl_fixtures() {
    insta::glob!("acl/inputs/*.txt", |path| {
        let text = std::fs::read_to_string(path).unwrap();
        insta::with_settings!({ snapshot_path => "acl/snapshots", prepend_module_to_snapshot => false, omit_expression => true, description => text.clone() }, {
            insta::assert_snapshot!(run_fixture(&text));
        });
    });
}
