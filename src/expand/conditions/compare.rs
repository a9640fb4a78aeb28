//! Numeric (`= < >` ...) and string (`eq lt ...`) comparisons.

use crate::error::{ExpResult, ExpandError};
use crate::expand::ast::Seq;
use crate::expand::eval::Eval;

/// Exim's number rules for conditions: empty/blank is 0; decimal with optional
/// sign, then an optional k/m/g multiplier, then only whitespace.
pub fn to_number(s: &[u8]) -> ExpResult<i64> {
    let text = String::from_utf8_lossy(s);
    if text.trim().is_empty() {
        return Ok(0);
    }
    let bad = || ExpandError::hard(format!("integer expected but \"{text}\" found"));
    let t = text.trim_start();
    let (neg, digits_start) = match t.as_bytes().first() {
        Some(b'-') => (true, 1),
        Some(b'+') => (false, 1),
        _ => (false, 0),
    };
    let rest = &t[digits_start..];
    let nd = rest.bytes().take_while(u8::is_ascii_digit).count();
    if nd == 0 {
        return Err(bad());
    }
    let mut value: i64 = rest[..nd].parse::<i64>().map_err(|_| {
        ExpandError::hard(format!(
            "absolute value of integer \"{text}\" is too large (overflow)"
        ))
    })?;
    let mut tail = &rest[nd..];
    if let Some(c) = tail.bytes().next() {
        let shift = match c.to_ascii_lowercase() {
            b'k' => 10,
            b'm' => 20,
            b'g' => 30,
            _ => 0,
        };
        if shift > 0 {
            value = value.checked_mul(1 << shift).ok_or_else(|| {
                ExpandError::hard(format!(
                    "absolute value of integer \"{text}\" is too large (overflow)"
                ))
            })?;
            tail = &tail[1..];
        }
    }
    if !tail.trim().is_empty() {
        return Err(bad());
    }
    Ok(if neg { -value } else { value })
}

/// Expand both sides, converting each to a number straight after it is read.
fn numbers(ev: &mut Eval, args: &[Seq]) -> ExpResult<(i64, i64)> {
    let a = to_number(&ev.seq(&args[0])?.bytes)?;
    let b = to_number(&ev.seq(&args[1])?.bytes)?;
    Ok((a, b))
}

/// `${if ={1}{1k}{y}{n}}` gives `n`; `${if ={1024}{1k}{y}{n}}` gives `y`.
pub fn num_eq(ev: &mut Eval, args: &[Seq]) -> ExpResult<bool> {
    numbers(ev, args).map(|(a, b)| a == b)
}

pub fn num_lt(ev: &mut Eval, args: &[Seq]) -> ExpResult<bool> {
    numbers(ev, args).map(|(a, b)| a < b)
}

pub fn num_le(ev: &mut Eval, args: &[Seq]) -> ExpResult<bool> {
    numbers(ev, args).map(|(a, b)| a <= b)
}

pub fn num_gt(ev: &mut Eval, args: &[Seq]) -> ExpResult<bool> {
    numbers(ev, args).map(|(a, b)| a > b)
}

pub fn num_ge(ev: &mut Eval, args: &[Seq]) -> ExpResult<bool> {
    numbers(ev, args).map(|(a, b)| a >= b)
}

fn strings(ev: &mut Eval, args: &[Seq]) -> ExpResult<(Vec<u8>, Vec<u8>)> {
    let a = ev.seq(&args[0])?.bytes;
    let b = ev.seq(&args[1])?.bytes;
    Ok((a, b))
}

/// `${if eq{a}{a}{y}{n}}` gives `y`.
pub fn eq(ev: &mut Eval, args: &[Seq]) -> ExpResult<bool> {
    strings(ev, args).map(|(a, b)| a == b)
}

/// `${if eqi{A}{a}{y}{n}}` gives `y`.
pub fn eqi(ev: &mut Eval, args: &[Seq]) -> ExpResult<bool> {
    strings(ev, args).map(|(a, b)| a.eq_ignore_ascii_case(&b))
}
