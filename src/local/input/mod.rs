//! Reading a local message from stdin as Exim's `receive_msg` does for non-SMTP input:
//! LF, CRLF and bare CR all end lines; a leading `From ` line is taken out; a lone dot
//! ends the message unless `-i`; headers end at a blank line or the first line that is
//! not a header; the body always ends with a newline; sizes are bounded.

use std::io::Read;

mod body;
use body::{read_body, read_smtp_body};

/// Exim's `HEADER_MAXSIZE`: the whole header section.
pub const HEADER_MAXSIZE: u64 = 1024 * 1024;

/// Why reading stopped early.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stop {
    /// The message is complete.
    Complete,
    /// More than the size limit (`message_size` counted so far).
    TooBig,
    /// The header section passed [`HEADER_MAXSIZE`].
    HeaderTooLong,
    /// One header line passed `header_line_maxsize`.
    HeaderLineTooLong,
    /// Batched SMTP input ended inside a message; the text Exim adds to its log line
    /// (`" (after header)"` or nothing).
    Lost(&'static str),
    /// Reading stdin failed.
    ReadError(String),
}

/// What was read, with the counts Exim keeps while reading.
#[derive(Debug, Default)]
pub struct Message {
    /// Header lines, each with its newline (continuations included).
    pub headers: Vec<Vec<u8>>,
    /// The `-D` contents after the id line.
    pub body: Vec<u8>,
    /// A leading `From ` line (UUCP style) the caller's matcher accepted.
    pub from_line: Option<Vec<u8>>,
    /// `$message_size` while the ACLs run: bytes as received, LF line ends.
    pub size: u64,
    /// `$message_linecount` and `$body_linecount`.
    pub linecount: u64,
    pub body_linecount: u64,
    pub body_zerocount: u64,
    /// `-max_received_linelength`.
    pub max_line: u64,
    /// A `Resent-` header exists.
    pub resents: bool,
}

/// Reading settings.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub dot_ends: bool,
    /// `message_size_limit` (0: none).
    pub size_limit: u64,
    /// `header_line_maxsize` (0: none).
    pub header_line_max: u64,
    /// Batched SMTP: leading dots are unstuffed and only a lone dot ends the message.
    pub smtp: bool,
}

pub(crate) const EOF: i32 = -1;

/// Bytes from stdin with one byte of push-back, as Exim's `receive_getc`.
pub struct Source<R: Read> {
    inner: R,
    buf: Box<[u8]>,
    pos: usize,
    len: usize,
    pushed: Vec<u8>,
    pub error: Option<String>,
    /// Newlines consumed so far (Exim's `receive_linecount`, for batch errors).
    pub lines: u64,
    /// A read found the end of the input.
    pub eof: bool,
}

impl<R: Read> Source<R> {
    pub fn new(inner: R) -> Source<R> {
        Source {
            inner,
            buf: vec![0; 64 * 1024].into_boxed_slice(),
            pos: 0,
            len: 0,
            pushed: Vec::new(),
            error: None,
            lines: 0,
            eof: false,
        }
    }

    pub fn getc(&mut self) -> i32 {
        let c = self.next_byte();
        if c == i32::from(b'\n') {
            self.lines += 1;
        }
        c
    }

    fn next_byte(&mut self) -> i32 {
        if let Some(c) = self.pushed.pop() {
            return i32::from(c);
        }
        if self.pos == self.len {
            loop {
                match self.inner.read(&mut self.buf) {
                    Ok(0) => {
                        self.eof = true;
                        return EOF;
                    }
                    Ok(n) => {
                        self.pos = 0;
                        self.len = n;
                        break;
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(e) => {
                        self.error = Some(e.to_string());
                        return EOF;
                    }
                }
            }
        }
        self.pos += 1;
        i32::from(self.buf[self.pos - 1])
    }

    pub fn ungetc(&mut self, c: i32) {
        if c == i32::from(b'\n') {
            self.lines -= 1;
        }
        if c >= 0 {
            self.pushed.push(c as u8);
        }
    }

    /// Read one line for batched SMTP (CRLF or LF ends it; at most `max` bytes kept).
    /// `None` at end of input.
    pub fn line(&mut self, max: usize) -> Option<Vec<u8>> {
        let mut out = Vec::new();
        loop {
            let c = self.getc();
            if c == EOF {
                return (!out.is_empty()).then_some(out);
            }
            if c == i32::from(b'\n') {
                if out.last() == Some(&b'\r') {
                    out.pop();
                }
                return Some(out);
            }
            if out.len() < max {
                out.push(c as u8);
            }
        }
    }
}

fn is_header_line(line: &[u8]) -> bool {
    if line.first().is_some_and(u8::is_ascii_whitespace) {
        return false;
    }
    let name = line
        .iter()
        .take_while(|&&c| c.is_ascii_graphic() && c != b':')
        .count();
    let rest = &line[name..];
    let spaces = rest.iter().take_while(|c| c.is_ascii_whitespace()).count();
    rest.get(spaces) == Some(&b':')
}

/// Drop trailing continuation lines that hold only white space (Exim does, so they do
/// not look like the blank line ending the headers).
fn trim_empty_continuations(h: &mut Vec<u8>, size: &mut u64) {
    loop {
        let body_end = h.len() - 1; // the final newline
        let mut p = body_end;
        while p > 0 && (h[p - 1] == b' ' || h[p - 1] == b'\t') {
            p -= 1;
        }
        if p == 0 || h[p - 1] != b'\n' {
            return;
        }
        *size -= (h.len() - p) as u64;
        h.truncate(p);
    }
}

/// Read the whole message. `from_line` says whether a first line is a UUCP `From `
/// line (Exim's `uucp_from_pattern`).
pub fn read<R: Read>(
    src: &mut Source<R>,
    limits: Limits,
    from_line: &dyn Fn(&[u8]) -> bool,
) -> (Message, Stop) {
    let mut m = Message::default();
    let limit = if limits.size_limit == 0 {
        u64::MAX
    } else {
        limits.size_limit
    };
    let (first_body_line, ended, stop) = read_headers(src, &mut m, limits, limit, from_line);
    if stop != Stop::Complete {
        return (m, stop);
    }
    if limits.smtp && ended && src.eof {
        return (m, Stop::Lost(" (after header)"));
    }
    if let Some(line) = first_body_line {
        m.body_linecount += 1;
        m.body.extend_from_slice(&line);
    }
    let stop = if ended {
        Stop::Complete
    } else if limits.smtp {
        read_smtp_body(src, &mut m, limit)
    } else {
        read_body(src, &mut m, limits.dot_ends, limit)
    };
    m.linecount += m.body_linecount;
    if let Some(e) = src.error.take() {
        return (m, Stop::ReadError(e));
    }
    (m, stop)
}

/// The header section. Returns the first body line when a non-header line ended it,
/// and whether the whole message already ended (dot or end of input).
fn read_headers<R: Read>(
    src: &mut Source<R>,
    m: &mut Message,
    limits: Limits,
    limit: u64,
    from_line: &dyn Fn(&[u8]) -> bool,
) -> (Option<Vec<u8>>, bool, Stop) {
    // Unknown, then whether the first line ended in CRLF (a later bare LF then
    // continues the header, as Exim inserts a space after it).
    let mut first_crlf: Option<bool> = None;
    let mut first_line = true;
    loop {
        let mut line: Vec<u8> = Vec::new();
        let mut zeros = 0u64;
        let mut prev_lines = 0usize;
        let mut ch;
        // One logical header line (physical lines joined by continuations).
        loop {
            ch = src.getc();
            if ch == EOF {
                if line.is_empty() {
                    return (None, true, Stop::Complete);
                }
            } else if ch == i32::from(b'\n') {
                match first_crlf {
                    None => first_crlf = Some(false),
                    Some(true) => src.ungetc(i32::from(b' ')),
                    Some(false) => {}
                }
            } else {
                let mut at_eol = false;
                if limits.dot_ends && line.is_empty() && ch == i32::from(b'.') {
                    ch = src.getc();
                    if ch == i32::from(b'\r') {
                        let after = src.getc();
                        if after == i32::from(b'\n') {
                            ch = after;
                        } else {
                            src.ungetc(after);
                        }
                    }
                    if ch == i32::from(b'\n') {
                        return (None, true, Stop::Complete);
                    }
                    if !limits.smtp {
                        line.push(b'.');
                        m.size += 1;
                    }
                    if ch == EOF {
                        at_eol = true;
                    }
                }
                if !at_eol && ch == i32::from(b'\r') {
                    let after = src.getc();
                    if after == i32::from(b'\n') {
                        first_crlf.get_or_insert(true);
                        at_eol = true;
                    } else {
                        src.ungetc(after);
                        // A bare CR becomes a newline plus a space: a continuation.
                        line.push(b'\n');
                        m.size += 1;
                        ch = i32::from(b' ');
                    }
                }
                if !at_eol {
                    if ch == 0 {
                        zeros += 1;
                    }
                    line.push(ch as u8);
                    m.size += 1;
                    if m.size >= HEADER_MAXSIZE {
                        m.headers.push(line);
                        return (None, false, Stop::HeaderTooLong);
                    }
                    continue;
                }
            }
            // End of a physical line.
            m.linecount += 1;
            m.max_line = m.max_line.max((line.len() - prev_lines) as u64);
            line.push(b'\n');
            m.size += 1;
            prev_lines = line.len();
            if line.len() == 1 {
                // The blank line ending the headers.
                return (None, ch == EOF, Stop::Complete);
            }
            if ch != EOF {
                let next = src.getc();
                if next == i32::from(b' ') || next == i32::from(b'\t') {
                    line.push(next as u8);
                    m.size += 1;
                    if m.size >= HEADER_MAXSIZE {
                        m.headers.push(line);
                        return (None, false, Stop::HeaderTooLong);
                    }
                    continue;
                }
                if next == EOF {
                    ch = EOF;
                } else {
                    src.ungetc(next);
                }
            }
            break;
        }
        if m.size > limit {
            // Exim stops reading headers; the body reader then fails at its first byte
            // (with no byte left the message is kept, the line as its body).
            return (Some(line), false, Stop::Complete);
        }
        let was_first = std::mem::replace(&mut first_line, false);
        if was_first && !limits.smtp && m.headers.is_empty() && from_line(&line) {
            m.from_line = Some(line);
        } else {
            if !is_header_line(&line) {
                m.body_zerocount = zeros;
                return (Some(line), ch == EOF, Stop::Complete);
            }
            for c in line.iter_mut().filter(|c| **c == 0) {
                *c = b'?';
            }
            trim_empty_continuations(&mut line, &mut m.size);
            if line.len() >= 7 && line[..7].eq_ignore_ascii_case(b"resent-") {
                m.resents = true;
            }
            let len = line.len() as u64;
            m.headers.push(line);
            if limits.header_line_max > 0 && len > limits.header_line_max {
                return (None, false, Stop::HeaderLineTooLong);
            }
        }
        if ch == EOF {
            return (None, true, Stop::Complete);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(input: &[u8], dot_ends: bool) -> (Message, Stop) {
        let limits = Limits {
            dot_ends,
            size_limit: 0,
            header_line_max: 0,
            smtp: false,
        };
        let mut src = Source::new(input);
        read(&mut src, limits, &|l: &[u8]| l.starts_with(b"From "))
    }

    #[test]
    fn line_ends_dots_and_counts() {
        let (m, stop) = run(
            b"Subject: hi\r\nX: a\r\n b\r\n\r\nbody\r\n.\r\nafter\r\n",
            true,
        );
        assert_eq!(stop, Stop::Complete);
        assert_eq!(
            m.headers,
            vec![b"Subject: hi\n".to_vec(), b"X: a\n b\n".to_vec()]
        );
        assert_eq!(m.body, b"body\n");
        assert_eq!(m.body_linecount, 1);
        let (m, _) = run(b"Subject: hi\n\nbody\n.\nafter\n..x\nend", false);
        assert_eq!(m.body, b"body\n.\nafter\n..x\nend\n");
        assert_eq!(m.body_linecount, 5);
    }

    #[test]
    fn from_line_and_non_header_start() {
        let (m, _) = run(b"From a@b Fri Jan  5 12:35 GMT 1996\nTo: x\n\nb\n", true);
        assert!(m.from_line.is_some());
        assert_eq!(m.headers.len(), 1);
        let (m, _) = run(b"not a header\nmore\n", true);
        assert!(m.headers.is_empty());
        assert_eq!(m.body, b"not a header\nmore\n");
    }

    #[test]
    fn size_limit_stops_reading() {
        let limits = Limits {
            dot_ends: true,
            size_limit: 20,
            header_line_max: 0,
            smtp: false,
        };
        let mut src = Source::new(&b"Subject: x\n\n0123456789012345678901234\n"[..]);
        let (m, stop) = read(&mut src, limits, &|_: &[u8]| false);
        assert_eq!(stop, Stop::TooBig);
        assert_eq!(m.size, 21);
    }
}
