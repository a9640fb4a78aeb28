//! Lint family: ACL statements (read with the ACL engine's reader) and unreachable statements.

use crate::acl::conditions::Kind;
use crate::acl::model::Verb;
use crate::acl::read::{read_acl, Line as AclLine};
use crate::config::{Config, Span};
use crate::diag::{DiagLabel, Diagnostic, Severity};

/// Exim 4.96's ACL conditions and modifiers (its `_ACL_COND_*`/`_ACL_MOD_*` macros, including
/// those of optional features); rexim may not have all of them yet.
const EXIM_ACL_NAMES: &[&str] = &[
    "acl",
    "add_header",
    "authenticated",
    "bmi_optin",
    "condition",
    "continue",
    "control",
    "decode",
    "delay",
    "dkim_signers",
    "dkim_status",
    "dmarc_status",
    "dnslists",
    "domains",
    "encrypted",
    "endpass",
    "hosts",
    "local_parts",
    "log_message",
    "log_reject_target",
    "logwrite",
    "malware",
    "message",
    "mime_regex",
    "queue",
    "ratelimit",
    "recipients",
    "regex",
    "remove_header",
    "seen",
    "sender_domains",
    "senders",
    "set",
    "spam",
    "spf",
    "spf_guess",
    "udpsend",
    "verify",
];

/// Whether a reader error is "unknown condition" for a name Exim does know.
fn names_exim_condition(message: &str) -> bool {
    let Some(rest) = message.strip_prefix("unknown ACL condition/modifier in \"") else {
        return false;
    };
    let word = |s: &str| -> String {
        s.chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect()
    };
    let first = word(rest);
    let rest = if Verb::from_name(&first).is_some() {
        rest[first.len()..].trim_start()
    } else {
        rest
    };
    let name = word(rest.trim_start_matches('!').trim_start());
    EXIM_ACL_NAMES.contains(&name.as_str())
}

pub fn check(cfg: &Config, out: &mut Vec<Diagnostic>) {
    for acl in &cfg.acls {
        // The reader reports byte offsets in the text it is given; give each logical line
        // a distinct offset so errors can be mapped back to the line's span in its file.
        let mut offsets = Vec::with_capacity(acl.lines.len());
        let mut lines = Vec::with_capacity(acl.lines.len());
        let mut at = 0usize;
        for l in &acl.lines {
            offsets.push(at);
            lines.push(AclLine {
                text: &l.text,
                offset: at,
            });
            at += l.text.len() + 1;
        }
        let span_of = |offset: usize| -> Span {
            let i = offsets.partition_point(|o| *o <= offset).saturating_sub(1);
            acl.lines.get(i).map(|l| l.span).unwrap_or(acl.span)
        };
        match read_acl(&acl.name, &lines) {
            Err(errors) => {
                for e in errors {
                    let (code, severity) = if names_exim_condition(&e.message) {
                        ("unsupported-by-rexim", Severity::Warning)
                    } else {
                        ("acl-syntax", Severity::Error)
                    };
                    out.push(Diagnostic {
                        code,
                        severity,
                        message: format!("error in ACL \"{}\": {}", acl.name, e.message),
                        labels: vec![DiagLabel {
                            span: span_of(e.span.start as usize),
                            message: "here".into(),
                        }],
                    });
                }
            }
            Ok(parsed) => {
                // A statement after an accept/deny with no conditions can never be reached.
                let mut iter = parsed.statements.iter().peekable();
                while let Some(st) = iter.next() {
                    let unconditional = !st.items.iter().any(|i| i.def.kind == Kind::Condition);
                    if unconditional && matches!(st.verb, Verb::Accept | Verb::Deny | Verb::Drop) {
                        if let Some(next) = iter.peek() {
                            out.push(Diagnostic {
                                code: "unreachable-statement",
                                severity: Severity::Warning,
                                message: format!(
                                    "ACL \"{}\": statements after an unconditional \"{}\" are never reached",
                                    acl.name,
                                    st.verb.name()
                                ),
                                labels: vec![
                                    DiagLabel { span: span_of(next.span.start as usize), message: "never reached".into() },
                                    DiagLabel { span: span_of(st.span.start as usize), message: "always ends the ACL".into() },
                                ],
                            });
                        }
                        break;
                    }
                }
            }
        }
    }
}
