//! List items: `${map}`, `${filter}`, `${reduce}`, `${sort}` (and their `$item`/`$value` scoping).

use crate::error::{ExpResult, ExpandError};
use crate::expand::ast::{FilterNode, ItemNode};
use crate::expand::conditions::compare;
use crate::expand::eval::Eval;
use crate::expand::lists;
use crate::expand::value::Val;

/// Exim's wording for a missing argument group of map/filter/reduce/sort.
pub fn missing_arg(name: &str, got: usize) -> String {
    let which = match (name, got) {
        (_, 0) => "first",
        ("reduce", 1) => "second",
        _ => "last",
    };
    format!("missing '{{' for {which} arg of {name}")
}

/// Append an element to a map/filter result as Exim does: separators inside it are
/// doubled, and an element after the first that is empty or starts with the separator
/// gets a leading space (the first never does: `${map{ : a}{$item}}` gives `:a`).
#[inline]
fn append_output(out: &mut Vec<u8>, first: bool, sep: u8, item: &[u8]) {
    if !first {
        out.push(sep);
        if item.first().is_none_or(|&c| c == sep) {
            out.push(b' ');
        }
    }
    // Most items hold no separator: one copy instead of a push per byte.
    let mut rest = item;
    while let Some(i) = rest.iter().position(|&c| c == sep) {
        out.extend_from_slice(&rest[..=i]);
        out.push(sep);
        rest = &rest[i + 1..];
    }
    out.extend_from_slice(rest);
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
    ev.skip(&node.args[1])
        .map_err(|e| inside(e, "map", "item"))?;
    let saved_item = ev.item.take();
    let saved_value = ev.value.clone();
    let (base, base_taint) = (out.bytes.len(), out.tainted);
    let r = (|| {
        let mut it = lists::iter(&list.bytes);
        let sep = it.separator();
        out.tainted |= list.tainted;
        let mut mapped = ev.take_scratch();
        let mut n = 0;
        while let Some(item) = it.next_item() {
            check_count(ev, n)?;
            ev.set_item(&item, list.tainted);
            mapped.bytes.clear();
            mapped.tainted = false;
            ev.seq_into(&node.args[1], &mut mapped)
                .map_err(|e| inside(e, "map", "item"))?;
            out.tainted |= mapped.tainted;
            append_output(&mut out.bytes, n == 0, sep, &mapped.bytes);
            n += 1;
        }
        ev.recycle(mapped);
        Ok(())
    })();
    ev.item = saved_item;
    ev.value = saved_value;
    ev.recycle(list);
    if r.is_err() {
        out.bytes.truncate(base);
        out.tainted = base_taint;
    }
    r
}

/// `${reduce{1:2:3}{0}{${eval:$value+$item}}}` gives `6`.
pub fn reduce(ev: &mut Eval, node: &ItemNode, out: &mut Val) -> ExpResult<()> {
    let list = ev.seq(&node.args[0])?;
    let init = ev.seq(&node.args[1])?;
    ev.skip(&node.args[2])
        .map_err(|e| inside(e, "reduce", "item"))?;
    let saved_item = ev.item.take();
    let saved_value = ev.value.replace(init);
    let r = (|| {
        let mut it = lists::iter(&list.bytes);
        let mut next = ev.take_scratch();
        let mut n = 0;
        while let Some(item) = it.next_item() {
            check_count(ev, n)?;
            ev.set_item(&item, list.tainted);
            next.bytes.clear();
            next.tainted = false;
            ev.seq_into(&node.args[2], &mut next)
                .map_err(|e| inside(e, "reduce", "item"))?;
            // The new `$value` takes the old one's buffer for the next round.
            match &mut ev.value {
                Some(v) => std::mem::swap(v, &mut next),
                None => ev.value = Some(std::mem::take(&mut next)),
            }
            n += 1;
        }
        ev.recycle(next);
        Ok(ev.value.take().unwrap_or_default())
    })();
    ev.item = saved_item;
    ev.value = saved_value;
    ev.recycle(list);
    let r = r?;
    out.push(&r);
    ev.recycle(r);
    Ok(())
}

/// `${filter{a:b:c}{!eq{$item}{b}}}` gives `a:c`.
pub fn filter(ev: &mut Eval, node: &FilterNode, out: &mut Val) -> ExpResult<()> {
    let list = ev.seq(&node.list)?;
    ev.skip_cond(&node.cond)
        .map_err(|e| inside(e, "filter", "item"))?;
    let saved_item = ev.item.take();
    let saved_value = ev.value.clone();
    let (base, base_taint) = (out.bytes.len(), out.tainted);
    let r = (|| {
        let mut it = lists::iter(&list.bytes);
        let sep = it.separator();
        out.tainted |= list.tainted;
        let mut first = true;
        let mut n = 0;
        while let Some(item) = it.next_item() {
            check_count(ev, n)?;
            ev.set_item(&item, list.tainted);
            let keep = ev
                .cond(&node.cond)
                .map_err(|e| inside(e, "filter", "condition"))?;
            ev.restore_value(&saved_value);
            if keep {
                append_output(&mut out.bytes, first, sep, &item);
                first = false;
            }
            n += 1;
        }
        Ok(())
    })();
    ev.item = saved_item;
    ev.value = saved_value;
    ev.recycle(list);
    if r.is_err() {
        out.bytes.truncate(base);
        out.tainted = base_taint;
    }
    r
}

/// Exim's wording for a missing argument group of sort.
pub fn sort_missing(_: &str, got: usize) -> String {
    let which = match got {
        0 => "list",
        1 => "comparator",
        _ => "extractor",
    };
    format!("missing '{{' for {which} arg of sort")
}

/// Every condition name Exim 4.96 knows: a known one that cannot order is
/// "not handled", an unknown one fails with an empty message, as in Exim.
const CONDITIONS: &[&str] = &[
    "acl",
    "and",
    "bool",
    "bool_lax",
    "crypteq",
    "def",
    "eq",
    "eqi",
    "exists",
    "first_delivery",
    "forall",
    "forall_json",
    "forall_jsons",
    "forany",
    "forany_json",
    "forany_jsons",
    "ge",
    "gei",
    "gt",
    "gti",
    "inbound_srs",
    "inlist",
    "inlisti",
    "isip",
    "isip4",
    "isip6",
    "ldapauth",
    "le",
    "lei",
    "lt",
    "lti",
    "match",
    "match_address",
    "match_domain",
    "match_ip",
    "match_local_part",
    "or",
    "pam",
    "pwcheck",
    "queue_running",
    "radius",
    "saslauthd",
];

#[derive(Clone, Copy)]
enum Order {
    Num(fn(i64, i64) -> bool),
    Str(fn(std::cmp::Ordering) -> bool, bool),
}

fn comparator(text: &[u8]) -> ExpResult<Order> {
    use std::cmp::Ordering::*;
    let name: &[u8] = if matches!(text.first(), Some(b'<' | b'=' | b'>')) {
        if text.get(1) == Some(&b'=') {
            &text[..2]
        } else {
            &text[..1]
        }
    } else {
        let n = text
            .iter()
            .take_while(|c| c.is_ascii_alphanumeric() || **c == b'_')
            .count();
        &text[..n]
    };
    if name.is_empty() {
        let found: String = String::from_utf8_lossy(text).chars().take(16).collect();
        return Err(ExpandError::hard(format!(
            "condition name expected, but found \"{found}\""
        )));
    }
    Ok(match name {
        b"<" => Order::Num(|a, b| a < b),
        b"<=" => Order::Num(|a, b| a <= b),
        b">" => Order::Num(|a, b| a > b),
        b">=" => Order::Num(|a, b| a >= b),
        b"lt" => Order::Str(|o| o == Less, false),
        b"lti" => Order::Str(|o| o == Less, true),
        b"le" => Order::Str(|o| o != Greater, false),
        b"lei" => Order::Str(|o| o != Greater, true),
        b"gt" => Order::Str(|o| o == Greater, false),
        b"gti" => Order::Str(|o| o == Greater, true),
        b"ge" => Order::Str(|o| o != Less, false),
        b"gei" => Order::Str(|o| o != Less, true),
        b"=" | b"==" => return Err(ExpandError::hard("comparator not handled for sort")),
        other if CONDITIONS.iter().any(|c| c.as_bytes() == other) => {
            return Err(ExpandError::hard("comparator not handled for sort"))
        }
        _ => return Err(ExpandError::hard("")),
    })
}

fn sorts_before(order: Order, a: &[u8], b: &[u8]) -> bool {
    match order {
        // An unconvertible number makes the comparison false, as in Exim.
        Order::Num(f) => match (compare::to_number(a), compare::to_number(b)) {
            (Ok(x), Ok(y)) => f(x, y),
            _ => false,
        },
        Order::Str(f, caseless) => {
            let o = if caseless {
                a.to_ascii_lowercase().cmp(&b.to_ascii_lowercase())
            } else {
                a.cmp(b)
            };
            f(o)
        }
    }
}

/// A rough source form of the extractor for the "field-extract" message.
fn source_text(seq: &crate::expand::ast::Seq) -> String {
    use crate::expand::ast::Node;
    let mut s = String::new();
    for n in &seq.nodes {
        match n {
            Node::Text(t) => s.push_str(&String::from_utf8_lossy(t)),
            Node::Var(v, _) => {
                s.push('$');
                s.push_str(&v.name());
            }
            Node::Capture(c) => s.push_str(&format!("${c}")),
            _ => s.push_str("${...}"),
        }
    }
    s
}

/// `${sort{3:1:2}{<}{$item}}` gives `1:2:3` (stable insertion sort on the extracted keys).
pub fn sort(ev: &mut Eval, node: &ItemNode, out: &mut Val) -> ExpResult<()> {
    let list = ev.seq(&node.args[0])?;
    let cmp = ev.seq(&node.args[1])?;
    let order = comparator(&cmp.bytes)?;
    ev.skip(&node.args[2])?;
    let saved_item = ev.item.take();
    let r = (|| {
        let mut it = lists::iter(&list.bytes);
        let sep = it.separator();
        let mut sorted: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
        let mut tainted = list.tainted;
        for (n, item) in it.enumerate() {
            check_count(ev, n)?;
            ev.item = Some(list.derive(item.clone()));
            let key = ev.seq(&node.args[2])?;
            if key.is_empty() {
                return Err(ExpandError::hard(format!(
                    "field-extract in sort: \"{}\"",
                    source_text(&node.args[2])
                )));
            }
            let pos = sorted
                .iter()
                .position(|(_, k)| sorts_before(order, &key.bytes, k))
                .unwrap_or(sorted.len());
            sorted.insert(pos, (item, key.bytes));
        }
        let mut result = Vec::new();
        for (i, (item, _)) in sorted.iter().enumerate() {
            if i > 0 {
                result.push(sep);
            }
            for &c in item {
                result.push(c);
                if c == sep {
                    result.push(sep);
                }
            }
        }
        tainted |= ev.item.as_ref().is_some_and(|v| v.tainted);
        Ok(Val {
            bytes: result,
            tainted,
        })
    })();
    ev.item = saved_item;
    out.push(&r?);
    Ok(())
}

/// Exim's suffix for a failure in the body of map/reduce/filter (the kind is kept).
fn inside(mut e: crate::error::ExpandError, name: &str, what: &str) -> crate::error::ExpandError {
    e.message = format!("{} inside \"{name}\" {what}", e.message);
    e
}
