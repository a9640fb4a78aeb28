//! Applying rewrite rules to one address (Exim's `rewrite_one`), for `-brw` and later for
//! message reception and delivery.

use super::rewrite::{flags, RewriteRule};
use crate::expand::address::{Options, Parser};
use crate::expand::{Context, Eval};

/// What rewriting can fail on; Exim logs these and keeps the address as it was so far.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RewriteError {
    /// A `w` rule produced `phrase <address>` with a phrase that mixes quoted and unquoted
    /// text, has comments or 8-bit characters: rexim does not yet re-quote it as Exim does.
    WholePhraseUnsupported,
}

/// The result of rewriting one address.
pub struct Rewritten {
    pub address: String,
    /// A `w` rule replaced the whole header address (phrase included).
    pub whole: bool,
    /// Some rule rewrote it (possibly to the same text).
    pub changed: bool,
    /// Lines Exim writes to its main/panic log (failed expansions, unusable results).
    pub log: Vec<String>,
}

/// Bytes `a..b` of `s` as text (offsets come from the byte-oriented address parser, so
/// they need not fall on character boundaries).
pub fn cut(s: &str, a: usize, b: usize) -> std::borrow::Cow<'_, str> {
    let bytes = s.as_bytes();
    let (a, b) = (a.min(bytes.len()), b.min(bytes.len()));
    String::from_utf8_lossy(&bytes[a..b.max(a)])
}

/// Exim's `parse_fix_phrase` for the phrases rexim handles: leading space dropped; a phrase
/// without quotes or comments is quoted whole if it has a special character; one quoted
/// string is kept. Others (mixed quoting, comments, 8-bit text needing RFC 2047) are `None`.
pub(crate) fn fix_phrase(p: &str) -> Option<String> {
    let p = p.trim_start_matches(|c: char| c.is_ascii_whitespace());
    if !p.bytes().all(|c| c == b'\t' || (32..=126).contains(&c)) {
        return None;
    }
    if !p.contains(['"', '(']) {
        let special = p.bytes().any(|c| b")<>@,;:\\.[]".contains(&c));
        return Some(if special {
            format!("\"{p}\"")
        } else {
            p.to_string()
        });
    }
    if !p.contains('"') && !specials_outside_comments(p)? {
        return Some(p.to_string());
    }
    let inner = p.strip_prefix('"')?.strip_suffix('"')?;
    let mut escaped = false;
    for c in inner.bytes() {
        match c {
            _ if escaped => escaped = false,
            b'\\' => escaped = true,
            b'"' => return None,
            _ => {}
        }
    }
    (!escaped).then(|| p.to_string())
}

/// Whether a phrase without quotes has special characters outside its (balanced)
/// comments; `None` when a comment is unbalanced or holds an escape.
fn specials_outside_comments(p: &str) -> Option<bool> {
    let mut depth = 0u32;
    let mut special = false;
    for c in p.bytes() {
        match (c, depth) {
            (b'(', _) => depth += 1,
            (b')', 0) => special = true,
            (b')', _) => depth -= 1,
            (b'\\', _) => return None,
            (_, 0) => special |= b"<>@,;:.[]".contains(&c),
            _ => {}
        }
    }
    (depth == 0).then_some(special)
}

/// Exim's `parse_find_at`: an `@` outside quotes.
pub fn has_at(s: &str) -> bool {
    let mut quoted = false;
    let mut escaped = false;
    for c in s.chars() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            '"' => quoted = !quoted,
            '@' if !quoted => return true,
            _ => {}
        }
    }
    false
}

fn parse(text: &str, allow_null: bool) -> Result<crate::expand::address::Address, String> {
    let opts = Options {
        allow_null,
        ..Options::default()
    };
    Parser::new(opts).extract(text.as_bytes())
}

/// Does the rule's pattern match `subject`? Returns the numeric variables it sets.
fn matches(
    ctx: &mut Context,
    rule: &RewriteRule,
    subject: &str,
    flag: u32,
) -> Option<Vec<crate::expand::value::Val>> {
    if flag & flags::SMTP != 0 {
        // SMTP-time rules: the pattern (a regex) is expanded, then matched against anything.
        let key = match crate::expand::expand_str(&rule.pattern, ctx) {
            Ok(k) => k,
            Err(e) => {
                if !e.is_forced() {
                    ctx.log.push(format!(
                        "failed to expand \"{}\" while checking for SMTP rewriting: {}",
                        rule.pattern, e.message
                    ));
                }
                return None;
            }
        };
        let s = subject.as_bytes();
        let hit =
            crate::listmatch::string::check_string(ctx, s, s, &key.bytes, false, false, true, true)
                .ok()??;
        return Some(hit.captures);
    }
    let hit = crate::listmatch::match_address_item(ctx, subject.as_bytes(), &rule.pattern, true)
        .ok()??;
    Some(hit.captures)
}

/// Rewrite `address` (a bare address, or `<>` for SMTP senders) with the rules that have
/// `flag`; `qualify` is the domain for the `Q` flag.
pub fn rewrite_one(
    rules: &[RewriteRule],
    ctx: &mut Context,
    address: &str,
    flag: u32,
    qualify: &str,
) -> Result<Rewritten, RewriteError> {
    let mut out = Rewritten {
        address: address.to_string(),
        whole: false,
        changed: false,
        log: Vec::new(),
    };
    let mut subject = address.to_string();
    let (mut yield_start, mut yield_end) = (0usize, 0usize);
    let null_ok = flag == flags::ENV_FROM || flag == (flags::SMTP | SMTP_SENDER);
    let mut done = false;
    for rule in rules {
        if rule.flags & flag == 0 {
            continue;
        }
        let mut count = 0;
        while let Some(captures) = matches(ctx, rule, &subject, flag) {
            let Some(expansion) = &rule.expansion else {
                return Ok(out);
            };
            let (lp, dom) = match subject.rsplit_once('@') {
                Some((l, d)) if flag & flags::SMTP == 0 => {
                    (Some(l.to_string()), Some(d.to_string()))
                }
                _ => (None, None),
            };
            let saved = (ctx.get("local_part").cloned(), ctx.get("domain").cloned());
            if let (Some(l), Some(d)) = (&lp, &dom) {
                ctx.set("local_part", l.as_str());
                ctx.set("domain", d.as_str());
            }
            let result = {
                let mut ev = Eval::new(ctx);
                ev.captures = captures;
                ev.seq(&expansion.body)
            };
            if lp.is_some() {
                for (name, old) in [("local_part", saved.0), ("domain", saved.1)] {
                    match old {
                        Some(v) => {
                            ctx.set(name, v);
                        }
                        None => ctx.unset(name),
                    }
                }
            }
            let new = match result {
                Ok(v) => String::from_utf8_lossy(&v.bytes).into_owned(),
                Err(e) if e.is_forced() => {
                    if rule.flags & flags::QUIT != 0 {
                        return Ok(out);
                    }
                    break;
                }
                Err(e) => {
                    let msg = format!(
                        "Expansion of {} failed while rewriting: {}",
                        rule.replacement, e.message
                    );
                    out.log.push(msg);
                    return Ok(out);
                }
            };
            let parsed = match parse(&new, null_ok) {
                Ok(p) => p,
                Err(e) => {
                    let msg = format!(
                        "Rewrite of {subject} yielded unparseable address: {e} in address {new}"
                    );
                    out.log.push(msg);
                    return Ok(out);
                }
            };
            let mut newparsed = String::from_utf8_lossy(&parsed.address).into_owned();
            let (start, mut end) = (parsed.start, parsed.end);
            let mut new = new;
            if parsed.domain_offset == 0 && (!newparsed.is_empty() || !null_ok) {
                if rule.flags & flags::QUALIFY == 0 {
                    let msg = format!("Rewrite of {subject} yielded unqualified address \"{new}\"");
                    out.log.push(msg);
                    return Ok(out);
                }
                newparsed = format!("{newparsed}@{qualify}");
                new = format!(
                    "{}{newparsed}{}",
                    cut(&new, 0, start),
                    cut(&new, end, usize::MAX)
                );
                end = start + newparsed.len();
            }
            out.changed = true;
            if flag & flags::ALL_HEADERS != 0 && (rule.flags & flags::WHOLE != 0 || out.whole) {
                if rule.flags & flags::WHOLE != 0 {
                    let (mut start, mut end) = (start, end);
                    if start > 0 && new.as_bytes()[start - 1] == b'<' {
                        // Exim re-quotes the phrases around `<address>` (`parse_fix_phrase`).
                        let before = cut(&new, 0, start - 1);
                        let p1 = before.trim_end_matches(' ').len();
                        let after = cut(&new, end + 1, usize::MAX);
                        let p2 = new.len() - after.trim_start_matches(' ').len();
                        let (Some(pf1), Some(pf2)) = (
                            fix_phrase(&cut(&new, 0, p1)),
                            fix_phrase(&cut(&new, p2, usize::MAX)),
                        ) else {
                            return Err(RewriteError::WholePhraseUnsupported);
                        };
                        new = format!("{pf1}{}{pf2}", cut(&new, p1, p2));
                        start = pf1.len() + start - p1;
                        end = start + newparsed.len();
                    }
                    out.address = new;
                    yield_start = start;
                    yield_end = end;
                    out.whole = true;
                } else {
                    let y = &out.address;
                    let joined = format!(
                        "{}{newparsed}{}",
                        cut(y, 0, yield_start),
                        cut(y, yield_end, usize::MAX)
                    );
                    yield_end = yield_start + newparsed.len();
                    out.address = joined;
                }
                subject = newparsed;
            } else {
                subject = newparsed.clone();
                out.address = newparsed;
            }
            done = rule.flags & flags::QUIT != 0;
            if rule.flags & flags::REPEAT == 0 {
                break;
            }
            count += 1;
            if count > 10 {
                out.log
                    .push("rewrite rule repeat ignored after 10 times".into());
                break;
            }
        }
        if done {
            break;
        }
    }
    Ok(out)
}

/// Exim's `rewrite_smtp_sender` bit: an SMTP sender, which may become `<>`.
pub const SMTP_SENDER: u32 = 0x0200;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::rewrite::parse_rule;

    fn rules(lines: &[&str]) -> Vec<RewriteRule> {
        lines
            .iter()
            .map(|l| parse_rule(l, true, Default::default()).unwrap())
            .collect()
    }

    fn run(r: &[RewriteRule], addr: &str, flag: u32) -> Rewritten {
        let mut ctx = Context::default();
        rewrite_one(r, &mut ctx, addr, flag, "q.example").unwrap()
    }

    #[test]
    fn wildcards_and_flags() {
        let r = rules(&["*@old.example $1@new.example F"]);
        assert_eq!(
            run(&r, "fred@old.example", flags::ENV_FROM).address,
            "fred@new.example"
        );
        // Not a From: rule.
        assert_eq!(
            run(&r, "fred@old.example", flags::TO).address,
            "fred@old.example"
        );
        assert_eq!(
            run(&r, "jö@old.example", flags::ENV_FROM).address,
            "jö@new.example"
        );
    }

    #[test]
    fn qualify_and_unqualified() {
        let r = rules(&["*@a.example $local_part Q"]);
        assert_eq!(run(&r, "x@a.example", flags::TO).address, "x@q.example");
        let r = rules(&["*@a.example $local_part"]);
        let out = run(&r, "x@a.example", flags::TO);
        assert_eq!(out.address, "x@a.example");
        assert!(
            out.log[0].contains("yielded unqualified address"),
            "{:?}",
            out.log
        );
    }

    #[test]
    fn repeat_is_bounded() {
        let r = rules(&["*@a.example $1x@a.example R"]);
        let out = run(&r, "f@a.example", flags::TO);
        assert_eq!(out.address, format!("f{}@a.example", "x".repeat(11)));
        assert_eq!(out.log, ["rewrite rule repeat ignored after 10 times"]);
    }

    #[test]
    fn whole_header_phrase() {
        let r = rules(&["a@b.example \"Ann <ann@c.example>\" w"]);
        let out = run(&r, "a@b.example", flags::FROM);
        assert_eq!(
            (out.address.as_str(), out.whole),
            ("Ann <ann@c.example>", true)
        );
        let r = rules(&["a@b.example \"\\\"A, B\\\" <ann@c.example>\" w"]);
        let out = run(&r, "a@b.example", flags::FROM);
        assert_eq!(out.address, "\"A, B\" <ann@c.example>");
        let r = rules(&["a@b.example \"A. B <ann@c.example>\" w"]);
        assert_eq!(
            run(&r, "a@b.example", flags::FROM).address,
            "\"A. B\" <ann@c.example>"
        );
        let r = rules(&["a@b.example \"A (x) <ann@c.example>\" w"]);
        assert_eq!(
            run(&r, "a@b.example", flags::FROM).address,
            "A (x) <ann@c.example>"
        );
        let r = rules(&["a@b.example \"A (x, \\\"y) <ann@c.example>\" w"]);
        let mut ctx = Context::default();
        let e = rewrite_one(&r, &mut ctx, "a@b.example", flags::FROM, "q").err();
        assert_eq!(e, Some(RewriteError::WholePhraseUnsupported));
    }
}
