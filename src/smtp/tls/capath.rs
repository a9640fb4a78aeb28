//! Directories for `tls_verify_certificates` and `tls_crl`, as OpenSSL's CApath and
//! hashed CRL directory (`c_rehash`/`openssl rehash` make `<hash>.0` and `<hash>.r0`
//! links): every PEM object of the wanted kind in the directory's files, each once, and
//! the directory's version for the configuration cache.

use std::collections::{HashMap, HashSet};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use rustls::pki_types::pem::PemObject;

/// Files larger than this are not read (a CA bundle is a few hundred KiB).
const MAX_FILE_BYTES: u64 = 8 << 20;

/// Most directory entries looked at.
const MAX_ENTRIES: usize = 20_000;

/// The entries of `dir` in name order, each with the metadata of what it names
/// (symbolic links followed); entries that vanish or cannot be read are left out.
fn entries(dir: &Path) -> std::io::Result<Vec<(String, std::fs::Metadata)>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir)?.take(MAX_ENTRIES) {
        let Ok(entry) = entry else { continue };
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') {
            continue;
        }
        if let Ok(m) = std::fs::metadata(entry.path()) {
            out.push((name, m));
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}

/// Every PEM object of kind `T` in the regular files of `dir`: a hash link and the file
/// it names give one copy, files holding other kinds (keys, CRLs beside certificates,
/// notes) or no PEM at all add nothing. `Err` only when the directory cannot be read.
pub fn load<T: PemObject + AsRef<[u8]>>(dir: &Path) -> Result<Vec<T>, String> {
    let list = entries(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut seen: HashSet<Vec<u8>> = HashSet::new();
    let mut out = Vec::new();
    for (name, meta) in list {
        if !meta.is_file() || meta.len() > MAX_FILE_BYTES {
            continue;
        }
        let Ok(bytes) = std::fs::read(dir.join(&name)) else {
            continue;
        };
        // A file that is not PEM throughout is skipped from its first bad section on.
        for item in T::pem_slice_iter(&bytes).map_while(Result::ok) {
            if seen.insert(item.as_ref().to_vec()) {
                out.push(item);
            }
        }
    }
    Ok(out)
}

/// How long a directory's entry digest stands while the directory itself (its mtime)
/// is unchanged: an entry added, removed or re-pointed is seen at once, a file
/// rewritten in place within this time. Scanning /etc/ssl/certs costs a few hundred
/// stat calls, too many for every STARTTLS.
const RESCAN_AFTER: Duration = Duration::from_secs(1);

/// Most directories remembered.
const MAX_REMEMBERED: usize = 64;

struct Scan {
    at: Instant,
    mtime: (i64, i64),
    digest: u64,
}

static SCANS: Mutex<Option<HashMap<PathBuf, Scan>>> = Mutex::new(None);

/// The version of a directory whose own modification time is `mtime` (seconds,
/// nanoseconds): [`scan_digest`], re-done at most once per [`RESCAN_AFTER`] while
/// `mtime` stays the same.
pub fn digest(dir: &Path, mtime: (i64, i64)) -> u64 {
    let now = Instant::now();
    if let Ok(mut guard) = SCANS.lock() {
        let map = guard.get_or_insert_with(HashMap::new);
        if let Some(s) = map.get(dir) {
            if s.mtime == mtime && now.duration_since(s.at) < RESCAN_AFTER {
                return s.digest;
            }
        }
        let digest = scan_digest(dir);
        if map.len() >= MAX_REMEMBERED {
            map.clear();
        }
        map.insert(
            dir.to_path_buf(),
            Scan {
                at: now,
                mtime,
                digest,
            },
        );
        return digest;
    }
    scan_digest(dir)
}

/// A digest of what the directory holds: each entry's name and the identity, size and
/// modification time of the file it names. Any added, removed, re-pointed or rewritten
/// entry changes it.
pub fn scan_digest(dir: &Path) -> u64 {
    let mut h = DefaultHasher::new();
    if let Ok(list) = entries(dir) {
        for (name, m) in list {
            (name, m.dev(), m.ino(), m.size(), m.mtime(), m.mtime_nsec()).hash(&mut h);
        }
    }
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls::pki_types::{CertificateDer, CertificateRevocationListDer};

    fn pem(der: &[u8], label: &str) -> String {
        use base64::Engine;
        let b64 = base64::engine::general_purpose::STANDARD.encode(der);
        format!("-----BEGIN {label}-----\n{b64}\n-----END {label}-----\n")
    }

    #[test]
    fn loads_each_certificate_once_and_ignores_other_files() {
        let dir = std::env::temp_dir().join(format!("rexim-capath-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("sub")).unwrap();
        let a = rcgen::generate_simple_self_signed(vec!["a.test".into()]).unwrap();
        let b = rcgen::generate_simple_self_signed(vec!["b.test".into()]).unwrap();
        std::fs::write(dir.join("a.pem"), a.cert.pem()).unwrap();
        std::os::unix::fs::symlink("a.pem", dir.join("1234abcd.0")).unwrap();
        std::fs::write(
            dir.join("b.pem"),
            b.cert.pem() + &a.key_pair.serialize_pem(),
        )
        .unwrap();
        std::fs::write(dir.join("README"), "not a certificate\n").unwrap();
        std::fs::write(dir.join("crl.pem"), pem(b"\x30\x00", "X509 CRL")).unwrap();
        std::os::unix::fs::symlink("missing.pem", dir.join("dangling.0")).unwrap();
        std::fs::write(dir.join("sub/c.pem"), a.cert.pem()).unwrap();
        let before = scan_digest(&dir);
        let certs: Vec<CertificateDer<'static>> = load(&dir).unwrap();
        assert_eq!(certs.len(), 2);
        assert_eq!(certs[0].as_ref(), a.cert.der().as_ref());
        assert_eq!(certs[1].as_ref(), b.cert.der().as_ref());
        let crls: Vec<CertificateRevocationListDer<'static>> = load(&dir).unwrap();
        assert_eq!(crls.len(), 1);
        assert_eq!(scan_digest(&dir), before);
        assert_eq!(digest(&dir, (1, 2)), before);
        std::fs::remove_file(dir.join("1234abcd.0")).unwrap();
        std::os::unix::fs::symlink("b.pem", dir.join("1234abcd.0")).unwrap();
        assert_ne!(scan_digest(&dir), before);
        // Within a second and with the same directory mtime, the last scan stands.
        assert_eq!(digest(&dir, (1, 2)), before);
        assert_ne!(digest(&dir, (1, 3)), before);
        assert!(load::<CertificateDer<'static>>(&dir.join("nowhere")).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
