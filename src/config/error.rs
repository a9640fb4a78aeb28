//! Configuration errors: Exim's wording, with a span (file id + byte range) for each.

use std::fmt;

/// A byte range in one of the loaded files (`Config::files[file]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Span {
    pub file: u32,
    pub start: u32,
    pub end: u32,
}

/// One problem found while loading; loading continues after it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigError {
    pub message: String,
    pub span: Option<Span>,
    /// `Some((line, file))` when Exim says "in line N of FILE".
    pub location: Option<(u32, String)>,
}

impl ConfigError {
    pub fn in_line(message: String, span: Span, line: u32, file: String) -> ConfigError {
        ConfigError {
            message,
            span: Some(span),
            location: Some((line, file)),
        }
    }

    /// An error Exim reports without a line number (macro definitions, driver checks).
    pub fn general(message: String, span: Option<Span>) -> ConfigError {
        ConfigError {
            message,
            span,
            location: None,
        }
    }

    /// The text Exim writes to stderr when it dies on this error.
    pub fn exim_text(&self) -> String {
        match &self.location {
            Some((line, file)) => format!(
                "LOG: PANIC DIE\n  Exim configuration error in line {line} of {file}:\n  {}\n",
                self.message
            ),
            None => format!(
                "LOG: PANIC DIE\n  Exim configuration error:\n  {}\n",
                self.message
            ),
        }
    }
}

impl ConfigError {
    /// The text Exim writes when its debug output is off (`-bP config`, `-be`): a log line
    /// with a timestamp.
    pub fn exim_log_text(&self, timestamp: &str) -> String {
        match &self.location {
            Some((line, file)) => format!(
                "{timestamp} Exim configuration error in line {line} of {file}:\n  {}\n",
                self.message
            ),
            None => format!(
                "{timestamp} Exim configuration error:\n  {}\n",
                self.message
            ),
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.location {
            Some((line, file)) => write!(f, "line {line} of {file}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}
