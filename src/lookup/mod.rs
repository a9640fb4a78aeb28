//! Lookups behind one trait, with Exim's partial/default matching and a per-process cache.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::error::ExpandError;

pub mod dsearch;

/// Why a lookup did not produce data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LookupError {
    /// Temporary failure: Exim's DEFER (`lookup of "KEY" gave DEFER: ...`).
    Defer(String),
    /// Hard failure (cannot open the file, bad query ...).
    Hard(String),
}

/// Options after the type name (`lsearch,ret=key,cache=no`).
pub type Options = Vec<(String, String)>;

/// One lookup type (`lsearch`, `lmdb`, `dnsdb` ...).
pub trait LookupDriver: Send + Sync {
    /// Find `key` (single-key types) or run `query` in `source` (file name or query text).
    /// `Ok(None)` means "not found".
    fn find(
        &self,
        source: &[u8],
        key: &[u8],
        opts: &Options,
    ) -> Result<Option<Vec<u8>>, LookupError>;

    /// Whether results come from outside the configuration (DNS): they are tainted.
    fn tainted_results(&self) -> bool {
        false
    }
}

/// A row of the lookup-type table.
pub struct TypeDef {
    pub name: &'static str,
    /// Single-key (`${lookup{key}type{file}}`) as opposed to query-style.
    pub single_key: bool,
    pub make: fn() -> Box<dyn LookupDriver>,
}

/// Every lookup type rexim has, sorted by name.
pub static TYPES: &[TypeDef] = &[TypeDef {
    name: "dsearch",
    single_key: true,
    make: dsearch::make,
}];

pub fn find_type(name: &str) -> Option<usize> {
    TYPES.binary_search_by(|t| t.name.cmp(name)).ok()
}

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

/// Parse a lookup type word such as `partial2-lsearch*@,ret=key`.
pub fn parse_spec(word: &str) -> Result<LookupSpec, String> {
    let unknown = || format!("unknown lookup type \"{word}\"");
    let (head, opt_text) = match word.split_once(',') {
        Some((h, o)) => (h, Some(o)),
        None => (word, None),
    };
    let mut rest = head;
    let mut partial = None;
    if let Some(p) = rest.strip_prefix("partial") {
        let nd = p.bytes().take_while(u8::is_ascii_digit).count();
        let min = if nd == 0 {
            2
        } else {
            p[..nd].parse().map_err(|_| unknown())?
        };
        let after = &p[nd..];
        if let Some(a) = after.strip_prefix('-') {
            partial = Some((min, "*.".to_string()));
            rest = a;
        } else if let Some(a) = after.strip_prefix('(') {
            let close = a
                .find(')')
                .ok_or_else(|| format!("format error in lookup type \"{word}\""))?;
            partial = Some((min, a[..close].to_string()));
            rest = &a[close + 1..];
        } else {
            return Err(format!("format error in lookup type \"{word}\""));
        }
    }
    let mut star = Star::None;
    if let Some(r) = rest.strip_suffix("*@") {
        star = Star::StarAt;
        rest = r;
    } else if let Some(r) = rest.strip_suffix('*') {
        star = Star::Star;
        rest = r;
    }
    let type_index = find_type(rest).ok_or_else(unknown)?;
    let def = &TYPES[type_index];
    if !def.single_key {
        if partial.is_some() {
            return Err(format!(
                "\"partial\" is not permitted for lookup type \"{rest}\""
            ));
        }
        if star != Star::None {
            return Err(format!(
                "defaults using \"*\" or \"*@\" are not permitted for lookup type \"{head}\""
            ));
        }
    }
    let mut opts = Vec::new();
    for o in opt_text.into_iter().flat_map(|t| t.split(',')) {
        let (k, v) = o.split_once('=').unwrap_or((o, ""));
        opts.push((k.trim().to_string(), v.trim().to_string()));
    }
    Ok(LookupSpec {
        type_index,
        partial,
        star,
        opts,
    })
}

/// A successful lookup: the data and the `$1`/`$2` captures of a partial or default match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hit {
    pub data: Vec<u8>,
    pub tainted: bool,
    pub captures: Option<(Vec<u8>, Vec<u8>)>,
}

type CacheKey = (usize, Vec<u8>, Vec<u8>, Options);

/// All lookup drivers of a process plus the result cache.
pub struct Lookups {
    drivers: Vec<Box<dyn LookupDriver>>,
    cache: Mutex<HashMap<CacheKey, Option<Vec<u8>>>>,
}

impl Default for Lookups {
    fn default() -> Self {
        Lookups {
            drivers: TYPES.iter().map(|t| (t.make)()).collect(),
            cache: Mutex::new(HashMap::new()),
        }
    }
}

impl Lookups {
    /// Replace one driver (tests inject fakes, e.g. a DNS zone for `dnsdb`).
    pub fn with_driver(mut self, name: &str, driver: Box<dyn LookupDriver>) -> Lookups {
        if let Some(i) = find_type(name) {
            self.drivers[i] = driver;
        }
        self
    }

    pub fn shared(self) -> Arc<Lookups> {
        Arc::new(self)
    }

    /// One raw lookup through the cache (no partial/default processing).
    pub fn find_one(
        &self,
        spec: &LookupSpec,
        source: &[u8],
        key: &[u8],
    ) -> Result<Option<Vec<u8>>, LookupError> {
        let no_read = matches!(spec.opt("cache"), Some("no") | Some("no_rd"));
        let no_write = matches!(spec.opt("cache"), Some("no") | Some("no_wr"));
        let driver_opts: Options = spec
            .opts
            .iter()
            .filter(|(k, _)| k != "cache")
            .cloned()
            .collect();
        let ck = (
            spec.type_index,
            source.to_vec(),
            key.to_vec(),
            driver_opts.clone(),
        );
        if !no_read {
            if let Some(hit) = self.cache.lock().ok().and_then(|c| c.get(&ck).cloned()) {
                return Ok(hit);
            }
        }
        let r = self.drivers[spec.type_index].find(source, key, &driver_opts)?;
        if !no_write {
            if let Ok(mut c) = self.cache.lock() {
                if c.len() > 100_000 {
                    c.clear();
                }
                c.insert(ck, r.clone());
            }
        }
        Ok(r)
    }

    /// A full lookup with Exim's partial matching, `*` and `*@` defaults and `ret=key`.
    pub fn find(
        &self,
        spec: &LookupSpec,
        source: &[u8],
        key: &[u8],
    ) -> Result<Option<Hit>, ExpandError> {
        let tainted = self.drivers[spec.type_index].tainted_results();
        let to_err = |e: LookupError, key: &[u8]| match e {
            LookupError::Defer(m) => ExpandError::defer(format!(
                "lookup of \"{}\" gave DEFER: {m}",
                String::from_utf8_lossy(key)
            )),
            LookupError::Hard(m) => ExpandError::hard(m),
        };
        let ret_key = spec.opt("ret") == Some("key");
        let hit = |data: Vec<u8>, k: &[u8], caps| Hit {
            data: if ret_key { k.to_vec() } else { data },
            tainted: tainted && !ret_key,
            captures: caps,
        };
        if !spec.is_single_key() {
            return Ok(self
                .find_one(spec, source, key)
                .map_err(|e| to_err(e, key))?
                .map(|d| hit(d, key, None)));
        }
        if key.is_empty() {
            return Ok(None);
        }
        // Exact match first.
        if let Some(d) = self
            .find_one(spec, source, key)
            .map_err(|e| to_err(e, key))?
        {
            let caps = (spec.partial.is_some() || spec.star != Star::None)
                .then(|| (Vec::new(), key.to_vec()));
            return Ok(Some(hit(d, key, caps)));
        }
        if let Some((min, affix)) = &spec.partial {
            if let Some(h) = self
                .partial(spec, source, key, *min, affix, &hit)
                .map_err(|e| to_err(e, key))?
            {
                return Ok(Some(h));
            }
        }
        if spec.star == Star::StarAt {
            if let Some(at) = key.iter().rposition(|&c| c == b'@') {
                let mut k = b"*".to_vec();
                k.extend_from_slice(&key[at..]);
                if let Some(d) = self
                    .find_one(spec, source, &k)
                    .map_err(|e| to_err(e, key))?
                {
                    return Ok(Some(hit(d, &k, Some((key[..at].to_vec(), Vec::new())))));
                }
            }
        }
        if spec.star != Star::None {
            if let Some(d) = self
                .find_one(spec, source, b"*")
                .map_err(|e| to_err(e, key))?
            {
                return Ok(Some(hit(d, b"*", Some((key.to_vec(), Vec::new())))));
            }
        }
        Ok(None)
    }

    fn partial(
        &self,
        spec: &LookupSpec,
        source: &[u8],
        key: &[u8],
        min: usize,
        affix: &str,
        hit: &dyn Fn(Vec<u8>, &[u8], Option<(Vec<u8>, Vec<u8>)>) -> Hit,
    ) -> Result<Option<Hit>, LookupError> {
        let affix = affix.as_bytes();
        // Try affix + key itself, then strip leading components while at least `min` remain.
        let mut candidates: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
        let comps = key.split(|&c| c == b'.').count();
        let mut fixed_start = 0;
        let mut remaining = comps;
        loop {
            if remaining < min || (remaining == 0 && min > 0) {
                break;
            }
            let fixed = &key[fixed_start..];
            let wild = if fixed_start == 0 {
                Vec::new()
            } else {
                key[..fixed_start - 1].to_vec()
            };
            if remaining == 0 {
                // partial0: the affix alone.
                let k = match affix {
                    [] => break,
                    [_] => affix.to_vec(),
                    a if a.ends_with(b".") => a[..a.len() - 1].to_vec(),
                    a => a.to_vec(),
                };
                candidates.push((k, key.to_vec()));
                break;
            }
            let mut k = affix.to_vec();
            k.extend_from_slice(fixed);
            candidates.push((k, wild));
            match key[fixed_start..].iter().position(|&c| c == b'.') {
                Some(dot) => {
                    fixed_start += dot + 1;
                    remaining -= 1;
                }
                None => {
                    remaining = 0;
                    fixed_start = key.len() + 1;
                    if min > 0 {
                        break;
                    }
                }
            }
        }
        for (k, wild) in candidates {
            if let Some(d) = self.find_one(spec, source, &k)? {
                let fixed = if k.len() >= affix.len() {
                    k[affix.len()..].to_vec()
                } else {
                    Vec::new()
                };
                return Ok(Some(hit(d, &k, Some((wild, fixed)))));
            }
        }
        Ok(None)
    }
}
