//! `acl_not_smtp_mime`: the MIME ACL run once per MIME part of a local message, in
//! Exim's order (see `acl::mime_passes`); only for a message with `Content-Type:`.

use crate::acl::mime_passes::{is_mime, run_passes, MimeAclHost};
use crate::acl::state::MessageState;
use crate::acl::{run_acl, AclSet, Phase, Verdict};
use crate::expand::{Context, Expansion};

struct LocalHost<'a> {
    ctx: &'a mut Context,
    acls: &'a AclSet,
    state: &'a mut MessageState,
    spec: &'a Expansion,
}

impl MimeAclHost for LocalHost<'_> {
    fn ctx(&mut self) -> &mut Context {
        self.ctx
    }
    fn state(&mut self) -> &mut MessageState {
        self.state
    }
    fn run_mime_acl(&mut self) -> Verdict {
        run_acl(
            self.ctx,
            self.acls,
            self.state,
            Phase::Mime,
            self.spec,
            false,
        )
    }
}

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
    if !is_mime(ctx.message.as_deref()?) {
        return None;
    }
    let scan_dir = acls.env.spool_dir.as_ref().map(|d| d.join("scan").join(id));
    let mut host = LocalHost {
        ctx,
        acls,
        state,
        spec,
    };
    run_passes(&mut host, mbox, scan_dir, id)
}
