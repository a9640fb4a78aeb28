//! `lsearch`: the linear-search text file (`key: data`), parsed once into an indexed table.

use std::sync::{Arc, OnceLock};

use crate::expand::fxhash::FxHashMap;
use crate::lookup::files::{is_space, FileCache};
use crate::lookup::{Call, LookupDriver, LookupError, Opened, Options};

/// Exim reads these files with `fgets` into a 4096-byte buffer; long lines come in pieces.
const SEGMENT: usize = 4095;

/// One `key: data` entry of an lsearch-format file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The key as written (quotes removed, escapes interpreted).
    pub key: Vec<u8>,
    /// What `ret=full` returns: the whole entry, key de-quoted, continuations joined.
    pub full: Vec<u8>,
    /// Where the data (after the key, blanks and an optional colon) starts in `full`.
    pub data_start: usize,
}

impl Entry {
    pub fn data(&self) -> &[u8] {
        self.full.get(self.data_start..).unwrap_or_default()
    }

    /// The data, or the whole entry with `ret=full`.
    pub fn result(&self, opts: &Options) -> Vec<u8> {
        if ret_full(opts) {
            self.full.clone()
        } else {
            self.data().to_vec()
        }
    }
}

pub fn ret_full(opts: &Options) -> bool {
    opts.iter().any(|(k, v)| k == "ret" && v == "full")
}

/// A parsed lsearch-format file: entries in file order plus an index of lowercased keys.
pub struct LsFile {
    pub entries: Vec<Entry>,
    /// Lowercased key -> first entry with that key.
    /// Keys come from the file (trusted), so a fast hasher is safe here.
    pub index: FxHashMap<Vec<u8>, usize>,
    /// Parsed network of each entry, built on first use by iplsearch.
    pub nets: OnceLock<Vec<Option<crate::lookup::ip::Net>>>,
    /// Literal-key index and pattern positions for nwildlsearch (0) and wildlsearch (1).
    pub wild: [OnceLock<crate::lookup::wild::Plan>; 2],
}

/// The file cache shared by all lsearch-format types (one parse serves all of them).
pub fn cache() -> &'static FileCache<LsFile> {
    static CACHE: OnceLock<FileCache<LsFile>> = OnceLock::new();
    CACHE.get_or_init(|| FileCache::new("for linear search", "lsearch"))
}

/// Open an lsearch-format file through the shared cache.
pub fn open(source: &[u8]) -> Result<Opened, LookupError> {
    let (file, generation) = cache().get(source, |b| Ok(parse(b)))?;
    Ok(Opened {
        data: Some(file as Arc<_>),
        generation,
    })
}

/// The file as `fgets` would return it: (bytes up to a NUL, ends the physical line).
fn segments(text: &[u8]) -> Vec<(&[u8], bool)> {
    let mut out = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        let limit = rest.len().min(SEGMENT);
        let len = match rest[..limit].iter().position(|&c| c == b'\n') {
            Some(nl) => nl + 1,
            None => limit,
        };
        let (seg, tail) = rest.split_at(len);
        rest = tail;
        let seg = match seg.iter().position(|&c| c == 0) {
            Some(z) => &seg[..z],
            None => seg,
        };
        let eol = seg.last() == Some(&b'\n');
        out.push((seg, eol));
    }
    out
}

fn trim_end(s: &[u8]) -> &[u8] {
    let mut p = s.len();
    while p > 0 && is_space(s[p - 1]) {
        p -= 1;
    }
    &s[..p]
}

/// Exim's backslash escapes in quoted keys: `\n \t \r \b \f \v`, octal, `\xHH`.
/// Returns the byte and how many bytes after the backslash were used.
pub fn escape(after: &[u8]) -> (u8, usize) {
    let Some(&c) = after.first() else {
        return (b'\\', 0);
    };
    let is_oct = |c: u8| (b'0'..=b'7').contains(&c);
    if is_oct(c) {
        let mut v = u32::from(c - b'0');
        let mut used = 1;
        while used < 3 && after.get(used).is_some_and(|&d| is_oct(d)) {
            v = v * 8 + u32::from(after[used] - b'0');
            used += 1;
        }
        return ((v & 0xff) as u8, used);
    }
    match c {
        b'b' => (8, 1),
        b'f' => (12, 1),
        b'n' => (b'\n', 1),
        b'r' => (b'\r', 1),
        b't' => (b'\t', 1),
        b'v' => (11, 1),
        b'x' => {
            let mut v = 0u8;
            let mut used = 1;
            while used < 3 {
                match after.get(used).and_then(|&d| (d as char).to_digit(16)) {
                    Some(d) => v = v.wrapping_mul(16).wrapping_add(d as u8),
                    None => break,
                }
                used += 1;
            }
            (v, used)
        }
        other => (other, 1),
    }
}

/// Parse the first line of an entry: (key, full text, offset of the data).
fn key_line(line: &[u8]) -> (Vec<u8>, Vec<u8>, usize) {
    if line.first() == Some(&b'"') {
        let mut key = Vec::new();
        let mut i = 1;
        while i < line.len() && line[i] != b'"' {
            if line[i] == b'\\' {
                let (c, used) = escape(&line[i + 1..]);
                key.push(c);
                i += used;
            } else {
                key.push(line[i]);
            }
            i += 1;
        }
        if i < line.len() {
            i += 1;
        }
        let mut full = key.clone();
        full.extend_from_slice(&line[i..]);
        let start = key.len() + data_offset(&line[i..]);
        (key, full, start)
    } else {
        let n = line
            .iter()
            .position(|&c| c == b':' || is_space(c))
            .unwrap_or(line.len());
        (
            line[..n].to_vec(),
            line.to_vec(),
            n + data_offset(&line[n..]),
        )
    }
}

/// Blanks, then an optional colon and more blanks.
fn data_offset(rest: &[u8]) -> usize {
    let mut i = rest.iter().take_while(|&&c| is_space(c)).count();
    if rest.get(i) == Some(&b':') {
        i += 1;
        i += rest[i..].iter().take_while(|&&c| is_space(c)).count();
    }
    i
}

/// Parse a whole file into entries, following Exim's line rules exactly: blank and `#`
/// lines are skipped, continuation lines start with white space and are joined with one
/// space, and a blank or `#` line ends an entry's continuations (reference §9.16).
pub fn parse(text: &[u8]) -> LsFile {
    let segs = segments(text);
    let mut entries = Vec::new();
    let mut last_was_eol = true;
    for (i, &(seg, eol)) in segs.iter().enumerate() {
        let starts_line = last_was_eol;
        last_was_eol = eol;
        if !starts_line {
            continue;
        }
        let line = if eol { trim_end(seg) } else { seg };
        match line.first() {
            None | Some(b'#') => continue,
            Some(&c) if is_space(c) => continue,
            _ => {}
        }
        let (key, mut full, data_start) = key_line(line);
        let mut prev_eol = eol;
        for &(seg, eol) in &segs[i + 1..] {
            let mut s = if eol { trim_end(seg) } else { seg };
            let line_start = prev_eol;
            prev_eol = eol;
            if line_start {
                match s.first() {
                    None | Some(b'#') => break,
                    Some(&c) if !is_space(c) => break,
                    _ => {}
                }
                let blanks = s.iter().take_while(|&&c| is_space(c)).count();
                s = &s[blanks..];
                full.push(b' ');
            }
            full.extend_from_slice(s);
        }
        entries.push(Entry {
            key,
            full,
            data_start,
        });
    }
    let mut index = FxHashMap::with_capacity_and_hasher(entries.len(), Default::default());
    for (n, e) in entries.iter().enumerate() {
        index.entry(e.key.to_ascii_lowercase()).or_insert(n);
    }
    LsFile {
        entries,
        index,
        nets: OnceLock::new(),
        wild: [OnceLock::new(), OnceLock::new()],
    }
}

pub struct Lsearch;

pub fn make() -> Box<dyn LookupDriver> {
    Box::new(Lsearch)
}

impl LookupDriver for Lsearch {
    /// The parsed file is already an in-memory index: a result cache in front of it
    /// would only add key copies and hashing (file changes still show, by generation).
    fn cache_results(&self) -> bool {
        false
    }

    fn open(&self, source: &[u8], _opts: &Options) -> Result<Opened, LookupError> {
        open(source)
    }

    /// `${lookup{foo}lsearch{/etc/aliases}}` gives the data of key `foo` (case-insensitive).
    fn find(
        &self,
        opened: &Opened,
        _: &[u8],
        key: &[u8],
        opts: &Options,
        _: &mut Call,
    ) -> Result<Option<Vec<u8>>, LookupError> {
        let Some(file) = opened.get::<LsFile>() else {
            return Ok(None);
        };
        let lower: std::borrow::Cow<[u8]> = if key.iter().any(u8::is_ascii_uppercase) {
            key.to_ascii_lowercase().into()
        } else {
            key.into()
        };
        Ok(file
            .index
            .get(&*lower)
            .and_then(|&n| file.entries.get(n))
            .map(|e| e.result(opts)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_entries_and_continuations() {
        let f = parse(b"a: one\n  two\n# c\n  three\n\"Q k\\x41\" : q\nb\n");
        assert_eq!(f.entries.len(), 3);
        assert_eq!(f.entries[0].data(), b"one two");
        assert_eq!(f.entries[1].key, b"Q kA");
        assert_eq!(f.entries[1].data(), b"q");
        assert_eq!(f.entries[1].full, b"Q kA : q");
        assert_eq!(f.entries[2].data(), b"");
        assert_eq!(f.index.get(b"q ka".as_slice()), Some(&1));
    }

    #[test]
    fn last_line_without_newline_keeps_blanks() {
        let f = parse(b"k: v  ");
        assert_eq!(f.entries[0].data(), b"v  ");
    }
}
