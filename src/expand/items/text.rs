//! Text items: `${tr}`, `${sg}`, `${listquote}` and `${hmac}`.

use hmac::{Hmac, Mac};

use crate::error::{ExpResult, ExpandError};
use crate::expand::ast::{ItemNode, Node};
use crate::expand::eval::Eval;
use crate::expand::parse;
use crate::expand::value::Val;

/// Exim's `EXPAND_MAXN`: `$0`..`$20` are the numeric variables a match can set.
const MAX_CAPTURES: usize = 21;

/// `${tr{abcabc}{abca}{xyz}}` gives `zyzzyz`: the last occurrence in `from` wins and a
/// short `to` repeats its last byte.
pub fn tr(ev: &mut Eval, node: &ItemNode, out: &mut Val) -> ExpResult<()> {
    let subject = ev.seq(&node.args[0])?;
    let from = ev.seq(&node.args[1])?;
    let to = ev.seq(&node.args[2])?;
    let mut result = subject;
    if let Some(last) = to.bytes.len().checked_sub(1) {
        for c in result.bytes.iter_mut() {
            if let Some(pos) = from.bytes.iter().rposition(|f| f == c) {
                *c = to.bytes[pos.min(last)];
            }
        }
        result.tainted |= to.tainted;
    }
    out.push(&result);
    ev.recycle(result);
    ev.recycle(from);
    ev.recycle(to);
    Ok(())
}

/// `${listquote{:}{a:b}}` gives `a::b`; an empty string gives a single space.
pub fn listquote(ev: &mut Eval, node: &ItemNode, out: &mut Val) -> ExpResult<()> {
    let sep = ev.seq(&node.args[0])?;
    let text = ev.seq(&node.args[1])?;
    if text.bytes.is_empty() {
        out.push_bytes(b" ");
        return Ok(());
    }
    let sep = sep.bytes.first().copied();
    let mut quoted = text.derive(Vec::with_capacity(text.bytes.len()));
    for &c in &text.bytes {
        if Some(c) == sep {
            quoted.bytes.push(c);
        }
        quoted.bytes.push(c);
    }
    out.push(&quoted);
    Ok(())
}

/// `${hmac{md5}{key}{text}}` gives `d0ca6177c61c975fd2f8c07d8c6528c6` (RFC 2104, lowercase hex).
pub fn hmac(ev: &mut Eval, node: &ItemNode, out: &mut Val) -> ExpResult<()> {
    let algo = ev.seq(&node.args[0])?;
    let key = ev.seq(&node.args[1])?;
    let text = ev.seq(&node.args[2])?;
    let digest: Vec<u8> = match algo.bytes.as_slice() {
        b"md5" => mac::<Hmac<md5::Md5>>(&key.bytes, &text.bytes),
        b"sha1" => mac::<Hmac<sha1::Sha1>>(&key.bytes, &text.bytes),
        _ => {
            return Err(ExpandError::hard(format!(
                "hmac algorithm \"{}\" is not recognised",
                algo.as_str_lossy()
            )))
        }
    };
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    out.push_bytes(hex.as_bytes());
    Ok(())
}

fn mac<M: Mac + hmac::digest::KeyInit>(key: &[u8], text: &[u8]) -> Vec<u8> {
    // HMAC accepts keys of any length (long ones are hashed first, as RFC 2104 says).
    let mut m =
        <M as hmac::digest::KeyInit>::new_from_slice(key).expect("HMAC takes any key length");
    m.update(text);
    m.finalize().into_bytes().to_vec()
}

/// `${sg{abc}{(b)}{[\$1]}}` gives `a[b]c`: the replacement is expanded again for each
/// match with `$0`..`$n` set; empty matches follow Perl's `/g` (`${sg{aaa}{a*}{-}}` gives `--`).
pub fn sg(ev: &mut Eval, node: &ItemNode, out: &mut Val) -> ExpResult<()> {
    let subject = ev.seq(&node.args[0])?;
    // A literal pattern was compiled with the item: no expansion, no cache look-up.
    let literal_pattern = match (&node.regex, node.args[1].nodes.as_slice()) {
        (Some(re), []) => Some((re.clone(), &b""[..])),
        (Some(re), [Node::Text(t)]) => Some((re.clone(), &t[..])),
        _ => None,
    };
    let pattern_val = match literal_pattern {
        Some(_) => None,
        None => Some(ev.seq(&node.args[1])?),
    };
    let (parsed_now, mut compiled);
    compiled = None;
    let insert = match &node.preparsed {
        // A literal replacement was parsed with the item; it is never tainted.
        Some(parsed) => parsed.as_ref(),
        None => {
            let replacement = ev.seq(&node.args[2])?;
            // Exim compiles the pattern after expanding the replacement.
            if let Some(p) = &pattern_val {
                compiled = Some(ev.regex(&p.bytes, false)?);
            }
            if replacement.tainted {
                let msg = format!(
                    "attempt to expand tainted string '{}'",
                    replacement.as_str_lossy()
                );
                ev.ctx.log.push(msg.clone());
                return Err(ExpandError::hard(msg));
            }
            parsed_now = parse::parse(&replacement.as_str_lossy());
            &parsed_now
        }
    };
    let (re, pattern) = match literal_pattern {
        Some(p) => p,
        None => {
            let p = pattern_val.as_ref().map_or(&b""[..], |v| &v.bytes[..]);
            let re = match compiled {
                Some(re) => re,
                None => ev.regex(p, false)?,
            };
            (re, p)
        }
    };
    let spare = ev.spare_captures();
    let saved = std::mem::replace(&mut ev.captures, spare);
    let r = crate::expand::regex::with_locations(&re, |locs| {
        sg_loop(ev, &subject, pattern, &re, insert, locs)
    });
    ev.set_captures(saved);
    let r = r?;
    out.push(&r);
    ev.recycle(r);
    ev.recycle(subject);
    Ok(())
}

fn sg_loop(
    ev: &mut Eval,
    subject: &Val,
    pattern: &[u8],
    re: &pcre2::bytes::Regex,
    insert: &crate::expand::Expansion,
    locs: &mut pcre2::bytes::CaptureLocations,
) -> ExpResult<Val> {
    let s = subject.bytes.as_slice();
    let mut result = ev.take_scratch();
    result.tainted = subject.tainted;
    let mut nonempty: Option<std::sync::Arc<pcre2::bytes::Regex>> = None;
    let (mut moffset, mut extra, mut want_nonempty) = (0usize, 0usize, false);
    loop {
        let start = moffset + extra;
        let hit = if want_nonempty {
            // Perl's /g: after an empty match, look for a non-empty one at the same spot.
            if nonempty.is_none() {
                let mut p = b"(*NOTEMPTY)".to_vec();
                p.extend_from_slice(pattern);
                nonempty = Some(ev.regex(&p, false)?);
            }
            let ne = nonempty.as_ref().expect("compiled above");
            let mut l = ne.capture_locations();
            match ne.captures_read_at(&mut l, s, start) {
                Ok(Some(m)) if m.start() == start => {
                    *locs = l;
                    true
                }
                _ => false,
            }
        } else {
            matches!(re.captures_read_at(locs, s, start), Ok(Some(_)))
        };
        if !hit {
            if want_nonempty {
                extra = 1;
                want_nonempty = false;
                continue;
            }
            result.push_bytes(&s[moffset.min(s.len())..]);
            return Ok(result);
        }
        let Some((ms, me)) = locs.get(0) else {
            return Ok(result);
        };
        let tainted = (subject.tainted, false);
        crate::expand::eval::fill_captures(&mut ev.captures, s, locs, MAX_CAPTURES, tainted);
        result.push_bytes(&s[moffset..ms]);
        let piece = ev.seq(&insert.body)?;
        result.push(&piece);
        ev.recycle(piece);
        moffset = me;
        extra = 0;
        want_nonempty = false;
        if ms == me {
            if ms >= s.len() {
                return Ok(result);
            }
            want_nonempty = true;
        }
        if result.bytes.len() > ev.ctx.limits.max_output {
            return Err(ExpandError::hard(format!(
                "expansion result exceeds the limit of {} bytes",
                ev.ctx.limits.max_output
            )));
        }
    }
}
