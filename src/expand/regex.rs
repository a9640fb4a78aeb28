//! PCRE2 compilation with a process-wide cache: no regex is compiled twice.

use std::cell::RefCell;
use std::sync::{Arc, Mutex, OnceLock};

use pcre2::bytes::{CaptureLocations, Regex, RegexBuilder};

use crate::error::{ExpResult, ExpandError};
use crate::expand::fxhash::FxHashMap;

/// Compiled patterns, one map per `caseless` setting (so a hit needs no key copy).
type Cache = Mutex<[FxHashMap<Vec<u8>, Arc<Regex>>; 2]>;

fn cache() -> &'static Cache {
    static CACHE: OnceLock<Cache> = OnceLock::new();
    CACHE.get_or_init(|| Mutex::new([FxHashMap::default(), FxHashMap::default()]))
}

/// Compile (or fetch) a regex. Errors use Exim's wording:
/// `regular expression error in "(": missing closing parenthesis at offset 1`.
pub fn compile(pattern: &[u8], caseless: bool) -> ExpResult<Arc<Regex>> {
    let slot = usize::from(caseless);
    if let Some(r) = cache()
        .lock()
        .map_err(|_| ExpandError::hard("regex cache poisoned"))?[slot]
        .get(pattern)
    {
        return Ok(r.clone());
    }
    let text = String::from_utf8_lossy(pattern);
    // Patterns are compiled once and matched many times: JIT pays for itself.
    let re = RegexBuilder::new()
        .caseless(caseless)
        .jit_if_available(true)
        .build(&text)
        .map_err(|e| {
            ExpandError::hard(format!(
                "regular expression error in \"{}\": {} at offset {}",
                text,
                pcre_message(&e),
                e.offset().unwrap_or(0)
            ))
        })?;
    let re = Arc::new(re);
    let mut c = cache()
        .lock()
        .map_err(|_| ExpandError::hard("regex cache poisoned"))?;
    if c[slot].len() > 10_000 {
        c[slot].clear();
    }
    c[slot].insert(pattern.to_vec(), re.clone());
    Ok(re)
}

/// pcre2's Display is "PCRE2: error compiling pattern at offset N: MESSAGE"; Exim shows MESSAGE.
fn pcre_message(e: &pcre2::Error) -> String {
    let full = e.to_string();
    match full.rsplit_once(": ") {
        Some((_, msg)) => msg.to_string(),
        None => full,
    }
}

/// Patterns with up to this many groups (plus `$0`) share match blocks per thread.
const SHARED_LOCATIONS: usize = 16;

thread_local! {
    /// One match block per capture count: pcre2's `captures` creates (and frees) a
    /// match context and data block on every call. A block only depends on the
    /// pattern's capture count, so any pattern with that count can use it.
    static LOCATIONS: RefCell<[Option<CaptureLocations>; SHARED_LOCATIONS]> =
        const { RefCell::new([const { None }; SHARED_LOCATIONS]) };
}

/// Run `f` with capture locations fit for `re` (reused from an earlier match when
/// possible). `f` may match again: a nested call simply gets a block of its own.
pub fn with_locations<R>(re: &Regex, f: impl FnOnce(&mut CaptureLocations) -> R) -> R {
    let n = re.captures_len();
    let taken = if n < SHARED_LOCATIONS {
        LOCATIONS.with(|l| l.borrow_mut()[n].take())
    } else {
        None
    };
    let mut locs = taken.unwrap_or_else(|| re.capture_locations());
    let r = f(&mut locs);
    if n < SHARED_LOCATIONS {
        LOCATIONS.with(|l| l.borrow_mut()[n] = Some(locs));
    }
    r
}
