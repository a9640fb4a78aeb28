//! `$h_`, `$bh_`, `$rh_` and `$lh_` header variables, and `$message_headers(_raw)`.

use crate::expand::ast::{HeaderKind, HeaderRef};
use crate::expand::context::Context;
use crate::expand::message::Header;
use crate::expand::operators::rfc2047;
use crate::expand::value::Val;

/// Headers whose values are address lists: joined with ",\n" rather than "\n"
/// (Exim's header types B C F R S T; the `Resent-` forms count except Resent-Reply-To).
pub const ADDRESS_HEADERS: &[&str] = &[
    "bcc",
    "cc",
    "from",
    "reply-to",
    "resent-bcc",
    "resent-cc",
    "resent-from",
    "resent-sender",
    "resent-to",
    "sender",
    "to",
];

/// Exim's `header_insert_maxlen`: the most header text one variable gathers.
pub const HEADER_INSERT_MAXLEN: usize = 64 * 1024;

/// Whether any header of that name exists (`def:h_name:`).
pub fn exists(ctx: &Context, h: &HeaderRef) -> bool {
    ctx.message
        .as_ref()
        .is_some_and(|m| m.find(&h.name).next().is_some())
}

/// The value of a header variable; `None` when no such header exists.
/// `$h_to:` gives every `To:` header, white space trimmed, joined by ",\n".
pub fn value(ctx: &Context, h: &HeaderRef) -> Option<Val> {
    let msg = ctx.message.as_ref()?;
    let found: Vec<&[u8]> = msg.find(&h.name).map(|hd| hd.raw_value()).collect();
    if found.is_empty() {
        return None;
    }
    let bytes = match h.kind {
        HeaderKind::Raw => raw(found.iter().copied()),
        HeaderKind::List => list(&found),
        HeaderKind::Decoded | HeaderKind::Basic => {
            let name = h.name.trim_end_matches(':').to_ascii_lowercase();
            let sep: &[u8] = if ADDRESS_HEADERS.contains(&name.as_str()) {
                b",\n"
            } else {
                b"\n"
            };
            let joined = joined(found.iter().copied(), sep);
            let translate = (h.kind == HeaderKind::Decoded).then_some("UTF-8");
            match rfc2047::decode2(&joined, true, translate, b'?') {
                // Exim 4.96 as patched by Debian (deb12u11, header-decode fix) keeps the
                // whole header undecoded when a charset cannot be translated.
                (_, Some(_)) => joined,
                (decoded, None) => decoded,
            }
        }
    };
    Some(Val::tainted(bytes))
}

/// `$message_headers` (whole header lines, trimmed, joined by newlines, RFC 2047
/// decoded without charset translation) or `$message_headers_raw` (as received).
/// Without a message both are empty.
pub fn all(ctx: &Context, want_raw: bool) -> Val {
    let Some(msg) = ctx.message.as_ref() else {
        return Val::tainted(Vec::new());
    };
    let lines = msg.headers.iter().map(Header::text);
    let bytes = if want_raw {
        raw(lines)
    } else {
        rfc2047::decode(&joined(lines, b"\n"), false)
    };
    Val::tainted(bytes)
}

/// How much of `inc` more bytes still fits under the cap.
fn room(have: usize, inc: usize) -> usize {
    inc.min(HEADER_INSERT_MAXLEN.saturating_sub(have))
}

/// Concatenated raw text, capped.
fn raw<'a>(parts: impl Iterator<Item = &'a [u8]>) -> Vec<u8> {
    let mut out = Vec::new();
    for p in parts {
        let n = room(out.len(), p.len());
        out.extend_from_slice(&p[..n]);
        if out.len() >= HEADER_INSERT_MAXLEN {
            break;
        }
    }
    out
}

/// Each value with trailing newlines removed, as a colon list (colons doubled), capped.
fn list(parts: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, v) in parts.iter().enumerate() {
        let mut v: &[u8] = v;
        while let Some(rest) = v.strip_suffix(b"\n") {
            v = rest;
        }
        let v = &v[..room(out.len(), v.len())];
        if i > 0 {
            out.push(b':');
        }
        for &c in v {
            if c == b':' {
                out.push(b':');
            }
            out.push(c);
        }
        if out.len() >= HEADER_INSERT_MAXLEN {
            break;
        }
    }
    out
}

/// Trimmed, non-empty values joined by `sep`, capped.
fn joined<'a>(parts: impl Iterator<Item = &'a [u8]>, sep: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for v in parts {
        let t = trim_value(v);
        let t = &t[..room(out.len(), t.len())];
        if !t.is_empty() {
            if !out.is_empty() {
                out.extend_from_slice(sep);
            }
            out.extend_from_slice(t);
        }
        if out.len() >= HEADER_INSERT_MAXLEN {
            break;
        }
    }
    out
}

/// Skip leading whitespace after the colon and trailing whitespace/newline.
fn trim_value(v: &[u8]) -> &[u8] {
    let start = v
        .iter()
        .position(|c| !c.is_ascii_whitespace())
        .unwrap_or(v.len());
    let end = v
        .iter()
        .rposition(|c| !c.is_ascii_whitespace())
        .map(|i| i + 1)
        .unwrap_or(start);
    &v[start..end.max(start)]
}
