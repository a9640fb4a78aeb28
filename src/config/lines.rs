//! Physical to logical lines: macros, comments, `.ifdef` family, `.include`, continuations.

use std::path::Path;

use super::error::{ConfigError, Span};
use super::macros::Macros;

/// One configuration file's text (the main file, an `.include`, or `-D`-only input).
#[derive(Debug, Clone)]
pub struct SourceFile {
    pub name: String,
    pub text: Vec<u8>,
}

/// A logical line, after macro substitution, with where it came from.
#[derive(Debug, Clone)]
pub struct Line {
    pub text: String,
    pub span: Span,
    /// The physical line number Exim reports (the last line read).
    pub lineno: u32,
    pub file_name: String,
}

struct Frame {
    file: u32,
    pos: usize,
    lineno: u32,
}

const COND_STACK: usize = 10;

/// (name, state if a macro matched, state if not, stack action)
const CONDS: &[(&str, usize, usize, i8)] = &[
    ("ifdef", 0, 1, 1),
    ("ifndef", 1, 0, 1),
    ("elifdef", 2, 3, 0),
    ("elifndef", 3, 2, 0),
    ("else", 2, 2, 0),
    ("endif", 0, 0, -1),
];
const NEXT: [[u8; 4]; 3] = [[0, 1, 2, 2], [2, 2, 0, 1], [2, 2, 2, 2]];

/// Reads logical lines from the main file and its includes.
pub struct Reader {
    pub files: Vec<SourceFile>,
    stack: Vec<Frame>,
    cstate: u8,
    cstack: Vec<u8>,
    /// Position of the line most recently read, for errors that are not about a line.
    pub last: (u32, u32),
    /// Logical lines and `# N "file"` markers, for `-bP config`.
    pub saved: Vec<String>,
}

impl Reader {
    pub fn new(main: SourceFile) -> Reader {
        Reader {
            files: vec![main],
            stack: vec![Frame {
                file: 0,
                pos: 0,
                lineno: 0,
            }],
            cstate: 0,
            cstack: Vec::new(),
            last: (0, 0),
            saved: Vec::new(),
        }
    }

    fn err_here(&self, msg: String, span: Span) -> ConfigError {
        let f = self.stack.last().map(|f| f.file).unwrap_or(0);
        ConfigError::in_line(
            msg,
            span,
            self.stack.last().map(|f| f.lineno).unwrap_or(0),
            self.files[f as usize].name.clone(),
        )
    }

    /// The next logical line, or `None` at end of input.
    pub fn next(&mut self, macros: &Macros, errors: &mut Vec<ConfigError>) -> Option<Line> {
        let mut buf: Vec<u8> = Vec::new();
        let mut len = 0usize;
        let mut start_off = 0usize;
        let mut first: Option<(u32, usize, usize)> = None;
        let mut last_end = 0usize;
        loop {
            let frame = self.stack.last_mut()?;
            let text = &self.files[frame.file as usize].text;
            if frame.pos >= text.len() {
                if self.stack.len() > 1 {
                    self.stack.pop();
                    if let Some(f) = self.stack.last() {
                        self.saved.push(format!(
                            "# {} \"{}\"",
                            f.lineno, self.files[f.file as usize].name
                        ));
                    }
                    continue;
                }
                if !self.cstack.is_empty() {
                    let sp = Span {
                        file: 0,
                        start: text.len() as u32,
                        end: text.len() as u32,
                    };
                    errors.push(self.err_here(
                        "Unexpected end of configuration file: .endif missing".into(),
                        sp,
                    ));
                    self.cstack.clear();
                }
                if len != 0 {
                    break;
                }
                self.stack.pop();
                return None;
            }
            let pstart = frame.pos;
            let pend = text[pstart..]
                .iter()
                .position(|c| *c == b'\n')
                .map(|p| pstart + p + 1)
                .unwrap_or(text.len());
            frame.pos = pend;
            frame.lineno += 1;
            let file = frame.file;
            self.last = (file, frame.lineno);
            if frame.lineno == 1 {
                self.saved
                    .push(format!("# 1 \"{}\"", self.files[file as usize].name));
            }
            buf.truncate(len);
            buf.extend_from_slice(&text[pstart..pend]);
            let line_span = Span {
                file,
                start: pstart as u32,
                end: pend as u32,
            };
            let found = {
                let mut piece = buf.split_off(len);
                let f = macros.expand(&mut piece, len == 0);
                buf.extend_from_slice(&piece);
                f
            };
            let ss = len
                + buf[len..]
                    .iter()
                    .take_while(|c| c.is_ascii_whitespace())
                    .count();
            if buf.get(ss) == Some(&b'#') {
                buf.truncate(len);
                continue;
            }
            if buf.get(ss) == Some(&b'.')
                && self.conditional(&buf[ss + 1..], found, line_span, errors)
            {
                buf.truncate(len);
                continue;
            }
            if self.cstate != 0 {
                buf.truncate(len);
                continue;
            }
            let rest = &buf[ss..];
            let inc = if rest.starts_with(b".include")
                && rest.get(8).is_some_and(|c| c.is_ascii_whitespace())
            {
                Some(false)
            } else if rest.starts_with(b".include_if_exists")
                && rest.get(18).is_some_and(|c| c.is_ascii_whitespace())
            {
                Some(true)
            } else {
                None
            };
            if let Some(if_exists) = inc {
                let arg = String::from_utf8_lossy(&rest[if if_exists { 19 } else { 9 }..])
                    .trim()
                    .to_string();
                let arg = if arg.len() >= 2 && arg.starts_with('"') && arg.ends_with('"') {
                    arg[1..arg.len() - 1].to_string()
                } else {
                    arg
                };
                buf.truncate(len);
                self.include(&arg, if_exists, line_span, errors);
                continue;
            }
            if len == 0 && rest.iter().all(|c| c.is_ascii_whitespace()) {
                // A blank line before any text is no part of the next logical line's span.
                buf.truncate(len);
                continue;
            }
            if first.is_none() || first.is_some_and(|(f, _, _)| f == file) {
                last_end = pend;
            }
            if first.is_none() {
                first = Some((file, pstart, pend));
            }
            if len == 0 {
                start_off = ss;
            } else if ss > len {
                buf.drain(len..ss);
            }
            len = buf.len();
            while len > 0 && buf[len - 1].is_ascii_whitespace() {
                len -= 1;
            }
            buf.truncate(len);
            if len > 0 {
                if buf[len - 1] != b'\\' {
                    break;
                }
                len -= 1;
                buf.truncate(len);
            }
        }
        let (f, s, _) = first.unwrap_or((0, 0, 0));
        let (ffile, lineno) = self.last;
        let text = String::from_utf8_lossy(&buf[start_off.min(buf.len())..]).into_owned();
        self.saved.push(text.clone());
        Some(Line {
            text,
            span: Span {
                file: f,
                start: s as u32,
                end: last_end.max(s) as u32,
            },
            lineno,
            file_name: self.files[ffile as usize].name.clone(),
        })
    }

    /// Handle a `.directive` line; true if it was a conditional directive (consumed).
    fn conditional(
        &mut self,
        after_dot: &[u8],
        found: bool,
        span: Span,
        errors: &mut Vec<ConfigError>,
    ) -> bool {
        for (name, a1, a2, push) in CONDS {
            if !after_dot.starts_with(name.as_bytes()) {
                continue;
            }
            // The character after the name must be a space, end of line or (quirk) 't'.
            match after_dot.get(name.len()) {
                None | Some(b' ' | b't' | b'\n') => {}
                _ => return true,
            }
            let action = if found { *a1 } else { *a2 };
            if *push > 0 {
                if self.cstack.len() >= COND_STACK {
                    errors.push(self.err_here(format!(".{name} nested too deeply"), span));
                    return true;
                }
                self.cstack.push(self.cstate);
                self.cstate = NEXT[self.cstate as usize][action];
            } else if self.cstack.is_empty() {
                errors.push(self.err_here(format!(".{name} without matching .ifdef"), span));
            } else if *push < 0 {
                self.cstate = self.cstack.pop().unwrap_or(0);
            } else {
                self.cstate = NEXT[self.cstate as usize][action];
            }
            return true;
        }
        false
    }

    fn include(&mut self, arg: &str, if_exists: bool, span: Span, errors: &mut Vec<ConfigError>) {
        let cur = self.stack.last().map(|f| f.file).unwrap_or(0);
        let path = if arg.starts_with('/') {
            arg.to_string()
        } else if if_exists {
            errors.push(self.err_here(
                format!(".include specifies a non-absolute path \"{arg}\""),
                span,
            ));
            return;
        } else {
            let cur_name = &self.files[cur as usize].name;
            let dir = Path::new(cur_name)
                .parent()
                .map(|p| p.to_string_lossy().into_owned())
                .unwrap_or_default();
            format!("{dir}/{arg}")
        };
        if if_exists && std::fs::metadata(&path).is_err() {
            return;
        }
        if self.stack.len() > 50 {
            errors.push(self.err_here(
                format!("failed to open included configuration file {path}"),
                span,
            ));
            return;
        }
        match std::fs::read(&path) {
            Ok(text) => {
                if let Some(f) = self.stack.last() {
                    self.saved.push(format!(
                        "# {} \"{}\"",
                        f.lineno, self.files[f.file as usize].name
                    ));
                }
                self.files.push(SourceFile { name: path, text });
                self.stack.push(Frame {
                    file: (self.files.len() - 1) as u32,
                    pos: 0,
                    lineno: 0,
                });
            }
            Err(_) => errors.push(self.err_here(
                format!("failed to open included configuration file {path}"),
                span,
            )),
        }
    }
}
