//! The MIME ACL after DATA: run once per MIME part, before the DATA ACL, as Exim runs
//! it (only for a message with a `Content-Type:` header and at least one recipient).

use std::sync::Arc;

use crate::acl::mime::MimeCursor;
use crate::acl::{Phase, Rc, Verdict};
use crate::mime::walk::{Flow, Part, Walk};
use crate::smtp::session::{Done, Session};

/// Run `acl_smtp_mime` for the received message with id `id`. `Some` when the message
/// was refused (the reply is sent); `None` to go on to the DATA ACL.
pub fn run(s: &mut Session, id: &str) -> Option<Done> {
    // Exim starts each message with these values, MIME ACL or not.
    s.ctx.set_id(crate::vid!("mime_part_count"), "-1");
    s.ctx.set_id(crate::vid!("mime_is_rfc822"), "0");
    let spec = s.cfg.acl_smtp_mime.clone()?;
    let msg = s.ctx.message.clone()?;
    let is_mime = msg
        .headers
        .iter()
        .any(|h| h.text.len() >= 13 && h.text[..13].eq_ignore_ascii_case(b"Content-Type:"));
    if s.env.recipients.is_empty() || !is_mime {
        return None;
    }
    // Exim spools the scan copy for the MIME ACL, once: headers added from here on
    // are not in what `spam`/`malware` get later.
    s.acl_state.scan_headers = Some(msg.headers.iter().map(|h| h.text.clone()).collect());
    // The message as Exim spools it for scanning: headers, a blank line, the body.
    let mut mbox = Vec::with_capacity(msg.body.len() + 1024);
    for h in &msg.headers {
        mbox.extend_from_slice(&h.text);
    }
    mbox.push(b'\n');
    mbox.extend_from_slice(&msg.body);
    let scan_dir = s
        .acls
        .env
        .spool_dir
        .as_ref()
        .map(|d| d.join("scan").join(id));
    let mut walk = Walk::default();
    let mut data: Arc<[u8]> = mbox.into();
    let mut rfc822 = false;
    let mut verdict: Option<Verdict> = None;
    // After the `message/rfc822` passes, `$mime_part_count` is the main pass's again.
    let mut main_count: Option<String> = None;
    loop {
        let pass_data = data.clone();
        let r = walk.pass(&data, &mut |part: &Part| {
            let cursor = MimeCursor {
                data: pass_data.clone(),
                body: part.body,
                boundary: part.boundary.clone(),
                encoding: part.headers.content_transfer_encoding.clone(),
                scan_dir: scan_dir.clone(),
                message_id: id.to_string(),
            };
            crate::mime::vars::set_part(&mut s.ctx, part, rfc822);
            s.acl_state.mime = Some(cursor);
            let v = s.acl(Phase::Mime, &spec);
            s.acl_state.mime = None;
            if v.rc == Rc::Ok {
                Flow::Continue
            } else {
                verdict = Some(v);
                Flow::Stop
            }
        });
        if let Err(limit) = r {
            verdict = Some(Verdict {
                rc: Rc::Defer,
                user_message: None,
                log_message: Some(limit.to_string()),
            });
        }
        if verdict.is_some() {
            break;
        }
        if main_count.is_none() {
            main_count = s
                .ctx
                .fixed(crate::vid!("mime_part_count"))
                .map(|v| v.as_str_lossy().into_owned());
        }
        // Then each `message/rfc822` part, decoded, as a message of its own.
        match walk.rfc822.pop_front() {
            Some(next) => {
                data = next.into();
                rfc822 = true;
            }
            None => break,
        }
    }
    crate::mime::vars::clear_parts(&mut s.ctx, main_count, rfc822);
    apply_added_headers(s);
    if !s.acl_state.has_control("no_mbox_unspool") {
        if let Some(dir) = &scan_dir {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
    let v = verdict?;
    if v.rc == Rc::Discard {
        s.env.discarded = true;
        return None;
    }
    // The log line starts with the message id (Session::log adds it).
    let done = s.acl_fail(Phase::Mime, &v);
    s.log_id = None;
    s.reset_message();
    Some(done)
}

/// One of Exim's header steps (after the MAIL/RCPT, DKIM, MIME and DATA ACLs): the
/// lines queued by `add_header` and the names queued by `remove_header` join the
/// message, so later ACLs see them (`$h_*`).
pub fn apply_added_headers(s: &mut Session) {
    let Some(msg) = s.ctx.message.clone() else {
        s.acl_state.close_header_batch();
        return;
    };
    if let Some(m) = s.acl_state.header_step(&msg) {
        s.ctx.message = Some(m);
    }
}
