//! The per-message authentication results store (kept on the expansion `Context`, reset
//! with the message): DKIM signatures and their outcome, the DMARC outcome, and the
//! texts Exim makes from them (`DKIM:` log lines, the `dkim=`/`dmarc=` parts of
//! `${authresults}`). ARC results belong here too.

use crate::expand::Context;
use crate::mailauth::dkim::{Reason, Signature, Status, Verification};

#[derive(Debug, Clone, Default)]
pub struct AuthResults {
    /// DKIM verification of this message (`None`: not done, or disabled).
    pub dkim: Option<Verification>,
    /// Exim's `dkim_verify_overall`: the domain for `DKIM=` on the `<=` line.
    pub dkim_overall: Option<String>,
    /// The DMARC check, once `dmarc_status` ran it.
    pub dmarc: Option<crate::mailauth::dmarc::DmarcOutcome>,
}

/// The variables a message's DKIM and DMARC results leave, cleared with the message.
const MESSAGE_VARS: &[crate::expand::vars::VarId] = &crate::expand::vars::ids([
    "dkim_algo",
    "dkim_bodylength",
    "dkim_canon_body",
    "dkim_canon_headers",
    "dkim_copiedheaders",
    "dkim_created",
    "dkim_cur_signer",
    "dkim_domain",
    "dkim_expires",
    "dkim_headernames",
    "dkim_identity",
    "dkim_key_granularity",
    "dkim_key_length",
    "dkim_key_nosubdomains",
    "dkim_key_notes",
    "dkim_key_srvtype",
    "dkim_key_testing",
    "dkim_selector",
    "dkim_signers",
    "dkim_verify_reason",
    "dkim_verify_status",
    "dmarc_domain_policy",
    "dmarc_status",
    "dmarc_status_text",
    "dmarc_used_domain",
]);

/// Forget the message's results (a new message, RSET).
pub fn reset_message(ctx: &mut Context) {
    ctx.auth_results = AuthResults::default();
    ctx.unset_ids(MESSAGE_VARS);
}

/// Exim's `$dkim_verify_status` for a signature (pdkim's status word).
/// Once the DKIM ACL overrode a signature, pdkim's status no longer matches a word:
/// Exim then shows `none` and an empty reason.
pub fn status_word(s: &Signature) -> &'static str {
    if s.policy.is_some() {
        return "none";
    }
    match s.status {
        Status::Invalid => "invalid",
        Status::Fail => "fail",
        Status::Pass => "pass",
        Status::None => "none",
    }
}

/// Exim's `$dkim_verify_reason` for a signature.
pub fn reason_word(s: &Signature) -> &'static str {
    if s.policy.is_some() {
        return "";
    }
    match s.reason {
        Reason::PubkeyUnavailable => "pubkey_unavailable",
        Reason::PubkeyDnsRecord => "pubkey_dns_syntax",
        Reason::PubkeyImport => "pubkey_der_syntax",
        Reason::PubkeyKeysize => "pubkey_too_short",
        Reason::FailBody => "bodyhash_mismatch",
        Reason::FailMessage => "signature_incorrect",
        _ => "",
    }
}

/// The `$dkim_*` values of a signature (`None`: the defaults Exim shows without one).
pub fn set_signature_vars(ctx: &mut Context, sig: Option<&Signature>) {
    let Some(s) = sig else {
        for (name, v) in [
            ("dkim_algo", ""),
            ("dkim_bodylength", "9999999999999"),
            ("dkim_canon_body", ""),
            ("dkim_canon_headers", ""),
            ("dkim_copiedheaders", ""),
            ("dkim_created", "0"),
            ("dkim_expires", "9999999999999"),
            ("dkim_headernames", ""),
            ("dkim_identity", ""),
            ("dkim_key_granularity", "*"),
            ("dkim_key_srvtype", "*"),
            ("dkim_key_notes", ""),
            ("dkim_key_testing", "0"),
            ("dkim_key_nosubdomains", "0"),
        ] {
            ctx.set(name, v);
        }
        return;
    };
    let h = &s.header;
    let tainted = |ctx: &mut Context, name: &str, v: &str| {
        ctx.set_tainted(name, v);
    };
    tainted(ctx, "dkim_algo", &h.a_tag());
    let bl = h
        .bodylength
        .map_or("9999999999999".to_string(), |l| l.to_string());
    ctx.set("dkim_bodylength", bl);
    ctx.set("dkim_canon_body", h.canon_body.name());
    ctx.set("dkim_canon_headers", h.canon_headers.name());
    tainted(
        ctx,
        "dkim_copiedheaders",
        h.copiedheaders.as_deref().unwrap_or(""),
    );
    ctx.set("dkim_created", h.created.to_string());
    let x = if h.expires > 0 {
        h.expires.to_string()
    } else {
        "9999999999999".into()
    };
    ctx.set("dkim_expires", x);
    tainted(
        ctx,
        "dkim_headernames",
        h.headernames.as_deref().unwrap_or(""),
    );
    tainted(ctx, "dkim_identity", h.identity.as_deref().unwrap_or(""));
    let key = s.key.as_ref();
    tainted(
        ctx,
        "dkim_key_granularity",
        key.map_or("*", |k| k.granularity.as_str()),
    );
    tainted(
        ctx,
        "dkim_key_srvtype",
        key.map_or("*", |k| k.srvtype.as_str()),
    );
    tainted(
        ctx,
        "dkim_key_notes",
        key.and_then(|k| k.notes.as_deref()).unwrap_or(""),
    );
    let flag = |b: bool| if b { "1" } else { "0" };
    ctx.set("dkim_key_testing", flag(key.is_some_and(|k| k.testing)));
    ctx.set(
        "dkim_key_nosubdomains",
        flag(key.is_some_and(|k| k.no_subdomaining)),
    );
    tainted(ctx, "dkim_domain", h.domain.as_deref().unwrap_or(""));
    tainted(ctx, "dkim_selector", h.selector.as_deref().unwrap_or(""));
    ctx.set("dkim_key_length", s.keybits.to_string());
}

/// The `DKIM: d=... [status]` line `dkim_verbose` logs for a signature; an overridden
/// one shows the ACL's current `$dkim_verify_status`/`_reason` (`acl`).
pub fn log_line(s: &Signature, acl: Option<(&str, &str)>) -> String {
    let h = &s.header;
    let mut l = format!(
        "DKIM: d={} s={} c={}/{} a={} b={}",
        h.domain.as_deref().unwrap_or("<UNSET>"),
        h.selector.as_deref().unwrap_or("<UNSET>"),
        h.canon_headers.name(),
        h.canon_body.name(),
        h.a_tag(),
        h.sighash.len() * 8
    );
    if let Some(i) = &h.identity {
        l += &format!(" i={i}");
    }
    if h.created > 0 {
        l += &format!(" t={}", h.created);
    }
    if h.expires > 0 {
        l += &format!(" x={}", h.expires);
    }
    if let Some(n) = h.bodylength {
        l += &format!(" l={n}");
    }
    if let Some((status, reason)) = &s.policy {
        let (status, reason) = acl.unwrap_or((status, reason));
        l += &format!(" [{status} - {reason}]");
        return l;
    }
    l += match (s.status, s.reason) {
        (Status::None, _) => " [not verified]",
        (Status::Invalid, Reason::PubkeyUnavailable) => {
            " [invalid - public key record (currently?) unavailable]"
        }
        (Status::Invalid, Reason::BufferSize) => " [invalid - overlong public key record]",
        (Status::Invalid, Reason::PubkeyDnsRecord | Reason::PubkeyImport) => {
            " [invalid - syntax error in public key record]"
        }
        (Status::Invalid, Reason::SignatureError) => {
            " [invalid - signature tag missing or invalid]"
        }
        (Status::Invalid, Reason::DkimVersion) => " [invalid - unsupported DKIM version]",
        (Status::Invalid, _) => " [invalid - unspecified problem]",
        (Status::Fail, Reason::FailBody) => {
            " [verification failed - body hash mismatch (body probably modified in transit)]"
        }
        (Status::Fail, Reason::FailMessage) => {
            " [verification failed - signature did not verify (headers probably modified in transit)]"
        }
        (Status::Fail, Reason::PubkeyKeysize) => {
            " [verification failed - signature invalid (key too short)]"
        }
        (Status::Fail, _) => " [verification failed - unspecified reason]",
        (Status::Pass, _) => " [verification succeeded]",
    };
    l
}

/// Exim's dkim_exim_verify_log_sig bookkeeping for one signature: the `DKIM=` domain
/// (`acl_status` is `$dkim_verify_status` after a DKIM ACL run; `None` without an ACL),
/// and the ACL's override of the status (which DMARC and `${authresults}` then see).
pub fn note_signature(
    results: &mut AuthResults,
    index: usize,
    acl: Option<(&str, &str)>,
) -> Option<String> {
    let ver = results.dkim.as_mut()?;
    let s = ver.signatures.get_mut(index)?;
    // Exim's test reads `!overall && status ? status == pass : sig passed`.
    let pass = match (results.dkim_overall.is_none(), acl) {
        (true, Some((status, _))) => status == "pass",
        _ => s.status == Status::Pass,
    };
    if pass {
        results.dkim_overall = s.header.domain.clone();
    }
    if let Some((status, reason)) = acl {
        if status != status_word(s) || reason != reason_word(s) {
            s.policy = Some((status.to_string(), reason.to_string()));
            s.status = match status {
                "fail" => Status::Fail,
                "invalid" => Status::Invalid,
                "pass" => Status::Pass,
                _ => Status::None,
            };
        }
    }
    Some(log_line(s, acl))
}

/// The `;\n\tdkim=...` parts of `${authresults}`, one per signature.
pub fn authres_dkim(ctx: &Context, out: &mut crate::expand::Val) {
    let Some(ver) = &ctx.auth_results.dkim else {
        return;
    };
    for s in &ver.signatures {
        out.push_bytes(b";\n\tdkim=");
        let text = if s.policy.is_some() {
            // Exim prints the variables as they are now (after the ACL runs: the list).
            let v = |n: &str| {
                ctx.get(n)
                    .map(|v| v.as_str_lossy().into_owned())
                    .unwrap_or_default()
            };
            format!(
                "policy ({} - {})",
                v("dkim_verify_status"),
                v("dkim_verify_reason")
            )
        } else {
            match (s.status, s.reason) {
                (Status::None, _) => "none".into(),
                (Status::Invalid, Reason::PubkeyUnavailable) => {
                    "tmperror (pubkey unavailable)\n\t\t".into()
                }
                (Status::Invalid, Reason::BufferSize) => {
                    "permerror (overlong public key record)\n\t\t".into()
                }
                (Status::Invalid, Reason::PubkeyDnsRecord | Reason::PubkeyImport) => {
                    "neutral (public key record import problem)\n\t\t".into()
                }
                (Status::Invalid, Reason::SignatureError) => {
                    "neutral (signature tag missing or invalid)\n\t\t".into()
                }
                (Status::Invalid, Reason::DkimVersion) => {
                    "neutral (unsupported DKIM version)\n\t\t".into()
                }
                (Status::Invalid, _) => "permerror (unspecified problem)\n\t\t".into(),
                (Status::Fail, Reason::FailBody) => {
                    "fail (body hash mismatch; body probably modified in transit)\n\t\t".into()
                }
                (Status::Fail, Reason::FailMessage) => {
                    "fail (signature did not verify; headers probably modified in transit)\n\t\t"
                        .into()
                }
                (Status::Fail, Reason::PubkeyKeysize) => {
                    format!("fail (public key too short: {} bits)\n\t\t", s.keybits)
                }
                (Status::Fail, _) => "fail (unspecified reason)\n\t\t".into(),
                (Status::Pass, _) => "pass".into(),
            }
        };
        out.push_bytes(text.as_bytes());
        let h = &s.header;
        if let Some(d) = &h.domain {
            out.push_bytes(format!(" header.d={d}").as_bytes());
        }
        if let Some(i) = &h.identity {
            out.push_bytes(format!(" header.i={i}").as_bytes());
        }
        if let Some(sel) = &h.selector {
            out.push_bytes(format!(" header.s={sel}").as_bytes());
        }
        out.push_bytes(format!(" header.a={}", h.a_tag()).as_bytes());
    }
}
