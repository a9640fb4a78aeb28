//! The body of a local message: Exim's `read_message_data` (LF, CRLF and bare CR line
//! ends, a lone dot ending it unless `-i`, a final newline added) and the batched-SMTP
//! reader (dot-unstuffing).

use std::io::Read;

use super::{Message, Source, Stop, EOF};

/// A batched-SMTP body: LF, CRLF or bare CR end lines, a leading dot is removed, a
/// lone dot ends the message; end of input first loses it.
pub(super) fn read_smtp_body<R: Read>(src: &mut Source<R>, m: &mut Message, limit: u64) -> Stop {
    let mut line: Vec<u8> = Vec::new();
    loop {
        let ch = src.getc();
        let eol = match ch {
            EOF => return Stop::Lost(""),
            c if c == i32::from(b'\n') => true,
            c if c == i32::from(b'\r') => {
                let next = src.getc();
                if next != i32::from(b'\n') {
                    src.ungetc(next);
                }
                true
            }
            _ => false,
        };
        if !eol {
            if ch == 0 {
                m.body_zerocount += 1;
            }
            line.push(ch as u8);
            continue;
        }
        if line == b"." {
            return Stop::Complete;
        }
        let text = line.strip_prefix(b".").unwrap_or(&line);
        m.max_line = m.max_line.max(text.len() as u64);
        m.body.extend_from_slice(text);
        m.body.push(b'\n');
        m.body_linecount += 1;
        m.size += text.len() as u64 + 1;
        line.clear();
        if m.size > limit {
            return Stop::TooBig;
        }
    }
}

/// The body (Exim's `read_message_data`).
pub(super) fn read_body<R: Read>(
    src: &mut Source<R>,
    m: &mut Message,
    dot_ends: bool,
    limit: u64,
) -> Stop {
    let out = &mut m.body;
    let mut line_len: u64 = 0;
    let end_line = |len: &mut u64, lines: &mut u64, max: &mut u64| {
        *max = (*max).max(*len);
        *len = 0;
        *lines += 1;
    };
    if !dot_ends {
        let mut last = i32::from(b'\n');
        loop {
            let ch = src.getc();
            if ch == EOF {
                break;
            }
            if ch == 0 {
                m.body_zerocount += 1;
            }
            if last == i32::from(b'\r') && ch != i32::from(b'\n') {
                out.push(b'\n');
                m.size += 1;
                end_line(&mut line_len, &mut m.body_linecount, &mut m.max_line);
            }
            last = ch;
            if ch == i32::from(b'\r') {
                continue;
            }
            out.push(ch as u8);
            if ch == i32::from(b'\n') {
                end_line(&mut line_len, &mut m.body_linecount, &mut m.max_line);
            } else {
                line_len += 1;
            }
            m.size += 1;
            if m.size > limit {
                return Stop::TooBig;
            }
        }
        if last != i32::from(b'\n') {
            out.push(b'\n');
            m.size += 1;
            end_line(&mut line_len, &mut m.body_linecount, &mut m.max_line);
        }
        return Stop::Complete;
    }
    // States: 0 in a line, 1 after a written LF, 2 after an unwritten CR, 3 after LF
    // and an unwritten dot, 4 after LF, dot and an unwritten CR.
    let mut state = 1u8;
    loop {
        let ch = src.getc();
        if ch == EOF {
            break;
        }
        if ch == 0 {
            m.body_zerocount += 1;
        }
        let c = ch as u8;
        match state {
            0 if c == b'\n' => {
                end_line(&mut line_len, &mut m.body_linecount, &mut m.max_line);
                state = 1;
                line_len = u64::MAX; // the LF itself is counted below
            }
            0 if c == b'\r' => {
                state = 2;
                continue;
            }
            1 if c == b'.' => {
                state = 3;
                continue;
            }
            1 if c == b'\r' => {
                state = 2;
                continue;
            }
            1 if c == b'\n' => {
                m.body_linecount += 1;
                line_len = u64::MAX;
            }
            1 => state = 0,
            2 => {
                m.body_linecount += 1;
                m.max_line = m.max_line.max(line_len);
                if c == b'\n' {
                    state = 1;
                    line_len = u64::MAX;
                } else {
                    m.size += 1;
                    out.push(b'\n');
                    if c == b'\r' {
                        continue;
                    }
                    state = 0;
                    line_len = 0;
                }
            }
            3 if c == b'\n' => return Stop::Complete,
            3 if c == b'\r' => {
                state = 4;
                continue;
            }
            3 => {
                m.size += 1;
                line_len = line_len.wrapping_add(1);
                out.push(b'.');
                state = 0;
            }
            4 if c == b'\n' => return Stop::Complete,
            4 => {
                m.size += 2;
                m.body_linecount += 1;
                out.extend_from_slice(b".\n");
                if c == b'\r' {
                    state = 2;
                    continue;
                }
                state = 0;
            }
            _ => {}
        }
        line_len = line_len.wrapping_add(1);
        out.push(c);
        m.size += 1;
        if m.size > limit {
            return Stop::TooBig;
        }
    }
    // End of input: finish the last line and anything held back.
    let tail: &[u8] = match state {
        0 | 2 => b"\n",
        3 | 4 => b".\n",
        _ => b"",
    };
    if !tail.is_empty() {
        out.extend_from_slice(tail);
        m.size += tail.len() as u64;
        m.body_linecount += 1;
    }
    Stop::Complete
}
