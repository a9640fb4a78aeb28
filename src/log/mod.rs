//! Exim's log files: `mainlog`, `rejectlog`, `paniclog`, lines `YYYY-MM-DD HH:MM:SS text`.
//!
//! ```no_run
//! let logs = rexim::log::LogFiles::from_options("", "/var/spool/rexim").unwrap();
//! logs.session_lines(&["1xVcWP-0003VF-2p <= a@b.example H=(x) [192.0.2.1] P=esmtp".into()], 0)
//!     .unwrap();
//! ```

#[cfg(test)]
mod tests;

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;
use std::sync::Mutex;

use crate::expand::computed::tod;

/// Exim's log timestamp (`YYYY-MM-DD HH:MM:SS`) and log-file day (`YYYYMMDD`) for `now`,
/// worked out once per second per thread: every log write needs both, and `localtime_r`
/// takes glibc's time-zone lock.
pub fn stamps(now: i64) -> (std::rc::Rc<str>, std::rc::Rc<str>) {
    use std::cell::RefCell;
    use std::rc::Rc;
    type Cached = Option<(i64, Rc<str>, Rc<str>)>;
    thread_local!(static LAST: RefCell<Cached> = const { RefCell::new(None) });
    LAST.with(|last| {
        let mut last = last.borrow_mut();
        match &*last {
            Some((t, ts, day)) if *t == now => (ts.clone(), day.clone()),
            _ => {
                let ts: Rc<str> = tod("log", now, 0).unwrap_or_default().into();
                let day: Rc<str> = tod("logfile", now, 0).unwrap_or_default().into();
                *last = Some((now, ts.clone(), day.clone()));
                (ts, day)
            }
        }
    })
}

/// Which log a line goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Log {
    Main,
    Reject,
    Panic,
}

impl Log {
    fn name(self) -> &'static str {
        match self {
            Log::Main => "main",
            Log::Reject => "reject",
            Log::Panic => "panic",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LogError {
    #[error("log_file_path \"{0}\": syslog logging is not supported by rexim")]
    Syslog(String),
    #[error("log_file_path \"{0}\" does not contain \"%s\"")]
    NoPercentS(String),
    #[error("cannot open {path}: {source}")]
    Open {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// The three log files named by `log_file_path`, kept open (appending) between writes.
#[derive(Debug)]
pub struct LogFiles {
    /// Template with `%s` (log name), optionally `%D` (YYYYMMDD) or `%M` (YYYYMM).
    template: String,
    open: Mutex<Vec<(Log, PathBuf, File)>>,
}

impl LogFiles {
    /// From `log_file_path` (empty: Exim's default `<spool_directory>/log/%slog`).
    pub fn from_options(log_file_path: &str, spool_directory: &str) -> Result<LogFiles, LogError> {
        let mut template = None;
        for item in log_file_path.split(':').map(str::trim) {
            match item {
                "" => {}
                "syslog" => return Err(LogError::Syslog(log_file_path.to_string())),
                path if template.is_none() => template = Some(path.to_string()),
                _ => {}
            }
        }
        let template = template.unwrap_or_else(|| format!("{spool_directory}/log/%slog"));
        if !template.contains("%s") {
            return Err(LogError::NoPercentS(template));
        }
        Ok(LogFiles {
            template,
            open: Mutex::new(Vec::new()),
        })
    }

    /// The log files a configuration names (`log_file_path`, `spool_directory`).
    pub fn from_config(cfg: &crate::config::Config) -> Result<LogFiles, LogError> {
        use crate::config::{tables, Value};
        let main = |name: &str| match tables::find(tables::MAIN, name).map(|d| cfg.main_value(d)) {
            Some(Value::Str(s)) => s,
            _ => String::new(),
        };
        LogFiles::from_options(&main("log_file_path"), &main("spool_directory"))
    }

    /// The file a log's lines go to at time `now`.
    pub fn path(&self, log: Log, now: i64) -> PathBuf {
        let day = stamps(now).1;
        let month = day.get(..6).unwrap_or_default().to_string();
        PathBuf::from(
            self.template
                .replace("%s", log.name())
                .replace("%D", &day)
                .replace("%M", &month),
        )
    }

    /// Append `lines` to `log`, each prefixed by Exim's timestamp for `now`.
    pub fn write(&self, log: Log, lines: &[&str], now: i64) -> Result<(), LogError> {
        let entries: Vec<(&str, &[u8])> = lines.iter().map(|l| (*l, &[][..])).collect();
        self.write_entries(log, &entries, now)
    }

    /// Append each line (timestamped) followed by its detail as it is (Exim's
    /// rejectlog listing), in one write.
    pub fn write_entries(
        &self,
        log: Log,
        entries: &[(&str, &[u8])],
        now: i64,
    ) -> Result<(), LogError> {
        let ts = stamps(now).0;
        let mut buf = Vec::with_capacity(
            entries
                .iter()
                .map(|(l, d)| ts.len() + l.len() + d.len() + 2)
                .sum(),
        );
        for (l, detail) in entries {
            buf.extend_from_slice(ts.as_bytes());
            buf.push(b' ');
            // A newline inside a line would start a fake log entry; Exim writes `\n`.
            for (i, part) in l.split('\n').enumerate() {
                if i > 0 {
                    buf.extend_from_slice(b"\\n");
                }
                buf.extend_from_slice(part.as_bytes());
            }
            buf.push(b'\n');
            buf.extend_from_slice(detail);
        }
        let path = self.path(log, now);
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        let current = open.iter().position(|(l, p, _)| *l == log && *p == path);
        let idx = match current {
            Some(i) => i,
            None => {
                if let Some(dir) = path.parent() {
                    std::fs::create_dir_all(dir).map_err(|source| LogError::Open {
                        path: path.clone(),
                        source,
                    })?;
                }
                let f = OpenOptions::new()
                    .append(true)
                    .create(true)
                    .mode(0o640)
                    .open(&path)
                    .map_err(|source| LogError::Open {
                        path: path.clone(),
                        source,
                    })?;
                // A new datestamped file replaces the previous one of the same log.
                open.retain(|(l, _, _)| *l != log);
                open.push((log, path.clone(), f));
                open.len() - 1
            }
        };
        // One write per batch: O_APPEND keeps concurrent writers' lines whole.
        open[idx]
            .2
            .write_all(&buf)
            .map_err(|source| LogError::Write { path, source })
    }

    /// Append one line to `log` followed by `detail` as it is (Exim's rejectlog
    /// listing of the envelope and headers after a rejection line).
    pub fn write_with_detail(
        &self,
        log: Log,
        line: &str,
        detail: &[u8],
        now: i64,
    ) -> Result<(), LogError> {
        self.write_entries(log, &[(line, detail)], now)
    }

    /// Write a session's log lines (`Session.log`): all go to the mainlog; rejections
    /// (Exim logs those with `LOG_REJECT`: every line saying `rejected`) also to the
    /// rejectlog, with the listing `attach_detail` gave them.
    pub fn session_lines(&self, lines: &[String], now: i64) -> Result<(), LogError> {
        if lines.is_empty() {
            return Ok(());
        }
        let split: Vec<(&str, Vec<u8>)> = lines.iter().map(|l| split_detail(l)).collect();
        let all: Vec<&str> = split.iter().map(|(l, _)| *l).collect();
        self.write(Log::Main, &all, now)?;
        let rejects: Vec<(&str, &[u8])> = split
            .iter()
            .filter(|(l, _)| is_rejection(l))
            .map(|(l, d)| (*l, d.as_slice()))
            .collect();
        if !rejects.is_empty() {
            self.write_entries(Log::Reject, &rejects, now)?;
        }
        Ok(())
    }
}

/// Marks the start of a line's rejectlog detail (no log line holds a NUL).
const DETAIL: char = '\0';

/// `line` carrying `detail` (Exim's envelope and header listing) for the rejectlog;
/// each byte is kept as one char so that any header bytes survive.
pub fn attach_detail(mut line: String, detail: &[u8]) -> String {
    if !detail.is_empty() {
        line.push(DETAIL);
        line.extend(detail.iter().map(|&b| char::from(b)));
    }
    line
}

/// The line itself, without its rejectlog detail.
pub fn line_text(line: &str) -> &str {
    line.split_once(DETAIL).map_or(line, |(l, _)| l)
}

/// The line itself and its rejectlog detail (empty when it has none).
pub fn split_detail(line: &str) -> (&str, Vec<u8>) {
    match line.split_once(DETAIL) {
        Some((l, d)) => (l, d.chars().map(|c| c as u32 as u8).collect()),
        None => (line, Vec::new()),
    }
}

/// Exim's rejection lines (`rejected RCPT`, `rejected after DATA`, `rejected from <...>`,
/// `rejected connection`, synchronization errors) all contain the word `rejected`; a failed
/// AUTH (`plain authenticator failed for ...`) goes to the rejectlog too, and so do
/// dropped calls (`SMTP call from ... dropped: too many ...`) and `refused connection
/// from ... (host_reject_connection)`, which Exim writes with LOG_REJECT.
pub fn is_rejection(line: &str) -> bool {
    line.contains(" authenticator failed for ")
        || (line.contains("SMTP call from ") && line.contains(" dropped: too many "))
        || line.contains("refused connection from ")
        || line
            .split(|c: char| !c.is_ascii_alphanumeric())
            .any(|w| w == "rejected")
}
