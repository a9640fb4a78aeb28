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

/// An expansion failure with Exim's message and, where known, the span at fault. Boxed:
/// every builtin returns a `Result` with it, and a pointer-sized error keeps those results
/// in registers on the (common) success path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpandError(Box<ErrorDetail>);

/// What an [`ExpandError`] says (its fields are read through the error itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorDetail {
    pub kind: ErrorKind,
    pub message: String,
    pub span: Option<Span>,
}

impl std::ops::Deref for ExpandError {
    type Target = ErrorDetail;
    fn deref(&self) -> &ErrorDetail {
        &self.0
    }
}

impl std::ops::DerefMut for ExpandError {
    fn deref_mut(&mut self) -> &mut ErrorDetail {
        &mut self.0
    }
}

impl ExpandError {
    /// An error of `kind` saying `message`, with no span yet.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> ExpandError {
        ExpandError(Box::new(ErrorDetail {
            kind,
            message: message.into(),
            span: None,
        }))
    }

    pub fn hard(message: impl Into<String>) -> ExpandError {
        ExpandError::new(ErrorKind::Hard, message)
    }

    pub fn forced(message: impl Into<String>) -> ExpandError {
        ExpandError::new(ErrorKind::Forced, message)
    }

    pub fn defer(message: impl Into<String>) -> ExpandError {
        ExpandError::new(ErrorKind::Defer, message)
    }

    pub fn at(mut self, span: Span) -> ExpandError {
        if self.span.is_none() {
            self.span = Some(span);
        }
        self
    }

    /// The message, taken out of the error.
    pub fn into_message(self) -> String {
        self.0.message
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
