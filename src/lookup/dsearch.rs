//! `dsearch`: does an entry with this name exist in the directory?

use std::path::Path;

use crate::lookup::{LookupDriver, LookupError, Options};

pub struct Dsearch;

pub fn make() -> Box<dyn LookupDriver> {
    Box::new(Dsearch)
}

impl LookupDriver for Dsearch {
    fn find(&self, dir: &[u8], key: &[u8], opts: &Options) -> Result<Option<Vec<u8>>, LookupError> {
        let dir = String::from_utf8_lossy(dir);
        let key_s = String::from_utf8_lossy(key);
        let allow_path = opts.iter().any(|(k, v)| k == "key" && v == "path");
        if (!allow_path && key_s.contains('/')) || key_s.split('/').any(|c| c == "..") {
            return Err(LookupError::Hard(format!(
                "key for dsearch lookup contains a slash: {key_s}"
            )));
        }
        let meta = std::fs::symlink_metadata(&*dir)
            .map_err(|e| LookupError::Hard(format!("{dir} is not a directory: {e}")))?;
        if !meta.is_dir() {
            return Err(LookupError::Hard(format!("{dir} is not a directory")));
        }
        let full = Path::new(&*dir).join(&*key_s);
        let Ok(m) = std::fs::symlink_metadata(&full) else {
            return Ok(None);
        };
        let filter_ok = match opts
            .iter()
            .find(|(k, _)| k == "filter")
            .map(|(_, v)| v.as_str())
        {
            Some("file") => m.is_file(),
            Some("dir") => m.is_dir(),
            Some("subdir") => m.is_dir() && key_s != "." && key_s != "..",
            _ => true,
        };
        if !filter_ok {
            return Ok(None);
        }
        let full_ret = opts.iter().any(|(k, v)| k == "ret" && v == "full");
        Ok(Some(if full_ret {
            full.to_string_lossy().as_bytes().to_vec()
        } else {
            key.to_vec()
        }))
    }
}
