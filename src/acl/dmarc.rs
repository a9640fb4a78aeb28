//! `dmarc_status = accept : none`: DMARC for the message, evaluated at the first use (as
//! Exim's `dmarc_process`), with `$dmarc_*` set; `control = dmarc_disable_verify` makes
//! the status `off`, `dmarc_tld_file` unset leaves it `none` (Exim then skips DMARC).

use crate::acl::engine::{AclRun, Rc};
use crate::acl::model::Item;
use crate::mailauth::dmarc::{check, from_domain, DmarcOutcome, DmarcRequest};

fn var(run: &AclRun, name: &str) -> String {
    run.ctx
        .get(name)
        .map(|v| v.as_str_lossy().into_owned())
        .unwrap_or_default()
}

fn disabled(run: &AclRun) -> bool {
    run.state.has_control("dmarc_disable_verify") || run.state.has_control("dkim_disable_verify")
}

/// The status the condition compares: Exim's `dmarc_exim_expand_query`.
fn status(run: &AclRun) -> &'static str {
    if disabled(run) {
        return "off";
    }
    match &run.ctx.auth_results.dmarc {
        Some(o) => o.status,
        None => "none",
    }
}

/// Exim's dmarc_process, once per message.
fn process(run: &mut AclRun) {
    if run.ctx.auth_results.dmarc.is_some() {
        return;
    }
    // Exim marks DMARC checked even when disabled: `${authresults}` says `skipped`.
    if disabled(run) {
        run.ctx.auth_results.dmarc = Some(DmarcOutcome::skipped(None));
        return;
    }
    let settings = run.acls.env.mailauth.clone();
    let message = run.ctx.message.clone();
    let from = message.as_ref().and_then(|m| {
        m.find("From:")
            .next()
            .and_then(|h| from_domain(h.raw_value()))
    });
    let host = var(run, "sender_host_address");
    let authenticated = !var(run, "sender_host_authenticated").is_empty();
    // An unreadable file was logged when the message started (Exim's dmarc_init).
    let tld_ok = settings
        .dmarc_tld_file
        .as_ref()
        .is_some_and(|p| std::fs::metadata(p).is_ok());
    let (Some(from_dom), true, false, false) = (from, tld_ok, host.is_empty(), authenticated)
    else {
        run.ctx.auth_results.dmarc = Some(DmarcOutcome::skipped(None));
        return;
    };
    let spf_domain = var(run, "sender_address_domain");
    let dkim_pass: Vec<String> = run
        .ctx
        .auth_results
        .dkim
        .as_ref()
        .map(|v| {
            v.signatures
                .iter()
                .filter(|s| s.status == crate::mailauth::dkim::Status::Pass)
                .filter_map(|s| s.header.domain.clone())
                .map(|d| d.to_ascii_lowercase())
                .collect()
        })
        .unwrap_or_default();
    let spf_result = run
        .ctx
        .get("spf_result")
        .map(|v| v.as_str_lossy().into_owned());
    let raw = message.map(|m| {
        let mut r = Vec::new();
        for h in &m.headers {
            r.extend_from_slice(&h.text);
        }
        r.push(b'\n');
        r.extend_from_slice(&m.body);
        r
    });
    let req = DmarcRequest {
        message: raw.as_deref().unwrap_or_default(),
        from_domain: from_dom,
        spf_domain: spf_domain.clone(),
        spf_result,
        dkim_pass,
    };
    let o = check(&req, run.acls.env.resolver.as_ref());
    if o.has_record {
        let line = o.log_line(&spf_domain);
        run.state.logs.push(crate::acl::state::LogLine {
            targets: vec!["main"],
            text: line,
        });
        if settings.dmarc_history_file.is_some() {
            run.state.logs.push(crate::acl::state::LogLine {
                targets: vec!["main"],
                text: "DMARC history file not written: not yet supported by rexim".into(),
            });
        }
        let wants_report = matches!(o.status, "reject" | "quarantine");
        if run.state.has_control("dmarc_enable_forensic") && wants_report {
            for r in &o.ruf {
                let to = r.strip_prefix("mailto:").unwrap_or(r);
                run.state.logs.push(crate::acl::state::LogLine {
                    targets: vec!["main"],
                    text: format!(
                        "DMARC forensic report to {to} not sent: not yet supported by rexim"
                    ),
                });
            }
        }
    }
    run.ctx.set("dmarc_status", o.status);
    run.ctx.set("dmarc_status_text", o.status_text);
    run.ctx.set("dmarc_domain_policy", o.domain_policy);
    run.ctx.set(
        "dmarc_used_domain",
        crate::expand::Val::tainted(o.used_domain.as_bytes()),
    );
    run.ctx.auth_results.dmarc = Some(o);
}

/// `dmarc_status = !accept`: the DMARC status is one of the listed words.
pub fn dmarc_status(run: &mut AclRun, _: &Item, arg: &[u8]) -> Rc {
    process(run);
    let st = status(run);
    match crate::listmatch::match_local_part(run.ctx, st.as_bytes(), arg, false) {
        Ok(Some(_)) => Rc::Ok,
        Ok(None) => Rc::Fail,
        Err(crate::listmatch::ListError::Defer(m)) => {
            run.log_msg = m;
            Rc::Defer
        }
        Err(crate::listmatch::ListError::Fatal(m)) => {
            run.log_msg = Some(m);
            Rc::Error
        }
    }
}
