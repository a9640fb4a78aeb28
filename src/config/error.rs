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
    /// Exim logs it as `PANIC DIE` (false for macro definition errors: `PANIC`, then exit).
    pub die: bool,
    /// `Some(x)` when Exim says "error for x" (e.g. `r1 router`).
    pub about: Option<String>,
    /// Logged to the main log without the "Exim configuration error" heading.
    pub main_log: bool,
}

impl ConfigError {
    pub fn in_line(message: String, span: Span, line: u32, file: String) -> ConfigError {
        ConfigError {
            message,
            span: Some(span),
            location: Some((line, file)),
            die: true,
            about: None,
            main_log: false,
        }
    }

    /// An error Exim reports without a line number (driver checks).
    pub fn general(message: String, span: Option<Span>) -> ConfigError {
        ConfigError {
            message,
            span,
            location: None,
            die: true,
            about: None,
            main_log: false,
        }
    }

    /// A macro definition error (`-bP` shows it as `LOG: PANIC`).
    pub fn macro_error(
        message: String,
        span: Span,
        location: Option<(u32, String)>,
    ) -> ConfigError {
        ConfigError {
            message,
            span: Some(span),
            location,
            die: false,
            about: None,
            main_log: false,
        }
    }

    /// An error Exim reports "for" a driver (`Exim configuration error for r1 router:`).
    pub fn about(message: String, span: Option<Span>, about: String) -> ConfigError {
        ConfigError {
            message,
            span,
            location: None,
            die: true,
            about: Some(about),
            main_log: false,
        }
    }

    /// An error Exim writes to its main log as is (`failed to expand spool_directory ...`).
    pub fn main_log(message: String) -> ConfigError {
        ConfigError {
            message,
            span: None,
            location: None,
            die: true,
            about: None,
            main_log: true,
        }
    }

    fn heading(&self) -> String {
        match (&self.location, &self.about) {
            (Some((line, file)), _) => {
                format!("Exim configuration error in line {line} of {file}:")
            }
            (None, Some(a)) => format!("Exim configuration error for {a}:"),
            (None, None) => "Exim configuration error:".to_string(),
        }
    }

    /// A panic-log warning: Exim logs it and carries on (`timeout_dns` in a retry rule).
    pub fn warning(message: String, span: Option<Span>) -> ConfigError {
        ConfigError {
            message,
            span,
            location: None,
            die: false,
            about: None,
            main_log: true,
        }
    }

    /// The text Exim writes to stderr when it stops on this error under `-bP`.
    pub fn exim_text(&self) -> String {
        if self.main_log {
            let die = if self.die { " DIE" } else { "" };
            return format!("LOG: MAIN PANIC{die}\n  {}\n", self.message);
        }
        let head = if self.die {
            "LOG: PANIC DIE"
        } else {
            "LOG: PANIC"
        };
        format!("{head}\n  {}\n  {}\n", self.heading(), self.message)
    }

    /// The text Exim writes when its debug output is off (`-bP config`, `-be`): a log line
    /// with a timestamp.
    pub fn exim_log_text(&self, timestamp: &str) -> String {
        if self.main_log {
            return format!("{timestamp} {}\n", self.message);
        }
        format!("{timestamp} {}\n  {}\n", self.heading(), self.message)
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
