//! `cdb`: D. J. Bernstein's constant database, read with a small reader of the format.

use std::sync::OnceLock;

use crate::lookup::files::FileCache;
use crate::lookup::{Call, LookupDriver, LookupError, Opened, Options};

/// 256 (position, slot count) pairs at the start of the file.
const HEADER: usize = 2048;

/// A whole cdb file in memory.
pub struct CdbFile {
    bytes: Vec<u8>,
}

fn cache() -> &'static FileCache<CdbFile> {
    static CACHE: OnceLock<FileCache<CdbFile>> = OnceLock::new();
    CACHE.get_or_init(|| FileCache::new("for cdb lookup", "cdb").with_not_regular(not_regular))
}

/// Exim reads the header before it checks the file type.
fn not_regular(source: &[u8], m: &std::fs::Metadata) -> LookupError {
    let name = String::from_utf8_lossy(source);
    if m.len() < HEADER as u64 {
        too_short(source)
    } else if m.is_dir() {
        LookupError::Hard(format!(
            "failed to open cannot read header from {name} for cdb lookup: Is a directory"
        ))
    } else {
        LookupError::Hard(format!("{name} is not a regular file (cdb lookup)"))
    }
}

/// Exim's message ends with whatever `errno` was left, in practice ENOENT.
fn too_short(source: &[u8]) -> LookupError {
    LookupError::Hard(format!(
        "failed to open {} too short for cdb lookup: No such file or directory",
        String::from_utf8_lossy(source)
    ))
}

/// The cdb hash: h = 5381, then h = (h * 33) ^ byte.
pub fn hash(key: &[u8]) -> u32 {
    key.iter().fold(5381u32, |h, &c| {
        (h.wrapping_shl(5).wrapping_add(h)) ^ u32::from(c)
    })
}

impl CdbFile {
    fn u32_at(&self, pos: usize) -> Option<u32> {
        let b = self.bytes.get(pos..pos.checked_add(4)?)?;
        Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// The data stored under `key`; `Err` when the file is damaged.
    pub fn get(&self, key: &[u8], name: &str) -> Result<Option<Vec<u8>>, String> {
        let corrupt = || format!("cdb: corrupt cdb file {name} (too short)");
        let h = hash(key);
        let entry = 8 * (h as usize & 255);
        let (Some(tpos), Some(slots)) = (self.u32_at(entry), self.u32_at(entry + 4)) else {
            return Err(corrupt());
        };
        if slots == 0 {
            return Ok(None);
        }
        let (tpos, slots) = (tpos as usize, slots as usize);
        let end = slots
            .checked_mul(8)
            .and_then(|n| n.checked_add(tpos))
            .ok_or_else(corrupt)?;
        if end > self.bytes.len() {
            return Err(corrupt());
        }
        let mut slot = (h >> 8) as usize % slots;
        for _ in 0..slots {
            let at = tpos + slot * 8;
            let (Some(sh), Some(rec)) = (self.u32_at(at), self.u32_at(at + 4)) else {
                return Err(corrupt());
            };
            if rec == 0 {
                return Ok(None);
            }
            if sh == h {
                let rec = rec as usize;
                let (Some(klen), Some(dlen)) = (self.u32_at(rec), self.u32_at(rec + 4)) else {
                    return Err(corrupt());
                };
                let kstart = rec + 8;
                let dstart = kstart.checked_add(klen as usize).ok_or_else(corrupt)?;
                let dend = dstart.checked_add(dlen as usize).ok_or_else(corrupt)?;
                if klen as usize == key.len() && self.bytes.get(kstart..dstart) == Some(key) {
                    return self
                        .bytes
                        .get(dstart..dend)
                        .map(|d| Some(d.to_vec()))
                        .ok_or_else(corrupt);
                }
            }
            slot = (slot + 1) % slots;
        }
        Ok(None)
    }
}

pub struct Cdb;

pub fn make() -> Box<dyn LookupDriver> {
    Box::new(Cdb)
}

impl LookupDriver for Cdb {
    fn open(&self, source: &[u8], _opts: &Options) -> Result<Opened, LookupError> {
        let (file, generation) = cache().get(source, |b| {
            if b.len() < HEADER {
                return Err(too_short(source));
            }
            Ok(CdbFile { bytes: b.to_vec() })
        })?;
        Ok(Opened {
            data: Some(file),
            generation,
        })
    }

    /// `${lookup{key}cdb{/etc/mail/aliases.cdb}}` gives the data stored under `key`
    /// (exact, case-sensitive).
    fn find(
        &self,
        opened: &Opened,
        source: &[u8],
        key: &[u8],
        _: &Options,
        _: &mut Call,
    ) -> Result<Option<Vec<u8>>, LookupError> {
        let Some(file) = opened.get::<CdbFile>() else {
            return Ok(None);
        };
        file.get(key, &String::from_utf8_lossy(source))
            .map_err(LookupError::Defer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Build a cdb image (the format's writer, for tests).
    fn build(pairs: &[(&[u8], &[u8])]) -> Vec<u8> {
        let mut out = vec![0u8; HEADER];
        let mut tables: Vec<Vec<(u32, u32)>> = vec![Vec::new(); 256];
        for (k, d) in pairs {
            let pos = out.len() as u32;
            out.extend_from_slice(&(k.len() as u32).to_le_bytes());
            out.extend_from_slice(&(d.len() as u32).to_le_bytes());
            out.extend_from_slice(k);
            out.extend_from_slice(d);
            let h = hash(k);
            tables[(h & 255) as usize].push((h, pos));
        }
        for (i, t) in tables.iter().enumerate() {
            let n = t.len() * 2;
            let pos = out.len();
            let mut slots = vec![(0u32, 0u32); n];
            for &(h, p) in t {
                let mut s = (h >> 8) as usize % n;
                while slots[s].1 != 0 {
                    s = (s + 1) % n;
                }
                slots[s] = (h, p);
            }
            for (h, p) in slots {
                out.extend_from_slice(&h.to_le_bytes());
                out.extend_from_slice(&p.to_le_bytes());
            }
            out[i * 8..i * 8 + 4].copy_from_slice(&(pos as u32).to_le_bytes());
            out[i * 8 + 4..i * 8 + 8].copy_from_slice(&(n as u32).to_le_bytes());
        }
        out
    }

    #[test]
    fn finds_keys() {
        let f = CdbFile {
            bytes: build(&[(b"one", b"1"), (b"two", b"2"), (b"", b"empty")]),
        };
        assert_eq!(f.get(b"one", "t"), Ok(Some(b"1".to_vec())));
        assert_eq!(f.get(b"two", "t"), Ok(Some(b"2".to_vec())));
        assert_eq!(f.get(b"One", "t"), Ok(None));
        let damaged = CdbFile {
            bytes: f.bytes[..HEADER + 10].to_vec(),
        };
        assert!(damaged.get(b"one", "t").is_err());
    }
}
