//! `control = bmi_run` at the end of reception: once the DATA ACL has accepted the
//! message (or discarded it: Exim scans before dropping), it goes to the Brightmail
//! provider, and its verdicts go into `-H`.

use crate::smtp::session::Session;

/// Scan the message (`body` as received, the ACLs' header steps and `obsolete` as the
/// spool will have them) when `bmi_run` is set; the verdicts, if any. Log lines go to
/// the session.
pub fn scan(s: &mut Session, id: &str, body: &[u8], obsolete: &[usize]) -> Option<Vec<u8>> {
    if !s.acl_state.has_control("bmi_run") {
        return None;
    }
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
        header_batches: &s.acl_state.header_batches,
        ctx: &s.ctx,
        dsn_ret: 0,
        dsn_envid: None,
        recipient_dsn: &[],
        auth_pubname: None,
        frozen_at: None,
        obsolete_headers: obsolete,
        bmi_verdicts: None,
        received_header: None,
    };
    let out = crate::features::bmi::receive::process(
        &s.acls.env.bmi,
        &msg,
        &s.acl_state.bmi_optins,
        &template,
    );
    for t in out.trace {
        s.ctx.trace(|| t);
    }
    s.route_logs(out.logs);
    out.verdicts
}
