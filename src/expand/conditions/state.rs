//! Conditions on a single string or on process state: `bool`, `bool_lax`, `exists`,
//! `isip`/`isip4`/`isip6`, `first_delivery`, `queue_running`.

use crate::error::{ExpResult, ExpandError};
use crate::expand::ast::{Node, Seq};
use crate::expand::eval::Eval;
use crate::listmatch::ip;

fn c_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

/// Exim's string-to-boolean for `bool` (strict) and `bool_lax`.
fn to_bool(arg: &[u8], lax: bool) -> ExpResult<bool> {
    let start = arg.iter().take_while(|&&c| c_space(c)).count();
    let end = arg.len()
        - arg[start..]
            .iter()
            .rev()
            .take_while(|&&c| c_space(c))
            .count();
    let t = &arg[start..end];
    if t.is_empty() {
        return Ok(false);
    }
    let digits = if t[0] == b'-' { &t[1..] } else { t };
    if digits.iter().all(u8::is_ascii_digit) {
        if lax && t.len() > 1 {
            return Ok(true);
        }
        // C atoi: strtol saturating at the 64-bit bounds, then truncated to int.
        let mut n: i64 = 0;
        for &d in digits {
            n = n.saturating_mul(10).saturating_add(i64::from(d - b'0'));
        }
        if t[0] == b'-' {
            n = n.saturating_neg();
        }
        return Ok(n as i32 != 0);
    }
    if t.eq_ignore_ascii_case(b"true") || t.eq_ignore_ascii_case(b"yes") {
        return Ok(true);
    }
    if t.eq_ignore_ascii_case(b"false") || t.eq_ignore_ascii_case(b"no") {
        return Ok(false);
    }
    if lax {
        return Ok(true);
    }
    Err(ExpandError::hard(format!(
        "unrecognised boolean value \"{}\"",
        String::from_utf8_lossy(t)
    )))
}

/// `${if bool{ yes }{y}{n}}` gives `y`; `${if bool{maybe}}` is an error.
pub fn bool_strict(ev: &mut Eval, args: &[Seq]) -> ExpResult<bool> {
    to_bool(&ev.seq(&args[0])?.bytes, false)
}

/// Exim checks `bool`'s value even in a skipped branch, where only literal text
/// survives: `${if eq{a}{b}{${if bool{x}}}}` fails.
pub fn bool_skipped(args: &[Seq]) -> Option<ExpandError> {
    let mut text = Vec::new();
    for n in &args.first()?.nodes {
        if let Node::Text(t) = n {
            text.extend_from_slice(t);
        }
    }
    to_bool(&text, false).err()
}

/// `${if bool_lax{00}{y}{n}}` gives `y` (only empty, `0`, `false`, `no` are false).
pub fn bool_lax(ev: &mut Eval, args: &[Seq]) -> ExpResult<bool> {
    to_bool(&ev.seq(&args[0])?.bytes, true)
}

/// `${if exists{/etc/passwd}{y}{n}}` gives `y` (stat succeeds).
pub fn exists(ev: &mut Eval, args: &[Seq]) -> ExpResult<bool> {
    use std::os::unix::ffi::OsStrExt;
    let path = ev.seq(&args[0])?;
    Ok(std::fs::metadata(std::ffi::OsStr::from_bytes(&path.bytes)).is_ok())
}

fn version(ev: &mut Eval, args: &[Seq]) -> ExpResult<u8> {
    Ok(ip::ip_version(&ev.seq(&args[0])?.bytes, false).0)
}

/// `${if isip{::1}{y}{n}}` gives `y`; `${if isip{999.1.1.1}{y}{n}}` gives `n`.
pub fn isip(ev: &mut Eval, args: &[Seq]) -> ExpResult<bool> {
    version(ev, args).map(|v| v != 0)
}

/// `${if isip4{1.2.3.4}{y}{n}}` gives `y`.
pub fn isip4(ev: &mut Eval, args: &[Seq]) -> ExpResult<bool> {
    version(ev, args).map(|v| v == 4)
}

/// `${if isip6{fe80::1%eth0}{y}{n}}` gives `y`.
pub fn isip6(ev: &mut Eval, args: &[Seq]) -> ExpResult<bool> {
    version(ev, args).map(|v| v == 6)
}

/// `${if first_delivery{y}{n}}`: `Settings::first_delivery` (false under `-be`).
pub fn first_delivery(ev: &mut Eval, _: &[Seq]) -> ExpResult<bool> {
    Ok(ev.ctx.settings.first_delivery)
}

/// `${if queue_running{y}{n}}`: `Settings::queue_running` (false outside queue runs).
pub fn queue_running(ev: &mut Eval, _: &[Seq]) -> ExpResult<bool> {
    Ok(ev.ctx.settings.queue_running)
}

#[cfg(test)]
mod tests {
    #[test]
    fn booleans() {
        use super::to_bool;
        assert_eq!(to_bool(b" 0 ", false), Ok(false));
        assert_eq!(to_bool(b"-", false), Ok(false));
        assert_eq!(to_bool(b"00", true), Ok(true));
        assert_eq!(to_bool(b"4294967296", false), Ok(false));
        assert_eq!(to_bool(b"No", false), Ok(false));
        assert_eq!(to_bool(b"maybe", true), Ok(true));
        assert!(to_bool(b"maybe", false).is_err());
    }
}
