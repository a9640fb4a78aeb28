//! The MIME ACL after DATA: run once per MIME part, before the DATA ACL, as Exim runs
//! it (only for a message with a `Content-Type:` header and at least one recipient).

use crate::acl::mime_passes::{is_mime, run_passes, MimeAclHost};
use crate::acl::state::MessageState;
use crate::acl::{Phase, Rc, Verdict};
use crate::expand::{Context, Expansion};
use crate::smtp::session::{Done, Session};

struct SessionHost<'a> {
    s: &'a mut Session,
    spec: Expansion,
}

impl MimeAclHost for SessionHost<'_> {
    fn ctx(&mut self) -> &mut Context {
        &mut self.s.ctx
    }
    fn state(&mut self) -> &mut MessageState {
        &mut self.s.acl_state
    }
    fn run_mime_acl(&mut self) -> Verdict {
        self.s.acl(Phase::Mime, &self.spec)
    }
}

/// Run `acl_smtp_mime` for the received message with id `id`. `Some` when the message
/// was refused (the reply is sent); `None` to go on to the DATA ACL.
pub fn run(s: &mut Session, id: &str) -> Option<Done> {
    // Exim starts each message with these values, MIME ACL or not.
    s.ctx.set_id(crate::vid!("mime_part_count"), "-1");
    s.ctx.set_id(crate::vid!("mime_is_rfc822"), "0");
    let spec = s.cfg.acl_smtp_mime.clone()?;
    let msg = s.ctx.message.clone()?;
    if s.env.recipients.is_empty() || !is_mime(&msg) {
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
    let mut host = SessionHost { s: &mut *s, spec };
    let verdict = run_passes(&mut host, mbox, scan_dir, id);
    apply_added_headers(s);
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
