//! Log lines and error reports of a local submission: lines carry the message id once
//! it exists, panic lines are echoed on stderr as Exim does, rejections add Exim's
//! header listing to the rejectlog, and errors go to stderr (`-oep`) with Exim's exit
//! status.

use std::io::Write;

use crate::acl::state::LogLine;
use crate::log::{Log, LogFiles};

/// Exim's `EXIT_FAILURE`.
pub const EXIT_FAILURE: i32 = 1;

/// Writes the log lines of one run.
pub struct Logger<'a> {
    pub files: &'a LogFiles,
    /// The current message id (prefixes each line once set).
    pub id: Option<String>,
    /// Lines that could not be written (reported once, on stderr).
    failed: bool,
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

impl<'a> Logger<'a> {
    pub fn new(files: &'a LogFiles) -> Logger<'a> {
        Logger {
            files,
            id: None,
            failed: false,
        }
    }

    fn text(&self, line: &str) -> String {
        match &self.id {
            Some(id) => format!("{id} {line}"),
            None => line.to_string(),
        }
    }

    fn put(&mut self, log: Log, line: &str, detail: &[u8]) {
        if let Err(e) = self.files.write_with_detail(log, line, detail, now()) {
            if !std::mem::replace(&mut self.failed, true) {
                eprintln!("rexim: {e}");
            }
        }
    }

    pub fn main(&mut self, line: &str) {
        let t = self.text(line);
        self.put(Log::Main, &t, b"");
    }

    /// A rejection: main and reject logs; `detail` (Exim's envelope and header
    /// listing) follows the line in the rejectlog only.
    pub fn reject(&mut self, line: &str, detail: &[u8]) {
        let t = self.text(line);
        self.put(Log::Main, &t, b"");
        self.put(Log::Reject, &t, detail);
    }

    /// Main and panic logs; Exim also writes panic lines on stderr.
    pub fn panic(&mut self, line: &str) {
        let t = self.text(line);
        self.put(Log::Main, &t, b"");
        self.put(Log::Panic, &t, b"");
        let ts = crate::expand::computed::tod("log", now(), 0).unwrap_or_default();
        let _ = writeln!(std::io::stderr(), "{ts} {t}");
    }

    /// Lines an ACL left (`logwrite`, `log_message` on `warn`, panics).
    pub fn acl_lines(&mut self, lines: Vec<LogLine>) {
        for l in lines {
            if l.targets.contains(&"panic") {
                self.panic(&l.text);
            } else if l.targets.contains(&"reject") {
                self.reject(&l.text, b"");
            } else if !l.targets.is_empty() {
                self.main(&l.text);
            }
        }
    }
}

/// Exim's rejectlog listing: the envelope (up to five recipients) and each header with
/// its type letter.
pub fn header_listing(sender: &[u8], recipients: &[Vec<u8>], headers: &[(u8, &[u8])]) -> Vec<u8> {
    let mut o = Vec::new();
    if let Some((first, rest)) = recipients.split_first() {
        o.extend_from_slice(b"Envelope-from: <");
        o.extend_from_slice(sender);
        o.extend_from_slice(b">\nEnvelope-to: <");
        o.extend_from_slice(first);
        o.extend_from_slice(b">\n");
        for r in rest.iter().take(4) {
            o.extend_from_slice(b"    <");
            o.extend_from_slice(r);
            o.extend_from_slice(b">\n");
        }
        if recipients.len() > 5 {
            o.extend_from_slice(b"    ...\n");
        }
    }
    for (kind, text) in headers {
        o.push(*kind);
        o.push(b' ');
        o.extend_from_slice(text);
    }
    o
}

/// Exim's `give_local_error` with errors on stderr: `exim: <prefix><text>`, then the
/// exit status.
pub fn local_error(prefix: &str, text: &str) -> i32 {
    let _ = writeln!(std::io::stderr(), "exim: {prefix}{text}");
    EXIT_FAILURE
}
