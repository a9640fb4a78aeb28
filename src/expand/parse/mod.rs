//! Parsing expansions into the typed AST. Two front ends feed one builder:
//! the pest grammar (`grammar/expansion.pest`, the reference, used by lint and
//! to check the other) and a hand-written scanner for speed (`-be` parses every
//! line). A test requires both to behave identically on every fixture.

mod build;
mod fast_front;
mod pest_front;
mod pieces;

use std::sync::Arc;

use crate::error::ExpandError;
use crate::expand::ast::{Expansion, Node, Seq, Span, Text};

/// Parse an expansion string. Never fails: syntax errors become error nodes
/// that are raised, in Exim's order, when evaluation reaches them (see
/// [`Expansion::static_error`] to check up front).
pub fn parse(source: &str) -> Expansion {
    // No pre-scans: for text with nothing to expand the scanner makes the same single
    // piece, and it keeps its own stack deep enough (see `fast_front::STACK_STEP`).
    let source: Arc<str> = Arc::from(source);
    // The same allocation, seen as bytes.
    let shared: Arc<[u8]> = Arc::from(source.clone());
    let body = fast_front::parse_body(&source, Some(&shared));
    Expansion { source, body }
}

/// Parse with the pest grammar (the reference implementation).
pub fn parse_reference(source: &str) -> Expansion {
    parse_with(source, |s, _| pest_front::parse_body(s))
}

/// `front` gets the source as text and as the shared buffer its text pieces may point into.
fn parse_with(source: &str, front: impl Fn(&str, &Arc<[u8]>) -> Seq) -> Expansion {
    let source: Arc<str> = Arc::from(source);
    // The same allocation, seen as bytes.
    let shared: Arc<[u8]> = Arc::from(source.clone());
    let body = if !needs_parsing(source.as_bytes()) {
        // Exim's fast path: nothing to expand.
        let nodes = if source.is_empty() {
            Vec::new()
        } else {
            vec![Node::Text(Text::shared(&shared, 0, source.len()))]
        };
        Seq::new(nodes, Span::new(0, source.len()))
    } else {
        // Deep input is parsed on a stack big enough for the recursion; the scanner
        // itself refuses nesting deeper than MAX_PARSE_NESTING.
        if may_nest_deeper_than(source.as_bytes(), 32) {
            stacker::grow(64 << 20, || front(&source, &shared))
        } else {
            front(&source, &shared)
        }
    };
    Expansion { source, body }
}

/// Parse bytes that need not be UTF-8 (Exim strings are bytes; `-be` input may be Latin-1).
/// Bytes that are not valid UTF-8 travel through the scanner as private-use stand-in
/// characters and are mapped back in the text they end up in.
pub fn parse_bytes(source: &[u8]) -> Expansion {
    match std::str::from_utf8(source) {
        Ok(s) => parse(s),
        Err(_) => {
            let mapped = map_bytes(source);
            let body = fast_front::parse_body_mapped(&mapped, true, None);
            Expansion {
                source: Arc::from(mapped.as_str()),
                body,
            }
        }
    }
}

/// First stand-in code point: U+10FF00 + byte (plane 16 private use).
const STAND_IN_BASE: u32 = 0x10FF00;

fn map_bytes(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() + 16);
    let mut rest = bytes;
    loop {
        match std::str::from_utf8(rest) {
            Ok(s) => {
                out.push_str(s);
                return out;
            }
            Err(e) => {
                let (good, bad) = rest.split_at(e.valid_up_to());
                out.push_str(std::str::from_utf8(good).unwrap_or(""));
                let n = e.error_len().unwrap_or(bad.len()).max(1);
                for &b in &bad[..n] {
                    out.push(char::from_u32(STAND_IN_BASE + b as u32).unwrap_or('?'));
                }
                rest = &bad[n..];
            }
        }
    }
}

/// Replace stand-in characters in parsed text by the bytes they stand for.
pub(crate) fn unmap_bytes(text: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len());
    let mut i = 0;
    while i < text.len() {
        if text[i] == 0xF4 && text.len() >= i + 4 {
            if let Some(c) = std::str::from_utf8(&text[i..i + 4])
                .ok()
                .and_then(|s| s.chars().next())
            {
                let cp = c as u32;
                if (STAND_IN_BASE..STAND_IN_BASE + 0x100).contains(&cp) {
                    out.push((cp - STAND_IN_BASE) as u8);
                    i += 4;
                    continue;
                }
            }
        }
        out.push(text[i]);
        i += 1;
    }
    out
}

/// Parse and fail on any error that Exim would report even in a skipped branch.
pub fn parse_checked(source: &str) -> Result<Expansion, ExpandError> {
    let e = parse(source);
    match e.static_error() {
        Some(err) => Err(err.clone()),
        None => Ok(e),
    }
}

/// Deepest nesting of sequences and conditions the scanner follows (far beyond any real
/// configuration; keeps hostile input from exhausting the stack).
pub const MAX_PARSE_NESTING: usize = 1000;

/// Whether the text holds a `$` or `\\` (else it expands to itself).
fn needs_parsing(s: &[u8]) -> bool {
    memchr::memchr2(b'$', b'\\', s).is_some()
}

/// Whether `{` may nest deeper than `limit` (the exact depth is computed only when the
/// text holds that many braces at all, which ordinary expansions do not).
fn may_nest_deeper_than(s: &[u8], limit: usize) -> bool {
    // Counted in byte lanes, 255 bytes at a time (no lane can overflow).
    let braces: usize = s
        .chunks(255)
        .map(|chunk| chunk.iter().fold(0u8, |n, &c| n + u8::from(c == b'{')) as usize)
        .sum();
    braces > limit && brace_depth(s) > limit
}

/// The deepest nesting of `{` in the text, ignoring escaped braces and `\N...\N`.
fn brace_depth(s: &[u8]) -> usize {
    let (mut depth, mut max, mut i) = (0usize, 0usize, 0usize);
    while let Some(&c) = s.get(i) {
        match c {
            b'\\' if s.get(i + 1) == Some(&b'N') => {
                i += 2;
                while i < s.len() && !s[i..].starts_with(b"\\N") {
                    i += 1;
                }
                i += 1;
            }
            b'\\' => i += 1,
            b'{' => {
                depth += 1;
                max = max.max(depth);
            }
            b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
        i += 1;
    }
    max
}

#[cfg(test)]
mod tests {
    use crate::expand::ast::{Node, Seq};

    fn texts(s: &Seq) -> Vec<&crate::expand::ast::Text> {
        s.nodes
            .iter()
            .filter_map(|n| match n {
                Node::Text(t) => Some(t),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn deep_nesting_parses_on_a_small_stack() {
        // The scanner grows its own stack: 999 levels of operators, items and conditions
        // parse on a thread with 512 KiB (an overflow would abort the test run).
        let n = 999;
        let ops = format!("{}x{}", "${lc:".repeat(n), "}".repeat(n));
        let items = format!("{}x{}", "${length{1}{".repeat(n), "}}".repeat(n));
        // Each `and{{` is two levels (the condition and its group).
        let conds = format!(
            "${{if {}eq{{a}}{{a}}{} {{y}}{{n}}}}",
            "and{{".repeat(n / 2),
            "}}".repeat(n / 2)
        );
        let over = format!("{}x{}", "${lc:".repeat(1200), "}".repeat(1200));
        std::thread::Builder::new()
            .stack_size(512 << 10)
            .spawn(move || {
                for text in [&ops, &items, &conds] {
                    let e = super::parse(text);
                    assert!(e.static_error().is_none(), "{:?}", e.static_error());
                }
                let e = super::parse(&over);
                let err = e.static_error().expect("nesting limit");
                assert!(
                    err.message.contains("nesting deeper than"),
                    "{}",
                    err.message
                );
            })
            .unwrap()
            .join()
            .unwrap();
    }

    #[test]
    fn verbatim_text_is_a_range_of_the_source() {
        let e = super::parse("ab ${lc:X} c\\td");
        let src = e.source().as_bytes();
        let t = texts(&e.body);
        assert_eq!(t.len(), 2);
        assert_eq!(&t[0][..], b"ab ");
        assert!(
            t[0].is_range_of(src),
            "verbatim text points into the source"
        );
        // Text with an escape is not a slice of the source: it has its own buffer.
        assert_eq!(&t[1][..], b" c\td");
        assert!(!t[1].is_range_of(src));
        let literal = super::parse("no dollars here");
        assert!(texts(&literal.body)[0].is_range_of(literal.source().as_bytes()));
        // The reference front end copies; both give the same text.
        let r = super::parse_reference("ab ${lc:X} c\\td");
        assert_eq!(&texts(&r.body)[0][..], b"ab ");
    }
}
