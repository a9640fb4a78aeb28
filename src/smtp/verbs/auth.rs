//! AUTH (RFC 4954): advertising in EHLO, the AUTH command and its `334` exchange, and the
//! `AUTH=` parameter of MAIL, with Exim's replies and log lines.

use crate::acl::{Phase, Rc};
use crate::auth::{condition_true, xtext_decode, Authenticator, Exchange, Outcome, Step};
use crate::expand::Val;
use crate::smtp::proto::MAX_COMMAND_LINE;
use crate::smtp::session::{Done, Session, State};

/// A connection's authentication state.
#[derive(Debug, Clone, Default)]
pub struct AuthState {
    /// The last EHLO advertised AUTH (Exim's `fl.auth_advertised`).
    pub advertised: bool,
    /// Which authenticators the last EHLO offered.
    pub offered: Vec<bool>,
    /// The authenticator that succeeded.
    pub by: Option<usize>,
    /// Exim keeps the last deferring condition's text for later 435 replies.
    pub defer_user_msg: String,
    /// The exchange waiting for the client's answer to a `334` prompt.
    pending: Option<(usize, Exchange)>,
}

impl AuthState {
    /// The authenticator that succeeded, if any.
    pub fn authenticator<'a>(&self, s: &'a Session) -> Option<&'a Authenticator> {
        self.by.and_then(|i| s.cfg.authenticators.get(i))
    }
}

/// The `AUTH` capability line for EHLO, or `None` (no server authenticator, host not in
/// `auth_advertise_hosts`, already authenticated, every advertise condition false).
pub fn advertise(s: &mut Session) -> Option<String> {
    s.auth.advertised = false;
    if s.cfg.authenticators.is_empty() || s.auth.by.is_some() {
        return None;
    }
    let hosts = s.cfg.auth_advertise_hosts.clone();
    if !s.host_option("auth_advertise_hosts", &hosts) {
        return None;
    }
    let cfg = s.cfg.clone();
    let mut line = String::from("AUTH");
    s.auth.offered = cfg
        .authenticators
        .iter()
        .map(|au| match &au.server_advertise_condition {
            Some(c) => condition_true(c, &mut s.ctx),
            None => true,
        })
        .collect();
    for (au, &on) in cfg.authenticators.iter().zip(&s.auth.offered) {
        if on {
            line.push(' ');
            line.push_str(&au.public_name.to_ascii_uppercase());
        }
    }
    s.auth.advertised = s.auth.offered.iter().any(|&b| b);
    s.auth.advertised.then_some(line)
}

/// `$received_protocol` after EHLO: `esmtpa` (`esmtpsa` under TLS) once authenticated.
pub fn protocol(s: &Session, esmtp: bool) -> Option<&'static str> {
    if !esmtp || s.auth.by.is_none() {
        return None;
    }
    let tls = s.ctx.get("tls_in_cipher").is_some();
    Some(if tls { "esmtpsa" } else { "esmtpa" })
}

/// `AUTH mechanism [initial-response]`.
pub fn handle_auth(s: &mut Session) -> Done {
    s.ctx.set("authentication_failed", "1");
    // `control = allow_auth_unadvertised` (connect or HELO ACL) for clients that send
    // AUTH without EHLO having offered it.
    let unadvertised_ok = s
        .acl_state
        .controls
        .iter()
        .any(|c| c == "allow_auth_unadvertised");
    if !s.auth.advertised && !unadvertised_ok {
        return s.synprot_error("protocol", 503, "AUTH command used when not advertised");
    }
    if s.auth.by.is_some() {
        return s.synprot_error("protocol", 503, "already authenticated");
    }
    if s.env.sender.is_some() {
        return s.synprot_error("protocol", 503, "not permitted in mail transaction");
    }
    if let Some(spec) = s.cfg.acl_smtp_auth.clone() {
        let v = s.acl(Phase::Auth, &spec);
        if v.rc != Rc::Ok {
            return s.acl_fail(Phase::Auth, &v);
        }
    }
    let arg = s.cmd.arg.clone();
    let name_len = arg
        .iter()
        .position(|c| c.is_ascii_whitespace())
        .unwrap_or(arg.len());
    let (name, data) = (&arg[..name_len], arg[name_len..].trim_ascii_start());
    if !name
        .iter()
        .all(|&c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
    {
        return s.synprot_error(
            "syntax",
            501,
            "invalid character in authentication mechanism name",
        );
    }
    let cfg = s.cfg.clone();
    let found = cfg.authenticators.iter().enumerate().position(|(i, au)| {
        au.public_name.as_bytes().eq_ignore_ascii_case(name)
            && (unadvertised_ok || s.auth.offered.get(i).copied().unwrap_or(false))
    });
    let Some(index) = found else {
        let msg = format!(
            "{} authentication mechanism not supported",
            String::from_utf8_lossy(name)
        );
        return s.synprot_error("protocol", 504, &msg);
    };
    let au = &cfg.authenticators[index];
    let (x, step) = Exchange::start(au, data, &mut s.ctx);
    next_step(s, index, x, step)
}

/// The client's answer to a `334` prompt.
pub fn auth_response(s: &mut Session, line: Vec<u8>) -> Done {
    s.state = State::Command;
    let Some((index, mut x)) = s.auth.pending.take() else {
        return Done::Continue;
    };
    let cfg = s.cfg.clone();
    let au = &cfg.authenticators[index];
    let step = if line.len() >= MAX_COMMAND_LINE {
        Step::Done(Outcome::Bad64)
    } else {
        x.answer(au, &line, &mut s.ctx)
    };
    next_step(s, index, x, step)
}

fn next_step(s: &mut Session, index: usize, x: Exchange, step: Step) -> Done {
    match step {
        Step::Prompt(challenge) => {
            use base64::Engine;
            let b64 = base64::engine::general_purpose::STANDARD.encode(challenge);
            s.reply(&format!("334 {b64}"));
            s.auth.pending = Some((index, x));
            s.state = State::Auth;
            s.rx.start_line();
            Done::Continue
        }
        Step::Done(outcome) => {
            finish(s, index, &x, outcome);
            Done::Continue
        }
    }
}

/// Exim's `smtp_in_auth` after the driver: `server_set_id`, the reply and the log line.
fn finish(s: &mut Session, index: usize, x: &Exchange, mut outcome: Outcome) {
    let cfg = s.cfg.clone();
    let au = &cfg.authenticators[index];
    // server_set_id is expanded even after a failure, for the log.
    let set_id = match &au.server_set_id {
        None => None,
        Some(e) => match x.items().expand(e, &mut s.ctx) {
            Ok(v) => Some(
                String::from_utf8_lossy(&crate::expand::operators::text::printing(&v.bytes, false))
                    .into_owned(),
            ),
            Err(err) => {
                if outcome == Outcome::Ok {
                    outcome = Outcome::Defer {
                        log: err.into_message(),
                        user: None,
                    };
                }
                None
            }
        },
    };
    let set_id_note = match &set_id {
        Some(id) if !id.is_empty() => format!(" (set_id={id})"),
        _ => String::new(),
    };
    // Exim keeps the id of a failed attempt (not for bad base64 or a cancel).
    let keep_fail_id = matches!(outcome, Outcome::Fail | Outcome::Defer { .. });
    let (reply, log) = match outcome {
        Outcome::Ok => {
            s.auth.by = Some(index);
            match &set_id {
                Some(id) => s.ctx.set("authenticated_id", Val::tainted(id.as_bytes())),
                None => true,
            };
            s.ctx.set("sender_host_authenticated", au.name.as_str());
            s.ctx.set("authentication_failed", "0");
            s.ctx.unset("authenticated_fail_id");
            let proto = protocol(s, true).unwrap_or("esmtpa");
            s.ctx.set("received_protocol", proto);
            ("235 Authentication succeeded".to_string(), None)
        }
        Outcome::Defer { log, user } => {
            if let Some(u) = user {
                s.auth.defer_user_msg = format!(": {u}");
            }
            let r = format!(
                "435 Unable to authenticate at present{}",
                s.auth.defer_user_msg
            );
            let l = format!("435 Unable to authenticate at present{set_id_note}: {log}");
            (r, Some(l))
        }
        Outcome::Bad64 => (
            "501 Invalid base64 data".into(),
            Some("501 Invalid base64 data".into()),
        ),
        Outcome::Cancelled => (
            "501 Authentication cancelled".into(),
            Some("501 Authentication cancelled".into()),
        ),
        Outcome::Unexpected => (
            "553 Initial data not expected".into(),
            Some("553 Initial data not expected".into()),
        ),
        Outcome::Fail => (
            "535 Incorrect authentication data".into(),
            Some(format!("535 Incorrect authentication data{set_id_note}")),
        ),
    };
    if let (true, Some(id)) = (keep_fail_id, &set_id) {
        s.ctx
            .set("authenticated_fail_id", Val::tainted(id.as_bytes()));
    }
    s.reply(&reply);
    if let Some(l) = log {
        let line = format!(
            "{} authenticator failed for {}: {l}",
            au.name,
            s.host_and_ident().trim_start_matches("H=")
        );
        s.log(line);
    }
}

/// The `AUTH=` parameter of MAIL: `Ok(())` to go on (the value kept in
/// `$authenticated_sender` or ignored with a log line), `Err` with the handler's result.
pub fn mail_auth_param(s: &mut Session, value: &[u8]) -> Result<(), Done> {
    if value == b"<>" {
        return Ok(());
    }
    let Some(sender) = xtext_decode(value) else {
        return Err(s.synprot_error("syntax", 501, "invalid data for AUTH"));
    };
    s.ctx
        .set("authenticated_sender", Val::tainted(sender.clone()));
    let (rc, mut ignore) = match s.cfg.acl_smtp_mailauth.clone() {
        None => (
            if s.auth.by.is_some() {
                Rc::Ok
            } else {
                Rc::Fail
            },
            "client not authenticated".to_string(),
        ),
        Some(spec) => {
            let v = s.acl(Phase::MailAuth, &spec);
            if !matches!(v.rc, Rc::Ok | Rc::Fail) {
                s.ctx.unset("authenticated_sender");
                return Err(s.acl_fail(Phase::MailAuth, &v));
            }
            (v.rc, "rejected by ACL".to_string())
        }
    };
    let mut accepted = rc == Rc::Ok;
    if accepted {
        if let Some(cond) = s
            .auth
            .authenticator(s)
            .and_then(|au| au.server_mail_auth_condition.clone())
        {
            if !condition_true(&cond, &mut s.ctx) {
                accepted = false;
                ignore = "server_mail_auth_condition failed".to_string();
                if let Some(id) = s.ctx.get("authenticated_id") {
                    ignore += &format!(": authenticated ID=\"{}\"", id.as_str_lossy());
                }
            }
        }
    }
    if !accepted {
        s.ctx.unset("authenticated_sender");
        let line = format!(
            "ignoring AUTH={} from {} ({ignore})",
            String::from_utf8_lossy(value),
            s.host_and_ident()
        );
        s.log(line);
    }
    Ok(())
}
