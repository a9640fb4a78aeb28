//! A received message as expansions see it: header lines and body (for `$h_*`, `$message_body`).

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

    /// The text after `Name:`, untouched.
    pub fn raw_value(&self) -> &[u8] {
        match self.text.iter().position(|&c| c == b':') {
            Some(i) => &self.text[i + 1..],
            None => &[],
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct Message {
    pub headers: Vec<Header>,
    pub body: Vec<u8>,
}

impl Message {
    /// Split an RFC 5322 message (LF or CRLF line ends) into headers and body.
    pub fn parse(data: &[u8]) -> Message {
        let mut headers: Vec<Header> = Vec::new();
        let mut pos = 0;
        while pos < data.len() {
            let end = data[pos..]
                .iter()
                .position(|&c| c == b'\n')
                .map(|i| pos + i + 1)
                .unwrap_or(data.len());
            let mut line = data[pos..end].to_vec();
            if line.ends_with(b"\r\n") {
                line.truncate(line.len() - 2);
                line.push(b'\n');
            }
            pos = end;
            if line == b"\n" {
                break;
            }
            let continuation = matches!(line.first(), Some(b' ') | Some(b'\t'));
            match headers.last_mut() {
                Some(h) if continuation => h.text.extend_from_slice(&line),
                _ if !line.contains(&b':') => {
                    // Not a header: the body starts here (as Exim does for -bem input).
                    pos -= line.len();
                    break;
                }
                _ => headers.push(Header { text: line }),
            }
        }
        Message {
            headers,
            body: data[pos.min(data.len())..].to_vec(),
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
