//! Hints databases (Exim's `spool_directory/db/NAME`) as LMDB files: the only module
//! that talks to LMDB for writing, so another store can replace it.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use lmdb::{EnvironmentFlags, Transaction, WriteFlags};

/// One open hints database (an LMDB file without sub-directory).
pub struct HintsDb {
    env: lmdb::Environment,
    db: lmdb::Database,
}

/// LMDB allows one open environment per file and process: keep them here.
fn registry() -> &'static Mutex<HashMap<PathBuf, Arc<HintsDb>>> {
    static R: OnceLock<Mutex<HashMap<PathBuf, Arc<HintsDb>>>> = OnceLock::new();
    R.get_or_init(|| Mutex::new(HashMap::new()))
}

/// Open (creating it and its directory if needed) the hints database `name` in `dir`.
pub fn open(dir: &Path, name: &str) -> Result<Arc<HintsDb>, String> {
    let path = dir.join(name);
    let mut reg = registry()
        .lock()
        .map_err(|_| "hints database registry poisoned".to_string())?;
    if let Some(db) = reg.get(&path) {
        return Ok(db.clone());
    }
    std::fs::create_dir_all(dir).map_err(|e| format!("failed to create {}: {e}", dir.display()))?;
    let env = lmdb::Environment::new()
        // Hints may be lost in a crash (Exim's are plain dbm files): skip the fsyncs.
        .set_flags(EnvironmentFlags::NO_SUB_DIR | EnvironmentFlags::NO_SYNC)
        .set_map_size(64 << 20)
        .open(&path)
        .map_err(|e| format!("failed to open hints database {}: {e}", path.display()))?;
    let db = env
        .open_db(None)
        .map_err(|e| format!("failed to open hints database {}: {e}", path.display()))?;
    let h = Arc::new(HintsDb { env, db });
    reg.insert(path, h.clone());
    Ok(h)
}

impl HintsDb {
    pub fn read(&self, key: &[u8]) -> Result<Option<Vec<u8>>, String> {
        let txn = self.env.begin_ro_txn().map_err(|e| e.to_string())?;
        let r = match txn.get(self.db, &key) {
            Ok(v) => Ok(Some(v.to_vec())),
            Err(lmdb::Error::NotFound) => Ok(None),
            Err(e) => Err(e.to_string()),
        };
        txn.abort();
        r
    }

    pub fn write(&self, key: &[u8], value: &[u8]) -> Result<(), String> {
        let mut txn = self.env.begin_rw_txn().map_err(|e| e.to_string())?;
        txn.put(self.db, &key, &value, WriteFlags::empty())
            .map_err(|e| e.to_string())?;
        txn.commit().map_err(|e| e.to_string())
    }
}
