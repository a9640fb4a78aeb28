//! Exim's spool: `input/<id>-D` and `input/<id>-H` files, written durably before the 250.
//!
//! ```no_run
//! let spool = rexim::spool::Spool::new("/var/spool/rexim");
//! for msg in spool.list().unwrap() {
//!     println!("{} <{}>", msg.id, String::from_utf8_lossy(&msg.header.sender));
//! }
//! ```

pub mod build;
pub mod commit;
pub mod edits;
pub mod header;
pub mod journal;
#[cfg(test)]
mod journal_tests;
pub mod queue;
#[cfg(test)]
mod tests;

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use header::{HeaderFile, HeaderLine, Recipient};

use crate::smtp::sink::{AcceptedMessage, MessageSink};

/// Exim's `SPOOL_MODE`.
const SPOOL_MODE: u32 = 0o640;

#[derive(Debug, thiserror::Error)]
pub enum SpoolError {
    #[error("spool format error at byte {offset}: {what}")]
    Format { offset: usize, what: String },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("message {0} not found in the spool")]
    NotFound(String),
    #[error("invalid message id {0:?}")]
    BadId(String),
    #[error("{0} is not supported by rexim's spool")]
    Unsupported(&'static str),
}

impl From<SpoolError> for std::io::Error {
    fn from(e: SpoolError) -> std::io::Error {
        match e {
            SpoolError::Io { source, path } => {
                std::io::Error::new(source.kind(), format!("{}: {source}", path.display()))
            }
            other => std::io::Error::other(other.to_string()),
        }
    }
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> SpoolError + '_ {
    move |source| SpoolError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// A spool directory (`spool_directory`); messages live in its `input/` subdirectory.
#[derive(Debug, Clone)]
pub struct Spool {
    pub dir: PathBuf,
    /// `<login> <uid> <gid>` written on the second line of `-H` files.
    pub originator: (String, u32, u32),
    /// `received_header_text` (Exim's default unless the configuration sets it).
    pub received_header_text: String,
    /// `split_spool_directory`: new messages go in `input/<6th character of the id>/`.
    pub split: bool,
    /// Where concurrent writes meet to commit together; shared by clones.
    committer: Arc<commit::GroupCommit>,
    /// The daemon's journal ([`journal`]): when set, messages are made durable by it
    /// instead of by syncing each file.
    journal: Option<Arc<journal::Journal>>,
}

impl Spool {
    /// A spool rooted at `dir`; the originator is the running user.
    pub fn new(dir: impl Into<PathBuf>) -> Spool {
        // SAFETY: getuid/getgid cannot fail and touch no memory.
        let (uid, gid) = unsafe { (libc::getuid(), libc::getgid()) };
        Spool {
            dir: dir.into(),
            originator: (login_name(uid), uid, gid),
            received_header_text: build::DEFAULT_RECEIVED_HEADER_TEXT.to_string(),
            split: false,
            committer: Arc::default(),
            journal: None,
        }
    }

    /// Make messages durable through a journal from now on (the daemon does): replays what
    /// an earlier process left in it first. Returns the journal (for its clean shutdown)
    /// and what the replay did.
    pub fn open_journal(
        &mut self,
    ) -> Result<(Arc<journal::Journal>, journal::Recovery), SpoolError> {
        let (j, recovery) = journal::Journal::open(&self.dir)?;
        self.journal = Some(j.clone());
        Ok((j, recovery))
    }

    /// The spool a configuration names: `spool_directory`, `received_header_text`.
    pub fn from_config(cfg: &crate::config::Config) -> Result<Spool, SpoolError> {
        use crate::config::{tables, Value};
        let main = |name: &str| match tables::find(tables::MAIN, name).map(|d| cfg.main_value(d)) {
            Some(Value::Str(s)) => Some(s),
            _ => None,
        };
        let split = matches!(
            tables::find(tables::MAIN, "split_spool_directory").map(|d| cfg.main_value(d)),
            Some(Value::Bool(true))
        );
        let dir = main("spool_directory").unwrap_or_else(|| "/var/spool/exim4".into());
        let mut spool = Spool::new(dir);
        spool.split = split;
        if let Some(text) = cfg
            .main
            .get("received_header_text")
            .and_then(|s| match &s.value {
                Value::Str(t) => Some(t.clone()),
                _ => None,
            })
        {
            spool.received_header_text = text;
        }
        Ok(spool)
    }

    pub fn input_dir(&self) -> PathBuf {
        self.dir.join("input")
    }

    /// The directory a new message's files go in: `input/`, or with
    /// `split_spool_directory` `input/<c>/` where `c` is the id's sixth character (Exim's
    /// `set_subdir_str`).
    pub fn message_dir(&self, id: &str) -> Result<PathBuf, SpoolError> {
        if !is_message_id(id) {
            return Err(SpoolError::BadId(id.to_string()));
        }
        Ok(if self.split {
            self.input_dir().join(&id[5..6])
        } else {
            self.input_dir()
        })
    }

    /// Path of `<id>-H` / `<id>-D` after checking the id cannot escape the directory. As
    /// Exim, looks in the configured layout first, then the other one (a spool written
    /// before `split_spool_directory` changed); a missing file gets the configured path.
    pub fn file(&self, id: &str, suffix: &str) -> Result<PathBuf, SpoolError> {
        let name = format!("{id}-{suffix}");
        let preferred = self.message_dir(id)?.join(&name);
        if preferred.exists() {
            return Ok(preferred);
        }
        let other = if self.split {
            self.input_dir().join(&name)
        } else {
            self.input_dir().join(&id[5..6]).join(&name)
        };
        Ok(if other.exists() { other } else { preferred })
    }

    /// Store a message durably: `-D` and `-H` are written unnamed (or under temporary
    /// names), made durable — each file fsync'd, or both appended to the journal when the
    /// spool has one — and committed together with the other messages waiting at the
    /// same moment (see [`commit`]). Returns once the message is durable; on error nothing
    /// of it is left.
    pub fn write(&self, header: &HeaderFile, data: &[u8]) -> Result<(), SpoolError> {
        let input = self.message_dir(&header.id)?;
        let id = &header.id;
        // The `-D` file's bytes, built once: written in one go and, with a journal, kept
        // for its record.
        let mut d_bytes = Vec::with_capacity(id.len() + 3 + data.len());
        d_bytes.extend_from_slice(id.as_bytes());
        d_bytes.extend_from_slice(b"-D\n");
        d_bytes.extend_from_slice(data);
        let header_bytes = header.to_bytes();
        let d = match unsynced_write(&input, &format!("dat.{id}"), &format!("{id}-D"), &d_bytes) {
            // No `stat` per message: the directory is made when a file cannot be created in
            // it (first message, a new split subdirectory, or removed under us).
            Err(SpoolError::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
                fs::create_dir_all(&input).map_err(io_err(&input))?;
                unsynced_write(&input, &format!("dat.{id}"), &format!("{id}-D"), &d_bytes)?
            }
            other => other?,
        };
        let h = match unsynced_write(
            &input,
            &format!("hdr.{id}"),
            &format!("{id}-H"),
            &header_bytes,
        ) {
            Ok(h) => h,
            Err(e) => {
                d.discard();
                return Err(e);
            }
        };
        if let Some(j) = &self.journal {
            let dir = input
                .strip_prefix(&self.dir)
                .map(|p| p.to_string_lossy().into_owned())
                .unwrap_or_else(|_| "input".into());
            let record = journal::Record {
                dir,
                id: id.clone(),
                data: d_bytes,
                header: header_bytes,
            };
            let job = commit::Job::journalled(input, d, h, record);
            return self.committer.commit(job, Some(j));
        }
        if let Err(e) = commit::sync_files(&d, &h) {
            d.discard();
            h.discard();
            return Err(e);
        }
        self.committer.commit(commit::Job::new(input, d, h), None)
    }

    /// Read and parse one message's `-H` file.
    pub fn read_header(&self, id: &str) -> Result<HeaderFile, SpoolError> {
        let path = self.file(id, "H")?;
        match read_header(&path) {
            Err(SpoolError::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
                Err(SpoolError::NotFound(id.to_string()))
            }
            other => other,
        }
    }

    /// The body (`-D` without its first line).
    pub fn read_body(&self, id: &str) -> Result<Vec<u8>, SpoolError> {
        let path = self.file(id, "D")?;
        let bytes = fs::read(&path).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                SpoolError::NotFound(id.to_string())
            } else {
                SpoolError::Io {
                    path: path.clone(),
                    source: e,
                }
            }
        })?;
        let start = bytes
            .iter()
            .position(|&c| c == b'\n')
            .map_or(bytes.len(), |p| p + 1);
        Ok(bytes[start..].to_vec())
    }
}

impl MessageSink for Spool {
    fn store(&self, msg: &AcceptedMessage) -> std::io::Result<()> {
        self.store_sized(msg).map(|_| ())
    }

    fn store_sized(&self, msg: &AcceptedMessage) -> std::io::Result<Option<u64>> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        let (header, body) = build::build(msg, &self.originator, now, &self.received_header_text)
            .map_err(std::io::Error::other)?;
        self.write(&header, &body)?;
        // Exim's message_size: stored headers + body + 1 for the separating blank line.
        Ok(Some(header.header_size() + body.len() as u64 + 1))
    }
}

/// Read and parse an `-H` file.
pub fn read_header(path: &Path) -> Result<HeaderFile, SpoolError> {
    let bytes = fs::read(path).map_err(io_err(path))?;
    HeaderFile::parse(&bytes)
}

/// `1xVaTL-00007s-1n`: 6, 6 and 2 base-62 characters.
pub fn is_message_id(id: &str) -> bool {
    let b = id.as_bytes();
    b.len() == 16
        && b[6] == b'-'
        && b[13] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 6 || i == 13 || c.is_ascii_alphanumeric())
}

/// Write a file for the group commit to make durable and publish as `dir/dest`: an
/// unnamed file where the filesystem allows ([`commit::unnamed`]), else under `dir/temp`.
fn unsynced_write(
    dir: &Path,
    temp: &str,
    dest: &str,
    bytes: &[u8],
) -> Result<commit::Pending, SpoolError> {
    let dest = dir.join(dest);
    if let Some(opened) = commit::unnamed(dir, SPOOL_MODE) {
        let mut file = opened.map_err(io_err(dir))?;
        return match file.write_all(bytes) {
            Ok(()) => Ok(commit::Pending {
                file,
                tmp: None,
                dest,
            }),
            Err(e) => Err(io_err(&dest)(e)),
        };
    }
    let tmp = dir.join(temp);
    let opened = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(SPOOL_MODE)
        .open(&tmp);
    let result = opened.and_then(|mut f| f.write_all(bytes).map(|()| f));
    match result {
        Ok(file) => Ok(commit::Pending {
            file,
            tmp: Some(tmp),
            dest,
        }),
        Err(e) => {
            let _ = fs::remove_file(&tmp);
            Err(io_err(&tmp)(e))
        }
    }
}

fn login_name(uid: u32) -> String {
    // SAFETY: getpwuid returns a pointer into static storage or null; we copy at once.
    unsafe {
        let pw = libc::getpwuid(uid);
        if pw.is_null() || (*pw).pw_name.is_null() {
            return uid.to_string();
        }
        std::ffi::CStr::from_ptr((*pw).pw_name)
            .to_string_lossy()
            .into_owned()
    }
}
