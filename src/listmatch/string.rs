//! One domain or local-part list item against a subject (Exim's `check_string`):
//! `^regex`, `*suffix`, `@`, `@[]`, `@mx_*`, `type;source` lookups and literals.

use crate::expand::context::Context;
use crate::expand::value::Val;
use crate::listmatch::{host, ItemErr, ItemResult, Kind, Matched, Matcher};

/// Subject state for string-like lists.
pub struct StringMatcher {
    kind: Kind,
    orig: Vec<u8>,
    subject: Vec<u8>,
    caseless: bool,
    /// Set up `$0..$n` (domain and local-part lists do).
    captures: bool,
}

impl StringMatcher {
    pub fn new(subject: &[u8], kind: Kind) -> StringMatcher {
        StringMatcher {
            kind,
            orig: subject.to_vec(),
            subject: subject.to_ascii_lowercase(),
            caseless: true,
            captures: true,
        }
    }

    /// A single-item matcher with explicit options (used by address lists).
    pub fn with(subject: &[u8], caseless: bool, at_special: bool, captures: bool) -> StringMatcher {
        let kind = if at_special {
            Kind::Domain
        } else {
            Kind::LocalPart
        };
        let lowered = if caseless {
            subject.to_ascii_lowercase()
        } else {
            subject.to_vec()
        };
        StringMatcher {
            kind,
            orig: subject.to_vec(),
            subject: lowered,
            caseless,
            captures,
        }
    }
}

impl Matcher for StringMatcher {
    fn kind(&self) -> Kind {
        self.kind
    }

    fn trace_name(&self) -> String {
        String::from_utf8_lossy(&self.orig).into_owned()
    }

    fn caseful(&mut self) {
        self.subject = self.orig.clone();
        self.caseless = false;
    }

    fn test(&mut self, ctx: &mut Context, item: &[u8]) -> ItemResult {
        check_string(
            ctx,
            &self.orig,
            &self.subject,
            item,
            self.caseless,
            self.kind == Kind::Domain,
            self.captures,
            true,
        )
    }
}

/// Exim's `check_string`. `subject` is the (possibly lowercased) subject; regexes see `orig`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn check_string(
    ctx: &mut Context,
    orig: &[u8],
    subject: &[u8],
    pattern: &[u8],
    caseless: bool,
    at_special: bool,
    captures: bool,
    use_partial: bool,
) -> ItemResult {
    let s = if pattern.first() == Some(&b'^') {
        orig
    } else {
        subject
    };
    let whole = || {
        if captures {
            vec![Val::new(s)]
        } else {
            Vec::new()
        }
    };
    let value = |v: &[u8]| Some(Val::new(v));
    if pattern.first() == Some(&b'^') {
        let re = crate::expand::regex::compile(pattern, caseless)
            .map_err(|e| ItemErr::Fatal(e.into_message()))?;
        let caps = match re.captures(s) {
            Ok(Some(c)) => c,
            Ok(None) => return Ok(None),
            Err(e) => return Err(ItemErr::Defer(Some(e.to_string()))),
        };
        // `$0` stays the whole subject; the groups follow as `$1..`.
        let list = if captures {
            let mut v = vec![Val::new(s)];
            v.extend(
                (1..caps.len()).map(|i| Val::new(caps.get(i).map_or(&b""[..], |m| m.as_bytes()))),
            );
            v
        } else {
            Vec::new()
        };
        return Ok(Some(Matched {
            value: value(pattern),
            captures: list,
        }));
    }
    if let Some(tail) = pattern.strip_prefix(b"*") {
        if tail.len() > s.len() {
            return Ok(None);
        }
        let end = &s[s.len() - tail.len()..];
        let ok = if caseless {
            end.eq_ignore_ascii_case(tail)
        } else {
            end == tail
        };
        if !ok {
            return Ok(None);
        }
        let mut caps = whole();
        if captures {
            caps.push(Val::new(&s[..s.len() - tail.len()]));
        }
        return Ok(Some(Matched {
            value: value(pattern),
            captures: caps,
        }));
    }
    let mut pattern = pattern.to_vec();
    if at_special && pattern.first() == Some(&b'@') {
        if pattern.len() == 1 {
            pattern = primary_hostname(ctx);
        } else if pattern == b"@[]" {
            // Exim only rejects when neither bracket is present, then drops one byte each end.
            if (s.first() != Some(&b'[') && s.last() != Some(&b']')) || s.len() < 2 {
                return Ok(None);
            }
            let inner = &s[1..s.len() - 1];
            if host::local_addresses()
                .iter()
                .any(|a| a.as_bytes() == inner)
            {
                return Ok(Some(Matched {
                    value: value(&pattern),
                    captures: whole(),
                }));
            }
            return Ok(None);
        } else if pattern.len() > 4 && pattern[..4].eq_ignore_ascii_case(b"@mx_") {
            if let Some(r) = crate::listmatch::mx::check(ctx, s, &pattern) {
                return Ok(r?.then(|| Matched {
                    value: value(&pattern),
                    captures: whole(),
                }));
            }
        }
    }
    let Some(semi) = pattern.iter().position(|&c| c == b';') else {
        let ok = if caseless {
            s.eq_ignore_ascii_case(&pattern)
        } else {
            s == pattern.as_slice()
        };
        return Ok(ok.then(|| Matched {
            value: value(&pattern),
            captures: whole(),
        }));
    };
    lookup_item(ctx, s, &pattern, semi, use_partial, captures)
}

/// A `type;source` item: single-key types look the subject up in `source`,
/// query-style types run `source` as the query.
fn lookup_item(
    ctx: &mut Context,
    s: &[u8],
    pattern: &[u8],
    semi: usize,
    use_partial: bool,
    captures: bool,
) -> ItemResult {
    let word = String::from_utf8_lossy(&pattern[..semi]).into_owned();
    let mut spec = crate::lookup::parse_spec(&word).map_err(ItemErr::Fatal)?;
    if !use_partial {
        spec.partial = None;
    }
    let source = &pattern[semi + 1..];
    let lookups = ctx.lookups.clone();
    let key = if spec.is_single_key() { s } else { source };
    let hit = lookups
        .find(&spec, source, key, Some(&mut crate::expand::Eval::new(ctx)))
        .map_err(|e| ItemErr::Defer(Some(crate::listmatch::driver_reason(e))))?;
    Ok(hit.map(|h| {
        let caps = match (&h.captures, captures) {
            (Some((wild, fixed)), true) => {
                vec![Val::new(s), Val::new(wild.clone()), Val::new(fixed.clone())]
            }
            (None, true) => vec![Val::new(s)],
            _ => Vec::new(),
        };
        Matched {
            value: Some(Val {
                bytes: h.data,
                tainted: h.tainted,
            }),
            captures: caps,
        }
    }))
}

/// `$primary_hostname` as the expansion engine sees it.
pub fn primary_hostname(ctx: &mut Context) -> Vec<u8> {
    crate::expand::expand_str("$primary_hostname", ctx)
        .map(|v| v.bytes)
        .unwrap_or_default()
}

/// C `strerror` text for an errno value.
pub fn strerror(errno: i32) -> String {
    let e = std::io::Error::from_raw_os_error(errno).to_string();
    match e.find(" (os error") {
        Some(i) => e[..i].to_string(),
        None => e,
    }
}
