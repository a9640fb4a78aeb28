//! `forall` / `forany` (and the `_json`/`_jsons` forms): a condition per list item.
//! The JSON forms split arrays textually as Exim 4.96 does (bracket depth only, commas
//! inside strings split too), so results match Exim rather than a JSON parser.

use crate::error::{ExpResult, ExpandError};
use crate::expand::ast::{Cond, Seq};
use crate::expand::eval::Eval;
use crate::expand::lists;
use crate::expand::value::Val;

/// Placeholder `run` for iterator conditions, which the evaluator calls through `each`.
pub fn not_direct(_: &mut Eval, _: &[Seq]) -> ExpResult<bool> {
    Err(ExpandError::hard(
        "internal error: iterator condition called without its list",
    ))
}

/// Exim's suffix for errors inside a forall/forany condition; the missing-`}`
/// error of the condition group itself is Exim's own and is not wrapped.
pub fn inside(name: &str, mut e: ExpandError) -> ExpandError {
    if e.message != format!("missing }} at end of condition inside \"{name}\"") {
        e.message = format!("{} inside \"{name}\" condition", e.message);
    }
    e
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    List,
    Json,
    Jsons,
}

fn iterate(ev: &mut Eval, list: &Seq, cond: &Cond, any: bool, mode: Mode) -> ExpResult<bool> {
    let name = match (mode, any) {
        (Mode::List, false) => "forall",
        (Mode::List, true) => "forany",
        (Mode::Json, false) => "forall_json",
        (Mode::Json, true) => "forany_json",
        (Mode::Jsons, false) => "forall_jsons",
        (Mode::Jsons, true) => "forany_jsons",
    };
    let inside = |e: ExpandError| inside(name, e);
    let text = ev.seq(list)?;
    ev.skip_cond(cond).map_err(inside)?;
    let items: Vec<Vec<u8>> = match mode {
        Mode::List => lists::iter(&text.bytes).collect(),
        Mode::Json | Mode::Jsons => {
            let inner =
                dewrap(&text.bytes, b'[', b']').ok_or_else(|| ExpandError::hard("missing ']'"))?;
            json_items(inner)
        }
    };
    let saved = ev.item.take();

    let r = (|| {
        let mut result = false;
        for item in items {
            let item = if mode == Mode::Jsons {
                dewrap(&item, b'"', b'"')
                    .ok_or_else(|| {
                        ExpandError::hard("missing '\"' wrapping string result for extract jsons")
                    })?
                    .to_vec()
            } else {
                item
            };
            ev.item = Some(Val {
                bytes: item,
                tainted: text.tainted,
            });
            let v = ev.cond(cond).map_err(inside)?;
            if any && v {
                return Ok(true);
            }
            if !any && !v {
                return Ok(false);
            }
            result = true;
        }
        // Exim: an empty list is false for both forall and forany.
        Ok(if any { false } else { result })
    })();
    ev.item = saved;
    r
}

fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

/// Exim's `dewrap`: after leading space, `open` must follow; the text up to the
/// matching unescaped `close` is returned (nesting counted unless open == close).
fn dewrap(s: &[u8], open: u8, close: u8) -> Option<&[u8]> {
    let start = s.iter().position(|&c| !is_space(c))?;
    if s[start] != open {
        return None;
    }
    let body = start + 1;
    let mut depth = 0u32;
    let mut p = body;
    while p < s.len() {
        let c = s[p];
        if c == b'\\' {
            p += 1;
        } else if open != close && c == open {
            depth += 1;
        } else if c == close {
            if depth == 0 {
                return Some(&s[body..p]);
            }
            depth -= 1;
        }
        p += 1;
    }
    None
}

/// Exim's `json_nextinlist` over a whole array body: elements split at commas
/// outside brackets/braces; leading space dropped; an empty element ends the list.
fn json_items(mut s: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let skip = s.iter().take_while(|&&c| is_space(c)).count();
        s = &s[skip..];
        let (mut arrays, mut objects) = (0u32, 0u32);
        let mut end = 0;
        while end < s.len() && (s[end] != b',' || arrays != 0 || objects != 0) {
            match s[end] {
                b'[' => arrays = arrays.wrapping_add(1),
                b']' => arrays = arrays.wrapping_sub(1),
                b'{' => objects = objects.wrapping_add(1),
                b'}' => objects = objects.wrapping_sub(1),
                _ => {}
            }
            end += 1;
        }
        if end == 0 {
            return out;
        }
        out.push(s[..end].to_vec());
        s = if end < s.len() {
            &s[end + 1..]
        } else {
            &s[end..]
        };
    }
}

/// `${if forall{a:b}{eq{$item}{a}}}` is false; over an empty list it is false too.
pub fn forall(ev: &mut Eval, list: &Seq, cond: &Cond) -> ExpResult<bool> {
    iterate(ev, list, cond, false, Mode::List)
}

/// `${if forany{a:b}{eq{$item}{b}}}` is true.
pub fn forany(ev: &mut Eval, list: &Seq, cond: &Cond) -> ExpResult<bool> {
    iterate(ev, list, cond, true, Mode::List)
}

/// `${if forall_json{[1, 2]}{>{$item}{0}}}` is true.
pub fn forall_json(ev: &mut Eval, list: &Seq, cond: &Cond) -> ExpResult<bool> {
    iterate(ev, list, cond, false, Mode::Json)
}

/// `${if forany_json{[1, [2,3]]}{eq{$item}{[2,3]}}}` is true.
pub fn forany_json(ev: &mut Eval, list: &Seq, cond: &Cond) -> ExpResult<bool> {
    iterate(ev, list, cond, true, Mode::Json)
}

/// `${if forall_jsons{["a", "b"]}{match{$item}{^[ab]\$}}}` is true (items de-quoted).
pub fn forall_jsons(ev: &mut Eval, list: &Seq, cond: &Cond) -> ExpResult<bool> {
    iterate(ev, list, cond, false, Mode::Jsons)
}

/// `${if forany_jsons{["a", "b"]}{eq{$item}{b}}}` is true.
pub fn forany_jsons(ev: &mut Eval, list: &Seq, cond: &Cond) -> ExpResult<bool> {
    iterate(ev, list, cond, true, Mode::Jsons)
}
