//! `${extract}` (keyed, numbered, `json`, `jsons`) and `${listextract}`.

use crate::error::{ExpResult, ExpandError};
use crate::expand::ast::{ItemMode, ItemNode};
use crate::expand::eval::Eval;
use crate::expand::json_text::{dewrap, json_next};
use crate::expand::lists;
use crate::expand::value::Val;

fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

fn trim(b: &[u8]) -> &[u8] {
    let start = b.iter().position(|&c| !is_space(c)).unwrap_or(b.len());
    let end = b
        .iter()
        .rposition(|&c| !is_space(c))
        .map_or(start, |e| e + 1);
    &b[start..end.max(start)]
}

/// An optional `-` then digits only: Exim's test for a field number (C `int` arithmetic).
fn field_number(b: &[u8]) -> Option<i32> {
    let (neg, digits) = match b.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, b),
    };
    if !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let x = digits.iter().fold(0i32, |x, &d| {
        x.wrapping_mul(10).wrapping_add((d - b'0') as i32)
    });
    Some(if neg { x.wrapping_neg() } else { x })
}

/// `${extract{b}{a=1 b=2}}` gives `2`; `${extract{2}{:}{a:b:c}}` gives `b`;
/// `${extract json{a}{\{"a":1\}}}` gives `1`.
pub fn extract(ev: &mut Eval, node: &ItemNode, out: &mut Val) -> ExpResult<()> {
    let key = ev.seq(&node.args[0])?;
    let k = trim(&key.bytes);
    if k.is_empty() {
        return Err(ExpandError::hard(
            "first argument of \"extract\" must not be empty",
        ));
    }
    let number = field_number(k);
    let json = matches!(node.mode, ItemMode::Json | ItemMode::Jsons);
    let (found, tail) = if json {
        let data = ev.seq(&node.args[1])?;
        let v = json_extract(k, number, &data.bytes, node.mode == ItemMode::Jsons)?;
        (v.map(|v| data.derive(v)), &node.tail)
    } else if let Some(n) = number {
        let seps = ev.seq(&node.args[1])?;
        let Some(tail) = node.tail_alt.as_deref().filter(|_| node.args.len() >= 3) else {
            return Err(ExpandError::hard("missing '{' for arg 3 of extract"));
        };
        let data = ev.seq(&node.args[2])?;
        let v = tokened(n, &seps.bytes, &data.bytes).map(|v| data.derive(v));
        ev.recycle(seps);
        ev.recycle(data);
        (v, tail)
    } else {
        let data = ev.seq(&node.args[1])?;
        let v = keyed(k, &data.bytes).map(|v| data.derive(v));
        ev.recycle(data);
        (v, &node.tail)
    };
    ev.recycle(key);
    let saved_caps = ev.captures.clone();
    let r = ev.tail_value(tail, found, "extract", out);
    ev.captures = saved_caps;
    r
}

/// Field `n` of `s` split on any byte of `seps` (0 = all, negative counts from the end).
fn tokened(n: i32, seps: &[u8], s: &[u8]) -> Option<Vec<u8>> {
    if n == 0 {
        return Some(s.to_vec());
    }
    let fields: Vec<&[u8]> = s.split(|c| seps.contains(c)).collect();
    let idx = if n > 0 {
        usize::try_from(n).ok()?.checked_sub(1)?
    } else {
        fields
            .len()
            .checked_sub(usize::try_from(n.unsigned_abs()).ok()?)?
    };
    fields.get(idx).map(|f| f.to_vec())
}

/// Exim's `string_dequote`: a `"quoted"` value with escapes, or a run of non-space bytes.
fn dequote(s: &[u8], pos: &mut usize) -> Vec<u8> {
    let mut out = Vec::new();
    if s.get(*pos) != Some(&b'"') {
        while *pos < s.len() && !is_space(s[*pos]) {
            out.push(s[*pos]);
            *pos += 1;
        }
        return out;
    }
    *pos += 1;
    while *pos < s.len() && s[*pos] != b'"' {
        if s[*pos] == b'\\' && *pos + 1 < s.len() {
            let (c, used) = crate::expand::escape::unescape_one(&s[*pos + 1..]);
            out.push(c);
            *pos += 1 + used;
        } else {
            out.push(s[*pos]);
            *pos += 1;
        }
    }
    if *pos < s.len() {
        *pos += 1;
    }
    out
}

/// `key=value` pairs (`=` optional, values may be quoted); the key compares caselessly.
fn keyed(key: &[u8], s: &[u8]) -> Option<Vec<u8>> {
    let mut pos = s.iter().position(|&c| !is_space(c)).unwrap_or(s.len());
    while pos < s.len() {
        let kstart = pos;
        while pos < s.len() && s[pos] != b'=' && !is_space(s[pos]) {
            pos += 1;
        }
        let dkey = &s[kstart..pos];
        while pos < s.len() && is_space(s[pos]) {
            pos += 1;
        }
        if s.get(pos) == Some(&b'=') {
            pos += 1;
            while pos < s.len() && is_space(s[pos]) {
                pos += 1;
            }
        }
        let data = dequote(s, &mut pos);
        if dkey.eq_ignore_ascii_case(key) {
            return Some(data);
        }
        while pos < s.len() && is_space(s[pos]) {
            pos += 1;
        }
    }
    None
}

fn json_extract(
    key: &[u8],
    number: Option<i32>,
    data: &[u8],
    strip: bool,
) -> ExpResult<Option<Vec<u8>>> {
    let what = if number.is_some() { "array" } else { "object" };
    let (open, close) = if number.is_some() {
        (b'[', b']')
    } else {
        (b'{', b'}')
    };
    let mut list = dewrap(data, open, close)
        .map_err(|m| ExpandError::hard(format!("{m} wrapping {what} for extract json")))?;
    let found: Option<Vec<u8>> = match number {
        Some(n) => {
            if n <= 0 {
                return Err(ExpandError::hard(
                    "first argument of \"extract\" must be greater than zero",
                ));
            }
            let mut item = None;
            for _ in 0..n {
                item = json_next(&mut list);
                if item.is_none() {
                    break;
                }
            }
            item.map(|i| {
                let end = i.iter().rposition(|&c| !is_space(c)).map_or(0, |e| e + 1);
                i[..end].to_vec()
            })
        }
        None => {
            let mut hit = None;
            while let Some(item) = json_next(&mut list) {
                let name = dewrap(item, b'"', b'"').map_err(|m| {
                    ExpandError::hard(format!("{m} wrapping string key for extract json"))
                })?;
                if name == key {
                    // What follows the closing quote of the name.
                    let off = name.as_ptr() as usize - item.as_ptr() as usize + name.len() + 1;
                    let rest = item.get(off..).unwrap_or_default();
                    let p = rest
                        .iter()
                        .position(|&c| !is_space(c))
                        .unwrap_or(rest.len());
                    if rest.get(p) != Some(&b':') {
                        return Err(ExpandError::hard(
                            "missing object value-separator for extract json",
                        ));
                    }
                    let v = &rest[p + 1..];
                    let q = v.iter().position(|&c| !is_space(c)).unwrap_or(v.len());
                    hit = Some(v[q..].to_vec());
                    break;
                }
            }
            hit
        }
    };
    match found {
        Some(v) if strip => match dewrap(&v, b'"', b'"') {
            Ok(inner) => Ok(Some(inner.to_vec())),
            Err(m) => Err(ExpandError::hard(format!(
                "{m} wrapping string result for extract jsons"
            ))),
        },
        other => Ok(other),
    }
}

/// `${listextract{2}{a:b:c}}` gives `b`; `-1` is the last item; 0 or out of range fails.
pub fn listextract(ev: &mut Eval, node: &ItemNode, out: &mut Val) -> ExpResult<()> {
    let n = ev.seq(&node.args[0])?;
    let t = trim(&n.bytes);
    if t.is_empty() {
        return Err(ExpandError::hard(
            "first argument of \"listextract\" must not be empty",
        ));
    }
    let Some(n) = field_number(t) else {
        return Err(ExpandError::hard(
            "first argument of \"listextract\" must be numeric",
        ));
    };
    let list = ev.seq(&node.args[1])?;
    let count = || lists::iter(&list.bytes).count();
    let idx = if n > 0 {
        Some(n as usize - 1)
    } else if n < 0 {
        count().checked_sub(n.unsigned_abs() as usize)
    } else {
        None
    };
    let found = idx
        .and_then(|i| lists::iter(&list.bytes).nth(i))
        .map(|v| list.derive(v));
    ev.recycle(list);
    let saved_caps = ev.captures.clone();
    let r = ev.tail_value(&node.tail, found, "listextract", out);
    ev.captures = saved_caps;
    r
}
