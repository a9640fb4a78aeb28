//! `verify = arc[/<acceptable states>]` in the DATA ACL: the message's ARC chain
//! verified once (`mailauth::arc_verify`), `$arc_*` set, the state matched against the
//! colon list (default `none:pass`).

use std::sync::Arc;

use crate::acl::engine::{AclRun, Rc};
use crate::expand::lists;
use crate::mailauth::arc::ArcOutcome;
use crate::mailauth::arc_verify::{verify, ArcMessage};

/// Exim's default list of acceptable ARC states.
const DEFAULT_STATES: &[u8] = b"none:pass";

/// The outcome for this message, computed on first use and kept on the context (for
/// `${authresults}` and the `<=` line). `None`: DKIM verification is disabled, which
/// leaves Exim's ARC without its verify context (the condition defers).
fn outcome(run: &mut AclRun) -> Option<Arc<ArcOutcome>> {
    if let Some(o) = &run.ctx.arc {
        return Some(o.clone());
    }
    if run.state.has_control("dkim_disable_verify") {
        return None;
    }
    let msg = run.ctx.message.clone()?;
    let received = run.state.received_header.clone();
    let mut headers: Vec<&[u8]> = Vec::with_capacity(msg.headers.len() + 1);
    // At DATA time Exim's header list starts with the Received: header it added.
    if !received.is_empty() {
        headers.push(&received);
    }
    headers.extend(msg.headers.iter().map(|h| h.text()));
    let o = Arc::new(verify(
        &ArcMessage {
            headers,
            body: &msg.body,
        },
        run.acls.env.resolver.as_ref(),
    ));
    run.ctx.arc = Some(o.clone());
    Some(o)
}

/// `verify = arc/none:fail:pass`: `rest` is the text after `arc/` (its first
/// `/`-item is the list).
pub fn verify_arc(run: &mut AclRun, rest: Option<&str>) -> Rc {
    let Some(o) = outcome(run) else {
        return Rc::Defer;
    };
    run.ctx.set("arc_state", o.state);
    match &o.reason {
        Some(r) => run.ctx.set("arc_state_reason", r.as_str()),
        None => run.ctx.set("arc_state_reason", ""),
    };
    run.ctx.set("arc_domains", o.domains.as_str());
    // Exim assigns it only when an ARC-Message-Signature verifies (else the value
    // from an earlier message of the connection stays).
    if o.oldest_pass > 0 {
        run.ctx.set("arc_oldest_pass", o.oldest_pass.to_string());
    }
    let list = rest.map(str::as_bytes).unwrap_or(DEFAULT_STATES);
    if lists::iter(list).any(|s| s == o.state.as_bytes()) {
        Rc::Ok
    } else {
        Rc::Fail
    }
}
