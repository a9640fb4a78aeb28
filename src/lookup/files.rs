//! Lookup files read once and kept parsed until they change on disk (inode, size, mtime).
//!
//! Freshness rule: by default every lookup `stat`s its file, so an edit shows at once. A
//! process may instead set a re-check interval ([`set_recheck_interval`]): a file checked
//! less than that long ago is used without a `stat`, so an edit shows within the interval.
//! `rexim -be` and `rexim -bd` use one second. (Exim keeps a lookup file open, and caches
//! each key's result, until its search tidy-up, which `-be` never calls between lines: there
//! an edit may not show at all for the rest of the session; its daemon tidies up at each
//! message's DATA, and each connection is a new process.)

use std::ffi::OsStr;
use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::expand::fxhash::FxHashMap;
use crate::lookup::LookupError;

/// Largest lookup file rexim reads into memory.
pub const MAX_FILE: u64 = 1 << 30;

/// Generation numbers: every (re)load gets a new one, so cached results die with it.
static GENERATION: AtomicU64 = AtomicU64::new(1);

/// How long a file's last `stat` stays good, in microseconds (0: `stat` on every lookup).
static RECHECK_MICROS: AtomicU64 = AtomicU64::new(0);

/// Use a cached lookup file without `stat`ing it again for up to `interval` after its
/// last check (process-wide; `Duration::ZERO`, the default, checks on every lookup).
pub fn set_recheck_interval(interval: Duration) {
    let micros = u64::try_from(interval.as_micros()).unwrap_or(u64::MAX);
    RECHECK_MICROS.store(micros, Ordering::Relaxed);
}

/// What identifies one version of a file without reading it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    dev: u64,
    ino: u64,
    size: u64,
    mtime: i64,
    mtime_ns: i64,
}

impl Stamp {
    fn of(m: &std::fs::Metadata) -> Stamp {
        Stamp {
            dev: m.dev(),
            ino: m.ino(),
            size: m.size(),
            mtime: m.mtime(),
            mtime_ns: m.mtime_nsec(),
        }
    }
}

/// C's `strerror` text for an I/O error (Rust adds " (os error N)").
pub fn strerror(e: &std::io::Error) -> String {
    let s = e.to_string();
    let text = match s.rfind(" (os error ") {
        Some(i) => s[..i].to_string(),
        None => s,
    };
    if e.raw_os_error() == Some(libc::EACCES) {
        // SAFETY: geteuid/getegid cannot fail and have no preconditions.
        let (u, g) = unsafe { (libc::geteuid(), libc::getegid()) };
        return format!("{text} (euid={u} egid={g})");
    }
    text
}

/// Exim's `string_open_failed`: `failed to open FILE for linear search: REASON`.
pub fn open_failed(path: &[u8], purpose: &str, e: &std::io::Error) -> LookupError {
    LookupError::Hard(format!(
        "failed to open {} {purpose}: {}",
        String::from_utf8_lossy(path),
        strerror(e)
    ))
}

pub fn path_of(source: &[u8]) -> &Path {
    Path::new(OsStr::from_bytes(source))
}

/// A parsed file with the stamp and generation it was loaded at, and when its stamp
/// was last compared with the file on disk.
struct Slot<T> {
    stamp: Stamp,
    generation: u64,
    parsed: Arc<T>,
    checked: Instant,
}

/// Parsed files of one kind, keyed by file name.
pub struct FileCache<T> {
    /// Keyed by file names from the configuration: a fast hasher is safe.
    map: Mutex<FxHashMap<Vec<u8>, Slot<T>>>,
    /// Words for the open-failure message (`for linear search`).
    purpose: &'static str,
    /// Lookup type named in "not a regular file (TYPE lookup)".
    type_name: &'static str,
    /// The error for something that opens but is not a regular file, when the lookup
    /// type words it differently.
    not_regular: Option<fn(&[u8], &std::fs::Metadata) -> LookupError>,
}

impl<T: Send + Sync + 'static> FileCache<T> {
    pub fn new(purpose: &'static str, type_name: &'static str) -> FileCache<T> {
        FileCache {
            map: Mutex::new(FxHashMap::default()),
            purpose,
            type_name,
            not_regular: None,
        }
    }

    /// Word the error for a file that is not a regular one with `f`.
    pub fn with_not_regular(
        mut self,
        f: fn(&[u8], &std::fs::Metadata) -> LookupError,
    ) -> FileCache<T> {
        self.not_regular = Some(f);
        self
    }

    fn not_regular_error(&self, source: &[u8], m: &std::fs::Metadata) -> LookupError {
        match self.not_regular {
            Some(f) => f(source, m),
            None => LookupError::Hard(format!(
                "{} is not a regular file ({} lookup)",
                String::from_utf8_lossy(source),
                self.type_name
            )),
        }
    }

    /// The parsed file and its generation: no `stat` when it was checked within the
    /// re-check interval, one when it is cached and unchanged, else open, check it is a
    /// regular file, read and `parse` it.
    pub fn get(
        &self,
        source: &[u8],
        parse: impl FnOnce(&[u8]) -> Result<T, LookupError>,
    ) -> Result<(Arc<T>, u64), LookupError> {
        let recheck = Duration::from_micros(RECHECK_MICROS.load(Ordering::Relaxed));
        self.get_rechecked(source, parse, recheck)
    }

    /// As [`FileCache::get`] with the re-check interval given.
    fn get_rechecked(
        &self,
        source: &[u8],
        parse: impl FnOnce(&[u8]) -> Result<T, LookupError>,
        fresh: Duration,
    ) -> Result<(Arc<T>, u64), LookupError> {
        let now = Instant::now();
        if !fresh.is_zero() {
            if let Some(hit) = self.map.lock().ok().and_then(|c| {
                c.get(source)
                    .filter(|s| now.saturating_duration_since(s.checked) < fresh)
                    .map(|s| (s.parsed.clone(), s.generation))
            }) {
                return Ok(hit);
            }
        }
        let path = path_of(source);
        if let Ok(m) = std::fs::metadata(path) {
            let stamp = Stamp::of(&m);
            if let Some(hit) = self.map.lock().ok().and_then(|mut c| {
                c.get_mut(source).filter(|s| s.stamp == stamp).map(|s| {
                    s.checked = now;
                    (s.parsed.clone(), s.generation)
                })
            }) {
                return Ok(hit);
            }
            // Opening a FIFO would block until a writer comes: refuse before opening.
            if !m.is_file() && !m.is_dir() {
                return Err(self.not_regular_error(source, &m));
            }
        }
        let mut f = std::fs::File::open(path).map_err(|e| open_failed(source, self.purpose, &e))?;
        let m = f.metadata().map_err(|_| {
            LookupError::Hard(format!("{}: stat failed", String::from_utf8_lossy(source)))
        })?;
        if !m.is_file() {
            return Err(self.not_regular_error(source, &m));
        }
        if m.len() > MAX_FILE {
            return Err(LookupError::Hard(format!(
                "{} is too large for rexim ({} bytes, limit {MAX_FILE})",
                String::from_utf8_lossy(source),
                m.len()
            )));
        }
        let mut bytes = Vec::with_capacity(m.len() as usize);
        f.by_ref()
            .take(MAX_FILE)
            .read_to_end(&mut bytes)
            .map_err(|e| open_failed(source, self.purpose, &e))?;
        let parsed = Arc::new(parse(&bytes)?);
        let generation = GENERATION.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut c) = self.map.lock() {
            if c.len() > 10_000 {
                c.clear();
            }
            let slot = Slot {
                stamp: Stamp::of(&m),
                generation,
                parsed: parsed.clone(),
                checked: now,
            };
            c.insert(source.to_vec(), slot);
        }
        Ok((parsed, generation))
    }
}

/// C `isspace` in the C locale.
pub fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | b'\x0b' | b'\x0c' | b'\r')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recheck_interval_skips_the_stat_until_it_runs_out() {
        let dir = std::env::temp_dir().join(format!("rexim-recheck-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("f");
        std::fs::write(&file, "one").unwrap();
        let cache: FileCache<Vec<u8>> = FileCache::new("for test", "test");
        let source = file.to_string_lossy().into_owned();
        let read = |fresh| {
            let (t, _) = cache
                .get_rechecked(source.as_bytes(), |b| Ok(b.to_vec()), fresh)
                .unwrap();
            String::from_utf8(t.to_vec()).unwrap()
        };
        assert_eq!(read(Duration::ZERO), "one");
        std::fs::write(&file, "two, longer").unwrap();
        // Checked a moment ago: within an hour's interval the file is not looked at.
        assert_eq!(read(Duration::from_secs(3600)), "one");
        // With no interval (the default) the edit shows at once.
        assert_eq!(read(Duration::ZERO), "two, longer");
        std::fs::write(&file, "three").unwrap();
        std::thread::sleep(Duration::from_millis(20));
        // Once the interval has run out the file is checked again.
        assert_eq!(read(Duration::from_millis(10)), "three");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
