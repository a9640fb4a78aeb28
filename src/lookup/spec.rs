//! Lookup type words (`partial2-lsearch*@,ret=key`) parsed once at parse time.

use crate::lookup::{find_type, Options, TypeDef, TYPES, UNSUPPORTED};

/// `partial-`, `*`, `*@` and options, parsed from the type word once at parse time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LookupSpec {
    pub type_index: usize,
    /// `partialN-` / `partialN(affix)`: minimum non-wild components and the affix.
    pub partial: Option<(usize, String)>,
    pub star: Star,
    pub opts: Options,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Star {
    None,
    /// `type*`: try `*` last.
    Star,
    /// `type*@`: try `*@domain`, then `*`.
    StarAt,
}

impl LookupSpec {
    pub fn def(&self) -> &'static TypeDef {
        &TYPES[self.type_index]
    }

    pub fn is_single_key(&self) -> bool {
        self.def().single_key
    }

    pub fn opt(&self, name: &str) -> Option<&str> {
        self.opts
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Parse a lookup type word such as `partial2-lsearch*@,ret=key` (Exim's
/// `search_findtype_partial`: text between `*` and `,` is ignored, as in Exim).
pub fn parse_spec(word: &str) -> Result<LookupSpec, String> {
    let format_error = || format!("format error in lookup type \"{word}\"");
    let mut rest = word;
    let mut partial = None;
    if let Some(p) = rest.strip_prefix("partial") {
        let nd = p.bytes().take_while(u8::is_ascii_digit).count();
        let min = if nd == 0 {
            2
        } else {
            p[..nd].bytes().fold(0usize, |a, d| {
                a.saturating_mul(10).saturating_add(usize::from(d - b'0'))
            })
        };
        let after = &p[nd..];
        if let Some(a) = after.strip_prefix('(') {
            let n = a
                .bytes()
                .take_while(|&c| c.is_ascii_punctuation() && c != b')')
                .count();
            if a.as_bytes().get(n) != Some(&b')') {
                return Err(format_error());
            }
            partial = Some((min, a[..n].to_string()));
            rest = &a[n + 1..];
        } else if let Some(a) = after.strip_prefix('-') {
            partial = Some((min, "*.".to_string()));
            rest = a;
        } else {
            return Err(format_error());
        }
    }
    let mut name_len = rest.len();
    let mut star = Star::None;
    let mut from = 0;
    if let Some(t) = rest.find('*') {
        name_len = t;
        star = if rest[t + 1..].starts_with('@') {
            Star::StarAt
        } else {
            Star::Star
        };
        from = t;
    }
    let mut opts = Vec::new();
    if let Some(c) = rest[from..].find(',').map(|c| c + from) {
        name_len = name_len.min(c);
        for o in rest[c + 1..].split(',') {
            let (k, v) = o.split_once('=').unwrap_or((o, ""));
            opts.push((k.trim().to_string(), v.trim().to_string()));
        }
    }
    let name = &rest[..name_len];
    let type_index = find_type(name).ok_or_else(|| {
        if UNSUPPORTED.contains(&name) {
            format!("lookup type \"{name}\" is not supported by rexim")
        } else {
            format!("unknown lookup type \"{name}\"")
        }
    })?;
    if !TYPES[type_index].single_key {
        if partial.is_some() {
            return Err(format!(
                "\"partial\" is not permitted for lookup type \"{rest}\""
            ));
        }
        if star != Star::None {
            return Err(format!(
                "defaults using \"*\" or \"*@\" are not permitted for lookup type \"{rest}\""
            ));
        }
    }
    Ok(LookupSpec {
        type_index,
        partial,
        star,
        opts,
    })
}
