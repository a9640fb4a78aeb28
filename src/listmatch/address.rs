//! One address list item against an address (Exim's `check_address`): regexes and
//! whole-address lookups, `@@type;source` local-part lists, `local@domain` and domain patterns.

use crate::expand::context::Context;
use crate::expand::lists;
use crate::expand::value::Val;
use crate::listmatch::string::{check_string, StringMatcher};
use crate::listmatch::{trim_start, ItemErr, ItemResult, Kind, ListError, Matched, Matcher};

/// The address being checked: lowercased entirely until `+caseful`, then only the domain.
pub struct AddressMatcher {
    orig: Vec<u8>,
    address: Vec<u8>,
    caseless: bool,
    /// Set up `$0` (the address) and `$1..` (wild parts, regex groups), as rewriting does.
    captures: bool,
}

impl AddressMatcher {
    pub fn new(address: &[u8]) -> AddressMatcher {
        AddressMatcher {
            orig: address.to_vec(),
            address: address.to_ascii_lowercase(),
            caseless: true,
            captures: false,
        }
    }

    /// Exim's matching of rewrite patterns: caseful local part, numeric variables set.
    pub fn for_rewrite(address: &[u8]) -> AddressMatcher {
        let mut m = AddressMatcher::new(address);
        m.caseful();
        m.captures = true;
        m
    }

    /// `$0` is the address as given, before any lowercasing.
    fn with_whole(&self, rest: &[Val]) -> Vec<Val> {
        if !self.captures {
            return Vec::new();
        }
        let mut v = vec![Val::new(self.orig.as_slice())];
        v.extend_from_slice(rest);
        v
    }
}

/// Longest `>name` chain followed in `@@` lookups.
const CHAIN_LIMIT: u32 = 50;

impl Matcher for AddressMatcher {
    fn kind(&self) -> Kind {
        Kind::Address
    }

    fn trace_name(&self) -> String {
        String::from_utf8_lossy(&self.orig).into_owned()
    }

    fn caseful(&mut self) {
        if let Some(at) = self.orig.iter().rposition(|&c| c == b'@') {
            self.address[..at].copy_from_slice(&self.orig[..at]);
        }
        self.caseless = false;
    }

    fn test(&mut self, ctx: &mut Context, pattern: &[u8]) -> ItemResult {
        let subject = self.address.clone();
        let sdomain = subject.iter().rposition(|&c| c == b'@');
        if sdomain.is_none() && !subject.is_empty() {
            ctx.log.push(format!(
                "no @ found in the subject of an address list match: subject=\"{}\" pattern=\"{}\"",
                String::from_utf8_lossy(&subject),
                String::from_utf8_lossy(pattern)
            ));
            return Ok(None);
        }
        if pattern.first() == Some(&b'^') {
            let r = check_string(
                ctx,
                &subject,
                &subject,
                pattern,
                self.caseless,
                false,
                self.captures,
                true,
            )?;
            // Exim passes no value pointer for address regexes.
            return Ok(r.map(|m| Matched {
                value: None,
                captures: self.with_whole(m.captures.get(1..).unwrap_or_default()),
            }));
        }
        let mut i = pattern
            .iter()
            .take_while(|c| c.is_ascii_alphanumeric() || **c == b'-')
            .count();
        if pattern.get(i) == Some(&b'*') {
            i += 1;
        }
        if pattern.get(i) == Some(&b'@') {
            i += 1;
        }
        if pattern.get(i) == Some(&b';') {
            if pattern.starts_with(b"partial-") {
                ctx.log.push(format!(
                    "partial matching is not applicable to whole-address lookups: ignored \"partial-\" in \"{}\"",
                    String::from_utf8_lossy(pattern)
                ));
            }
            let r = check_string(
                ctx,
                &subject,
                &subject,
                pattern,
                self.caseless,
                false,
                false,
                false,
            )?;
            return Ok(r.map(|mut m| {
                m.captures = self.with_whole(&[]);
                m
            }));
        }
        let Some(sd) = sdomain else {
            return Ok(pattern.is_empty().then(Matched::default));
        };
        if pattern.starts_with(b"@@") {
            return self.split_lookup(ctx, &subject, sd, &pattern[2..]);
        }
        let mut value: Option<Vec<u8>> = None;
        let mut wild: Vec<Val> = Vec::new();
        let mut domain_pat: &[u8] = pattern;
        if let Some(mut pd) = pattern.iter().rposition(|&c| c == b'@') {
            let tail = &pattern[pd + 1..];
            if pd > 0
                && pattern[pd - 1] == b'@'
                && matches!(
                    tail,
                    b"" | b"[]" | b"mx_any" | b"mx_primary" | b"mx_secondary"
                )
            {
                pd -= 1;
            }
            let local = &pattern[..pd];
            let slocal = &subject[..sd];
            let eq = |a: &[u8], b: &[u8]| {
                if self.caseless {
                    a.eq_ignore_ascii_case(b)
                } else {
                    a == b
                }
            };
            if let Some(suffix) = local.strip_prefix(b"*") {
                if slocal.len() < suffix.len()
                    || !eq(&slocal[slocal.len() - suffix.len()..], suffix)
                {
                    return Ok(None);
                }
                wild.push(Val::new(&slocal[..slocal.len() - suffix.len()]));
            } else if !eq(slocal, local) {
                return Ok(None);
            }
            // Exim copies as many bytes of the pattern as the subject's local part has.
            value = Some(pattern[..slocal.len().min(pattern.len())].to_vec());
            domain_pat = &pattern[pd + 1..];
        }
        let dom = &subject[sd + 1..];
        let mut dm = StringMatcher::with(dom, self.caseless, true, self.captures);
        let r = single_item(ctx, &mut dm, domain_pat)?;
        Ok(r.map(|hit| {
            wild.extend(hit.captures.into_iter().skip(1));
            let captures = self.with_whole(&wild);
            let dvalue = hit.value.map(|v| v.bytes);
            let v = if value.is_some() || dvalue.is_some() {
                let mut out = value.unwrap_or_default();
                out.push(b'@');
                out.extend(dvalue.unwrap_or_default());
                Some(Val::new(out))
            } else {
                None
            };
            Matched { value: v, captures }
        }))
    }
}

/// The domain part of an address pattern is checked as a one-item domain list
/// (so `+named` and `!` work there too).
fn single_item(ctx: &mut Context, m: &mut StringMatcher, item: &[u8]) -> ItemResult {
    // A one-item list: double any colons so the item is not split.
    let mut list = Vec::with_capacity(item.len() + 1);
    lists::append_item(&mut list, b':', item);
    if item.is_empty() {
        list = b":".to_vec();
    }
    // Exim checks the item as a list of its own, shown as it is in the trace.
    let shown = ctx
        .tracing()
        .then(|| format!("\"{}\"", String::from_utf8_lossy(item)));
    super::check_list_as(ctx, m, &list, false, 1, shown.as_deref()).map_err(|e| match e {
        ListError::Defer(m) => ItemErr::Defer(m),
        ListError::Fatal(m) => ItemErr::Fatal(m),
    })
}

impl AddressMatcher {
    /// `@@type;source`: look the domain up; the result is a local-part list,
    /// whose last item may be `>key` to chain to another lookup.
    fn split_lookup(
        &self,
        ctx: &mut Context,
        subject: &[u8],
        sd: usize,
        lookup: &[u8],
    ) -> ItemResult {
        if sd == 1 && subject[0] == b'*' {
            return Ok(None);
        }
        let mut key: Option<Vec<u8>> = Some(subject[sd + 1..].to_vec());
        let mut budget = CHAIN_LIMIT;
        while let Some(k) = key.take() {
            if budget == 0 {
                return Err(ItemErr::Fatal(format!(
                    "Loop detected in lookup of local part of {} in @@{}",
                    String::from_utf8_lossy(subject),
                    String::from_utf8_lossy(lookup)
                )));
            }
            budget -= 1;
            let Some(hit) = check_string(ctx, &k, &k, lookup, false, false, false, true)? else {
                return Ok(None);
            };
            let mut list = hit.value.map(|v| v.bytes).unwrap_or_default();
            let last_start = list.iter().rposition(|&c| c == b':').map_or(0, |i| i + 1);
            let last = trim_start(&list[last_start..]);
            if let Some(next) = last.strip_prefix(b">") {
                key = Some(trim_start(next).to_vec());
                let cut = list.len() - last.len();
                list.truncate(cut);
            }
            let local = &subject[..sd];
            for item in lists::iter(&list) {
                let (yes, body) = match item.strip_prefix(b"!") {
                    Some(rest) => (false, trim_start(rest).to_vec()),
                    None => (true, item.clone()),
                };
                let caseless = self.caseless;
                let lowered = if caseless {
                    local.to_ascii_lowercase()
                } else {
                    local.to_vec()
                };
                if let Some(h) =
                    check_string(ctx, local, &lowered, &body, caseless, false, false, true)?
                {
                    return Ok(yes.then_some(h));
                }
            }
        }
        Ok(None)
    }
}
