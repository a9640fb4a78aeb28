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
    let first_header = body.iter().position(|&c| c == b'\n').is_some_and(|i| i > 0);
    crate::smtp::hostopts::fromline_check(s, first_header);
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
        // Exim lists the envelope and the headers read (no Received: line yet).
        let unmade = crate::spool::HeaderLine {
            kind: b'P',
            text: Vec::new(),
        };
        let line = if s.host_checking {
            line
        } else {
            crate::smtp::verbs::listing::with_listing(s, line, &body, unmade)
        };
        s.log(line);
        s.log_id = None;
        s.reset_message();
        return Done::Continue;
    }
    let id = s.new_message_id();
    // pdkim sees the message as it arrived, before any fixups.
    crate::smtp::verbs::dkim::verify(s, &body);
    let (body, seen, obsolete, log_id) =
        match crate::smtp::verbs::arrival::submission_fixups(s, &id, body) {
            Ok(v) => v,
            Err(done) => return done,
        };
    let body = Arc::new(body);
    let visible = s.cfg.message_body_visible;
    s.ctx.message = Some(Arc::new(Message::read(
        seen.as_deref().unwrap_or(&body),
        visible,
    )));
    s.ctx.set_id(crate::vid!("message_exim_id"), id.as_str());
    s.ctx.set_id(crate::vid!("message_id"), id.as_str());
    s.ctx.set_id(crate::vid!("message_size"), size.to_string());
    s.ctx.set_id(
        crate::vid!("recipients_count"),
        s.env.recipients.len().to_string(),
    );
    let recipients: Vec<u8> = s.env.recipients.join(&b", "[..]);
    s.ctx
        .set_id(crate::vid!("recipients"), Val::tainted(recipients));
    crate::smtp::verbs::arrival::scan_input(s, &id, &body);
    s.acl_state.obsolete_headers = obsolete.clone();
    let mut accept_msg = None;
    // Headers added by earlier ACLs are visible; Exim runs the MIME ACL (per part)
    // before the DATA ACL.
    crate::smtp::verbs::mime::apply_added_headers(s);
    // Exim's "blackholed by": which ACL discarded the message, and why. With no
    // recipient left at DATA, the MAIL or RCPT ACL did and no later ACL runs; a
    // discarded recipient among accepted ones does not stop the DKIM, MIME, PRDR and
    // DATA ACLs. Exim runs the DKIM ACL first (per signer), then the MIME ACL.
    let discarded_before = s.env.recipients.is_empty();
    s.env.discarded = discarded_before;
    let mut blackhole: Option<String> = discarded_before.then(|| {
        let by = if s.env.mail_discarded { "MAIL" } else { "RCPT" };
        format!("({by} ACL discarded recipients)")
    });
    if blackhole.is_none() {
        blackhole = match crate::smtp::verbs::dkim::run_acl(s) {
            Err(done) => return done,
            Ok(b) => b,
        };
    }
    if blackhole.is_none() {
        if let Some(done) = crate::smtp::verbs::mime::run(s, &id) {
            return done;
        }
    }
    if s.env.discarded && !discarded_before && blackhole.is_none() {
        blackhole = Some("(MIME ACL discarded recipients)".into());
    }
    // PRDR, after the MIME ACL and before the DATA ACL (not when MAIL/RCPT discarded).
    let mut prdr_reply = None;
    if !discarded_before {
        match crate::smtp::verbs::prdr::run(s, &id) {
            crate::smtp::verbs::prdr::Outcome::NotUsed => {}
            crate::smtp::verbs::prdr::Outcome::Reply(r) => prdr_reply = Some(r),
            crate::smtp::verbs::prdr::Outcome::Finished(done) => return done,
        }
    }
    let cfg = Arc::clone(&s.cfg);
    if let Some(spec) = cfg.acl_smtp_data.as_ref().filter(|_| !s.env.discarded) {
        let v = s.acl(Phase::Data, spec);
        // The PRDR ACL's header lines join with the DATA ACL's (Exim has no step of
        // its own for them: without a DATA ACL they are lost).
        crate::smtp::verbs::mime::apply_added_headers(s);
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
    // Exim writes a discarded (blackholed) message too before dropping it, and logs its
    // size; a kept message goes to the sink (none under -bh).
    let mut stored_size = None;
    if blackhole.is_some() || !s.env.discarded {
        let sink = if s.host_checking || s.env.discarded {
            None
        } else {
            s.sink.clone()
        };
        let bmi_verdicts = crate::smtp::verbs::bmi::scan(s, &id, &body, &obsolete);
        let msg = crate::smtp::sink::AcceptedMessage {
            id: &id,
            sender: s.env.sender.as_deref().unwrap_or_default(),
            recipients: &s.env.recipients,
            data: &body,
            header_batches: &s.acl_state.header_batches,
            ctx: &s.ctx,
            dsn_ret: s.env.dsn_ret,
            dsn_envid: s.env.dsn_envid.as_deref(),
            recipient_dsn: &s.env.recipient_dsn,
            auth_pubname: s.auth.authenticator(s).map(|au| au.public_name.as_str()),
            frozen_at: s.acl_state.frozen_at,
            obsolete_headers: &obsolete,
            bmi_verdicts: bmi_verdicts.as_deref(),
            received_header: Some((
                s.acls
                    .env
                    .received_header_text
                    .as_deref()
                    .unwrap_or(crate::spool::build::DEFAULT_RECEIVED_HEADER_TEXT),
                s.acl_state.received_header.as_slice(),
            ))
            .filter(|(_, h)| !h.is_empty()),
        };
        match sink.map_or(Ok(None), |sink| sink.store_sized(&msg)) {
            Ok(Some(n)) => stored_size = Some(n),
            // -bh, sink-less sessions, sinks that do not count: the size Exim would log.
            Ok(None) => stored_size = crate::spool::build::message_size(&msg).ok(),
            Err(e) => {
                // Nothing is acknowledged unless it is on disk.
                s.log(format!("{id} spool write failed: {e}"));
                s.log_id = None;
                s.reply("451 Temporary local problem - please try later");
                s.reset_message();
                return Done::Continue;
            }
        }
    }
    let chunked = chunk.is_some();
    if let Some(r) = &prdr_reply {
        // PRDR's summary replaces the usual reply (and -bh's fake-id notice).
        s.reply(r);
    }
    match (accept_msg, chunk) {
        _ if prdr_reply.is_some() => {}
        (Some(m), _) => crate::smtp::verbs::mail::user_reply(s, "250", &m),
        (None, Some((n, total))) => {
            s.reply(&format!("250- {n} byte chunk, total {total}"));
            s.reply(&format!("250 OK id={id}"));
        }
        (None, None) => s.reply(&format!("250 OK id={id}")),
    }
    if s.host_checking && prdr_reply.is_none() {
        s.write_raw("\n**** SMTP testing: that is not a real message id!\n\n");
    }
    let mut sender =
        String::from_utf8_lossy(s.env.sender.as_deref().unwrap_or_default()).into_owned();
    if sender.is_empty() {
        sender = "<>".into();
    }
    let proto = s
        .ctx
        .fixed(crate::vid!("received_protocol"))
        .map(|v| v.as_str_lossy().into_owned())
        .unwrap_or_else(|| if s.esmtp { "esmtp" } else { "smtp" }.to_string());
    let mut line = format!(
        "{id} <= {sender} {} P={proto}{}{}",
        s.host_and_ident(),
        s.cfg.log_tls.fields(s.tls.as_ref()),
        s.auth_log_element()
    );
    if s.env.prdr {
        line += " PRDR";
    }
    if chunked {
        // Exim marks messages received with BDAT.
        line += " K";
    }
    if let Some(n) = stored_size {
        line += &format!(" S={n}");
    }
    // Exim puts any DKIM= element after the size, then tags an ARC pass.
    line += &crate::smtp::verbs::dkim::log_element(s);
    if s.cfg.log_arc && s.ctx.arc.as_ref().is_some_and(|a| a.state == "pass") {
        line += " ARC";
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

/// The `id=` element of the `<=` line: the Message-ID header's address, without `<>`.
pub(crate) fn log_message_id(data: &[u8]) -> Option<String> {
    let (headers, _) = crate::spool::build::header_slices(data);
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
