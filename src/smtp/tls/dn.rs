//! The subject of a DER certificate as OpenSSL's `X509_NAME_oneline` prints it
//! (`/C=UK/O=Example/CN=client.example`): the form of `$tls_in_peerdn` in Exim's
//! OpenSSL build. A small DER reader: only the framing of the certificate is walked.

/// One DER element: tag, contents, and the rest of the input after it.
fn element(der: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let tag = *der.first()?;
    let first = *der.get(1)?;
    let (len, head) = if first < 0x80 {
        (usize::from(first), 2)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 {
            return None;
        }
        let mut len = 0usize;
        for &b in der.get(2..2 + n)? {
            len = (len << 8) | usize::from(b);
        }
        (len, 2 + n)
    };
    let body = der.get(head..head.checked_add(len)?)?;
    Some((tag, body, &der[head + len..]))
}

/// Dotted text of an OID.
fn oid_text(oid: &[u8]) -> String {
    let mut parts: Vec<u64> = Vec::new();
    let mut v: u64 = 0;
    for (i, &b) in oid.iter().enumerate() {
        v = (v << 7) | u64::from(b & 0x7f);
        if b & 0x80 == 0 {
            if parts.is_empty() && i < 8 {
                let first = (v / 40).min(2);
                parts.push(first);
                parts.push(v - first * 40);
            } else {
                parts.push(v);
            }
            v = 0;
        }
    }
    parts
        .iter()
        .map(u64::to_string)
        .collect::<Vec<_>>()
        .join(".")
}

/// OpenSSL's short names for the usual attribute types.
fn short_name(oid: &str) -> Option<&'static str> {
    Some(match oid {
        "2.5.4.3" => "CN",
        "2.5.4.5" => "serialNumber",
        "2.5.4.6" => "C",
        "2.5.4.7" => "L",
        "2.5.4.8" => "ST",
        "2.5.4.9" => "street",
        "2.5.4.10" => "O",
        "2.5.4.11" => "OU",
        "1.2.840.113549.1.9.1" => "emailAddress",
        "0.9.2342.19200300.100.1.25" => "DC",
        "0.9.2342.19200300.100.1.1" => "UID",
        _ => return None,
    })
}

/// `/type=value` for each attribute of a Name, in order.
fn name_oneline(name: &[u8]) -> Option<String> {
    let mut out = String::new();
    let mut rdns = name;
    while !rdns.is_empty() {
        let (_, set, rest) = element(rdns)?;
        rdns = rest;
        let mut atvs = set;
        while !atvs.is_empty() {
            let (_, atv, rest) = element(atvs)?;
            atvs = rest;
            let (_, oid, after) = element(atv)?;
            let (_, value, _) = element(after)?;
            let oid = oid_text(oid);
            out.push('/');
            out.push_str(short_name(&oid).unwrap_or(&oid));
            out.push('=');
            out.push_str(&String::from_utf8_lossy(value));
        }
    }
    Some(out)
}

/// The subject of a certificate, or `None` when the DER cannot be read.
pub fn subject_oneline(cert: &[u8]) -> Option<String> {
    let (_, certificate, _) = element(cert)?;
    let (_, tbs, _) = element(certificate)?;
    let mut rest = tbs;
    // Optional [0] version, then serial, signature algorithm, issuer, validity, subject.
    let (tag, _, r) = element(rest)?;
    if tag == 0xa0 {
        rest = r;
    }
    for _ in 0..4 {
        rest = element(rest)?.2;
    }
    let (_, subject, _) = element(rest)?;
    name_oneline(subject)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subject_of_a_generated_certificate() {
        let mut params = rcgen::CertificateParams::new(vec!["client.test".into()]).unwrap();
        let mut dn = rcgen::DistinguishedName::new();
        dn.push(rcgen::DnType::CountryName, "UK");
        dn.push(rcgen::DnType::OrganizationName, "Example Ltd");
        dn.push(rcgen::DnType::CommonName, "client.test");
        params.distinguished_name = dn;
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        assert_eq!(
            subject_oneline(cert.der()).as_deref(),
            Some("/C=UK/O=Example Ltd/CN=client.test")
        );
        assert_eq!(subject_oneline(b"\x30\x05junk"), None);
        assert_eq!(subject_oneline(b""), None);
    }
}
