//! `-bP config`: the configuration as read (logical lines after macros), formatted as Exim does.

use super::Config;

const HIDDEN: &str = "<value not displayable>";

/// Collapse runs of white space to one space, stopping after a run followed by `"`, `'` or `$`.
fn collapse(line: &str) -> String {
    let b = line.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i].is_ascii_whitespace() {
            let mut j = i;
            while j < b.len() && b[j].is_ascii_whitespace() {
                j += 1;
            }
            out.push(b' ');
            // Exim tests the character at its old pointer after shifting the text left, so
            // after a run of n blanks it looks n-1 characters beyond the one that follows.
            let k = j + (j - i - 1);
            if matches!(b.get(k), Some(b'"' | b'\'' | b'$')) {
                out.extend_from_slice(&b[j..]);
                return String::from_utf8_lossy(&out).into_owned();
            }
            i = j;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

pub fn print_config(cfg: &Config, admin: bool, terse: bool, out: &mut String) {
    let ts = if terse { 0 } else { 2 };
    let mut indent = 0;
    out.push_str("# Exim Configuration (4.96)\n");
    for line in &cfg.saved {
        let current = collapse(line.trim_start());
        if current.is_empty() {
            continue;
        }
        if current.starts_with('#') {
            out.push_str(&current);
            out.push('\n');
        } else if current.starts_with("begin")
            && current
                .as_bytes()
                .get(5)
                .is_some_and(|c| c.is_ascii_whitespace())
        {
            if !terse {
                out.push('\n');
            }
            out.push_str(&current);
            out.push('\n');
            indent = ts;
        } else if current.ends_with(':') && !current.contains('=') {
            if !terse {
                out.push('\n');
            }
            out.push_str(&format!("{:ts$}{current}\n", ""));
            indent = 2 * ts;
        } else if !admin
            && (current.starts_with(|c: char| c.is_ascii_uppercase())
                || current.starts_with("hide "))
        {
            match current.split_once('=') {
                Some((head, _)) => out.push_str(&format!("{:indent$}{head}= {HIDDEN}\n", "")),
                None => out.push_str(&format!("{HIDDEN:>indent$}\n")),
            }
        } else {
            out.push_str(&format!("{:indent$}{current}\n", ""));
        }
    }
}
