//! Test certificates made with rcgen from fixed Ed25519 keys, so every run (and every
//! snapshot) sees the same DER bytes. Shared by the certificate and TLS tests.
#![allow(dead_code)]

use rcgen::{
    CertificateParams, CrlDistributionPoint, CustomExtension, DistinguishedName, DnType, DnValue,
    KeyPair, SanType, SerialNumber,
};

/// PKCS#8 wrapping of a raw Ed25519 seed.
fn ed25519_key(seed: u8) -> KeyPair {
    let mut der = vec![
        0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04,
        0x20,
    ];
    der.extend(std::iter::repeat_n(seed, 32));
    KeyPair::try_from(der.as_slice()).expect("Ed25519 PKCS#8 key")
}

/// DER-encode a short TLV.
fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    assert!(content.len() < 128);
    let mut v = vec![tag, content.len() as u8];
    v.extend_from_slice(content);
    v
}

/// Authority Information Access: an OCSP responder and a CA issuers URI.
fn aia() -> CustomExtension {
    let ocsp = [0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x30, 0x01];
    let ca = [0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x30, 0x02];
    let mut one = tlv(0x06, &ocsp);
    one.extend(tlv(0x86, b"http://ocsp.test/"));
    let mut two = tlv(0x06, &ca);
    two.extend(tlv(0x86, b"http://ca.test/ca.der"));
    let mut seq = tlv(0x30, &one);
    seq.extend(tlv(0x30, &two));
    CustomExtension::from_oid_content(&[1, 3, 6, 1, 5, 5, 7, 1, 1], tlv(0x30, &seq))
}

pub struct Certs {
    pub ca_der: Vec<u8>,
    pub server_der: Vec<u8>,
    pub server_key_der: Vec<u8>,
    pub bare_der: Vec<u8>,
}

fn ca_params() -> CertificateParams {
    let mut p = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::OrganizationName, "Acme");
    dn.push(DnType::CommonName, "Test CA");
    p.distinguished_name = dn;
    p.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    p.serial_number = Some(SerialNumber::from_slice(&[0x01]));
    p.not_before = rcgen::date_time_ymd(2026, 1, 1);
    p.not_after = rcgen::date_time_ymd(2036, 1, 1);
    p
}

/// A CA, a server certificate it signed (names, SANs, AIA, CRL points) and a bare
/// self-signed certificate without extensions.
pub fn make() -> Certs {
    let ca_key = ed25519_key(1);
    let ca = ca_params().self_signed(&ca_key).expect("CA");

    let mut p = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(
        DnType::CountryName,
        DnValue::PrintableString("GB".try_into().unwrap()),
    );
    dn.push(DnType::LocalityName, "Zürich");
    dn.push(DnType::OrganizationName, "Acme, Inc.");
    dn.push(DnType::OrganizationalUnitName, "#ops; <mail>");
    dn.push(DnType::CommonName, "mx.test");
    dn.push(
        DnType::CustomDnType(vec![1, 2, 840, 113549, 1, 9, 1]),
        DnValue::Ia5String("pm@mx.test".try_into().unwrap()),
    );
    p.distinguished_name = dn;
    p.subject_alt_names = vec![
        SanType::DnsName("mx.test".try_into().unwrap()),
        SanType::DnsName("*.mx.test".try_into().unwrap()),
        SanType::Rfc822Name("postmaster@mx.test".try_into().unwrap()),
        SanType::URI("https://mx.test/a;b".try_into().unwrap()),
        SanType::IpAddress("192.0.2.1".parse().unwrap()),
    ];
    p.crl_distribution_points = vec![CrlDistributionPoint {
        uris: vec![
            "http://crl.test/a.crl".into(),
            "http://crl2.test/b.crl".into(),
        ],
    }];
    p.custom_extensions = vec![aia()];
    p.serial_number = Some(SerialNumber::from_slice(&[0x00, 0xc0, 0xff, 0xee, 0x12]));
    p.not_before = rcgen::date_time_ymd(2026, 1, 2);
    p.not_after = rcgen::date_time_ymd(2027, 3, 4);
    let server_key = ed25519_key(2);
    let server = p.signed_by(&server_key, &ca, &ca_key).expect("server cert");

    let mut b = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, "bare");
    b.distinguished_name = dn;
    b.serial_number = Some(SerialNumber::from_slice(&[0x7f]));
    b.not_before = rcgen::date_time_ymd(2025, 12, 31);
    b.not_after = rcgen::date_time_ymd(2026, 12, 31);
    b.use_authority_key_identifier_extension = false;
    b.key_identifier_method = rcgen::KeyIdMethod::PreSpecified(Vec::new());
    let bare = b.self_signed(&ed25519_key(3)).expect("bare cert");

    Certs {
        ca_der: ca.der().to_vec(),
        server_der: server.der().to_vec(),
        server_key_der: server_key.serialize_der(),
        bare_der: bare.der().to_vec(),
    }
}
