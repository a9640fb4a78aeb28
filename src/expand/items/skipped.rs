//! Checks Exim 4.96 makes even in an unselected branch: `sg` compiles its regex (and
//! re-expands its replacement on a match) and `listextract` checks its field number.
//! While skipping, variables, operators and other items give nothing, so the checks
//! see the arguments' literal text. The parser stores what they find as the item's
//! static errors, which only a skipped item raises (a running item finds the same
//! errors itself).

use std::sync::Arc;

use crate::expand::ast::{Node, Seq, Tail};
use crate::expand::items::Preparsed;
use crate::expand::regex;
use crate::ExpandError;

/// What skipping leaves of an argument: its literal text.
fn literal_text(s: &Seq) -> Vec<u8> {
    let mut out = Vec::new();
    for n in &s.nodes {
        if let Node::Text(t) = n {
            out.extend_from_slice(t);
        }
    }
    out
}

/// `${sg}` in a skipped branch: `${if eq{1}{2}{${sg{a}{(}{b}}}}` fails on the regex.
/// Runs after all three arguments are read, as Exim's `read_subs` does. `pre` holds the
/// pattern and replacement the item already compiled and parsed, when they are literal.
pub fn check_sg(args: &[Seq], pre: &Preparsed, tail: &mut Tail) {
    if tail.after.is_some() || args.iter().any(|a| a.static_err.is_some()) {
        return;
    }
    let [subject, pattern, replacement] = args else {
        return;
    };
    let re = match &pre.regex {
        Some(re) => re.clone(),
        None => match regex::compile(&literal_text(pattern), false) {
            Ok(re) => re,
            Err(e) => {
                tail.after = Some(Arc::new(e));
                return;
            }
        },
    };
    // On a match Exim expands the replacement for real: its syntax errors count. Only
    // a replacement with such an error needs the match tried.
    let reparsed;
    let replacement = match &pre.expansion {
        Some(parsed) => parsed.as_ref(),
        None => {
            let text = String::from_utf8_lossy(&literal_text(replacement)).into_owned();
            reparsed = crate::expand::parse::parse(&text);
            &reparsed
        }
    };
    if let Some(e) = replacement.static_error() {
        if re.is_match(&literal_text(subject)).unwrap_or(false) {
            tail.after = Some(Arc::new(ExpandError::hard(e.message.clone())));
        }
    }
}

/// `${listextract}` in a skipped branch: a field number that is not numeric fails
/// (an empty one does not). Checked right after the first argument is read.
pub fn check_listextract(name: &str, first: &mut Seq) {
    if name != "listextract" || first.static_err.is_some() {
        return;
    }
    let text = literal_text(first);
    let t = text.trim_ascii();
    let digits = t.strip_prefix(b"-").unwrap_or(t);
    if !digits.iter().all(u8::is_ascii_digit) {
        first.static_err = Some(Arc::new(ExpandError::hard(
            "first argument of \"listextract\" must be numeric",
        )));
    }
}
