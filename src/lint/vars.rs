//! Lint family: variables used in an ACL that runs where Exim leaves them unset
//! (`$local_part` in a MAIL ACL, headers before DATA ...).

use std::collections::{HashMap, VecDeque};

use crate::acl::model::Arg;
use crate::acl::phase::Phase;
use crate::acl::read::{read_acl, Line as AclLine};
use crate::config::{Config, Span, Value};
use crate::diag::{DiagLabel, Diagnostic, Severity};
use crate::expand::ast::Reference;
use crate::expand::{parse, Expansion};

/// Which main option names an ACL for which phase.
const HOOKS: &[(&str, Phase)] = &[
    ("acl_not_smtp", Phase::NotSmtp),
    ("acl_not_smtp_mime", Phase::Mime),
    ("acl_not_smtp_start", Phase::NotSmtpStart),
    ("acl_smtp_auth", Phase::Auth),
    ("acl_smtp_connect", Phase::Connect),
    ("acl_smtp_data", Phase::Data),
    ("acl_smtp_data_prdr", Phase::Prdr),
    ("acl_smtp_dkim", Phase::Dkim),
    ("acl_smtp_etrn", Phase::Etrn),
    ("acl_smtp_expn", Phase::Expn),
    ("acl_smtp_helo", Phase::Helo),
    ("acl_smtp_mail", Phase::Mail),
    ("acl_smtp_mailauth", Phase::MailAuth),
    ("acl_smtp_mime", Phase::Mime),
    ("acl_smtp_notquit", Phase::NotQuit),
    ("acl_smtp_predata", Phase::Predata),
    ("acl_smtp_quit", Phase::Quit),
    ("acl_smtp_rcpt", Phase::Rcpt),
    ("acl_smtp_starttls", Phase::Starttls),
    ("acl_smtp_vrfy", Phase::Vrfy),
];

use Phase::*;

/// Variables Exim sets only in some phases, and those phases.
const PHASE_VARS: &[(&str, &[Phase])] = &[
    ("domain", &[Rcpt, Prdr, Vrfy, Expn]),
    ("domain_data", &[Rcpt, Prdr, Vrfy]),
    ("local_part", &[Rcpt, Prdr, Vrfy, Expn]),
    ("local_part_data", &[Rcpt, Prdr, Vrfy]),
    ("recipient_data", &[Rcpt]),
    ("message_body", &[Data, Mime, Dkim, Prdr, NotSmtp]),
    ("message_body_end", &[Data, Mime, Dkim, Prdr, NotSmtp]),
    ("message_linecount", &[Data, Mime, Dkim, Prdr, NotSmtp]),
    ("body_linecount", &[Data, Mime, Dkim, Prdr, NotSmtp]),
    (
        "sender_helo_name",
        &[
            Helo, Mail, MailAuth, Rcpt, Predata, Data, Mime, Dkim, Prdr, Quit, NotQuit, Vrfy, Expn,
            Etrn, Auth, Starttls,
        ],
    ),
    (
        "sender_address",
        &[
            Mail,
            Rcpt,
            Predata,
            Data,
            Mime,
            Dkim,
            Prdr,
            NotSmtp,
            NotSmtpStart,
        ],
    ),
    ("smtp_notquit_reason", &[NotQuit]),
];

/// Phases in which message headers exist.
const HEADER_PHASES: &[Phase] = &[Data, Mime, Dkim, Prdr, NotSmtp];

/// An ACL as read for linting, with the offsets `span_of` maps back to config lines.
pub(super) type ParsedAcl = Option<(crate::acl::Acl, Vec<usize>)>;

/// Named ACLs reached from the `acl_smtp_*` options, directly or through `acl =`
/// conditions: for each, the phases it runs in and the option that leads there.
pub(super) struct Reach<'c> {
    pub by_name: HashMap<&'c str, &'c crate::config::Acl>,
    pub phases: HashMap<&'c str, Vec<(Phase, &'static str)>>,
    pub parsed: HashMap<&'c str, ParsedAcl>,
}

pub(super) fn reach(cfg: &Config) -> Reach<'_> {
    let by_name: HashMap<&str, &crate::config::Acl> =
        cfg.acls.iter().map(|a| (a.name.as_str(), a)).collect();
    let mut phases: HashMap<&str, Vec<(Phase, &'static str)>> = HashMap::new();
    let mut queue: VecDeque<(&str, Phase, &'static str)> = VecDeque::new();
    for (opt, phase) in HOOKS {
        let Some(def) = crate::config::tables::find(crate::config::tables::MAIN, opt) else {
            continue;
        };
        if let Value::Str(name) = cfg.main_value(def) {
            if let Some((n, _)) = by_name.get_key_value(name.trim()) {
                queue.push_back((n, *phase, opt));
            }
        }
    }
    let mut parsed: HashMap<&str, ParsedAcl> = HashMap::new();
    while let Some((name, phase, opt)) = queue.pop_front() {
        let seen = phases.entry(name).or_default();
        if seen.iter().any(|(p, _)| *p == phase) {
            continue;
        }
        seen.push((phase, opt));
        let entry = parsed.entry(name).or_insert_with(|| read(by_name[name]));
        let Some((acl, _)) = entry else { continue };
        for st in &acl.statements {
            for item in &st.items {
                if let (true, Arg::Raw(text)) = (item.def.name == "acl", &item.arg) {
                    let callee = text.split_whitespace().next().unwrap_or("");
                    if let Some((n, _)) = by_name.get_key_value(callee) {
                        queue.push_back((n, phase, opt));
                    }
                }
            }
        }
    }
    Reach {
        by_name,
        phases,
        parsed,
    }
}

/// The option naming the ACL for each phase.
pub(super) fn hooks() -> &'static [(&'static str, Phase)] {
    HOOKS
}

pub fn check(cfg: &Config, out: &mut Vec<Diagnostic>) {
    let Reach {
        by_name,
        phases,
        parsed,
    } = reach(cfg);
    let phases: HashMap<&str, Vec<Phase>> = phases
        .into_iter()
        .map(|(n, ps)| (n, ps.into_iter().map(|(p, _)| p).collect()))
        .collect();
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
        let ps = &phases[*name];
        for st in &acl.statements {
            for item in &st.items {
                for e in expansions(&item.arg) {
                    for r in e.references() {
                        if let Some(problem) = unset_in(&r, ps) {
                            out.push(Diagnostic {
                                code: "variable-unset-in-phase",
                                severity: Severity::Warning,
                                message: format!("ACL \"{name}\": {problem}"),
                                labels: vec![DiagLabel {
                                    span: span_of(item.span.start as usize),
                                    message: "used here".into(),
                                }],
                            });
                        }
                    }
                }
            }
        }
    }
}

pub(super) fn read(acl: &crate::config::Acl) -> Option<(crate::acl::Acl, Vec<usize>)> {
    let mut offsets = Vec::new();
    let mut lines = Vec::new();
    let mut at = 0usize;
    for l in &acl.lines {
        offsets.push(at);
        lines.push(AclLine {
            text: &l.text,
            offset: at,
        });
        at += l.text.len() + 1;
    }
    read_acl(&acl.name, &lines).ok().map(|a| (a, offsets))
}

pub(super) fn expansions(arg: &Arg) -> Vec<Expansion> {
    match arg {
        Arg::Expand(e) | Arg::Set(_, e) => vec![e.clone()],
        // List conditions expand their text themselves.
        Arg::Raw(text) if text.contains('$') => vec![parse(text)],
        _ => Vec::new(),
    }
}

/// Why this reference is empty in (one of) the phases, if it is.
fn unset_in(r: &Reference, phases: &[Phase]) -> Option<String> {
    let bad: Vec<&str> = match r {
        Reference::Header(_) => phases
            .iter()
            .filter(|p| !HEADER_PHASES.contains(p))
            .map(|p| p.name())
            .collect(),
        Reference::Var(v) => {
            let name = v.name();
            let allowed = PHASE_VARS.iter().find(|(n, _)| *n == name)?.1;
            phases
                .iter()
                .filter(|p| !allowed.contains(p))
                .map(|p| p.name())
                .collect()
        }
    };
    if bad.is_empty() {
        return None;
    }
    let what = match r {
        Reference::Header(h) => format!("header $h_{h} (no message headers exist yet)"),
        Reference::Var(v) => format!("${} is not set", v.name()),
    };
    Some(format!("{what} in the {} ACL", bad.join("/")))
}
