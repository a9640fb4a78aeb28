//! Encoding operators: base32/base62/base64 in both directions, `str2b64`, `hex2b64`.

use base64::Engine;

use crate::error::{ExpResult, ExpandError};
use crate::expand::eval::Eval;
use crate::expand::operators::cstr;
use crate::expand::operators::Input;

const BASE32: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";
const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// C `strtoul(s, &end, 10)`: leading white space, optional sign (negative wraps),
/// saturation on overflow. Returns the value and whether the whole string was used.
pub fn strtoul(s: &[u8]) -> (u64, bool) {
    let mut i = 0;
    while s
        .get(i)
        .is_some_and(|c| c.is_ascii_whitespace() || *c == 0x0b)
    {
        i += 1;
    }
    let neg = match s.get(i) {
        Some(b'-') => {
            i += 1;
            true
        }
        Some(b'+') => {
            i += 1;
            false
        }
        _ => false,
    };
    let start = i;
    let mut n: u64 = 0;
    let mut over = false;
    while let Some(c) = s.get(i).filter(|c| c.is_ascii_digit()) {
        match n
            .checked_mul(10)
            .and_then(|v| v.checked_add(u64::from(c - b'0')))
        {
            Some(v) => n = v,
            None => over = true,
        }
        i += 1;
    }
    if i == start {
        return (0, s.is_empty());
    }
    let v = if over {
        u64::MAX
    } else if neg {
        n.wrapping_neg()
    } else {
        n
    };
    (v, i == s.len())
}

fn not_decimal(op: &str, s: &[u8]) -> ExpandError {
    ExpandError::hard(format!(
        "argument for {op} operator is \"{}\", which is not a decimal number",
        String::from_utf8_lossy(s)
    ))
}

/// `${base32:1024}` gives `baa` (no leading zeros; `0` gives an empty string).
pub fn base32(_: &mut Eval, _: Option<&str>, v: Input, dst: &mut Vec<u8>) -> ExpResult<bool> {
    let s = cstr(v.bytes);
    let (mut n, all) = strtoul(s);
    if !all {
        return Err(not_decimal("base32", s));
    }
    let mut out = Vec::new();
    while n != 0 {
        out.push(BASE32[(n & 0x1f) as usize]);
        n >>= 5;
    }
    out.reverse();
    Ok(v.emit(dst, out))
}

/// `${base32d:baa}` gives `1024`.
pub fn base32d(_: &mut Eval, _: Option<&str>, v: Input, out: &mut Vec<u8>) -> ExpResult<bool> {
    let s = cstr(v.bytes);
    let mut n: u64 = 0;
    for c in s {
        let Some(d) = BASE32.iter().position(|b| b == c) else {
            return Err(ExpandError::hard(format!(
                "argument for base32d operator is \"{}\", which is not a base 32 number",
                String::from_utf8_lossy(s)
            )));
        };
        n = n.wrapping_mul(32).wrapping_add(d as u64);
    }
    Ok(v.emit(out, (n as i64).to_string()))
}

/// `${base62:1000}` gives `0000G8` (always six digits; higher ones are dropped).
pub fn base62(_: &mut Eval, _: Option<&str>, v: Input, dst: &mut Vec<u8>) -> ExpResult<bool> {
    let s = cstr(v.bytes);
    let (mut n, all) = strtoul(s);
    if !all {
        return Err(not_decimal("base62", s));
    }
    let mut out = [0u8; 6];
    for slot in out.iter_mut().rev() {
        *slot = BASE62[(n % 62) as usize];
        n /= 62;
    }
    Ok(v.emit(dst, out))
}

/// `${base62d:0000G8}` gives `1000`.
pub fn base62d(_: &mut Eval, _: Option<&str>, v: Input, out: &mut Vec<u8>) -> ExpResult<bool> {
    let s = cstr(v.bytes);
    let mut n: u64 = 0;
    for c in s {
        let Some(d) = BASE62.iter().position(|b| b == c) else {
            return Err(ExpandError::hard(format!(
                "argument for base62d operator is \"{}\", which is not a base 62 number",
                String::from_utf8_lossy(s)
            )));
        };
        n = n.wrapping_mul(62).wrapping_add(d as u64);
    }
    Ok(v.emit(out, (n as i64).to_string()))
}

/// `${base64:abc}` (and `${str2b64:abc}`) gives `YWJj`.
pub fn base64(_: &mut Eval, _: Option<&str>, v: Input, out: &mut Vec<u8>) -> ExpResult<bool> {
    let s = cstr(v.bytes);
    let start = out.len();
    out.resize(start + base64::encoded_len(s.len(), true).unwrap_or(0), 0);
    let n = base64::engine::general_purpose::STANDARD
        .encode_slice(s, &mut out[start..])
        .unwrap_or(0);
    out.truncate(start + n);
    Ok(v.tainted)
}

/// `${base64d:YWJj}` gives `abc`. White space is ignored; the result stops at a NUL byte.
pub fn base64d(_: &mut Eval, name: Option<&str>, v: Input, out: &mut Vec<u8>) -> ExpResult<bool> {
    let s = cstr(v.bytes);
    match decode64(s) {
        Some(decoded) => Ok(v.emit(out, cstr(&decoded))),
        None => {
            let opname = match name {
                Some(a) => format!("base64d_{a}"),
                None => "base64d".to_string(),
            };
            Err(ExpandError::hard(format!(
                "string \"{}\" is not well-formed for \"{opname}\" operator",
                String::from_utf8_lossy(s)
            )))
        }
    }
}

fn dec64(c: u8) -> Option<u8> {
    match c {
        b'A'..=b'Z' => Some(c - b'A'),
        b'a'..=b'z' => Some(c - b'a' + 26),
        b'0'..=b'9' => Some(c - b'0' + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    }
}

/// Exim's strict-quantum base64 decoder: white space anywhere, `=` padding only at the end.
pub fn decode64(s: &[u8]) -> Option<Vec<u8>> {
    let mut it = s
        .iter()
        .copied()
        .filter(|c| !matches!(c, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c));
    let mut out = Vec::with_capacity(s.len() / 4 * 3 + 3);
    while let Some(c0) = it.next() {
        let x = dec64(c0)?;
        let y = dec64(it.next()?)?;
        out.push((x << 2) | (y >> 4));
        let c2 = it.next()?;
        if c2 == b'=' {
            if it.next()? != b'=' || it.next().is_some() {
                return None;
            }
            break;
        }
        let x = dec64(c2)?;
        out.push((y << 4) | (x >> 2));
        let c3 = it.next()?;
        if c3 == b'=' {
            if it.next().is_some() {
                return None;
            }
            break;
        }
        let y = dec64(c3)?;
        out.push((x << 6) | y);
    }
    Some(out)
}

/// `${hex2b64:616263}` gives `YWJj`.
pub fn hex2b64(_: &mut Eval, _: Option<&str>, v: Input, out: &mut Vec<u8>) -> ExpResult<bool> {
    let s = cstr(v.bytes);
    let shown = || String::from_utf8_lossy(s).into_owned();
    if !s.iter().all(u8::is_ascii_hexdigit) {
        return Err(ExpandError::hard(format!(
            "\"{}\" is not a hex string",
            shown()
        )));
    }
    if s.len() % 2 != 0 {
        return Err(ExpandError::hard(format!(
            "\"{}\" contains an odd number of characters",
            shown()
        )));
    }
    let hex = |c: u8| (c as char).to_digit(16).unwrap_or(0) as u8;
    let bytes: Vec<u8> = s.chunks(2).map(|p| (hex(p[0]) << 4) | hex(p[1])).collect();
    Ok(v.emit(out, base64::engine::general_purpose::STANDARD.encode(bytes)))
}
