//! `spf = pass : !fail` and `spf_guess = ...`: the SPF result of the client for the
//! envelope sender, checked once per message and sender, with `$spf_*` set as Exim.

use crate::acl::engine::{AclRun, Rc};
use crate::acl::model::Item;
use crate::expand::lists;
use crate::mailauth::spf::{check, SpfOutcome, SpfRequest};

/// Exim's default `spf_smtp_comment_template`.
const COMMENT_TEMPLATE: &str = "Please%_see%_http://www.open-spf.org/Why";
/// Exim's default `spf_guess`.
const DEFAULT_GUESS: &str = "v=spf1 a/24 mx/24 ptr ?all";

/// `spf = fail`: the SPF result is one of the listed words (`!word` negates).
pub fn spf(run: &mut AclRun, _: &Item, arg: &[u8]) -> Rc {
    process(run, arg, false)
}

/// `spf_guess = pass`: as `spf`, but a `none` result is replaced by evaluating the
/// `spf_guess` record (`$spf_result_guessed` is then `yes`).
pub fn spf_guess(run: &mut AclRun, _: &Item, arg: &[u8]) -> Rc {
    process(run, arg, true)
}

fn var(run: &AclRun, name: &str) -> String {
    run.ctx
        .get(name)
        .map(|v| v.as_str_lossy().into_owned())
        .unwrap_or_default()
}

/// The question for this client, HELO and sender; `None` before HELO (Exim sets its
/// SPF context up at HELO/EHLO and without one the result is `permerror`).
fn request(run: &AclRun, guess: bool) -> Option<SpfRequest> {
    let ip = var(run, "sender_host_address").parse().ok()?;
    let helo = var(run, "sender_helo_name");
    if helo.is_empty() {
        return None;
    }
    let guess = guess.then(|| {
        let g = run.acls.env.spf_guess.clone().unwrap_or_default();
        if g.is_empty() {
            DEFAULT_GUESS.to_string()
        } else {
            g
        }
    });
    let template = run
        .acls
        .env
        .spf_comment_template
        .clone()
        .unwrap_or_else(|| COMMENT_TEMPLATE.to_string());
    Some(SpfRequest {
        ip,
        helo,
        sender: var(run, "sender_address"),
        receiver: var(run, "primary_hostname"),
        guess,
        comment_template: template,
    })
}

fn outcome(run: &mut AclRun, req: SpfRequest) -> SpfOutcome {
    if let Some((_, o)) = run.state.spf.iter().find(|(r, _)| *r == req) {
        return o.clone();
    }
    let o = check(&req, &run.acls.env.spf_dns);
    run.state.spf.push((req, o.clone()));
    o
}

fn process(run: &mut AclRun, arg: &[u8], guess: bool) -> Rc {
    let result = match request(run, guess) {
        Some(req) => {
            let o = outcome(run, req);
            run.ctx.set("spf_header_comment", o.header_comment.as_str());
            run.ctx.set("spf_received", o.received.as_str());
            run.ctx.set("spf_result", o.result);
            // As Exim, a guess sticks for the rest of the message (reset with it).
            if o.guessed {
                run.ctx.set("spf_result_guessed", "yes");
            }
            run.ctx.set("spf_smtp_comment", o.smtp_comment.as_str());
            o.result
        }
        None => "permerror",
    };
    for word in lists::iter(arg) {
        let (negate, word) = match word.strip_prefix(b"!") {
            Some(w) => (true, w),
            None => (false, &word[..]),
        };
        if negate != (word == result.as_bytes()) {
            return Rc::Ok;
        }
    }
    Rc::Fail
}
