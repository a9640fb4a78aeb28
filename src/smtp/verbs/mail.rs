//! MAIL FROM: ESMTP parameters, the sender address, the size limit and the MAIL ACL.

use crate::acl::{Phase, Rc};
use crate::expand::address::{Options, Parser};
use crate::expand::Val;
use crate::smtp::proto::command::Offered;
use crate::smtp::proto::parse_mail_args;
use crate::smtp::session::{Done, Session};

/// `MAIL FROM:<sender> [params]`.
pub fn handle_mail(s: &mut Session) -> Done {
    s.was_rej_mail = true;
    if !s.helo_seen {
        let list = s.cfg.hosts_require_helo.clone();
        if s.host_option("hosts_require_helo", &list) {
            s.reply("503 HELO or EHLO required");
            let line = format!(
                "rejected MAIL from {}: no HELO/EHLO given",
                s.host_and_ident().trim_start_matches("H=")
            );
            s.log(line);
            return Done::Continue;
        }
    }
    if s.env.sender.is_some() {
        return s.synprot_error("protocol", 503, "sender already given");
    }
    s.reset_message();
    if s.cmd.arg.is_empty() {
        return s.synprot_error("protocol", 501, "MAIL must have an address operand");
    }
    let offered = Offered {
        esmtp: s.esmtp,
        dsn: s.offered.dsn,
        smtputf8: s.offered.smtputf8,
        auth: s.auth.advertised,
        eightbitmime: s.cfg.accept_8bitmime,
    };
    let args = parse_mail_args(&s.cmd.arg, offered);
    if let Some(e) = args.error {
        return s.synprot_error("syntax", 501, &e);
    }
    if let Some(value) = &args.auth {
        if let Err(done) = crate::smtp::verbs::auth::mail_auth_param(s, value) {
            return done;
        }
    }
    let text = String::from_utf8_lossy(&args.rest).into_owned();
    let parsed = Parser::new(Options {
        allow_null: true,
        ..Options::default()
    })
    .extract(&args.rest);
    let addr = match parsed {
        Ok(a) => a,
        Err(e) => return s.synprot_error_data("syntax", 501, Some(&text), &e),
    };
    let sender = addr.address.clone();
    let size = args.size.unwrap_or(0);
    let limit = s.cfg.message_size_limit;
    if limit > 0 && size > limit {
        s.reply("552 Message size exceeds maximum permitted");
        let line = format!(
            "rejected MAIL FROM:<{}> {}: message too big: size={size} max={limit}",
            String::from_utf8_lossy(&sender),
            s.host_and_ident()
        );
        s.log(line);
        return Done::Continue;
    }
    let mut sender = sender;
    if addr.domain_offset == 0 && !sender.is_empty() && s.host_flags.allow_unqualified_sender {
        // `sender_unqualified_hosts`: qualified with `qualify_domain`.
        sender.push(b'@');
        sender.extend_from_slice(s.qualify_domain(false).as_bytes());
    } else if addr.domain_offset == 0 && !sender.is_empty() {
        s.reply(&format!(
            "501 {}: sender address must contain a domain",
            String::from_utf8_lossy(&s.cmd.arg)
        ));
        // Logged under the smtp_syntax_error selector, as Exim does.
        if s.cfg.log_session.syntax_error {
            let line = format!(
                "unqualified sender rejected: <{}> {}",
                String::from_utf8_lossy(&sender),
                s.host_and_ident()
            );
            s.log(line);
        }
        return Done::Continue;
    }
    s.env.sender = Some(sender.clone());
    s.env.size = args.size;
    s.env.dsn_ret = match args.ret.as_deref() {
        Some(b"FULL") => crate::smtp::proto::command::DSN_RET_FULL,
        Some(b"HDRS") => crate::smtp::proto::command::DSN_RET_HDRS,
        _ => 0,
    };
    s.env.dsn_envid = args.envid.clone();
    s.env.smtputf8 = args.smtputf8;
    s.env.prdr = args.prdr && s.cfg.prdr_enable;
    if s.env.prdr {
        s.ctx.set_id(crate::vid!("prdr_requested"), "yes");
    }
    if args.smtputf8 {
        s.ctx.set_id(crate::vid!("message_smtputf8"), "yes");
    } else {
        s.ctx.unset_ids(&[crate::vid!("message_smtputf8")]);
    }
    if args.smtputf8 {
        // Exim prefixes the protocol once; it stays until the next HELO/EHLO.
        let proto = s
            .ctx
            .fixed(crate::vid!("received_protocol"))
            .map(|v| v.as_str_lossy().into_owned())
            .unwrap_or_default();
        if !proto.starts_with("utf8") {
            s.ctx
                .set_id(crate::vid!("received_protocol"), format!("utf8{proto}"));
        }
    }
    s.ctx
        .set_id(crate::vid!("sender_address"), Val::tainted(sender.clone()));
    s.ctx.set_id(
        crate::vid!("sender_address_local_part"),
        Val::tainted(addr.local_part()),
    );
    s.ctx.set_id(
        crate::vid!("sender_address_domain"),
        Val::tainted(addr.domain()),
    );
    s.ctx.set_id(crate::vid!("message_size"), size.to_string());
    let cfg = std::sync::Arc::clone(&s.cfg);
    if let Some(spec) = cfg.acl_smtp_mail.as_ref() {
        let v = s.acl(Phase::Mail, spec);
        match v.rc {
            Rc::Ok | Rc::Discard => {
                if v.rc == Rc::Discard {
                    s.env.discarded = true;
                    s.env.mail_discarded = true;
                }
                s.was_rej_mail = false;
                let prdr = if s.env.prdr { ", PRDR Requested" } else { "" };
                match v.user_message {
                    Some(u) => user_reply(s, "250", &format!("{u}{prdr}")),
                    None => s.reply(&format!("250 OK{prdr}")),
                }
            }
            _ => {
                s.env.sender = None;
                s.ctx.unset_ids(&[crate::vid!("sender_address")]);
                return s.acl_fail(Phase::Mail, &v);
            }
        }
    } else {
        s.was_rej_mail = false;
        let prdr = if s.env.prdr { ", PRDR Requested" } else { "" };
        s.reply(&format!("250 OK{prdr}"));
    }
    Done::Continue
}

/// Exim's `smtp_user_msg`: a custom success message, whose own code is used when it
/// starts with the right digit.
pub fn user_reply(s: &mut Session, default: &str, msg: &str) {
    let mut code = default.to_string();
    let mut text = msg;
    if let Some(len) = crate::smtp::session::smtp_code_len(msg) {
        if msg.as_bytes()[0] == default.as_bytes()[0] {
            code = msg[..len].to_string();
        } else {
            s.log(format!(
                "configured error code starts with incorrect digit (expected {}) in \"{msg}\"",
                &default[..1]
            ));
        }
        text = &msg[len..];
    }
    s.respond(&code, true, text);
}
