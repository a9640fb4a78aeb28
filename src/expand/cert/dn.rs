//! Distinguished names as OpenSSL's `X509_NAME_print_ex(.., XN_FLAG_RFC2253)` writes
//! them (what Exim's `subject` and `issuer` give), and Exim's `tls_field_from_dn`
//! for the `,CN` / `,>;` modifiers.

use x509_parser::der_parser::asn1_rs::{Any, Tag};
use x509_parser::x509::X509Name;

use crate::expand::lists::iter_fixed;

/// OpenSSL's short names for the attribute types seen in certificate names.
const SHORT_NAMES: &[(&str, &str)] = &[
    ("0.9.2342.19200300.100.1.1", "UID"),
    ("0.9.2342.19200300.100.1.25", "DC"),
    ("1.2.840.113549.1.9.1", "emailAddress"),
    ("1.3.6.1.4.1.311.60.2.1.1", "jurisdictionL"),
    ("1.3.6.1.4.1.311.60.2.1.2", "jurisdictionST"),
    ("1.3.6.1.4.1.311.60.2.1.3", "jurisdictionC"),
    ("2.5.4.3", "CN"),
    ("2.5.4.4", "SN"),
    ("2.5.4.5", "serialNumber"),
    ("2.5.4.6", "C"),
    ("2.5.4.7", "L"),
    ("2.5.4.8", "ST"),
    ("2.5.4.9", "street"),
    ("2.5.4.10", "O"),
    ("2.5.4.11", "OU"),
    ("2.5.4.12", "title"),
    ("2.5.4.13", "description"),
    ("2.5.4.15", "businessCategory"),
    ("2.5.4.17", "postalCode"),
    ("2.5.4.41", "name"),
    ("2.5.4.42", "GN"),
    ("2.5.4.43", "initials"),
    ("2.5.4.44", "generationQualifier"),
    ("2.5.4.46", "dnQualifier"),
    ("2.5.4.65", "pseudonym"),
    ("2.5.4.97", "organizationIdentifier"),
];

/// Bytes per character of the ASN.1 string types OpenSSL prints as text
/// (`tag2nbyte`: 0 is UTF-8); other types are dumped as `#` and hex DER.
fn char_width(tag: Tag) -> Option<usize> {
    match tag.0 {
        12 => Some(0),
        18..=27 => Some(1),
        28 => Some(4),
        30 => Some(2),
        _ => None,
    }
}

/// Append one byte of the UTF-8 form with RFC 2253 escapes (OpenSSL's `do_esc_char`
/// with `ESC_2253 | ESC_CTRL | ESC_MSB`).
fn push_escaped(out: &mut String, b: u8, first: bool, last: bool) {
    match b {
        b',' | b'+' | b'"' | b'\\' | b'<' | b'>' | b';' => {
            out.push('\\');
            out.push(b as char);
        }
        b'#' if first => out.push_str("\\#"),
        b' ' if first || last => out.push_str("\\ "),
        0..=0x1f | 0x7f..=0xff => out.push_str(&format!("\\{b:02X}")),
        _ => out.push(b as char),
    }
}

/// The DER of an attribute value, as `#` and upper-case hex (`ASN1_STRFLGS_DUMP_DER`).
fn dump(value: &Any) -> String {
    let mut der = Vec::new();
    let tag = value.tag().0;
    let class = (value.class() as u8) << 6;
    let constructed = if value.header.is_constructed() {
        0x20
    } else {
        0
    };
    der.push(class | constructed | (tag.min(30) as u8));
    let n = value.data.len();
    if n < 0x80 {
        der.push(n as u8);
    } else {
        let len = n.to_be_bytes();
        let skip = len.iter().take_while(|&&b| b == 0).count();
        der.push(0x80 | (len.len() - skip) as u8);
        der.extend_from_slice(&len[skip..]);
    }
    der.extend_from_slice(value.data);
    let mut s = String::from("#");
    for b in der {
        s.push_str(&format!("{b:02X}"));
    }
    s
}

/// The characters of a string value in its type's width.
fn chars(data: &[u8], width: usize) -> Vec<u32> {
    match width {
        0 => String::from_utf8_lossy(data)
            .chars()
            .map(u32::from)
            .collect(),
        1 => data.iter().map(|&b| u32::from(b)).collect(),
        w => data
            .chunks(w)
            .map(|c| c.iter().fold(0u32, |acc, &b| (acc << 8) | u32::from(b)))
            .collect(),
    }
}

fn value_text(value: &Any, known_type: bool) -> String {
    let Some(width) = char_width(value.tag()).filter(|_| known_type) else {
        return dump(value);
    };
    let cs = chars(value.data, width);
    let mut utf8 = Vec::new();
    for c in cs {
        let ch = char::from_u32(c).unwrap_or(char::REPLACEMENT_CHARACTER);
        let mut buf = [0u8; 4];
        utf8.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
    }
    let mut out = String::new();
    let n = utf8.len();
    for (i, &b) in utf8.iter().enumerate() {
        push_escaped(&mut out, b, i == 0, i + 1 == n);
    }
    out
}

/// `X509_NAME_print_ex(XN_FLAG_RFC2253)`: RDNs last first, `,` between them, `+`
/// inside a multi-valued one, short names, unknown types in dotted form with the
/// value dumped as hex DER.
pub fn rfc2253(name: &X509Name) -> String {
    let mut out = String::new();
    let rdns: Vec<_> = name.iter_rdn().collect();
    for (i, rdn) in rdns.iter().rev().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let attrs: Vec<_> = rdn.iter().collect();
        for (j, attr) in attrs.iter().rev().enumerate() {
            if j > 0 {
                out.push('+');
            }
            let oid = attr.attr_type().to_id_string();
            let short = SHORT_NAMES.iter().find(|(o, _)| *o == oid).map(|(_, s)| *s);
            out.push_str(short.unwrap_or(&oid));
            out.push('=');
            out.push_str(&value_text(attr.attr_value(), short.is_some()));
        }
    }
    out
}

/// Exim's `tls_field_from_dn`: `mod` is a comma list of a field tag to keep (`CN`) and
/// `>X` for the output separator (default newline). Escaped commas in the DN count as
/// separators, as in Exim.
pub fn field_from_dn(dn: &str, modifier: &str) -> Option<Vec<u8>> {
    let mut want: Option<&[u8]> = None;
    let mut outsep = b'\n';
    let mods: Vec<Vec<u8>> = iter_fixed(modifier.as_bytes(), b',')
        .map(|e| e.to_vec())
        .collect();
    for ele in &mods {
        match ele.strip_prefix(b">") {
            Some([c, ..]) => outsep = *c,
            Some([]) => {}
            None => want = Some(ele),
        }
    }
    let flat = dn.replace("\\,", ",");
    let mut list: Option<Vec<u8>> = None;
    for ele in iter_fixed(flat.as_bytes(), b',') {
        let ele: &[u8] = &ele;
        let value = match want {
            None => ele,
            Some(tag) if ele.starts_with(tag) && ele.get(tag.len()) == Some(&b'=') => {
                &ele[tag.len() + 1..]
            }
            Some(_) => continue,
        };
        append_listele(&mut list, outsep, value);
    }
    list
}

/// Exim's `string_append_listele`: separator between elements, doubled inside one.
pub fn append_listele(list: &mut Option<Vec<u8>>, sep: u8, ele: &[u8]) {
    let l = list.get_or_insert_with(Vec::new);
    if !l.is_empty() {
        l.push(sep);
    }
    for &b in ele {
        l.push(b);
        if b == sep {
            l.push(sep);
        }
    }
}
