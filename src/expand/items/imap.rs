//! `${imapfolder}`: a UTF-8 mailbox name in IMAP's modified UTF-7 (RFC 3501 5.1.3).

use crate::error::{ExpResult, ExpandError};
use crate::expand::ast::ItemNode;
use crate::expand::eval::Eval;
use crate::expand::value::Val;

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

/// `${imapfolder{Foo/Bär}}` gives `Foo.B&AOQ-r`: the separator (default `/`) becomes `.`,
/// `&` becomes `&-`, and non-ASCII (plus any `specials`) are base64'd UTF-16.
pub fn imapfolder(ev: &mut Eval, node: &ItemNode, out: &mut Val) -> ExpResult<()> {
    let name = ev.seq(&node.args[0])?;
    let (sep, specials) = match node.args.get(1) {
        None => (b'/', Vec::new()),
        Some(s) => {
            let sep = ev.seq(s)?;
            if sep.bytes.len() != 1 {
                return Err(ExpandError::hard(format!(
                    "IMAP folder separator must be one character, found \"{}\"",
                    sep.as_str_lossy()
                )));
            }
            let specials = match node.args.get(2) {
                Some(sp) => ev.seq(sp)?.bytes,
                None => Vec::new(),
            };
            (sep.bytes[0], specials)
        }
    };
    let charset = &ev.ctx.settings.headers_charset;
    if !charset.eq_ignore_ascii_case("utf-8") && !charset.eq_ignore_ascii_case("utf8") {
        return Err(ExpandError::hard(format!(
            "imapfolder: conversion from \"{charset}\" is not supported by rexim"
        )));
    }
    let encoded = encode(&name.bytes, sep, &specials)?;
    out.push(&name.derive(encoded));
    Ok(())
}

fn plain(c: u8, sep: u8, specials: &[u8]) -> bool {
    (0x20..0x7f).contains(&c) && !b"./&".contains(&c) && c != sep && !specials.contains(&c)
}

/// UTF-8 to UTF-16 code units, with iconv's error wording.
fn utf16(s: &[u8]) -> ExpResult<Vec<u16>> {
    match std::str::from_utf8(s) {
        Ok(t) => Ok(t.encode_utf16().collect()),
        Err(e) => {
            let why = if e.error_len().is_none() {
                "Invalid argument"
            } else {
                "Invalid or incomplete multibyte or wide character"
            };
            Err(ExpandError::hard(format!(
                "imapfolder: iconv() failed to convert from UTF-8: {why}"
            )))
        }
    }
}

struct Base64 {
    active: bool,
    bits: u32,
    nbits: u32,
}

impl Base64 {
    fn push(&mut self, out: &mut Vec<u8>, unit: u16) {
        if !self.active {
            out.push(b'&');
            *self = Base64 {
                active: true,
                bits: 0,
                nbits: 0,
            };
        }
        self.bits = (self.bits << 16) | unit as u32;
        self.nbits += 16;
        while self.nbits >= 6 {
            self.nbits -= 6;
            out.push(B64[((self.bits >> self.nbits) & 0x3f) as usize]);
        }
        self.bits &= (1 << self.nbits) - 1;
    }

    fn close(&mut self, out: &mut Vec<u8>) {
        if self.active {
            if self.nbits > 0 {
                out.push(B64[((self.bits << (6 - self.nbits)) & 0x3f) as usize]);
            }
            out.push(b'-');
            *self = Base64 {
                active: false,
                bits: 0,
                nbits: 0,
            };
        }
    }
}

fn encode(name: &[u8], sep: u8, specials: &[u8]) -> ExpResult<Vec<u8>> {
    if name.iter().all(|&c| plain(c, sep, specials)) {
        return Ok(name.to_vec());
    }
    // A leading separator is dropped.
    let body = if name.first() == Some(&sep) {
        &name[1..]
    } else {
        name
    };
    let mut out = Vec::with_capacity(body.len() * 2);
    let mut b64 = Base64 {
        active: false,
        bits: 0,
        nbits: 0,
    };
    let mut lastsep = false;
    for unit in utf16(body)? {
        let ascii = (0x20..0x7f).contains(&unit).then_some(unit as u8);
        match ascii {
            Some(c) if !(specials.contains(&c) && c != sep) => {
                if (c == b'.' || c == b'/') && c != sep {
                    return Err(ExpandError::hard(format!(
                        "imapfolder: illegal character '{}'",
                        c as char
                    )));
                }
                b64.close(&mut out);
                if c == sep {
                    if !lastsep {
                        out.push(b'.');
                        lastsep = true;
                    }
                } else {
                    out.push(c);
                    if c == b'&' {
                        out.push(b'-');
                    }
                    lastsep = false;
                }
            }
            _ => {
                lastsep = false;
                b64.push(&mut out, unit);
            }
        }
    }
    b64.close(&mut out);
    Ok(out)
}
