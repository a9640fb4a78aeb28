//! Lint family: verbs, conditions, modifiers, `control =` and `verify =` values that Exim
//! refuses in the phase where their ACL runs (directly from an `acl_smtp_*` option, through
//! `acl =`, or inline in the option). Exim finds these only when the statement runs
//! (a 4xx and a log line); lint finds them at load time.

use crate::acl::conditions::static_phase_error;
use crate::acl::engine::{verb_not_allowed, Rc};
use crate::acl::model::{Statement, Verb};
use crate::acl::read::read_inline;
use crate::config::{Config, Span, Value};
use crate::diag::{DiagLabel, Diagnostic, Severity};
use crate::lint::vars::{hooks, reach, Reach};

pub fn check(cfg: &Config, out: &mut Vec<Diagnostic>) {
    let Reach {
        by_name,
        phases,
        parsed,
    } = reach(cfg);
    let mut names: Vec<&&str> = phases.keys().collect();
    names.sort();
    for name in names {
        let Some(Some((acl, offsets))) = parsed.get(*name) else {
            continue;
        };
        let cfg_acl = by_name[*name];
        let span_of = |offset: usize| -> Span {
            let i = offsets.partition_point(|o| *o <= offset).saturating_sub(1);
            cfg_acl.lines.get(i).map(|l| l.span).unwrap_or(cfg_acl.span)
        };
        for (phase, opt) in &phases[*name] {
            for st in &acl.statements {
                if let Some(m) = verb_error(st, *phase) {
                    out.push(diagnostic(
                        format!("ACL \"{name}\" (run for {opt}): {m}"),
                        span_of(st.span.start as usize),
                    ));
                }
                for item in &st.items {
                    if let Some(m) = static_phase_error(item, *phase) {
                        out.push(diagnostic(
                            format!("ACL \"{name}\" (run for {opt}): {m}"),
                            span_of(item.span.start as usize),
                        ));
                    }
                }
            }
        }
    }
    // Inline ACLs: the option's value itself (`acl_smtp_predata = accept hosts = ...`).
    for (opt, phase) in hooks() {
        let Some(setting) = cfg.main.get(opt) else {
            continue;
        };
        let Value::Str(text) = &setting.value else {
            continue;
        };
        // Inline text: it has a space, or is a bare verb that names no ACL.
        let t = text.trim();
        let bare_verb = Verb::from_name(t).is_some() && !by_name.contains_key(t);
        if !(t.contains(' ') || bare_verb) || t.contains('$') {
            continue;
        }
        let Ok(acl) = read_inline(text) else {
            continue;
        };
        for st in &acl.statements {
            if let Some(m) = verb_error(st, *phase) {
                out.push(diagnostic(
                    format!("inline ACL in {opt}: {m}"),
                    setting.span,
                ));
            }
            for item in &st.items {
                if let Some(m) = static_phase_error(item, *phase) {
                    out.push(diagnostic(
                        format!("inline ACL in {opt}: {m}"),
                        setting.span,
                    ));
                }
            }
        }
    }
}

/// `discard` where no message is being received (or in PREDATA), `drop` in MAILAUTH:
/// Exim refuses the ACL's result with a panic-log line.
fn verb_error(st: &Statement, phase: crate::acl::Phase) -> Option<String> {
    let rc = match st.verb {
        Verb::Discard => Rc::Discard,
        Verb::Drop => Rc::FailDrop,
        _ => return None,
    };
    verb_not_allowed(rc, phase).map(|v| format!("\"{v}\" verb not allowed in {} ACL", phase.name()))
}

fn diagnostic(message: String, span: Span) -> Diagnostic {
    Diagnostic {
        code: "acl-forbidden-in-phase",
        severity: Severity::Error,
        message,
        labels: vec![DiagLabel {
            span,
            message: "Exim refuses this when the statement runs (temporary error, 4xx)".into(),
        }],
    }
}
