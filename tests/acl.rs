//! ACL engine fixtures: `tests/acl/inputs/*.txt` hold ACL definitions and cases to run.
//!
//! Format: ACL blocks `name:` followed by statement lines (as in a `begin acl` section),
//! then a line `---`, then cases, one per line: `PHASE ACLNAME [var=value ...]`
//! (values are plain words; use `%20` for a space). The snapshot shows each verdict.

use std::sync::Arc;

use rexim::acl::read::{read_acl, Line};
use rexim::acl::{run_acl, AclSet, MessageState, Phase};
use rexim::{parse, Context};

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

fn run_fixture(text: &str) -> String {
    let (defs, cases) = text.split_once("\n---\n").expect("--- separator");
    let (set, errors) = load_acls(defs);
    let set = Arc::new(set);
    let mut out = String::new();
    for e in errors {
        out.push_str(&format!("load error: {e}\n"));
    }
    for case in cases.lines().filter(|l| !l.trim().is_empty()) {
        let mut words = case.split_whitespace();
        let ph = phase(words.next().unwrap());
        let acl = words.next().unwrap();
        let mut ctx = Context::default();
        ctx.acl = Some(Arc::new(rexim::acl::engine::ExpansionAcls {
            acls: set.clone(),
        }));
        for w in words {
            let (k, v) = w.split_once('=').expect("var=value");
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
        vars.sort();
        for v in vars {
            out.push_str(&format!("  {v}\n"));
        }
    }
    out
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
