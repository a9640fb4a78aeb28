//! DATA and BDAT: recipient checks, the PREDATA ACL, `354`, and the DATA ACL on the message.

use std::sync::Arc;

use crate::acl::{Phase, Rc};
use crate::expand::message::Message;
use crate::expand::Val;
use crate::smtp::proto::command::parse_bdat;
use crate::smtp::session::{Done, Session, State};

/// Checks shared by DATA and the first BDAT; `Err` carries the handler's result.
fn ready_for_data(s: &mut Session, what: &str) -> Result<(), Done> {
    s.pipe_connect_acceptable = false;
    if !s.env.discarded && s.env.recipients.is_empty() {
        if s.rcpt_response_same {
            if let Some(r) = s.rcpt_response.clone() {
                s.respond(
                    "503",
                    false,
                    "All RCPT commands were rejected with this error:",
                );
                s.respond("503", false, &r);
            }
        }
        if s.offered.pipelining && s.last_was_rcpt {
            s.reply(&format!("503 Valid RCPT command must precede {what}"));
            return Err(Done::Continue);
        }
        return Err(s.synprot_error(
            "protocol",
            503,
            &format!("valid RCPT command must precede {what}"),
        ));
    }
    if let Some(spec) = s.cfg.acl_smtp_predata.clone() {
        let v = s.acl(Phase::Predata, &spec);
        if !matches!(v.rc, Rc::Ok | Rc::Discard) {
            return Err(s.acl_fail(Phase::Predata, &v));
        }
    }
    Ok(())
}

/// `DATA`.
pub fn handle_data(s: &mut Session) -> Done {
    if let Err(d) = ready_for_data(s, "DATA") {
        return d;
    }
    s.reply("354 Enter message, ending with \".\" on a line by itself");
    s.rx.start_data();
    s.state = State::Data;
    Done::Continue
}

/// `BDAT n [LAST]`.
pub fn handle_bdat(s: &mut Session) -> Done {
    if !s.offered.chunking {
        return s.synprot_error(
            "protocol",
            503,
            "BDAT command used when CHUNKING not advertised",
        );
    }
    let Some((n, last)) = parse_bdat(&s.cmd.arg) else {
        return s.synprot_error("protocol", 501, "missing size for BDAT command");
    };
    if s.env.chunks.is_empty() {
        if let Err(d) = ready_for_data(s, "BDAT") {
            // The chunk still arrives and must be skipped.
            s.rx.start_chunk(n);
            s.state = State::Chunk { last: true };
            s.env.discarded = true;
            s.env.chunks.clear();
            s.env.sender = s.env.sender.take();
            s.bdat_skip = true;
            return d;
        }
    }
    s.rx.start_chunk(n);
    s.state = State::Chunk { last };
    Done::Continue
}

/// A BDAT chunk arrived.
pub fn chunk_received(s: &mut Session, bytes: Vec<u8>) -> Done {
    let State::Chunk { last } = s.state else {
        return Done::Continue;
    };
    s.state = State::Command;
    if s.bdat_skip {
        s.bdat_skip = false;
        s.env.discarded = false;
        return Done::Continue;
    }
    let n = bytes.len();
    s.env.chunks.extend_from_slice(&bytes);
    if !last {
        s.reply(&format!("250 {n} byte chunk received"));
        return Done::Continue;
    }
    let mut body = Vec::with_capacity(s.env.chunks.len());
    let raw = std::mem::take(&mut s.env.chunks);
    let mut i = 0;
    while i < raw.len() {
        if raw[i] == b'\r' && raw.get(i + 1) == Some(&b'\n') {
            i += 1;
            continue;
        }
        body.push(raw[i]);
        i += 1;
    }
    let size = raw.len() + usize::from(needs_separator(&body));
    let last_chunk = Some((n, size));
    finish(s, body, size, last_chunk)
}

/// The message after DATA has been read (dot-unstuffed, LF line ends).
pub fn message_received(s: &mut Session, body: Vec<u8>) -> Done {
    s.state = State::Command;
    let size = s.rx.data_size;
    finish(s, body, size, None)
}

/// Does the header section end without a blank line (Exim then adds one, and counts it)?
fn needs_separator(body: &[u8]) -> bool {
    for line in body.split(|&c| c == b'\n') {
        if line.is_empty() {
            return false;
        }
        if line[0] == b' ' || line[0] == b'\t' {
            continue;
        }
        let name_len = line
            .iter()
            .take_while(|&&c| c > b' ' && c < 0x7f && c != b':')
            .count();
        if name_len == 0 || line.get(name_len) != Some(&b':') {
            return true;
        }
    }
    false
}

fn finish(s: &mut Session, body: Vec<u8>, size: usize, chunk: Option<(usize, usize)>) -> Done {
    // The data is read: Exim expects a new message (one free RSET, HELO/EHLO, STARTTLS).
    s.nonmail.new_message();
    let limit = s.cfg.message_size_limit;
    if limit > 0 && size as u64 > limit {
        s.reply("552 Message size exceeds maximum permitted");
        let id = s.new_message_id();
        let line = format!(
            "{id} rejected from <{}> {}: message too big: read={size} max={limit}",
            String::from_utf8_lossy(s.env.sender.as_deref().unwrap_or_default()),
            s.host_and_ident()
        );
        s.log(line);
        s.log_id = None;
        s.reset_message();
        return Done::Continue;
    }
    let id = s.new_message_id();
    let (body, seen, obsolete, log_id) = match submission_fixups(s, &id, body) {
        Ok(v) => v,
        Err(done) => return done,
    };
    let body = Arc::new(body);
    let visible = s.cfg.message_body_visible;
    s.ctx.message = Some(Arc::new(Message::read(
        seen.as_deref().unwrap_or(&body),
        visible,
    )));
    s.ctx.set("message_exim_id", id.as_str());
    s.ctx.set("message_id", id.as_str());
    s.ctx.set("message_size", size.to_string());
    s.ctx
        .set("recipients_count", s.env.recipients.len().to_string());
    let recipients: Vec<u8> = s.env.recipients.join(&b", "[..]);
    s.ctx.set("recipients", Val::tainted(recipients));
    scan_input(s, &id, &body);
    let mut accept_msg = None;
    // Headers added by earlier ACLs are visible; Exim runs the MIME ACL (per part)
    // before the DATA ACL.
    crate::smtp::verbs::mime::apply_added_headers(s);
    let discarded_before = s.env.discarded;
    // Exim's "blackholed by": which ACL discarded the message after DATA, and why.
    let mut blackhole: Option<String> = None;
    if let Some(done) = crate::smtp::verbs::mime::run(s, &id) {
        return done;
    }
    if s.env.discarded && !discarded_before {
        blackhole = Some("(MIME ACL discarded recipients)".into());
    }
    if let Some(spec) = s.cfg.acl_smtp_data.clone().filter(|_| !s.env.discarded) {
        let v = s.acl(Phase::Data, &spec);
        match v.rc {
            Rc::Ok => accept_msg = v.user_message,
            Rc::Discard => {
                s.env.discarded = true;
                let why = v.log_message.map(|m| format!(": {m}")).unwrap_or_default();
                blackhole = Some(format!("(DATA ACL discarded recipients){why}"));
            }
            _ => {
                // The log line starts with the message id (Session::log adds it);
                // no message was accepted, so later lines carry none.
                let done = s.acl_fail(Phase::Data, &v);
                s.log_id = None;
                s.reset_message();
                return done;
            }
        }
    }
    let mut stored_size = None;
    if blackhole.is_some() {
        // Exim writes the message before discarding it, and logs its size.
        let added: Vec<String> = s
            .acl_state
            .add_headers
            .iter()
            .map(|(_, h)| h.clone())
            .collect();
        let msg = crate::smtp::sink::AcceptedMessage {
            id: &id,
            sender: s.env.sender.as_deref().unwrap_or_default(),
            recipients: &s.env.recipients,
            data: &body,
            added_headers: &added,
            removed_headers: &s.acl_state.remove_headers,
            ctx: &s.ctx,
            dsn_ret: s.env.dsn_ret,
            dsn_envid: s.env.dsn_envid.as_deref(),
            recipient_dsn: &s.env.recipient_dsn,
            auth_pubname: s.auth.authenticator(s).map(|au| au.public_name.as_str()),
            frozen_at: s.acl_state.frozen_at,
            obsolete_headers: &obsolete,
        };
        stored_size = crate::spool::build::message_size(&msg).ok();
    }
    if !s.env.discarded {
        let sink = if s.host_checking {
            None
        } else {
            s.sink.clone()
        };
        let added: Vec<String> = s
            .acl_state
            .add_headers
            .iter()
            .map(|(_, h)| h.clone())
            .collect();
        let msg = crate::smtp::sink::AcceptedMessage {
            id: &id,
            sender: s.env.sender.as_deref().unwrap_or_default(),
            recipients: &s.env.recipients,
            data: &body,
            added_headers: &added,
            removed_headers: &s.acl_state.remove_headers,
            ctx: &s.ctx,
            dsn_ret: s.env.dsn_ret,
            dsn_envid: s.env.dsn_envid.as_deref(),
            recipient_dsn: &s.env.recipient_dsn,
            auth_pubname: s.auth.authenticator(s).map(|au| au.public_name.as_str()),
            frozen_at: s.acl_state.frozen_at,
            obsolete_headers: &obsolete,
        };
        match sink.map(|sink| sink.store_sized(&msg)) {
            Some(Ok(Some(n))) => stored_size = Some(n),
            Some(Err(e)) => {
                // Nothing is acknowledged unless it is on disk.
                s.log(format!("{id} spool write failed: {e}"));
                s.log_id = None;
                s.reply("451 Temporary local problem - please try later");
                s.reset_message();
                return Done::Continue;
            }
            // -bh, sink-less sessions, sinks that do not count: the size Exim would log.
            Some(Ok(None)) | None => stored_size = crate::spool::build::message_size(&msg).ok(),
        }
    }
    let chunked = chunk.is_some();
    match (accept_msg, chunk) {
        (Some(m), _) => crate::smtp::verbs::mail::user_reply(s, "250", &m),
        (None, Some((n, total))) => {
            s.reply(&format!("250- {n} byte chunk, total {total}"));
            s.reply(&format!("250 OK id={id}"));
        }
        (None, None) => s.reply(&format!("250 OK id={id}")),
    }
    if s.host_checking {
        s.write_raw("\n**** SMTP testing: that is not a real message id!\n\n");
    }
    let mut sender =
        String::from_utf8_lossy(s.env.sender.as_deref().unwrap_or_default()).into_owned();
    if sender.is_empty() {
        sender = "<>".into();
    }
    let proto = s
        .ctx
        .get("received_protocol")
        .map(|v| v.as_str_lossy().into_owned())
        .unwrap_or_else(|| if s.esmtp { "esmtp" } else { "smtp" }.to_string());
    let mut line = format!(
        "{id} <= {sender} {} P={proto}{}{}",
        s.host_and_ident(),
        s.cfg.log_tls.fields(s.tls.as_ref()),
        s.auth_log_element()
    );
    if chunked {
        // Exim marks messages received with BDAT.
        line += " K";
    }
    if let Some(n) = stored_size {
        line += &format!(" S={n}");
    }
    if let Some(mid) = log_id {
        line += &format!(" id={mid}");
    }
    s.log(line);
    if s.acl_state.frozen_at.is_some() {
        s.log(format!("{id} frozen by ACL"));
    }
    if let Some(detail) = blackhole {
        s.log(format!("{id} => blackhole {detail}"));
        s.log(format!("{id} Completed"));
        s.log_id = None;
    }
    s.reset_message();
    Done::Continue
}

/// The message as stored, as the ACLs see it (when submission mode changed it), the
/// old header lines, and the `id=` for the log. In submission mode Exim adds missing
/// headers and may replace the envelope sender before any DATA-time ACL runs.
#[allow(clippy::type_complexity)]
fn submission_fixups(
    s: &mut Session,
    id: &str,
    body: Vec<u8>,
) -> Result<(Vec<u8>, Option<Vec<u8>>, Vec<usize>, Option<String>), Done> {
    let log_id = log_message_id(&body);
    let Some(sub) = s.acl_state.submission.clone() else {
        return Ok((body, None, Vec::new(), log_id));
    };
    let (headers, _) = crate::spool::build::split_headers(&body);
    if crate::smtp::submission::has_resent(&headers) {
        // Not silently wrong: Exim applies the fixups to the Resent- set.
        s.log(format!(
            "{id} submission mode: messages with Resent- headers are not supported by rexim yet"
        ));
        s.log_id = None;
        s.reply("451 Temporary local problem - please try later");
        s.reset_message();
        return Err(Done::Continue);
    }
    let date = crate::expand_str("${tod_full}", &mut s.ctx)
        .map(|v| v.as_str_lossy().into_owned())
        .unwrap_or_default();
    let qualify = s
        .acls
        .env
        .qualify_domain
        .clone()
        .filter(|q| !q.is_empty())
        .unwrap_or_else(|| s.cfg.primary_hostname.clone());
    let auth = s.ctx.get("authenticated_id").map(|v| v.bytes.clone());
    let sender = s.env.sender.clone().unwrap_or_default();
    let mut id_domain = s.cfg.primary_hostname.clone();
    let mut id_text = String::new();
    let env = s.acls.env.clone();
    for (option, name, out) in [
        (
            &env.message_id_header_domain,
            "message_id_header_domain",
            &mut id_domain,
        ),
        (
            &env.message_id_header_text,
            "message_id_header_text",
            &mut id_text,
        ),
    ] {
        let Some(text) = option else { continue };
        match crate::expand_str(text, &mut s.ctx) {
            Ok(v) if !v.is_empty() => {
                let v = v.as_str_lossy();
                *out = if name.ends_with("domain") {
                    crate::smtp::submission::id_domain(&v)
                } else {
                    crate::smtp::submission::id_text(&v)
                };
            }
            Ok(_) => {}
            Err(e) if e.kind == crate::error::ErrorKind::Forced => {}
            Err(e) => s.log(format!(
                "expansion of \"{text}\" ({name}) failed: {}",
                e.message
            )),
        }
    }
    let facts = crate::smtp::submission::Facts {
        message_id: id,
        id_domain: &id_domain,
        id_text: &id_text,
        qualify_domain: &qualify,
        sender: &sender,
        authenticated_id: auth.as_deref(),
        date: &date,
        local_from_check: s.acls.env.local_from_check,
        local_sender_retain: s.acls.env.local_sender_retain,
    };
    let fx = crate::smtp::submission::fixups(&headers, &sub, &facts);
    let created_id = fx.added.iter().any(|l| l.starts_with("Message-Id:"));
    if let Some(new) = &fx.new_sender {
        s.ctx.set("sender_address", Val::tainted(new.clone()));
        s.env.sender = Some(new.clone());
    }
    let applied = crate::smtp::submission::apply(&body, &fx);
    // Exim logs a Message-Id it made only with log_selector +msg_id_created.
    let log_id = if created_id { None } else { log_id };
    Ok((
        applied.stored,
        Some(applied.visible),
        applied.obsolete,
        log_id,
    ))
}

/// What content scanners (`spam`) send: the message as received, with the Received:
/// header Exim has put first by the time the DATA ACL runs.
fn scan_input(s: &mut Session, id: &str, body: &Arc<Vec<u8>>) {
    let template = s
        .acls
        .env
        .received_header_text
        .clone()
        .unwrap_or_else(|| crate::spool::build::DEFAULT_RECEIVED_HEADER_TEXT.to_string());
    let msg = crate::smtp::sink::AcceptedMessage {
        id,
        sender: s.env.sender.as_deref().unwrap_or_default(),
        recipients: &s.env.recipients,
        data: body,
        added_headers: &[],
        removed_headers: &[],
        ctx: &s.ctx,
        dsn_ret: 0,
        dsn_envid: None,
        recipient_dsn: &[],
        auth_pubname: None,
        frozen_at: None,
        obsolete_headers: &[],
    };
    let received = crate::spool::build::received_header(&msg, &template).unwrap_or_default();
    s.acl_state.received_header = received;
    s.acl_state.scan_data = Some(Arc::clone(body));
    s.acl_state.recipients = s.env.recipients.clone();
}

/// The `id=` element of the `<=` line: the Message-ID header's address, without `<>`.
fn log_message_id(data: &[u8]) -> Option<String> {
    let (headers, _) = crate::spool::build::split_headers(data);
    let h = headers.iter().find(|h| {
        h.len() > 11 && h[..10].eq_ignore_ascii_case(b"message-id") && {
            let rest = h[10..].trim_ascii_start();
            rest.first() == Some(&b':')
        }
    })?;
    let colon = h.iter().position(|&c| c == b':')?;
    let v = String::from_utf8_lossy(&h[colon + 1..]).trim().to_string();
    let v = match (v.find('<'), v.rfind('>')) {
        (Some(a), Some(b)) if a < b => v[a + 1..b].to_string(),
        _ => v,
    };
    (!v.is_empty()).then_some(v)
}
