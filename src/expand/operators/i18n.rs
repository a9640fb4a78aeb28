//! Internationalised mail operators (Exim's I18N build): `utf8_domain_to_alabel`,
//! `utf8_domain_from_alabel`, `utf8_localpart_to_alabel`, `utf8_localpart_from_alabel`.

use idna::uts46::{AsciiDenyList, DnsLength, Hyphens, Uts46};

use crate::error::{ExpResult, ExpandError};
use crate::expand::eval::Eval;
use crate::expand::lists;
use crate::expand::operators::cstr;
use crate::expand::operators::text::printing;
use crate::expand::operators::Input;

fn to_alabel_err(s: &[u8], why: &str) -> ExpandError {
    ExpandError::hard(format!(
        "error converting utf8 ({}) to alabel: {why}",
        String::from_utf8_lossy(&printing(s, false))
    ))
}

fn from_alabel_err(s: &[u8], why: &str) -> ExpandError {
    ExpandError::hard(format!(
        "error converting alabel ({}) to utf8: {why}",
        String::from_utf8_lossy(&printing(s, false))
    ))
}

/// `${utf8_domain_to_alabel:münchen.de}` gives `xn--mnchen-3ya.de` (UTS 46 non-transitional,
/// as libidn2); all-ASCII input is returned unchanged.
pub fn utf8_domain_to_alabel(
    _: &mut Eval,
    _: Option<&str>,
    v: Input,
    out: &mut Vec<u8>,
) -> ExpResult<bool> {
    let s = cstr(v.bytes);
    if s.is_ascii() {
        return Ok(v.emit(out, s));
    }
    if std::str::from_utf8(s).is_err() {
        return Err(to_alabel_err(s, "string encoding error"));
    }
    // Control characters and space are refused; `_` and other ASCII punctuation pass, as in libidn2.
    const DENY: AsciiDenyList = AsciiDenyList::new(
        false,
        "\u{1}\u{2}\u{3}\u{4}\u{5}\u{6}\u{7}\u{8}\u{9}\u{a}\u{b}\u{c}\u{d}\u{e}\u{f}\u{10}\u{11}\u{12}\u{13}\u{14}\u{15}\u{16}\u{17}\u{18}\u{19}\u{1a}\u{1b}\u{1c}\u{1d}\u{1e}\u{1f} \u{7f}",
    );
    match Uts46::new().to_ascii(s, DENY, Hyphens::CheckFirstLast, DnsLength::Ignore) {
        Ok(a) => Ok(v.emit(out, a.as_bytes())),
        Err(_) => Err(to_alabel_err(
            s,
            "string is not a valid IDNA2008 domain name (rexim's check)",
        )),
    }
}

/// Decode one `xn--` label (the prefix must be lowercase, as in Exim).
fn decode_label(label: &[u8]) -> Result<Vec<u8>, &'static str> {
    let Some(rest) = label.strip_prefix(b"xn--") else {
        return Err("bad alabel prefix");
    };
    let rest = std::str::from_utf8(rest).map_err(|_| "Invalid input")?;
    idna::punycode::decode_to_string(rest)
        .map(String::into_bytes)
        .ok_or("Invalid input")
}

/// `${utf8_domain_from_alabel:xn--mnchen-3ya.de}` gives `münchen.de`.
pub fn utf8_domain_from_alabel(
    _: &mut Eval,
    _: Option<&str>,
    v: Input,
    dst: &mut Vec<u8>,
) -> ExpResult<bool> {
    let s = cstr(v.bytes);
    let mut out = Vec::new();
    for label in lists::iter_fixed(s, b'.') {
        let label = if label.starts_with(b"xn--") {
            decode_label(&label).map_err(|e| from_alabel_err(s, e))?
        } else {
            label
        };
        if !out.is_empty() {
            out.push(b'.');
        }
        for &c in &label {
            out.push(c);
            if c == b'.' {
                out.push(b'.');
            }
        }
    }
    Ok(v.emit(dst, out))
}

/// `${utf8_localpart_to_alabel:jürgen}` gives `xn--jrgen-kva` (plain Punycode, case kept).
pub fn utf8_localpart_to_alabel(
    _: &mut Eval,
    _: Option<&str>,
    v: Input,
    out: &mut Vec<u8>,
) -> ExpResult<bool> {
    let s = cstr(v.bytes);
    if s.is_ascii() {
        return Ok(v.emit(out, s));
    }
    let text = std::str::from_utf8(s).map_err(|_| to_alabel_err(s, "l_u2a: bad UTF-8 input"))?;
    let code = idna::punycode::encode_str(text)
        .ok_or_else(|| to_alabel_err(s, "Input needs wider integers to process"))?;
    Ok(v.emit(out, format!("xn--{code}")))
}

/// `${utf8_localpart_from_alabel:xn--jrgen-kva}` gives `jürgen`.
pub fn utf8_localpart_from_alabel(
    _: &mut Eval,
    _: Option<&str>,
    v: Input,
    out: &mut Vec<u8>,
) -> ExpResult<bool> {
    let s = cstr(v.bytes);
    decode_label(s)
        .map(|d| v.emit(out, d))
        .map_err(|e| from_alabel_err(s, e))
}
