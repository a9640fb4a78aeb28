//! Lookups behind one trait, with Exim's partial/default matching and a per-process cache.

use std::any::Any;
use std::sync::Arc;

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
pub mod search;
pub mod spec;
pub mod spf;
pub mod wild;

pub use search::{Hit, Lookups};
pub use spec::{parse_spec, LookupSpec, Star};

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
    /// Lookups nested inside this one (wildlsearch `type;file` keys).
    pub depth: u32,
}

/// Deepest nesting of lookups inside wildlsearch keys (a file naming itself loops).
pub const MAX_NESTING: u32 = 20;

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
        name: "spf",
        single_key: true,
        make: spf::make,
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
    "nmh", "oracle", "pgsql", "psl", "redis", "regdom", "sqlite", "testdb", "whoson",
];

pub fn find_type(name: &str) -> Option<usize> {
    TYPES.binary_search_by(|t| t.name.cmp(name)).ok()
}

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
