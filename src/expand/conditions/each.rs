//! `forall` / `forany` (and the `_json`/`_jsons` forms): a condition per list item.

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

fn iterate(ev: &mut Eval, list: &Seq, cond: &Cond, any: bool) -> ExpResult<bool> {
    let text = ev.seq(list)?;
    ev.skip_cond(cond)?;
    let saved = ev.item.take();
    let r = (|| {
        let mut result = false;
        for item in lists::iter(&text.bytes) {
            ev.item = Some(Val {
                bytes: item,
                tainted: text.tainted,
            });
            let v = ev.cond(cond)?;
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
    iterate(ev, list, cond, false)
}

/// `${if forany{a:b}{eq{$item}{b}}}` is true.
pub fn forany(ev: &mut Eval, list: &Seq, cond: &Cond) -> ExpResult<bool> {
    iterate(ev, list, cond, true)
}
