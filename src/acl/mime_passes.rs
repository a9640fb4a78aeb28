//! Exim's MIME ACL passes, shared by SMTP and local reception: the ACL runs once per MIME
//! part of the message, then once per part of each `message/rfc822` part, decoded and
//! walked as a message of its own, with the `$mime_*` variables of the part it runs for.

use std::path::PathBuf;
use std::sync::Arc;

use crate::acl::mime::MimeCursor;
use crate::acl::state::MessageState;
use crate::acl::{Rc, Verdict};
use crate::expand::message::Message;
use crate::expand::Context;
use crate::mime::walk::{Flow, Part, Walk};

/// What a reception path lends the passes: its context, its ACL state, and a way to run
/// the MIME ACL once (for the part whose variables and cursor are set).
pub trait MimeAclHost {
    fn ctx(&mut self) -> &mut Context;
    fn state(&mut self) -> &mut MessageState;
    fn run_mime_acl(&mut self) -> Verdict;
}

/// Whether Exim runs the MIME ACL at all: only for a message with a `Content-Type:` header.
pub fn is_mime(msg: &Message) -> bool {
    msg.headers
        .iter()
        .any(|h| h.text.len() >= 13 && h.text[..13].eq_ignore_ascii_case(b"Content-Type:"))
}

/// Run the passes over `mbox` (headers, a blank line, the body, as spooled for scanning).
/// Returns the first verdict other than accept (a walk past its limits defers). After
/// the passes the part variables are cleared, `$mime_part_count` is the main pass's
/// again, and `scan_dir` is removed unless `control = no_mbox_unspool` was given.
pub fn run_passes(
    host: &mut dyn MimeAclHost,
    mbox: Vec<u8>,
    scan_dir: Option<PathBuf>,
    id: &str,
) -> Option<Verdict> {
    let mut walk = Walk::default();
    let mut data: Arc<[u8]> = mbox.into();
    let mut rfc822 = false;
    let mut verdict = None;
    let mut main_count: Option<String> = None;
    loop {
        let pass_data = data.clone();
        let r = walk.pass(&data, &mut |part: &Part| {
            crate::mime::vars::set_part(host.ctx(), part, rfc822);
            host.state().mime = Some(MimeCursor {
                data: pass_data.clone(),
                body: part.body,
                boundary: part.boundary.clone(),
                encoding: part.headers.content_transfer_encoding.clone(),
                scan_dir: scan_dir.clone(),
                message_id: id.to_string(),
            });
            let v = host.run_mime_acl();
            host.state().mime = None;
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
            main_count = host
                .ctx()
                .fixed(crate::vid!("mime_part_count"))
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
    crate::mime::vars::clear_parts(host.ctx(), main_count, rfc822);
    if !host.state().has_control("no_mbox_unspool") {
        if let Some(dir) = &scan_dir {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
    verdict
}
