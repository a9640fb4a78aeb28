//! RSET, NOOP, QUIT, HELP, ETRN and STARTTLS.

use crate::acl::{Phase, Rc};
use crate::smtp::session::{Done, Session};
use crate::smtp::verbs::mail::user_reply;

/// `RSET`: forget the current message.
pub fn handle_rset(s: &mut Session) -> Done {
    s.reply("250 Reset OK");
    s.reset_message();
    Done::Continue
}

/// `NOOP`.
pub fn handle_noop(s: &mut Session) -> Done {
    s.reply("250 OK");
    Done::Continue
}

/// `QUIT`: the QUIT ACL may only change the text of the 221.
pub fn handle_quit(s: &mut Session) -> Done {
    let mut user = None;
    if let Some(spec) = s.cfg.acl_smtp_quit.clone() {
        let v = s.acl(Phase::Quit, &spec);
        if v.rc == Rc::Error {
            s.log(format!(
                "ACL for QUIT returned ERROR: {}",
                v.log_message.clone().unwrap_or_default()
            ));
        }
        user = v.user_message;
    }
    match user {
        Some(u) => s.respond("221", true, &u),
        None => {
            let line = format!("221 {} closing connection", s.active_hostname());
            s.reply(&line);
        }
    }
    Done::Close
}

/// `HELP`: the commands this server knows.
pub fn handle_help(s: &mut Session) -> Done {
    s.reply("214-Commands supported:");
    let mut list = String::from(" AUTH");
    let tls = s.cfg.tls_advertise_hosts.clone();
    if s.tls.is_none() && s.host_option("tls_advertise_hosts", &tls) {
        list += " STARTTLS";
    }
    list += " HELO EHLO MAIL RCPT DATA BDAT NOOP QUIT RSET HELP";
    if s.cfg.acl_smtp_etrn.is_some() {
        list += " ETRN";
    }
    if s.cfg.acl_smtp_expn.is_some() {
        list += " EXPN";
    }
    if s.cfg.acl_smtp_vrfy.is_some() {
        list += " VRFY";
    }
    s.reply(&format!("214{list}"));
    Done::Continue
}

/// `ETRN #domain`: allowed by the ETRN ACL. rexim has no queue runner to start yet, so an
/// accepted ETRN gets an explicit 458 (under `-bh`, Exim's `250 OK`).
pub fn handle_etrn(s: &mut Session) -> Done {
    if s.env.sender.is_some() {
        return s.synprot_error(
            "protocol",
            503,
            "ETRN is not permitted inside a transaction",
        );
    }
    let line = format!(
        "ETRN {} received from {}",
        String::from_utf8_lossy(&s.cmd.arg),
        s.host_and_ident().trim_start_matches("H=")
    );
    s.log(line);
    let v = match s.cfg.acl_smtp_etrn.clone() {
        Some(spec) => s.acl(Phase::Etrn, &spec),
        None => {
            s.ctx.trace(|| "ACL is NULL: implicit DENY".into());
            crate::acl::Verdict {
                rc: Rc::Fail,
                user_message: None,
                log_message: None,
            }
        }
    };
    if v.rc != Rc::Ok {
        return s.acl_fail(Phase::Etrn, &v);
    }
    if !s.cmd.arg.starts_with(b"#") {
        return s.synprot_error("syntax", 501, "argument must begin with #");
    }
    if !s.host_checking {
        s.reply("458 ETRN queue runs are not supported by rexim yet");
        return Done::Continue;
    }
    // `-bh` skips the queue run and reports success, as Exim does.
    s.ctx.trace(|| "ETRN command is: exim -R".into());
    s.ctx.trace(|| "ETRN command execution skipped".into());
    match v.user_message {
        Some(u) => user_reply(s, "250", &u),
        None => s.reply("250 OK"),
    }
    Done::Continue
}
