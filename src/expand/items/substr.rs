//! `${length{n}{s}}`, `${substr{a}{b}{s}}`, `${hash{n}{m}{s}}`, `${nhash{n}{m}{s}}`: the item
//! forms of the operators of the same names (algorithms in `operators::substr`).

use std::sync::Arc;

use crate::error::{ExpResult, ExpandError};
use crate::expand::ast::{ItemNode, Node, Seq, Tail};
use crate::expand::eval::Eval;
use crate::expand::operators::{cstr, substr as algo};
use crate::expand::value::Val;

/// C `strtol(s, &end, 10)` cast to `int`; `None` unless the whole string is used.
fn int_arg(s: &[u8]) -> Option<i32> {
    let mut i = 0;
    while s
        .get(i)
        .is_some_and(|c| matches!(c, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c))
    {
        i += 1;
    }
    let neg = s.get(i) == Some(&b'-');
    if matches!(s.get(i), Some(b'-' | b'+')) {
        i += 1;
    }
    let start = i;
    let mut n: i64 = 0;
    while let Some(c) = s.get(i).filter(|c| c.is_ascii_digit()) {
        n = n.saturating_mul(10).saturating_add(i64::from(c - b'0'));
        i += 1;
    }
    if i == start {
        // No digits: strtol leaves the end at the start; only "" passes.
        return s.is_empty().then_some(0);
    }
    if i != s.len() {
        return None;
    }
    Some((if neg { n.saturating_neg() } else { n }) as i32)
}

/// Validate the arguments (as expanded strings) and compute the result, as Exim does
/// for `name` (`length`, `substr`, `hash`, `nhash`).
pub fn compute(name: &str, args: &[&[u8]]) -> Result<Vec<u8>, String> {
    let (nums, subject): (Vec<Option<&[u8]>>, &[u8]) = match (name, args) {
        ("length", [n, s]) => (vec![None, Some(*n)], s),
        (_, [a, s]) => (vec![Some(*a), None], s),
        (_, [a, b, s]) => (vec![Some(*a), Some(*b)], s),
        _ => return Err(format!("wrong number of arguments for \"{name}\"")),
    };
    let mut val = [0i32, -1];
    for (i, arg) in nums.iter().enumerate() {
        let Some(text) = arg else { continue };
        let text = cstr(text);
        match int_arg(text) {
            Some(v) if i == 0 || v >= 0 => val[i] = v,
            _ => {
                return Err(format!(
                    "\"{}\" is not a{} number (in \"{name}\" expansion)",
                    String::from_utf8_lossy(text),
                    if i != 0 { " positive" } else { "" }
                ))
            }
        }
    }
    let s = cstr(subject);
    match name {
        "hash" => algo::hash(s, val[0], val[1]),
        "nhash" => algo::nhash(s, val[0], val[1]),
        _ => Ok(algo::substr(s, val[0], val[1]).to_vec()),
    }
}

fn run(name: &str, ev: &mut Eval, it: &ItemNode, out: &mut Val) -> ExpResult<()> {
    let mut vals = Vec::with_capacity(it.args.len());
    for a in &it.args {
        vals.push(ev.seq(a)?);
    }
    let refs: Vec<&[u8]> = vals.iter().map(|v| &v.bytes[..]).collect();
    let bytes = compute(name, &refs).map_err(ExpandError::hard)?;
    let tainted = vals.last().is_some_and(|v| v.tainted);
    out.push(&Val { bytes, tainted });
    Ok(())
}

/// `${length{3}{abcde}}` gives `abc`.
pub fn length(ev: &mut Eval, it: &ItemNode, out: &mut Val) -> ExpResult<()> {
    run("length", ev, it, out)
}

/// `${substr{1}{2}{abcde}}` gives `bc`; `${substr{-2}{abcde}}` gives `de`.
pub fn substr(ev: &mut Eval, it: &ItemNode, out: &mut Val) -> ExpResult<()> {
    run("substr", ev, it, out)
}

/// `${hash{3}{monty}}` gives `jmg`.
pub fn hash(ev: &mut Eval, it: &ItemNode, out: &mut Val) -> ExpResult<()> {
    run("hash", ev, it, out)
}

/// `${nhash{8}{64}{supercalifragilisticexpialidocious}}` gives `6/33`.
pub fn nhash(ev: &mut Eval, it: &ItemNode, out: &mut Val) -> ExpResult<()> {
    run("nhash", ev, it, out)
}

/// What a skipped branch yields for an argument: its literal text only.
fn skipped_text(s: &Seq) -> Vec<u8> {
    let mut out = Vec::new();
    for n in &s.nodes {
        if let Node::Text(t) = n {
            out.extend_from_slice(t);
        }
    }
    out
}

/// Exim 4.96 runs these items even when skipping, on the arguments' literal text, so a
/// bad literal number fails an unselected branch too. The error is placed where a
/// skipped item's static errors are collected (a `Subs` item never runs its tail).
pub fn skipped_tail<'a>(name: &str, args: impl Iterator<Item = &'a Seq> + Clone) -> Tail {
    if !matches!(name, "length" | "substr" | "hash" | "nhash")
        || args.clone().any(|a| a.static_err.is_some())
    {
        return Tail::default();
    }
    let texts: Vec<Vec<u8>> = args.map(skipped_text).collect();
    let refs: Vec<&[u8]> = texts.iter().map(|t| &t[..]).collect();
    match compute(name, &refs) {
        Ok(_) => Tail::default(),
        Err(msg) => Tail {
            after: Some(Arc::new(ExpandError::hard(msg))),
            ..Tail::default()
        },
    }
}
