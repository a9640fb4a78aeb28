//! The session's output: reply lines, log lines, and the syntax/protocol error
//! replies with their counting.

use super::{Done, Session};

impl Session {
    /// Write one reply line (CRLF added).
    pub fn reply(&mut self, line: &str) {
        if self.rcpt_in_progress {
            self.note_rcpt_response(line.to_string());
        }
        self.out.extend_from_slice(line.as_bytes());
        self.out.extend_from_slice(b"\r\n");
    }

    /// Write raw text (the `-bh` notices).
    pub fn write_raw(&mut self, text: &str) {
        self.out.extend_from_slice(text.as_bytes());
    }

    pub(super) fn note_rcpt_response(&mut self, text: String) {
        match &self.rcpt_response {
            None => self.rcpt_response = Some(text),
            Some(old) if *old != text => self.rcpt_response_same = false,
            Some(_) => {}
        }
        self.rcpt_in_progress = false;
    }

    /// Exim's `smtp_respond`: `code` may carry an enhanced status (`550 5.7.1 `); each
    /// newline in `msg` starts a continuation line.
    pub fn respond(&mut self, code: &str, last: bool, msg: &str) {
        if self.rcpt_in_progress {
            self.note_rcpt_response(msg.to_string());
        }
        let (num, esc) = if code.len() > 4 {
            (&code[..3], &code[4..])
        } else {
            (&code[..3.min(code.len())], "")
        };
        let mut rest = msg;
        loop {
            match rest.find('\n') {
                None => {
                    let sep = if last { ' ' } else { '-' };
                    self.raw_line(&format!("{num}{sep}{esc}{rest}"));
                    return;
                }
                Some(i) if i + 1 == rest.len() => {
                    let sep = if last { ' ' } else { '-' };
                    self.raw_line(&format!("{num}{sep}{esc}{}", &rest[..i]));
                    return;
                }
                Some(i) => {
                    self.raw_line(&format!("{num}-{esc}{}", &rest[..i]));
                    rest = rest[i + 1..].trim_start();
                }
            }
        }
    }

    pub(super) fn raw_line(&mut self, line: &str) {
        self.out.extend_from_slice(line.as_bytes());
        self.out.extend_from_slice(b"\r\n");
    }

    pub fn log(&mut self, line: String) {
        // The `-bh` trace written so far comes first.
        if self.ctx.trace.is_some() {
            let trace = self.ctx.take_trace();
            self.log.extend(trace);
        }
        // While a message is in reception Exim's rejectlog lines carry its listing.
        let line = if !self.host_checking && crate::log::is_rejection(&line) {
            crate::smtp::verbs::listing::attach(self, line)
        } else {
            line
        };
        match &self.log_id {
            Some(id) if !line.starts_with(id.as_str()) => self.log.push(format!("{id} {line}")),
            _ => self.log.push(line),
        }
    }

    pub(super) fn synprot_log(&mut self, kind: &str, msg: &str) {
        if !self.cfg.log_session.synprot(kind) {
            return;
        }
        let line = format!(
            "SMTP {kind} error in \"{}\" {} {msg}",
            String::from_utf8_lossy(&self.cmd.line),
            self.host_and_ident()
        );
        self.log(line);
    }

    /// Exim's `synprot_error`: reply, count, and close once the count passes
    /// `smtp_max_synprot_errors`.
    pub fn synprot_error(&mut self, kind: &str, code: u16, msg: &str) -> Done {
        self.synprot_error_data(kind, code, None, msg)
    }

    pub fn synprot_error_data(
        &mut self,
        kind: &str,
        code: u16,
        data: Option<&str>,
        msg: &str,
    ) -> Done {
        self.synprot_log(kind, msg);
        self.synprot_errors += 1;
        let over = self.synprot_errors > self.cfg.smtp_max_synprot_errors;
        if over {
            self.too_many_errors_log();
        }
        let sep = if over { '-' } else { ' ' };
        let data = data.map(|d| format!("{d}: ")).unwrap_or_default();
        self.reply(&format!("{code}{sep}{data}{msg}"));
        if over {
            self.reply(&format!("{code} Too many syntax or protocol errors"));
            Done::Close
        } else {
            Done::Continue
        }
    }

    pub(crate) fn too_many_errors_log(&mut self) {
        let line = format!(
            "SMTP call from {} dropped: too many syntax or protocol errors (last command was \"{}\", {})",
            self.host_and_ident().trim_start_matches("H="),
            String::from_utf8_lossy(&self.cmd.line),
            self.history.log_element()
        );
        self.log(line);
    }
}

/// Length of a leading SMTP code in a custom message (`550 ` or `550 5.7.1 `), as
/// Exim's `regex_smtp_code` matches it.
pub fn smtp_code_len(msg: &str) -> Option<usize> {
    let b = msg.as_bytes();
    if b.len() < 4 || !b[..3].iter().all(u8::is_ascii_digit) || !b[3].is_ascii_whitespace() {
        return None;
    }
    let mut len = 4;
    // Optional enhanced status code d.ddd.ddd followed by white space.
    let rest = &b[4..];
    let mut i = 0;
    let digits = |i: &mut usize, min: usize, max: usize| -> bool {
        let start = *i;
        while *i < rest.len() && rest[*i].is_ascii_digit() && *i - start < max {
            *i += 1;
        }
        *i - start >= min
    };
    if digits(&mut i, 1, 1)
        && rest.get(i) == Some(&b'.')
        && {
            i += 1;
            digits(&mut i, 1, 3)
        }
        && rest.get(i) == Some(&b'.')
        && {
            i += 1;
            digits(&mut i, 1, 3)
        }
        && rest.get(i).is_some_and(u8::is_ascii_whitespace)
    {
        len += i + 1;
    }
    Some(len)
}
