//! Policy scripting: run an ACL against a described session (client IP, HELO, sender,
//! recipient, message) and get the verdict, the reply texts and the log lines back.
//!
//! ```
//! use rexim::acl::api::{evaluate, SessionFacts};
//! use rexim::acl::{read::read_inline, AclSet, Phase, Rc};
//!
//! let mut acls = AclSet::default();
//! let mut acl = read_inline("deny  domains = !example.com\n      message = relay not permitted\naccept").unwrap();
//! acl.name = "check_rcpt".into();
//! acls.insert(acl);
//! let facts = SessionFacts { ip: "192.0.2.1".into(), recipient: Some("fred@example.org".into()), ..Default::default() };
//! let out = evaluate(&acls, Phase::Rcpt, "check_rcpt", &facts);
//! assert_eq!(out.verdict.rc, Rc::Fail);
//! assert_eq!(out.verdict.user_message.as_deref(), Some("relay not permitted"));
//! ```

use std::sync::Arc;

use crate::acl::engine::{run_acl, ExpansionAcls, Verdict};
use crate::acl::model::AclSet;
use crate::acl::phase::Phase;
use crate::acl::state::{LogLine, MessageState};
use crate::expand::message::Message;
use crate::expand::{parse, Context, Val};

/// What is known about the SMTP session at the phase being checked. Everything here
/// comes from the network, so it is tainted, as in Exim.
#[derive(Debug, Clone, Default)]
pub struct SessionFacts {
    pub ip: String,
    pub port: u16,
    pub helo: Option<String>,
    /// Envelope sender; `Some("")` is the null sender.
    pub sender: Option<String>,
    /// The recipient being checked (RCPT phase).
    pub recipient: Option<String>,
    /// Recipients accepted so far (for `$recipients` in DATA).
    pub recipients: Vec<String>,
    /// The whole message (headers and body) for the DATA (or non-SMTP) phase.
    pub message: Option<Vec<u8>>,
    /// Other variables to set (`acl_c0`, `authenticated_id`, ...), untainted.
    pub vars: Vec<(String, String)>,
}

/// The verdict with everything the ACL asked for.
#[derive(Debug)]
pub struct Outcome {
    pub verdict: Verdict,
    pub logs: Vec<LogLine>,
    pub add_headers: Vec<String>,
    pub remove_headers: Vec<String>,
    pub controls: Vec<String>,
}

fn split_address(a: &str) -> (&str, &str) {
    match a.rfind('@') {
        Some(i) => (&a[..i], &a[i + 1..]),
        None => (a, ""),
    }
}

/// Run the ACL named `acl` (or inline ACL text) for `phase` against `facts`.
pub fn evaluate(acls: &AclSet, phase: Phase, acl: &str, facts: &SessionFacts) -> Outcome {
    let mut ctx = Context::default();
    let shared = Arc::new(acls.clone());
    ctx.acl = Some(Arc::new(ExpansionAcls { acls: shared }));
    ctx.set_tainted("sender_host_address", &facts.ip);
    ctx.set("sender_host_port", facts.port.to_string());
    if let Some(h) = &facts.helo {
        ctx.set_tainted("sender_helo_name", h);
    }
    if let Some(s) = &facts.sender {
        let (lp, dom) = split_address(s);
        ctx.set_tainted("sender_address", s);
        ctx.set_tainted("sender_address_local_part", lp);
        ctx.set_tainted("sender_address_domain", dom);
    }
    if let Some(r) = &facts.recipient {
        let (lp, dom) = split_address(r);
        ctx.set_tainted("local_part", &lp.to_ascii_lowercase());
        ctx.set_tainted("domain", &dom.to_ascii_lowercase());
    }
    ctx.set("recipients_count", facts.recipients.len().to_string());
    ctx.set(
        "recipients",
        Val::tainted(facts.recipients.join(", ").into_bytes()),
    );
    if let Some(m) = &facts.message {
        ctx.message = Some(Arc::new(Message::read(
            m,
            ctx.settings.message_body_visible,
        )));
    }
    for (k, v) in &facts.vars {
        ctx.set(k, v.as_str());
    }
    let mut state = MessageState::default();
    // What content scanners (`spam`, `dcc`) send: the message as given (no Received:
    // header is added here) and the recipients.
    state.scan_data = facts.message.clone().map(Arc::new);
    state.recipients = facts
        .recipients
        .iter()
        .map(|r| r.clone().into_bytes())
        .collect();
    let verdict = run_acl(&mut ctx, acls, &mut state, phase, &parse(acl), false);
    Outcome {
        verdict,
        logs: state.logs.clone(),
        add_headers: state.add_headers.iter().map(|(_, h)| h.clone()).collect(),
        remove_headers: state.remove_headers.clone(),
        controls: state.controls.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::acl::read::read_inline;
    use crate::acl::Rc;

    fn acls(text: &str) -> AclSet {
        let mut set = AclSet::default();
        let mut a = read_inline(text).expect("acl");
        a.name = "check".into();
        set.insert(a);
        set
    }

    #[test]
    fn verdicts_messages_and_effects() {
        let set = acls(
            "warn  add_header = X-Seen: $sender_helo_name\n      logwrite = from $sender_address\n\
             deny  condition = ${if eq{$local_part}{root}}\n      message = no mail for $local_part@$domain\n\
             accept",
        );
        let facts = SessionFacts {
            ip: "192.0.2.7".into(),
            helo: Some("client.example".into()),
            sender: Some("a@b.example".into()),
            recipient: Some("Root@Example.COM".into()),
            ..Default::default()
        };
        let out = evaluate(&set, Phase::Rcpt, "check", &facts);
        assert_eq!(out.verdict.rc, Rc::Fail);
        assert_eq!(
            out.verdict.user_message.as_deref(),
            Some("no mail for root@example.com")
        );
        assert_eq!(
            out.add_headers,
            vec!["X-Seen: client.example\n".to_string()]
        );
        assert_eq!(out.logs[0].text, "from a@b.example");
        let ok = evaluate(
            &set,
            Phase::Rcpt,
            "check",
            &SessionFacts {
                recipient: Some("fred@x".into()),
                ..facts
            },
        );
        assert_eq!(ok.verdict.rc, Rc::Ok);
    }

    #[test]
    fn data_phase_sees_headers() {
        let set = acls("deny  condition = ${if match{$h_subject:}{spam}}\naccept");
        let facts = SessionFacts {
            message: Some(b"Subject: cheap spam here\n\nbody\n".to_vec()),
            ..Default::default()
        };
        assert_eq!(
            evaluate(&set, Phase::Data, "check", &facts).verdict.rc,
            Rc::Fail
        );
    }
}
