//! Lint family: problems found while loading (Exim's own errors) and expansion syntax errors.

use crate::config::{Config, ConfigError};
use crate::diag::{DiagLabel, Diagnostic, Severity};

/// Codes for loader messages, by the shape of Exim's wording (first match wins).
const CODES: &[(&str, &str)] = &[
    ("rewrite flag character", "bad-rewrite-rule"),
    ("rewrite replacement string", "bad-rewrite-rule"),
    ("rewrite rule has", "bad-rewrite-rule"),
    ("non-header rewrite", "bad-rewrite-rule"),
    ("have the same public name", "duplicate-name"),
    ("not found for", "undefined-router"),
    ("does not follow", "router-order"),
    ("only one of", "conflicting-options"),
    ("mutually exclusive", "conflicting-options"),
    ("both ", "conflicting-options"),
    ("not permitted with", "conflicting-options"),
    ("may not be used with", "conflicting-options"),
    ("not allowed on", "conflicting-options"),
    ("must not be set without", "conflicting-options"),
    ("no locking configured", "conflicting-options"),
    ("must be specified", "option-required"),
    ("must be set", "option-required"),
    ("user set without group", "option-required"),
    ("no public name", "option-required"),
    ("is already defined", "macro-redefined"),
    ("can't redefine an undefined macro", "macro-undefined"),
    ("cannot be defined as a macro", "macro-substring"),
    ("malformed macro definition", "macro-malformed"),
    ("macro name too long", "macro-malformed"),
    ("without matching .ifdef", "conditional-unmatched"),
    ("nested too deeply", "conditional-too-deep"),
    (".endif missing", "conditional-unterminated"),
    ("included configuration file", "include-missing"),
    ("non-absolute path", "include-relative"),
    ("main option \"", "unknown-option"),
    ("option \"", "unknown-option"),
    ("cannot find", "unknown-driver"),
    (
        "is not a known configuration section name",
        "unknown-section",
    ),
    ("section is repeated", "section-repeated"),
    ("set for the second time", "option-repeated"),
    ("negation prefix", "bad-negation"),
    ("no driver defined", "driver-missing"),
    ("name missing", "driver-name-missing"),
    ("there are two", "duplicate-name"),
    ("duplicate name", "duplicate-name"),
    ("transport is required", "transport-required"),
    ("transport must not be defined", "transport-forbidden"),
    ("was not found", "unknown-user-or-group"),
    ("missing quote", "unterminated-string"),
    ("extra characters", "extra-characters"),
    ("BOM", "byte-order-mark"),
    ("retry rule", "bad-retry-rule"),
    ("retry error", "bad-retry-rule"),
    ("expected after \"refused\"", "bad-retry-rule"),
    ("expected after \"timeout\"", "bad-retry-rule"),
    ("must be followed by xx", "bad-retry-rule"),
    ("bad time value", "bad-retry-rule"),
    ("comma expected", "bad-retry-rule"),
    ("semicolon expected", "bad-retry-rule"),
];

fn code_for(e: &ConfigError) -> &'static str {
    CODES
        .iter()
        .find(|(pat, _)| e.message.contains(pat))
        .map(|(_, c)| *c)
        .unwrap_or("bad-value")
}

fn diag(e: &ConfigError, code: &'static str, label: &str) -> Diagnostic {
    Diagnostic {
        code,
        severity: Severity::Error,
        message: e.message.clone(),
        labels: e
            .span
            .iter()
            .map(|s| DiagLabel {
                span: *s,
                message: label.to_string(),
            })
            .collect(),
    }
}

pub fn check(cfg: &Config, out: &mut Vec<Diagnostic>) {
    for e in &cfg.errors {
        out.push(diag(e, code_for(e), "here"));
    }
    for e in &cfg.expansion_errors {
        if e.message.contains("not supported by rexim") {
            let mut d = diag(e, "unsupported-by-rexim", "rexim cannot expand this");
            d.severity = Severity::Warning;
            out.push(d);
        } else {
            out.push(diag(e, "expansion-syntax", "this value fails to expand"));
        }
    }
}
