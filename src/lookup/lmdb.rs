//! `lmdb`: read-only key lookups in an LMDB file (no-subdir layout, unnamed database).
//! The LMDB library sits behind `KvStore` so another binding (heed) can replace it.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::os::unix::fs::MetadataExt;
use std::sync::{Arc, Mutex};

use lmdb::{EnvironmentFlags, Transaction};

use crate::lookup::files::path_of;
use crate::lookup::{Call, LookupDriver, LookupError, Opened, Options};

/// An opened key-value file.
pub trait KvStore: Send + Sync {
    /// The value stored under `key`; `Err` carries the library's message.
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, String>;
}

/// An LMDB environment opened read-only, with its unnamed database.
struct LmdbStore {
    env: lmdb::Environment,
    db: lmdb::Database,
}

/// Open `path` as Exim does (`MDB_NOSUBDIR|MDB_RDONLY`); when the lock file cannot be
/// used (read-only directory), open it again without locking.
fn open_store(path: &[u8]) -> Result<LmdbStore, String> {
    let p = path_of(path);
    let flags = EnvironmentFlags::NO_SUB_DIR | EnvironmentFlags::READ_ONLY;
    let env = match lmdb::Environment::new().set_flags(flags).open(p) {
        Err(lmdb::Error::Other(e)) if e == libc::EACCES || e == libc::EROFS => {
            lmdb::Environment::new()
                .set_flags(flags | EnvironmentFlags::NO_LOCK)
                .open(p)
        }
        other => other,
    }
    .map_err(|e| {
        format!(
            "LMDB: Unable to open environment with {}: {e}",
            String::from_utf8_lossy(path)
        )
    })?;
    let db = env
        .open_db(None)
        .map_err(|e| format!("LMDB: Unable to open database: {e}"))?;
    Ok(LmdbStore { env, db })
}

impl KvStore for LmdbStore {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, String> {
        let txn = self
            .env
            .begin_ro_txn()
            .map_err(|e| format!("LMDB: Unable to start transaction: {e}"))?;
        let r = match txn.get(self.db, &key) {
            Ok(v) => Ok(Some(v.to_vec())),
            Err(lmdb::Error::NotFound) => Ok(None),
            Err(e) => Err(format!("LMDB: lookup error: {e}")),
        };
        txn.abort();
        r
    }
}

/// Open environments by file name, re-opened when the file is replaced.
type Stores = Mutex<HashMap<Vec<u8>, ((u64, u64), Arc<dyn KvStore>)>>;

pub struct Lmdb {
    stores: Stores,
}

pub fn make() -> Box<dyn LookupDriver> {
    Box::new(Lmdb {
        stores: Mutex::new(HashMap::new()),
    })
}

impl LookupDriver for Lmdb {
    fn open(&self, source: &[u8], _opts: &Options) -> Result<Opened, LookupError> {
        let meta = std::fs::metadata(path_of(source)).ok();
        let id = meta
            .as_ref()
            .map(|m| (m.dev(), m.ino()))
            .unwrap_or_default();
        // Writers change the file in place: results cached under an older version must not be used.
        let mut h = std::collections::hash_map::DefaultHasher::new();
        meta.map(|m| (m.ino(), m.size(), m.mtime(), m.mtime_nsec()))
            .hash(&mut h);
        let generation = h.finish();
        let cached = self.stores.lock().ok().and_then(|s| s.get(source).cloned());
        let store = match cached {
            Some((i, s)) if i == id => s,
            _ => {
                let s: Arc<dyn KvStore> = Arc::new(open_store(source).map_err(LookupError::Hard)?);
                if let Ok(mut m) = self.stores.lock() {
                    if m.len() > 1000 {
                        m.clear();
                    }
                    m.insert(source.to_vec(), (id, s.clone()));
                }
                s
            }
        };
        Ok(Opened {
            data: Some(Arc::new(store)),
            generation,
        })
    }

    /// `${lookup{first}lmdb{/db.mdb}}` gives `data for first` (exact, case-sensitive key).
    fn find(
        &self,
        opened: &Opened,
        _: &[u8],
        key: &[u8],
        _: &Options,
        _: &mut Call,
    ) -> Result<Option<Vec<u8>>, LookupError> {
        let Some(store) = opened.get::<Arc<dyn KvStore>>() else {
            return Ok(None);
        };
        store.get(key).map_err(LookupError::Defer)
    }
}
