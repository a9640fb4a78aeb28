//! SPF checks as Exim's libspf2 build makes them: mail-auth evaluates the record,
//! this module picks the identity (libspf2's `env_from` rules), the loopback free
//! ride and the `spf_guess` fallback, and writes Exim's texts (`spf_text`).

use std::net::IpAddr;

use mail_auth::spf::verify::SpfParameters;
use mail_auth::spf::Mechanism;
use mail_auth::{Parameters, SpfResult};

use crate::mailauth::spf_dns::{authenticator, runtime, Caches, SpfDns};
use crate::mailauth::spf_text;

/// One SPF question: the client, its HELO name, the envelope sender.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SpfRequest {
    pub ip: IpAddr,
    pub helo: String,
    /// `$sender_address` (empty for the null sender).
    pub sender: String,
    /// `primary_hostname`: the receiver named in the texts and `%{r}`.
    pub receiver: String,
    /// `spf_guess`'s record when evaluating as the `spf_guess` condition.
    pub guess: Option<String>,
    /// `spf_smtp_comment_template` (an SPF macro string).
    pub comment_template: String,
}

/// Why libspf2 reached its result (`SPF_strreason`), used in `$spf_smtp_comment`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    None,
    Localhost,
    Mechanism,
    Default,
}

/// The result and the texts Exim puts in `$spf_*`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpfOutcome {
    /// `pass fail softfail neutral none temperror permerror`.
    pub result: &'static str,
    pub guessed: bool,
    pub header_comment: String,
    pub received: String,
    pub smtp_comment: String,
}

pub fn result_word(r: SpfResult) -> &'static str {
    match r {
        SpfResult::Pass => "pass",
        SpfResult::Fail => "fail",
        SpfResult::SoftFail => "softfail",
        SpfResult::Neutral => "neutral",
        SpfResult::TempError => "temperror",
        SpfResult::PermError => "permerror",
        SpfResult::None => "none",
    }
}

/// libspf2's identity: the null sender becomes the HELO name; a name without `@`
/// (or starting with it) becomes `postmaster@name`. Returns (env_from, its domain).
pub fn identity(sender: &str, helo: &str) -> (String, String) {
    let from = if sender.is_empty() { helo } else { sender };
    match from.rfind('@') {
        Some(at) if at > 0 => (from.to_string(), from[at + 1..].to_string()),
        _ => {
            let dom = from.strip_prefix('@').unwrap_or(from);
            (format!("postmaster@{dom}"), dom.to_string())
        }
    }
}

/// Run one SPF check; `spf_guess` requests fall back to the guess record on `none`.
pub fn check(req: &SpfRequest, dns: &SpfDns) -> SpfOutcome {
    let first = evaluate(req, dns, None);
    match (&req.guess, first.0) {
        (Some(record), SpfResult::None) => {
            let (r, reason, exp) = evaluate(req, dns, Some(record));
            spf_text::outcome(req, r, reason, exp, true)
        }
        _ => spf_text::outcome(req, first.0, first.1, first.2, false),
    }
}

fn is_loopback(ip: &IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.octets()[0] == 127,
        IpAddr::V6(v6) => v6.is_loopback(),
    }
}

/// mail-auth's evaluation; the explanation is its `exp=` text for a fail.
fn evaluate(
    req: &SpfRequest,
    dns: &SpfDns,
    guess: Option<&str>,
) -> (SpfResult, Reason, Option<String>) {
    if is_loopback(&req.ip) {
        return (SpfResult::Pass, Reason::Localhost, None);
    }
    let (env_from, domain) = identity(&req.sender, &req.helo);
    let auth = match authenticator(dns) {
        Ok(a) => a,
        Err(_) => return (SpfResult::TempError, Reason::None, None),
    };
    let mut caches = Caches::new(dns);
    if let Some(record) = guess {
        if !caches.override_record(&domain, record) {
            return (SpfResult::PermError, Reason::None, None);
        }
    }
    let params = Parameters::new(SpfParameters::verify_mail_from(
        req.ip,
        &req.helo,
        &req.receiver,
        &env_from,
    ))
    .with_txt_cache(&caches.txt)
    .with_mx_cache(&caches.mx)
    .with_ipv4_cache(&caches.a)
    .with_ipv6_cache(&caches.aaaa)
    .with_ptr_cache(&caches.ptr);
    let out = runtime().block_on(auth.verify_spf(params));
    let result = out.result();
    let reason = match result {
        SpfResult::None | SpfResult::TempError | SpfResult::PermError => Reason::None,
        SpfResult::Neutral if !ends_with_all(&caches, &domain) => Reason::Default,
        _ => Reason::Mechanism,
    };
    (result, reason, out.explanation().map(str::to_string))
}

/// Whether the top record has an `all` or a `redirect=` that can decide (else a
/// neutral result is libspf2's "default").
fn ends_with_all(caches: &Caches, domain: &str) -> bool {
    use mail_auth::ResolverCache;
    let key = format!("{}.", domain.to_ascii_lowercase());
    match caches.txt.get::<str>(key.as_str()) {
        Some(mail_auth::Txt::Spf(spf)) => {
            spf.redirect.is_some()
                || spf
                    .directives
                    .iter()
                    .any(|d| matches!(d.mechanism, Mechanism::All))
        }
        // Published records seen only by mail-auth's resolver: assume a mechanism.
        _ => true,
    }
}
