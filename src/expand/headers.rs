//! `$h_`, `$bh_`, `$rh_` and `$lh_` header variables.

use crate::expand::ast::{HeaderKind, HeaderRef};
use crate::expand::context::Context;
use crate::expand::value::Val;

/// Headers whose values are address lists: joined with ",\n" rather than "\n".
const ADDRESS_HEADERS: &[&str] = &["bcc", "cc", "from", "reply-to", "sender", "to"];

/// Whether any header of that name exists (`def:h_name:`).
pub fn exists(ctx: &Context, h: &HeaderRef) -> bool {
    ctx.message
        .as_ref()
        .is_some_and(|m| m.find(&h.name).next().is_some())
}

/// The value of a header variable; `None` when no such header exists.
pub fn value(ctx: &Context, h: &HeaderRef) -> Option<Val> {
    let msg = ctx.message.as_ref()?;
    let found: Vec<&[u8]> = msg.find(&h.name).map(|hd| hd.raw_value()).collect();
    if found.is_empty() {
        return None;
    }
    let bytes = match h.kind {
        HeaderKind::Raw => found.concat(),
        HeaderKind::List => {
            let mut out = Vec::new();
            for (i, v) in found.iter().enumerate() {
                if i > 0 {
                    out.push(b':');
                }
                let v = v.strip_suffix(b"\n").unwrap_or(v);
                for &c in v {
                    if c == b':' {
                        out.push(b':');
                    }
                    out.push(c);
                }
            }
            out
        }
        HeaderKind::Decoded | HeaderKind::Basic => {
            let name = h.name.trim_end_matches(':').to_ascii_lowercase();
            let sep: &[u8] = if ADDRESS_HEADERS.contains(&name.as_str()) {
                b",\n"
            } else {
                b"\n"
            };
            let mut out = Vec::new();
            let mut first = true;
            for v in found {
                let t = trim_value(v);
                if t.is_empty() {
                    continue;
                }
                if !first {
                    out.extend_from_slice(sep);
                }
                first = false;
                out.extend_from_slice(t);
            }
            crate::expand::operators::rfc2047::decode(&out, h.kind == HeaderKind::Decoded)
        }
    };
    Some(Val::tainted(bytes))
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
