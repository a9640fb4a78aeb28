//! DKIM-Signature headers and `_domainkey` key records read as Exim's pdkim reads them:
//! the tags Exim shows (`$dkim_*`, its log lines), whitespace dropped from values, and
//! the header text with the `b=` value removed (what the signature covers).

use base64::Engine;

/// `c=` halves; pdkim's default is simple/simple.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Canon {
    #[default]
    Simple,
    Relaxed,
}

impl Canon {
    pub fn name(self) -> &'static str {
        match self {
            Canon::Simple => "simple",
            Canon::Relaxed => "relaxed",
        }
    }
}

/// pdkim's key types and hashes, in its table order.
pub const KEYTYPES: &[&str] = &["rsa", "ed25519"];
pub const HASHES: &[&str] = &["sha1", "sha256", "sha512"];

/// One DKIM-Signature header as pdkim parses it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SigHeader {
    pub domain: Option<String>,
    pub selector: Option<String>,
    /// `i=`, quoted-printable decoded.
    pub identity: Option<String>,
    /// Index into [`KEYTYPES`] / [`HASHES`].
    pub keytype: usize,
    pub hashtype: usize,
    pub canon_headers: Canon,
    pub canon_body: Canon,
    /// `v=1` gives 1, another version -1, none 0.
    pub version: i32,
    pub bodylength: Option<u64>,
    pub created: u64,
    pub expires: u64,
    pub headernames: Option<String>,
    /// `z=`, quoted-printable decoded.
    pub copiedheaders: Option<String>,
    pub sighash: Vec<u8>,
    pub bodyhash: Vec<u8>,
    /// The header value (after the colon) without the `b=` value.
    pub unsigned_value: Vec<u8>,
}

impl SigHeader {
    /// Exim's `a=` text: `rsa-sha256`.
    pub fn a_tag(&self) -> String {
        format!("{}-{}", KEYTYPES[self.keytype], HASHES[self.hashtype])
    }
}

fn strtoul(v: &str) -> u64 {
    let digits: String = v.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().unwrap_or(0)
}

fn b64(v: &str) -> Vec<u8> {
    let clean: String = v.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    base64::engine::general_purpose::STANDARD
        .decode(clean.trim_end_matches('='))
        .or_else(|_| {
            base64::engine::general_purpose::STANDARD_NO_PAD.decode(clean.trim_end_matches('='))
        })
        .unwrap_or_default()
}

/// DKIM's quoted-printable (`=XX`), as pdkim_decode_qp.
pub fn decode_qp(v: &str) -> String {
    let b = v.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'=' {
            let hex = b
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok());
            if let Some(n) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(n);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Parse a DKIM-Signature header value (the part after the colon). `None` when the
/// `a=` tag names no key type and hash pdkim knows (such signatures are ignored).
pub fn parse_signature(value: &[u8]) -> Option<SigHeader> {
    let mut sig = SigHeader::default();
    let mut keytype = None;
    let mut hashtype = None;
    let mut unsigned = Vec::with_capacity(value.len());
    // Tag-list segments: pdkim keeps every byte except the b= value.
    for (n, seg) in value.split(|&c| c == b';').enumerate() {
        if n > 0 {
            unsigned.push(b';');
        }
        let Some(eq) = seg.iter().position(|&c| c == b'=') else {
            unsigned.extend_from_slice(seg);
            continue;
        };
        let tag: String = seg[..eq]
            .iter()
            .filter(|c| c.is_ascii_lowercase())
            .map(|&c| c as char)
            .collect();
        let val: String = String::from_utf8_lossy(&seg[eq + 1..])
            .chars()
            .filter(|c| !matches!(c, ' ' | '\t' | '\r' | '\n'))
            .collect();
        if tag == "b" {
            unsigned.extend_from_slice(&seg[..=eq]);
        } else {
            unsigned.extend_from_slice(seg);
        }
        if val.is_empty() || !(tag.len() == 1 || tag.starts_with('b')) {
            continue;
        }
        match tag.as_str() {
            "b" => sig.sighash = b64(&val),
            "bh" => sig.bodyhash = b64(&val),
            "v" => sig.version = if val == "1" { 1 } else { -1 },
            "a" => {
                let mut parts = val.splitn(2, '-');
                keytype = parts
                    .next()
                    .and_then(|k| KEYTYPES.iter().position(|t| *t == k));
                hashtype = parts
                    .next()
                    .and_then(|h| HASHES.iter().position(|t| *t == h));
            }
            "c" => {
                let (h, b) = match val.as_str() {
                    "simple/simple" | "simple" => (Canon::Simple, Canon::Simple),
                    "simple/relaxed" => (Canon::Simple, Canon::Relaxed),
                    "relaxed/simple" | "relaxed" => (Canon::Relaxed, Canon::Simple),
                    "relaxed/relaxed" => (Canon::Relaxed, Canon::Relaxed),
                    _ => (sig.canon_headers, sig.canon_body),
                };
                sig.canon_headers = h;
                sig.canon_body = b;
            }
            "s" => sig.selector = Some(val),
            "d" => sig.domain = Some(val),
            "i" => sig.identity = Some(decode_qp(&val)),
            "t" => sig.created = strtoul(&val),
            "x" => sig.expires = strtoul(&val),
            "l" => sig.bodylength = Some(strtoul(&val)),
            "h" => sig.headernames = Some(val),
            "z" => sig.copiedheaders = Some(decode_qp(&val)),
            _ => {}
        }
    }
    sig.keytype = keytype?;
    sig.hashtype = hashtype?;
    while matches!(unsigned.last(), Some(b'\r' | b'\n')) {
        unsigned.pop();
    }
    sig.unsigned_value = unsigned;
    Some(sig)
}

/// A `_domainkey` TXT record as pdkim_parse_pubkey_record reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRecord {
    pub hashes: Option<String>,
    pub keytype: String,
    pub granularity: String,
    pub notes: Option<String>,
    pub srvtype: String,
    pub testing: bool,
    pub no_subdomaining: bool,
    /// `p=`, base64 decoded (empty for a revoked key).
    pub key: Vec<u8>,
}

/// `None`: a `v=` other than `DKIM1`, or no `p=` tag.
pub fn parse_key_record(text: &str) -> Option<KeyRecord> {
    let mut version = None;
    let mut rec = KeyRecord {
        hashes: None,
        keytype: "rsa".into(),
        granularity: "*".into(),
        notes: None,
        srvtype: "*".into(),
        testing: false,
        no_subdomaining: false,
        key: Vec::new(),
    };
    let mut have_key = false;
    for ele in text.split(';') {
        let ele = ele.trim();
        let Some((tag, val)) = ele.split_once('=') else {
            continue;
        };
        match tag.as_bytes().first() {
            Some(b'v') => version = Some(val.to_string()),
            Some(b'h') => rec.hashes = Some(val.to_string()),
            Some(b'k') => rec.keytype = val.to_string(),
            Some(b'g') => rec.granularity = val.to_string(),
            Some(b'n') => rec.notes = Some(decode_qp(val)),
            Some(b'p') => {
                rec.key = b64(val);
                have_key = true;
            }
            Some(b's') => rec.srvtype = val.to_string(),
            Some(b't') => {
                rec.testing |= val.contains('y');
                rec.no_subdomaining |= val.contains('s');
            }
            _ => {}
        }
    }
    if version.as_deref().is_some_and(|v| v != "DKIM1") || !have_key {
        return None;
    }
    Some(rec)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_tags_and_the_unsigned_header() {
        let v = b" v=1; a=rsa-sha256; c=relaxed/simple; d=example.com;\r\n\ts=sel; i=f=40x@example.com; h=From:To;\r\n\tbh=AAAA; b=QUJD\r\n\tREVG;";
        let s = parse_signature(v).unwrap();
        assert_eq!(s.domain.as_deref(), Some("example.com"));
        assert_eq!(s.identity.as_deref(), Some("f@x@example.com"));
        assert_eq!(s.a_tag(), "rsa-sha256");
        assert_eq!(
            (s.canon_headers, s.canon_body),
            (Canon::Relaxed, Canon::Simple)
        );
        assert_eq!(s.headernames.as_deref(), Some("From:To"));
        assert_eq!(s.sighash, b"ABCDEF");
        assert!(String::from_utf8_lossy(&s.unsigned_value).ends_with("\tbh=AAAA; b=;"));
        assert!(parse_signature(b"a=dsa-sha256; d=x").is_none());
    }

    #[test]
    fn key_records() {
        let k = parse_key_record("v=DKIM1; k=rsa; t=y:s; n=a=20b; p=QUJD").unwrap();
        assert!(k.testing && k.no_subdomaining);
        assert_eq!(k.notes.as_deref(), Some("a b"));
        assert_eq!(k.key, b"ABC");
        assert!(parse_key_record("v=DKIM2; p=QUJD").is_none());
        assert!(parse_key_record("v=DKIM1; k=rsa").is_none());
    }
}
