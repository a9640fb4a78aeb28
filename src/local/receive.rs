//! One locally submitted message, as Exim's `receive_msg` handles non-SMTP input:
//! `acl_not_smtp_start`, reading, `-t`, the local fixups, `acl_not_smtp_mime` per
//! part, `acl_not_smtp`, then the spool files and the `<=` log line.

use std::io::Read;
use std::sync::Arc;

use crate::acl::state::MessageState;
use crate::acl::{run_acl, Phase, Rc};
use crate::expand::message::{Counts, Message as Loaded};
use crate::expand::{Context, Val};
use crate::local::bounce::Kind;
use crate::local::fail::{fail, Failure};
use crate::local::fixups::{self, Facts, Header};
use crate::local::input::{self, Limits, Source, Stop};
use crate::local::report::{header_listing, Logger, EXIT_FAILURE};
use crate::local::settings::Settings;
use crate::local::store::{accepted, apply_added, finish_header, message_id_parts, qualify};
use crate::local::vars::{envelope_vars, set_recipients};
use crate::local::Who;
use crate::spool::header::header_type;

/// The envelope given before the message is read.
#[derive(Debug, Clone, Default)]
pub struct Envelope {
    pub sender: Vec<u8>,
    pub recipients: Vec<Vec<u8>>,
}

/// How the message is read and where errors go.
#[derive(Debug, Clone, Copy)]
pub struct Mode {
    pub extract: bool,
    pub dot_ends: bool,
    /// `-bS`: errors are reported by the batch reader.
    pub batched: bool,
    /// Errors on stderr (`-oep`); otherwise they are mailed to the sender.
    pub errors_to_stderr: bool,
    /// `-oee`: exit 0 once an error report is mailed.
    pub errors_exit_zero: bool,
}

/// How reception ended: the exit status Exim would give, or (batched SMTP) a message
/// the non-SMTP ACL refused, for the batch reader to report.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    Exit(i32),
    BatchRejected(String),
    /// An error reported with Exim's `give_local_error` (on stderr).
    Error(i32),
    /// Batched SMTP input ended inside the message (nothing accepted); the text for
    /// the log line.
    Lost(&'static str),
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// rexim holds a local message in memory while it is received: with no
/// `message_size_limit` (0) it still stops at 1 GiB, reported as too big.
pub const MEMORY_LIMIT: u64 = 1 << 30;

fn effective_size_limit(configured: u64) -> u64 {
    if configured == 0 {
        MEMORY_LIMIT
    } else {
        configured
    }
}

/// Run a non-SMTP ACL, writing its log lines.
fn acl(
    st: &Settings,
    ctx: &mut Context,
    state: &mut MessageState,
    log: &mut Logger,
    phase: Phase,
    spec: &crate::expand::Expansion,
) -> crate::acl::Verdict {
    let v = run_acl(ctx, &st.acls, state, phase, spec, false);
    log.acl_lines(std::mem::take(&mut state.logs));
    v
}

/// `$1`... of the `From ` line in `uucp_from_sender`.
fn from_line_sender(st: &Settings, ctx: &mut Context, line: &[u8]) -> Option<Vec<u8>> {
    let re = crate::expand::regex::compile(st.uucp_from_pattern.as_bytes(), false).ok()?;
    let caps = re.captures(line).ok()??;
    let mut ev = crate::expand::eval::Eval::new(ctx);
    ev.captures = (0..caps.len())
        .map(|i| Val::tainted(caps.get(i).map_or(Vec::new(), |m| m.as_bytes().to_vec())))
        .collect();
    match ev.seq(&st.uucp_from_sender.body) {
        Ok(v) => Some(v.bytes),
        Err(e) => {
            let _ = e;
            None
        }
    }
}

/// Receive one message from `src`. The envelope's recipients are the command line's
/// (already parsed); with `-t` they are taken from the headers instead.
pub fn receive<R: Read>(
    st: &Settings,
    who: &mut Who,
    mut env: Envelope,
    mode: Mode,
    src: &mut Source<R>,
    log: &mut Logger,
) -> Outcome {
    let mut ctx = st.context();
    envelope_vars(&mut ctx, who, &env);
    let mut state = MessageState::default();
    if let Some(spec) = &st.acl_not_smtp_start {
        // The verdict is ignored, as in Exim: the ACL runs for its side effects.
        let _ = acl(st, &mut ctx, &mut state, log, Phase::NotSmtpStart, spec);
    }
    let limits = Limits {
        dot_ends: mode.dot_ends,
        size_limit: effective_size_limit(st.message_size_limit),
        header_line_max: st.header_line_maxsize,
        smtp: mode.batched,
    };
    let pattern = crate::expand::regex::compile(st.uucp_from_pattern.as_bytes(), false).ok();
    let is_from = |line: &[u8]| {
        pattern
            .as_ref()
            .is_some_and(|re| re.is_match(line).unwrap_or(false))
    };
    let (msg, stop) = input::read(src, limits, &is_from);
    let ident = who.ident.clone().unwrap_or_default();
    // Before the id: Exim copies the headers read so far and the unread input.
    let early = |kind: Kind, text: String, m: &input::Message, src: &mut Source<R>| {
        let mut rest = Vec::new();
        while rest.len() < 1 << 20 {
            let c = src.getc();
            if c < 0 {
                break;
            }
            rest.push(c as u8);
        }
        Failure {
            kind,
            prefix: "",
            text,
            headers: m.headers.iter().map(|h| (b' ', h.clone())).collect(),
            body: Some(rest),
            message_size: m.size,
        }
    };
    match stop {
        Stop::HeaderTooLong => {
            log.main(&format!(
                "ridiculously long message header received from {ident} (more than {} characters): message abandoned",
                input::HEADER_MAXSIZE
            ));
            let text = format!(
                "message header longer than {} characters received: message not accepted",
                input::HEADER_MAXSIZE
            );
            let f = early(Kind::HeaderTooLong(input::HEADER_MAXSIZE), text, &msg, src);
            return fail(st, who, mode, log, &env.sender, f);
        }
        Stop::HeaderLineTooLong => {
            log.main(&format!(
                "overlong message header line received from {ident} (more than {} characters): message abandoned",
                st.header_line_maxsize
            ));
            let text = format!(
                "message header line longer than {} characters received: message not accepted",
                st.header_line_maxsize
            );
            let f = early(
                Kind::HeaderLineTooLong(st.header_line_maxsize),
                text,
                &msg,
                src,
            );
            return fail(st, who, mode, log, &env.sender, f);
        }
        _ => {}
    }
    if let (Some(line), false) = (&msg.from_line, who.sender_forced) {
        if let Some(new) = from_line_sender(st, &mut ctx, line) {
            who.take_from_line_sender(st, &mut env, new);
            envelope_vars(&mut ctx, who, &env);
        }
    }
    let mut headers: Vec<Header> = msg
        .headers
        .iter()
        .map(|h| Header {
            text: h.clone(),
            old: false,
        })
        .collect();
    let mut non_recipients = Vec::new();
    let mut bad = Vec::new();
    let mut ignored = false;
    if mode.extract {
        if st.extract_addresses_remove_arguments {
            non_recipients = std::mem::take(&mut env.recipients)
                .into_iter()
                .map(|r| qualify(&r, &st.qualify_recipient))
                .collect();
        }
        let (found, b, ig) = fixups::extract_recipients(&mut headers, &non_recipients);
        if st.recipients_max > 0 && found.len() as u64 > st.recipients_max {
            let f = Failure {
                kind: Kind::TooManyRecipients(st.recipients_max),
                prefix: "message rejected: ",
                text: "too many recipients".into(),
                headers: Vec::new(),
                body: Some(msg.body.clone()),
                message_size: msg.size,
            };
            return fail(st, who, mode, log, &env.sender, f);
        }
        env.recipients.extend(found);
        bad = b;
        ignored = ig;
    }
    let id = crate::smtp::msgid::next_id(std::process::id());
    log.id = Some(id.clone());
    ctx.set("message_exim_id", id.as_str());
    ctx.set("message_id", id.as_str());
    let date = crate::expand_str("${tod_full}", &mut ctx)
        .map(|v| v.as_str_lossy().into_owned())
        .unwrap_or_default();
    let (id_domain, id_text) = message_id_parts(st, &mut ctx, log);
    let facts = Facts {
        message_id: id.clone(),
        id_domain,
        id_text,
        qualify_domain: st.qualify_domain.clone(),
        qualify_recipient: st.qualify_recipient.clone(),
        sender: env.sender.clone(),
        login: who.caller.login.clone(),
        name: who.name.clone(),
        sender_local: who.sender_local,
        trusted: who.caller.trusted,
        suppress_local_fixups: state.has_control("suppress_local_fixups"),
        from_host: who.host.is_some(),
        name_forced: who.name_forced,
        sender_forced: who.sender_forced,
        smtp_input: mode.batched,
        local_from_check: st.acls.env.local_from_check,
        local_sender_retain: st.acls.env.local_sender_retain,
        date,
        return_path_remove: st.return_path_remove,
        envelope_to_remove: st.envelope_to_remove,
        delivery_date_remove: st.delivery_date_remove,
    };
    let own_msgid = headers
        .iter()
        .any(|h| fixups::name_of(&h.text).eq_ignore_ascii_case(b"message-id") && !h.old);
    fixups::apply(&mut headers, &facts);
    // `for ...` on the `<=` line lists the recipients before qualification.
    let raw_recipients = env.recipients.clone();
    env.recipients = env
        .recipients
        .iter()
        .map(|r| qualify(r, &st.qualify_recipient))
        .collect();
    let listing = |received: Option<&[u8]>, env: &Envelope, headers: &[Header]| {
        let mut typed: Vec<(u8, &[u8])> = Vec::new();
        if let Some(r) = received {
            typed.push((b'P', r));
        }
        typed.extend(headers.iter().map(|h| {
            (
                if h.old { b'*' } else { header_type(&h.text) },
                h.text.as_slice(),
            )
        }));
        header_listing(&env.sender, &env.recipients, &typed)
    };
    let typed = |received: Option<&[u8]>, headers: &[Header]| -> Vec<(u8, Vec<u8>)> {
        let mut t: Vec<(u8, Vec<u8>)> = received.map(|r| (b'P', r.to_vec())).into_iter().collect();
        t.extend(headers.iter().map(|h| {
            let kind = if h.old { b'*' } else { header_type(&h.text) };
            (kind, h.text.clone())
        }));
        t
    };
    let failure =
        |kind: Kind, prefix: &'static str, text: String, headers: Vec<(u8, Vec<u8>)>| Failure {
            kind,
            prefix,
            text,
            headers,
            body: Some(msg.body.clone()),
            message_size: msg.size,
        };
    match &stop {
        Stop::TooBig => {
            log.reject(
                &format!(
                    "rejected from <{}> U={ident}: message too big: read={} max={}",
                    text(&env.sender),
                    msg.size,
                    effective_size_limit(st.message_size_limit)
                ),
                &listing(None, &env, &headers),
            );
            let max = effective_size_limit(st.message_size_limit);
            let text = format!("message too big (max={max})");
            let kind = Kind::TooBig(max);
            let f = failure(kind, "message rejected: ", text, typed(None, &headers));
            return fail(st, who, mode, log, &env.sender, f);
        }
        Stop::Lost(what) => return Outcome::Lost(what),
        Stop::ReadError(e) => {
            let m = format!("Input read error ({e}) while receiving message from {ident}");
            log.main(&format!("Message abandoned: {m}"));
            let f = failure(Kind::IoError(m.clone()), "", m, typed(None, &headers));
            return fail(st, who, mode, log, &env.sender, f);
        }
        _ => {}
    }
    if mode.extract && (!bad.is_empty() || env.recipients.is_empty()) {
        let what = if bad.is_empty() {
            "no recipients"
        } else {
            "bad addresses"
        };
        log.panic(&format!("{id} {what} found in headers"));
        let mut err = std::io::stderr();
        use std::io::Write;
        if !mode.errors_to_stderr {
            let kind = if !bad.is_empty() {
                Kind::BadAddresses {
                    list: bad.clone(),
                    others: !env.recipients.is_empty(),
                }
            } else if ignored {
                Kind::IgnoredAll
            } else {
                Kind::NoAddress
            };
            let f = failure(kind, "", String::new(), typed(None, &headers));
            let sent = crate::local::fail::mail(st, who, log, &env.sender, &f);
            // Exim's EXIT_NORECIPIENTS when even the report failed.
            let rc = match (sent, bad.is_empty()) {
                (true, _) if mode.errors_exit_zero => 0,
                (true, _) | (false, false) => EXIT_FAILURE,
                (false, true) => 2,
            };
            if env.recipients.is_empty() {
                return Outcome::Error(rc);
            }
        } else if bad.is_empty() {
            let why = if ignored {
                "all -t recipients overridden by command line"
            } else {
                "no recipients in message"
            };
            let _ = writeln!(err, "exim: {why}");
        } else {
            let plural = if bad.len() > 1 { "es:\n" } else { ":" };
            let _ = write!(err, "exim: invalid address{plural}");
            for b in &bad {
                let _ = writeln!(err, "  {}: {}", b.text, b.error);
            }
        }
        if env.recipients.is_empty() || mode.errors_to_stderr {
            return Outcome::Exit(EXIT_FAILURE);
        }
    }
    // What the ACLs see: the headers that are not old, and Exim's counts.
    let mut visible = Vec::with_capacity(msg.body.len() + 1024);
    let mut stored = Vec::with_capacity(msg.body.len() + 1024);
    let mut obsolete = Vec::new();
    for (i, h) in headers.iter().enumerate() {
        stored.extend_from_slice(&h.text);
        if h.old {
            obsolete.push(i);
        } else {
            visible.extend_from_slice(&h.text);
        }
    }
    for d in [&mut visible, &mut stored] {
        d.push(b'\n');
        d.extend_from_slice(&msg.body);
    }
    let mut loaded = Loaded::read(&visible, st.message_body_visible);
    loaded.counts = Counts {
        size: msg.size,
        linecount: msg.linecount,
        body_linecount: msg.body_linecount,
        body_zerocount: msg.body_zerocount,
        body_size: msg.body.len() as u64,
        max_line_length: msg.max_line,
    };
    ctx.message = Some(Arc::new(loaded));
    // Exim's first header step: what `acl_not_smtp_start` queued.
    apply_added(&mut ctx, &mut state);
    set_recipients(&mut ctx, &env.recipients);
    ctx.set("mime_part_count", "-1");
    ctx.set("mime_is_rfc822", "0");
    let received_text = |ctx: &Context, env: &Envelope| {
        let am = accepted(&id, env, &stored, &[], ctx, &[], None);
        crate::spool::build::received_header(&am, &st.spool.received_header_text).ok()
    };
    // The scanners get the message with its Received: header, as Exim spools it.
    let received = received_text(&ctx, &env).unwrap_or_default();
    let visible = Arc::new(visible);
    crate::local::scan::prepare(&mut state, received, Arc::clone(&visible), &env.recipients);
    let mut blackhole: Option<String> = None;
    if let (Some(spec), false) = (&st.acl_not_smtp_mime, env.recipients.is_empty()) {
        crate::local::scan::fix_headers(&mut state, &ctx);
        let v =
            crate::local::mime::run(&mut ctx, &st.acls, &mut state, spec, visible.to_vec(), &id);
        log.acl_lines(std::mem::take(&mut state.logs));
        apply_added(&mut ctx, &mut state);
        match v.map(|v| v.rc) {
            None | Some(Rc::Ok) => {}
            Some(Rc::Discard) => {
                blackhole = Some("(MIME ACL discarded recipients)".into());
            }
            // Exim gives up here without a word (its non-SMTP MIME failure path).
            Some(_) => return Outcome::Exit(EXIT_FAILURE),
        }
    }
    if let (Some(spec), None) = (&st.acl_not_smtp, &blackhole) {
        let v = acl(st, &mut ctx, &mut state, log, Phase::NotSmtp, spec);
        if matches!(v.rc, Rc::Ok | Rc::Discard) {
            state.close_header_batch();
        }
        match v.rc {
            Rc::Ok => {}
            Rc::Discard => {
                let why = v.log_message.map(|m| format!(": {m}")).unwrap_or_default();
                blackhole = Some(format!("(non-SMTP ACL discarded recipients){why}"));
            }
            _ => {
                // Exim's header list then: what `acl_not_smtp_start` and the MIME ACL
                // added or removed is in it, this ACL's own lines are not.
                let received = received_text(&ctx, &env);
                let list = crate::spool::build::header_list(
                    crate::spool::build::received_line(received.clone().unwrap_or_default()),
                    crate::spool::build::split_headers(&stored).0,
                    &obsolete,
                    &state.header_batches,
                );
                let kept: Vec<(u8, Vec<u8>)> = list
                    .into_iter()
                    .filter(|h| !h.text.is_empty())
                    .map(|h| (h.kind, h.text))
                    .collect();
                let pairs: Vec<(u8, &[u8])> =
                    kept.iter().map(|(k, t)| (*k, t.as_slice())).collect();
                log.reject(
                    &format!(
                        "F=<{}> rejected by non-SMTP ACL: {}",
                        text(&env.sender),
                        v.log_message.as_deref().unwrap_or("NULL")
                    ),
                    &header_listing(&env.sender, &env.recipients, &pairs),
                );
                let user = v
                    .user_message
                    .unwrap_or_else(|| "local configuration problem".into());
                if mode.batched {
                    return Outcome::BatchRejected(user);
                }
                let f = failure(
                    Kind::Acl(user.clone()),
                    "message rejected by non-SMTP ACL: ",
                    user,
                    kept,
                );
                return fail(st, who, mode, log, &env.sender, f);
            }
        }
    }
    crate::local::scan::finish(&mut state);
    let mut am = accepted(
        &id,
        &env,
        &stored,
        &state.header_batches,
        &ctx,
        &obsolete,
        state.frozen_at,
    );
    let bmi_verdicts = crate::local::scan::bmi(st, &state, &am, log);
    am.bmi_verdicts = bmi_verdicts.as_deref();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let spool = &st.spool;
    let built =
        crate::spool::build::build(&am, &spool.originator, now, &spool.received_header_text);
    let (mut header, body) = match built {
        Ok(x) => x,
        Err(e) => {
            log.main(&format!("Message abandoned: {e}"));
            let f = failure(Kind::IoError(e.clone()), "", e, typed(None, &headers));
            return fail(st, who, mode, log, &env.sender, f);
        }
    };
    finish_header(&mut header, who, &msg, non_recipients);
    let size = header.header_size() + body.len() as u64 + 1;
    if blackhole.is_none() {
        if let Err(e) = spool.write(&header, &body) {
            let m = format!("Spool write error ({e}) while receiving message from {ident}");
            log.main(&format!("Message abandoned: {m}"));
            let f = failure(Kind::IoError(m.clone()), "", m, typed(None, &headers));
            return fail(st, who, mode, log, &env.sender, f);
        }
    }
    let sender = if env.sender.is_empty() {
        "<>".to_string()
    } else {
        text(&env.sender)
    };
    let mut line = format!("<= {sender}");
    if let Some(r) = who.local_error.as_deref().filter(|r| !r.is_empty()) {
        line += &format!(" R={r}");
    }
    if let Some((ip, _)) = &who.host {
        line += &match &who.host_name {
            Some(n) => format!(" H={n} [{ip}]"),
            None => format!(" H=[{ip}]"),
        };
    }
    if !ident.is_empty() {
        line += &format!(" U={ident}");
    }
    line += &format!(" P={} S={size}", who.protocol);
    if let Some(q) = &state.queue {
        line += &format!(" Q={q}");
    }
    let logging = st.logging;
    if logging.msg_id && (own_msgid || logging.msg_id_created) {
        if let Some(mid) = crate::smtp::verbs::data::log_message_id(&stored) {
            // Exim marks an id it made itself.
            let star = if own_msgid { "" } else { "*" };
            line += &format!(" id{star}={mid}");
        }
    }
    let has_subject = headers
        .iter()
        .any(|h| fixups::name_of(&h.text).eq_ignore_ascii_case(b"subject"));
    if logging.subject && has_subject {
        if let Ok(subject) = crate::expand_str("$h_subject:", &mut ctx) {
            line += &crate::local::logsel::subject_element(&subject.bytes);
        }
    }
    if logging.received_recipients {
        line += " for";
        for r in &raw_recipients {
            line += &format!(" {}", text(r));
        }
    }
    log.main(&line);
    if state.frozen_at.is_some() {
        log.main("frozen by ACL");
    }
    if let Some(detail) = blackhole {
        log.main(&format!("=> blackhole {detail}"));
        log.main("Completed");
        // Exim's status after a blackholed local message.
        return Outcome::Exit(EXIT_FAILURE);
    }
    Outcome::Exit(0)
}
