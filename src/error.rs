//! The expansion error type: Exim's three outcomes (forced failure, lookup defer, hard error).

use std::fmt;

use crate::expand::ast::Span;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// `fail` taken, `${acl}` deferred: callers may treat it as "unset".
    Forced,
    /// A lookup deferred (temporary failure).
    Defer,
    /// Everything else: syntax, unknown names, bad values, I/O, taint.
    Hard,
}

/// An expansion failure with Exim's message and, where known, the span at fault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpandError {
    pub kind: ErrorKind,
    pub message: String,
    pub span: Option<Span>,
}

impl ExpandError {
    pub fn hard(message: impl Into<String>) -> ExpandError {
        ExpandError {
            kind: ErrorKind::Hard,
            message: message.into(),
            span: None,
        }
    }

    pub fn forced(message: impl Into<String>) -> ExpandError {
        ExpandError {
            kind: ErrorKind::Forced,
            message: message.into(),
            span: None,
        }
    }

    pub fn defer(message: impl Into<String>) -> ExpandError {
        ExpandError {
            kind: ErrorKind::Defer,
            message: message.into(),
            span: None,
        }
    }

    pub fn at(mut self, span: Span) -> ExpandError {
        if self.span.is_none() {
            self.span = Some(span);
        }
        self
    }

    pub fn is_forced(&self) -> bool {
        self.kind == ErrorKind::Forced
    }
}

impl fmt::Display for ExpandError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ExpandError {}

/// Shorthand for builtins.
pub type ExpResult<T> = Result<T, ExpandError>;
