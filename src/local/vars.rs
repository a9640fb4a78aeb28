//! The variables a local message has before and while the non-SMTP ACLs run: the
//! envelope, the caller's identity, and the `-oM*` host facts.

use crate::expand::{Context, Val};
use crate::local::receive::Envelope;
use crate::local::Who;

/// Set the variables Exim has for a local message before it is read.
pub fn envelope_vars(ctx: &mut Context, who: &Who, env: &Envelope) {
    if env.sender.is_empty() {
        ctx.set("sender_address", "");
    } else {
        let s = &env.sender;
        let at = s.iter().rposition(|&c| c == b'@');
        ctx.set("sender_address", Val::tainted(s.clone()));
        let (lp, dom) = match at {
            Some(i) => (&s[..i], &s[i + 1..]),
            None => (&s[..], &b""[..]),
        };
        ctx.set("sender_address_local_part", Val::tainted(lp.to_vec()));
        ctx.set("sender_address_domain", Val::tainted(dom.to_vec()));
    }
    // Values from -oMt/-oMr are command-line data, so tainted, as in Exim.
    let value = |v: &str, tainted: bool| {
        if tainted {
            Val::tainted(v.as_bytes().to_vec())
        } else {
            Val::from(v.to_string())
        }
    };
    if let Some(i) = &who.ident {
        ctx.set("sender_ident", value(i, who.ident_tainted));
    }
    ctx.set(
        "received_protocol",
        value(&who.protocol, who.protocol_tainted),
    );
    match &who.auth_id {
        Some(a) => {
            ctx.set("authenticated_id", a.as_str());
        }
        None => ctx.unset("authenticated_id"),
    }
    match &who.auth_sender {
        Some(a) => {
            ctx.set("authenticated_sender", a.as_str());
        }
        None => ctx.unset("authenticated_sender"),
    }
    if let Some((ip, port)) = &who.host {
        ctx.set("sender_host_address", Val::tainted(ip.clone().into_bytes()));
        ctx.set("sender_host_port", port.to_string());
    }
    if let Some(n) = &who.host_name {
        ctx.set("sender_host_name", Val::tainted(n.clone().into_bytes()));
    }
    if let Some((ip, port)) = &who.interface {
        ctx.set("interface_address", Val::tainted(ip.clone().into_bytes()));
        ctx.set("interface_port", port.to_string());
    }
    if let Some(h) = &who.helo {
        ctx.set("sender_helo_name", Val::tainted(h.clone().into_bytes()));
    }
    set_recipients(ctx, &env.recipients);
}

pub fn set_recipients(ctx: &mut Context, recipients: &[Vec<u8>]) {
    ctx.set("recipients_count", recipients.len().to_string());
    ctx.set("recipients", Val::tainted(recipients.join(&b", "[..])));
}
