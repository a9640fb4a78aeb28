//! Exim's `search_find`: partial matching, `*`/`*@` defaults, `ret=key` and the
//! per-process result cache, over any driver.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::error::ExpandError;
use crate::lookup::{
    dnsdb, find_type, Call, Expander, LookupDriver, LookupError, LookupSpec, Opened, Options, Star,
    TYPES,
};

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
    /// Shared between the connections of a daemon (`share_drivers`): the parsed files
    /// they keep are read once per process, not once per connection.
    drivers: Vec<Arc<dyn LookupDriver>>,
    /// The resolver behind `dnsdb` and the `@mx_*` list items.
    resolver: Arc<dyn crate::dns::Resolver>,
    cache: Mutex<HashMap<CacheKey, Option<Vec<u8>>>>,
}

impl Default for Lookups {
    fn default() -> Self {
        Lookups {
            drivers: TYPES.iter().map(|t| Arc::from((t.make)())).collect(),
            resolver: Arc::new(crate::dns::SystemResolver::default()),
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
            self.drivers[i] = Arc::from(driver);
        }
        self
    }

    /// The same drivers (and the files they hold parsed) with an empty result cache of its
    /// own: one per SMTP connection, as Exim's cache lives in each connection's process.
    pub fn share_drivers(&self) -> Lookups {
        Lookups {
            drivers: self.drivers.clone(),
            resolver: self.resolver.clone(),
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// Answer `dnsdb` and `@mx_*` list items from `resolver` (tests use `dns::FakeResolver`).
    pub fn with_resolver(mut self, resolver: Arc<dyn crate::dns::Resolver>) -> Lookups {
        self.resolver = resolver.clone();
        self.with_driver("dnsdb", dnsdb::with_resolver(resolver))
    }

    /// The resolver list items use (the system one unless `with_resolver` replaced it).
    pub fn resolver(&self) -> Arc<dyn crate::dns::Resolver> {
        self.resolver.clone()
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
        // The owned key is built only for a cache that is read or written (not for
        // drivers such as lsearch, which answer from their own index).
        let ck = (!no_read || !no_write).then(|| {
            (
                r.spec.type_index,
                r.source.to_vec(),
                key.to_vec(),
                r.driver_opts.clone(),
                r.opened.generation,
            )
        });
        if let (false, Some(ck)) = (no_read, &ck) {
            if let Some(hit) = self.cache.lock().ok().and_then(|c| c.get(ck).cloned()) {
                return Ok(hit);
            }
        }
        let res =
            self.drivers[r.spec.type_index].find(&r.opened, r.source, key, &r.driver_opts, call)?;
        r.fresh_hit.set(res.is_some());
        if let (false, Some(ck)) = (no_write, ck) {
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
            depth: 0,
        };
        // A DEFER keeps the driver's words: `${lookup}` adds `lookup of "KEY" gave DEFER:`,
        // list matching adds `unable to complete match against ...`.
        let to_err = |e: LookupError| match e {
            LookupError::Defer(m) => ExpandError::defer(m),
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
