//! Queue listing (`-bp`) and message display (`-Mvh`, `-Mvb`) in Exim's output format.

use std::fs;
use std::io::Write;

use super::{is_message_id, HeaderFile, Spool, SpoolError};

/// One queued message as `-bp` sees it.
#[derive(Debug)]
pub struct Queued {
    pub id: String,
    /// `Err` when the `-H` file could not be read or parsed (listed as a spool error).
    pub header: HeaderFile,
    /// Header size + body size + 1, as Exim computes it.
    pub size: u64,
    /// Addresses delivered so far (non-recipients tree plus the `-J` journal).
    pub delivered: Vec<Vec<u8>>,
}

/// Exim's `string_format_size`: five columns, K/M with one decimal below 10.
pub fn format_size(size: u64) -> String {
    if size == 0 {
        "     ".to_string()
    } else if size < 1024 {
        format!("{size:5}")
    } else if size < 10 * 1024 {
        format!("{:4.1}K", size as f64 / 1024.0)
    } else if size < 1024 * 1024 {
        format!("{:4}K", (size + 512) / 1024)
    } else if size < 10 * 1024 * 1024 {
        format!("{:4.1}M", size as f64 / (1024.0 * 1024.0))
    } else {
        format!("{:4}M", (size + 512 * 1024) / (1024 * 1024))
    }
}

/// Exim's time-on-queue column: minutes up to 90, then hours up to 72, then days.
pub fn format_age(secs: i64) -> String {
    let m = secs.max(0) / 60;
    if m > 90 {
        let h = (m + 30) / 60;
        if h > 72 {
            format!("{:2}d ", (h + 12) / 24)
        } else {
            format!("{h:2}h ")
        }
    } else {
        format!("{m:2}m ")
    }
}

impl Spool {
    /// Ids of all messages with an `-H` file in `input/` or one of its single-character
    /// subdirectories (as Exim's `queue_get_spool_list`), in id (arrival) order.
    pub fn message_ids(&self) -> Result<Vec<String>, SpoolError> {
        let mut ids = Vec::new();
        let mut subdirs = Vec::new();
        scan_input(&self.input_dir(), &mut ids, Some(&mut subdirs))?;
        for sub in subdirs {
            scan_input(&sub, &mut ids, None)?;
        }
        ids.sort();
        ids.dedup();
        Ok(ids)
    }

    /// Read one queued message's envelope and size.
    pub fn queued(&self, id: &str) -> Result<Queued, SpoolError> {
        let header = self.read_header(id)?;
        let d = self.file(id, "D")?;
        // Exim: header size + data file size - the `<id>-D\n` line + 1 for the blank line.
        let size = match fs::metadata(&d) {
            Ok(m) => header.header_size() + m.len().saturating_sub(id.len() as u64 + 3) + 1,
            Err(_) => 0,
        };
        let mut delivered = header.non_recipients.clone();
        if let Ok(j) = fs::read(self.file(id, "J")?) {
            delivered.extend(
                j.split(|&c| c == b'\n')
                    .filter(|l| !l.is_empty())
                    .map(<[u8]>::to_vec),
            );
        }
        Ok(Queued {
            id: id.to_string(),
            header,
            size,
            delivered,
        })
    }

    /// All readable queued messages.
    pub fn list(&self) -> Result<Vec<Queued>, SpoolError> {
        let mut out = Vec::new();
        for id in self.message_ids()? {
            match self.queued(&id) {
                Ok(q) => out.push(q),
                // Removed while we were listing.
                Err(SpoolError::NotFound(_)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }

    /// `exim -bp`: the queue listing, written to `w`; `now` is the current time.
    pub fn write_listing(&self, w: &mut dyn Write, now: i64) -> std::io::Result<()> {
        let ids = self.message_ids()?;
        self.listing(w, &ids, false, now)
    }

    /// `exim -bp id...`: only the named messages; a missing one is a read error.
    pub fn write_listing_of(
        &self,
        w: &mut dyn Write,
        ids: &[String],
        now: i64,
    ) -> std::io::Result<()> {
        self.listing(w, ids, true, now)
    }

    fn listing(
        &self,
        w: &mut dyn Write,
        ids: &[String],
        named: bool,
        now: i64,
    ) -> std::io::Result<()> {
        for id in ids {
            match self.queued(id) {
                Ok(q) => write_entry(w, &q, now)?,
                Err(SpoolError::NotFound(_)) if !named => {}
                Err(SpoolError::NotFound(_)) => writeln!(
                    w,
                    "{} {id}\n    *** spool read error: No such file or directory ***\n",
                    format_size(0)
                )?,
                Err(SpoolError::Format { .. }) => {
                    let size = self
                        .file(id, "H")
                        .ok()
                        .and_then(|p| fs::metadata(p).ok())
                        .map(|m| m.len());
                    write!(w, "{} {id}\n    ", format_size(0))?;
                    match size {
                        Some(s) => writeln!(w, "*** spool format error: size={s} ***\n")?,
                        None => writeln!(w, "*** spool format error ***\n")?,
                    }
                }
                Err(e) => writeln!(
                    w,
                    "{} {id}\n    *** spool read error: {e} ***\n",
                    format_size(0)
                )?,
            }
        }
        Ok(())
    }
}

fn write_entry(w: &mut dyn Write, q: &Queued, now: i64) -> std::io::Result<()> {
    let h = &q.header;
    write!(
        w,
        "{}{} {} <",
        format_age(now - h.received_time),
        format_size(q.size),
        q.id
    )?;
    w.write_all(&h.sender)?;
    w.write_all(b">")?;
    if h.has_flag("sender_set_untrusted") {
        write!(w, " ({})", h.login)?;
    }
    if h.has_flag("frozen") {
        w.write_all(b" *** frozen ***")?;
    }
    w.write_all(b"\n")?;
    for r in &h.recipients {
        let done = q.delivered.contains(&r.address);
        w.write_all(if done { b"        D " } else { b"          " })?;
        w.write_all(&r.address)?;
        w.write_all(b"\n")?;
    }
    w.write_all(b"\n")
}

/// Collect the ids of `-H` files in `dir`; in the base directory also note the
/// single-alphanumeric subdirectories (`split_spool_directory`).
fn scan_input(
    dir: &std::path::Path,
    ids: &mut Vec<String>,
    mut subdirs: Option<&mut Vec<std::path::PathBuf>>,
) -> Result<(), SpoolError> {
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(source) => {
            return Err(SpoolError::Io {
                path: dir.to_path_buf(),
                source,
            })
        }
    };
    for e in entries {
        let e = e.map_err(|source| SpoolError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        let name = e.file_name();
        let name = name.to_string_lossy();
        if let Some(subs) = subdirs.as_deref_mut() {
            if name.len() == 1
                && name.as_bytes()[0].is_ascii_alphanumeric()
                && e.file_type().is_ok_and(|t| t.is_dir())
            {
                subs.push(e.path());
                continue;
            }
        }
        if let Some(id) = name.strip_suffix("-H") {
            if is_message_id(id) {
                ids.push(id.to_string());
            }
        }
    }
    Ok(())
}
