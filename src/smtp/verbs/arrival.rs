//! What happens to a message between the end of DATA and the MIME/DATA ACLs, beyond
//! the session's bookkeeping: submission-mode fixups (`control = submission`) and the
//! copy content scanners (`spam`) send.

use std::sync::Arc;

use crate::expand::Val;
use crate::smtp::session::{Done, Session};

/// The message as stored, as the ACLs see it (when submission mode changed it), the
/// old header lines, and the `id=` for the log. In submission mode Exim adds missing
/// headers and may replace the envelope sender before any DATA-time ACL runs.
#[allow(clippy::type_complexity)]
pub fn submission_fixups(
    s: &mut Session,
    id: &str,
    body: Vec<u8>,
) -> Result<(Vec<u8>, Option<Vec<u8>>, Vec<usize>, Option<String>), Done> {
    let log_id = crate::smtp::verbs::data::log_message_id(&body);
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
    let auth = s
        .ctx
        .fixed(crate::vid!("authenticated_id"))
        .map(|v| v.bytes.clone());
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
        s.ctx
            .set_id(crate::vid!("sender_address"), Val::tainted(new.clone()));
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
pub fn scan_input(s: &mut Session, id: &str, body: &Arc<Vec<u8>>) {
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
        header_batches: &[],
        ctx: &s.ctx,
        dsn_ret: 0,
        dsn_envid: None,
        recipient_dsn: &[],
        auth_pubname: None,
        frozen_at: None,
        obsolete_headers: &[],
        bmi_verdicts: None,
        received_header: None,
    };
    let received = crate::spool::build::received_header(&msg, &template).unwrap_or_default();
    s.acl_state.received_header = received;
    s.acl_state.scan_data = Some(Arc::clone(body));
    s.acl_state.recipients = s.env.recipients.clone();
}
