//! The texts Exim's libspf2 build gives `$spf_header_comment`, `$spf_received` and
//! `$spf_smtp_comment`, and the SPF macro expansion of `spf_smtp_comment_template`.

use std::net::IpAddr;

use mail_auth::SpfResult;

use crate::mailauth::spf::{identity, result_word, Reason, SpfOutcome, SpfRequest};

/// Build the outcome of a finished evaluation.
pub fn outcome(
    req: &SpfRequest,
    result: SpfResult,
    reason: Reason,
    explanation: Option<String>,
    guessed: bool,
) -> SpfOutcome {
    let word = result_word(result);
    let (env_from, domain) = identity(&req.sender, &req.helo);
    let source = format!("domain of {domain}");
    let ip = req.ip.to_string();
    let text = match result {
        SpfResult::Pass if reason == Reason::Localhost => "localhost is always allowed.".into(),
        SpfResult::Pass => format!("{source} designates {ip} as permitted sender"),
        SpfResult::Fail => format!("{source} does not designate {ip} as permitted sender"),
        SpfResult::SoftFail => {
            format!("transitioning {source} does not designate {ip} as permitted sender")
        }
        // libspf2 appends its error text here; mail-auth does not say which error.
        SpfResult::PermError => {
            format!("error in processing during lookup of {source}: permanent SPF error")
        }
        SpfResult::Neutral => format!("{ip} is neither permitted nor denied by {source}"),
        SpfResult::None => format!("{source} does not provide an SPF record"),
        SpfResult::TempError => {
            format!("encountered temporary error during SPF processing of {source}")
        }
    };
    let header_comment = format!("{}: {text}", req.receiver);
    let received = format!(
        "Received-SPF: {word} ({header_comment}) client-ip={ip}; envelope-from={env_from}; helo={};",
        req.helo
    );
    let smtp_comment = match result {
        SpfResult::Fail | SpfResult::SoftFail | SpfResult::Neutral | SpfResult::None => {
            let exp = explanation
                .unwrap_or_else(|| expand_macros(&req.comment_template, req, &env_from, &domain));
            let why = match reason {
                Reason::None => "none",
                Reason::Localhost => "localhost",
                Reason::Mechanism => "mechanism",
                Reason::Default => "default",
            };
            format!("{exp} : Reason: {why}")
        }
        _ => String::new(),
    };
    SpfOutcome {
        result: word,
        guessed,
        header_comment,
        received,
        smtp_comment,
    }
}

/// RFC 7208 macro letters without transformers: `%{s}` sender, `%{l}` local part,
/// `%{o}`/`%{d}` domain, `%{i}` and `%{c}` client address, `%{h}` HELO, `%{r}`
/// receiver, `%{v}` `in-addr`/`ip6`; `%%`, `%_` (space), `%-` (`%20`).
/// `Please%_see%_http://www.open-spf.org/Why` gives `Please see http://www.open-spf.org/Why`.
pub fn expand_macros(template: &str, req: &SpfRequest, env_from: &str, domain: &str) -> String {
    let local = env_from.rsplit_once('@').map_or("postmaster", |(l, _)| l);
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(pos) = rest.find('%') {
        out.push_str(&rest[..pos]);
        rest = &rest[pos + 1..];
        let mut chars = rest.chars();
        match chars.next() {
            Some('%') => out.push('%'),
            Some('_') => out.push(' '),
            Some('-') => out.push_str("%20"),
            Some('{') => {
                let Some(end) = rest.find('}') else {
                    out.push_str("%{");
                    rest = &rest[1..];
                    continue;
                };
                let body = &rest[1..end];
                let value = match body.chars().next().map(|c| c.to_ascii_lowercase()) {
                    Some('s') => env_from.to_string(),
                    Some('l') => local.to_string(),
                    Some('o') | Some('d') => domain.to_string(),
                    Some('i') => dotted_ip(&req.ip),
                    Some('c') => req.ip.to_string(),
                    Some('h') => req.helo.clone(),
                    Some('r') => req.receiver.clone(),
                    Some('v') => match req.ip {
                        IpAddr::V4(_) => "in-addr".into(),
                        IpAddr::V6(_) => "ip6".into(),
                    },
                    _ => format!("%{{{body}}}"),
                };
                out.push_str(&value);
                rest = &rest[end + 1..];
                continue;
            }
            Some(c) => {
                out.push('%');
                out.push(c);
            }
            None => out.push('%'),
        }
        rest = &rest[rest.chars().next().map_or(0, char::len_utf8)..];
    }
    out.push_str(rest);
    out
}

/// `%{i}`: dotted quad, or dot-separated nibbles for IPv6.
fn dotted_ip(ip: &IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => {
            let hex: String = v6.octets().iter().map(|b| format!("{b:02x}")).collect();
            hex.chars().map(String::from).collect::<Vec<_>>().join(".")
        }
    }
}
