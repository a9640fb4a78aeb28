//! The spool side of a local message: the `AcceptedMessage` the spool builder takes,
//! the `-H` lines only local messages have, qualification, and the generated
//! Message-Id's parts.

use crate::acl::state::MessageState;
use crate::expand::Context;
use crate::local::receive::Envelope;
use crate::local::report::Logger;
use crate::local::settings::Settings;
use crate::local::Who;
use crate::spool::header::OptionLine;

#[allow(clippy::too_many_arguments)]
pub fn accepted<'a>(
    id: &'a str,
    env: &'a Envelope,
    data: &'a [u8],
    header_batches: &'a [crate::spool::edits::HeaderBatch],
    ctx: &'a Context,
    obsolete: &'a [usize],
    frozen_at: Option<i64>,
) -> crate::smtp::sink::AcceptedMessage<'a> {
    crate::smtp::sink::AcceptedMessage {
        id,
        sender: &env.sender,
        recipients: &env.recipients,
        data,
        header_batches,
        ctx,
        dsn_ret: 0,
        dsn_envid: None,
        recipient_dsn: &[],
        auth_pubname: None,
        frozen_at,
        obsolete_headers: obsolete,
        bmi_verdicts: None,
        received_header: None,
    }
}

/// One of Exim's header steps (after `acl_not_smtp_start`, after the MIME ACL): the
/// queued `add_header` lines and `remove_header` names join the message later ACLs see.
pub fn apply_added(ctx: &mut Context, state: &mut MessageState) {
    let Some(msg) = ctx.message.clone() else {
        state.close_header_batch();
        return;
    };
    if let Some(m) = state.header_step(&msg) {
        ctx.message = Some(m);
    }
}

/// An address without a domain gets `@qualify_recipient`.
pub fn qualify(addr: &[u8], domain: &str) -> Vec<u8> {
    if addr.is_empty() || addr.contains(&b'@') {
        return addr.to_vec();
    }
    let mut a = addr.to_vec();
    a.push(b'@');
    a.extend_from_slice(domain.as_bytes());
    a
}

/// `message_id_header_domain` and `_text`, expanded and sanitised as Exim does.
pub fn message_id_parts(st: &Settings, ctx: &mut Context, log: &mut Logger) -> (String, String) {
    let mut domain = st.primary_hostname.clone();
    let mut text = String::new();
    let env = &st.acls.env;
    for (option, name) in [
        (&env.message_id_header_domain, "message_id_header_domain"),
        (&env.message_id_header_text, "message_id_header_text"),
    ] {
        let Some(t) = option else { continue };
        match crate::expand_str(t, ctx) {
            Ok(v) if !v.is_empty() => {
                let v = v.as_str_lossy();
                if name.ends_with("domain") {
                    domain = crate::smtp::submission::id_domain(&v);
                } else {
                    text = crate::smtp::submission::id_text(&v);
                }
            }
            Ok(_) => {}
            Err(e) if e.kind == crate::error::ErrorKind::Forced => {}
            Err(e) => log.panic(&format!(
                "expansion of \"{t}\" ({name}) failed: {}",
                e.message
            )),
        }
    }
    (domain, text)
}

/// The `-H` lines only a local message has, in Exim's places.
pub fn local_options(h: &mut crate::spool::HeaderFile, who: &Who) {
    let flag = |name: &str| OptionLine {
        name: name.into(),
        value: None,
        tainted: false,
    };
    let at =
        |h: &crate::spool::HeaderFile, name: &str| h.options.iter().position(|o| o.name == name);
    if let Some(i) = at(h, "deliver_firsttime") {
        h.options.insert(i, flag("allow_unqualified_sender"));
        h.options.insert(i, flag("allow_unqualified_recipient"));
    }
    let after = at(h, "frozen").or_else(|| at(h, "deliver_firsttime"));
    let mut next = after.map_or(h.options.len(), |i| i + 1);
    if who.sender_local {
        h.options.insert(next, flag("local"));
        next += 1;
    }
    if who.local_error.is_some() {
        h.options.insert(next, flag("localerror"));
        next += 1;
    }
    if who.sender_set_untrusted {
        let spam_end = h.options[next..]
            .iter()
            .position(|o| !o.name.starts_with("spam_"))
            .map_or(h.options.len(), |p| next + p);
        h.options.insert(spam_end, flag("sender_set_untrusted"));
    }
}

/// The `-H` contents the builder made, completed for a local message: its own
/// options, Exim's counts from reading (not recounted from the stored text), the
/// non-recipients tree, and `Resent-` headers typed as the header they resend.
pub fn finish_header(
    header: &mut crate::spool::HeaderFile,
    who: &Who,
    msg: &crate::local::input::Message,
    non_recipients: Vec<Vec<u8>>,
) {
    local_options(header, who);
    for o in header.options.iter_mut() {
        let v = match o.name.as_str() {
            "body_linecount" => msg.body_linecount,
            "max_received_linelength" => msg.max_line,
            _ => continue,
        };
        o.value = Some(v.to_string().into_bytes());
    }
    header.non_recipients = non_recipients;
    for h in header.headers.iter_mut() {
        if h.kind == b' ' && h.text.len() > 7 && h.text[..7].eq_ignore_ascii_case(b"resent-") {
            let kind = crate::spool::header::header_type(&h.text[7..]);
            if b"BCFIST".contains(&kind) {
                h.kind = kind;
            }
        }
    }
}
