//! RCPT TO: the recipient address, DSN parameters and the RCPT ACL.

use crate::acl::{Phase, Rc};
use crate::expand::address::{Options, Parser};
use crate::expand::Val;
use crate::smtp::proto::command::{parse_rcpt_args, Offered};
use crate::smtp::session::{Done, Session};
use crate::smtp::verbs::mail::user_reply;

/// `RCPT TO:<recipient> [NOTIFY=...] [ORCPT=...]`.
pub fn handle_rcpt(s: &mut Session) -> Done {
    s.was_rcpt = true;
    s.rcpt_in_progress = true;
    let done = rcpt(s);
    s.rcpt_in_progress = false;
    done
}

fn rcpt(s: &mut Session) -> Done {
    if s.env.sender.is_none() {
        if s.offered.pipelining && s.last_was_rej_mail {
            s.reply("503 sender not yet given");
            s.was_rej_mail = true;
            return Done::Continue;
        }
        s.was_rcpt = false;
        return s.synprot_error("protocol", 503, "sender not yet given");
    }
    if s.cmd.arg.is_empty() {
        return s.synprot_error("syntax", 501, "RCPT must have an address operand");
    }
    let offered = Offered {
        esmtp: s.esmtp,
        dsn: s.offered.dsn,
        ..Offered::default()
    };
    let args = parse_rcpt_args(&s.cmd.arg, offered);
    if let Some(e) = &args.error {
        return s.synprot_error("syntax", 501, e);
    }
    let text = String::from_utf8_lossy(&args.rest).into_owned();
    let mut addr = match Parser::new(Options::default()).extract(&args.rest) {
        Ok(a) => a,
        Err(e) => return s.synprot_error_data("syntax", 501, Some(&text), &e),
    };
    // An unqualified postmaster is always accepted, others from
    // `recipient_unqualified_hosts`; they get `qualify_recipient`.
    if addr.domain_offset == 0
        && (s.host_flags.allow_unqualified_recipient
            || addr.address.eq_ignore_ascii_case(b"postmaster"))
    {
        addr.domain_offset = addr.address.len() + 1;
        addr.address.push(b'@');
        addr.address
            .extend_from_slice(s.qualify_domain(true).as_bytes());
    }
    if addr.domain_offset == 0 {
        s.reply(&format!(
            "501 {}: recipient address must contain a domain",
            String::from_utf8_lossy(&s.cmd.arg)
        ));
        // Logged under the smtp_syntax_error selector, as Exim does.
        if s.cfg.log_session.syntax_error {
            let line = format!(
                "unqualified recipient rejected: <{}> {}",
                String::from_utf8_lossy(&addr.address),
                s.host_and_ident()
            );
            s.log(line);
        }
        return Done::Continue;
    }
    s.env.rcpt_count += 1;
    s.ctx
        .set_id(crate::vid!("rcpt_count"), s.env.rcpt_count.to_string());
    s.ctx.set_id(
        crate::vid!("recipients_count"),
        s.env.recipients.len().to_string(),
    );
    // Exim lowercases both for the RCPT ACL (`control = caseful_local_part` restores
    // the local part as sent).
    s.acl_state.rcpt_original = Some((addr.local_part().to_vec(), addr.domain().to_vec()));
    s.ctx.set(
        "local_part",
        Val::tainted(addr.local_part().to_ascii_lowercase()),
    );
    s.ctx.set_id(
        crate::vid!("domain"),
        Val::tainted(addr.domain().to_ascii_lowercase()),
    );
    let cfg = std::sync::Arc::clone(&s.cfg);
    let v = match cfg.acl_smtp_rcpt.as_ref() {
        // After a MAIL ACL discard Exim runs no RCPT ACL.
        _ if s.env.mail_discarded => crate::acl::Verdict {
            rc: Rc::Discard,
            user_message: None,
            log_message: None,
        },
        Some(spec) => s.acl(Phase::Rcpt, spec),
        // No RCPT ACL: Exim refuses every recipient from a remote host.
        None => {
            s.ctx.trace(|| "ACL is NULL: implicit DENY".into());
            crate::acl::Verdict {
                rc: Rc::Fail,
                user_message: None,
                log_message: None,
            }
        }
    };
    s.ctx.unset_ids(&[crate::vid!("local_part")]);
    s.ctx.unset_ids(&[crate::vid!("domain")]);
    s.acl_state.rcpt_original = None;
    match v.rc {
        Rc::Ok | Rc::Discard => {
            if v.rc == Rc::Discard {
                s.env.discarded = true;
                let by = if s.env.mail_discarded { "MAIL" } else { "RCPT" };
                let why = v.log_message.as_ref().map(|m| format!(": {m}"));
                let line = format!(
                    "{} F=<{}> RCPT {}: discarded by {by} ACL{}",
                    s.host_and_ident(),
                    String::from_utf8_lossy(s.env.sender.as_deref().unwrap_or_default()),
                    String::from_utf8_lossy(&s.cmd.arg),
                    why.unwrap_or_default()
                );
                s.log(line);
            } else {
                s.env.recipients.push(addr.address.clone());
                s.acl_state.recipient_accepted();
                s.env
                    .recipient_dsn
                    .push(crate::smtp::session::RecipientDsn {
                        flags: args.notify,
                        orcpt: args.orcpt.clone(),
                    });
            }
            s.ctx.set_id(
                crate::vid!("recipients_count"),
                s.env.recipients.len().to_string(),
            );
            match v.user_message {
                Some(u) => user_reply(s, "250", &u),
                None => s.reply("250 Accepted"),
            }
            Done::Continue
        }
        _ => s.acl_fail(Phase::Rcpt, &v),
    }
}
