//! `${lookup{key}type{file}{yes}{no}}` and `${lookup type{query}{yes}{no}}`.

use crate::error::{ExpResult, ExpandError};
use crate::expand::ast::LookupNode;
use crate::expand::eval::Eval;
use crate::expand::value::Val;

/// `${lookup{b}lsearch{/f}{$value}}` gives the data for key `b` in `/f`.
pub fn run(ev: &mut Eval, node: &LookupNode, out: &mut Val) -> ExpResult<()> {
    let key = match &node.key {
        Some(k) => Some(ev.seq(k)?),
        None => None,
    };
    let source = ev.seq(&node.source)?;
    if node.spec.is_single_key() && source.tainted {
        let msg = format!("Tainted filename for search: '{}'", source.as_str_lossy());
        ev.ctx.log.push(msg);
        return Err(ExpandError::hard(""));
    }
    let lookups = ev.ctx.lookups.clone();
    let key_bytes = key
        .as_ref()
        .map(|k| k.bytes.as_slice())
        .unwrap_or(&source.bytes);
    let hit = lookups.find(&node.spec, &source.bytes, key_bytes)?;
    let saved_caps = ev.captures.clone();
    let found = hit.is_some();
    let value = hit.map(|h| {
        if let Some((wild, fixed)) = &h.captures {
            ev.captures = vec![
                Val::new(key_bytes),
                Val::new(wild.clone()),
                Val::new(fixed.clone()),
            ];
        }
        Val {
            bytes: h.data,
            tainted: h.tainted,
        }
    });
    let r = ev.tail(
        &node.tail,
        found,
        value.clone().unwrap_or_default(),
        value,
        "lookup",
        out,
    );
    ev.captures = saved_caps;
    r
}
