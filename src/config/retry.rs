//! `begin retry`: rules read as Exim's `readconf_retries`, kept typed for delivery (and `-brt`).
//!
//! A rule is `pattern error [senders = list] [F,cutoff,interval; G,cutoff,start,factor; ...]`.

use super::options::{dequote, read_time};

/// The error a rule applies to (Exim's `basic_errno`; `*` is `Any`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryErrorKind {
    Any,
    Quota,
    Refused,
    Timeout,
    Mail4xx,
    Rcpt4xx,
    Data4xx,
    AuthFailed,
    LostConnection,
    TlsRequired,
    Lookup,
}

/// Bit in [`RetryError::more`] for `timeout_connect*` (Exim's `RTEF_CTOUT`).
pub const CONNECT_TIMEOUT: i32 = 0x100;

/// An error type with its detail, in Exim's encoding of `more_errno`: `'A'`/`'M'` for
/// `_A`/`_MX`, `CONNECT_TIMEOUT` for `timeout_connect`, seconds for `quota_<time>`, and the
/// wanted code `<< 8` for `mail_4xx` (255 = any, 100 + decade for `4dx`, else exact).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryError {
    pub kind: RetryErrorKind,
    pub more: i32,
}

/// The kind of one retry step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepKind {
    /// `F`: fixed interval.
    Fixed,
    /// `G`: geometrically increasing intervals.
    Geometric,
    /// `H`: geometric with randomness.
    Heuristic,
}

/// One `F,2h,15m` item: applies until `cutoff` seconds after the first failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryStep {
    pub kind: StepKind,
    pub cutoff: i64,
    pub interval: i64,
    /// The multiplier times 1000 (`G` and `H` only).
    pub factor_milli: i64,
}

/// One line of the retry section.
#[derive(Debug, Clone)]
pub struct RetryRule {
    pub pattern: String,
    pub error: RetryError,
    pub senders: Option<String>,
    pub steps: Vec<RetryStep>,
    /// Written as `timeout_dns`, which Exim reads as `timeout` (with a warning).
    pub dns_timeout: bool,
    pub span: super::Span,
}

/// Is `word` (case-insensitively) a prefix of `full`? Exim compares with `strncmpic` over the
/// length of the configuration text, so an abbreviation matches.
fn abbreviates(word: &str, full: &str) -> bool {
    word.len() <= full.len() && full[..word.len()].eq_ignore_ascii_case(word)
}

/// Exim's `readconf_retry_error`: decode `quota_7d`, `refused_MX`, `rcpt_45x`, `*` ...
pub fn parse_error(word: &str) -> Result<RetryError, String> {
    let (head, tail) = match word.find('_') {
        Some(u) => (&word[..u], Some(&word[u + 1..])),
        None => (word, None),
    };
    let e = |kind, more| Ok(RetryError { kind, more });
    if head.eq_ignore_ascii_case("quota") {
        let more = match tail {
            None => 0,
            Some(t) => read_time(t, false).ok_or("bad time value")? as i32,
        };
        return e(RetryErrorKind::Quota, more);
    }
    if head.eq_ignore_ascii_case("refused") {
        let more = match tail {
            None => 0,
            Some(t) if abbreviates(t, "MX") => i32::from(b'M'),
            Some(t) if abbreviates(t, "A") => i32::from(b'A'),
            Some(_) => return Err("A or MX expected after \"refused\"".into()),
        };
        return e(RetryErrorKind::Refused, more);
    }
    if head.eq_ignore_ascii_case("timeout") {
        let Some(t) = tail else {
            return e(RetryErrorKind::Timeout, 0);
        };
        let extras: [(&str, i32); 5] = [
            ("A", i32::from(b'A')),
            ("MX", i32::from(b'M')),
            ("connect", CONNECT_TIMEOUT),
            ("connect_A", CONNECT_TIMEOUT | i32::from(b'A')),
            ("connect_MX", CONNECT_TIMEOUT | i32::from(b'M')),
        ];
        return match extras.iter().find(|(x, _)| abbreviates(t, x)) {
            Some((_, more)) => e(RetryErrorKind::Timeout, *more),
            // Exim logs that `timeout_dns` never worked and treats it as `timeout`.
            None if abbreviates(t, "DNS") => e(RetryErrorKind::Timeout, 0),
            None => Err("\"A\", \"MX\", or \"connect\" expected after \"timeout\"".into()),
        };
    }
    let lower = word.to_ascii_lowercase();
    if ["mail_4", "rcpt_4", "data_4"]
        .iter()
        .any(|p| lower.starts_with(p))
    {
        let b = word.as_bytes();
        let code = match (b.len(), b.get(6), b.get(7)) {
            (8, Some(a), Some(c)) if a.is_ascii_digit() => match c {
                c if c.is_ascii_digit() => Some(i32::from(a - b'0') * 10 + i32::from(c - b'0')),
                b'x' => Some(i32::from(a - b'0') * 10 + 100),
                _ => None,
            },
            (8, Some(b'x'), Some(b'x')) => Some(255),
            _ => None,
        };
        let Some(code) = code else {
            return Err(format!(
                "{}_4 must be followed by xx, dx, or dd, where x is literal and d is any digit",
                &word[..4]
            ));
        };
        // Exim tells the three apart by the first letter, case-sensitively.
        let kind = match b[0] {
            b'm' => RetryErrorKind::Mail4xx,
            b'r' => RetryErrorKind::Rcpt4xx,
            _ => RetryErrorKind::Data4xx,
        };
        return e(kind, code << 8);
    }
    if head.eq_ignore_ascii_case("auth") && tail.is_some_and(|t| abbreviates(t, "failed")) {
        return e(RetryErrorKind::AuthFailed, 0);
    }
    for (name, kind) in [
        ("lost_connection", RetryErrorKind::LostConnection),
        ("tls_required", RetryErrorKind::TlsRequired),
        ("lookup", RetryErrorKind::Lookup),
    ] {
        if abbreviates(word, name) {
            return e(kind, 0);
        }
    }
    if word == "*" {
        return e(RetryErrorKind::Any, 0);
    }
    Err(format!("unknown or malformed retry error \"{word}\""))
}

/// Exim's `readconf_readfixed`: `1.5` is 1500; `None` for anything else.
fn read_fixed(s: &str) -> Option<i64> {
    let digits = s.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 {
        return None;
    }
    let mut v: i64 = s[..digits].parse::<i32>().ok()?.into();
    v *= 1000;
    let rest = &s[digits..];
    let Some(frac) = rest.strip_prefix('.') else {
        return rest.is_empty().then_some(v);
    };
    let fd = frac.bytes().take_while(u8::is_ascii_digit).count();
    let mut m = 100;
    for d in frac[..fd].bytes() {
        v += i64::from(d - b'0') * m;
        m /= 10;
    }
    frac[fd..].is_empty().then_some(v)
}

/// Exim's `retry_arg`: `,value` where value is a time (or a fixed-point number).
fn step_arg(p: &mut &str, fixed: bool) -> Result<i64, String> {
    let Some(rest) = p.strip_prefix(',') else {
        return Err("comma expected".into());
    };
    let rest = rest.trim_start();
    let n = rest
        .bytes()
        .take_while(|c| c.is_ascii_alphanumeric() || fixed && *c == b'.')
        .count();
    let (value, after) = rest.split_at(n);
    if !(after.is_empty()
        || after.starts_with([',', ';'])
        || after.starts_with(char::is_whitespace))
    {
        return Err("comma or semicolon expected".into());
    }
    *p = after;
    let v = if fixed {
        read_fixed(value)
    } else {
        read_time(value, false)
    };
    Ok(v.unwrap_or(-1))
}

/// Parse one logical line of the retry section.
pub fn parse_rule(text: &str, span: super::Span) -> Result<RetryRule, String> {
    let (pattern, rest) = dequote(text.trim_start());
    let rest = rest.trim_start();
    let n = rest
        .bytes()
        .take_while(|c| c.is_ascii_graphic() || *c > 127)
        .count();
    if n == 0 {
        return Err("missing error type in retry rule".into());
    }
    let word = &rest[..n];
    let error = parse_error(word)?;
    let dns_timeout =
        error.kind == RetryErrorKind::Timeout && error.more == 0 && word.contains('_');
    let mut p = rest[n..].trim_start();
    let mut senders = None;
    if let Some(after) = p.strip_prefix("senders") {
        let Some(after) = after.trim_start().strip_prefix('=') else {
            return Err("\"=\" expected after \"senders\" in retry rule".into());
        };
        let (s, after) = dequote(after.trim_start());
        senders = Some(s);
        p = after;
    }
    p = p.trim_start();
    let mut steps = Vec::new();
    while let Some(letter) = p.chars().next() {
        p = &p[letter.len_utf8()..];
        let cutoff = step_arg(&mut p, false)?;
        let (kind, interval, factor_milli) = match letter.to_ascii_uppercase() {
            'F' => (StepKind::Fixed, step_arg(&mut p, false)?, 0),
            k @ ('G' | 'H') => {
                let interval = step_arg(&mut p, false)?;
                let factor = step_arg(&mut p, true)?;
                let kind = if k == 'G' {
                    StepKind::Geometric
                } else {
                    StepKind::Heuristic
                };
                (kind, interval, factor)
            }
            _ => return Err("unknown retry rule letter".into()),
        };
        if cutoff <= 0 || interval <= 0 || kind != StepKind::Fixed && factor_milli < 1000 {
            return Err("bad parameters for retry rule".into());
        }
        steps.push(RetryStep {
            kind,
            cutoff,
            interval,
            factor_milli,
        });
        p = p.trim_start();
        if let Some(after) = p.strip_prefix(';') {
            p = after.trim_start();
        } else if !p.is_empty() {
            return Err("semicolon expected".into());
        }
    }
    Ok(RetryRule {
        pattern,
        error,
        senders,
        steps,
        dns_timeout,
        span,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(s: &str) -> Result<RetryRule, String> {
        parse_rule(s, super::super::Span::default())
    }

    #[test]
    fn error_types() {
        let k = |s: &str| parse_error(s).map(|e| (e.kind, e.more));
        assert_eq!(k("*"), Ok((RetryErrorKind::Any, 0)));
        assert_eq!(k("quota_7d"), Ok((RetryErrorKind::Quota, 7 * 86400)));
        assert_eq!(k("refused_MX"), Ok((RetryErrorKind::Refused, 'M' as i32)));
        assert_eq!(k("refused_"), Ok((RetryErrorKind::Refused, 'M' as i32)));
        assert_eq!(
            k("timeout_connect_A"),
            Ok((RetryErrorKind::Timeout, CONNECT_TIMEOUT | 'A' as i32))
        );
        assert_eq!(k("rcpt_45x"), Ok((RetryErrorKind::Rcpt4xx, 150 << 8)));
        assert_eq!(k("MAIL_4xx"), Ok((RetryErrorKind::Data4xx, 255 << 8)));
        assert_eq!(k("auth_failed"), Ok((RetryErrorKind::AuthFailed, 0)));
        assert_eq!(k("lost"), Ok((RetryErrorKind::LostConnection, 0)));
        assert!(k("quota_x").is_err());
        assert!(k("rcpt_4").is_err());
        assert!(k("nosuch").is_err());
    }

    #[test]
    fn rules() {
        let r = rule("*.example  *  F,2h,15m; G,16h,1h,1.5; F,4d,6h").unwrap();
        assert_eq!(r.pattern, "*.example");
        assert_eq!(r.steps.len(), 3);
        assert_eq!(r.steps[1].factor_milli, 1500);
        assert_eq!(r.steps[2].cutoff, 4 * 86400);
        let r = rule("\"a b\" * senders = x@y F,1h,1m").unwrap();
        assert_eq!(
            (r.pattern.as_str(), r.senders.as_deref()),
            ("a b", Some("x@y"))
        );
        assert!(rule("* * G,1h,1m,0.5").is_err());
        assert!(rule("* * F,1h").is_err());
        assert!(rule("* * X,1h,1m").is_err());
        assert!(rule("*").is_err());
        assert!(rule("* * F,1h,1m F,2h,1m").is_err());
    }
}
