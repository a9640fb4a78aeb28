//! The ACL condition and modifier table: name, kind, top-level expansion, forbidden phases.

use crate::acl::engine::{AclRun, Rc};
use crate::acl::phase::bits::*;
use crate::acl::{dkim, dmarc, dnslists, lists, mime, modifiers, ratelimit, seen, spf, tests};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Condition,
    Modifier,
}

/// `run` receives the argument: expanded when `expand` is set, raw otherwise.
pub type RunFn = fn(&mut AclRun, &crate::acl::model::Item, &[u8]) -> Rc;

pub struct AclCondDef {
    pub name: &'static str,
    pub kind: Kind,
    /// Exim's `expand_at_top`: the argument is expanded before `run`.
    pub expand: bool,
    /// Phases where using it is an error (Exim's `forbids` bitmap).
    pub forbids: u32,
    pub run: RunFn,
}

impl std::fmt::Debug for AclCondDef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AclCondDef({})", self.name)
    }
}

const fn cond(name: &'static str, expand: bool, forbids: u32, run: RunFn) -> AclCondDef {
    AclCondDef {
        name,
        kind: Kind::Condition,
        expand,
        forbids,
        run,
    }
}

const fn modifier(name: &'static str, forbids: u32, run: RunFn) -> AclCondDef {
    AclCondDef {
        name,
        kind: Kind::Modifier,
        expand: true,
        forbids,
        run,
    }
}

const HEADER_PHASES: u32 =
    MAIL | RCPT | PREDATA | DATA | PRDR | MIME | NOTSMTP | DKIM | NOTSMTP_START;
const NO_SENDER_PHASES: u32 =
    AUTH | CONNECT | HELO | MAILAUTH | QUIT | ETRN | EXPN | STARTTLS | VRFY;

const SPF_FORBIDS: u32 =
    AUTH | CONNECT | HELO | MAILAUTH | ETRN | EXPN | STARTTLS | VRFY | NOTSMTP | NOTSMTP_START;

/// Every ACL condition and modifier rexim knows, sorted by name.
pub static ACL_CONDITIONS: &[AclCondDef] = &[
    cond("acl", false, 0, tests::acl),
    modifier("add_header", !HEADER_PHASES, modifiers::add_header),
    cond(
        "authenticated",
        false,
        NOTSMTP | NOTSMTP_START | CONNECT | HELO,
        tests::authenticated,
    ),
    modifier(
        "bmi_optin",
        AUTH | CONNECT
            | HELO
            | DATA
            | MIME
            | PRDR
            | ETRN
            | EXPN
            | MAILAUTH
            | MAIL
            | STARTTLS
            | VRFY
            | PREDATA
            | NOTSMTP_START,
        modifiers::bmi_optin,
    ),
    cond("condition", true, 0, tests::condition),
    modifier("continue", 0, modifiers::continue_),
    modifier("control", 0, modifiers::control),
    cond("dcc", true, !(DATA | PRDR | NOTSMTP), crate::acl::dcc::dcc),
    cond("decode", true, !MIME, mime::decode),
    modifier("delay", NOTQUIT, modifiers::delay),
    cond("dkim_signers", true, !DKIM, dkim::dkim_signers),
    cond("dkim_status", true, !DKIM, dkim::dkim_status),
    cond("dmarc_status", true, !DATA, dmarc::dmarc_status),
    cond("dnslists", true, 0, dnslists::dnslists),
    cond("domains", false, !(RCPT | VRFY | PRDR), lists::domains),
    cond(
        "encrypted",
        false,
        NOTSMTP | NOTSMTP_START | HELO,
        tests::encrypted,
    ),
    modifier("endpass", 0, modifiers::endpass),
    cond("hosts", false, NOTSMTP | NOTSMTP_START, lists::hosts),
    cond(
        "local_parts",
        false,
        !(RCPT | VRFY | PRDR),
        lists::local_parts,
    ),
    modifier("log_message", 0, modifiers::message_text),
    modifier("log_reject_target", 0, modifiers::log_reject_target),
    modifier("logwrite", 0, modifiers::logwrite),
    cond(
        "malware",
        true,
        !(DATA | PRDR | NOTSMTP),
        crate::acl::malware::malware,
    ),
    modifier("message", 0, modifiers::message_text),
    cond("mime_regex", true, !MIME, mime::mime_regex),
    modifier("queue", NOTSMTP | PRDR | DATA, modifiers::queue),
    cond("ratelimit", true, 0, ratelimit::ratelimit),
    cond("recipients", false, !RCPT, lists::recipients),
    cond("regex", true, !(DATA | PRDR | NOTSMTP | MIME), tests::regex),
    modifier(
        "remove_header",
        !(MAIL | RCPT | PREDATA | DATA | PRDR | MIME | NOTSMTP | NOTSMTP_START),
        modifiers::remove_header,
    ),
    cond("seen", true, 0, seen::seen),
    cond(
        "sender_domains",
        false,
        NO_SENDER_PHASES,
        lists::sender_domains,
    ),
    cond("senders", false, NO_SENDER_PHASES, lists::senders),
    modifier("set", 0, modifiers::set),
    cond(
        "spam",
        true,
        !(DATA | PRDR | NOTSMTP),
        crate::acl::spam::spam,
    ),
    cond("spf", true, SPF_FORBIDS, spf::spf),
    cond("spf_guess", true, SPF_FORBIDS, spf::spf_guess),
    modifier("udpsend", 0, modifiers::udpsend),
    cond("verify", true, 0, tests::verify),
];

/// Exim's run-time refusal of a condition or modifier in a phase where it is not
/// allowed (`cannot test domains condition in MAIL ACL`).
pub fn forbidden_message(def: &AclCondDef, phase: crate::acl::Phase) -> Option<String> {
    if def.forbids & phase.bit() == 0 {
        return None;
    }
    let what = if def.kind == Kind::Modifier {
        "use"
    } else {
        "test"
    };
    Some(format!(
        "cannot {what} {} condition in {} ACL",
        def.name,
        phase.name()
    ))
}

/// What Exim would refuse when `item` runs in `phase`, as far as can be told before
/// running it: the condition itself, or a `control =` / `verify =` value without
/// expansions. For `rexim lint`; Exim itself checks only at run time.
pub fn static_phase_error(
    item: &crate::acl::model::Item,
    phase: crate::acl::Phase,
) -> Option<String> {
    use crate::acl::model::Arg;
    if let Some(m) = forbidden_message(item.def, phase) {
        return Some(m);
    }
    let Arg::Expand(e) = &item.arg else {
        return None;
    };
    let text = e.source();
    if text.contains('$') || text.contains('\\') {
        return None;
    }
    let r = match item.def.name {
        "control" => modifiers::control_check(text.trim(), phase),
        "verify" => crate::acl::verify::verify_check(text, phase),
        _ => Ok(()),
    };
    r.err()
}

pub fn find(name: &str) -> Option<&'static AclCondDef> {
    ACL_CONDITIONS
        .binary_search_by(|d| d.name.cmp(name))
        .ok()
        .map(|i| &ACL_CONDITIONS[i])
}

/// Conditions that no phase may use outside SMTP (documented for `sender` checks).
pub const SENDER_FORBIDS: u32 = NO_SENDER_PHASES;

#[cfg(test)]
mod table_tests {
    #[test]
    fn table_is_sorted_and_unique() {
        assert!(super::ACL_CONDITIONS
            .windows(2)
            .all(|w| w[0].name < w[1].name));
    }
}
