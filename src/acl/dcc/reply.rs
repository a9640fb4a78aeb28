//! dccifd's answer: the overall result on line 1, one result per recipient on line 2
//! (ignored, as Exim ignores it), then the `X-DCC-…` header. Parsed as Exim's dcc.c
//! parses it when the whole answer arrives in one read; rexim always reads it whole.

use crate::acl::engine::Rc;

/// Exim keeps at most this many bytes of the header (`DCC_HEADER_LIMIT`).
pub const HEADER_LIMIT: usize = 120;

/// The parts of an answer Exim uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// The first byte of line 1, unless line 1 is empty.
    pub overall: Option<u8>,
    /// Line 1 holds more than one character (Exim logs `Wrong header from DCC`).
    pub long_first_line: bool,
    /// The text after line 2, without a final blank line, cut at [`HEADER_LIMIT`]
    /// bytes, ending in `\n`. `$dcc_header` only when it starts with `X-DCC`.
    pub header: Vec<u8>,
}

impl Answer {
    /// The header, when it has the form Exim accepts for `$dcc_header`.
    pub fn dcc_header(&self) -> Option<&[u8]> {
        self.header
            .starts_with(b"X-DCC")
            .then_some(&self.header[..])
    }
}

/// Split an answer (`A\nA\nX-DCC-x-Metrics: h 1; Body=1\n\n`).
///
/// ```
/// let a = rexim::acl::dcc::reply::parse(b"A\nAA\nX-DCC-x-Metrics: h 1; Body=1\n\n");
/// assert_eq!(a.overall, Some(b'A'));
/// assert_eq!(a.dcc_header(), Some(&b"X-DCC-x-Metrics: h 1; Body=1\n"[..]));
/// ```
pub fn parse(reply: &[u8]) -> Answer {
    let mut overall = None;
    let mut long_first_line = false;
    let mut line = 1;
    let mut pos = 0;
    while pos < reply.len() && line <= 2 {
        match reply[pos] {
            b'\n' => line += 1,
            c if line == 1 => {
                if pos == 0 {
                    overall = Some(c);
                } else {
                    long_first_line = true;
                }
            }
            _ => {}
        }
        pos += 1;
    }
    let mut header = Vec::new();
    if line > 2 {
        let mut end = reply.len();
        if reply.ends_with(b"\n\n") {
            end -= 2;
        }
        let text = reply.get(pos..end.max(pos)).unwrap_or_default();
        header.extend_from_slice(&text[..text.len().min(HEADER_LIMIT)]);
    }
    header.push(b'\n');
    Answer {
        overall,
        long_first_line,
        header,
    }
}

/// What an overall result means: the condition's result, `$dcc_result`, and whether
/// Exim logs the answer (`R` as a rejection, `T` and unknown letters as errors).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Logged {
    Nothing,
    Rejected,
    Temporary,
    Unknown,
}

/// `A` accept, `S` some recipients (accepted for all: `$dcc_result` is `A`), `R`
/// reject, `G` greylist, `T` temporary failure; anything else defers as `T`.
pub fn verdict(overall: u8) -> (Rc, &'static str, Logged) {
    match overall {
        b'A' => (Rc::Ok, "A", Logged::Nothing),
        b'S' => (Rc::Ok, "A", Logged::Nothing),
        b'R' => (Rc::Fail, "R", Logged::Rejected),
        b'G' => (Rc::Fail, "G", Logged::Nothing),
        b'T' => (Rc::Defer, "T", Logged::Temporary),
        _ => (Rc::Defer, "T", Logged::Unknown),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_and_header() {
        let a = parse(b"R\nRR\nX-DCC-Test-Metrics: fake 1; bulk\n\tBody=many\n\n");
        assert_eq!(a.overall, Some(b'R'));
        assert!(!a.long_first_line);
        assert_eq!(
            a.dcc_header(),
            Some(&b"X-DCC-Test-Metrics: fake 1; bulk\n\tBody=many\n"[..])
        );
        // No final blank line: the text is kept as it is, plus a newline.
        assert_eq!(parse(b"A\nA\nX-DCC-a: b\n").header, b"X-DCC-a: b\n\n");
        // Not an X-DCC header: no $dcc_header.
        assert_eq!(parse(b"A\nA\nSomething: else\n\n").dcc_header(), None);
        assert_eq!(parse(b"A\nA\n").header, b"\n");
        assert_eq!(parse(b"A\nA\n\n").header, b"\n");
    }

    #[test]
    fn odd_first_lines() {
        assert_eq!(parse(b"").overall, None);
        assert_eq!(parse(b"\nA\nX-DCC-a: b\n\n").overall, None);
        let a = parse(b"AB\nA\n");
        assert_eq!(a.overall, Some(b'A'));
        assert!(a.long_first_line);
    }

    #[test]
    fn header_is_bounded() {
        let mut reply = b"A\nA\nX-DCC-Big: ".to_vec();
        reply.extend(std::iter::repeat_n(b'x', 500));
        reply.extend_from_slice(b"\n\n");
        let a = parse(&reply);
        assert_eq!(a.header.len(), HEADER_LIMIT + 1);
        assert!(a.dcc_header().is_some());
    }

    #[test]
    fn verdicts() {
        assert_eq!(verdict(b'A'), (Rc::Ok, "A", Logged::Nothing));
        assert_eq!(verdict(b'S'), (Rc::Ok, "A", Logged::Nothing));
        assert_eq!(verdict(b'R'), (Rc::Fail, "R", Logged::Rejected));
        assert_eq!(verdict(b'G'), (Rc::Fail, "G", Logged::Nothing));
        assert_eq!(verdict(b'T'), (Rc::Defer, "T", Logged::Temporary));
        assert_eq!(verdict(b'x'), (Rc::Defer, "T", Logged::Unknown));
    }
}
