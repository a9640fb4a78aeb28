//! Lint family: the retry and rewrite sections beyond what Exim checks at load time.

use crate::config::retry::RetryErrorKind;
use crate::config::{Config, Span};
use crate::diag::{DiagLabel, Diagnostic, Severity};

fn diag(
    code: &'static str,
    severity: Severity,
    message: String,
    span: Span,
    label: &str,
) -> Diagnostic {
    Diagnostic {
        code,
        severity,
        message,
        labels: vec![DiagLabel {
            span,
            message: label.into(),
        }],
    }
}

/// A `^regex` pattern without expansion text: it must compile (Exim finds out at the first
/// message it rewrites).
fn regex_problem(pattern: &str) -> Option<String> {
    let p = pattern
        .strip_prefix("\\N")
        .map(|p| p.strip_suffix("\\N").unwrap_or(p))
        .unwrap_or(pattern);
    let unwrapped = pattern == p;
    if !p.starts_with('^') || unwrapped && p.trim_end_matches('$').contains('$') {
        return None;
    }
    crate::expand::regex::compile(p.as_bytes(), false)
        .err()
        .map(|e| e.into_message())
}

pub fn check(cfg: &Config, out: &mut Vec<Diagnostic>) {
    // Retry rules are tried in order; one matching every domain and error, for every
    // sender, leaves the rules after it unused.
    if let Some(all) = cfg.retry.iter().position(|r| {
        r.pattern == "*" && r.error.kind == RetryErrorKind::Any && r.senders.is_none()
    }) {
        for r in &cfg.retry[all + 1..] {
            out.push(diag(
                "retry-rule-unreachable",
                Severity::Warning,
                format!(
                    "retry rule for \"{}\" follows a rule matching everything",
                    r.pattern
                ),
                r.span,
                "never used",
            ));
        }
    }
    for r in &cfg.retry {
        if r.dns_timeout {
            out.push(diag(
                "deprecated-option",
                Severity::Warning,
                "\"timeout_dns\" is no longer available in retry rules (it never worked): it is treated as \"timeout\"; use \"timeout\"".into(),
                r.span,
                "obsolete error type",
            ));
        }
    }
    let patterns = cfg
        .retry
        .iter()
        .map(|r| ("retry", &r.pattern, r.span))
        .chain(cfg.rewrite.iter().map(|r| ("rewrite", &r.pattern, r.span)));
    for (section, pattern, span) in patterns {
        // Exim expands the pattern before matching; one that cannot expand never matches.
        if let Some(e) = crate::expand::parse(pattern).static_error() {
            let hint = if pattern.starts_with('^') {
                " (write a regex as \\N^...\\N)"
            } else {
                ""
            };
            out.push(diag(
                "pattern-never-matches",
                Severity::Error,
                format!(
                    "{section} pattern \"{pattern}\" fails to expand: {}{hint}",
                    e.message
                ),
                span,
                "this rule never applies",
            ));
        }
    }
    for r in &cfg.rewrite {
        if let Some(msg) = regex_problem(&r.pattern) {
            out.push(diag(
                "rewrite-bad-regex",
                Severity::Error,
                format!("rewrite pattern \"{}\": {msg}", r.pattern),
                r.span,
                "this regular expression does not compile",
            ));
        }
    }
}
