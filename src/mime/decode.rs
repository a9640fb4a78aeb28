//! Decoding a MIME part's body as Exim's `mime_decode` does: base64, quoted-printable or
//! as is, line by line from the part's start up to the next `--boundary` line.

/// Longest line Exim reads in one piece (`MIME_MAX_LINE_LENGTH`, less the NUL).
pub const MAX_LINE: usize = 32767;

/// A decoding problem Exim reports in `$mime_anomaly_level` / `$mime_anomaly_text`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Anomaly {
    BrokenQp,
    BrokenBase64,
}

impl Anomaly {
    pub fn level(self) -> u8 {
        match self {
            Anomaly::BrokenQp => 1,
            Anomaly::BrokenBase64 => 2,
        }
    }

    pub fn text(self) -> &'static str {
        match self {
            Anomaly::BrokenQp => "Broken Quoted-Printable encoding detected",
            Anomaly::BrokenBase64 => "Broken BASE64 encoding detected",
        }
    }
}

/// The next line (with its newline) from `pos`, at most `max` bytes, as `fgets` reads.
pub fn next_line<'d>(data: &'d [u8], pos: &mut usize, max: usize) -> Option<&'d [u8]> {
    if *pos >= data.len() {
        return None;
    }
    let rest = &data[*pos..];
    let len = match rest.iter().take(max).position(|&c| c == b'\n') {
        Some(i) => i + 1,
        None => rest.len().min(max),
    };
    *pos += len;
    Some(&rest[..len])
}

/// Is `line` a `--boundary` line (a prefix match, as Exim checks)?
pub fn is_boundary(line: &[u8], boundary: &[u8]) -> bool {
    line.starts_with(b"--") && line[2..].starts_with(boundary)
}

/// The decoded part starting at `pos`, by `Content-Transfer-Encoding` (`None`: as is),
/// and the last anomaly seen. The output is never longer than the input.
pub fn decode_part(
    data: &[u8],
    pos: usize,
    boundary: Option<&[u8]>,
    encoding: Option<&[u8]>,
) -> (Vec<u8>, Option<Anomaly>) {
    let mut at = pos;
    let mut lines = std::iter::from_fn(|| next_line(data, &mut at, MAX_LINE))
        .take_while(|l| !boundary.is_some_and(|b| is_boundary(l, b)));
    match encoding {
        Some(b"base64") => base64(&mut lines),
        Some(b"quoted-printable") => qp(&mut lines),
        _ => (lines.flatten().copied().collect(), None),
    }
}

fn b64_value(c: u8) -> Option<u8> {
    match c {
        b'A'..=b'Z' => Some(c - b'A'),
        b'a'..=b'z' => Some(c - b'a' + 26),
        b'0'..=b'9' => Some(c - b'0' + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    }
}

/// Exim's base64 decoder: `=` counts as a position, bad characters are skipped (an
/// anomaly), and a final incomplete byte is written out.
fn base64(lines: &mut dyn Iterator<Item = &[u8]>) -> (Vec<u8>, Option<Anomaly>) {
    let mut out = Vec::new();
    let mut anomaly = None;
    let mut state = 0u32;
    let mut pending = 0u8;
    for line in lines {
        for &c in line {
            if c == b'\r' || c == b'\n' || c == 0 {
                break;
            }
            if c == b'=' {
                state += 1;
                continue;
            }
            let Some(v) = b64_value(c) else {
                anomaly = Some(Anomaly::BrokenBase64);
                continue;
            };
            match state & 3 {
                0 => pending = v << 2,
                1 => {
                    out.push(pending | v >> 4);
                    pending = v << 4;
                }
                2 => {
                    out.push(pending | v >> 2);
                    pending = v << 6;
                }
                _ => out.push(pending | v),
            }
            state += 1;
        }
    }
    if state & 3 != 0 {
        out.push(pending);
    }
    (out, anomaly)
}

/// Exim's quoted-printable decoder: `=XX`, soft line breaks, and a bad `=` kept as is.
fn qp(lines: &mut dyn Iterator<Item = &[u8]>) -> (Vec<u8>, Option<Anomaly>) {
    let mut out = Vec::new();
    let mut anomaly = None;
    for line in lines {
        let mut i = 0;
        while i < line.len() && line[i] != 0 {
            if line[i] != b'=' {
                out.push(line[i]);
                i += 1;
                continue;
            }
            let hex = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
            if let (Some(a), Some(b)) = (
                line.get(i + 1).copied().and_then(hex),
                line.get(i + 2).copied().and_then(hex),
            ) {
                out.push(a << 4 | b);
                i += 3;
                continue;
            }
            let mut j = i + 1;
            while j < line.len() && matches!(line[j], b'\t' | b' ' | b'\r') {
                j += 1;
            }
            if line.get(j) == Some(&b'\n') {
                // A soft line break: the rest of this line is dropped.
                break;
            }
            anomaly = Some(Anomaly::BrokenQp);
            out.push(b'=');
            i += 1;
        }
    }
    (out, anomaly)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_stops_at_boundary() {
        let data = b"aGVsbG8g\nd29ybGQK\n--XX\nignored\n";
        let (out, a) = decode_part(data, 0, Some(b"XX"), Some(b"base64"));
        assert_eq!(out, b"hello world\n");
        assert_eq!(a, None);
        // As in Exim, an incomplete last byte is written out.
        let (out, a) = decode_part(b"aGk*\n", 0, None, Some(b"base64"));
        assert_eq!(out, b"hi\0");
        assert_eq!(a, Some(Anomaly::BrokenBase64));
    }

    #[test]
    fn quoted_printable() {
        let data = b"a=3Db=\nc =ZZ\n";
        let (out, a) = decode_part(data, 0, None, Some(b"quoted-printable"));
        assert_eq!(out, b"a=bc =ZZ\n");
        assert_eq!(a, Some(Anomaly::BrokenQp));
    }

    #[test]
    fn other_encodings_as_is() {
        let (out, _) = decode_part(b"x\n--B--\n", 0, Some(b"B"), Some(b"7bit"));
        assert_eq!(out, b"x\n");
    }
}
