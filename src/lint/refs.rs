//! Lint family: references between parts of a configuration (named lists, transports, ACLs).

use crate::config::{Config, Setting, Value};
use crate::diag::{DiagLabel, Diagnostic, Severity};

/// `+name` items in a list-valued text (negated or not).
fn list_refs(text: &str) -> Vec<String> {
    crate::expand::lists::iter(text.as_bytes())
        .filter_map(|item| {
            let s = String::from_utf8_lossy(&item).into_owned();
            let s = s.trim_start_matches('!').trim_start();
            // `+name`, or `local@+name` in an address list (the domain part is a domain list).
            let name = s
                .strip_prefix('+')
                .or_else(|| s.rsplit_once('@').and_then(|(_, d)| d.strip_prefix('+')))?;
            (!name.is_empty() && name.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_'))
                .then(|| name.to_string())
        })
        .collect()
}

fn text(s: &Setting) -> Option<&str> {
    match &s.value {
        Value::Str(t) => Some(t),
        _ => None,
    }
}

/// Options whose value is a list that may name lists with `+name`.
fn is_list_option(name: &str) -> bool {
    name.ends_with("domains")
        || name.ends_with("hosts")
        || name.ends_with("senders")
        || name == "local_parts"
}

pub fn check(cfg: &Config, out: &mut Vec<Diagnostic>) {
    let mut used: Vec<String> = Vec::new();
    let mut check_refs = |value: &str, span, out: &mut Vec<Diagnostic>| {
        for name in list_refs(value) {
            if cfg.named_list(&name, None).is_none() {
                out.push(Diagnostic {
                    code: "undefined-named-list",
                    severity: Severity::Error,
                    message: format!("named list \"+{name}\" is not defined"),
                    labels: vec![DiagLabel {
                        span,
                        message: "referenced here".into(),
                    }],
                });
            }
            used.push(name);
        }
    };
    let mut main: Vec<_> = cfg.main.iter().collect();
    main.sort_by_key(|(n, _)| **n);
    for (name, s) in main {
        if let (true, Some(t)) = (is_list_option(name), text(s)) {
            check_refs(t, s.span, out);
        }
    }
    for l in &cfg.named_lists {
        check_refs(&l.value, l.span, out);
    }
    for d in cfg
        .routers
        .iter()
        .chain(&cfg.transports)
        .chain(&cfg.authenticators)
    {
        let mut opts: Vec<_> = d.options.iter().collect();
        opts.sort_by_key(|(n, _)| **n);
        for (name, s) in opts {
            if let (true, Some(t)) = (is_list_option(name), text(s)) {
                check_refs(t, s.span, out);
            }
        }
    }
    // Retry and rewrite patterns are one-item address lists; retry `senders` a list.
    for r in &cfg.retry {
        let item = format!("<\x01{}", r.pattern);
        check_refs(&item, r.span, out);
        if let Some(s) = &r.senders {
            check_refs(s, r.span, out);
        }
    }
    for r in &cfg.rewrite {
        check_refs(&format!("<\x01{}", r.pattern), r.span, out);
    }
    for acl in &cfg.acls {
        for line in &acl.lines {
            if let Some((_, v)) = line.text.split_once('=') {
                check_refs(v.trim(), line.span, out);
            }
        }
    }
    for l in &cfg.named_lists {
        if !used.contains(&l.name) {
            out.push(Diagnostic {
                code: "unused-named-list",
                severity: Severity::Warning,
                message: format!("named list \"{}\" is never referenced", l.name),
                labels: vec![DiagLabel {
                    span: l.span,
                    message: "defined here".into(),
                }],
            });
        }
    }
    // Routers naming transports that do not exist (fixed names only).
    for r in &cfg.routers {
        for opt in [
            "transport",
            "file_transport",
            "pipe_transport",
            "reply_transport",
            "directory_transport",
        ] {
            if let Some((t, span)) = r
                .options
                .get(opt)
                .and_then(|s| text(s).map(|t| (t, s.span)))
            {
                if !t.contains('$') && !cfg.transports.iter().any(|x| x.name == t) {
                    out.push(Diagnostic {
                        code: "undefined-transport",
                        severity: Severity::Error,
                        message: format!("router \"{}\": {opt} \"{t}\" is not defined", r.name),
                        labels: vec![DiagLabel {
                            span,
                            message: "no transport of this name".into(),
                        }],
                    });
                }
            }
        }
    }
    // ACL hooks naming ACLs that do not exist (a plain name, not a file or an ACL text).
    let mut hooks: Vec<_> = cfg
        .main
        .iter()
        .filter(|(n, _)| n.starts_with("acl_"))
        .collect();
    hooks.sort_by_key(|(n, _)| **n);
    for (name, s) in hooks {
        if let Some(t) = text(s) {
            let plain = !t.is_empty() && t.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_');
            if plain
                && crate::acl::Verb::from_name(t).is_none()
                && !cfg.acls.iter().any(|a| a.name == t)
            {
                out.push(Diagnostic {
                    code: "undefined-acl",
                    severity: Severity::Error,
                    message: format!("{name} names ACL \"{t}\", which is not defined"),
                    labels: vec![DiagLabel {
                        span: s.span,
                        message: "set here".into(),
                    }],
                });
            }
        }
    }
}
