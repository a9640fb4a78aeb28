//! `acl_not_smtp_mime`: the MIME ACL run once per MIME part of a local message, in
//! Exim's order (the message, its parts, then each `message/rfc822` part as a message
//! of its own), with the `$mime_*` variables; only for a message with `Content-Type:`.

use std::sync::Arc;

use crate::acl::mime::MimeCursor;
use crate::acl::state::MessageState;
use crate::acl::{run_acl, AclSet, Phase, Rc, Verdict};
use crate::expand::{Context, Expansion};
use crate::mime::walk::{Flow, Part, Walk};

/// Run the MIME ACL over `mbox` (headers, blank line, body). `None`: every part was
/// accepted (or the message is not MIME); otherwise the first other verdict.
pub fn run(
    ctx: &mut Context,
    acls: &AclSet,
    state: &mut MessageState,
    spec: &Expansion,
    mbox: Vec<u8>,
    id: &str,
) -> Option<Verdict> {
    let msg = ctx.message.clone()?;
    let is_mime = msg
        .headers
        .iter()
        .any(|h| h.text.len() >= 13 && h.text[..13].eq_ignore_ascii_case(b"Content-Type:"));
    if !is_mime {
        return None;
    }
    let scan_dir = acls.env.spool_dir.as_ref().map(|d| d.join("scan").join(id));
    let mut walk = Walk::default();
    let mut data: Arc<[u8]> = mbox.into();
    let mut rfc822 = false;
    let mut verdict = None;
    let mut main_count: Option<String> = None;
    loop {
        let pass_data = data.clone();
        let r = walk.pass(&data, &mut |part: &Part| {
            crate::mime::vars::set_part(ctx, part, rfc822);
            state.mime = Some(MimeCursor {
                data: pass_data.clone(),
                body: part.body,
                boundary: part.boundary.clone(),
                encoding: part.headers.content_transfer_encoding.clone(),
                scan_dir: scan_dir.clone(),
                message_id: id.to_string(),
            });
            let v = run_acl(ctx, acls, state, Phase::Mime, spec, false);
            state.mime = None;
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
            main_count = ctx
                .get("mime_part_count")
                .map(|v| v.as_str_lossy().into_owned());
        }
        match walk.rfc822.pop_front() {
            Some(next) => {
                data = next.into();
                rfc822 = true;
            }
            None => break,
        }
    }
    crate::mime::vars::clear_parts(ctx, main_count, rfc822);
    if !state.has_control("no_mbox_unspool") {
        if let Some(dir) = &scan_dir {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
    verdict
}
