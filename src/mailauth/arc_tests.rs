//! ARC sealing and verification against a fixture zone, cross-checked with mail-auth's
//! own ARC verifier and sealer.

use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Arc;

use mail_auth::common::headers::HeaderWriter;
use mail_auth::common::parse::TxtRecordParser;
use mail_auth::common::verify::DomainKey;
use mail_auth::{AuthenticatedMessage, DkimResult, Parameters, ResolverCache, Txt};

use crate::dns::FakeResolver;
use crate::mailauth::arc::{authres, ArcOutcome};
use crate::mailauth::arc_sign::{parse_spec, sign, SignSpec};
use crate::mailauth::arc_verify::{verify, ArcMessage};

const KEY1: &str = include_str!("../../tests/arc/keys/sel1.key");
const PUB1: &str = include_str!("../../tests/arc/keys/sel1.pub");
const KEY2: &str = include_str!("../../tests/arc/keys/sel2.key");
const PUB2: &str = include_str!("../../tests/arc/keys/sel2.pub");

fn zone() -> FakeResolver {
    FakeResolver::parse(&format!(
        "sel1._domainkey.hop1.example TXT \"v=DKIM1; k=rsa; p={PUB1}\"\n\
         sel2._domainkey.hop2.example TXT \"v=DKIM1; k=rsa; p={PUB2}\"\n\
         wrong._domainkey.hop1.example TXT \"v=DKIM1; k=rsa; p={PUB2}\"\n\
         web._domainkey.hop1.example TXT \"v=DKIM1; s=web; p={PUB1}\"\n"
    ))
    .expect("zone")
}

const MESSAGE: &str = "From: alice@origin.example\n\
To: list@hop1.example\n\
Subject: ARC test\n\
Date: Tue, 01 Dec 2026 10:00:00 +0000\n\
Message-ID: <m1@origin.example>\n\
\n\
Hello,\n\
\x20 a body line with  spaces\n\
\n";

/// Header lines (continuations joined) and body of a message text.
fn split(text: &str) -> (Vec<Vec<u8>>, Vec<u8>) {
    let (head, body) = text.split_once("\n\n").unwrap_or((text, ""));
    let mut headers: Vec<Vec<u8>> = Vec::new();
    for line in head.split_inclusive('\n') {
        let line = if line.ends_with('\n') {
            line.to_string()
        } else {
            format!("{line}\n")
        };
        match headers.last_mut() {
            Some(h) if line.starts_with([' ', '\t']) => h.extend_from_slice(line.as_bytes()),
            _ => headers.push(line.into_bytes()),
        }
    }
    (headers, body.as_bytes().to_vec())
}

fn check(text: &str) -> ArcOutcome {
    let (headers, body) = split(text);
    let msg = ArcMessage {
        headers: headers.iter().map(Vec::as_slice).collect(),
        body: &body,
    };
    verify(&msg, &zone())
}

fn spec(admd: &str, sel: &str, key: &str) -> SignSpec {
    SignSpec {
        identity: admd.into(),
        selector: sel.into(),
        privkey: key.into(),
        timestamp: None,
        expire: None,
    }
}

/// One hop: the ADMD adds its A-R header, then seals; the set goes on top.
fn hop(text: &str, admd: &str, sel: &str, key: &str, arc: &str) -> String {
    let with_ar = format!(
        "Authentication-Results: {admd}; spf=pass smtp.mailfrom=origin.example{arc}\n{text}"
    );
    let (headers, body) = split(&with_ar);
    let msg = ArcMessage {
        headers: headers.iter().map(Vec::as_slice).collect(),
        body: &body,
    };
    let set = sign(&spec(admd, sel, key), &msg).expect("sealed");
    let set = String::from_utf8(set).unwrap().replace("\r\n", "\n");
    format!("{set}{with_ar}")
}

fn one_hop() -> String {
    hop(MESSAGE, "hop1.example", "sel1", KEY1, "")
}

fn two_hops() -> String {
    hop(&one_hop(), "hop2.example", "sel2", KEY2, ";\n\tarc=pass")
}

#[test]
fn no_arc_headers_is_none() {
    let o = check(MESSAGE);
    assert_eq!((o.state, o.reason, o.domains.as_str()), ("none", None, ""));
    assert_eq!(o.received, None);
    assert_eq!(
        authres(Some(&check(MESSAGE)), Some("192.0.2.1")),
        ";\n\tarc=none"
    );
}

#[test]
fn a_sealed_message_passes() {
    let text = one_hop();
    assert!(
        text.starts_with("ARC-Seal: i=1; cv=none; a=rsa-sha256; d=hop1.example; s=sel1;\n\t b="),
        "{text}"
    );
    let o = check(&text);
    assert_eq!(o.state, "pass", "{o:?}");
    assert_eq!(o.reason, None);
    assert_eq!(o.domains, "hop1.example");
    assert_eq!(o.oldest_pass, 1);
    assert_eq!(o.received, Some((1, "sel1".into())));
    assert_eq!(
        authres(Some(&o), Some("192.0.2.1")),
        ";\n\tarc=pass (i=1) header.s=sel1 arc.oldest-pass=1 smtp.remote-ip=192.0.2.1"
    );
}

#[test]
fn the_set_has_exims_shape() {
    let text = one_hop();
    let (headers, _) = split(&text);
    let names: Vec<String> = headers
        .iter()
        .take(3)
        .map(|h| {
            String::from_utf8_lossy(h)
                .split(':')
                .next()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(
        names,
        [
            "ARC-Seal",
            "ARC-Authentication-Results",
            "ARC-Message-Signature"
        ]
    );
    let aar = String::from_utf8_lossy(&headers[1]);
    assert_eq!(
        aar,
        "ARC-Authentication-Results: i=1; hop1.example;\n\tspf=pass smtp.mailfrom=origin.example\n"
    );
    let ams = String::from_utf8_lossy(&headers[2]);
    assert!(
        ams.starts_with(
            "ARC-Message-Signature: i=1; a=rsa-sha256; c=relaxed; d=hop1.example; s=sel1;\n\tbh="
        ),
        "{ams}"
    );
    // h= lists the signed headers bottom-up.
    assert!(
        ams.contains(";\n\th=Message-ID:Date:Subject:To:From;\n\tb="),
        "{ams}"
    );
}

#[test]
fn two_hops_pass_with_both_domains() {
    let o = check(&two_hops());
    assert_eq!(o.state, "pass", "{o:?}");
    assert_eq!(o.domains, "hop1.example:hop2.example");
    assert_eq!(o.oldest_pass, 1);
    assert_eq!(o.received, Some((2, "sel2".into())));
}

#[test]
fn a_changed_body_fails_the_newest_ams() {
    let text = one_hop().replace("Hello,", "Hullo,");
    let o = check(&text);
    assert_eq!(o.state, "fail");
    assert_eq!(o.reason.as_deref(), Some("AMS body hash miscompare"));
    assert_eq!(o.oldest_pass, 0);
    assert_eq!(
        authres(Some(&o), None),
        ";\n\tarc=fail (i=1)(AMS body hash miscompare) header.s=sel1 arc.oldest-pass=0"
    );
}

#[test]
fn a_body_changed_between_hops_moves_the_oldest_pass() {
    let first = one_hop().replace("Hello,", "Hullo,");
    let text = hop(&first, "hop2.example", "sel2", KEY2, ";\n\tarc=pass");
    let o = check(&text);
    assert_eq!(o.state, "pass", "{o:?}");
    assert_eq!(o.oldest_pass, 2);
}

#[test]
fn broken_chains_fail_with_exims_reasons() {
    let two = two_hops();
    let (headers, body) = split(&two);
    let rebuild = |keep: &dyn Fn(&str) -> bool| {
        let mut t: String = headers
            .iter()
            .map(|h| String::from_utf8_lossy(h).into_owned())
            .filter(|h| keep(h))
            .collect();
        t.push('\n');
        t.push_str(&String::from_utf8_lossy(&body));
        t
    };
    // The first hop's set is gone: instance 2 has no predecessor.
    let o = check(&rebuild(&|h| !h.starts_with("ARC-") || h.contains("i=2;")));
    assert_eq!(
        (o.state, o.reason.as_deref()),
        ("fail", Some("(sequence; expected i=1)"))
    );
    // Exim pads the missing instance with ':' and then adds a separator as well.
    assert_eq!(o.domains, "::hop2.example");
    // One header of the first set missing.
    let o = check(&rebuild(&|h| {
        !(h.starts_with("ARC-Message-Signature: i=1;"))
    }));
    assert_eq!(o.reason.as_deref(), Some("i=1 (missing header)"));
    // A duplicated seal.
    let seal = headers[0].clone();
    let mut dup = vec![seal];
    dup.extend(headers.iter().cloned());
    let t: String = dup
        .iter()
        .map(|h| String::from_utf8_lossy(h).into_owned())
        .collect::<String>()
        + "\n"
        + &String::from_utf8_lossy(&body);
    let o = check(&t);
    assert_eq!(
        o.reason.as_deref(),
        Some("collecting headers: inserting AS")
    );
    // A gap: instance 3 sealed on top of 1.
    let o = check(&two.replace("i=2;", "i=3;"));
    assert_eq!(o.reason.as_deref(), Some("i=1 (sequence; expected 2)"));
}

#[test]
fn a_failed_chain_value_fails_at_once() {
    let o = check(&one_hop().replace("cv=none", "cv=fail"));
    assert_eq!((o.state, o.reason.as_deref()), ("fail", Some("i=1 (cv)")));
    // cv=pass on the first seal: the shape is fine, the seal check refuses it.
    let o = check(&one_hop().replace("cv=none", "cv=pass"));
    assert_eq!(o.reason.as_deref(), Some("seal cv state"));
}

#[test]
fn key_problems() {
    // The signature's selector has no key.
    let o = check(&one_hop().replace("s=sel1", "s=nokey"));
    assert_eq!(o.reason.as_deref(), Some("pubkey problem"));
    // A key that does not match.
    let o = check(&one_hop().replace("s=sel1", "s=wrong"));
    assert_eq!(o.reason.as_deref(), Some("AMS sig nonverify"));
    // A key for another service.
    let o = check(&one_hop().replace("s=sel1", "s=web"));
    assert_eq!(o.reason.as_deref(), Some("pubkey problem"));
}

#[test]
fn a_tampered_seal_fails_its_signature() {
    let text = one_hop().replace(
        "ARC-Authentication-Results: i=1; hop1.example;",
        "ARC-Authentication-Results: i=1; hop1.example; dkim=pass;",
    );
    let o = check(&text);
    assert_eq!(
        (o.state, o.reason.as_deref()),
        ("fail", Some("seal sigverify error"))
    );
    assert_eq!(o.oldest_pass, 1, "the AMS still verifies");
}

#[test]
fn signing_specifications() {
    assert_eq!(parse_spec("", 0), Err("identity"));
    assert_eq!(parse_spec("a.example", 0), Err("selector"));
    assert_eq!(parse_spec("a.example:sel", 0), Err("privkey"));
    assert_eq!(parse_spec("a_b:sel:/k", 0), Err("identity"));
    assert_eq!(parse_spec("a.example:s/1:/k", 0), Err("selector"));
    let s = parse_spec("a.example : sel : /k : timestamps,expire", 1000).unwrap();
    assert_eq!(
        (s.timestamp, s.expire),
        (Some(1000), Some(1000 + 2_592_000))
    );
    assert_eq!(
        parse_spec("a:s:/k:expire=+60", 10).unwrap().expire,
        Some(70)
    );
    assert_eq!(
        parse_spec("a:s:/k:expire=+0", 10).unwrap().expire,
        Some(2_592_010)
    );
    assert_eq!(
        parse_spec("a:s:/k:expire=12345", 10).unwrap().expire,
        Some(12345)
    );
    assert_eq!(parse_spec("a:s:/k", 10).unwrap().privkey, "/k");
}

#[test]
fn signing_needs_the_admds_results_header() {
    let (headers, body) = split(MESSAGE);
    let msg = ArcMessage {
        headers: headers.iter().map(Vec::as_slice).collect(),
        body: &body,
    };
    assert_eq!(
        sign(&spec("hop1.example", "sel1", KEY1), &msg),
        Err("ARC: no Authentication-Results header for signing".into())
    );
    let s = parse_spec("hop1.example:sel1:t=1", 0).unwrap();
    let text = format!("Authentication-Results: hop1.example; none\n{MESSAGE}");
    let (headers, body) = split(&text);
    let msg = ArcMessage {
        headers: headers.iter().map(Vec::as_slice).collect(),
        body: &body,
    };
    assert!(sign(&s, &msg)
        .unwrap_err()
        .starts_with("ARC: signing: private key not usable"));
}

#[test]
fn timestamps_and_expiry_are_written() {
    let with_ar = format!("Authentication-Results: hop1.example; none\n{MESSAGE}");
    let (headers, body) = split(&with_ar);
    let msg = ArcMessage {
        headers: headers.iter().map(Vec::as_slice).collect(),
        body: &body,
    };
    let s = parse_spec(
        &format!("hop1.example:sel1:{KEY1}:timestamps,expire=+60"),
        1000,
    )
    .unwrap();
    let set = String::from_utf8(sign(&s, &msg).unwrap()).unwrap();
    assert!(
        set.starts_with(
            "ARC-Seal: i=1; cv=none; a=rsa-sha256; d=hop1.example; s=sel1; t=1000;\r\n\t b="
        ),
        "{set}"
    );
    assert!(set.contains("s=sel1; t=1000; x=1060;\r\n\tbh="), "{set}");
    let o = check(&format!("{}{with_ar}", set.replace("\r\n", "\n")));
    assert_eq!(o.state, "pass", "{o:?}");
}

/// mail-auth's TXT cache holding the fixture keys.
struct Keys(HashMap<Box<str>, Txt>);

impl ResolverCache<Box<str>, Txt> for Keys {
    fn get<Q>(&self, name: &Q) -> Option<Txt>
    where
        Box<str>: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.0.get(name).cloned()
    }
    fn remove<Q>(&self, _: &Q) -> Option<Txt>
    where
        Box<str>: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        None
    }
    fn insert(&self, _: Box<str>, _: Txt, _: std::time::Instant) {}
}

fn keys() -> Keys {
    let mut m = HashMap::new();
    for (name, p) in [
        ("sel1._domainkey.hop1.example.", PUB1),
        ("sel2._domainkey.hop2.example.", PUB2),
    ] {
        let k = DomainKey::parse(format!("v=DKIM1; p={p}").as_bytes()).unwrap();
        m.insert(name.into(), Txt::DomainKey(Arc::new(k)));
    }
    Keys(m)
}

fn mail_auth_verdict(text: &str) -> DkimResult {
    let raw = text.replace('\n', "\r\n");
    let msg = AuthenticatedMessage::parse(raw.as_bytes()).unwrap();
    let dns = crate::mailauth::spf_dns::SpfDns::Offline(Default::default());
    let auth = crate::mailauth::spf_dns::authenticator(&dns).unwrap();
    let k = keys();
    let out = crate::mailauth::spf_dns::runtime()
        .block_on(auth.verify_arc(Parameters::new(&msg).with_txt_cache(&k)));
    out.result().clone()
}

#[test]
fn mail_auth_agrees_with_our_verdicts() {
    assert_eq!(mail_auth_verdict(&one_hop()), DkimResult::Pass);
    assert_eq!(mail_auth_verdict(&two_hops()), DkimResult::Pass);
    assert!(matches!(
        mail_auth_verdict(&one_hop().replace("cv=none", "cv=fail")),
        DkimResult::Fail(_)
    ));
}

#[test]
fn a_set_sealed_by_mail_auth_verifies() {
    use mail_auth::arc::ArcSealer;
    use mail_auth::common::crypto::{RsaKey, Sha256};
    use rustls_pki_types::pem::PemObject;
    let text = one_hop();
    let raw = text.replace('\n', "\r\n");
    let msg = AuthenticatedMessage::parse(raw.as_bytes()).unwrap();
    let dns = crate::mailauth::spf_dns::SpfDns::Offline(Default::default());
    let auth = crate::mailauth::spf_dns::authenticator(&dns).unwrap();
    let k = keys();
    let rt = crate::mailauth::spf_dns::runtime();
    let arc = rt.block_on(auth.verify_arc(Parameters::new(&msg).with_txt_cache(&k)));
    let results = mail_auth::AuthenticationResults::new("hop2.example")
        .with_arc_result(&arc, "192.0.2.9".parse().unwrap());
    let der = rustls_pki_types::PrivateKeyDer::from_pem_slice(KEY2.as_bytes()).unwrap();
    let key = RsaKey::<Sha256>::from_key_der(der).unwrap();
    let set = ArcSealer::from_key(key)
        .domain("hop2.example")
        .selector("sel2")
        .headers(["From", "To", "Subject", "DKIM-Signature"])
        .seal(&msg, &results, &arc)
        .expect("mail-auth seals");
    let sealed = format!("{}{}", set.to_header(), raw).replace("\r\n", "\n");
    let o = check(&sealed);
    assert_eq!(o.state, "pass", "{o:?}");
    assert_eq!(o.domains, "hop1.example:hop2.example");
    assert_eq!(o.received, Some((2, "sel2".into())));
}
