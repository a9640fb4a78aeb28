//! Where in a message the connection was lost: the suffix of Exim's "lost while reading
//! message data" log line, from the data received after `354`.

/// `" (header)"` when the input ended inside the header section (before any data, or
/// within a line), `" (after header)"` when it ended right after a complete header
/// line, and `""` once the body had begun (a blank line, or a line that is no header
/// followed by more input).
pub fn eof_place(data: &[u8], partial_line: bool) -> &'static str {
    let mut lines = data.split_inclusive(|&c| c == b'\n').peekable();
    let mut seen_header = false;
    let mut complete = 0;
    while let Some(line) = lines.next() {
        let Some(text) = line.strip_suffix(b"\n") else {
            break;
        };
        complete += 1;
        let last = lines.peek().is_none() && !partial_line;
        if text.is_empty() {
            return "";
        }
        let continuation = seen_header && matches!(text[0], b' ' | b'\t');
        if continuation || is_header(text) {
            seen_header = true;
        } else if !last {
            return "";
        }
    }
    if partial_line || complete == 0 || data.last() != Some(&b'\n') {
        " (header)"
    } else {
        " (after header)"
    }
}

/// `Name:` with printable characters, optionally white space before the colon.
fn is_header(line: &[u8]) -> bool {
    let name = line
        .iter()
        .take_while(|&&c| c > b' ' && c < 0x7f && c != b':')
        .count();
    let rest = &line[name..];
    let gap = rest
        .iter()
        .take_while(|c| matches!(c, b' ' | b'\t'))
        .count();
    name > 0 && rest.get(gap) == Some(&b':')
}

#[cfg(test)]
mod tests {
    use super::eof_place;

    #[test]
    fn places_as_exim_names_them() {
        assert_eq!(eof_place(b"", false), " (header)");
        assert_eq!(eof_place(b"", true), " (header)");
        assert_eq!(eof_place(b"Subject: x\n", true), " (header)");
        assert_eq!(eof_place(b"Subject: x\n", false), " (after header)");
        assert_eq!(eof_place(b"Subject: x\n  more\n", false), " (after header)");
        assert_eq!(eof_place(b"Subject: x\n\n", false), "");
        assert_eq!(eof_place(b"Subject: x\n\nbody", true), "");
        assert_eq!(eof_place(b"no header here\nmore\n", false), "");
        assert_eq!(eof_place(b"no header here\n", false), " (after header)");
    }
}
