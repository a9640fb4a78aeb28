//! Group commit: the directory entries of every message waiting at the same moment are
//! made durable together, in one batch.
//!
//! A session writes its two files unnamed (`O_TMPFILE`, [`unnamed`]; where the filesystem
//! cannot, under temporary names `dat.<id>`, `hdr.<id>`), starts
//! write-back of both at once and `fsync`s them itself ([`sync_files`]): sessions on
//! different threads sync in parallel, which the filesystem journal folds into shared
//! commits (a single thread syncing everybody's files one after the other measured 3–7
//! times slower on this machine's shared disk: each slow fsync stalls every session). It
//! then queues the files and blocks until its batch is done. Whichever session finds no
//! commit in progress leads the next one ([`GroupCommit`]): it takes every message queued
//! so far (no artificial wait: while one batch commits, the next one gathers) and, for the
//! whole batch:
//!
//! 1. links (or renames) each data file as `<id>-D`, then `fsync`s each spool directory
//!    once;
//! 2. links (or renames) each header file as `<id>-H`, then `fsync`s each directory once
//!    more.
//!
//! The two directory syncs cannot be merged into one: without a journal (this machine's
//! ext4 has none) the directory's blocks reach the disk in no particular order, so a crash
//! after a single sync covering both names could keep `-H` and lose `-D`.
//!
//! So a `-H` (what makes a message queued) is never visible before its `-D` is durable
//! under its final name, and no message is acknowledged before its files and both
//! directory entries are: four syncs per message become two per message plus two per
//! batch. A failure at any step fails only the messages it touches: their files
//! (temporary or renamed) are removed and the session answers 451.
//!
//! With the daemon's journal ([`super::journal`]) the files are not synced at all: the
//! leader appends the batch's records to the journal with one `fdatasync`, then links
//! the `-D`s and the `-H`s with no directory sync; a crash before the kernel has written
//! them is repaired from the journal at the next start.

use std::fs::{self, File};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use super::journal::{Journal, Record};
use super::{io_err, SpoolError};

/// At most this many messages per batch, so one slow batch cannot grow without bound.
const MAX_BATCH: usize = 256;

/// A spool file written, not yet under its final name.
pub struct Pending {
    pub file: File,
    /// Its temporary name; `None`: an unnamed file ([`unnamed`]), linked in by name.
    pub tmp: Option<PathBuf>,
    pub dest: PathBuf,
}

impl Pending {
    /// The name to show in errors.
    pub fn name(&self) -> &Path {
        self.tmp.as_deref().unwrap_or(&self.dest)
    }

    /// Give the file its final name: rename the temporary one, or link the unnamed file
    /// (through `/proc/self/fd`, which needs no privilege). Either appears whole or not at
    /// all; a link never replaces an existing file.
    fn publish(&self) -> std::io::Result<()> {
        use std::os::unix::ffi::OsStrExt;
        let Some(tmp) = &self.tmp else {
            let src = format!("/proc/self/fd/{}\0", self.file.as_raw_fd());
            let mut dst = self.dest.as_os_str().as_bytes().to_vec();
            if dst.contains(&0) {
                return Err(std::io::Error::from(std::io::ErrorKind::InvalidInput));
            }
            dst.push(0);
            // SAFETY: both paths are NUL-terminated buffers alive for the call.
            let r = unsafe {
                libc::linkat(
                    libc::AT_FDCWD,
                    src.as_ptr().cast(),
                    libc::AT_FDCWD,
                    dst.as_ptr().cast(),
                    libc::AT_SYMLINK_FOLLOW,
                )
            };
            return if r == 0 {
                Ok(())
            } else {
                Err(std::io::Error::last_os_error())
            };
        };
        fs::rename(tmp, &self.dest)
    }

    /// Drop the file before it was published (an unnamed one vanishes when closed).
    pub fn discard(&self) {
        if let Some(tmp) = &self.tmp {
            let _ = fs::remove_file(tmp);
        }
    }
}

/// A new unnamed file in `dir` (`O_TMPFILE`), or `None` where the filesystem (or a
/// missing `/proc`) cannot do it (a missing `dir` is an error). No directory entry exists until the file is complete
/// and synced, so its `fsync` does not also write the directory (ext4 without a journal,
/// as on the benchmark machine, syncs a new file's directory with it), there is one
/// directory operation per file instead of two (create, rename), and a crash leaves no
/// temporary file behind.
pub fn unnamed(dir: &Path, mode: u32) -> Option<std::io::Result<File>> {
    use std::os::unix::fs::OpenOptionsExt;
    static PROC_FD: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    if !*PROC_FD.get_or_init(|| Path::new("/proc/self/fd").is_dir()) {
        return None;
    }
    match fs::OpenOptions::new()
        .write(true)
        .custom_flags(libc::O_TMPFILE)
        .mode(mode)
        .open(dir)
    {
        // A missing directory is the caller's to handle; any other failure means no
        // O_TMPFILE here (EOPNOTSUPP, or EISDIR/EINVAL from kernels without it).
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Some(Err(e)),
        Err(_) => None,
        Ok(f) => Some(Ok(f)),
    }
}

/// One message's two files (synced, or journalled) and the directory they go in.
pub struct Job {
    pub dir: PathBuf,
    pub data: Pending,
    pub header: Pending,
    /// With a journal: the files' content, appended to it instead of syncing the files.
    pub record: Option<Record>,
}

impl Job {
    pub fn new(dir: PathBuf, data: Pending, header: Pending) -> Job {
        Job {
            dir,
            data,
            header,
            record: None,
        }
    }

    /// A job whose files are not synced: `record` goes to the journal.
    pub fn journalled(dir: PathBuf, data: Pending, header: Pending, record: Record) -> Job {
        Job {
            dir,
            data,
            header,
            record: Some(record),
        }
    }
}

/// A waiting session: its thread (woken alone, not with every other waiter), its outcome
/// once its batch is done, and whether it has been asked to lead the next batch.
struct Slot {
    thread: std::thread::Thread,
    result: Mutex<Option<Result<(), SpoolError>>>,
    lead: AtomicBool,
}

impl Slot {
    fn take_result(&self) -> Option<Result<(), SpoolError>> {
        self.result.lock().unwrap_or_else(|p| p.into_inner()).take()
    }
}

/// Messages waiting for a commit.
#[derive(Default)]
struct Queue {
    waiting: Vec<(Arc<Slot>, Job)>,
    /// A session is committing a batch right now (or has been handed the next one).
    busy: bool,
}

/// Where sessions meet to commit together. No thread of its own: the first session to
/// find nobody committing becomes the leader, takes every message queued so far (its own
/// included) and commits them, while the others wait; a session that arrives meanwhile
/// joins the next batch, whose first member the leader then wakes to lead it. Each
/// session is woken once, by name (`unpark`): no herd of waiters wakes to find its batch
/// still running. One connection alone pays no thread hand-off.
#[derive(Default)]
pub struct GroupCommit {
    queue: Mutex<Queue>,
}

impl std::fmt::Debug for GroupCommit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("GroupCommit")
    }
}

impl GroupCommit {
    /// Make `job` durable with whatever else is waiting; returns once it is (or failed).
    /// Journalled jobs need the `journal`.
    pub fn commit(&self, job: Job, journal: Option<&Journal>) -> Result<(), SpoolError> {
        let me = Arc::new(Slot {
            thread: std::thread::current(),
            result: Mutex::new(None),
            lead: AtomicBool::new(false),
        });
        let lead_now = {
            let mut q = self.queue.lock().unwrap_or_else(|p| p.into_inner());
            q.waiting.push((me.clone(), job));
            !std::mem::replace(&mut q.busy, true)
        };
        if !lead_now {
            loop {
                std::thread::park();
                if let Some(r) = me.take_result() {
                    return r;
                }
                if me.lead.swap(false, Ordering::AcqRel) {
                    break;
                }
            }
        }
        self.lead(journal);
        me.take_result().unwrap_or_else(|| {
            Err(SpoolError::Io {
                path: PathBuf::new(),
                source: std::io::Error::other("spool commit lost its result"),
            })
        })
    }

    /// Commit one batch (the leader's own message is always in it: it is first in the
    /// queue, or the queue was empty when it came), wake its members, and hand the next
    /// batch to the first session waiting, if any.
    fn lead(&self, journal: Option<&Journal>) {
        let (slots, batch): (Vec<Arc<Slot>>, Vec<Job>) = {
            let mut q = self.queue.lock().unwrap_or_else(|p| p.into_inner());
            let n = q.waiting.len().min(MAX_BATCH);
            q.waiting.drain(..n).unzip()
        };
        // A panic must not leave `busy` set with sessions waiting for ever.
        let results = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            commit_batch_with(batch, journal)
        }))
        .unwrap_or_else(|_| {
            let failed = || SpoolError::Io {
                path: PathBuf::new(),
                source: std::io::Error::other("spool commit failed"),
            };
            slots.iter().map(|_| Err(failed())).collect()
        });
        let me = std::thread::current().id();
        for (slot, r) in slots.iter().zip(results) {
            *slot.result.lock().unwrap_or_else(|p| p.into_inner()) = Some(r);
            if slot.thread.id() != me {
                slot.thread.unpark();
            }
        }
        let mut q = self.queue.lock().unwrap_or_else(|p| p.into_inner());
        match q.waiting.first() {
            Some((next, _)) => {
                next.lead.store(true, Ordering::Release);
                next.thread.unpark();
            }
            None => q.busy = false,
        }
    }
}

/// Make a message's two files durable under their temporary names: write-back of both is
/// started before either `fsync`, so one journal commit usually covers both.
pub fn sync_files(data: &Pending, header: &Pending) -> Result<(), SpoolError> {
    for f in [&data.file, &header.file] {
        // SAFETY: a plain syscall on a file descriptor we own; no memory is passed. An
        // optimisation only: the fsyncs below are what make the files durable.
        unsafe {
            libc::sync_file_range(f.as_raw_fd(), 0, 0, libc::SYNC_FILE_RANGE_WRITE);
        }
    }
    data.file.sync_all().map_err(io_err(data.name()))?;
    header.file.sync_all().map_err(io_err(header.name()))
}

/// Per message: how far it got, so a failure removes exactly what was created.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Stage {
    Written,
    DataRenamed,
    HeaderRenamed,
}

struct Track {
    stage: Stage,
    error: Option<SpoolError>,
}

/// Commit a batch of synced messages (steps 1–2 of the module comment); one result per
/// job, in order.
pub fn commit_batch(batch: Vec<Job>) -> Vec<Result<(), SpoolError>> {
    commit_batch_with(batch, None)
}

/// Commit a batch. Journalled messages are appended to the journal with one sync first;
/// their names then need no directory sync (a crash before the names reach the disk is
/// repaired from the journal at the next start).
fn commit_batch_with(batch: Vec<Job>, journal: Option<&Journal>) -> Vec<Result<(), SpoolError>> {
    let mut track: Vec<Track> = batch
        .iter()
        .map(|_| Track {
            stage: Stage::Written,
            error: None,
        })
        .collect();
    let records: Vec<&Record> = batch.iter().filter_map(|j| j.record.as_ref()).collect();
    // A batch is all journalled or all synced: one spool makes every job the same way.
    let journalled = !records.is_empty();
    let link = |track: &mut [Track]| {
        let sync_dirs = !journalled;
        rename_step(&batch, track, Stage::DataRenamed, sync_dirs, |j| &j.data);
        rename_step(&batch, track, Stage::HeaderRenamed, sync_dirs, |j| {
            &j.header
        });
    };
    if journalled {
        let appended = match journal {
            Some(j) => j.append_then(&records, || link(&mut track)),
            None => Err(SpoolError::Unsupported(
                "a journalled message without a journal",
            )),
        };
        if let Err(e) = appended {
            for t in track.iter_mut() {
                t.error = Some(copy_err(&e));
            }
        }
    } else {
        link(&mut track);
    }
    batch
        .iter()
        .zip(track)
        .map(|(j, t)| match t.error {
            None => Ok(()),
            Some(e) => {
                remove_created(j, t.stage);
                Err(e)
            }
        })
        .collect()
}

/// Rename one file of every message still on track, then (unless journalled) fsync each
/// directory once.
fn rename_step(
    batch: &[Job],
    track: &mut [Track],
    to: Stage,
    sync_dirs: bool,
    which: impl Fn(&Job) -> &Pending,
) {
    let mut dirs: Vec<&Path> = Vec::new();
    for (j, t) in batch.iter().zip(track.iter_mut()) {
        if t.error.is_some() {
            continue;
        }
        let p = which(j);
        match p.publish() {
            Ok(()) => {
                t.stage = to;
                if !dirs.contains(&j.dir.as_path()) {
                    dirs.push(&j.dir);
                }
            }
            Err(e) => t.error = Some(io_err(&p.dest)(e)),
        }
    }
    if !sync_dirs {
        return;
    }
    for dir in dirs {
        let Err(e) = File::open(dir).and_then(|d| d.sync_all()) else {
            continue;
        };
        let e = io_err(dir)(e);
        for (j, t) in batch.iter().zip(track.iter_mut()) {
            if j.dir == dir && t.error.is_none() {
                t.error = Some(copy_err(&e));
            }
        }
    }
}

/// The same error again, for each message of a batch it fails.
fn copy_err(e: &SpoolError) -> SpoolError {
    match e {
        SpoolError::Io { path, source } => SpoolError::Io {
            path: path.clone(),
            source: std::io::Error::new(source.kind(), source.to_string()),
        },
        other => SpoolError::Io {
            path: PathBuf::new(),
            source: std::io::Error::other(other.to_string()),
        },
    }
}

/// Remove a failed message's files: each under the name it has reached (a failed rename
/// leaves whatever was in the way of it alone).
fn remove_created(j: &Job, stage: Stage) {
    for (p, published) in [
        (&j.header, stage >= Stage::HeaderRenamed),
        (&j.data, stage >= Stage::DataRenamed),
    ] {
        if published {
            let _ = fs::remove_file(&p.dest);
        } else {
            p.discard();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::spool::{HeaderFile, Spool};

    fn temp_dir(tag: &str) -> PathBuf {
        let p = std::env::temp_dir().join(format!("rexim-commit-{tag}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&p);
        fs::create_dir_all(&p).unwrap();
        p
    }

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    fn pending(dir: &Path, tmp: &str, dest: &Path, text: &str) -> Pending {
        let tmp = dir.join(tmp);
        fs::write(&tmp, text).unwrap();
        Pending {
            file: File::open(&tmp).unwrap(),
            tmp: Some(tmp),
            dest: dest.to_path_buf(),
        }
    }

    /// In one batch a message whose `-H` cannot be renamed fails alone: its `-D` (already
    /// renamed) and temporary `-H` are removed, the other message is committed.
    #[test]
    fn a_failure_fails_only_its_message_and_leaves_nothing() {
        let dir = temp_dir("fail");
        let good = Job::new(
            dir.clone(),
            pending(&dir, "dat.a", &dir.join("a-D"), "a-D\nbody\n"),
            pending(&dir, "hdr.a", &dir.join("a-H"), "a-H\n"),
        );
        let bad = Job::new(
            dir.clone(),
            pending(&dir, "dat.b", &dir.join("b-D"), "b-D\nbody\n"),
            pending(&dir, "hdr.b", &dir.join("missing/b-H"), "b-H\n"),
        );
        let r = commit_batch(vec![good, bad]);
        assert!(r[0].is_ok());
        let e = r[1].as_ref().unwrap_err().to_string();
        assert!(e.contains("missing/b-H"), "{e}");
        assert_eq!(names(&dir), ["a-D", "a-H"]);
        assert_eq!(fs::read_to_string(dir.join("a-D")).unwrap(), "a-D\nbody\n");
        fs::remove_dir_all(&dir).unwrap();
    }

    /// Unnamed files: published by a link, and a message whose `-H` cannot be linked
    /// leaves nothing (its `-D`, already linked, is removed; unnamed files vanish).
    #[test]
    fn unnamed_files_are_linked_or_leave_nothing() {
        use std::io::Write;
        let dir = temp_dir("unnamed");
        let Some(Ok(mut probe)) = unnamed(&dir, 0o640) else {
            eprintln!(
                "skipped: O_TMPFILE is not supported under {}",
                dir.display()
            );
            return;
        };
        probe.write_all(b"x").unwrap();
        drop(probe);
        assert!(names(&dir).is_empty(), "an unnamed file has no entry");
        let file = |text: &str, dest: PathBuf| {
            let mut f = unnamed(&dir, 0o640).unwrap().unwrap();
            f.write_all(text.as_bytes()).unwrap();
            Pending {
                file: f,
                tmp: None,
                dest,
            }
        };
        let good = Job::new(
            dir.clone(),
            file("a-D\nbody\n", dir.join("a-D")),
            file("a-H\n", dir.join("a-H")),
        );
        let bad = Job::new(
            dir.clone(),
            file("b-D\nbody\n", dir.join("b-D")),
            file("b-H\n", dir.join("missing/b-H")),
        );
        let r = commit_batch(vec![good, bad]);
        assert!(r[0].is_ok());
        assert!(r[1].is_err());
        assert_eq!(names(&dir), ["a-D", "a-H"]);
        assert_eq!(fs::read_to_string(dir.join("a-D")).unwrap(), "a-D\nbody\n");
        assert_eq!(fs::read_to_string(dir.join("a-H")).unwrap(), "a-H\n");
        fs::remove_dir_all(&dir).unwrap();
    }

    /// Many writers through one spool share the worker; every message is whole afterwards
    /// and no temporary file is left.
    #[test]
    fn concurrent_writers_are_all_committed() {
        let dir = temp_dir("many");
        let spool = Arc::new(Spool::new(&dir));
        let threads: Vec<_> = (0..8)
            .map(|t| {
                let spool = spool.clone();
                std::thread::spawn(move || {
                    for i in 0..10 {
                        let h = HeaderFile {
                            id: format!("1xVc00-0000{t}{i}-00"),
                            login: "u".into(),
                            ..HeaderFile::default()
                        };
                        spool
                            .write(&h, format!("body {t} {i}\n").as_bytes())
                            .unwrap();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let ids = spool.message_ids().unwrap();
        assert_eq!(ids.len(), 80);
        for id in &ids {
            let (t, i) = (&id[11..12], &id[12..13]);
            assert_eq!(spool.read_header(id).unwrap().id, *id);
            assert_eq!(
                spool.read_body(id).unwrap(),
                format!("body {t} {i}\n").as_bytes()
            );
        }
        assert_eq!(names(&spool.input_dir()).len(), 160, "only -D and -H files");
        fs::remove_dir_all(&dir).unwrap();
    }
}
