//! RFC 2047 encoded-word decoding (header variables and `${rfc2047d:}`), following
//! Exim's `rfc2047_decode2`, with charset translation through the C library's iconv.

use std::ffi::CString;

use crate::error::{ExpResult, ExpandError};
use crate::expand::eval::Eval;
use crate::expand::operators::Input;
use crate::expand::operators::{cstr, misc::strerror};

/// Decode `=?charset?Q|B?text?=` words. Whitespace between adjacent encoded words is
/// dropped. With `translate`, words are converted to UTF-8 (errors leave them as they are).
pub fn decode(input: &[u8], translate: bool) -> Vec<u8> {
    decode2(input, true, translate.then_some("UTF-8"), b'?').0
}

/// Exim's `rfc2047_decode2`: `lencheck` skips words longer than 75 characters, `target`
/// is the charset to translate to, NUL bytes become `zero`. Returns the text and the
/// last charset error (the undecoded bytes are kept when translation fails).
pub fn decode2(
    input: &[u8],
    lencheck: bool,
    target: Option<&str>,
    zero: u8,
) -> (Vec<u8>, Option<String>) {
    let mut out = Vec::with_capacity(input.len());
    let mut error = None;
    let mut pos = 0;
    let last_end = input.windows(2).rposition(|w| w == b"?=");
    let mut word = find_word(input, 0, lencheck, last_end);
    if word.is_none() {
        return (input.to_vec(), None);
    }
    while let Some(w) = word {
        out.extend_from_slice(&input[pos..w.start]);
        let charset = &input[w.start + 2..w.q1];
        let mut translated = None;
        if let Some(t) = target {
            if !t.as_bytes().eq_ignore_ascii_case(charset) {
                match Iconv::open(t, charset) {
                    Ok(cd) => translated = Some(cd.convert(&w.data)),
                    Err(e) => {
                        error = Some(format!(
                            "iconv_open(\"{t}\", \"{}\") failed: {}{}",
                            String::from_utf8_lossy(charset),
                            strerror(&e),
                            if e.raw_os_error() == Some(libc::EINVAL) {
                                " (maybe unsupported conversion)"
                            } else {
                                ""
                            }
                        ))
                    }
                }
            }
        }
        let bytes = translated.unwrap_or(w.data);
        out.extend(
            bytes
                .into_iter()
                .map(|c| if c == 0 && zero != 0 { zero } else { c }),
        );
        pos = w.end;
        word = find_word(input, pos, lencheck, last_end);
        if let Some(next) = &word {
            let gap = &input[pos..next.start];
            if gap
                .iter()
                .all(|c| matches!(c, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c))
            {
                pos = next.start;
            }
        }
    }
    out.extend_from_slice(&input[pos..]);
    (out, error)
}

struct Word {
    start: usize,
    q1: usize,
    end: usize,
    data: Vec<u8>,
}

fn find(hay: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    hay.get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| p + from)
}

/// The next decodable encoded word at or after `from` (Exim's `decode_mimeword`).
fn find_word(s: &[u8], mut from: usize, lencheck: bool, last_end: Option<usize>) -> Option<Word> {
    loop {
        let start = find(s, from, b"=?")?;
        let q1 = find(s, start + 2, b"?")?;
        let q2 = find(s, q1 + 1, b"?")?;
        from = start + 2;
        // A word longer than the check allows is skipped anyway: bound the search so that
        // many unterminated words cannot make this quadratic.
        let limit = if lencheck {
            (start + 76).min(s.len())
        } else {
            s.len()
        };
        let Some(endq) = find(&s[..limit], q2 + 1, b"?=") else {
            // Exim gives up when no `?=` follows at all; otherwise it tries the next word.
            if last_end.is_some_and(|l| l > q2) {
                continue;
            }
            return None;
        };
        if (lencheck && endq - start > 73) || q2 - q1 != 2 {
            continue;
        }
        let body = &s[q2 + 1..endq];
        let data = match s[q1 + 1].to_ascii_uppercase() {
            b'B' => b64(body),
            b'Q' => q_decode(body),
            _ => None,
        };
        if let Some(data) = data {
            return Some(Word {
                start,
                q1,
                end: endq + 2,
                data,
            });
        }
    }
}

fn b64(body: &[u8]) -> Option<Vec<u8>> {
    crate::expand::operators::codecs::decode64(body)
}

fn q_decode(body: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(body.len());
    let mut i = 0;
    while i < body.len() {
        match body[i] {
            b'_' => out.push(b' '),
            b'=' => {
                let hex = |c: Option<&u8>| c.and_then(|c| (*c as char).to_digit(16));
                let (a, b) = (hex(body.get(i + 1))?, hex(body.get(i + 2))?);
                out.push((a * 16 + b) as u8);
                i += 2;
            }
            b' ' | b'\t' => return None,
            c => out.push(c),
        }
        i += 1;
    }
    Some(out)
}

/// An open iconv conversion descriptor.
struct Iconv(libc::iconv_t);

impl Iconv {
    fn open(to: &str, from: &[u8]) -> Result<Iconv, std::io::Error> {
        let einval = || std::io::Error::from_raw_os_error(libc::EINVAL);
        let to = CString::new(to).map_err(|_| einval())?;
        let from = CString::new(from).map_err(|_| einval())?;
        // SAFETY: both arguments are valid NUL-terminated strings.
        let cd = unsafe { libc::iconv_open(to.as_ptr(), from.as_ptr()) };
        if cd as isize == -1 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(Iconv(cd))
    }

    /// Convert as much as possible; from the first failure on, the input is copied as is.
    fn convert(&self, input: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(input.len() * 2);
        let mut rest = input;
        while !rest.is_empty() {
            let mut buf = [0u8; 256];
            let mut inptr = rest.as_ptr() as *mut libc::c_char;
            let mut inleft = rest.len();
            let mut outptr = buf.as_mut_ptr() as *mut libc::c_char;
            let mut outleft = buf.len();
            // SAFETY: the pointers and lengths describe `rest` and `buf`, which outlive the call;
            // iconv only reads from the input and writes within `outleft` bytes of the output.
            unsafe { libc::iconv(self.0, &mut inptr, &mut inleft, &mut outptr, &mut outleft) };
            let produced = buf.len() - outleft;
            if produced == 0 {
                out.extend_from_slice(rest);
                break;
            }
            out.extend_from_slice(&buf[..produced]);
            rest = &rest[rest.len() - inleft..];
        }
        out
    }
}

impl Drop for Iconv {
    fn drop(&mut self) {
        // SAFETY: the descriptor came from a successful iconv_open and is closed once.
        unsafe { libc::iconv_close(self.0) };
    }
}

/// `${rfc2047d:=?utf-8?q?caf=C3=A9?=}` gives `café` (translated to `headers_charset`).
pub fn rfc2047d(ev: &mut Eval, _: Option<&str>, v: Input, out: &mut Vec<u8>) -> ExpResult<bool> {
    let target = ev.ctx.settings.headers_charset.clone();
    let (decoded, err) = decode2(cstr(v.bytes), true, Some(&target), b'?');
    match err {
        Some(e) => Err(ExpandError::hard(e)),
        None => Ok(v.emit(out, decoded)),
    }
}
