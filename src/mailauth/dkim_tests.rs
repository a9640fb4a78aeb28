use super::*;
use crate::dns::FakeResolver;

const MESSAGE: &str = "From: a@example.com\nSubject: t\n\nbody\n";

#[test]
fn messages_without_a_signature_are_not_parsed() {
    assert!(!has_signature(MESSAGE.as_bytes()));
    assert!(has_signature(b"X: y\nDKIM-Signature: v=1\n\nbody\n"));
    // A header after the blank line is body text.
    assert!(!has_signature(b"X: y\n\nDKIM-Signature: v=1\n"));
    let v = verify(
        MESSAGE.as_bytes(),
        &VerifyOptions::default(),
        &FakeResolver::default(),
    );
    assert!(v.signatures.is_empty() && v.log.is_empty());
    assert_eq!(v.signers(), "");
}

#[test]
fn key_sizes_from_the_keyed_list() {
    assert_eq!(min_bits("rsa=1024 ed25519=250", "rsa"), Some(1024));
    assert_eq!(min_bits("rsa=1024 ed25519=250", "ed25519"), Some(250));
    assert_eq!(min_bits("rsa=1024", "ed25519"), None);
}

fn sig(keytype: usize, hashtype: usize, d: &str) -> Signature {
    Signature {
        header: SigHeader {
            keytype,
            hashtype,
            domain: Some(d.into()),
            ..Default::default()
        },
        key: None,
        keybits: 0,
        status: Status::None,
        reason: Reason::None,
        policy: None,
    }
}

#[test]
fn signatures_are_kept_and_ordered_as_pdkim_does() {
    // rsa-sha256 a, rsa-sha1 b, ed25519-sha256 c.
    let sigs = vec![sig(0, 1, "a"), sig(0, 0, "b"), sig(1, 1, "c")];
    let kept = sort_by_preference(sigs.clone(), &VerifyOptions::default());
    let order: Vec<_> = kept
        .iter()
        .map(|s| s.header.domain.clone().unwrap())
        .collect();
    assert_eq!(order, ["c", "a"]);
    let opts = VerifyOptions {
        hashes: "sha1:sha256".into(),
        keytypes: "rsa".into(),
        ..Default::default()
    };
    let kept = sort_by_preference(sigs, &opts);
    let order: Vec<_> = kept
        .iter()
        .map(|s| s.header.domain.clone().unwrap())
        .collect();
    assert_eq!(order, ["b", "a"]);
}

#[test]
fn a_signature_without_its_key_is_invalid() {
    let msg = "DKIM-Signature: v=1; a=rsa-sha256; d=example.com; s=sel; c=relaxed/relaxed;\n\
               \th=From:Subject; bh=AAAA; b=QUJD\nFrom: a@example.com\nSubject: t\n\nbody\n";
    let v = verify(
        msg.as_bytes(),
        &VerifyOptions::default(),
        &FakeResolver::default(),
    );
    assert_eq!(v.signatures.len(), 1);
    let s = &v.signatures[0];
    // The body hash is checked first: bh=AAAA is not this body's.
    assert_eq!((s.status, s.reason), (Status::Fail, Reason::FailBody));
    assert_eq!(v.signers(), "example.com");
}
