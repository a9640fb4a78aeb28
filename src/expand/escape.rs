//! Exim's backslash escapes (`\n`, `\x41`, `\101`, `\$` ...), shared by the parser and
//! the items that re-read escapes in their data (`extract` quoted values, `run` arguments).

/// Decode one escape; `s` is the text after the backslash (non-empty). Returns the byte
/// and how many bytes of `s` it used.
pub fn unescape_one(s: &[u8]) -> (u8, usize) {
    match s[0] {
        b'n' => (b'\n', 1),
        b'r' => (b'\r', 1),
        b't' => (b'\t', 1),
        b'b' => (0x08, 1),
        b'f' => (0x0c, 1),
        b'v' => (0x0b, 1),
        b'x' => {
            let n = s[1..]
                .iter()
                .take(2)
                .take_while(|c| c.is_ascii_hexdigit())
                .count();
            let v = s[1..1 + n]
                .iter()
                .fold(0u32, |v, &c| v * 16 + (c as char).to_digit(16).unwrap_or(0));
            (v as u8, 1 + n)
        }
        b'0'..=b'7' => {
            let n = s
                .iter()
                .take(3)
                .take_while(|c| (b'0'..=b'7').contains(c))
                .count();
            let v = s[..n].iter().fold(0u32, |v, &c| v * 8 + (c - b'0') as u32);
            (v as u8, n)
        }
        c => (c, 1),
    }
}

#[cfg(test)]
mod tests {
    use super::unescape_one;

    #[test]
    fn exim_escapes() {
        assert_eq!(unescape_one(b"n"), (b'\n', 1));
        assert_eq!(unescape_one(b"x41z"), (b'A', 3));
        assert_eq!(unescape_one(b"x"), (0, 1));
        assert_eq!(unescape_one(b"1011"), (b'A', 3));
        assert_eq!(unescape_one(b"$"), (b'$', 1));
    }
}
