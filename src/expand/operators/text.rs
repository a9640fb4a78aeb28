//! Text operators: case, length, escaping and quoting, UTF-8 clean-up, RFC 2047 encoding.

use crate::error::ExpResult;
use crate::expand::eval::Eval;
use crate::expand::operators::cstr;
use crate::expand::operators::{push_decimal, Input};

/// `${lc:ABC}` gives `abc` (ASCII only, as Exim).
pub fn lc(_: &mut Eval, _: Option<&str>, v: Input, out: &mut Vec<u8>) -> ExpResult<bool> {
    out.extend(cstr(v.bytes).iter().map(u8::to_ascii_lowercase));
    Ok(v.tainted)
}

/// `${uc:abc}` gives `ABC`.
pub fn uc(_: &mut Eval, _: Option<&str>, v: Input, out: &mut Vec<u8>) -> ExpResult<bool> {
    out.extend(cstr(v.bytes).iter().map(u8::to_ascii_uppercase));
    Ok(v.tainted)
}

/// `${strlen:abc}` gives `3` (bytes, not characters).
pub fn strlen(_: &mut Eval, _: Option<&str>, v: Input, out: &mut Vec<u8>) -> ExpResult<bool> {
    push_decimal(out, cstr(v.bytes).len() as i64);
    Ok(false)
}

/// Exim's `string_printing`: non-printing bytes become `\n`-style or `\ooo` escapes.
pub fn printing(s: &[u8], top_bit_printable: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len());
    for &c in s {
        if (32..=126).contains(&c) || c == b'\t' || (c > 127 && top_bit_printable) {
            out.push(c);
            continue;
        }
        out.push(b'\\');
        match c {
            b'\n' => out.push(b'n'),
            b'\r' => out.push(b'r'),
            0x08 => out.push(b'b'),
            0x0b => out.push(b'v'),
            0x0c => out.push(b'f'),
            _ => out.extend_from_slice(format!("{c:03o}").as_bytes()),
        }
    }
    out
}

/// `${escape:a\nb}` gives `a\nb` with a literal backslash-n (octal for other non-printers).
pub fn escape(ev: &mut Eval, _: Option<&str>, v: Input, out: &mut Vec<u8>) -> ExpResult<bool> {
    Ok(v.emit(
        out,
        printing(cstr(v.bytes), ev.ctx.settings.print_topbitchars),
    ))
}

/// `${escape8bit:a\xe9}` gives `a\351`: bytes from 127 up, and `\`, as octal escapes.
pub fn escape8bit(_: &mut Eval, _: Option<&str>, v: Input, dst: &mut Vec<u8>) -> ExpResult<bool> {
    let mut out = Vec::new();
    for &c in cstr(v.bytes) {
        if c < 127 && c != b'\\' {
            out.push(c);
        } else {
            out.extend_from_slice(format!("\\{c:03o}").as_bytes());
        }
    }
    Ok(v.emit(dst, out))
}

/// `${hexquote:a b}` gives `a\x20b`: bytes outside 0x21..0x7e as `\xNN`.
pub fn hexquote(_: &mut Eval, _: Option<&str>, v: Input, dst: &mut Vec<u8>) -> ExpResult<bool> {
    let mut out = Vec::new();
    for &c in cstr(v.bytes) {
        if (0x21..=0x7e).contains(&c) {
            out.push(c);
        } else {
            out.extend_from_slice(format!("\\x{c:02x}").as_bytes());
        }
    }
    Ok(v.emit(dst, out))
}

/// `${rxquote:a.b}` gives `a\.b`: a backslash before every non-alphanumeric byte.
pub fn rxquote(_: &mut Eval, _: Option<&str>, v: Input, dst: &mut Vec<u8>) -> ExpResult<bool> {
    let mut out = Vec::new();
    for &c in cstr(v.bytes) {
        if !c.is_ascii_alphanumeric() {
            out.push(b'\\');
        }
        out.push(c);
    }
    Ok(v.emit(dst, out))
}

/// `${utf8clean:a\xffb}` gives `a?b`: each invalid or truncated UTF-8 sequence becomes `?`.
pub fn utf8clean(_: &mut Eval, _: Option<&str>, v: Input, dst: &mut Vec<u8>) -> ExpResult<bool> {
    let mut out = Vec::new();
    let mut seq = [0u8; 4];
    let (mut seq_len, mut index, mut left) = (0usize, 0usize, 0u32);
    let mut code: u32 = 0;
    for &c in cstr(v.bytes) {
        // 0: in progress; 1: broken by a non-continuation byte; 2: invalid.
        let mut bad = 0;
        if left > 0 {
            if c & 0xc0 != 0x80 {
                bad = 1;
            } else {
                code = (code << 6) | u32::from(c & 0x3f);
                if let Some(slot) = seq.get_mut(index) {
                    *slot = c;
                }
                index += 1;
                left -= 1;
                if left == 0 {
                    if code > 0x10ffff || (0xd800..=0xdfff).contains(&code) {
                        bad = 2;
                    } else {
                        out.extend_from_slice(&seq[..seq_len.min(4)]);
                        index = 0;
                    }
                }
            }
        } else {
            if c & 0x80 == 0 {
                out.push(c);
                continue;
            }
            if c & 0xe0 == 0xc0 {
                if c == 0xc0 || c == 0xc1 {
                    bad = 2;
                } else {
                    left = 1;
                    code = u32::from(c & 0x1f);
                }
            } else if c & 0xf0 == 0xe0 {
                left = 2;
                code = u32::from(c & 0x0f);
            } else if c & 0xf8 == 0xf0 {
                left = 3;
                code = u32::from(c & 0x07);
            } else {
                bad = 2;
            }
            if let Some(slot) = seq.get_mut(index) {
                *slot = c;
            }
            index += 1;
            seq_len = left as usize + 1;
        }
        if bad != 0 {
            left = 0;
            index = 0;
            out.push(b'?');
        }
        if bad == 1 && c & 0x80 == 0 {
            out.push(c);
        }
    }
    if left != 0 {
        out.push(b'?');
    }
    Ok(v.emit(dst, out))
}

/// `${from_utf8:caf\xc3\xa9}` gives `caf\xe9`: UTF-8 to Latin-1, characters above 255 as `_`.
pub fn from_utf8(_: &mut Eval, _: Option<&str>, v: Input, dst: &mut Vec<u8>) -> ExpResult<bool> {
    let s = cstr(v.bytes);
    let mut out = Vec::new();
    let mut i = 0;
    while i < s.len() {
        let mut c = u32::from(s[i]);
        i += 1;
        if c & 0xc0 == 0xc0 {
            let extra = match c & 0x3f {
                0..=31 => 1,
                32..=47 => 2,
                48..=55 => 3,
                56..=59 => 4,
                _ => 5,
            };
            let masks = [0xff, 0x1f, 0x0f, 0x07, 0x03, 0x01];
            let mut shift = 6 * extra;
            c = (c & masks[extra]) << shift;
            for _ in 0..extra {
                shift -= 6;
                // A truncated sequence reads the terminating NUL, as Exim does, then stops.
                let b = s.get(i).copied().unwrap_or(0);
                i += 1;
                c |= u32::from(b & 0x3f) << shift;
            }
        }
        if c == 0 {
            // A sequence that decodes to NUL ends the C string Exim builds.
            break;
        }
        out.push(if c > 255 { b'_' } else { c as u8 });
    }
    Ok(v.emit(dst, out))
}

/// Put `s` in double quotes with `\`, `"` escaped and CR/LF as `\r`/`\n`.
fn quoted(s: &[u8]) -> Vec<u8> {
    let mut out = vec![b'"'];
    for &c in s {
        match c {
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\\' | b'"' => out.extend_from_slice(&[b'\\', c]),
            _ => out.push(c),
        }
    }
    out.push(b'"');
    out
}

/// `${quote:a b}` gives `"a b"`; `${quote_mysql:it's}` quotes for a lookup type.
pub fn quote(_: &mut Eval, arg: Option<&str>, v: Input, out: &mut Vec<u8>) -> ExpResult<bool> {
    let s = cstr(v.bytes);
    if let Some(arg) = arg {
        return crate::expand::operators::quote_lookup::quote(arg, v, out);
    }
    let needs = s.is_empty()
        || s.iter()
            .any(|&c| !c.is_ascii_alphanumeric() && !b"_-.".contains(&c));
    if needs {
        out.extend_from_slice(&quoted(s));
    } else {
        out.extend_from_slice(s);
    }
    Ok(v.tainted)
}

/// `${quote_local_part:a b}` gives `"a b"`; quotes only where RFC 2822 requires it.
pub fn quote_local_part(
    _: &mut Eval,
    _: Option<&str>,
    v: Input,
    out: &mut Vec<u8>,
) -> ExpResult<bool> {
    let s = cstr(v.bytes);
    let last = s.len().saturating_sub(1);
    let needs = s.is_empty()
        || s.iter().enumerate().any(|(i, &c)| {
            !c.is_ascii_alphanumeric()
                && !b"!#$%&'*+-/=?^_`{|}~".contains(&c)
                && (c != b'.' || i == 0 || i == last)
        });
    if needs {
        out.extend_from_slice(&quoted(s));
    } else {
        out.extend_from_slice(s);
    }
    Ok(v.tainted)
}

/// Exim's `parse_quote_2047`: Q-encode in `charset` when any byte needs it, else unchanged.
pub fn quote_2047(s: &[u8], charset: &str, fold: bool) -> Vec<u8> {
    let head = format!("=?{charset}?Q?").into_bytes();
    let mut out = head.clone();
    let mut line_start = head.len();
    let mut coded = false;
    let mut first_byte = false;
    for &c in s {
        if out.len() - line_start > 67 && !first_byte {
            out.extend_from_slice(if fold { b"?=\n " } else { b"?= " });
            line_start = out.len();
            out.extend_from_slice(&head);
        }
        if !(33..=126).contains(&c) || b"?=()<>@,;:\\\".[]_".contains(&c) {
            if c == b' ' {
                out.push(b'_');
                first_byte = false;
            } else {
                out.extend_from_slice(format!("={c:02X}").as_bytes());
                coded = true;
                first_byte = !first_byte;
            }
        } else {
            out.push(c);
            first_byte = false;
        }
    }
    if coded {
        out.extend_from_slice(b"?=");
        out
    } else {
        s.to_vec()
    }
}

/// `${rfc2047:caf\xc3\xa9}` gives `=?UTF-8?Q?caf=C3=A9?=` (charset from `headers_charset`).
pub fn rfc2047(ev: &mut Eval, _: Option<&str>, v: Input, out: &mut Vec<u8>) -> ExpResult<bool> {
    let charset = ev.ctx.settings.headers_charset.clone();
    Ok(v.emit(out, quote_2047(cstr(v.bytes), &charset, false)))
}
