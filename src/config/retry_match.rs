//! Choosing the retry rule for a failed delivery (Exim's `retry_find_config`), shared by
//! delivery and `-brt`.

use super::retry::{RetryError, RetryErrorKind, RetryRule, CONNECT_TIMEOUT};
use crate::expand::Context;

/// Does `rule` apply to this error? (`error.more` as Exim encodes it for the failure.)
fn error_matches(rule: &RetryError, error: &RetryError) -> bool {
    use RetryErrorKind::*;
    match rule.kind {
        Any => true,
        Quota => error.kind == Quota && (rule.more == 0 || rule.more <= error.more),
        TlsRequired => error.kind == TlsRequired,
        Mail4xx | Rcpt4xx | Data4xx => {
            if error.kind != rule.kind {
                return false;
            }
            let wanted = (rule.more >> 8) & 255;
            let got = (error.more >> 8) & 255;
            match wanted {
                255 => true,
                w if w >= 100 => (got / 10) * 10 == w - 100,
                w => got == w,
            }
        }
        Timeout => {
            if error.kind != Timeout {
                return false;
            }
            if rule.more == CONNECT_TIMEOUT {
                return error.more & CONNECT_TIMEOUT != 0;
            }
            let mut got = error.more;
            if rule.more & CONNECT_TIMEOUT == 0 {
                got &= !CONNECT_TIMEOUT;
            }
            rule.more == 0 || rule.more == got
        }
        _ => rule.kind == error.kind && (rule.more == 0 || rule.more == error.more),
    }
}

/// Match one address against a rule's pattern (a one-item address list, expanded first; a
/// failed expansion, logged in `ctx.log` as Exim does, does not match).
fn address_matches(ctx: &mut Context, address: &str, pattern: &str) -> bool {
    matches!(
        crate::listmatch::match_address_item(ctx, address.as_bytes(), pattern, false),
        Ok(Some(_))
    )
}

/// The retry key as rules see it: `host:ip+port` keys use the host name, `|pipe:addr` and
/// similar keys the address; a domain becomes `*@domain`.
fn rule_key(key: &str) -> String {
    let key = match key.find(':') {
        Some(c) if key.starts_with(|c: char| c.is_ascii_alphanumeric()) => &key[..c],
        Some(_) => key.rsplit(':').next().unwrap_or(key),
        None => key,
    };
    if key.contains('@') {
        key.to_string()
    } else {
        format!("*@{key}")
    }
}

/// The first rule for `key` (or `alternate`, a domain) and `error`. Rules with `senders`
/// apply only when the sender is known and in their list.
pub fn find_rule<'a>(
    rules: &'a [RetryRule],
    ctx: &mut Context,
    key: &str,
    alternate: Option<&str>,
    error: &RetryError,
    sender: Option<&str>,
) -> Option<&'a RetryRule> {
    let key = rule_key(key);
    let alternate = alternate.map(|a| format!("*@{a}"));
    rules.iter().find(|r| {
        if !error_matches(&r.error, error) {
            return false;
        }
        if let Some(senders) = &r.senders {
            let ok = sender.is_some_and(|s| {
                let list = senders.as_bytes();
                matches!(
                    crate::listmatch::match_address(ctx, s.as_bytes(), list, true),
                    Ok(Some(_))
                )
            });
            if !ok {
                return false;
            }
        }
        address_matches(ctx, &key, &r.pattern)
            || alternate
                .as_deref()
                .is_some_and(|a| address_matches(ctx, a, &r.pattern))
    })
}
