//! Sans-IO SMTP input: bytes in, complete commands, message bodies or BDAT chunks out.
//!
//! Commands end at LF (a CR before it and trailing white space are dropped, as Exim does).
//! Message data after DATA ends only at `CRLF.CRLF`, unless the first line of the data ended
//! in a bare LF ("LF-only mode"), as Exim 4.97.1+ does to stop SMTP smuggling: a `.` line
//! ended by a bare LF or bare CR in CRLF mode is ordinary data.

pub mod command;
pub mod lexer;
pub mod lost;

pub use command::{parse_mail_args, MailArgs};
pub use lexer::Verb;

/// Longest command line Exim reads (`SMTP_CMD_BUFFER_SIZE`); longer is unrecognised.
pub const MAX_COMMAND_LINE: usize = 16384;

/// Longest partial data line held before it is moved into the message body.
const MAX_DATA_PIECE: usize = 65536;
/// The message buffer's first size (it lives only while DATA is read).
const DATA_FIRST_CAPACITY: usize = 8192;

/// One command line, split into its verb and argument.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandLine {
    /// `None` for an unrecognised command.
    pub verb: Option<Verb>,
    /// The whole line, trailing white space removed (`$smtp_command`).
    pub line: Vec<u8>,
    /// The text after the verb, leading white space removed (`$smtp_command_argument`).
    pub arg: Vec<u8>,
    /// The line held a NUL byte (Exim shows it as `?` and refuses the command).
    pub had_nul: bool,
}

/// What the receiver produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    Command(CommandLine),
    /// A complete message after DATA, dot-unstuffed, lines ending in LF.
    Message(Vec<u8>),
    /// A complete BDAT chunk.
    Chunk(Vec<u8>),
    /// One raw line (an AUTH response), without its LF or a CR before it.
    Line(Vec<u8>),
    /// The input ended part-way through a command, message or chunk.
    Eof,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Mode {
    Command,
    /// Reading DATA: the body so far, and LF-only mode once known.
    Data {
        body: Vec<u8>,
        lf_only: Option<bool>,
        /// False after a bare LF in CRLF mode: the next bytes continue the same line.
        at_start: bool,
    },
    Chunk {
        want: usize,
    },
    /// One raw line (the answer to an AUTH `334` prompt).
    Line,
}

/// Largest input buffer kept between reads once everything in it is consumed.
const IDLE_BUF_KEEP: usize = 1024;

/// The stateful receiver; feed it bytes, then take events until it needs more.
#[derive(Debug)]
pub struct Receiver {
    buf: Vec<u8>,
    pos: usize,
    mode: Mode,
    eof: bool,
    /// Largest body kept in memory; further data is counted but dropped.
    pub max_message: usize,
    /// Bytes of data (after unstuffing) seen for the current message, kept or not.
    pub data_size: usize,
    /// Where the input ended during DATA (see [`lost::eof_place`]).
    pub data_lost_at: &'static str,
    /// The lost data held a complete, non-empty first line (Exim had read a header).
    pub data_lost_first_line: bool,
}

impl Default for Receiver {
    fn default() -> Self {
        Receiver::new()
    }
}

impl Receiver {
    pub fn new() -> Receiver {
        Receiver {
            buf: Vec::new(),
            pos: 0,
            mode: Mode::Command,
            eof: false,
            max_message: 64 * 1024 * 1024,
            data_size: 0,
            data_lost_at: "",
            data_lost_first_line: false,
        }
    }

    /// Add received bytes.
    pub fn feed(&mut self, bytes: &[u8]) {
        if self.pos > 0 && self.pos == self.buf.len() {
            self.buf.clear();
            self.pos = 0;
        } else if self.pos > 65536 {
            self.buf.drain(..self.pos);
            self.pos = 0;
        }
        self.buf.extend_from_slice(bytes);
    }

    /// All input read: an idle connection keeps no buffer sized for its last message.
    pub fn release_read_input(&mut self) {
        if self.pos == self.buf.len() {
            self.pos = 0;
            if self.buf.capacity() > IDLE_BUF_KEEP {
                self.buf = Vec::new();
            } else {
                self.buf.clear();
            }
        }
    }

    /// The peer closed its side.
    pub fn close(&mut self) {
        self.eof = true;
    }

    /// Forget unread input (after STARTTLS: nothing sent in clear may count as sent
    /// under TLS). The bytes are overwritten before they are released.
    pub fn discard(&mut self) {
        self.buf.fill(0);
        self.buf.clear();
        self.pos = 0;
    }

    /// Is there unread input (for Exim's synchronization check)?
    pub fn pending(&self) -> bool {
        self.pos < self.buf.len()
    }

    /// After `354`: read a message terminated by a dot line.
    pub fn start_data(&mut self) {
        self.mode = Mode::Data {
            // Room for a typical message up front instead of a dozen doublings.
            body: Vec::with_capacity(DATA_FIRST_CAPACITY),
            lf_only: None,
            at_start: true,
        };
        self.data_size = 0;
    }

    /// After `BDAT n`: read exactly `n` bytes.
    pub fn start_chunk(&mut self, n: usize) {
        self.mode = Mode::Chunk { want: n };
    }

    /// After an AUTH `334` prompt: read one raw line.
    pub fn start_line(&mut self) {
        self.mode = Mode::Line;
    }

    /// The next complete event, or `None` when more input is needed.
    pub fn next_event(&mut self) -> Option<Event> {
        match self.mode {
            Mode::Command => self.next_command(),
            Mode::Data { .. } => self.next_data(),
            Mode::Line => self.next_line(),
            Mode::Chunk { want } => {
                let have = self.buf.len() - self.pos;
                if have >= want {
                    let chunk = self.buf[self.pos..self.pos + want].to_vec();
                    self.pos += want;
                    self.mode = Mode::Command;
                    Some(Event::Chunk(chunk))
                } else if self.eof {
                    self.pos = self.buf.len();
                    self.mode = Mode::Command;
                    Some(Event::Eof)
                } else {
                    None
                }
            }
        }
    }

    fn next_command(&mut self) -> Option<Event> {
        let rest = &self.buf[self.pos..];
        let Some(nl) = rest.iter().position(|&c| c == b'\n') else {
            if rest.len() > MAX_COMMAND_LINE {
                // Exim stops reading an over-long line and treats it as unrecognised; the
                // rest of the line is read as the next command.
                let line = rest[..MAX_COMMAND_LINE].to_vec();
                self.pos += MAX_COMMAND_LINE + 1;
                return Some(Event::Command(CommandLine {
                    verb: None,
                    line,
                    arg: Vec::new(),
                    had_nul: false,
                }));
            }
            if self.eof {
                self.pos = self.buf.len();
                return Some(Event::Eof);
            }
            return None;
        };
        let raw = &rest[..nl];
        self.pos += nl + 1;
        Some(Event::Command(split_command(raw)))
    }

    fn next_line(&mut self) -> Option<Event> {
        let rest = &self.buf[self.pos..];
        let Some(nl) = rest.iter().position(|&c| c == b'\n') else {
            if rest.len() >= MAX_COMMAND_LINE {
                // Exim's buffer bounds the answer: a line this long is refused as bad
                // base64 (the caller checks the length) and the rest read as commands.
                let line = rest[..MAX_COMMAND_LINE].to_vec();
                self.pos += MAX_COMMAND_LINE;
                self.mode = Mode::Command;
                return Some(Event::Line(line));
            }
            if self.eof {
                self.pos = self.buf.len();
                self.mode = Mode::Command;
                return Some(Event::Eof);
            }
            return None;
        };
        let mut line = rest[..nl].to_vec();
        if line.last() == Some(&b'\r') {
            line.pop();
        }
        self.pos += nl + 1;
        self.mode = Mode::Command;
        Some(Event::Line(line))
    }

    fn next_data(&mut self) -> Option<Event> {
        loop {
            let rest = &self.buf[self.pos..];
            let Mode::Data {
                body,
                lf_only,
                at_start,
            } = &mut self.mode
            else {
                return None;
            };
            let Some(nl) = rest.iter().position(|&c| c == b'\n') else {
                if self.eof {
                    self.data_lost_at = lost::eof_place(body, !rest.is_empty() || !*at_start);
                    self.data_lost_first_line =
                        body.iter().position(|&c| c == b'\n').is_some_and(|i| i > 0);
                    self.pos = self.buf.len();
                    self.mode = Mode::Command;
                    return Some(Event::Eof);
                }
                if rest.len() > MAX_DATA_PIECE {
                    // A very long line: keep its start as data (no dot can end it now),
                    // so the buffer stays bounded. Keep a trailing CR for the CRLF check.
                    let take = rest.len() - 1;
                    let skip = usize::from(*at_start && rest[0] == b'.');
                    push_data(
                        body,
                        &rest[skip..take],
                        &mut self.data_size,
                        self.max_message,
                    );
                    self.pos += take;
                    *at_start = false;
                    lf_only.get_or_insert(false);
                }
                return None;
            };
            let crlf = nl > 0 && rest[nl - 1] == b'\r';
            let lf_mode = *lf_only.get_or_insert(!crlf);
            let line = &rest[..nl + 1];
            if !crlf && !lf_mode {
                // A bare LF in CRLF mode does not end a line: keep it as data.
                push_data(body, line, &mut self.data_size, self.max_message);
                self.pos += nl + 1;
                *at_start = false;
                continue;
            }
            let content = if crlf { &line[..nl - 1] } else { &line[..nl] };
            self.pos += nl + 1;
            if !*at_start {
                *at_start = true;
                push_line(body, content, &mut self.data_size, self.max_message);
                continue;
            }
            if content == b"." {
                let body = std::mem::take(body);
                self.mode = Mode::Command;
                return Some(Event::Message(body));
            }
            let content = content.strip_prefix(b".").unwrap_or(content);
            push_line(body, content, &mut self.data_size, self.max_message);
        }
    }
}

/// `push_data` of `content` and a newline, without joining them first.
fn push_line(body: &mut Vec<u8>, content: &[u8], size: &mut usize, max: usize) {
    *size = size.saturating_add(content.len() + 1);
    if body.len() < max {
        let room = max - body.len();
        if content.len() < room {
            body.extend_from_slice(content);
            body.push(b'\n');
        } else {
            body.extend_from_slice(&content[..room]);
        }
    }
}

fn push_data(body: &mut Vec<u8>, line: &[u8], size: &mut usize, max: usize) {
    *size = size.saturating_add(line.len());
    if body.len() < max {
        let room = max - body.len();
        body.extend_from_slice(&line[..line.len().min(room)]);
    }
}

/// Split a command line (without its LF) the way Exim's `smtp_read_command` does.
pub fn split_command(raw: &[u8]) -> CommandLine {
    if raw.len() > MAX_COMMAND_LINE {
        return CommandLine {
            verb: None,
            line: raw[..MAX_COMMAND_LINE].to_vec(),
            arg: Vec::new(),
            had_nul: false,
        };
    }
    let mut line: Vec<u8> = raw.to_vec();
    while line
        .last()
        .is_some_and(|c| c.is_ascii_whitespace() || *c == 0x0b)
    {
        line.pop();
    }
    let had_nul = line.contains(&0);
    for c in line.iter_mut() {
        if *c == 0 {
            *c = b'?';
        }
    }
    let (verb, arg) = match lexer::verb(&line) {
        Some((v, end)) => {
            let a = &line[end..];
            let skip = a.iter().take_while(|c| c.is_ascii_whitespace()).count();
            (Some(v), a[skip..].to_vec())
        }
        None => (None, Vec::new()),
    };
    CommandLine {
        verb,
        line,
        arg,
        had_nul,
    }
}

#[cfg(test)]
mod tests;
