//! Parsing expansions into the typed AST. Two front ends feed one builder:
//! the pest grammar (`grammar/expansion.pest`, the reference, used by lint and
//! to check the other) and a hand-written scanner for speed (`-be` parses every
//! line). A test requires both to behave identically on every fixture.

mod build;
mod fast_front;
mod pest_front;

use std::sync::Arc;

use crate::error::ExpandError;
use crate::expand::ast::{Expansion, Node, Seq, Span};

/// Parse an expansion string. Never fails: syntax errors become error nodes
/// that are raised, in Exim's order, when evaluation reaches them (see
/// [`Expansion::static_error`] to check up front).
pub fn parse(source: &str) -> Expansion {
    parse_with(source, fast_front::parse_body)
}

/// Parse with the pest grammar (the reference implementation).
pub fn parse_reference(source: &str) -> Expansion {
    parse_with(source, pest_front::parse_body)
}

fn parse_with(source: &str, front: fn(&str) -> Seq) -> Expansion {
    let source: Arc<str> = Arc::from(source);
    let body = if !source.contains(['$', '\\']) {
        // Exim's fast path: nothing to expand.
        let nodes = if source.is_empty() {
            Vec::new()
        } else {
            vec![Node::Text(source.as_bytes().into())]
        };
        Seq::new(nodes, Span::new(0, source.len()))
    } else {
        front(&source)
    };
    Expansion { source, body }
}

/// Parse and fail on any error that Exim would report even in a skipped branch.
pub fn parse_checked(source: &str) -> Result<Expansion, ExpandError> {
    let e = parse(source);
    match e.static_error() {
        Some(err) => Err(err.clone()),
        None => Ok(e),
    }
}
