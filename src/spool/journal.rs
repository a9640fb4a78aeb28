//! The spool journal: one sequential log that makes a batch of messages durable with a
//! single `fdatasync`, instead of two file `fsync`s per message and two directory syncs
//! per batch.
//!
//! The daemon appends each batch's messages (the exact bytes of their `-D` and `-H`
//! files) to the current segment, `<spool>/journal/<pid>-<seq>.rxj`, and syncs it before
//! the spool files are linked in and the 250 is sent. The spool files themselves are
//! written without a sync: until the kernel has written them, the journal holds their
//! content. A segment is closed after [`ROTATE_AFTER`] (or [`ROTATE_BYTES`]); a background
//! thread then calls `syncfs` on the spool's filesystem, which makes every spool file
//! written before that moment durable, and deletes the segment. A clean shutdown does the
//! same for the open segment, so a journal left behind means the daemon did not stop
//! cleanly.
//!
//! At start-up ([`Journal::open`]) the segments of earlier processes are replayed: a
//! message whose `-D` is missing or differs from the journal, or whose `-H` is missing or
//! unreadable, is written again (synced, under a temporary name, then renamed), and the
//! segment is deleted once everything is durable. A segment still locked (`flock`) belongs
//! to a daemon that is running on the same spool and is left alone.
//!
//! Record layout (integers little-endian): `RXJ1`, u32 length of what follows up to and
//! including the checksum, u16 + directory (relative to the spool), u8 + message id,
//! u32 + `-D` bytes, u32 + `-H` bytes, CRC-32 of everything before it. Appends are
//! sequential and synced, so only a segment's tail can be torn; replay stops at the first
//! record that does not check.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::{io_err, SpoolError, SPOOL_MODE};

/// A segment is closed (and, once synced, deleted) this long after its first record.
pub const ROTATE_AFTER: Duration = Duration::from_secs(1);
/// ... or once it holds this many bytes.
pub const ROTATE_BYTES: u64 = 32 << 20;
const MAGIC: &[u8; 4] = b"RXJ1";
/// The largest record replay accepts (a message and its header, with margin).
const MAX_RECORD: u32 = 1 << 30;

/// One message as the journal keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// The message's directory, relative to the spool (`input`, `input/X`).
    pub dir: String,
    pub id: String,
    pub data: Vec<u8>,
    pub header: Vec<u8>,
}

impl Record {
    /// The record's bytes as appended to a segment.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let start = out.len();
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&[0; 4]);
        out.extend_from_slice(&(self.dir.len() as u16).to_le_bytes());
        out.extend_from_slice(self.dir.as_bytes());
        out.push(self.id.len() as u8);
        out.extend_from_slice(self.id.as_bytes());
        out.extend_from_slice(&(self.data.len() as u32).to_le_bytes());
        out.extend_from_slice(&self.data);
        out.extend_from_slice(&(self.header.len() as u32).to_le_bytes());
        out.extend_from_slice(&self.header);
        let len = (out.len() - start - 8 + 4) as u32;
        out[start + 4..start + 8].copy_from_slice(&len.to_le_bytes());
        let crc = crc32fast::hash(&out[start..]);
        out.extend_from_slice(&crc.to_le_bytes());
    }

    /// Decode the record at the start of `b`: the record and its length, or `None` when
    /// what is there is not a whole, intact record.
    pub fn decode(b: &[u8]) -> Option<(Record, usize)> {
        if b.len() < 8 || &b[..4] != MAGIC {
            return None;
        }
        let len = u32::from_le_bytes(b[4..8].try_into().ok()?);
        if !(4..=MAX_RECORD).contains(&len) || b.len() < 8 + len as usize {
            return None;
        }
        let end = 8 + len as usize;
        let crc = u32::from_le_bytes(b[end - 4..end].try_into().ok()?);
        if crc32fast::hash(&b[..end - 4]) != crc {
            return None;
        }
        let mut r = Reader {
            b: &b[8..end - 4],
            at: 0,
        };
        let dir = r.text(2)?;
        let id = r.text(1)?;
        let data = r.bytes(4)?.to_vec();
        let header = r.bytes(4)?.to_vec();
        if r.at != r.b.len() || !super::is_message_id(&id) || !safe_dir(&dir) {
            return None;
        }
        Some((
            Record {
                dir,
                id,
                data,
                header,
            },
            end,
        ))
    }
}

/// Length-prefixed fields of a record body.
struct Reader<'a> {
    b: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn bytes(&mut self, width: usize) -> Option<&'a [u8]> {
        let mut n = [0u8; 4];
        n[..width].copy_from_slice(self.b.get(self.at..self.at + width)?);
        self.at += width;
        let n = u32::from_le_bytes(n) as usize;
        let v = self.b.get(self.at..self.at + n)?;
        self.at += n;
        Some(v)
    }

    fn text(&mut self, width: usize) -> Option<String> {
        String::from_utf8(self.bytes(width)?.to_vec()).ok()
    }
}

/// A record's directory must stay inside the spool: `input` or `input/<one character>`.
fn safe_dir(dir: &str) -> bool {
    match dir.strip_prefix("input") {
        Some("") => true,
        Some(rest) => {
            let rest = rest.as_bytes();
            rest.len() == 2 && rest[0] == b'/' && rest[1].is_ascii_alphanumeric()
        }
        None => false,
    }
}

/// The segment being appended to.
struct Segment {
    file: File,
    path: PathBuf,
    bytes: u64,
    /// When its first record was appended (`None` while empty).
    first: Option<Instant>,
}

impl Segment {
    /// Old enough to close (or, counting its size, full enough).
    fn due(&self, by_size: bool) -> bool {
        (by_size && self.bytes >= ROTATE_BYTES)
            || self.first.is_some_and(|t| t.elapsed() >= ROTATE_AFTER)
    }
}

/// What appends share, under one lock: the open segment, the next segment number and the
/// scratch buffer for a batch's records.
#[derive(Default)]
struct Open {
    seg: Option<Segment>,
    next_seq: u64,
    buf: Vec<u8>,
}

/// The daemon's journal: appends, rotation, and the thread that retires closed segments.
pub struct Journal {
    dir: PathBuf,
    current: Mutex<Open>,
    /// Closed segments go to the retiring thread; `None` asks it to stop.
    retire: mpsc::Sender<Option<(File, PathBuf)>>,
    retired: Mutex<Option<std::thread::JoinHandle<()>>>,
}

impl std::fmt::Debug for Journal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Journal({})", self.dir.display())
    }
}

/// What start-up found in the journal of earlier processes.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Recovery {
    /// Records read back.
    pub records: usize,
    /// Messages whose files had to be written again.
    pub restored: Vec<String>,
    /// Segments left alone because a running process holds them.
    pub busy_segments: usize,
}

impl Journal {
    /// Open the journal of the spool at `spool`: replay what earlier processes left (see
    /// the module comment), then start the retiring thread.
    pub fn open(spool: &Path) -> Result<(Arc<Journal>, Recovery), SpoolError> {
        let dir = spool.join("journal");
        if !dir.is_dir() {
            fs::create_dir_all(&dir).map_err(io_err(&dir))?;
            // The journal's own name must survive a crash, or its segments go with it.
            File::open(spool)
                .and_then(|d| d.sync_all())
                .map_err(io_err(spool))?;
        }
        let recovery = replay(spool, &dir)?;
        let (tx, rx) = mpsc::channel();
        let syncer = sync_handle(spool)?;
        let journal = Arc::new(Journal {
            dir: dir.clone(),
            current: Mutex::default(),
            retire: tx,
            retired: Mutex::new(None),
        });
        let weak = Arc::downgrade(&journal);
        let handle = std::thread::Builder::new()
            .name("spool-journal".into())
            .spawn(move || retire_loop(syncer, rx, weak))
            .map_err(io_err(&dir))?;
        *journal.retired.lock().unwrap_or_else(|p| p.into_inner()) = Some(handle);
        Ok((journal, recovery))
    }

    /// Append `records` and sync them, then run `then` (which links the messages' files)
    /// before the segment can be closed: a segment is retired (`syncfs`, delete) only once
    /// every file it protects has its name. `then` does not run when the append fails.
    /// When this returns `Ok`, the records survive a crash.
    pub fn append_then(&self, records: &[&Record], then: impl FnOnce()) -> Result<(), SpoolError> {
        let mut open = self.current.lock().unwrap_or_else(|p| p.into_inner());
        let open = &mut *open;
        if open.seg.as_ref().is_some_and(|s| s.due(true)) {
            self.close(open.seg.take());
        }
        if open.seg.is_none() {
            open.seg = Some(self.new_segment(&mut open.next_seq)?);
        }
        let seg = open.seg.as_mut().expect("a segment was just opened");
        open.buf.clear();
        for r in records {
            r.encode(&mut open.buf);
        }
        let written = seg
            .file
            .write_all(&open.buf)
            .and_then(|()| seg.file.sync_data());
        if let Err(e) = written {
            // A segment that failed a write may hold a torn record: start a new one.
            let path = seg.path.clone();
            self.close(open.seg.take());
            return Err(io_err(&path)(e));
        }
        seg.bytes += open.buf.len() as u64;
        seg.first.get_or_insert_with(Instant::now);
        if open.buf.capacity() > 1 << 20 {
            open.buf = Vec::new();
        }
        // Still holding `current`: the timer cannot close this segment under the links.
        then();
        Ok(())
    }

    /// Close the open segment if it is due (called now and then by the retiring side, so a
    /// quiet daemon does not keep an old segment).
    pub fn rotate_if_due(&self) {
        let mut open = self.current.lock().unwrap_or_else(|p| p.into_inner());
        if open.seg.as_ref().is_some_and(|s| s.due(false)) {
            self.close(open.seg.take());
        }
    }

    /// A clean stop: make everything durable, delete every segment, stop the thread.
    pub fn shutdown(&self) {
        let mut open = self.current.lock().unwrap_or_else(|p| p.into_inner());
        self.close(open.seg.take());
        drop(open);
        let _ = self.retire.send(None);
        if let Some(h) = self
            .retired
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
        {
            let _ = h.join();
        }
    }

    fn close(&self, seg: Option<Segment>) {
        let Some(seg) = seg else { return };
        let _ = self.retire.send(Some((seg.file, seg.path)));
    }

    /// A new segment, locked against start-up replay by another process, with its name
    /// durable before any record relies on it.
    fn new_segment(&self, next_seq: &mut u64) -> Result<Segment, SpoolError> {
        // Never reuse a name: a segment left by an earlier process with this pid (after a
        // reboot) that replay could not delete must not be truncated.
        let (file, path) = loop {
            *next_seq += 1;
            let seq = *next_seq;
            let path = self
                .dir
                .join(format!("{}-{seq:08}.rxj", std::process::id()));
            match OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(SPOOL_MODE)
                .open(&path)
            {
                Ok(file) => break (file, path),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(io_err(&path)(e)),
            }
        };
        // SAFETY: flock on a descriptor we own; no memory is passed.
        if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
            return Err(io_err(&path)(std::io::Error::last_os_error()));
        }
        File::open(&self.dir)
            .and_then(|d| d.sync_all())
            .map_err(io_err(&self.dir))?;
        Ok(Segment {
            file,
            path,
            bytes: 0,
            first: None,
        })
    }
}

/// A descriptor on the filesystem of the spool's `input/` (where the messages are, should
/// it be a mount of its own), for `syncfs`.
fn sync_handle(spool: &Path) -> Result<File, SpoolError> {
    let input = spool.join("input");
    fs::create_dir_all(&input).map_err(io_err(&input))?;
    File::open(&input).map_err(io_err(&input))
}

/// Make everything written to the filesystem of `fd` durable.
fn syncfs(fd: &File) -> std::io::Result<()> {
    // SAFETY: a plain syscall on a descriptor we own; no memory is passed.
    if unsafe { libc::syncfs(fd.as_raw_fd()) } == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// The retiring thread: for each closed segment (several at once when they queue up), one
/// `syncfs`, then the segments are deleted. A segment whose sync fails is kept for the
/// next start-up to replay.
/// While nothing arrives it closes the open segment once it is due, so a quiet daemon
/// does not keep messages only in the journal for long.
fn retire_loop(
    fs: File,
    rx: mpsc::Receiver<Option<(File, PathBuf)>>,
    journal: std::sync::Weak<Journal>,
) {
    let mut stop = false;
    while !stop {
        let mut batch = Vec::new();
        match rx.recv_timeout(ROTATE_AFTER) {
            Ok(Some(seg)) => batch.push(seg),
            Ok(None) | Err(mpsc::RecvTimeoutError::Disconnected) => stop = true,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                if let Some(j) = journal.upgrade() {
                    j.rotate_if_due();
                }
                continue;
            }
        }
        while let Ok(more) = rx.try_recv() {
            match more {
                Some(seg) => batch.push(seg),
                None => stop = true,
            }
        }
        if batch.is_empty() {
            continue;
        }
        if syncfs(&fs).is_err() {
            continue;
        }
        for (file, path) in batch {
            let _ = fs::remove_file(&path);
            drop(file);
        }
    }
}

/// Replay the segments earlier processes left in `dir` (module comment).
fn replay(spool: &Path, dir: &Path) -> Result<Recovery, SpoolError> {
    let mut rec = Recovery::default();
    let mut segments: Vec<PathBuf> = fs::read_dir(dir)
        .map_err(io_err(dir))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "rxj"))
        .collect();
    segments.sort();
    let mut done = Vec::new();
    for path in segments {
        let Ok(mut file) = OpenOptions::new().read(true).write(true).open(&path) else {
            continue;
        };
        // SAFETY: flock on a descriptor we own; no memory is passed.
        if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
            rec.busy_segments += 1;
            continue;
        }
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes).map_err(io_err(&path))?;
        let mut at = 0;
        while let Some((r, len)) = Record::decode(&bytes[at..]) {
            at += len;
            rec.records += 1;
            if restore(spool, &r)? {
                rec.restored.push(r.id.clone());
            }
        }
        done.push((file, path));
    }
    if !done.is_empty() {
        syncfs(&sync_handle(spool)?).map_err(io_err(spool))?;
        for (_, path) in &done {
            let _ = fs::remove_file(path);
        }
    }
    Ok(rec)
}

/// Write a journalled message's files again where they are missing or damaged; `true`
/// when anything was written. `-D` first, so an `-H` never points at a missing body.
fn restore(spool: &Path, r: &Record) -> Result<bool, SpoolError> {
    let dir = spool.join(&r.dir);
    let d = dir.join(format!("{}-D", r.id));
    let h = dir.join(format!("{}-H", r.id));
    let d_ok = fs::read(&d).is_ok_and(|b| b == r.data);
    let h_ok = fs::read(&h).is_ok_and(|b| super::HeaderFile::parse(&b).is_ok());
    if d_ok && h_ok {
        return Ok(false);
    }
    fs::create_dir_all(&dir).map_err(io_err(&dir))?;
    if !d_ok {
        rewrite(&dir, &d, &r.data)?;
    }
    if !h_ok {
        rewrite(&dir, &h, &r.header)?;
    }
    Ok(true)
}

/// Replace `path` with `bytes` durably: a synced temporary file renamed over it.
fn rewrite(dir: &Path, path: &Path, bytes: &[u8]) -> Result<(), SpoolError> {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
    let tmp = dir.join(format!("replay.{}", name.unwrap_or_default()));
    let mut f = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(SPOOL_MODE)
        .open(&tmp)
        .map_err(io_err(&tmp))?;
    f.write_all(bytes)
        .and_then(|()| f.sync_all())
        .map_err(io_err(&tmp))?;
    fs::rename(&tmp, path).map_err(io_err(path))?;
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_err(dir))
}
