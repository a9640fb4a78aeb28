//! `${acl}` (through the context's `AclRunner`) and `${authresults}`.

use crate::error::{ExpResult, ExpandError};
use crate::expand::ast::ItemNode;
use crate::expand::context::{AclOutcome, Context};
use crate::expand::eval::Eval;
use crate::expand::value::Val;

const ACL_ARGS: usize = 9;

/// `${acl{check_x}{arg1}}`: run a named ACL with `$acl_arg1..9`/`$acl_narg` set (restored
/// afterwards); the result is its `message=` text. Defer is a forced failure.
pub fn acl(ev: &mut Eval, node: &ItemNode, out: &mut Val) -> ExpResult<()> {
    let mut vals = Vec::with_capacity(node.args.len());
    for a in &node.args {
        vals.push(ev.seq(a)?);
    }
    let Some((name, args)) = vals.split_first() else {
        return Ok(());
    };
    let name = name.as_str_lossy().into_owned();
    if name.is_empty() {
        return Ok(());
    }
    let args = &args[..args.len().min(ACL_ARGS)];
    let names: Vec<String> = (1..=ACL_ARGS).map(|i| format!("acl_arg{i}")).collect();
    let saved: Vec<Option<Val>> = names.iter().map(|n| ev.ctx.get(n).cloned()).collect();
    let saved_narg = ev.ctx.get("acl_narg").cloned();
    for (i, n) in names.iter().enumerate() {
        match args.get(i) {
            Some(v) => {
                ev.ctx.set(n, v.clone());
            }
            None => ev.ctx.unset(n),
        }
    }
    ev.ctx.set("acl_narg", args.len().to_string());
    let outcome = match ev.ctx.acl.clone() {
        Some(runner) => runner.run(&name, args, ev.ctx),
        None => AclOutcome::Error(format!("ACL \"{name}\" not found")),
    };
    for (n, v) in names.iter().zip(saved) {
        match v {
            Some(v) => {
                ev.ctx.set(n, v);
            }
            None => ev.ctx.unset(n),
        }
    }
    match saved_narg {
        Some(v) => {
            ev.ctx.set("acl_narg", v);
        }
        None => ev.ctx.unset("acl_narg"),
    }
    match outcome {
        AclOutcome::Accept(msg) | AclOutcome::Deny(msg) => {
            if let Some(m) = msg {
                out.push(&m);
            }
            Ok(())
        }
        AclOutcome::Defer => Err(ExpandError::forced(format!("DEFER from acl \"{name}\""))),
        AclOutcome::Error(_) => Err(ExpandError::hard(format!("ERROR from acl \"{name}\""))),
    }
}

/// One method's contribution to an Authentication-Results header (`;\n\t...`).
type AuthresPart = fn(&Context, &[u8], &mut Val);

/// The methods in Exim's order (ARC results go last, after `dmarc`).
const AUTHRES_PARTS: &[AuthresPart] = &[
    authres_local,
    authres_iprev,
    authres_smtpauth,
    authres_spf,
    authres_dkim,
    authres_dmarc,
    authres_arc,
];

/// `dkim=<result> header.d=... header.s=... header.a=...` per verified signature.
fn authres_dkim(ctx: &Context, _: &[u8], out: &mut Val) {
    crate::mailauth::results::authres_dkim(ctx, out);
}

/// `dmarc=<pass|fail|none|temperror|skipped> header.from=<domain>` once `dmarc_status` ran.
fn authres_dmarc(ctx: &Context, _: &[u8], out: &mut Val) {
    if let Some(d) = &ctx.auth_results.dmarc {
        out.push_bytes(b";\n\tdmarc=");
        out.push_bytes(d.pass_fail.as_bytes());
        if let Some(f) = &d.header_from {
            out.push_bytes(b" header.from=");
            out.push_bytes(f.as_bytes());
        }
    }
}

fn var<'c>(ctx: &'c Context, name: &str) -> Option<&'c Val> {
    ctx.get(name).filter(|v| !v.is_empty())
}

fn flag(ctx: &Context, name: &str) -> bool {
    var(ctx, name).is_some_and(|v| v.bytes != b"0")
}

/// `local=pass`: a non-SMTP message (Exim sets this while its not-SMTP ACL runs; here
/// `$received_protocol` is `local` and there is no sending host).
fn authres_local(ctx: &Context, id: &[u8], out: &mut Val) {
    let local = var(ctx, "received_protocol").is_some_and(|p| p.bytes == b"local");
    if !local || var(ctx, "sender_host_address").is_some() {
        return;
    }
    out.push_bytes(b";\n\tlocal=pass (non-smtp, ");
    out.push_bytes(id);
    out.push_bytes(b")");
    if let Some(u) = var(ctx, "authenticated_id") {
        out.push_bytes(b" u=");
        out.push(u);
    }
}

/// `iprev=pass (<name>)`, `iprev=temperror` or `iprev=fail`, plus `smtp.remote-ip`.
fn authres_iprev(ctx: &Context, _: &[u8], out: &mut Val) {
    if let Some(name) = var(ctx, "sender_host_name") {
        out.push_bytes(b";\n\tiprev=pass (");
        out.push(name);
        out.push_bytes(b")");
    } else if flag(ctx, "host_lookup_deferred") {
        out.push_bytes(b";\n\tiprev=temperror");
    } else if flag(ctx, "host_lookup_failed") {
        out.push_bytes(b";\n\tiprev=fail");
    } else {
        return;
    }
    if let Some(ip) = var(ctx, "sender_host_address") {
        out.push_bytes(b" smtp.remote-ip=");
        out.push(ip);
    }
}

/// `auth=pass (<mechanism>) smtp.auth=<id>` for an authenticated SMTP session.
fn authres_smtpauth(ctx: &Context, _: &[u8], out: &mut Val) {
    let Some(mech) = var(ctx, "sender_host_authenticated") else {
        return;
    };
    out.push_bytes(b";\n\tauth=pass (");
    out.push(mech);
    let id = var(ctx, "authenticated_id");
    match (mech.bytes.as_slice(), id) {
        (b"tls", Some(id)) => {
            out.push_bytes(b") x509.auth=");
            out.push(id);
        }
        (b"tls", None) => out.push_bytes(b") reason=x509.auth"),
        (_, Some(id)) => {
            out.push_bytes(b") smtp.auth=");
            out.push(id);
        }
        (_, None) => out.push_bytes(b", no id saved)"),
    }
    if let Some(sender) = var(ctx, "authenticated_sender") {
        out.push_bytes(b" smtp.mailfrom=");
        out.push(sender);
    }
}

/// `${authresults{mx.example}}` gives `Authentication-Results: mx.example` plus one
/// `;\n\t` part per method with something to report (never `; none`).
pub fn authresults(ev: &mut Eval, node: &ItemNode, out: &mut Val) -> ExpResult<()> {
    let id = ev.seq(&node.args[0])?;
    let mut header = id.derive(b"Authentication-Results: ".to_vec());
    header.push_bytes(&id.bytes);
    for part in AUTHRES_PARTS {
        part(ev.ctx, &id.bytes, &mut header);
    }
    out.push(&header);
    Ok(())
}

/// `spf=<result>` once an `spf`/`spf_guess` condition ran for the message, with the
/// identity checked: `smtp.mailfrom=<domain>`, else `smtp.helo=<name>`, else
/// `smtp.mailfrom=<>`.
fn authres_spf(ctx: &Context, _: &[u8], out: &mut Val) {
    let Some(result) = var(ctx, "spf_result") else {
        return;
    };
    out.push_bytes(b";\n\tspf=");
    out.push(result);
    if var(ctx, "spf_result_guessed").is_some_and(|v| v.bytes == b"yes") {
        out.push_bytes(b" (best guess record for domain)");
    }
    if let Some(domain) = var(ctx, "sender_address_domain") {
        out.push_bytes(b" smtp.mailfrom=");
        out.push(domain);
    } else if let Some(helo) = var(ctx, "sender_helo_name") {
        out.push_bytes(b" smtp.helo=");
        out.push(helo);
    } else {
        out.push_bytes(b" smtp.mailfrom=<>");
    }
}

/// `arc=<state>` once `verify = arc` ran for the message (Exim's `authres_arc`).
fn authres_arc(ctx: &Context, _: &[u8], out: &mut Val) {
    let ip = var(ctx, "sender_host_address").map(|v| v.as_str_lossy().into_owned());
    let part = crate::mailauth::arc::authres(ctx.arc.as_deref(), ip.as_deref());
    out.push_bytes(part.as_bytes());
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use crate::expand::context::{AclOutcome, AclRunner, Context};
    use crate::expand::{expand_str, Val};

    struct Runner;

    impl AclRunner for Runner {
        fn run(&self, name: &str, args: &[Val], ctx: &mut Context) -> AclOutcome {
            let narg = ctx
                .get("acl_narg")
                .map(|v| v.as_str_lossy().into_owned())
                .unwrap_or_default();
            let a1 = ctx
                .get("acl_arg1")
                .map(|v| v.as_str_lossy().into_owned())
                .unwrap_or_default();
            match name {
                "ok" => AclOutcome::Accept(Some(Val::from(format!(
                    "n={narg} a1={a1} len={}",
                    args.len()
                )))),
                "silent" => AclOutcome::Deny(None),
                "later" => AclOutcome::Defer,
                _ => AclOutcome::Error("no such ACL".into()),
            }
        }
    }

    fn expand(s: &str, ctx: &mut Context) -> String {
        match expand_str(s, ctx) {
            Ok(v) => String::from_utf8_lossy(&v.bytes).into_owned(),
            Err(e) => format!(
                "Failed{}: {}",
                if e.is_forced() { "(forced)" } else { "" },
                e.message
            ),
        }
    }

    #[test]
    fn runs_through_the_hook_and_restores_args() {
        let mut ctx = Context::default();
        ctx.acl = Some(Arc::new(Runner));
        ctx.set("acl_arg1", "outer");
        ctx.set("acl_narg", "1");
        assert_eq!(
            expand(
                "${acl{ok}{x}{y}}[$acl_arg1][$acl_narg][$acl_arg2]",
                &mut ctx
            ),
            "n=2 a1=x len=2[outer][1][]"
        );
        assert_eq!(expand("[${acl{silent}}]", &mut ctx), "[]");
        assert_eq!(
            expand("${acl{later}}", &mut ctx),
            "Failed(forced): DEFER from acl \"later\""
        );
        assert_eq!(
            expand("${acl{nope}}", &mut ctx),
            "Failed: ERROR from acl \"nope\""
        );
    }

    #[test]
    fn authresults_parts() {
        let mut ctx = Context::default();
        ctx.set("sender_host_name", "client.example");
        ctx.set("sender_host_address", "192.0.2.1");
        ctx.set("sender_host_authenticated", "PLAIN");
        ctx.set("authenticated_id", "fred");
        ctx.set("authenticated_sender", "fred@example.com");
        assert_eq!(
            expand("${authresults{mx.example}}", &mut ctx),
            "Authentication-Results: mx.example;\n\tiprev=pass (client.example) smtp.remote-ip=192.0.2.1;\n\t\
             auth=pass (PLAIN) smtp.auth=fred smtp.mailfrom=fred@example.com"
        );
        let mut ctx = Context::default();
        ctx.set("received_protocol", "local");
        ctx.set("authenticated_id", "root");
        assert_eq!(
            expand("${authresults{mx}}", &mut ctx),
            "Authentication-Results: mx;\n\tlocal=pass (non-smtp, mx) u=root"
        );
        let mut ctx = Context::default();
        ctx.set("host_lookup_failed", "1");
        ctx.set("sender_host_address", "192.0.2.1");
        ctx.set("sender_host_authenticated", "tls");
        assert_eq!(
            expand("${authresults{mx}}", &mut ctx),
            "Authentication-Results: mx;\n\tiprev=fail smtp.remote-ip=192.0.2.1;\n\tauth=pass (tls) reason=x509.auth"
        );
    }

    #[test]
    fn authresults_spf_part() {
        let mut ctx = Context::default();
        assert_eq!(
            expand("${authresults{mx}}", &mut ctx),
            "Authentication-Results: mx"
        );
        ctx.set("spf_result", "pass");
        ctx.set("sender_address_domain", "example.com");
        assert_eq!(
            expand("${authresults{mx}}", &mut ctx),
            "Authentication-Results: mx;\n\tspf=pass smtp.mailfrom=example.com"
        );
        ctx.unset("sender_address_domain");
        ctx.set("sender_helo_name", "client.example");
        ctx.set("spf_result", "neutral");
        ctx.set("spf_result_guessed", "yes");
        assert_eq!(
            expand("${authresults{mx}}", &mut ctx),
            "Authentication-Results: mx;\n\tspf=neutral (best guess record for domain) smtp.helo=client.example"
        );
        ctx.unset("sender_helo_name");
        assert!(expand("${authresults{mx}}", &mut ctx).ends_with(" smtp.mailfrom=<>"));
    }
}
