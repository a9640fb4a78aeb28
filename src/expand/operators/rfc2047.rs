//! RFC 2047 encoded-word decoding (header variables and `${rfc2047d:}`).

use base64::Engine;

/// Decode `=?charset?Q|B?text?=` words. Whitespace between adjacent encoded
/// words is dropped, as RFC 2047 requires. `translate` is accepted for the
/// charset conversion Exim does for `$h_`; only UTF-8/ASCII/Latin-1 sources are converted.
pub fn decode(input: &[u8], translate: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    let mut pending_ws: Option<(usize, usize)> = None;
    let mut last_was_word = false;
    while i < input.len() {
        if input[i..].starts_with(b"=?") {
            if let Some((bytes, len)) = encoded_word(&input[i..], translate) {
                if let Some((a, b)) = pending_ws.take() {
                    if !last_was_word {
                        out.extend_from_slice(&input[a..b]);
                    }
                }
                out.extend_from_slice(&bytes);
                i += len;
                last_was_word = true;
                continue;
            }
        }
        let c = input[i];
        if c == b' ' || c == b'\t' || c == b'\n' || c == b'\r' {
            let start = i;
            while i < input.len() && matches!(input[i], b' ' | b'\t' | b'\n' | b'\r') {
                i += 1;
            }
            if let Some((a, b)) = pending_ws.take() {
                out.extend_from_slice(&input[a..b]);
            }
            pending_ws = Some((start, i));
            continue;
        }
        if let Some((a, b)) = pending_ws.take() {
            out.extend_from_slice(&input[a..b]);
        }
        last_was_word = false;
        out.push(c);
        i += 1;
    }
    if let Some((a, b)) = pending_ws {
        out.extend_from_slice(&input[a..b]);
    }
    out
}

fn encoded_word(s: &[u8], translate: bool) -> Option<(Vec<u8>, usize)> {
    let text = &s[2..];
    let q1 = text.iter().position(|&c| c == b'?')?;
    let charset = std::str::from_utf8(&text[..q1]).ok()?.to_ascii_lowercase();
    let enc = *text.get(q1 + 1)?;
    if text.get(q1 + 2) != Some(&b'?') {
        return None;
    }
    let body_start = q1 + 3;
    let rel_end = text[body_start..].windows(2).position(|w| w == b"?=")?;
    let body = &text[body_start..body_start + rel_end];
    let raw = match enc.to_ascii_uppercase() {
        b'B' => base64::engine::general_purpose::STANDARD
            .decode(body)
            .ok()?,
        b'Q' => q_decode(body),
        _ => return None,
    };
    let decoded = if translate {
        to_utf8(&charset, raw)
    } else {
        raw
    };
    let decoded = decoded
        .into_iter()
        .map(|c| if c == 0 { b'?' } else { c })
        .collect();
    Some((decoded, 2 + body_start + rel_end + 2))
}

fn q_decode(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len());
    let mut i = 0;
    while i < body.len() {
        match body[i] {
            b'_' => out.push(b' '),
            b'=' if i + 2 < body.len() => {
                let hex = std::str::from_utf8(&body[i + 1..i + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(v) => {
                        out.push(v);
                        i += 3;
                        continue;
                    }
                    None => out.push(b'='),
                }
            }
            c => out.push(c),
        }
        i += 1;
    }
    out
}

fn to_utf8(charset: &str, raw: Vec<u8>) -> Vec<u8> {
    match charset {
        "iso-8859-1" | "latin1" | "iso8859-1" => raw
            .iter()
            .map(|&c| c as char)
            .collect::<String>()
            .into_bytes(),
        _ => raw,
    }
}

/// `${rfc2047d:=?utf-8?q?caf=C3=A9?=}` gives `café` (decoded into `headers_charset`).
pub fn rfc2047d(
    _: &mut crate::expand::eval::Eval,
    _: Option<&str>,
    v: crate::expand::value::Val,
) -> crate::error::ExpResult<crate::expand::value::Val> {
    let s = crate::expand::operators::cstr(&v.bytes);
    Ok(v.derive(decode(s, true)))
}
