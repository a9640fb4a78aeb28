//! List and pattern conditions: `inlist`, `inlisti`, `match`, `match_address`,
//! `match_domain`, `match_ip`, `match_local_part`, and `acl`.

use pcre2::bytes::Regex;

use crate::error::{ExpResult, ExpandError};
use crate::expand::ast::Seq;
use crate::expand::context::AclOutcome;
use crate::expand::eval::Eval;
use crate::expand::lists;
use crate::expand::value::Val;
use crate::listmatch::{self, ip, ListError, MatchResult};

fn inlist_with(ev: &mut Eval, args: &[Seq], caseless: bool) -> ExpResult<bool> {
    // The found item goes to `$value` on a spare buffer (no allocation).
    let mut value = ev.take_scratch();
    let found = ev.with_two(&args[0], &args[1], |(subject, _), (list, tainted)| {
        let mut it = lists::iter(list);
        while let Some(item) = it.next_item() {
            let hit = if caseless {
                item.eq_ignore_ascii_case(subject)
            } else {
                *item == *subject
            };
            if hit {
                value.bytes.clear();
                value.bytes.extend_from_slice(&item);
                value.tainted = tainted;
                return true;
            }
        }
        false
    });
    match found {
        Ok(true) => {
            if let Some(old) = ev.value.replace(value) {
                ev.recycle(old);
            }
            Ok(true)
        }
        other => {
            ev.recycle(value);
            other
        }
    }
}

/// `${if inlist{b}{a:b:c}{$value}{n}}` gives `b`.
pub fn inlist(ev: &mut Eval, args: &[Seq]) -> ExpResult<bool> {
    inlist_with(ev, args, false)
}

/// `${if inlisti{B}{a:b:c}{$value}{n}}` gives `b` (the list's spelling).
pub fn inlisti(ev: &mut Eval, args: &[Seq]) -> ExpResult<bool> {
    inlist_with(ev, args, true)
}

/// `${if match{abc}{(b)(c)}{$0-$1-$2}}` gives `bc-b-c`.
pub fn match_re(ev: &mut Eval, args: &[Seq]) -> ExpResult<bool> {
    let mut caps = ev.spare_captures();
    let hit = ev.with_two(&args[0], &args[1], |(subject, tainted), (pattern, _)| {
        let re = crate::expand::regex::compile(pattern, false)?;
        captures(&re, subject, tainted, &mut caps)
    })?;
    publish_captures(ev, hit, caps)
}

/// `match` whose literal pattern was compiled with the condition.
pub fn match_compiled(ev: &mut Eval, args: &[Seq], re: &Regex) -> ExpResult<bool> {
    // A pattern over the output limit fails as it did when expanded (the generic path).
    if args[1].nodes.iter().map(|n| n.len_if_text()).sum::<usize>() > ev.ctx.limits.max_output {
        return match_re(ev, args);
    }
    let mut caps = ev.spare_captures();
    let hit = ev.with_bytes(&args[0], |subject, tainted| {
        captures(re, subject, tainted, &mut caps)
    })?;
    publish_captures(ev, hit, caps)
}

/// Match `subject`; on a match `caps` holds `$0..$n`.
fn captures(re: &Regex, subject: &[u8], tainted: bool, caps: &mut Vec<Val>) -> ExpResult<bool> {
    crate::expand::regex::with_locations(re, |locs| match re.captures_read(locs, subject) {
        Ok(Some(_)) => {
            crate::expand::eval::fill_captures(caps, subject, locs, usize::MAX, (tainted, tainted));
            Ok(true)
        }
        Ok(None) => Ok(false),
        Err(e) => Err(ExpandError::hard(format!("regex match error: {e}"))),
    })
}

/// A match sets `$0..$n`; a failed one leaves them (the vector goes back for reuse).
fn publish_captures(ev: &mut Eval, hit: ExpResult<bool>, caps: Vec<Val>) -> ExpResult<bool> {
    match hit {
        Ok(true) => ev.set_captures(caps),
        _ => ev.keep_spare_captures(caps),
    }
    hit
}

/// Publish a list match's `$value` and `$0..$n` like Exim does. Domain, local-part
/// and address matching reset the numeric variables (`reset`); `match_ip` leaves them.
fn publish(ev: &mut Eval, list: &[u8], r: MatchResult, reset: bool) -> ExpResult<bool> {
    if reset {
        ev.captures.clear();
    }
    match r {
        Ok(Some(hit)) => {
            if hit.value.is_some() {
                ev.value = hit.value;
            }
            if reset {
                ev.captures = hit.captures;
            }
            Ok(true)
        }
        Ok(None) => Ok(false),
        Err(e @ ListError::Defer(_)) => Err(ExpandError::hard(e.expansion_message(list))),
        Err(ListError::Fatal(m)) => Err(ExpandError::hard(m)),
    }
}

fn two(ev: &mut Eval, args: &[Seq]) -> ExpResult<(Val, Val)> {
    Ok((ev.seq(&args[0])?, ev.seq(&args[1])?))
}

/// `${if match_domain{a.b.c}{*.c}{$value}}` gives `*.c`. The list is not expanded.
pub fn match_domain(ev: &mut Eval, args: &[Seq]) -> ExpResult<bool> {
    let (s, list) = two(ev, args)?;
    ev.value = None;
    let r = listmatch::match_domain(ev.ctx, &s.bytes, &list.bytes, false);
    publish(ev, &list.bytes, r, true)
}

/// `${if match_local_part{Ab}{+caseful:Ab}{$value}}` gives `Ab`.
pub fn match_local_part(ev: &mut Eval, args: &[Seq]) -> ExpResult<bool> {
    let (s, list) = two(ev, args)?;
    ev.value = None;
    let r = listmatch::match_local_part(ev.ctx, &s.bytes, &list.bytes, false);
    publish(ev, &list.bytes, r, true)
}

/// `${if match_address{x@a.b}{*@a.b}{$value}}` gives `*@a.b`.
pub fn match_address(ev: &mut Eval, args: &[Seq]) -> ExpResult<bool> {
    let (s, list) = two(ev, args)?;
    let r = listmatch::match_address(ev.ctx, &s.bytes, &list.bytes, false);
    publish(ev, &list.bytes, r, true)
}

/// `${if match_ip{10.1.2.3}{10.0.0.0/8}{y}{n}}` gives `y`.
pub fn match_ip(ev: &mut Eval, args: &[Seq]) -> ExpResult<bool> {
    let (s, list) = two(ev, args)?;
    if !s.is_empty() && ip::ip_version(&s.bytes, false).0 == 0 {
        return Err(ExpandError::hard(format!(
            "\"{}\" is not an IP address",
            s.as_str_lossy()
        )));
    }
    let r = listmatch::match_ip(ev.ctx, &s.bytes, &list.bytes, false);
    publish(ev, &list.bytes, r, false)
}

/// `${if acl{{check}{arg1}}{yes}{no}}`: accept is true, deny false, the ACL's
/// `message=` goes to `$value`; defer is a forced failure.
pub fn acl(ev: &mut Eval, args: &[Seq]) -> ExpResult<bool> {
    let mut vals = Vec::with_capacity(args.len());
    for a in args {
        vals.push(ev.seq(a)?);
    }
    let Some((first, rest)) = vals.split_first() else {
        return Err(ExpandError::hard(
            "too few arguments or bracketing error for acl",
        ));
    };
    let name = first.as_str_lossy().into_owned();
    let outcome = match ev.ctx.acl.clone() {
        Some(runner) => runner.run(&name, rest, ev.ctx),
        // No ACL engine attached: like Exim with no such ACL defined.
        None => AclOutcome::Error(format!("ACL \"{name}\" not found")),
    };
    match outcome {
        AclOutcome::Accept(msg) => {
            ev.value = msg;
            Ok(true)
        }
        AclOutcome::Deny(msg) => {
            ev.value = msg;
            Ok(false)
        }
        AclOutcome::Defer => Err(ExpandError::forced(format!("DEFER from acl \"{name}\""))),
        // Exim keeps the ACL's own error text out of the expansion message.
        AclOutcome::Error(_) => Err(ExpandError::hard(format!("ERROR from acl \"{name}\""))),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use crate::expand::context::{AclOutcome, AclRunner, Context};
    use crate::expand::value::Val;

    struct Fake;

    impl AclRunner for Fake {
        fn run(&self, name: &str, args: &[Val], _: &mut Context) -> AclOutcome {
            let first = args
                .first()
                .map(|a| a.as_str_lossy().into_owned())
                .unwrap_or_default();
            match name {
                "ok" => AclOutcome::Accept(Some(Val::from(format!("hello {first}").as_str()))),
                "no" => AclOutcome::Deny(None),
                "later" => AclOutcome::Defer,
                _ => AclOutcome::Error("boom".into()),
            }
        }
    }

    fn run(text: &str) -> Result<String, crate::ExpandError> {
        let mut ctx = Context::default();
        ctx.acl = Some(Arc::new(Fake));
        crate::expand_str(text, &mut ctx).map(|v| String::from_utf8_lossy(&v.bytes).into_owned())
    }

    #[test]
    fn acl_condition_outcomes() {
        assert_eq!(run("${if acl{{ok}{x}}{[$value]}{n}}").unwrap(), "[hello x]");
        assert_eq!(run("${if acl{{no}}{y}{n[$value]}}").unwrap(), "n[]");
        let e = run("${if acl{{later}}{y}{n}}").unwrap_err();
        assert!(e.is_forced());
        assert_eq!(e.message, "DEFER from acl \"later\"");
        assert_eq!(
            run("${if acl{{bad}}{y}{n}}").unwrap_err().message,
            "ERROR from acl \"bad\""
        );
    }
}
