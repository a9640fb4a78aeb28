//! List items: `${map}`, `${filter}`, `${reduce}` (and their `$item`/`$value` scoping).

use crate::error::{ExpResult, ExpandError};
use crate::expand::ast::{FilterNode, ItemNode};
use crate::expand::eval::Eval;
use crate::expand::lists;
use crate::expand::value::Val;

/// Exim's wording for a missing argument group of map/filter/reduce/sort.
pub fn missing_arg(name: &str, got: usize) -> String {
    let which = match (name, got) {
        (_, 0) => "first",
        ("reduce", 1) | ("sort", 1) => "second",
        _ => "last",
    };
    format!("missing '{{' for {which} arg of {name}")
}

fn check_count(ev: &Eval, n: usize) -> ExpResult<()> {
    if n > ev.ctx.limits.max_list_items {
        return Err(ExpandError::hard(format!(
            "list has more than {} items",
            ev.ctx.limits.max_list_items
        )));
    }
    Ok(())
}

/// `${map{a:b}{[$item]}}` gives `[a]:[b]`.
pub fn map(ev: &mut Eval, node: &ItemNode, out: &mut Val) -> ExpResult<()> {
    let list = ev.seq(&node.args[0])?;
    ev.skip(&node.args[1])?;
    let saved_item = ev.item.take();
    let saved_value = ev.value.clone();
    let r = (|| {
        let mut it = lists::iter(&list.bytes);
        let sep = it.separator();
        let mut result = list.derive(Vec::new());
        for (n, item) in it.enumerate() {
            check_count(ev, n)?;
            ev.item = Some(list.derive(item));
            let mapped = ev.seq(&node.args[1])?;
            result.tainted |= mapped.tainted;
            lists::append_item(&mut result.bytes, sep, &mapped.bytes);
        }
        Ok(result)
    })();
    ev.item = saved_item;
    ev.value = saved_value;
    out.push(&r?);
    Ok(())
}

/// `${reduce{1:2:3}{0}{${eval:$value+$item}}}` gives `6`.
pub fn reduce(ev: &mut Eval, node: &ItemNode, out: &mut Val) -> ExpResult<()> {
    let list = ev.seq(&node.args[0])?;
    let init = ev.seq(&node.args[1])?;
    ev.skip(&node.args[2])?;
    let saved_item = ev.item.take();
    let saved_value = ev.value.replace(init);
    let r = (|| {
        for (n, item) in lists::iter(&list.bytes).enumerate() {
            check_count(ev, n)?;
            ev.item = Some(list.derive(item));
            let next = ev.seq(&node.args[2])?;
            ev.value = Some(next);
        }
        Ok(ev.value.clone().unwrap_or_default())
    })();
    ev.item = saved_item;
    ev.value = saved_value;
    out.push(&r?);
    Ok(())
}

/// `${filter{a:b:c}{!eq{$item}{b}}}` gives `a:c`.
pub fn filter(ev: &mut Eval, node: &FilterNode, out: &mut Val) -> ExpResult<()> {
    let list = ev.seq(&node.list)?;
    ev.skip_cond(&node.cond)?;
    let saved_item = ev.item.take();
    let saved_value = ev.value.clone();
    let r = (|| {
        let mut it = lists::iter(&list.bytes);
        let sep = it.separator();
        let mut result = list.derive(Vec::new());
        for (n, item) in it.enumerate() {
            check_count(ev, n)?;
            ev.item = Some(list.derive(item.clone()));
            let keep = ev.cond(&node.cond)?;
            ev.value = saved_value.clone();
            if keep {
                lists::append_item(&mut result.bytes, sep, &item);
            }
        }
        Ok(result)
    })();
    ev.item = saved_item;
    ev.value = saved_value;
    out.push(&r?);
    Ok(())
}
