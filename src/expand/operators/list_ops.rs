//! List operators: `listcount`, `listnamed[_a|_d|_h|_l]`.

use crate::error::{ExpResult, ExpandError};
use crate::expand::eval::Eval;
use crate::expand::lists;
use crate::expand::operators::cstr;
use crate::expand::operators::{emit_clean, Input};

/// Deepest nesting of `+name` references followed by `listnamed`.
const MAX_NESTING: u32 = 100;

/// `${listcount:a:b:c}` gives `3`.
pub fn listcount(_: &mut Eval, _: Option<&str>, v: Input, out: &mut Vec<u8>) -> ExpResult<bool> {
    Ok(emit_clean(
        out,
        lists::iter(cstr(v.bytes)).count().to_string(),
    ))
}

/// `${listnamed:mydomains}` gives the named list's text, as a `:` list with nested
/// `+lists` inlined; `_a`, `_d`, `_h`, `_l` restrict the kind of list.
pub fn listnamed(ev: &mut Eval, arg: Option<&str>, v: Input, dst: &mut Vec<u8>) -> ExpResult<bool> {
    let kind = match arg.map(|a| a.bytes().next().unwrap_or(0)) {
        None => None,
        Some(c @ (b'a' | b'd' | b'h' | b'l')) => Some(c as char),
        Some(_) => return Err(ExpandError::hard("bad suffix on \"list\" operator")),
    };
    let mut out = Vec::new();
    let name = String::from_utf8_lossy(cstr(v.bytes)).into_owned();
    expand_named(ev, &name, kind, &mut out, 0)?;
    Ok(v.emit(dst, out))
}

fn find(ev: &Eval, name: &str, kind: Option<char>) -> Option<String> {
    let lists = ev.ctx.named_lists.as_ref()?;
    match kind {
        Some(k) => lists.get(name, Some(k)).map(|(_, s)| s),
        None => ['a', 'd', 'h', 'l']
            .iter()
            .find_map(|k| lists.get(name, Some(*k)))
            .map(|(_, s)| s),
    }
}

fn expand_named(
    ev: &Eval,
    name: &str,
    kind: Option<char>,
    out: &mut Vec<u8>,
    depth: u32,
) -> ExpResult<()> {
    if depth > MAX_NESTING {
        return Err(ExpandError::hard(format!(
            "named list \"{name}\" nested too deeply"
        )));
    }
    let name = name.strip_prefix('+').unwrap_or(name);
    let Some(text) = find(ev, name, kind) else {
        let what = match kind {
            None => "",
            Some('a') => "address ",
            Some('d') => "domain ",
            Some('h') => "host ",
            _ => "localpart ",
        };
        return Err(ExpandError::hard(format!(
            "\"{name}\" is not a {what}named list"
        )));
    };
    let mut it = lists::iter(text.as_bytes());
    let sep = it.separator();
    let mut first = true;
    for item in it {
        if !first {
            out.extend_from_slice(b" : ");
        }
        first = false;
        if item.first() == Some(&b'+') {
            expand_named(ev, &String::from_utf8_lossy(&item), kind, out, depth + 1)?;
        } else if sep != b':' {
            for &c in &item {
                if c == b':' {
                    out.extend_from_slice(b"::");
                } else {
                    out.push(c);
                }
            }
        } else {
            out.extend_from_slice(&item);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use crate::expand::context::{Context, NamedLists};

    struct Lists;

    impl NamedLists for Lists {
        fn get(&self, name: &str, kind: Option<char>) -> Option<(char, String)> {
            let (k, text) = match name {
                "doms" => ('d', "a.example : +more"),
                "more" => ('d', "<; b.example ; c:d"),
                "hosts" => ('h', "1.2.3.4"),
                "loop" => ('d', "+loop"),
                _ => return None,
            };
            (kind.is_none() || kind == Some(k)).then(|| (k, text.to_string()))
        }
    }

    fn run(s: &str) -> String {
        let mut ctx = Context::default();
        ctx.named_lists = Some(Arc::new(Lists));
        match crate::expand::expand_str(s, &mut ctx) {
            Ok(v) => v.as_str_lossy().into_owned(),
            Err(e) => format!("Failed: {e}"),
        }
    }

    #[test]
    fn listnamed() {
        assert_eq!(run("${listnamed:doms}"), "a.example : b.example : c::d");
        assert_eq!(run("${listnamed_d:+doms}"), "a.example : b.example : c::d");
        assert_eq!(
            run("${listnamed_h:doms}"),
            "Failed: \"doms\" is not a host named list"
        );
        assert_eq!(run("${listnamed:hosts}"), "1.2.3.4");
        assert_eq!(
            run("${listnamed_l:x}"),
            "Failed: \"x\" is not a localpart named list"
        );
        assert_eq!(
            run("${listnamed_q:x}"),
            "Failed: bad suffix on \"list\" operator"
        );
        assert!(run("${listnamed:loop}").contains("nested too deeply"));
    }
}
