//! Interim durable message store for `rexim -bd` until the Exim-format spool (`src/spool/`)
//! lands: one file per accepted message in `spool_directory/rexim-incoming/`, written to a
//! temporary name, fsync'd, renamed, and the directory fsync'd before the session says 250.
//!
//! File layout (not Exim's): `Message-Id: <id>`, `Sender: <addr>`, one `Recipient: <addr>`
//! line per recipient, the ACL-added header lines prefixed `Added: `, a blank line, then the
//! message exactly as received (LF line ends, dot-unstuffed).

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use crate::smtp::sink::{AcceptedMessage, MessageSink};

/// Stores each accepted message as one fsync'd file.
#[derive(Debug)]
pub struct DirSink {
    dir: PathBuf,
}

impl DirSink {
    /// Use (and create if needed) `spool/rexim-incoming`.
    pub fn new(spool: &Path) -> io::Result<DirSink> {
        let dir = spool.join("rexim-incoming");
        fs::create_dir_all(&dir)?;
        Ok(DirSink { dir })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

/// The bytes a message file holds.
pub fn render(msg: &AcceptedMessage) -> Vec<u8> {
    let mut out = Vec::with_capacity(msg.data.len() + 256);
    out.extend_from_slice(b"Message-Id: ");
    out.extend_from_slice(msg.id.as_bytes());
    out.extend_from_slice(b"\nSender: ");
    out.extend_from_slice(msg.sender);
    out.push(b'\n');
    for r in msg.recipients {
        out.extend_from_slice(b"Recipient: ");
        out.extend_from_slice(r);
        out.push(b'\n');
    }
    for h in msg.added_headers {
        out.extend_from_slice(b"Added: ");
        out.extend_from_slice(h.trim_end_matches('\n').as_bytes());
        out.push(b'\n');
    }
    out.push(b'\n');
    out.extend_from_slice(msg.data);
    out
}

impl MessageSink for DirSink {
    fn store(&self, msg: &AcceptedMessage) -> io::Result<()> {
        if msg.id.is_empty()
            || !msg
                .id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("message id {:?} is not usable as a file name", msg.id),
            ));
        }
        let tmp = self.dir.join(format!(".{}.tmp", msg.id));
        let dest = self.dir.join(msg.id);
        if dest.exists() {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!("message id {} already stored", msg.id),
            ));
        }
        let write = || -> io::Result<()> {
            let mut f = OpenOptions::new().write(true).create_new(true).open(&tmp)?;
            f.write_all(&render(msg))?;
            f.sync_all()?;
            fs::rename(&tmp, &dest)?;
            File::open(&self.dir)?.sync_all()
        };
        let r = write();
        if r.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stores_and_refuses_duplicates() {
        let base = std::env::temp_dir().join(format!("rexim-dirsink-{}", std::process::id()));
        let sink = DirSink::new(&base).expect("create dir");
        let ctx = crate::expand::Context::default();
        let rcpts = vec![b"a@b.example".to_vec()];
        let m = AcceptedMessage {
            id: "1abcde-000001-AB",
            sender: b"s@x.example",
            recipients: &rcpts,
            data: b"Subject: x\n\nbody\n",
            added_headers: &[],
            removed_headers: &[],
            ctx: &ctx,
        };
        sink.store(&m).expect("store");
        let text = fs::read(sink.dir().join("1abcde-000001-AB")).expect("read");
        assert_eq!(
            text,
            b"Message-Id: 1abcde-000001-AB\nSender: s@x.example\nRecipient: a@b.example\n\nSubject: x\n\nbody\n"
        );
        assert!(sink.store(&m).is_err());
        let bad = AcceptedMessage { id: "../x", ..m };
        assert!(sink.store(&bad).is_err());
        let _ = fs::remove_dir_all(&base);
    }
}
