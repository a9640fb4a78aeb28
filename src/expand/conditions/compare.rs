//! Numeric (`= < >` ...) and string (`eq lt ...`) comparisons.

use crate::error::{ExpResult, ExpandError};
use crate::expand::ast::{Node, OpNode, Seq};
use crate::expand::eval::Eval;
use crate::expand::operators::{Input, OpDef};

/// Exim's `expanded_string_integer` for conditions: empty/blank is 0; `strtoll`
/// (sign, decimal digits), then an optional k/m/g multiplier, then only whitespace.
/// Messages quote the text after leading whitespace.
pub fn to_number(s: &[u8]) -> ExpResult<i64> {
    // Up to 18 plain digits cannot overflow: the common case, without the checks below.
    if !s.is_empty() && s.len() <= 18 && s.iter().all(u8::is_ascii_digit) {
        return Ok(s.iter().fold(0i64, |n, &d| n * 10 + i64::from(d - b'0')));
    }
    let space = |c: &u8| matches!(c, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c);
    let lead = s.iter().take_while(|c| space(c)).count();
    let s = &s[lead..];
    if s.is_empty() {
        return Ok(0);
    }
    // The text is only needed for an error message: build it then.
    let msg = |m: &str| ExpandError::hard(m.replace("%s", &String::from_utf8_lossy(s)));
    let neg = s[0] == b'-';
    let start = usize::from(matches!(s[0], b'-' | b'+'));
    let nd = s[start..].iter().take_while(|c| c.is_ascii_digit()).count();
    if nd == 0 {
        return Err(msg("integer expected but \"%s\" found"));
    }
    let too_large = || msg("absolute value of integer \"%s\" is too large (overflow)");
    let mut overflow = false;
    let mut value: i64 = 0;
    for &d in &s[start..start + nd] {
        let digit = i64::from(d - b'0');
        let next = value.checked_mul(10).and_then(|v| {
            if neg {
                v.checked_sub(digit)
            } else {
                v.checked_add(digit)
            }
        });
        match next {
            Some(v) => value = v,
            None => {
                overflow = true;
                break;
            }
        }
    }
    let mut end = start + nd;
    let shift = match s.get(end).map(u8::to_ascii_lowercase) {
        Some(b'k') => 10,
        Some(b'm') => 20,
        Some(b'g') => 30,
        _ => 0,
    };
    if shift > 0 {
        end += 1;
        match value.checked_mul(1 << shift) {
            Some(v) if !overflow => value = v,
            _ => overflow = true,
        }
    }
    if overflow {
        return Err(too_large());
    }
    if !s[end..].iter().all(space) {
        return Err(msg("invalid integer \"%s\""));
    }
    Ok(value)
}

/// Wraps the only argument of a numeric comparison missing its second one, so that
/// (when not skipping) the number check comes first: `${if ={abc}` fails with
/// "integer expected but "abc" found". String comparisons are left as they are.
pub fn checked_number(cond: &str, arg: Seq) -> Seq {
    if cond.starts_with(|c: char| c.is_ascii_alphabetic()) {
        return arg;
    }
    static CHECK: OpDef = OpDef {
        name: "number",
        run: number_check,
    };
    let span = arg.span;
    let node = Node::Op(Box::new(OpNode {
        def: &CHECK,
        arg: None,
        operand: arg,
        span,
    }));
    Seq::new(vec![node], span)
}

fn number_check(_: &mut Eval, _: Option<&str>, v: Input, _: &mut Vec<u8>) -> ExpResult<bool> {
    to_number(v.bytes).map(|_| false)
}

/// Expand both sides, converting each to a number straight after it is read.
fn numbers(ev: &mut Eval, args: &[Seq]) -> ExpResult<(i64, i64)> {
    let a = ev.with_bytes(&args[0], |b, _| to_number(b))??;
    let b = ev.with_bytes(&args[1], |b, _| to_number(b))??;
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

/// Expand both sides (in order) and compare them with `f`.
fn strings(ev: &mut Eval, args: &[Seq], f: impl FnOnce(&[u8], &[u8]) -> bool) -> ExpResult<bool> {
    ev.with_two(&args[0], &args[1], |(a, _), (b, _)| f(a, b))
}

/// `${if eq{a}{a}{y}{n}}` gives `y`.
pub fn eq(ev: &mut Eval, args: &[Seq]) -> ExpResult<bool> {
    strings(ev, args, |a, b| a == b)
}

/// `${if eqi{A}{a}{y}{n}}` gives `y`.
pub fn eqi(ev: &mut Eval, args: &[Seq]) -> ExpResult<bool> {
    strings(ev, args, |a, b| a.eq_ignore_ascii_case(b))
}

/// Exim's `strcmpic`: compare after ASCII lowercasing each byte.
fn caseless_cmp(a: &[u8], b: &[u8]) -> std::cmp::Ordering {
    a.iter()
        .map(u8::to_ascii_lowercase)
        .cmp(b.iter().map(u8::to_ascii_lowercase))
}

/// `${if lt{abc}{abd}{y}{n}}` gives `y` (byte order).
pub fn lt(ev: &mut Eval, args: &[Seq]) -> ExpResult<bool> {
    strings(ev, args, |a, b| a < b)
}

/// `${if lti{ABC}{abd}{y}{n}}` gives `y`.
pub fn lti(ev: &mut Eval, args: &[Seq]) -> ExpResult<bool> {
    strings(ev, args, |a, b| caseless_cmp(a, b).is_lt())
}

/// `${if le{abc}{abc}{y}{n}}` gives `y`.
pub fn le(ev: &mut Eval, args: &[Seq]) -> ExpResult<bool> {
    strings(ev, args, |a, b| a <= b)
}

/// `${if lei{ABC}{abc}{y}{n}}` gives `y`.
pub fn lei(ev: &mut Eval, args: &[Seq]) -> ExpResult<bool> {
    strings(ev, args, |a, b| caseless_cmp(a, b).is_le())
}

/// `${if gt{b}{a}{y}{n}}` gives `y`.
pub fn gt(ev: &mut Eval, args: &[Seq]) -> ExpResult<bool> {
    strings(ev, args, |a, b| a > b)
}

/// `${if gti{B}{a}{y}{n}}` gives `y`.
pub fn gti(ev: &mut Eval, args: &[Seq]) -> ExpResult<bool> {
    strings(ev, args, |a, b| caseless_cmp(a, b).is_gt())
}

/// `${if ge{b}{b}{y}{n}}` gives `y`.
pub fn ge(ev: &mut Eval, args: &[Seq]) -> ExpResult<bool> {
    strings(ev, args, |a, b| a >= b)
}

/// `${if gei{B}{b}{y}{n}}` gives `y`.
pub fn gei(ev: &mut Eval, args: &[Seq]) -> ExpResult<bool> {
    strings(ev, args, |a, b| caseless_cmp(a, b).is_ge())
}
