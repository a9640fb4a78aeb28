//! Signing test messages with mail-auth's DKIM signer and the test keys in
//! `tests/dkim/keys/` (public halves `*.pub`, base64 of what goes in `p=`).

use std::path::{Path, PathBuf};

use mail_auth::common::crypto::{Ed25519Key, RsaKey, Sha256};
use mail_auth::common::headers::HeaderWriter;
use mail_auth::dkim::{Canonicalization, DkimSigner};

pub fn keys_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/dkim/keys")
}

/// The `p=` value of a test key (`rsa2048`, `ed25519`).
pub fn public_key(name: &str) -> String {
    std::fs::read_to_string(keys_dir().join(format!("{name}.pub")))
        .expect("public key")
        .trim()
        .to_string()
}

/// One signature to add: domain, selector, key name, canonicalization, `i=`.
pub struct Signer<'a> {
    pub domain: &'a str,
    pub selector: &'a str,
    pub key: &'a str,
    pub relaxed: bool,
    pub identity: Option<&'a str>,
}

fn pem_der(pem: &str) -> Vec<u8> {
    use base64::Engine;
    let b64: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    base64::engine::general_purpose::STANDARD
        .decode(b64)
        .expect("PEM body")
}

/// The DKIM-Signature header (CRLF line ends, with its own CRLF) for `message` (CRLF).
pub fn sign(message: &[u8], s: &Signer<'_>) -> String {
    let canon = if s.relaxed {
        Canonicalization::Relaxed
    } else {
        Canonicalization::Simple
    };
    let headers = ["From", "To", "Subject", "Date", "Message-ID"];
    let pem = std::fs::read_to_string(keys_dir().join(format!("{}.pem", s.key))).expect("key");
    let sig = if s.key == "ed25519" {
        let der = pem_der(&pem);
        let key = Ed25519Key::from_pkcs8_maybe_unchecked_der(&der).expect("ed25519 key");
        let mut b = DkimSigner::from_key(key)
            .domain(s.domain)
            .selector(s.selector)
            .headers(headers)
            .header_canonicalization(canon)
            .body_canonicalization(canon);
        if let Some(i) = s.identity {
            b = b.agent_user_identifier(i);
        }
        b.sign(message).expect("sign")
    } else {
        #[allow(deprecated)]
        let key = RsaKey::<Sha256>::from_rsa_pem(&pem).expect("rsa key");
        let mut b = DkimSigner::from_key(key)
            .domain(s.domain)
            .selector(s.selector)
            .headers(headers)
            .header_canonicalization(canon)
            .body_canonicalization(canon);
        if let Some(i) = s.identity {
            b = b.agent_user_identifier(i);
        }
        b.sign(message).expect("sign")
    };
    sig.to_header()
}

/// `message` (LF line ends) with each signer's header prepended, in order (the
/// later signers sign the earlier signatures' message without them); LF line ends.
pub fn signed(message: &str, signers: &[Signer<'_>]) -> String {
    let mut crlf = message.replace('\n', "\r\n");
    for s in signers {
        let h = sign(crlf.as_bytes(), s);
        crlf = format!("{h}{crlf}");
    }
    crlf.replace("\r\n", "\n")
}
