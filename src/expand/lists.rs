//! Exim list syntax: `:` by default, `<x` to change the separator, doubled separators as data.

use std::borrow::Cow;

/// Iterates the items of an Exim list, as Exim's `string_nextinlist` does.
pub struct ListIter<'a> {
    s: &'a [u8],
    pos: usize,
    sep: u8,
    /// The separator may still be changed with a leading `<x`.
    pending: Option<u8>,
}

/// Items of `list` with the default `:` separator (changeable by `<x`).
pub fn iter(list: &[u8]) -> ListIter<'_> {
    ListIter {
        s: list,
        pos: 0,
        sep: b':',
        pending: Some(b':'),
    }
}

/// Items of `list` with `default` as separator (still changeable by `<x`).
pub fn iter_default(list: &[u8], default: u8) -> ListIter<'_> {
    ListIter {
        s: list,
        pos: 0,
        sep: default,
        pending: Some(default),
    }
}

/// Items of `list` with a fixed separator (no `<x` prefix recognised).
pub fn iter_fixed(list: &[u8], sep: u8) -> ListIter<'_> {
    ListIter {
        s: list,
        pos: 0,
        sep,
        pending: None,
    }
}

fn is_punct_or_cntrl(c: u8) -> bool {
    c.is_ascii_punctuation() || c.is_ascii_control()
}

fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

impl<'a> ListIter<'a> {
    /// The separator in force (after any `<x` prefix has been read).
    pub fn separator(&mut self) -> u8 {
        self.resolve_sep();
        self.sep
    }

    fn skip_space(&mut self) {
        while self.pos < self.s.len() && is_space(self.s[self.pos]) && self.s[self.pos] != self.sep
        {
            self.pos += 1;
        }
    }

    fn resolve_sep(&mut self) {
        if let Some(default) = self.pending.take() {
            self.sep = 0;
            self.skip_space();
            let s = self.s;
            if s.get(self.pos) == Some(&b'<')
                && s.get(self.pos + 1).is_some_and(|&c| is_punct_or_cntrl(c))
            {
                self.sep = s[self.pos + 1];
                self.pos += 2;
                self.skip_space();
            } else {
                self.sep = default;
            }
        }
    }
}

impl<'a> ListIter<'a> {
    /// The next item, borrowed from the list unless it contains doubled separators
    /// (the common case costs no allocation). Inlined: it runs once per list item in
    /// every map, filter, reduce and inlist loop.
    #[inline]
    pub fn next_item(&mut self) -> Option<Cow<'a, [u8]>> {
        if self.pending.is_some() {
            self.resolve_sep();
        } else {
            self.skip_space();
        }
        let s = self.s;
        let sep = self.sep;
        let special = sep.is_ascii_control();
        if self.pos >= s.len() {
            return None;
        }
        if s[self.pos] == sep {
            self.pos += 1;
            if s.get(self.pos) != Some(&sep) || special {
                return Some(Cow::Borrowed(&[]));
            }
        }
        // Common case: the item ends at a single separator (or the end), so it is one
        // slice of the list.
        let start = self.pos;
        let mut end = start + 1;
        while end < s.len() && s[end] != sep {
            end += 1;
        }
        let end = end.min(s.len());
        if special || end + 1 >= s.len() || s[end + 1] != sep {
            self.pos = (end + 1).min(s.len());
            let piece = &s[start..end];
            return Some(Cow::Borrowed(&piece[..kept_len(piece)]));
        }
        self.doubled_item()
    }

    /// An item holding doubled separators (each stands for one separator in the data).
    #[cold]
    #[inline(never)]
    fn doubled_item(&mut self) -> Option<Cow<'a, [u8]>> {
        let s = self.s;
        let sep = self.sep;
        let special = sep.is_ascii_control();
        let mut item: Cow<'a, [u8]> = Cow::Borrowed(&[]);
        loop {
            let start = self.pos;
            let end = match memchr_from(s, start + 1, sep) {
                Some(e) => e,
                None => s.len(),
            };
            let piece = &s[start..end];
            match &mut item {
                Cow::Borrowed([]) => item = Cow::Borrowed(piece),
                Cow::Borrowed(b) => {
                    let mut owned = b.to_vec();
                    owned.extend_from_slice(piece);
                    item = Cow::Owned(owned);
                }
                Cow::Owned(v) => v.extend_from_slice(piece),
            }
            self.pos = end;
            if self.pos >= s.len() {
                break;
            }
            self.pos += 1;
            if s.get(self.pos) != Some(&sep) || special {
                break;
            }
        }
        // Trailing whitespace goes, unless the last space is escaped with a backslash.
        let keep = kept_len(&item);
        Some(match item {
            Cow::Borrowed(b) => Cow::Borrowed(&b[..keep]),
            Cow::Owned(mut v) => {
                v.truncate(keep);
                Cow::Owned(v)
            }
        })
    }
}

/// Index of the first `sep` at or after `from`.
fn memchr_from(s: &[u8], from: usize, sep: u8) -> Option<usize> {
    s.get(from..)?
        .iter()
        .position(|&c| c == sep)
        .map(|i| i + from)
}

/// Length of `item` once unescaped trailing whitespace is dropped.
fn kept_len(item: &[u8]) -> usize {
    let mut n = item.len();
    while n > 0 {
        let last = item[n - 1];
        if !is_space(last) || (n > 1 && item[n - 2] == b'\\') {
            break;
        }
        n -= 1;
    }
    n
}

impl Iterator for ListIter<'_> {
    type Item = Vec<u8>;

    fn next(&mut self) -> Option<Vec<u8>> {
        self.next_item().map(Cow::into_owned)
    }

    fn count(mut self) -> usize {
        let mut n = 0;
        while self.next_item().is_some() {
            n += 1;
        }
        n
    }

    fn nth(&mut self, n: usize) -> Option<Vec<u8>> {
        for _ in 0..n {
            self.next_item()?;
        }
        self.next()
    }
}

/// Split off a leading `<x` separator change: returns the separator (`:` by default)
/// and the rest of the text. Used where Exim reads the prefix before expanding.
pub fn split_sep(text: &[u8]) -> (u8, &[u8]) {
    let mut i = 0;
    while i < text.len() && is_space(text[i]) {
        i += 1;
    }
    if text.get(i) == Some(&b'<') && text.get(i + 1).is_some_and(|&c| is_punct_or_cntrl(c)) {
        (text[i + 1], &text[i + 2..])
    } else {
        (b':', text)
    }
}

/// Append `item` to an output list, doubling separators inside it as Exim's
/// `string_append_listele` does; an item that is empty or starts with the
/// separator gets a leading space so it survives re-reading.
pub fn append_item(out: &mut Vec<u8>, sep: u8, item: &[u8]) {
    if !out.is_empty() {
        out.push(sep);
    }
    if item.is_empty() || item[0] == sep {
        out.push(b' ');
    }
    for &c in item {
        out.push(c);
        if c == sep {
            out.push(sep);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn items(s: &str) -> Vec<String> {
        iter(s.as_bytes())
            .map(|v| String::from_utf8(v).unwrap())
            .collect()
    }

    #[test]
    fn exim_list_rules() {
        assert_eq!(items("a:b::c:"), vec!["a", "b:c"]);
        assert_eq!(items("<; a;b;;c"), vec!["a", "b;c"]);
        assert_eq!(items("a: :b"), vec!["a", "", "b"]);
        assert_eq!(items(":"), vec![""]);
        assert_eq!(items("   "), Vec::<String>::new());
        assert_eq!(items(" a : b "), vec!["a", "b"]);
    }
}
