//! A MIME part's header block as Exim's content scanner reads it (`mime_get_header`):
//! each header unfolded into a compact `name:value;param=value;` form, and the
//! `Content-*` values and parameters (`name`, `filename` incl. RFC 2231, `charset`,
//! `boundary`) picked out of it.

use crate::expand::operators::rfc2047::decode2;

/// Longest header Exim reads in one piece (`MIME_MAX_HEADER_SIZE`).
pub const MAX_HEADER: usize = 8192;

/// The `$mime_*` values of one part's headers (`None` is Exim's NULL).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PartHeaders {
    pub content_type: Option<Vec<u8>>,
    pub content_disposition: Option<Vec<u8>>,
    pub content_transfer_encoding: Option<Vec<u8>>,
    pub content_id: Option<Vec<u8>>,
    pub content_description: Option<Vec<u8>>,
    pub filename: Option<Vec<u8>>,
    pub charset: Option<Vec<u8>>,
    pub boundary: Option<Vec<u8>>,
}

/// Read one header starting at `*pos`, compacted as Exim does: CRs and control
/// characters dropped, continuation lines joined, white space and `(comments)` removed
/// outside values, a `;` at the end. `None` at the blank line ending the block or at the
/// end of the data (Exim ignores a header cut short by the end of the data).
pub fn read_header(data: &[u8], pos: &mut usize) -> Option<Vec<u8>> {
    let mut out: Vec<u8> = Vec::new();
    let mut value_mode = 0u8;
    let mut brackets = 0u32;
    let mut eof = false;
    let next = |pos: &mut usize| -> Option<u8> {
        let c = data.get(*pos).copied();
        if c.is_some() {
            *pos += 1;
        }
        c
    };
    loop {
        let Some(mut c) = next(pos) else {
            eof = true;
            break;
        };
        if c == b'\r' {
            continue;
        }
        let mut done = false;
        if c == b'\n' {
            if !out.is_empty() {
                match next(pos) {
                    None => {
                        eof = true;
                        break;
                    }
                    Some(b'\t' | b' ') => continue,
                    Some(_) => *pos -= 1,
                }
            }
            c = b';';
            done = true;
        }
        if c < 32 {
            continue;
        }
        if value_mode > 0 {
            if (c == b' ' || c == b'\t') && value_mode == 1 {
                continue;
            }
            // As in Exim, a quote protects only itself: the mode is reset for every
            // character, so an unquoted or quoted `;` alike ends the value.
            value_mode = if c == b'"' { 3 } else { 2 };
            if value_mode == 2 && c == b';' {
                value_mode = 0;
            }
        } else {
            if c == b' ' || c == b'\t' {
                continue;
            }
            if c == b'\\' {
                match next(pos) {
                    Some(n) => c = n,
                    None => {
                        eof = true;
                        break;
                    }
                }
            } else if c == b'(' {
                brackets += 1;
                continue;
            } else if c == b')' && brackets > 0 {
                brackets -= 1;
                continue;
            } else if c == b'=' && brackets == 0 {
                value_mode = 1;
            }
            if brackets > 0 {
                continue;
            }
        }
        out.push(c);
        if out.len() > MAX_HEADER - 1 || done {
            break;
        }
    }
    if let Some(last) = out.last_mut() {
        *last = b';';
    }
    (!eof && out.len() != 1).then_some(out)
}

/// Read the header block of a part (up to and including its blank line) into the
/// `$mime_*` values, as Exim's `mime_acl_check` does.
pub fn read_part_headers(data: &[u8], pos: &mut usize) -> PartHeaders {
    let mut h = PartHeaders::default();
    while let Some(line) = read_header(data, pos) {
        apply_header(&mut h, &line);
    }
    h
}

const HEADERS: &[&[u8]] = &[
    b"content-type:",
    b"content-disposition:",
    b"content-transfer-encoding:",
    b"content-id:",
    b"content-description:",
];

fn starts_with_ci(s: &[u8], prefix: &[u8]) -> bool {
    s.len() >= prefix.len() && s[..prefix.len()].eq_ignore_ascii_case(prefix)
}

fn apply_header(h: &mut PartHeaders, line: &[u8]) {
    for (i, name) in HEADERS.iter().enumerate() {
        if !starts_with_ci(line, name) {
            continue;
        }
        let rest = &line[name.len()..];
        let end = rest.iter().position(|&c| c == b';').unwrap_or(rest.len());
        let value = rest[..end].to_ascii_lowercase();
        match i {
            0 => h.content_type = Some(value),
            1 => h.content_disposition = Some(value),
            2 => h.content_transfer_encoding = Some(value),
            3 => h.content_id = Some(value),
            _ => h.content_description = Some(value),
        }
        let params = rest.get(end + 1..).unwrap_or_default();
        scan_params(h, params, i == 1);
    }
}

/// A parameter's value up to the next unquoted `;`, quotes removed; returns the value
/// and the rest (starting at the `;`).
fn param_value(s: &[u8]) -> (Vec<u8>, &[u8]) {
    let mut v = Vec::new();
    let mut i = 0;
    while i < s.len() && s[i] != b';' {
        if s[i] == b'"' {
            i += 1;
            while i < s.len() && s[i] != b'"' {
                v.push(s[i]);
                i += 1;
            }
            if i < s.len() {
                i += 1;
            }
        } else {
            v.push(s[i]);
            i += 1;
        }
    }
    (v, &s[i..])
}

fn next_semicolon(s: &[u8]) -> &[u8] {
    param_value(s).1
}

fn scan_params(h: &mut PartHeaders, mut p: &[u8], disposition: bool) {
    let mut rfc2231_raw: Option<Vec<u8>> = None;
    let mut decoded: Option<Vec<u8>> = None;
    let mut charset: Option<Vec<u8>> = None;
    let mut failed = false;
    while !p.is_empty() {
        // RFC 2231 `filename*=charset'lang'value`, possibly split over `filename*0*=`,
        // `filename*1*=`...: the pieces are decoded and joined (Exim 4.96 with the
        // CVE-2024-39929 fix, as Debian ships it).
        if disposition && starts_with_ci(p, b"filename*") {
            let after = &p[9..];
            let eq = after
                .iter()
                .position(|&c| c == b'=')
                .map_or(after.len(), |i| i + 1);
            let (q, rest) = param_value(&after[eq..]);
            p = rest;
            if !q.is_empty() {
                rfc2231_raw
                    .get_or_insert_with(Vec::new)
                    .extend_from_slice(&q);
                if !failed {
                    let mut name: &[u8] = &q;
                    if charset.is_none() {
                        if let Some(tick) = q.iter().position(|&c| c == b'\'') {
                            if tick > 0 {
                                charset = Some(q[..tick].to_vec());
                            }
                            name = &q[tick + 1..];
                            while name.first() == Some(&b'\'') {
                                name = &name[1..];
                            }
                        }
                    }
                    let word = rfc2231_to_2047(name, charset.as_deref());
                    let (plain, _) = decode2(&word, false, None, b' ');
                    if plain.len() == word.len() {
                        failed = true;
                    } else {
                        let d = decoded.get_or_insert_with(Vec::new);
                        d.extend_from_slice(&plain);
                        h.filename = Some(d.clone());
                    }
                }
            }
        } else {
            let known: [(&[u8], u8); 4] = [
                (b"name=", 0),
                (b"filename=", 0),
                (b"charset=", 1),
                (b"boundary=", 2),
            ];
            if let Some((name, which)) = known.iter().find(|(n, _)| starts_with_ci(p, n)) {
                let (q, rest) = param_value(&p[name.len()..]);
                p = rest;
                let v = (!q.is_empty()).then(|| decode2(&q, true, None, b' ').0);
                match which {
                    0 => h.filename = v,
                    1 => h.charset = v,
                    _ => h.boundary = v,
                }
            }
        }
        p = next_semicolon(p);
        if !p.is_empty() {
            p = &p[1..];
        }
    }
    if disposition && failed {
        h.filename = rfc2231_raw;
    }
}

/// `charset'lang'%E2%82%AC.txt` as the encoded word `=?charset?Q?=E2=82=AC.txt?=`.
fn rfc2231_to_2047(name: &[u8], charset: Option<&[u8]>) -> Vec<u8> {
    let mut v = b"=?".to_vec();
    v.extend_from_slice(charset.unwrap_or_default());
    v.extend_from_slice(b"?Q?");
    let mut i = 0;
    while i < name.len() {
        if name[i] == b'%'
            && name.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
            && name.get(i + 2).is_some_and(u8::is_ascii_hexdigit)
        {
            v.push(b'=');
            v.extend_from_slice(&name[i + 1..i + 3]);
            i += 3;
        } else {
            v.push(name[i]);
            i += 1;
        }
    }
    v.extend_from_slice(b"?=");
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(text: &str) -> PartHeaders {
        let mut pos = 0;
        read_part_headers(text.as_bytes(), &mut pos)
    }

    #[test]
    fn compacts_as_exim() {
        let mut pos = 0;
        let data = b"Content-Type: multipart/mixed;\n\tboundary=\"XX\" (comment)\n\nbody";
        let h = read_header(data, &mut pos).unwrap();
        // Inside a value (after `=`) white space and comments are kept.
        assert_eq!(
            h,
            b"Content-Type:multipart/mixed;boundary=\"XX\" (comment);".to_vec()
        );
        assert_eq!(read_header(data, &mut pos), None);
        assert_eq!(&data[pos..], b"body");
    }

    #[test]
    fn values_and_parameters() {
        let h = headers(
            "Content-Type: Text/Plain; charset=\"UTF-8\"; name=a.txt\nContent-Description: some file\n\n",
        );
        assert_eq!(h.content_type.as_deref(), Some(&b"text/plain"[..]));
        assert_eq!(h.charset.as_deref(), Some(&b"UTF-8"[..]));
        assert_eq!(h.filename.as_deref(), Some(&b"a.txt"[..]));
        // Outside a value Exim removes white space: "some file" becomes "somefile".
        assert_eq!(h.content_description.as_deref(), Some(&b"somefile"[..]));
    }

    #[test]
    fn rfc2231_filename() {
        let h = headers("Content-Disposition: attachment; filename*=utf-8''%E2%82%AC.txt\n\n");
        assert_eq!(h.filename.as_deref(), Some("€.txt".as_bytes()));
        // filename* wins over an earlier name=, and its pieces are joined.
        let h = headers(
            "Content-Type: a/b; name=x\nContent-Disposition: attachment;\n filename*0*=utf-8''%E2%82;\n filename*1*=%AC.txt\n\n",
        );
        assert_eq!(h.filename.as_deref(), Some("€.txt".as_bytes()));
    }
}
