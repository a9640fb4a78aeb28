//! Lint family: network data (tainted, as Exim calls it) used to name a file or a
//! command — Exim refuses such a use when it happens; lint says so at load time.

use crate::config::{Config, Span};
use crate::diag::{DiagLabel, Diagnostic, Severity};
use crate::expand::ast::Reference;
use crate::expand::Expansion;

/// Variables whose values come from the network or the message.
const TAINTED: &[&str] = &[
    "authenticated_sender",
    "domain",
    "local_part",
    "local_part_prefix_v",
    "local_part_suffix_v",
    "message_body",
    "message_body_end",
    "message_headers",
    "message_headers_raw",
    "mime_boundary",
    "mime_charset",
    "mime_content_description",
    "mime_content_disposition",
    "mime_content_id",
    "mime_content_transfer_encoding",
    "mime_content_type",
    "mime_filename",
    "original_domain",
    "original_local_part",
    "parent_domain",
    "parent_local_part",
    "sender_address",
    "sender_address_domain",
    "sender_address_local_part",
    "sender_helo_name",
    "sender_host_name",
    "smtp_command",
    "smtp_command_argument",
];

/// Driver options whose expanded value names a file, directory or command.
const FILE_OPTIONS: &[&str] = &["command", "directory", "file"];

fn tainted(r: &Reference) -> Option<String> {
    match r {
        Reference::Header(h) => Some(format!("$h_{h}")),
        Reference::Var(v) => {
            let n = v.name();
            TAINTED.contains(&n.as_str()).then(|| format!("${n}"))
        }
    }
}

fn report(out: &mut Vec<Diagnostic>, what: &str, var: String, span: Span) {
    out.push(Diagnostic {
        code: "tainted-file-name",
        severity: Severity::Error,
        message: format!(
            "{what}: {var} is network data (tainted) and here names a file or command; Exim refuses that when it runs (use a value from a lookup or list match, such as $local_part_data)"
        ),
        labels: vec![DiagLabel { span, message: "tainted data names a file here".into() }],
    });
}

fn check_expansion(out: &mut Vec<Diagnostic>, what: &str, e: &Expansion, whole: bool, span: Span) {
    let refs = if whole {
        e.references()
    } else {
        e.file_name_references()
    };
    let mut seen = Vec::new();
    for r in refs {
        if let Some(var) = tainted(&r) {
            if !seen.contains(&var) {
                report(out, what, var.clone(), span);
                seen.push(var);
            }
        }
    }
}

pub fn check(cfg: &Config, out: &mut Vec<Diagnostic>) {
    let mut main: Vec<_> = cfg.main.iter().collect();
    main.sort_by_key(|(k, _)| **k);
    for (name, s) in main {
        if let Some(e) = &s.expansion {
            check_expansion(out, &format!("main option {name}"), e, false, s.span);
        }
    }
    for (kind, drivers) in [
        ("router", &cfg.routers),
        ("transport", &cfg.transports),
        ("authenticator", &cfg.authenticators),
    ] {
        for d in drivers {
            let mut opts: Vec<_> = d.options.iter().collect();
            opts.sort_by_key(|(k, _)| **k);
            for (name, s) in opts {
                if let Some(e) = &s.expansion {
                    let whole = kind == "transport" && FILE_OPTIONS.contains(name)
                        || kind == "router" && *name == "file";
                    let what = format!("{} {kind}, option {name}", d.name);
                    check_expansion(out, &what, e, whole, s.span);
                }
            }
        }
    }
    for acl in &cfg.acls {
        let Some((parsed, offsets)) = super::vars::read(acl) else {
            continue;
        };
        for st in &parsed.statements {
            for item in &st.items {
                let i = offsets
                    .partition_point(|o| *o <= item.span.start as usize)
                    .saturating_sub(1);
                let span = acl.lines.get(i).map(|l| l.span).unwrap_or(acl.span);
                // `decode =` names the file the MIME part is written to.
                let whole = item.def.name == "decode";
                for e in super::vars::expansions(&item.arg) {
                    check_expansion(out, &format!("ACL \"{}\"", acl.name), &e, whole, span);
                }
            }
        }
    }
}
