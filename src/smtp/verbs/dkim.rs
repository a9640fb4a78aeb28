//! DKIM after DATA, as Exim's receive_msg does it: the signatures are verified on the
//! message as received (unless `control = dkim_disable_verify`), then `acl_smtp_dkim`
//! runs once per signer in `dkim_verify_signers` and once per matching signature, with
//! the `$dkim_*` variables of that signature; the `DKIM:` lines are logged (with
//! `log_selector = +dkim_verbose`) and a refusal rejects the message.

use crate::acl::{Phase, Rc};
use crate::expand::{expand, Val};
use crate::mailauth::results::{note_signature, reason_word, set_signature_vars, status_word};
use crate::smtp::session::{Done, Session};

/// Verify the message's signatures (before any fixups change its headers) and keep the
/// result for the DKIM ACL, `${authresults}`, DMARC and the `<=` line.
pub fn verify(s: &mut Session, message: &[u8]) {
    // Exim's dmarc_init: `$dmarc_status` starts as "none" for a message from a host.
    if s.ctx
        .fixed(crate::vid!("sender_host_address"))
        .is_some_and(|v| !v.is_empty())
    {
        s.ctx.set_id(crate::vid!("dmarc_status"), "none");
        let disabled = s.acl_state.has_control("dmarc_disable_verify")
            || s.acl_state.has_control("dkim_disable_verify");
        if let (Some(path), false) = (&s.acls.env.mailauth.dmarc_tld_file, disabled) {
            if let Err(e) = std::fs::metadata(path) {
                let why = e.to_string();
                let why = why.split(" (os error").next().unwrap_or_default();
                s.log(format!("DMARC failure to load tld list '{path}': {why}"));
            }
        }
    }
    if s.env.discarded || s.acl_state.has_control("dkim_disable_verify") {
        return;
    }
    let env = &s.acls.env;
    let ver = crate::mailauth::dkim::verify(message, &env.mailauth.verify, env.resolver.as_ref());
    for line in &ver.log {
        s.log(line.clone());
    }
    s.ctx.set_id(
        crate::vid!("dkim_signers"),
        Val::tainted(ver.signers().into_bytes()),
    );
    s.ctx.auth_results.dkim = Some(ver);
}

/// Run the DKIM ACL (or, without one, log every signature). `Err` when the message was
/// refused (the reply is sent); `Ok(Some(detail))` when the ACL discarded it.
pub fn run_acl(s: &mut Session) -> Result<Option<String>, Done> {
    if s.ctx.auth_results.dkim.is_none() {
        return Ok(None);
    }
    let settings = s.acls.env.mailauth.clone();
    let (Some(spec), Some(signers)) = (settings.acl_smtp_dkim, settings.verify_signers) else {
        let n = s
            .ctx
            .auth_results
            .dkim
            .as_ref()
            .map_or(0, |v| v.signatures.len());
        for i in 0..n {
            log_signature(s, i, None, settings.log_dkim_verbose);
        }
        return Ok(None);
    };
    let list = match expand(&signers, &mut s.ctx) {
        Ok(v) => v.bytes,
        Err(e) => {
            s.log(format!(
                "expansion of dkim_verify_signers option failed: {}",
                e.message
            ));
            Vec::new()
        }
    };
    let mut seen: Vec<Vec<u8>> = Vec::new();
    let mut results: Vec<String> = Vec::new();
    let mut outcome = None;
    for item in crate::expand::lists::iter(&list) {
        if item.is_empty() || seen.iter().any(|x| **x == *item) {
            continue;
        }
        seen.push(item.to_vec());
        let signer = String::from_utf8_lossy(&item).into_owned();
        let v = run_for_signer(s, &spec, &signer, &mut results, settings.log_dkim_verbose);
        if v.rc != Rc::Ok {
            outcome = Some(v);
            break;
        }
    }
    s.ctx.set(
        "dkim_verify_status",
        Val::tainted(results.join(":").into_bytes()),
    );
    crate::smtp::verbs::mime::apply_added_headers(s);
    let Some(v) = outcome else {
        return Ok(None);
    };
    if v.rc == Rc::Discard {
        s.env.discarded = true;
        let why = v.log_message.map(|m| format!(": {m}")).unwrap_or_default();
        return Ok(Some(format!("(DKIM ACL discarded recipients){why}")));
    }
    let done = s.acl_fail(Phase::Dkim, &v);
    s.log_id = None;
    s.reset_message();
    Err(done)
}

/// dkim_exim_acl_run: the ACL once per signature whose identity (a signer with `@`) or
/// domain is `signer`, or once with no signature when none is.
fn run_for_signer(
    s: &mut Session,
    spec: &crate::expand::Expansion,
    signer: &str,
    results: &mut Vec<String>,
    verbose: bool,
) -> crate::acl::Verdict {
    s.ctx.set_id(
        crate::vid!("dkim_cur_signer"),
        Val::tainted(signer.as_bytes()),
    );
    let by_identity = signer.contains('@');
    let matching: Vec<usize> = s
        .ctx
        .auth_results
        .dkim
        .as_ref()
        .map(|v| {
            v.signatures
                .iter()
                .enumerate()
                .filter(|(_, sig)| {
                    let h = &sig.header;
                    let val = if by_identity { &h.identity } else { &h.domain };
                    val.as_deref()
                        .is_some_and(|x| x.eq_ignore_ascii_case(signer))
                })
                .map(|(i, _)| i)
                .collect()
        })
        .unwrap_or_default();
    let calls: Vec<Option<usize>> = if matching.is_empty() {
        vec![None]
    } else {
        matching.into_iter().map(Some).collect()
    };
    let mut last = None;
    for idx in calls {
        let sig = idx.and_then(|i| {
            s.ctx
                .auth_results
                .dkim
                .as_ref()
                .and_then(|v| v.signatures.get(i).cloned())
        });
        // Without a signature, `$dkim_domain`/`$dkim_selector`/`$dkim_key_length` keep
        // the previous signature's values, as in Exim.
        set_signature_vars(&mut s.ctx, sig.as_ref());
        let (status, reason) = sig
            .as_ref()
            .map_or(("none", ""), |g| (status_word(g), reason_word(g)));
        s.ctx.set_id(crate::vid!("dkim_verify_status"), status);
        s.ctx.set_id(crate::vid!("dkim_verify_reason"), reason);
        let v = s.acl(Phase::Dkim, spec);
        let now = |s: &Session, n: &str| {
            s.ctx
                .get(n)
                .map(|v| v.as_str_lossy().into_owned())
                .unwrap_or_default()
        };
        let (st, re) = (now(s, "dkim_verify_status"), now(s, "dkim_verify_reason"));
        if let Some(i) = idx {
            log_signature(s, i, Some((&st, &re)), verbose);
        }
        results.push(st);
        let stop = v.rc != Rc::Ok;
        last = Some(v);
        if stop {
            break;
        }
    }
    last.unwrap_or(crate::acl::Verdict {
        rc: Rc::Ok,
        user_message: None,
        log_message: None,
    })
}

fn log_signature(s: &mut Session, index: usize, acl: Option<(&str, &str)>, verbose: bool) {
    if let Some(line) = note_signature(&mut s.ctx.auth_results, index, acl) {
        if verbose {
            s.log(line);
        }
    }
}

/// ` DKIM=<domain>` for the `<=` line (`log_selector` `dkim`, on by default).
pub fn log_element(s: &Session) -> String {
    match (
        &s.ctx.auth_results.dkim_overall,
        s.acls.env.mailauth.log_dkim,
    ) {
        (Some(d), true) => format!(" DKIM={d}"),
        _ => String::new(),
    }
}
