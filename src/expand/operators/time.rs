//! Time operators: `time_eval` (`1h30m` to seconds) and `time_interval` (the reverse).

use crate::error::{ExpResult, ExpandError};
use crate::expand::eval::Eval;
use crate::expand::operators::cstr;
use crate::expand::operators::{emit_clean, Input};

/// Exim's `readconf_readtime`: `1h30m` to seconds; `None` when malformed or negative.
pub fn read_time(s: &[u8]) -> Option<i32> {
    let mut total: i32 = 0;
    let mut i = 0;
    loop {
        if !s.get(i)?.is_ascii_digit() {
            return None;
        }
        let mut n: i64 = 0;
        while let Some(c) = s.get(i).filter(|c| c.is_ascii_digit()) {
            n = n.saturating_mul(10).saturating_add(i64::from(c - b'0'));
            i += 1;
        }
        let mut value = n as i32;
        let mult = match s.get(i) {
            Some(b'w') => 7 * 24 * 3600,
            Some(b'd') => 24 * 3600,
            Some(b'h') => 3600,
            Some(b'm') => 60,
            Some(b's') => 1,
            _ => return None,
        };
        i += 1;
        value = value.wrapping_mul(mult);
        total = total.wrapping_add(value);
        if i >= s.len() {
            return (total >= 0).then_some(total);
        }
    }
}

/// Exim's `readconf_printtime`: seconds to `1w2d3h4m5s` (`0s` for zero).
pub fn print_time(t: i32) -> String {
    let mut out = String::new();
    let mut t = t;
    if t < 0 {
        out.push('-');
        t = t.wrapping_neg();
    }
    let s = t % 60;
    t /= 60;
    let m = t % 60;
    t /= 60;
    let h = t % 24;
    t /= 24;
    let d = t % 7;
    let w = t / 7;
    for (n, unit) in [(w, 'w'), (d, 'd'), (h, 'h'), (m, 'm')] {
        if n > 0 {
            out.push_str(&format!("{n}{unit}"));
        }
    }
    if s > 0 || out.is_empty() {
        out.push_str(&format!("{s}s"));
    }
    out
}

/// `${time_eval:1h30m}` gives `5400`.
pub fn time_eval(_: &mut Eval, _: Option<&str>, v: Input, out: &mut Vec<u8>) -> ExpResult<bool> {
    let s = cstr(v.bytes);
    match read_time(s) {
        Some(n) => Ok(emit_clean(out, n.to_string())),
        None => Err(ExpandError::hard(format!(
            "string \"{}\" is not an Exim time interval in \"time_eval\" operator",
            String::from_utf8_lossy(s)
        ))),
    }
}

/// `${time_interval:5400}` gives `1h30m`.
pub fn time_interval(
    _: &mut Eval,
    _: Option<&str>,
    v: Input,
    out: &mut Vec<u8>,
) -> ExpResult<bool> {
    let s = cstr(v.bytes);
    let digits = s.iter().take_while(|c| c.is_ascii_digit()).count();
    if digits != s.len() {
        return Err(ExpandError::hard(format!(
            "string \"{}\" is not a positive number in \"time_interval\" operator",
            String::from_utf8_lossy(s)
        )));
    }
    let n = s.iter().fold(0i32, |n, c| {
        n.wrapping_mul(10).wrapping_add(i32::from(c - b'0'))
    });
    Ok(emit_clean(out, print_time(n)))
}
