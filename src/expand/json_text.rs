//! Exim's textual JSON handling (`dewrap`, `json_nextinlist`): no real parser, just
//! bracket counting, which `${extract json}` and `forall_json` both rely on for exact output.

fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

/// Exim's `dewrap`: the text inside `open`..`close` (backslash escapes the next byte).
pub fn dewrap(s: &[u8], open: u8, close: u8) -> Result<&[u8], String> {
    let mut p = s.iter().position(|&c| !is_space(c)).unwrap_or(s.len());
    if s.get(p) != Some(&open) {
        return Err(format!("missing '{}'", open as char));
    }
    p += 1;
    let start = p;
    let mut depth = 0u32;
    while p < s.len() {
        let c = s[p];
        if c == b'\\' {
            p += 1;
        } else if open != close && c == open {
            depth += 1;
        } else if c == close {
            if depth == 0 {
                return Ok(&s[start..p]);
            }
            depth -= 1;
        }
        p += 1;
    }
    Err(format!("missing '{}'", close as char))
}

/// Exim's `json_nextinlist`: the next comma-separated element at bracket depth zero.
pub fn json_next<'a>(list: &mut &'a [u8]) -> Option<&'a [u8]> {
    let s = *list;
    let start = s.iter().position(|&c| !is_space(c)).unwrap_or(s.len());
    let (mut arrays, mut objects) = (0i64, 0i64);
    let mut p = start;
    while p < s.len() && (s[p] != b',' || arrays != 0 || objects != 0) {
        match s[p] {
            b'[' => arrays += 1,
            b']' => arrays -= 1,
            b'{' => objects += 1,
            b'}' => objects -= 1,
            _ => {}
        }
        p += 1;
    }
    *list = if p < s.len() { &s[p + 1..] } else { &s[p..] };
    (p > start).then(|| &s[start..p])
}
