//! Lint family `deprecated-option`: what Exim 4.96 still accepts but documents as obsolete or
//! deprecated (its specification, chapter by chapter, and its ChangeLog), each with the
//! replacement named.

use crate::acl::model::{Arg, Verb};
use crate::config::{Config, Setting, Span, Value};
use crate::diag::{DiagLabel, Diagnostic, Severity};
use crate::expand::ast::{CondKind, Node, Seq, Tail};
use crate::expand::Expansion;

/// Main options: name, and what to use instead.
const MAIN_OPTIONS: &[(&str, &str)] = &[
    (
        "daemon_smtp_port",
        "an old name kept for backward compatibility: use daemon_smtp_ports",
    ),
    ("drop_cr", "obsolete and a no-op: remove it"),
    (
        "helo_try_verify_hosts",
        "obsolete since 4.53: use \"verify = helo\" in an ACL (e.g. warn in acl_smtp_helo)",
    ),
    (
        "helo_verify_hosts",
        "obsolete since 4.53: use \"require verify = helo\" in acl_smtp_helo or acl_smtp_mail",
    ),
    (
        "host_reject_connection",
        "obsolete: use a deny statement in the ACL named by acl_smtp_connect",
    ),
    (
        "return_size_limit",
        "an obsolete synonym: use bounce_return_size_limit",
    ),
];

/// Variables: name, and the one to use instead.
const VARIABLES: &[(&str, &str)] = &[
    ("interface_address", "$received_ip_address"),
    ("interface_port", "$received_port"),
    ("message_id", "$message_exim_id"),
    ("return_size_limit", "$bounce_return_size_limit"),
    ("tls_bits", "$tls_in_bits or $tls_out_bits"),
    (
        "tls_certificate_verified",
        "$tls_in_certificate_verified or $tls_out_certificate_verified",
    ),
    ("tls_cipher", "$tls_in_cipher or $tls_out_cipher"),
    ("tls_peerdn", "$tls_in_peerdn or $tls_out_peerdn"),
    ("tls_sni", "$tls_in_sni or $tls_out_sni"),
];

/// Expansion operators and conditions: name, and what to use instead.
const OPERATORS: &[(&str, &str)] = &[("str2b64", "${base64:...}")];
const CONDITIONS: &[(&str, &str)] = &[("pwcheck", "the saslauthd condition")];

/// Old `verify` options (ACL chapter: "the old syntax ... is now deprecated").
const VERIFY_OPTIONS: &[(&str, &str)] = &[
    ("callout_defer_ok", "callout=defer_ok"),
    ("check_postmaster", "callout=postmaster"),
];

fn warn(out: &mut Vec<Diagnostic>, message: String, span: Span, label: &str) {
    out.push(Diagnostic {
        code: "deprecated-option",
        severity: Severity::Warning,
        message,
        labels: vec![DiagLabel {
            span,
            message: label.into(),
        }],
    });
}

/// What an expansion uses that is deprecated, in source order.
#[derive(Default)]
struct Uses {
    found: Vec<String>,
    /// `$1`... outside a `match` condition that would set them.
    captures: bool,
    sets_captures: bool,
}

fn walk_seq(s: &Seq, u: &mut Uses) {
    for n in &s.nodes {
        match n {
            Node::Text(_) | Node::Header(_) | Node::Error(_) => {}
            Node::Capture(n) => u.captures |= *n > 0,
            Node::Var(v, _) => {
                let name = v.name();
                if let Some((_, instead)) = VARIABLES.iter().find(|(n, _)| *n == name) {
                    u.found
                        .push(format!("${name} is deprecated: use {instead}"));
                }
            }
            Node::Op(op) => {
                if let Some((n, instead)) = OPERATORS.iter().find(|(n, _)| *n == op.def.name) {
                    u.found
                        .push(format!("${{{n}:...}} is deprecated: use {instead}"));
                }
                walk_seq(&op.operand, u);
            }
            Node::Item(it) => {
                it.args.iter().for_each(|a| walk_seq(a, u));
                walk_tail(&it.tail, u);
            }
            Node::If(i) => {
                walk_cond(&i.cond.kind, u);
                walk_tail(&i.tail, u);
            }
            Node::Lookup(l) => {
                if let Some(k) = &l.key {
                    walk_seq(k, u);
                }
                walk_seq(&l.source, u);
                walk_tail(&l.tail, u);
            }
            Node::Filter(f) => {
                walk_seq(&f.list, u);
                walk_cond(&f.cond.kind, u);
            }
        }
    }
}

fn walk_tail(t: &Tail, u: &mut Uses) {
    for s in t.yes.iter().chain(t.no.iter()) {
        walk_seq(s, u);
    }
}

fn walk_cond(c: &CondKind, u: &mut Uses) {
    match c {
        CondKind::Call { def, args, .. } => {
            if let Some((n, instead)) = CONDITIONS.iter().find(|(n, _)| *n == def.name) {
                u.found
                    .push(format!("the {n} condition is deprecated: use {instead}"));
            }
            u.sets_captures |= def.name == "match";
            args.iter().for_each(|a| walk_seq(a, u));
        }
        CondKind::And(cs) | CondKind::Or(cs) => cs.iter().for_each(|c| walk_cond(&c.kind, u)),
        CondKind::ForEach { list, cond, .. } => {
            walk_seq(list, u);
            walk_cond(&cond.kind, u);
        }
        CondKind::DefVar(_) | CondKind::DefHeader(_) | CondKind::Error(_) => {}
    }
}

fn expansion_uses(e: &Expansion) -> Uses {
    let mut u = Uses::default();
    walk_seq(&e.body, &mut u);
    u
}

fn check_expansion(e: &Expansion, what: &str, span: Span, out: &mut Vec<Diagnostic>) {
    for f in expansion_uses(e).found {
        warn(out, format!("{what}: {f}"), span, "deprecated here");
    }
}

fn sorted<'a>(
    map: &'a std::collections::HashMap<&'static str, Setting>,
) -> Vec<(&'static str, &'a Setting)> {
    let mut v: Vec<_> = map.iter().map(|(k, s)| (*k, s)).collect();
    v.sort_by_key(|(k, _)| *k);
    v
}

fn check_main(cfg: &Config, out: &mut Vec<Diagnostic>) {
    for (name, instead) in MAIN_OPTIONS {
        if let Some(s) = cfg.main.get(name).filter(|s| !s.derived) {
            warn(
                out,
                format!("{name}: {instead}"),
                s.span,
                "deprecated option",
            );
        }
    }
    if let Some(Setting {
        value: Value::Str(v),
        span,
        ..
    }) = cfg.main.get("tls_dhparam")
    {
        if v.trim().starts_with("ike") {
            let msg = format!(
                "tls_dhparam = {v}: the \"ike\" primes are deprecated (ike1 and ike22 log panics); use an ffdhe prime such as ffdhe3072, or leave it unset"
            );
            warn(out, msg, *span, "deprecated value");
        }
    }
    for (name, s) in sorted(&cfg.main) {
        if let Some(e) = &s.expansion {
            check_expansion(e, &format!("option {name}"), s.span, out);
        }
    }
}

fn check_drivers(cfg: &Config, out: &mut Vec<Diagnostic>) {
    let classes = [
        ("router", &cfg.routers),
        ("transport", &cfg.transports),
        ("authenticator", &cfg.authenticators),
    ];
    for (class, drivers) in classes {
        for d in drivers {
            for (name, s) in sorted(&d.options) {
                let Some(e) = &s.expansion else { continue };
                let what = format!("{class} {}, option {name}", d.name);
                check_expansion(e, &what, s.span, out);
                let u = expansion_uses(e);
                if class == "authenticator"
                    && name.starts_with("server_")
                    && u.captures
                    && !u.sets_captures
                {
                    let msg = format!(
                        "{what}: the authentication strings in $1, $2 ... are deprecated: use $auth1, $auth2 ..."
                    );
                    warn(out, msg, s.span, "deprecated here");
                }
            }
        }
    }
}

fn check_acls(cfg: &Config, out: &mut Vec<Diagnostic>) {
    for cfg_acl in &cfg.acls {
        let Some((acl, offsets)) = super::vars::read(cfg_acl) else {
            continue;
        };
        let span_of = |offset: usize| -> Span {
            let i = offsets.partition_point(|o| *o <= offset).saturating_sub(1);
            cfg_acl.lines.get(i).map(|l| l.span).unwrap_or(cfg_acl.span)
        };
        let name = &cfg_acl.name;
        for st in &acl.statements {
            for item in &st.items {
                let span = span_of(item.span.start as usize);
                let item_name = item.def.name;
                if st.verb == Verb::Warn && item_name == "message" {
                    let msg = format!("ACL \"{name}\": \"message\" on a warn statement is deprecated: use add_header");
                    warn(out, msg, span, "deprecated use");
                }
                let text = match &item.arg {
                    Arg::Raw(t) => Some(t.as_str()),
                    Arg::Expand(e) => Some(e.source()),
                    _ => None,
                };
                if let (Some(t), "verify") = (text, item_name) {
                    for opt in t.split('/').skip(1) {
                        let opt = opt.trim();
                        if let Some((old, new)) = VERIFY_OPTIONS
                            .iter()
                            .find(|(o, _)| opt.eq_ignore_ascii_case(o))
                        {
                            let msg = format!(
                                "ACL \"{name}\": verify option \"{old}\" is deprecated: use {new}"
                            );
                            warn(out, msg, span, "deprecated option");
                        }
                    }
                }
                if let (Some(t), "ratelimit") = (text, item_name) {
                    if t.split('/')
                        .skip(1)
                        .any(|o| o.trim().eq_ignore_ascii_case("noupdate"))
                    {
                        let msg = format!("ACL \"{name}\": ratelimit option \"noupdate\" is deprecated (Exim ChangeLog, 4.77): use readonly");
                        warn(out, msg, span, "deprecated option");
                    }
                }
                for e in super::vars::expansions(&item.arg) {
                    check_expansion(&e, &format!("ACL \"{name}\""), span, out);
                }
            }
        }
    }
}

pub fn check(cfg: &Config, out: &mut Vec<Diagnostic>) {
    check_main(cfg, out);
    check_drivers(cfg, out);
    check_acls(cfg, out);
    for l in &cfg.named_lists {
        if l.value.contains('$') {
            let e = crate::expand::parse(&l.value);
            check_expansion(&e, &format!("named list {}", l.name), l.span, out);
        }
    }
    for r in &cfg.rewrite {
        if let Some(e) = &r.expansion {
            check_expansion(e, "rewrite replacement", r.span, out);
        }
    }
}
