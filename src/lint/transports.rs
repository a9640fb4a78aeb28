//! Lint family: transports as routers use them. Exim loads these configurations and fails
//! only at delivery time (an appendfile with no file, a pipe with no command) or never
//! (a transport nothing uses).

use crate::config::{Config, Driver, Value};
use crate::diag::{DiagLabel, Diagnostic, Severity};

/// Router options that name a transport; the first is the only one that does not supply
/// the file or command from the address itself.
const TRANSPORT_OPTIONS: &[&str] = &[
    "transport",
    "file_transport",
    "pipe_transport",
    "reply_transport",
    "directory_transport",
];

fn value<'a>(d: &'a Driver, name: &str) -> Option<&'a str> {
    match d.options.get(name).map(|s| &s.value) {
        Some(Value::Str(s)) if !s.is_empty() => Some(s),
        _ => None,
    }
}

pub fn check(cfg: &Config, out: &mut Vec<Diagnostic>) {
    let mut used: Vec<&str> = Vec::new();
    let mut expanded = false;
    for r in &cfg.routers {
        for opt in TRANSPORT_OPTIONS {
            let Some(name) = value(r, opt) else { continue };
            if name.contains('$') {
                expanded = true;
                continue;
            }
            used.push(name);
            let Some(t) = cfg.transports.iter().find(|t| t.name == name) else {
                continue;
            };
            if *opt != "transport" {
                continue;
            }
            let problem = match t.driver.as_deref() {
                Some("appendfile")
                    if value(t, "file").is_none() && value(t, "directory").is_none() =>
                {
                    format!("Mandatory file or directory option missing from {name} transport")
                }
                Some("pipe") if value(t, "command").is_none() => {
                    format!("no command specified for {name} transport")
                }
                _ => continue,
            };
            let span = r.options.get(*opt).map(|s| s.span).unwrap_or(r.span);
            out.push(Diagnostic {
                code: "transport-incomplete",
                severity: Severity::Error,
                message: format!(
                    "router \"{}\" delivers with {name}, which will fail: {problem}",
                    r.name
                ),
                labels: vec![
                    DiagLabel {
                        span,
                        message: "used here (only file_transport/pipe_transport supply one)".into(),
                    },
                    DiagLabel {
                        span: t.span,
                        message: "defined here".into(),
                    },
                ],
            });
        }
    }
    for t in &cfg.transports {
        if let Some(s) = value(t, "shadow_transport") {
            used.push(s);
        }
    }
    if expanded {
        return;
    }
    for t in &cfg.transports {
        if !used.contains(&t.name.as_str()) {
            out.push(Diagnostic {
                code: "unused-transport",
                severity: Severity::Warning,
                message: format!("transport \"{}\" is not used by any router", t.name),
                labels: vec![DiagLabel {
                    span: t.span,
                    message: "defined here".into(),
                }],
            });
        }
    }
}
