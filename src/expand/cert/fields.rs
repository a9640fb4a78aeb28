//! `${certextract}` fields, formatted as Exim built with OpenSSL formats them
//! (`tlscert-openssl.c`): `None` is "no value" (the item's fail branch).

use x509_parser::extensions::{DistributionPointName, GeneralName, ParsedExtension};
use x509_parser::prelude::X509Certificate;

use crate::expand::cert::dn::{append_listele, field_from_dn, rfc2253};
use crate::expand::cert::Certificate;

type Field = fn(&X509Certificate, Option<&str>) -> Option<Vec<u8>>;

/// Exim's `certfields` table, searched in this order by prefix (`subjectX` is `subject`).
const FIELDS: &[(&str, Field)] = &[
    ("version", version),
    ("serial_number", serial_number),
    ("subject", subject),
    ("notbefore", not_before),
    ("notafter", not_after),
    ("issuer", issuer),
    ("signature", signature),
    ("sig_algorithm", sig_algorithm),
    ("subj_altname", subj_altname),
    ("ocsp_uri", ocsp_uri),
    ("crl_uri", crl_uri),
];

/// Extract `field` (`subject`, `subject,CN`, `subj_altname,dns,>;`, `2.5.29.17` ...).
/// `Err` is Exim's `bad field selector` error.
pub fn extract(cert: &Certificate, field: &str) -> Result<Option<Vec<u8>>, String> {
    let Some(c) = cert.parsed() else {
        return Ok(None);
    };
    if field.starts_with(|ch: char| ch.is_ascii_digit()) {
        return Ok(extension_by_oid(&c, field));
    }
    for (name, run) in FIELDS {
        if let Some(rest) = field.strip_prefix(name) {
            let modifier = rest.strip_prefix(',');
            return Ok(run(&c, modifier));
        }
    }
    Err(format!("bad field selector \"{field}\" for certextract"))
}

/// OpenSSL's 0-based version number: `2` for an X.509 v3 certificate.
fn version(c: &X509Certificate, _: Option<&str>) -> Option<Vec<u8>> {
    Some(c.version().0.to_string().into_bytes())
}

/// `i2a_ASN1_INTEGER` in lower case: hex of the magnitude, `-` when negative.
fn serial_number(c: &X509Certificate, _: Option<&str>) -> Option<Vec<u8>> {
    let raw = c.raw_serial();
    let negative = raw.first().is_some_and(|b| b & 0x80 != 0);
    let mut mag: Vec<u8> = if negative {
        // Two's complement magnitude.
        let mut v: Vec<u8> = raw.iter().map(|b| !b).collect();
        for b in v.iter_mut().rev() {
            let (n, carry) = b.overflowing_add(1);
            *b = n;
            if !carry {
                break;
            }
        }
        v
    } else {
        raw.to_vec()
    };
    while mag.len() > 1 && mag[0] == 0 {
        mag.remove(0);
    }
    let mut s = String::new();
    if negative {
        s.push('-');
    }
    if mag.is_empty() {
        s.push_str("00");
    }
    for b in mag {
        s.push_str(&format!("{b:02x}"));
    }
    Some(s.into_bytes())
}

fn subject(c: &X509Certificate, m: Option<&str>) -> Option<Vec<u8>> {
    name_field(rfc2253(c.subject()), m)
}

fn issuer(c: &X509Certificate, m: Option<&str>) -> Option<Vec<u8>> {
    name_field(rfc2253(c.issuer()), m)
}

fn name_field(dn: String, m: Option<&str>) -> Option<Vec<u8>> {
    match m {
        Some(m) => field_from_dn(&dn, m),
        None => Some(dn.into_bytes()),
    }
}

fn not_before(c: &X509Certificate, m: Option<&str>) -> Option<Vec<u8>> {
    Some(time_text(c.validity().not_before.timestamp(), m))
}

fn not_after(c: &X509Certificate, m: Option<&str>) -> Option<Vec<u8>> {
    Some(time_text(c.validity().not_after.timestamp(), m))
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// `raw`: OpenSSL's `ASN1_TIME_print` (`Jan  2 03:04:05 2026 GMT`); `int`: seconds since
/// the epoch; otherwise `%b %e %T %Y %z` in local time (Exim without `timestamps_utc`).
fn time_text(secs: i64, m: Option<&str>) -> Vec<u8> {
    match m {
        Some("int") => secs.to_string().into_bytes(),
        Some("raw") => {
            let t = broken_down(secs, true);
            format!(
                "{} {:2} {:02}:{:02}:{:02} {} GMT",
                MONTHS[t.tm_mon as usize % 12],
                t.tm_mday,
                t.tm_hour,
                t.tm_min,
                t.tm_sec,
                t.tm_year + 1900
            )
            .into_bytes()
        }
        _ => {
            let t = broken_down(secs, false);
            let off = t.tm_gmtoff;
            let sign = if off < 0 { '-' } else { '+' };
            let off = off.abs();
            format!(
                "{} {:2} {:02}:{:02}:{:02} {} {sign}{:02}{:02}",
                MONTHS[t.tm_mon as usize % 12],
                t.tm_mday,
                t.tm_hour,
                t.tm_min,
                t.tm_sec,
                t.tm_year + 1900,
                off / 3600,
                (off % 3600) / 60
            )
            .into_bytes()
        }
    }
}

fn broken_down(secs: i64, utc: bool) -> libc::tm {
    let t = secs as libc::time_t;
    // SAFETY: gmtime_r/localtime_r only write the zeroed struct they are given.
    unsafe {
        let mut tm: libc::tm = std::mem::zeroed();
        if utc {
            libc::gmtime_r(&t, &mut tm);
        } else {
            libc::localtime_r(&t, &mut tm);
        }
        tm
    }
}

/// OpenSSL's long names (`i2a_ASN1_OBJECT`) for the usual signature algorithms.
const SIG_NAMES: &[(&str, &str)] = &[
    ("1.2.840.10045.4.1", "ecdsa-with-SHA1"),
    ("1.2.840.10045.4.3.2", "ecdsa-with-SHA256"),
    ("1.2.840.10045.4.3.3", "ecdsa-with-SHA384"),
    ("1.2.840.10045.4.3.4", "ecdsa-with-SHA512"),
    ("1.2.840.113549.1.1.4", "md5WithRSAEncryption"),
    ("1.2.840.113549.1.1.5", "sha1WithRSAEncryption"),
    ("1.2.840.113549.1.1.10", "rsassaPss"),
    ("1.2.840.113549.1.1.11", "sha256WithRSAEncryption"),
    ("1.2.840.113549.1.1.12", "sha384WithRSAEncryption"),
    ("1.2.840.113549.1.1.13", "sha512WithRSAEncryption"),
    ("1.2.840.113549.1.1.14", "sha224WithRSAEncryption"),
    ("1.3.101.112", "ED25519"),
    ("1.3.101.113", "ED448"),
];

fn algorithm_name(oid: &x509_parser::der_parser::oid::Oid) -> String {
    let id = oid.to_id_string();
    SIG_NAMES
        .iter()
        .find(|(o, _)| *o == id)
        .map(|(_, n)| n.to_string())
        .unwrap_or(id)
}

/// The algorithm of the to-be-signed part, as `X509_print_ex` names it.
fn sig_algorithm(c: &X509Certificate, _: Option<&str>) -> Option<Vec<u8>> {
    Some(algorithm_name(&c.tbs_certificate.signature.algorithm).into_bytes())
}

/// `X509_signature_print` less its first line: a `    Signature Value:` line, then the
/// signature as `xx:` hex, 18 bytes a line indented by 8 spaces, newline-terminated.
fn signature(c: &X509Certificate, _: Option<&str>) -> Option<Vec<u8>> {
    let sig = &c.signature_value.data;
    let mut s = String::from("    Signature Value:\n");
    for (i, b) in sig.iter().enumerate() {
        if i % 18 == 0 {
            if i > 0 {
                s.push('\n');
            }
            s.push_str("        ");
        }
        s.push_str(&format!("{b:02x}"));
        if i + 1 != sig.len() {
            s.push(':');
        }
    }
    s.push('\n');
    Some(s.into_bytes())
}

fn extension<'a>(c: &'a X509Certificate, oid: &str) -> Option<&'a ParsedExtension<'a>> {
    c.extensions()
        .iter()
        .find(|e| e.oid.to_id_string() == oid)
        .map(|e| e.parsed_extension())
}

/// `subj_altname[,dns|uri|mail][,>X]`: `DNS=`/`URI=`/`MAIL=` tagged names (bare when one
/// type is chosen), separated by newline or X, last name first as OpenSSL's stack pops.
fn subj_altname(c: &X509Certificate, m: Option<&str>) -> Option<Vec<u8>> {
    let Some(ParsedExtension::SubjectAlternativeName(san)) = extension(c, "2.5.29.17") else {
        return None;
    };
    let mut osep = b'\n';
    let mut only: Option<&str> = None;
    let mut rest = m.unwrap_or("").as_bytes();
    while let Some(&first) = rest.first() {
        if first == b'>' && rest.len() > 1 {
            osep = rest[1];
            rest = &rest[2..];
        } else if rest.starts_with(b"dns") {
            only = Some("DNS");
            rest = &rest[3..];
        } else if rest.starts_with(b"uri") {
            only = Some("URI");
            rest = &rest[3..];
        } else if rest.starts_with(b"mail") {
            only = Some("MAIL");
            rest = &rest[4..];
        } else {
            rest = &rest[1..];
        }
        if rest.first() == Some(&b',') {
            rest = &rest[1..];
        }
    }
    let mut list = None;
    for name in san.general_names.iter().rev() {
        let (tag, value) = match name {
            GeneralName::DNSName(v) => ("DNS", *v),
            GeneralName::URI(v) => ("URI", *v),
            GeneralName::RFC822Name(v) => ("MAIL", *v),
            _ => continue,
        };
        if only.is_some_and(|o| o != tag) || value.contains('\0') {
            continue;
        }
        let ele = match only {
            Some(_) => value.to_string(),
            None => format!("{tag}={value}"),
        };
        append_listele(&mut list, osep, ele.as_bytes());
    }
    list
}

/// The output separator modifier `>X` of `ocsp_uri` and `crl_uri`.
fn out_sep(m: Option<&str>) -> u8 {
    match m.map(str::as_bytes) {
        Some([b'>', c, ..]) => *c,
        _ => b'\n',
    }
}

/// `ocsp_uri[,>X]`: the OCSP responders of the Authority Information Access extension.
fn ocsp_uri(c: &X509Certificate, m: Option<&str>) -> Option<Vec<u8>> {
    let Some(ParsedExtension::AuthorityInfoAccess(aia)) = extension(c, "1.3.6.1.5.5.7.1.1") else {
        return None;
    };
    let sep = out_sep(m);
    let mut list = None;
    for ad in &aia.accessdescs {
        if ad.access_method.to_id_string() != "1.3.6.1.5.5.7.48.1" {
            continue;
        }
        if let GeneralName::URI(u) = &ad.access_location {
            append_listele(&mut list, sep, u.as_bytes());
        }
    }
    list
}

/// `crl_uri[,>X]`: the URIs of the CRL Distribution Points extension.
fn crl_uri(c: &X509Certificate, m: Option<&str>) -> Option<Vec<u8>> {
    let Some(ParsedExtension::CRLDistributionPoints(dps)) = extension(c, "2.5.29.31") else {
        return None;
    };
    let sep = out_sep(m);
    let mut list = None;
    for dp in dps.points.iter() {
        if let Some(DistributionPointName::FullName(names)) = &dp.distribution_point {
            for n in names {
                if let GeneralName::URI(u) = n {
                    append_listele(&mut list, sep, u.as_bytes());
                }
            }
        }
    }
    list
}

/// A numeric OID field: the extension's DER value printed as OpenSSL's
/// `ASN1_STRING_print` does (bytes outside printable ASCII, CR and LF become `.`), each
/// printed byte then as two hex digits, space-separated (Exim's dump). An absent
/// extension is no value (Exim's OpenSSL build does not survive that case).
fn extension_by_oid(c: &X509Certificate, oid: &str) -> Option<Vec<u8>> {
    let ext = c
        .extensions()
        .iter()
        .find(|e| e.oid.to_id_string() == oid)?;
    let printed = ext.value.iter().map(|&b| {
        if b > b'~' || (b < b' ' && b != b'\n' && b != b'\r') {
            b'.'
        } else {
            b
        }
    });
    let hex: Vec<String> = printed.map(|b| format!("{b:02x}")).collect();
    Some(hex.join(" ").into_bytes())
}
