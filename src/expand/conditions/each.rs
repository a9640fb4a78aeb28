//! `forall` / `forany` (and the `_json`/`_jsons` forms): a condition per list item.
//! The JSON forms split arrays textually as Exim 4.96 does (bracket depth only, commas
//! inside strings split too), so results match Exim rather than a JSON parser.

use crate::error::{ExpResult, ExpandError};
use crate::expand::ast::{Cond, Seq};
use crate::expand::eval::Eval;
use crate::expand::json_text::{dewrap, json_next};
use crate::expand::lists;

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
    let items: Vec<std::borrow::Cow<[u8]>> = match mode {
        Mode::List => {
            let mut it = lists::iter(&text.bytes);
            std::iter::from_fn(|| it.next_item()).collect()
        }
        Mode::Json | Mode::Jsons => {
            let mut inner =
                dewrap(&text.bytes, b'[', b']').map_err(|_| ExpandError::hard("missing ']'"))?;
            std::iter::from_fn(|| json_next(&mut inner).map(std::borrow::Cow::Borrowed)).collect()
        }
    };
    let saved = ev.item.take();

    let r = (|| {
        let mut result = false;
        for item in &items {
            let item: &[u8] = if mode == Mode::Jsons {
                dewrap(item, b'"', b'"').map_err(|_| {
                    ExpandError::hard("missing '\"' wrapping string result for extract jsons")
                })?
            } else {
                item
            };
            ev.set_item(item, text.tainted);
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
