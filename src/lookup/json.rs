//! `json`: a JSON file walked by a list of selectors (`${lookup{a:0:b}json{/f.json}}`).

use std::sync::OnceLock;

use serde_json::Value;

use crate::expand::lists;
use crate::lookup::files::FileCache;
use crate::lookup::{Call, LookupDriver, LookupError, Opened, Options};

/// Parsed files; `None` when the text is not a JSON object or array (lookups fail).
fn cache() -> &'static FileCache<Option<Value>> {
    static CACHE: OnceLock<FileCache<Option<Value>>> = OnceLock::new();
    CACHE.get_or_init(|| FileCache::new("for json search", "json"))
}

/// Jansson's decoder: an object or array at the top, integers within 64 bits.
fn load(bytes: &[u8]) -> Option<Value> {
    let v: Value = serde_json::from_slice(bytes).ok()?;
    fn ints_ok(v: &Value) -> bool {
        match v {
            Value::Number(n) => !(n.is_u64() && n.as_i64().is_none()),
            Value::Array(a) => a.iter().all(ints_ok),
            Value::Object(o) => o.values().all(ints_ok),
            _ => true,
        }
    }
    (v.is_object() || v.is_array())
        .then_some(())
        .filter(|_| ints_ok(&v))
        .map(|_| v)
}

pub struct Json;

pub fn make() -> Box<dyn LookupDriver> {
    Box::new(Json)
}

/// C's `%.17g`, then Jansson's touches: `.0` for integral values, no `+` or leading
/// zeros in the exponent.
fn real17(x: f64) -> String {
    let sci = format!("{x:.16e}");
    let (mant, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let trim = |s: &str| -> String {
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            s.to_string()
        }
    };
    let mut s = if !(-4..17).contains(&exp) {
        let m = trim(mant);
        format!(
            "{m}e{}{}",
            if exp < 0 { "-" } else { "" },
            exp.unsigned_abs()
        )
    } else {
        let decimals = usize::try_from(16 - exp).unwrap_or(0);
        trim(&format!("{x:.decimals$}"))
    };
    if !s.contains(['.', 'e']) {
        s.push_str(".0");
    }
    s
}

fn dump_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Jansson's `json_dumps(j, 0)`: one line, `", "` and `": "` separators, order kept.
fn dump(out: &mut String, v: &Value) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => match n.as_i64() {
            Some(i) => out.push_str(&i.to_string()),
            None => out.push_str(&real17(n.as_f64().unwrap_or(0.0))),
        },
        Value::String(s) => dump_str(out, s),
        Value::Array(a) => {
            out.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                dump(out, x);
            }
            out.push(']');
        }
        Value::Object(o) => {
            out.push('{');
            for (i, (k, x)) in o.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                dump_str(out, k);
                out.push_str(": ");
                dump(out, x);
            }
            out.push('}');
        }
    }
}

impl LookupDriver for Json {
    fn open(&self, source: &[u8], _opts: &Options) -> Result<Opened, LookupError> {
        let (v, generation) = cache().get(source, |b| Ok(load(b)))?;
        Ok(Opened {
            data: Some(v),
            generation,
        })
    }

    /// `${lookup{a:1}json{/f.json}}` with `{"a": [10, "x"]}` in the file gives `x`;
    /// objects and arrays come back as JSON text.
    fn find(
        &self,
        opened: &Opened,
        _: &[u8],
        key: &[u8],
        _: &Options,
        _: &mut Call,
    ) -> Result<Option<Vec<u8>>, LookupError> {
        let Some(Some(mut v)) = opened.get::<Option<Value>>().map(Option::as_ref) else {
            return Ok(None);
        };
        for sel in lists::iter(key) {
            let next = if sel.iter().all(u8::is_ascii_digit) {
                let idx = sel.iter().try_fold(0usize, |a, &d| {
                    a.checked_mul(10)?.checked_add(usize::from(d - b'0'))
                });
                idx.and_then(|i| v.as_array()?.get(i))
            } else {
                std::str::from_utf8(&sel)
                    .ok()
                    .and_then(|k| v.as_object()?.get(k))
            };
            match next {
                Some(n) => v = n,
                None => return Ok(None),
            }
        }
        Ok(match v {
            Value::Null => None,
            Value::String(s) => Some(s.as_bytes().to_vec()),
            Value::Bool(b) => Some(if *b {
                b"true".to_vec()
            } else {
                b"false".to_vec()
            }),
            Value::Number(n) => Some(match n.as_i64() {
                Some(i) => i.to_string().into_bytes(),
                None => format!("{:.6}", n.as_f64().unwrap_or(0.0)).into_bytes(),
            }),
            other => {
                let mut s = String::new();
                dump(&mut s, other);
                Some(s.into_bytes())
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::real17;

    #[test]
    fn reals_like_jansson() {
        assert_eq!(real17(0.1), "0.10000000000000001");
        assert_eq!(real17(2.5), "2.5");
        assert_eq!(real17(1e20), "1e20");
        assert_eq!(real17(3.0), "3.0");
        assert_eq!(real17(1.5e-7), "1.4999999999999999e-7");
    }
}
