//! `dsearch`: does an entry with this name exist in the directory?

use crate::lookup::files::{open_failed, path_of, strerror};
use crate::lookup::{Call, LookupDriver, LookupError, Opened, Options};

pub struct Dsearch;

pub fn make() -> Box<dyn LookupDriver> {
    Box::new(Dsearch)
}

fn has(opts: &Options, k: &str, v: &str) -> bool {
    opts.iter().any(|(a, b)| a == k && b == v)
}

impl LookupDriver for Dsearch {
    fn open(&self, dir: &[u8], _opts: &Options) -> Result<Opened, LookupError> {
        std::fs::read_dir(path_of(dir))
            .map_err(|e| open_failed(dir, "for directory search", &e))?;
        if dir.first() != Some(&b'/') {
            return Err(LookupError::Hard(format!(
                "dirname '{}' for dsearch is not absolute",
                String::from_utf8_lossy(dir)
            )));
        }
        Ok(Opened::default())
    }

    /// `${lookup{passwd}dsearch{/etc}}` gives `passwd`; `,ret=full` gives `/etc/passwd`;
    /// `,filter=file|dir|subdir` restricts the kind of entry; `,key=path` (Exim 4.97)
    /// allows slashes in the key but not `..` components.
    fn find(
        &self,
        _: &Opened,
        dir: &[u8],
        key: &[u8],
        opts: &Options,
        _: &mut Call,
    ) -> Result<Option<Vec<u8>>, LookupError> {
        let key_s = String::from_utf8_lossy(key);
        let has_sub = |pat: &[u8]| key.windows(pat.len()).any(|w| w == pat);
        if has(opts, "key", "path") {
            // Exim 4.97's `key=path`: slashes allowed, `/../` and `/./` are not.
            if has_sub(b"/../") || has_sub(b"/./") {
                return Err(LookupError::Defer(format!(
                    "key for dsearch lookup contains bad component: {key_s}"
                )));
            }
        } else if key.contains(&b'/') {
            return Err(LookupError::Defer(format!(
                "key for dsearch lookup contains a slash: {key_s}"
            )));
        }
        let mut full = dir.to_vec();
        full.push(b'/');
        full.extend_from_slice(key);
        let m = match std::fs::symlink_metadata(path_of(&full)) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => {
                return Err(LookupError::Defer(format!(
                    "{}: lstat: {}",
                    String::from_utf8_lossy(&full),
                    strerror(&e)
                )))
            }
        };
        let dot_or_dotdot = key.first() == Some(&b'.') && matches!(key.get(1), None | Some(b'.'));
        let filter = opts
            .iter()
            .rev()
            .find(|(k, _)| k == "filter")
            .map(|(_, v)| v.as_str());
        let ok = match filter {
            Some("file") => m.is_file(),
            Some("dir") => m.is_dir(),
            Some("subdir") => m.is_dir() && !dot_or_dotdot,
            _ => true,
        };
        if !ok {
            return Ok(None);
        }
        Ok(Some(if has(opts, "ret", "full") {
            full
        } else {
            key.to_vec()
        }))
    }
}
