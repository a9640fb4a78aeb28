//! A received message as expansions see it: header lines and body (for `$h_*`, `$message_body`),
//! read the way `exim -bem` reads one, and the message variables derived from it.

use crate::expand::address;
use crate::expand::context::Context;
use crate::expand::value::Val;

/// One header line as received, including its name and trailing newline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// Full text, e.g. `Subject: hi\n` (continuation lines included).
    pub text: Vec<u8>,
}

impl Header {
    /// The name part (before the colon).
    pub fn name(&self) -> &[u8] {
        let end = self
            .text
            .iter()
            .position(|&c| c == b':')
            .unwrap_or(self.text.len());
        &self.text[..end]
    }

    /// The whole header as received (name, colon, value, newline).
    pub fn text(&self) -> &[u8] {
        &self.text
    }

    /// The text after `Name:`, untouched.
    pub fn raw_value(&self) -> &[u8] {
        match self.text.iter().position(|&c| c == b':') {
            Some(i) => &self.text[i + 1..],
            None => &[],
        }
    }
}

/// What Exim counts while reading a message (`$message_size`, `$message_linecount` ...).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counts {
    /// `$message_size`: header section (as stored) plus body, in bytes.
    pub size: u64,
    /// `$message_linecount`: header lines, the blank line and body lines.
    pub linecount: u64,
    /// `$body_linecount`.
    pub body_linecount: u64,
    /// `$body_zerocount`: NUL bytes in the body.
    pub body_zerocount: u64,
    /// `$message_body_size`.
    pub body_size: u64,
    /// `$max_received_linelength` (header lines).
    pub max_line_length: u64,
}

#[derive(Debug, Clone, Default)]
pub struct Message {
    pub headers: Vec<Header>,
    pub body: Vec<u8>,
    pub counts: Counts,
    /// The sender named by a leading UUCP-style `From user date` line, if any.
    pub uucp_sender: Option<Vec<u8>>,
}

/// Exim's default `uucp_from_pattern` (a leading `From user Mon Jan  5 12:35 ...` line).
const UUCP_FROM_PATTERN: &[u8] = br"^From\s+(\S+)\s+(?:[a-zA-Z]{3},?\s+)?(?:[a-zA-Z]{3}\s+\d?\d|\d?\d\s+[a-zA-Z]{3}\s+\d\d(?:\d\d)?)\s+\d\d?:\d\d?";

/// The sender (Exim's default `uucp_from_sender`, `$1`) of a UUCP `From ` line.
fn uucp_from_line(line: &[u8]) -> Option<Vec<u8>> {
    // The pattern starts `^From\s`: a first line like `From: ...` is not worth a regex.
    if !line.starts_with(b"From")
        || !line
            .get(4)
            .is_some_and(|&c| matches!(c, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r'))
    {
        return None;
    }
    let re = crate::expand::regex::compile(UUCP_FROM_PATTERN, false).ok()?;
    let caps = re.captures(line).ok()??;
    Some(caps.get(1)?.as_bytes().to_vec())
}

/// How the header section ended.
#[derive(PartialEq, Eq)]
enum HeaderEnd {
    /// A blank line: the body follows.
    Blank,
    /// A line that is not a header: it is lost, the body follows it.
    NotHeader,
    /// End of input, or a line holding just `.`: there is no body.
    NoBody,
}

/// Whether a complete (unfolded) line is syntactically a header: a name of
/// printable characters, optional white space, then a colon.
fn is_header_line(line: &[u8]) -> bool {
    if line.first().is_none_or(|c| c.is_ascii_whitespace()) {
        return false;
    }
    let name_end = line
        .iter()
        .position(|&c| !c.is_ascii_graphic() || c == b':')
        .unwrap_or(line.len());
    let rest = &line[name_end..];
    let colon = rest
        .iter()
        .position(|c| !c.is_ascii_whitespace())
        .unwrap_or(rest.len());
    rest.get(colon) == Some(&b':')
}

impl Message {
    /// Read a message as `exim -bem` does (non-SMTP input where a line holding only
    /// `.` ends the message), with Exim's counting quirks.
    pub fn parse(data: &[u8]) -> Message {
        Message::read(data, 500)
    }

    /// As [`Message::parse`]; `visible` is `message_body_visible`, which the body line
    /// count depends on (Exim counts with a ring buffer of that size).
    pub fn read(data: &[u8], visible: usize) -> Message {
        let mut m = Message::default();
        let (end, pos) = m.read_headers(data);
        if end != HeaderEnd::NoBody && pos < data.len() {
            m.read_body(&data[pos..], visible);
        }
        m.counts.linecount += m.counts.body_linecount;
        m
    }

    /// The header section, from the start of `data`; returns how it ended and where
    /// the body starts.
    fn read_headers(&mut self, data: &[u8]) -> (HeaderEnd, usize) {
        let c = &mut self.counts;
        let mut pos = 0;
        let mut current: Option<Vec<u8>> = None;
        loop {
            // One physical line, CRLF or LF ended (EOF ends a line too).
            let mut line = Vec::new();
            let mut at_eof = false;
            let mut first = true;
            let rest = &data[pos..];
            let newline = rest.iter().position(|&b| b == b'\n');
            let plain = &rest[..newline.unwrap_or(rest.len())];
            // The usual line, without CR or a leading dot, is taken whole.
            let whole = !plain.contains(&b'\r') && plain.first() != Some(&b'.');
            if whole {
                line.reserve_exact(plain.len() + 1);
                line.extend_from_slice(plain);
                pos += plain.len() + usize::from(newline.is_some());
                at_eof = newline.is_none();
            } else {
                loop {
                    let Some(&ch) = data.get(pos) else {
                        at_eof = true;
                        break;
                    };
                    pos += 1;
                    if ch == b'\n' {
                        break;
                    }
                    if ch == b'.' && first && current.is_none() {
                        let rest = &data[pos..];
                        if rest.first() == Some(&b'\n') || rest.starts_with(b"\r\n") {
                            return (HeaderEnd::NoBody, data.len());
                        }
                    }
                    if ch == b'\r' {
                        if data.get(pos) == Some(&b'\n') {
                            pos += 1;
                            break;
                        }
                        // A bare CR becomes a newline plus a space (a continuation).
                        line.extend_from_slice(b"\n ");
                        first = false;
                        continue;
                    }
                    line.push(ch);
                    first = false;
                }
            }
            c.linecount += 1;
            c.max_line_length = c.max_line_length.max(line.len() as u64);
            line.push(b'\n');
            let blank = line == b"\n" && current.is_none();
            c.size += line.len() as u64;
            if blank {
                return (HeaderEnd::Blank, pos);
            }
            let text = match current.take() {
                Some(mut t) => {
                    t.extend_from_slice(&line);
                    t
                }
                None => line,
            };
            let next_is_continuation = matches!(data.get(pos), Some(b' ') | Some(b'\t'));
            if !at_eof && next_is_continuation {
                current = Some(text);
                continue;
            }
            if self.headers.is_empty() && self.uucp_sender.is_none() {
                if let Some(sender) = uucp_from_line(&text) {
                    self.uucp_sender = Some(sender);
                    continue;
                }
            }
            if !is_header_line(&text) {
                return (
                    if at_eof {
                        HeaderEnd::NoBody
                    } else {
                        HeaderEnd::NotHeader
                    },
                    pos,
                );
            }
            let mut text = text;
            trim_blank_continuations(&mut text, &mut c.size);
            for b in text.iter_mut() {
                if *b == 0 {
                    *b = b'?';
                }
            }
            self.headers.push(Header { text });
            if at_eof || pos >= data.len() {
                return (HeaderEnd::NoBody, pos);
            }
        }
    }

    /// The body as Exim's filter-test reader takes it: up to a line holding only `.`.
    /// Line by line, not byte by byte: only a line that is just `.` is special (it ends
    /// the body); the count skips empty lines, as the reader's state machine does.
    fn read_body(&mut self, data: &[u8], visible: usize) {
        let c = &mut self.counts;
        let mut body = Vec::with_capacity(data.len());
        let mut rest = data;
        while !rest.is_empty() {
            let (line, ended) = match rest.iter().position(|&b| b == b'\n') {
                Some(i) => (&rest[..=i], true),
                None => (rest, false),
            };
            if line == b".\n" || line == b"." {
                break;
            }
            c.body_zerocount += line.iter().filter(|&&b| b == 0).count() as u64;
            if ended && line.len() > 1 {
                c.body_linecount += 1;
            }
            body.extend_from_slice(line);
            rest = &rest[line.len()..];
        }
        // Exim keeps the tail in a ring of visible+1 bytes and looks at the byte
        // before its write position: "empty" whenever that position is the start.
        let ring = visible.saturating_add(1);
        if body.len() % ring == 0 || body.last() != Some(&b'\n') {
            c.body_linecount += 1;
        }
        c.body_size = body.len() as u64;
        c.size += c.body_size;
        self.body = body;
    }
    /// Add the headers Exim adds to a locally submitted message that lacks them, in
    /// Exim's order: `Message-Id:`, `From:`, `Date:` (values as given).
    pub fn add_local_headers(&mut self, message_id: &str, from: &str, date: &str) {
        for (name, value) in [("Message-Id", message_id), ("From", from), ("Date", date)] {
            if self.find(name).next().is_none() {
                let text = format!("{name}: {value}\n").into_bytes();
                self.headers.push(Header { text });
            }
        }
    }

    /// Qualify unqualified addresses in the address headers of a locally submitted
    /// message, as Exim does: `To: Fred <fred>, joe` becomes
    /// `To: Fred <fred@DOMAIN>, joe@DOMAIN`. Unparsable addresses are left alone.
    pub fn qualify_addresses(&mut self, domain: &[u8]) {
        for h in &mut self.headers {
            let name = String::from_utf8_lossy(h.name()).to_ascii_lowercase();
            if !crate::expand::headers::ADDRESS_HEADERS.contains(&name.as_str()) {
                continue;
            }
            let colon = h.name().len() + 1;
            let value = h.text.get(colon..).unwrap_or_default();
            let mut parser = address::Parser::new(address::Options::default());
            parser.allow_group = true;
            let mut out = h.text[..colon.min(h.text.len())].to_vec();
            let mut rest = value;
            loop {
                let end = address::find_address_end(rest, false);
                let item = &rest[..end];
                match parser.extract(item) {
                    Ok(a)
                        if a.domain_offset == 0 && !a.address.is_empty() && a.end <= item.len() =>
                    {
                        out.extend_from_slice(&item[..a.start]);
                        out.extend_from_slice(&a.address);
                        out.push(b'@');
                        out.extend_from_slice(domain);
                        out.extend_from_slice(&item[a.end..]);
                    }
                    _ => out.extend_from_slice(item),
                }
                if end >= rest.len() {
                    break;
                }
                out.push(b',');
                rest = &rest[end + 1..];
            }
            h.text = out;
        }
    }

    /// Headers whose name matches `name` (with trailing colon), case-insensitively.
    pub fn find<'a>(&'a self, name_with_colon: &'a str) -> impl Iterator<Item = &'a Header> + 'a {
        let want = name_with_colon.trim_end_matches(':').as_bytes();
        self.headers
            .iter()
            .filter(move |h| h.name().eq_ignore_ascii_case(want))
    }
}

/// Exim drops white-space-only continuation lines at the end of a header (and
/// does not count them in the message size).
fn trim_blank_continuations(text: &mut Vec<u8>, size: &mut u64) {
    // `text` ends with a newline; look back from the byte before it.
    while let Some(mut p) = text.len().checked_sub(2) {
        while matches!(text[p], b' ' | b'\t') {
            match p.checked_sub(1) {
                Some(q) => p = q,
                None => return,
            }
        }
        if text[p] != b'\n' {
            return;
        }
        let new_len = p + 1;
        *size = size.saturating_sub((text.len() - new_len) as u64);
        text.truncate(new_len);
    }
}

/// Message variables (`$message_size`, `$message_body` ...): from the loaded message, or
/// Exim's initial values when there is none. `None` for names that are not message variables.
pub fn variable(ctx: &Context, name: &str) -> Option<Val> {
    let msg = ctx.message.as_deref();
    let counts = msg.map(|m| m.counts.clone()).unwrap_or_default();
    let number = |n: u64| Some(Val::from(n.to_string()));
    match name {
        "message_size" => number(counts.size),
        "message_linecount" => number(counts.linecount),
        "message_body_size" => number(counts.body_size),
        "body_linecount" => number(counts.body_linecount),
        "body_zerocount" => number(counts.body_zerocount),
        "max_received_linelength" => number(counts.max_line_length),
        // Exim counts the Received: header it adds itself.
        "received_count" => {
            let received = msg.map_or(0, |m| m.find("received:").count() as u64);
            number(received + u64::from(msg.is_some()))
        }
        "message_body" | "message_body_end" => {
            let body = msg.map(|m| m.body.as_slice()).unwrap_or_default();
            let visible = ctx.settings.message_body_visible.min(body.len());
            let part = if name == "message_body" {
                &body[..visible]
            } else {
                &body[body.len() - visible..]
            };
            let keep_newlines = ctx.settings.message_body_newlines;
            let shown = part
                .iter()
                .map(|&c| match c {
                    0 => b' ',
                    b'\n' if !keep_newlines => b' ',
                    c => c,
                })
                .collect::<Vec<u8>>();
            Some(Val::tainted(shown))
        }
        "reply_address" => Some(Val::tainted(msg.map(reply_address).unwrap_or_default())),
        "message_headers" => Some(crate::expand::headers::all(ctx, false)),
        "message_headers_raw" => Some(crate::expand::headers::all(ctx, true)),
        _ => None,
    }
}

/// `$reply_address`: the raw `Reply-To:` text, or `From:` when that is empty or absent,
/// newlines turned into spaces and surrounding white space removed.
fn reply_address(m: &Message) -> Vec<u8> {
    let raw = |name: &str| -> Option<Vec<u8>> {
        let parts: Vec<&[u8]> = m.find(name).map(|h| h.raw_value()).collect();
        (!parts.is_empty()).then(|| parts.concat())
    };
    let trimmed = |v: Vec<u8>| -> Vec<u8> {
        let start = v
            .iter()
            .position(|c| !c.is_ascii_whitespace())
            .unwrap_or(v.len());
        v[start..].to_vec()
    };
    let mut value = match raw("reply-to:").map(trimmed) {
        Some(v) if !v.is_empty() => v,
        _ => raw("from:").map(trimmed).unwrap_or_default(),
    };
    for c in value.iter_mut() {
        if *c == b'\n' {
            *c = b' ';
        }
    }
    while value.last().is_some_and(|c| c.is_ascii_whitespace()) {
        value.pop();
    }
    value
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The reader's byte-by-byte state machine, as `read_body` was first written: the
    /// line-by-line version must count and keep exactly the same.
    fn byte_reader(data: &[u8]) -> (Vec<u8>, u64, u64) {
        let (mut lines, mut zeros, mut state, mut body) = (0, 0, 1u8, Vec::new());
        for &ch in data {
            if ch == 0 {
                zeros += 1;
            }
            match state {
                0 if ch == b'\n' => {
                    lines += 1;
                    state = 1;
                }
                1 if ch == b'.' => {
                    state = 2;
                    continue;
                }
                1 if ch != b'\n' => state = 0,
                2 => {
                    if ch == b'\n' {
                        break;
                    }
                    body.push(b'.');
                    state = 0;
                }
                _ => {}
            }
            body.push(ch);
        }
        (body, lines, zeros)
    }

    #[test]
    fn body_reader_line_by_line_matches_the_byte_reader() {
        let cases: &[&[u8]] = &[
            b"",
            b"a\n",
            b"a\n\nb\n",
            b"\n\n\n",
            b"a\n.\nafter\n",
            b".\n",
            b".",
            b"a\n.",
            b"..\n.x\n. \n",
            b"a\0b\n\0\n.\n\0",
            b"no newline at the end",
            b"a\r\n.\r\nb\r\n",
            b"x\n..\n.\n",
        ];
        for &data in cases {
            let mut m = Message::default();
            m.read_body(data, 500);
            let (body, lines, zeros) = byte_reader(data);
            let text = String::from_utf8_lossy(data);
            assert_eq!(m.body, body, "{text:?}");
            assert_eq!(m.counts.body_zerocount, zeros, "{text:?}");
            // `read_body` adds the ring buffer's last-line rule on top.
            let extra = u64::from(body.len() % 501 == 0 || body.last() != Some(&b'\n'));
            assert_eq!(m.counts.body_linecount, lines + extra, "{text:?}");
        }
    }
}
