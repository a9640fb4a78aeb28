//! DKIM verification of a received message as Exim's pdkim does it: every signature
//! once, kept and ordered by `dkim_verify_hashes`/`dkim_verify_keytypes`, the body hash
//! first, the key from DNS (`<s>._domainkey.<d>` through the resolver), the key policy
//! (`h=`, `dkim_verify_min_keysizes`), then the header signature (mail-auth's crypto).

use mail_auth::common::crypto::{Algorithm, HashAlgorithm};
use mail_auth::common::parse::TxtRecordParser;
use mail_auth::common::verify::DomainKey;
use mail_auth::dkim::Canonicalization;
use mail_auth::AuthenticatedMessage;

use crate::dns::{DnsResult, RData, RType, Resolver};
use crate::mailauth::dkim_sig::{parse_key_record, parse_signature, Canon, KeyRecord, SigHeader};

/// pdkim's signature limit per message.
const MAX_SIGNATURES: usize = 20;
/// pdkim's longest accepted key record.
const MAX_KEY_RECORD: usize = 4096;

/// The main options that shape verification.
#[derive(Debug, Clone)]
pub struct VerifyOptions {
    pub hashes: String,
    pub keytypes: String,
    pub min_keysizes: String,
    pub minimal: bool,
}

impl Default for VerifyOptions {
    fn default() -> Self {
        VerifyOptions {
            hashes: "sha256:sha512".into(),
            keytypes: "ed25519:rsa".into(),
            min_keysizes: "rsa=1024 ed25519=250".into(),
            minimal: false,
        }
    }
}

/// pdkim's `verify_status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    None,
    Invalid,
    Fail,
    Pass,
}

/// pdkim's `verify_ext_status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    None,
    FailBody,
    FailMessage,
    SigAlgoMismatch,
    PubkeyUnavailable,
    BufferSize,
    PubkeyDnsRecord,
    PubkeyImport,
    PubkeyKeysize,
    SignatureError,
    DkimVersion,
}

/// One signature and what verification made of it.
#[derive(Debug, Clone)]
pub struct Signature {
    pub header: SigHeader,
    pub key: Option<KeyRecord>,
    pub keybits: u32,
    pub status: Status,
    pub reason: Reason,
    /// Set when the DKIM ACL changed `$dkim_verify_status`/`_reason` (pdkim's
    /// `PDKIM_VERIFY_POLICY`): the values it left.
    pub policy: Option<(String, String)>,
}

/// The outcome for a message: signatures in pdkim's order, and the log lines verification
/// itself writes (`[failed key import]`, `validation error`).
#[derive(Debug, Clone, Default)]
pub struct Verification {
    pub signatures: Vec<Signature>,
    pub log: Vec<String>,
}

impl Verification {
    /// `$dkim_signers`: each signature's domain and identity, colon-separated.
    pub fn signers(&self) -> String {
        let mut out: Vec<String> = Vec::new();
        for s in &self.signatures {
            for v in [&s.header.domain, &s.header.identity].into_iter().flatten() {
                out.push(v.replace(':', "::"));
            }
        }
        out.join(":")
    }
}

/// Whether a message (LF line ends) has a DKIM-Signature header: without one there is
/// nothing to parse or hash.
pub fn has_signature(message: &[u8]) -> bool {
    for line in message.split(|&c| c == b'\n') {
        if line.is_empty() || line == b"\r" {
            return false;
        }
        if line.len() > 15 && line[..15].eq_ignore_ascii_case(b"dkim-signature:") {
            return true;
        }
    }
    false
}

fn crlf(message: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(message.len() + message.len() / 30);
    for (i, &c) in message.iter().enumerate() {
        if c == b'\n' && (i == 0 || message[i - 1] != b'\r') {
            out.push(b'\r');
        }
        out.push(c);
    }
    out
}

/// Verify every signature of `message` (as received, LF or CRLF line ends).
pub fn verify(message: &[u8], opts: &VerifyOptions, dns: &dyn Resolver) -> Verification {
    let mut out = Verification::default();
    if !has_signature(message) {
        return out;
    }
    let raw = crlf(message);
    let Some(parsed) = AuthenticatedMessage::parse(&raw) else {
        return out;
    };
    let mut sigs: Vec<Signature> = parsed
        .headers
        .iter()
        .filter(|(name, _)| name.eq_ignore_ascii_case(b"dkim-signature"))
        .filter_map(|(_, value)| parse_signature(value))
        .take(MAX_SIGNATURES)
        .map(|header| Signature {
            header,
            key: None,
            keybits: 0,
            status: Status::None,
            reason: Reason::None,
            policy: None,
        })
        .collect();
    for s in &mut sigs {
        if let Some(bh) = body_hash(&parsed, &s.header) {
            if !s.header.bodyhash.is_empty() && bh != s.header.bodyhash {
                s.status = Status::Fail;
                s.reason = Reason::FailBody;
            }
        }
    }
    let mut sigs = sort_by_preference(sigs, opts);
    let mut last_error: Option<String> = None;
    let mut passed = false;
    for s in &mut sigs {
        if s.status == Status::Fail {
            continue;
        }
        check_one(s, &parsed, opts, dns, &mut out.log, &mut last_error);
        if s.status == Status::None {
            s.status = Status::Pass;
            passed = true;
            if opts.minimal {
                break;
            }
        }
    }
    if !passed && !sigs.is_empty() {
        if let Some(e) = last_error {
            out.log.push(format!("DKIM: validation error: {e}"));
        }
    }
    out.signatures = sigs;
    out
}

/// The body hash mail-auth computed for this signature's canonicalization, hash and
/// length (`None` for hashes it does not compute, such as sha512).
fn body_hash(m: &AuthenticatedMessage<'_>, h: &SigHeader) -> Option<Vec<u8>> {
    let cb = match h.canon_body {
        Canon::Simple => Canonicalization::Simple,
        Canon::Relaxed => Canonicalization::Relaxed,
    };
    let ha = match h.hashtype {
        0 => HashAlgorithm::Sha1,
        1 => HashAlgorithm::Sha256,
        _ => return None,
    };
    let l = h.bodylength.unwrap_or(0);
    if let Some((.., bh)) = m
        .body_hashes
        .iter()
        .find(|(c, a, len, _)| *c == cb && *a == ha && *len == l)
    {
        return Some(bh.clone());
    }
    // A signature mail-auth could not parse has no precomputed hash: hash it here.
    let body = m
        .raw_message
        .get(m.body_offset as usize..)
        .unwrap_or_default();
    Some(canonical_body_hash(body, cb, ha, l))
}

fn canonical_body_hash(body: &[u8], cb: Canonicalization, ha: HashAlgorithm, l: u64) -> Vec<u8> {
    ha.hash(cb.canonical_body(body, l)).as_ref().to_vec()
}

/// pdkim's sort_sig_methods: keep signatures whose hash is listed, in list order, then
/// reorder (stably) by the key-type list; others are dropped.
fn sort_by_preference(sigs: Vec<Signature>, opts: &VerifyOptions) -> Vec<Signature> {
    let mut rest = sigs;
    let mut by_hash = Vec::new();
    for name in crate::expand::lists::iter(opts.hashes.as_bytes()) {
        let Some(i) = crate::mailauth::dkim_sig::HASHES
            .iter()
            .position(|h| h.as_bytes() == &name[..])
        else {
            continue;
        };
        let (take, keep): (Vec<_>, Vec<_>) = rest.into_iter().partition(|s| s.header.hashtype == i);
        by_hash.extend(take);
        rest = keep;
    }
    let mut rest = by_hash;
    let mut out = Vec::new();
    for name in crate::expand::lists::iter(opts.keytypes.as_bytes()) {
        let Some(i) = crate::mailauth::dkim_sig::KEYTYPES
            .iter()
            .position(|k| k.as_bytes() == &name[..])
        else {
            continue;
        };
        let (take, keep): (Vec<_>, Vec<_>) = rest.into_iter().partition(|s| s.header.keytype == i);
        out.extend(take);
        rest = keep;
    }
    out
}

/// The first TXT record that is not some other `v=` record, its strings joined
/// (`None`: no answer, or one longer than pdkim accepts).
fn key_txt(dns: &dyn Resolver, name: &str) -> Option<String> {
    let DnsResult::Records(recs) = dns.lookup(name, RType::Txt).result else {
        return None;
    };
    for r in recs {
        let RData::Txt(strings) = r.data else {
            continue;
        };
        let text = strings.concat();
        if text.len() >= MAX_KEY_RECORD {
            return None;
        }
        if !text.starts_with(b"v=") || text.len() >= 6 && text[..6].eq_ignore_ascii_case(b"v=dkim")
        {
            return Some(String::from_utf8_lossy(&text).into_owned());
        }
    }
    None
}

/// The minimum size `dkim_verify_min_keysizes` gives a key type (`rsa=1024 ed25519=250`).
fn min_bits(list: &str, keytype: &str) -> Option<u32> {
    list.split_whitespace()
        .filter_map(|w| w.split_once('='))
        .find(|(k, _)| *k == keytype)
        .and_then(|(_, v)| v.trim().parse().ok())
}

fn check_one(
    s: &mut Signature,
    m: &AuthenticatedMessage<'_>,
    opts: &VerifyOptions,
    dns: &dyn Resolver,
    log: &mut Vec<String>,
    last_error: &mut Option<String>,
) {
    let h = &s.header;
    let present = |v: &Option<String>| v.as_deref().is_some_and(|v| !v.is_empty());
    if !(present(&h.domain)
        && present(&h.selector)
        && present(&h.headernames)
        && !h.bodyhash.is_empty()
        && !h.sighash.is_empty()
        && h.version != 0)
    {
        (s.status, s.reason) = (Status::Invalid, Reason::SignatureError);
        return;
    }
    if h.version != 1 {
        (s.status, s.reason) = (Status::Invalid, Reason::DkimVersion);
        return;
    }
    let domain = h.domain.clone().unwrap_or_default();
    let selector = h.selector.clone().unwrap_or_default();
    let failed_import = format!("DKIM: d={domain} s={selector} [failed key import]");
    let name = format!("{selector}._domainkey.{domain}");
    let Some(text) = key_txt(dns, &name).filter(|t| !t.is_empty()) else {
        (s.status, s.reason) = (Status::Invalid, Reason::PubkeyUnavailable);
        log.push(failed_import);
        return;
    };
    let Some(rec) = parse_key_record(&text).filter(|r| r.srvtype == "*" || r.srvtype == "email")
    else {
        (s.status, s.reason) = (Status::Invalid, Reason::PubkeyDnsRecord);
        log.push(failed_import);
        return;
    };
    let keytype = crate::mailauth::dkim_sig::KEYTYPES[h.keytype];
    let hash = crate::mailauth::dkim_sig::HASHES[h.hashtype];
    // pdkim imports the key as the signature's a= names it, whatever the record's k=.
    let mut key_bytes = rec.key.clone();
    if keytype == "ed25519" && key_bytes.len() > 32 {
        key_bytes.drain(..key_bytes.len() - 32);
    }
    let imported = import_key(keytype, &key_bytes);
    s.key = Some(rec.clone());
    let Some((key, bits)) = imported else {
        (s.status, s.reason) = (Status::Invalid, Reason::PubkeyImport);
        // GnuTLS's text for a key that does not parse, as Debian's Exim logs it.
        *last_error = Some("ASN1 parser: Error in DER parsing.".into());
        log.push(failed_import);
        return;
    };
    s.keybits = bits;
    if let Some(list) = &rec.hashes {
        if !list.split(':').any(|e| e.trim() == hash) {
            (s.status, s.reason) = (Status::Fail, Reason::SigAlgoMismatch);
            return;
        }
    }
    let algorithm = match (keytype, hash) {
        ("rsa", "sha1") => Algorithm::RsaSha1,
        ("rsa", "sha256") => Algorithm::RsaSha256,
        ("ed25519", "sha256") => Algorithm::Ed25519Sha256,
        _ => {
            // rsa-sha512 and ed25519 with another hash: mail-auth has no such algorithm.
            (s.status, s.reason) = (Status::Fail, Reason::FailMessage);
            *last_error = Some("nonhandled hash type".into());
            return;
        }
    };
    let ch = match h.canon_headers {
        Canon::Simple => Canonicalization::Simple,
        Canon::Relaxed => Canonicalization::Relaxed,
    };
    let names: Vec<String> = h
        .headernames
        .as_deref()
        .unwrap_or_default()
        .split(':')
        .map(str::to_string)
        .collect();
    let mut headers = m.signed_headers(&names, b"DKIM-Signature", &h.unsigned_value);
    if key
        .p
        .verify(&mut headers, &h.sighash, ch, algorithm)
        .is_err()
    {
        (s.status, s.reason) = (Status::Fail, Reason::FailMessage);
        // GnuTLS's text, as Debian's Exim logs it.
        *last_error = Some("Public key signature verification has failed.".into());
        return;
    }
    if !opts.min_keysizes.is_empty() {
        if let Some(min) = min_bits(&opts.min_keysizes, keytype) {
            if min > s.keybits {
                (s.status, s.reason) = (Status::Fail, Reason::PubkeyKeysize);
            }
        }
    }
}

/// The key as mail-auth imports it, and its size in bits; `None` when it does not
/// import (a revoked empty key, a malformed one).
fn import_key(keytype: &str, key: &[u8]) -> Option<(DomainKey, u32)> {
    use base64::Engine;
    if key.is_empty() {
        return None;
    }
    let p = base64::engine::general_purpose::STANDARD.encode(key);
    let record = format!("v=DKIM1; k={keytype}; p={p}");
    let dk = DomainKey::parse(record.as_bytes()).ok()?;
    let bits = match keytype {
        "ed25519" if key.len() == 32 => 256,
        "ed25519" => return None,
        _ => match dk.p.public_key_bits() {
            0 | usize::MAX => return None,
            n => n as u32,
        },
    };
    Some((dk, bits))
}

#[cfg(test)]
#[path = "dkim_tests.rs"]
mod tests;
