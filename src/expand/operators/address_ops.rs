//! Address operators: `address`, `addresses`, `domain`, `local_part` (RFC 2822 parsing).

use crate::error::{ExpResult, ExpandError};
use crate::expand::address::{self, Options, Parser};
use crate::expand::eval::Eval;
use crate::expand::operators::Input;

/// Parse one mailbox as Exim's `${address:}` family does. Exim keeps its group flags in
/// globals, so a group left open by an earlier `${addresses:}` in the same process changes
/// how a later `;` is read; rexim starts every expansion with the flags clear.
fn extract(bytes: &[u8]) -> Option<address::Address> {
    address::extract(bytes).ok()
}

/// `local@domain` with a dot-atom local part and a domain of letter-digit-hyphen
/// labels (not starting with a hyphen) (no spaces, quotes, comments or routes): the full parser would give the text
/// back as it is, split at the `@`. Anything else takes the full parser.
fn plain(bytes: &[u8]) -> Option<(&[u8], &[u8])> {
    let at = bytes.iter().position(|&c| c == b'@')?;
    let (local, domain) = (&bytes[..at], &bytes[at + 1..]);
    let atext = |c: u8| c.is_ascii_alphanumeric() || b"!#$%&'*+-/=?^_`{|}~".contains(&c);
    let label = |c: u8| c.is_ascii_alphanumeric() || c == b'-';
    let dotted = |s: &[u8], ok: &dyn Fn(u8) -> bool| {
        !s.is_empty()
            && s.split(|&c| c == b'.')
                .all(|p| !p.is_empty() && p.iter().all(|&c| ok(c)))
    };
    // A domain label may end with a hyphen but not start with one (Exim's reading).
    let labels_ok = domain
        .split(|&c| c == b'.')
        .all(|p| p.first() != Some(&b'-'));
    (dotted(local, &atext) && dotted(domain, &label) && labels_ok).then_some((local, domain))
}

/// `${address:Fred <fred@Example.com>}` gives `fred@Example.com`; empty when unparseable.
pub fn address(_: &mut Eval, _: Option<&str>, v: Input, out: &mut Vec<u8>) -> ExpResult<bool> {
    Ok(v.emit(out, extract(v.bytes).map(|a| a.address).unwrap_or_default()))
}

/// `${domain:Fred <fred@Example.com>}` gives `Example.com`.
pub fn domain(_: &mut Eval, _: Option<&str>, v: Input, out: &mut Vec<u8>) -> ExpResult<bool> {
    if let Some((_, domain)) = plain(v.bytes) {
        out.extend_from_slice(domain);
    } else if let Some(a) = extract(v.bytes) {
        out.extend_from_slice(a.domain());
    }
    Ok(v.tainted)
}

/// `${local_part:Fred <fred@Example.com>}` gives `fred`.
pub fn local_part(_: &mut Eval, _: Option<&str>, v: Input, out: &mut Vec<u8>) -> ExpResult<bool> {
    if let Some((local, _)) = plain(v.bytes) {
        out.extend_from_slice(local);
    } else if let Some(a) = extract(v.bytes) {
        out.extend_from_slice(a.local_part());
    }
    Ok(v.tainted)
}

/// `${addresses:>+ a@b, Fred <c@d>}` gives `a@b+c@d`: the operative addresses of a
/// header-style list, joined by `:` or the `>`-chosen separator (doubled inside addresses).
pub fn addresses(_: &mut Eval, _: Option<&str>, v: Input, dst: &mut Vec<u8>) -> ExpResult<bool> {
    let bytes = match v.bytes.iter().position(|&c| c == 0) {
        Some(n) => &v.bytes[..n],
        None => v.bytes,
    };
    let mut s = bytes;
    while let Some((&c, rest)) = s.split_first() {
        if !matches!(c, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r') {
            break;
        }
        s = rest;
    }
    let mut sep = b':';
    if s.first() == Some(&b'>') {
        match s.get(1) {
            Some(&c) => {
                sep = c;
                s = &s[2..];
            }
            None => {
                return Err(ExpandError::hard(format!(
                    "output separator missing in expanding ${{addresses:{}}}",
                    String::from_utf8_lossy(s)
                )))
            }
        }
    }
    let mut parser = Parser::new(Options::default());
    parser.allow_group = true;
    let mut out: Vec<u8> = Vec::new();
    for piece in address::split(s) {
        let Ok(a) = parser.extract(piece) else {
            continue;
        };
        if !out.is_empty() && a.address.first() == Some(&sep) {
            out.push(b' ');
        }
        for (i, seg) in a.address.split(|&c| c == sep).enumerate() {
            if i > 0 {
                out.extend_from_slice(&[sep, sep]);
            }
            out.extend_from_slice(seg);
        }
        out.push(sep);
    }
    out.pop();
    Ok(v.emit(dst, out))
}
