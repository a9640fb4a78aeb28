//! PRDR (per-recipient data responses): after DATA, `acl_smtp_data_prdr` runs once per
//! recipient; each gets its own reply after `353 PRDR content analysis beginning`, the
//! refused ones are dropped from the message, and the final reply sums them up.

use crate::acl::{Phase, Rc};
use crate::expand::Val;
use crate::smtp::session::{Done, Session};

/// PRDR is built in (`-bV` and `_HAVE_PRDR` say so).
pub const SUPPORTED: bool = true;

/// What the per-recipient pass decided.
pub enum Outcome {
    /// No PRDR for this message (not requested, one recipient, or no ACL).
    NotUsed,
    /// The final reply, sent after the DATA ACL accepts (it replaces the usual one).
    Reply(String),
    /// Every recipient was refused: the final reply was sent, nothing is kept.
    Finished(Done),
}

/// Exim's numeric ACL result codes: the final reply is computed from them bitwise
/// (`all_pass |= rc`, `all_fail &= rc`), so a discarded recipient counts as refused.
fn exim_code(rc: Rc) -> u32 {
    match rc {
        Rc::Ok => 0,
        Rc::Defer => 1,
        Rc::Fail => 2,
        Rc::Error => 3,
        Rc::Discard => 7,
        Rc::FailDrop => 15,
    }
}

/// Run the PRDR ACL for each recipient of the message `id`, in the order given.
pub fn run(s: &mut Session, id: &str) -> Outcome {
    let spec = match s.cfg.acl_smtp_data_prdr.clone() {
        Some(spec) if s.env.prdr && !s.env.discarded && s.env.recipients.len() > 1 => spec,
        _ => {
            // Exim forgets the request: `$prdr_requested` is "no" from here on.
            s.env.prdr = false;
            s.ctx.unset("prdr_requested");
            return Outcome::NotUsed;
        }
    };
    s.reply("353 PRDR content analysis beginning");
    let mut all_pass = 0u32;
    let mut all_fail = 2u32;
    let mut i = 0;
    while i < s.env.recipients.len() {
        let addr = s.env.recipients[i].clone();
        let (caseful, domain) = split_address(&addr);
        s.ctx
            .set("local_part", Val::tainted(caseful.to_ascii_lowercase()));
        s.ctx.set("domain", Val::tainted(domain.clone()));
        // `local_parts` matches the local part as sent (caselessly), as in RCPT.
        s.acl_state.rcpt_original = Some((caseful, domain));
        let v = s.acl(Phase::Prdr, &spec);
        s.acl_state.rcpt_original = None;
        s.ctx.unset("local_part");
        s.ctx.unset("domain");
        let code = exim_code(v.rc);
        all_pass |= code;
        all_fail &= code;
        let (reply_code, what) = match v.rc {
            Rc::Ok | Rc::Discard => ("250", "acceptance"),
            Rc::Defer => ("450", "temporary refusal"),
            _ => ("550", "refusal"),
        };
        let shown = String::from_utf8_lossy(&addr).into_owned();
        let default = format!("PRDR R=<{shown}> {what}");
        match &v.user_message {
            Some(u) => crate::smtp::verbs::mail::user_reply(s, reply_code, u),
            None => crate::smtp::verbs::mail::user_reply(s, reply_code, &default),
        }
        let line = match (&v.log_message, &v.user_message) {
            (Some(l), _) | (None, Some(l)) => format!("PRDR {shown} {l}"),
            (None, None) => default,
        };
        s.log(line);
        if v.rc == Rc::Ok {
            i += 1;
        } else {
            remove_recipient(s, i);
        }
    }
    let verdict = if all_fail == 2 {
        "rejected for all recipients"
    } else if all_pass == 0 {
        "accepted"
    } else {
        "accepted for some recipients"
    };
    let code = if all_fail == 2 { "550" } else { "250" };
    let reply = format!("{code} id={id} message {verdict}");
    if s.env.recipients.is_empty() {
        // Exim keeps nothing and sends the summary as it stands (even a 250 when every
        // recipient was deferred).
        s.reply(&reply);
        s.log_id = None;
        s.reset_message();
        return Outcome::Finished(Done::Continue);
    }
    Outcome::Reply(reply)
}

/// Exim's `deliver_split_address`: the local part unquoted (case kept; `$local_part`
/// is its lowercase form) and the domain lowercased.
fn split_address(addr: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let at = addr.iter().rposition(|&c| c == b'@').unwrap_or(addr.len());
    let domain = addr.get(at + 1..).unwrap_or_default().to_ascii_lowercase();
    let mut local = Vec::with_capacity(at);
    let mut bytes = addr[..at].iter();
    while let Some(&c) = bytes.next() {
        match c {
            b'"' => {}
            b'\\' => local.extend(bytes.next()),
            _ => local.push(c),
        }
    }
    (local, domain)
}

/// Drop recipient `i` (refused by the PRDR ACL) and update the variables that list them.
fn remove_recipient(s: &mut Session, i: usize) {
    s.env.recipients.remove(i);
    if i < s.env.recipient_dsn.len() {
        s.env.recipient_dsn.remove(i);
    }
    s.ctx
        .set("recipients_count", s.env.recipients.len().to_string());
    let list: Vec<u8> = s.env.recipients.join(&b", "[..]);
    s.ctx.set("recipients", Val::tainted(list));
    s.acl_state.recipients = s.env.recipients.clone();
}

#[cfg(test)]
mod tests {
    #[test]
    fn split_address_as_exim() {
        let s = |a: &str| {
            let (l, d) = super::split_address(a.as_bytes());
            (String::from_utf8(l).unwrap(), String::from_utf8(d).unwrap())
        };
        assert_eq!(s("Fred@Example.COM"), ("Fred".into(), "example.com".into()));
        assert_eq!(s("\"a b\"@x.y"), ("a b".into(), "x.y".into()));
        assert_eq!(s("a\\@b@x.y"), ("a@b".into(), "x.y".into()));
    }
}
