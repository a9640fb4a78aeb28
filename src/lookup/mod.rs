//! Lookups behind one trait, with Exim's partial/default matching and a per-process cache.

use std::any::Any;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::error::ExpandError;

pub mod cdb;
pub mod dnsdb;
pub mod dsearch;
pub mod files;
pub mod ip;
pub mod iplsearch;
pub mod json;
pub mod lmdb;
pub mod lsearch;
pub mod passwd;
pub mod wild;

/// Why a lookup did not produce data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LookupError {
    /// Temporary failure: Exim's DEFER (`lookup of "KEY" gave DEFER: ...`).
    Defer(String),
    /// Hard failure (cannot open the file, bad query ...).
    Hard(String),
}

/// Exim's `string_printing2(s, SP_TAB)`: tabs and non-printing bytes escaped.
pub fn printing(s: &[u8]) -> String {
    let mut out = String::with_capacity(s.len());
    for &c in s {
        match c {
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            8 => out.push_str("\\b"),
            11 => out.push_str("\\v"),
            12 => out.push_str("\\f"),
            b'\t' => out.push_str("\\t"),
            b' '..=b'~' => out.push(char::from(c)),
            _ => out.push_str(&format!("\\{c:03o}")),
        }
    }
    out
}

/// Options after the type name (`lsearch,ret=key,cache=no`).
pub type Options = Vec<(String, String)>;

/// Expands text found inside a lookup source (the keys of a `wildlsearch` file).
pub trait Expander {
    /// `Ok(None)` is a forced failure; `Err` carries the expansion error message.
    fn expand_key(&mut self, text: &[u8]) -> Result<Option<Vec<u8>>, String>;

    /// Record a line Exim would write to its main log.
    fn log(&mut self, line: String);

    /// Set `$lookup_dnssec_authenticated` (`None`: unset, for `dnssec_never`).
    fn dnssec_authenticated(&mut self, _secure: Option<bool>) {}
}

/// What a driver may use while it looks a key up: the other lookups (for the nested
/// `type;file` keys of wildlsearch) and, when the caller has one, an expander.
pub struct Call<'a, 'e> {
    pub lookups: &'a Lookups,
    pub expander: Option<&'e mut dyn Expander>,
}

/// A source opened once per lookup call: the parsed file (or nothing for query types)
/// and a generation number that changes whenever the file changes on disk.
#[derive(Clone, Default)]
pub struct Opened {
    pub data: Option<Arc<dyn Any + Send + Sync>>,
    pub generation: u64,
}

impl Opened {
    pub fn get<T: Any + Send + Sync>(&self) -> Option<&T> {
        self.data.as_ref().and_then(|d| d.downcast_ref::<T>())
    }
}

/// One lookup type (`lsearch`, `lmdb`, `dnsdb` ...).
pub trait LookupDriver: Send + Sync {
    /// Open (or re-validate) `source`; called once per `${lookup}`, before any key is tried.
    fn open(&self, _source: &[u8], _opts: &Options) -> Result<Opened, LookupError> {
        Ok(Opened::default())
    }

    /// Find `key` (single-key types) or run the query (`key` is the query text).
    /// `Ok(None)` means "not found".
    fn find(
        &self,
        opened: &Opened,
        source: &[u8],
        key: &[u8],
        opts: &Options,
        call: &mut Call,
    ) -> Result<Option<Vec<u8>>, LookupError>;

    /// Whether results come from outside the configuration (DNS): they are tainted.
    fn tainted_results(&self) -> bool {
        false
    }

    /// Whether a hit found by the driver (not the cache) empties `$0`, `$1`... for the
    /// `{yes}` string, as Exim's wildlsearch does after matching a key.
    fn clears_captures(&self) -> bool {
        false
    }

    /// Whether results may be kept in the per-process cache (DNS data has its own TTLs).
    fn cache_results(&self) -> bool {
        true
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
pub static TYPES: &[TypeDef] = &[
    TypeDef {
        name: "cdb",
        single_key: true,
        make: cdb::make,
    },
    TypeDef {
        name: "dnsdb",
        single_key: false,
        make: dnsdb::make,
    },
    TypeDef {
        name: "dsearch",
        single_key: true,
        make: dsearch::make,
    },
    TypeDef {
        name: "iplsearch",
        single_key: true,
        make: iplsearch::make,
    },
    TypeDef {
        name: "json",
        single_key: true,
        make: json::make,
    },
    TypeDef {
        name: "lmdb",
        single_key: true,
        make: lmdb::make,
    },
    TypeDef {
        name: "lsearch",
        single_key: true,
        make: lsearch::make,
    },
    TypeDef {
        name: "nwildlsearch",
        single_key: true,
        make: wild::make_nwild,
    },
    TypeDef {
        name: "passwd",
        single_key: false,
        make: passwd::make,
    },
    TypeDef {
        name: "wildlsearch",
        single_key: true,
        make: wild::make_wild,
    },
];

/// Exim lookup types that rexim knows of but does not implement; naming one is an
/// explicit error rather than "unknown lookup type".
pub static UNSUPPORTED: &[&str] = &[
    "dbm", "dbmjz", "dbmnz", "ibase", "ldap", "ldapdn", "ldapm", "mysql", "nis", "nis0", "nisplus",
    "nmh", "oracle", "pgsql", "psl", "redis", "regdom", "spf", "sqlite", "testdb", "whoson",
];

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

/// A successful lookup: the data and the `$1`/`$2` captures of a partial or default match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hit {
    pub data: Vec<u8>,
    pub tainted: bool,
    pub captures: Option<(Vec<u8>, Vec<u8>)>,
    /// `$0`, `$1`... are empty during `{yes}` (a wildlsearch match that was not cached).
    pub clears_captures: bool,
}

/// Type, source, key, driver options and the source's generation.
type CacheKey = (usize, Vec<u8>, Vec<u8>, Options, u64);

/// Largest number of cached results before the cache is emptied.
const CACHE_MAX: usize = 100_000;

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

/// The per-call state shared by the candidate keys of one lookup.
struct Round<'a> {
    spec: &'a LookupSpec,
    source: &'a [u8],
    opened: Opened,
    driver_opts: Options,
    /// The driver itself (not the cache) produced the last hit.
    fresh_hit: std::cell::Cell<bool>,
}

impl Lookups {
    /// Replace one driver (tests inject fakes, e.g. a DNS zone for `dnsdb`).
    pub fn with_driver(mut self, name: &str, driver: Box<dyn LookupDriver>) -> Lookups {
        if let Some(i) = find_type(name) {
            self.drivers[i] = driver;
        }
        self
    }

    /// Answer `dnsdb` from `resolver` (tests use `dns::FakeResolver`).
    pub fn with_resolver(self, resolver: Arc<dyn crate::dns::Resolver>) -> Lookups {
        self.with_driver("dnsdb", dnsdb::with_resolver(resolver))
    }

    pub fn shared(self) -> Arc<Lookups> {
        Arc::new(self)
    }

    /// Forget all cached results (Exim's `search_tidyup`).
    pub fn tidyup(&self) {
        if let Ok(mut c) = self.cache.lock() {
            c.clear();
        }
    }

    fn find_one(
        &self,
        r: &Round,
        key: &[u8],
        call: &mut Call,
    ) -> Result<Option<Vec<u8>>, LookupError> {
        let cache = r.spec.opt("cache");
        let cacheable = self.drivers[r.spec.type_index].cache_results();
        let no_read = !cacheable || matches!(cache, Some("no") | Some("no_rd"));
        let no_write = !cacheable || matches!(cache, Some("no") | Some("no_wr"));
        let ck = (
            r.spec.type_index,
            r.source.to_vec(),
            key.to_vec(),
            r.driver_opts.clone(),
            r.opened.generation,
        );
        if !no_read {
            if let Some(hit) = self.cache.lock().ok().and_then(|c| c.get(&ck).cloned()) {
                return Ok(hit);
            }
        }
        let res =
            self.drivers[r.spec.type_index].find(&r.opened, r.source, key, &r.driver_opts, call)?;
        r.fresh_hit.set(res.is_some());
        if !no_write {
            if let Ok(mut c) = self.cache.lock() {
                if c.len() > CACHE_MAX {
                    c.clear();
                }
                c.insert(ck, res.clone());
            }
        }
        Ok(res)
    }

    /// A full lookup with Exim's partial matching, `*` and `*@` defaults and `ret=key`.
    /// `expander` expands wildlsearch keys; without one they are used as written.
    pub fn find(
        &self,
        spec: &LookupSpec,
        source: &[u8],
        key: &[u8],
        expander: Option<&mut dyn Expander>,
    ) -> Result<Option<Hit>, ExpandError> {
        let mut call = Call {
            lookups: self,
            expander,
        };
        let to_err = |e: LookupError| match e {
            LookupError::Defer(m) => {
                ExpandError::defer(format!("lookup of \"{}\" gave DEFER: {m}", printing(key)))
            }
            LookupError::Hard(m) => ExpandError::hard(m),
        };
        self.find_raw(spec, source, key, &mut call).map_err(to_err)
    }

    /// As `find`, keeping the driver's error (nested lookups of wildlsearch keys).
    pub fn find_raw(
        &self,
        spec: &LookupSpec,
        source: &[u8],
        key: &[u8],
        call: &mut Call,
    ) -> Result<Option<Hit>, LookupError> {
        let driver = &self.drivers[spec.type_index];
        let tainted = driver.tainted_results();
        let driver_opts: Options = spec
            .opts
            .iter()
            .filter(|(k, _)| k != "cache")
            .cloned()
            .collect();
        let opened = driver.open(source, &driver_opts)?;
        let r = Round {
            spec,
            source,
            opened,
            driver_opts,
            fresh_hit: std::cell::Cell::new(false),
        };
        let clears = |r: &Round| driver.clears_captures() && r.fresh_hit.get();
        let ret_key = spec.opt("ret") == Some("key");
        if !spec.is_single_key() {
            let found = self.find_one(&r, key, call)?;
            return Ok(found.map(|d| Hit {
                data: if ret_key { key.to_vec() } else { d },
                tainted: tainted && !ret_key,
                captures: None,
                clears_captures: clears(&r),
            }));
        }
        if key.is_empty() {
            return Ok(None);
        }
        let found = self.single(&r, key, call)?;
        Ok(found.map(|(data, captures)| Hit {
            data: if ret_key { key.to_vec() } else { data },
            tainted: tainted && !ret_key,
            captures,
            clears_captures: clears(&r),
        }))
    }

    /// Exim's `search_find`: the key itself, then partial keys, `*@domain` and `*`;
    /// returns the data and, for partial and default matches, `$1` and `$2`.
    fn single(&self, r: &Round, key: &[u8], call: &mut Call) -> Result<Option<Found>, LookupError> {
        if let Some(d) = self.find_one(r, key, call)? {
            let caps = r.spec.partial.is_some().then(|| (Vec::new(), key.to_vec()));
            return Ok(Some((d, caps)));
        }
        if let Some((min, affix)) = &r.spec.partial {
            if let Some(f) = self.partial(r, key, *min, affix.as_bytes(), call)? {
                return Ok(Some(f));
            }
        }
        if r.spec.star == Star::StarAt {
            if let Some(at) = key.iter().rposition(|&c| c == b'@').filter(|&a| a > 0) {
                let mut k = b"*".to_vec();
                k.extend_from_slice(&key[at..]);
                if let Some(d) = self.find_one(r, &k, call)? {
                    return Ok(Some((d, Some((key[..at].to_vec(), Vec::new())))));
                }
            }
        }
        if r.spec.star != Star::None {
            if let Some(d) = self.find_one(r, b"*", call)? {
                return Ok(Some((d, Some((key.to_vec(), Vec::new())))));
            }
        }
        Ok(None)
    }

    /// Partial matching: `affix+key`, then the affix on ever shorter tails of the key
    /// while at least `min` components remain, and for `partial0` the affix alone.
    fn partial(
        &self,
        r: &Round,
        key: &[u8],
        min: usize,
        affix: &[u8],
        call: &mut Call,
    ) -> Result<Option<Found>, LookupError> {
        if !affix.is_empty() {
            let mut k = affix.to_vec();
            k.extend_from_slice(key);
            if let Some(d) = self.find_one(r, &k, call)? {
                return Ok(Some((d, Some((Vec::new(), key.to_vec())))));
            }
        }
        let mut dots = key.iter().filter(|&&c| c == b'.').count();
        let mut pos = 0;
        loop {
            if dots < min {
                break;
            }
            dots = dots.wrapping_sub(1);
            let dot = key[pos..].iter().position(|&c| c == b'.').map(|d| d + pos);
            let (candidate, fixed_len) = match dot {
                None => {
                    if affix.is_empty() {
                        break;
                    }
                    let a = if affix.len() > 1 && affix.ends_with(b".") {
                        &affix[..affix.len() - 1]
                    } else {
                        affix
                    };
                    (a.to_vec(), 0)
                }
                Some(d) => {
                    let mut k = affix.to_vec();
                    k.extend_from_slice(&key[d + 1..]);
                    pos = d + 1;
                    (k, key.len() - d - 1)
                }
            };
            if let Some(data) = self.find_one(r, &candidate, call)? {
                let wild_len = key.len().saturating_sub(fixed_len + 1);
                let fixed = key.get(wild_len + 1..).unwrap_or_default();
                return Ok(Some((
                    data,
                    Some((key[..wild_len].to_vec(), fixed.to_vec())),
                )));
            }
            if dot.is_none() {
                break;
            }
        }
        Ok(None)
    }
}

/// Data plus the `$1`/`$2` of a partial or default match.
type Found = (Vec<u8>, Option<(Vec<u8>, Vec<u8>)>);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_sorted_and_unique() {
        assert!(TYPES.windows(2).all(|w| w[0].name < w[1].name));
        assert!(UNSUPPORTED.windows(2).all(|w| w[0] < w[1]));
        assert!(UNSUPPORTED.iter().all(|n| find_type(n).is_none()));
    }

    #[test]
    fn unsupported_types_are_named() {
        assert_eq!(
            parse_spec("dbm").unwrap_err(),
            "lookup type \"dbm\" is not supported by rexim"
        );
        assert_eq!(
            parse_spec("nosuch").unwrap_err(),
            "unknown lookup type \"nosuch\""
        );
    }

    fn lsearch_value(l: &Lookups, file: &std::path::Path, key: &str) -> Option<Vec<u8>> {
        let spec = parse_spec("lsearch").unwrap();
        l.find(
            &spec,
            file.to_string_lossy().as_bytes(),
            key.as_bytes(),
            None,
        )
        .unwrap()
        .map(|h| h.data)
    }

    #[test]
    fn changed_files_are_read_again() {
        let dir = std::env::temp_dir().join(format!("rexim-lsearch-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("f");
        std::fs::write(&file, "k: one\n").unwrap();
        let l = Lookups::default();
        assert_eq!(lsearch_value(&l, &file, "k"), Some(b"one".to_vec()));
        // A cached miss must not survive the change either.
        assert_eq!(lsearch_value(&l, &file, "new"), None);
        std::fs::write(&file, "k: two!\nnew: here\n").unwrap();
        assert_eq!(lsearch_value(&l, &file, "k"), Some(b"two!".to_vec()));
        assert_eq!(lsearch_value(&l, &file, "new"), Some(b"here".to_vec()));
        // Replaced by another file (new inode).
        let other = dir.join("g");
        std::fs::write(&other, "k: three\n").unwrap();
        std::fs::rename(&other, &file).unwrap();
        assert_eq!(lsearch_value(&l, &file, "k"), Some(b"three".to_vec()));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn fresh_wild_matches_clear_captures() {
        let file =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/expand/data/nwild.txt");
        let l = Lookups::default();
        let spec = parse_spec("nwildlsearch").unwrap();
        let src = file.to_string_lossy();
        let first = l
            .find(&spec, src.as_bytes(), b"a.wild.example", None)
            .unwrap()
            .unwrap();
        let again = l
            .find(&spec, src.as_bytes(), b"a.wild.example", None)
            .unwrap()
            .unwrap();
        assert_eq!(
            (first.data.as_slice(), first.clears_captures),
            (b"star-suffix".as_slice(), true)
        );
        assert!(
            !again.clears_captures,
            "a cached result leaves $1 alone, as in Exim"
        );
    }

    #[test]
    fn dnsdb_results_are_tainted_unless_ret_key() {
        let zone = crate::dns::FakeResolver::parse("example.com A 192.0.2.1").unwrap();
        let l = Lookups::default().with_resolver(Arc::new(zone));
        let hit = l
            .find(&parse_spec("dnsdb").unwrap(), b"", b"a=example.com", None)
            .unwrap()
            .unwrap();
        assert_eq!(
            (hit.data.as_slice(), hit.tainted),
            (b"192.0.2.1".as_slice(), true)
        );
        let hit = l
            .find(
                &parse_spec("dnsdb,ret=key").unwrap(),
                b"",
                b"a=example.com",
                None,
            )
            .unwrap()
            .unwrap();
        assert_eq!(
            (hit.data.as_slice(), hit.tainted),
            (b"a=example.com".as_slice(), false)
        );
    }
}
