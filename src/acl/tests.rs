//! ACL conditions that are tests (as opposed to modifiers): `condition`, `acl`, `verify`, ...

use crate::acl::engine::{check_text, AclRun, Rc};
use crate::acl::model::Item;
use crate::expand::{expand_str, lists, Val};

/// `condition = ${...}`: empty, 0, no, false are false; non-zero numbers, yes, true are
/// true; anything else defers with `invalid "condition" value`.
pub fn condition(run: &mut AclRun, _: &Item, arg: &[u8]) -> Rc {
    let s = String::from_utf8_lossy(arg);
    let digits = s.strip_prefix('-').unwrap_or(&s);
    if digits.bytes().all(|c| c.is_ascii_digit()) {
        return if digits.bytes().all(|c| c == b'0') {
            Rc::Fail
        } else {
            Rc::Ok
        };
    }
    match s.to_ascii_lowercase().as_str() {
        "yes" | "true" => Rc::Ok,
        "no" | "false" => Rc::Fail,
        _ => {
            run.log_msg = Some(format!("invalid \"condition\" value \"{s}\""));
            Rc::Defer
        }
    }
}

/// `acl = name arg1 arg2 ...` (the engine calls [`nested`]).
pub fn acl(_: &mut AclRun, _: &Item, _: &[u8]) -> Rc {
    Rc::Error
}

/// Run a nested ACL with `$acl_arg1..9`, restoring them afterwards.
pub fn nested(run: &mut AclRun, arg: &[u8], level: u32) -> Rc {
    let text = String::from_utf8_lossy(arg).into_owned();
    let words = split_args(&text);
    let Some((name, args)) = words.split_first() else {
        run.log_msg = Some("missing ACL name".into());
        return Rc::Error;
    };
    let mut expanded = Vec::new();
    for w in std::iter::once(name).chain(args.iter()) {
        match expand_str(w, run.ctx) {
            Ok(v) => expanded.push(v),
            Err(e) => {
                run.log_msg = Some(format!(
                    "failed to expand ACL string \"{w}\": {}",
                    e.message
                ));
                return Rc::Error;
            }
        }
    }
    if expanded.len() > 10 {
        run.log_msg = Some("Too many arguments for ACL (max is 9)".into());
        return Rc::Error;
    }
    let saved: Vec<Option<Val>> = (1..=9)
        .map(|i| run.ctx.get(&format!("acl_arg{i}")).cloned())
        .collect();
    let saved_narg = run.ctx.get("acl_narg").cloned();
    for i in 1..=9 {
        let v = expanded.get(i).cloned().unwrap_or_default();
        run.ctx.set(&format!("acl_arg{i}"), v);
    }
    run.ctx.set("acl_narg", (expanded.len() - 1).to_string());
    let outer_verb = run.verb;
    run.ctx.trace_indent(1);
    let rc = check_text(run, &expanded[0].as_str_lossy(), level + 1);
    run.ctx.trace_indent(-1);
    run.verb = outer_verb;
    for (i, v) in saved.into_iter().enumerate() {
        let name = format!("acl_arg{}", i + 1);
        match v {
            Some(v) => {
                run.ctx.set(&name, v);
            }
            None => run.ctx.unset(&name),
        }
    }
    match saved_narg {
        Some(v) => {
            run.ctx.set("acl_narg", v);
        }
        None => run.ctx.unset("acl_narg"),
    }
    if rc == Rc::Discard
        && !matches!(
            outer_verb,
            crate::acl::Verb::Accept | crate::acl::Verb::Discard
        )
    {
        run.log_msg = Some(format!(
            "nested ACL returned \"discard\" for \"{}\" command (only allowed with \"accept\" or \"discard\")",
            outer_verb.name()
        ));
        return Rc::Error;
    }
    rc
}

/// Space-separated words; `"quoted words"` may contain spaces.
fn split_args(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut chars = s.trim().chars().peekable();
    while chars.peek().is_some() {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        let mut w = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            while let Some(c) = chars.next() {
                match c {
                    '"' => break,
                    '\\' => {
                        if let Some(n) = chars.next() {
                            w.push(n)
                        }
                    }
                    c => w.push(c),
                }
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c.is_whitespace() {
                    break;
                }
                w.push(c);
                chars.next();
            }
        }
        if !w.is_empty() || out.is_empty() {
            out.push(w);
        }
    }
    out.retain(|w: &String| !w.is_empty());
    out
}

/// Match a string against a plain string list (`*` matches anything), as for
/// `authenticated` and `encrypted`.
fn in_string_list(run: &mut AclRun, subject: &str, list: &[u8]) -> Rc {
    let list = match crate::expand::expand_str(&String::from_utf8_lossy(list), run.ctx) {
        Ok(v) => v,
        Err(e) => {
            run.log_msg = Some(e.into_message());
            return Rc::Error;
        }
    };
    let label = format!("{subject} in \"{}\"?", list.as_str_lossy());
    let mut last_neg = false;
    for item in lists::iter(&list.bytes) {
        let (neg, pat) = match item.strip_prefix(b"!") {
            Some(p) => (true, p.trim_ascii_start().to_vec()),
            None => (false, item.clone()),
        };
        last_neg = neg;
        let hit = pat == b"*" || pat.eq_ignore_ascii_case(subject.as_bytes());
        if hit {
            let yes = if neg { "no" } else { "yes" };
            let item = String::from_utf8_lossy(&item);
            run.ctx
                .trace(|| format!("{label} {yes} (matched \"{item}\")"));
            return if neg { Rc::Fail } else { Rc::Ok };
        }
    }
    let yes = if last_neg { "yes" } else { "no" };
    run.ctx.trace(|| format!("{label} {yes} (end of list)"));
    if last_neg {
        Rc::Ok
    } else {
        Rc::Fail
    }
}

/// `authenticated = list`: the connection authenticated with a listed authenticator.
pub fn authenticated(run: &mut AclRun, _: &Item, arg: &[u8]) -> Rc {
    let who = run
        .ctx
        .get("sender_host_authenticated")
        .map(|v| v.as_str_lossy().into_owned());
    match who {
        Some(w) if !w.is_empty() => in_string_list(run, &w, arg),
        _ => Rc::Fail,
    }
}

/// `encrypted = list`: TLS is in use with a listed cipher.
pub fn encrypted(run: &mut AclRun, _: &Item, arg: &[u8]) -> Rc {
    let cipher = run
        .ctx
        .get("tls_in_cipher")
        .map(|v| v.as_str_lossy().into_owned());
    match cipher {
        Some(c) if !c.is_empty() => in_string_list(run, &c, arg),
        _ => Rc::Fail,
    }
}

/// `regex = list`: a line of the message (headers, blank line, body) matches one of
/// the regexes; in the MIME ACL, a line of the current part.
pub fn regex(run: &mut AclRun, _: &Item, arg: &[u8]) -> Rc {
    if run.state.mime.is_some() {
        return crate::acl::mime::regex_in_part(run, arg);
    }
    let Some(msg) = run.ctx.message.clone() else {
        return Rc::Fail;
    };
    let mut text: Vec<u8> = Vec::new();
    for h in &msg.headers {
        text.extend_from_slice(&h.text);
    }
    text.push(b'\n');
    text.extend_from_slice(&msg.body);
    crate::acl::mime::match_lines(run, arg, &text, 0, None)
}

/// `verify = header_syntax`, `verify = reverse_host_lookup/defer_ok`, ... (see
/// [`crate::acl::verify`]).
/// A user message from verification stays in `$acl_verify_message`; `warn` drops it.
pub fn verify(run: &mut AclRun, _: &Item, arg: &[u8]) -> Rc {
    let rc = crate::acl::verify::verify(run, arg);
    if let Some(m) = run.user_msg.clone() {
        run.ctx.set("acl_verify_message", m.as_str());
    }
    if run.verb == crate::acl::Verb::Warn {
        run.user_msg = None;
    }
    rc
}
