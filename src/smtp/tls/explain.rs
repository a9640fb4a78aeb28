//! Why a client certificate failed, as OpenSSL's verifier would say it, for Exim's
//! `SSL verify error: depth=N error=<reason> cert=<subject>` log line. rustls (webpki)
//! gives the verdict; this walks the chain in OpenSSL's order — issuer lookup, CA
//! flags and purpose, revocation (`X509_V_FLAG_CRL_CHECK_ALL`), then signatures and
//! validity dates from the top down — to find each failing certificate, its depth and
//! OpenSSL's reason text (`X509_verify_cert_error_string`, OpenSSL 3.0 wording).

use std::cell::RefCell;

use rustls::pki_types::{CertificateDer, UnixTime};
use rustls::{CertificateError, Error};
use x509_parser::certificate::X509Certificate;
use x509_parser::revocation_list::CertificateRevocationList;

use super::verify::Trust;

/// One failing check: where in the chain (0: the client's own certificate) and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub depth: usize,
    pub reason: &'static str,
    /// The failing certificate's subject, `X509_NAME_oneline` form.
    pub subject: String,
}

impl Failure {
    /// The log text after `[<ip>] `.
    pub fn line(&self) -> String {
        format!(
            "SSL verify error: depth={} error={} cert={}",
            self.depth, self.reason, self.subject
        )
    }
}

// OpenSSL 3.0's texts for the errors rexim can tell apart.
const UNSPECIFIED: &str = "unspecified certificate verification error";
const NO_CRL: &str = "unable to get certificate CRL";
const SIGNATURE: &str = "certificate signature failure";
const NOT_YET_VALID: &str = "certificate is not yet valid";
const EXPIRED: &str = "certificate has expired";
const CRL_NOT_YET_VALID: &str = "CRL is not yet valid";
const CRL_EXPIRED: &str = "CRL has expired";
const SELF_SIGNED: &str = "self-signed certificate";
const SELF_SIGNED_IN_CHAIN: &str = "self-signed certificate in certificate chain";
const NO_LOCAL_ISSUER: &str = "unable to get local issuer certificate";
const FIRST_UNVERIFIED: &str = "unable to verify the first certificate";
const REVOKED: &str = "certificate revoked";
const INVALID_CA: &str = "invalid CA certificate";
const PURPOSE: &str = "unsupported certificate purpose";
const CRITICAL: &str = "unhandled critical extension";

/// Longest chain walked (OpenSSL's default verify depth is 100; clients send few).
const MAX_DEPTH: usize = 16;

thread_local! {
    /// The failures the verifier saw in the handshake running on this thread; taken
    /// by the handshake's caller in the same poll that returns rustls's error.
    static LAST: RefCell<Vec<Failure>> = const { RefCell::new(Vec::new()) };
}

/// The verifier keeps what it found for the handshake's caller.
pub fn record(failures: Vec<Failure>) {
    LAST.with(|l| *l.borrow_mut() = failures);
}

/// What the last failed verification on this thread found (then forgotten).
pub fn take() -> Vec<Failure> {
    LAST.with(|l| std::mem::take(&mut *l.borrow_mut()))
}

/// Each failure OpenSSL's verifier would report for `chain` (the client's certificate
/// first), in its order, given that rustls refused it with `err`. Under
/// `tls_try_verify_hosts` Exim logs them all; otherwise the first stops the handshake.
pub fn explain(
    trust: &Trust,
    chain: &[CertificateDer<'_>],
    now: UnixTime,
    err: &Error,
) -> Vec<Failure> {
    let found = walk(trust, chain, now.as_secs() as i64);
    if !found.is_empty() {
        return found;
    }
    // rustls refused what OpenSSL's checks above pass: say what rustls saw.
    let subject = chain
        .first()
        .and_then(|c| super::dn::subject_oneline(c))
        .unwrap_or_default();
    vec![Failure {
        depth: 0,
        reason: reason_of(err),
        subject,
    }]
}

/// OpenSSL's wording for a rustls certificate error.
fn reason_of(err: &Error) -> &'static str {
    use CertificateError as C;
    match err {
        Error::InvalidCertificate(e) => match e {
            C::Expired | C::ExpiredContext { .. } => EXPIRED,
            C::NotValidYet | C::NotValidYetContext { .. } => NOT_YET_VALID,
            C::Revoked => REVOKED,
            C::UnknownIssuer => NO_LOCAL_ISSUER,
            C::UnknownRevocationStatus => NO_CRL,
            C::ExpiredRevocationList | C::ExpiredRevocationListContext { .. } => CRL_EXPIRED,
            C::BadSignature => SIGNATURE,
            C::InvalidPurpose | C::InvalidPurposeContext { .. } => PURPOSE,
            C::UnhandledCriticalExtension => CRITICAL,
            _ => UNSPECIFIED,
        },
        _ => UNSPECIFIED,
    }
}

struct Parsed<'a> {
    der: &'a [u8],
    cert: X509Certificate<'a>,
}

fn parse(der: &[u8]) -> Option<Parsed<'_>> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    Some(Parsed { der, cert })
}

fn self_issued(c: &X509Certificate<'_>) -> bool {
    c.subject().as_raw() == c.issuer().as_raw()
}

fn failure(path: &[&Parsed<'_>], depth: usize, reason: &'static str) -> Failure {
    let mut subject = super::dn::subject_oneline(path[depth].der).unwrap_or_default();
    // Exim reads the name into a 256-byte buffer.
    if subject.len() > 255 {
        let mut end = 255;
        while !subject.is_char_boundary(end) {
            end -= 1;
        }
        subject.truncate(end);
    }
    Failure {
        depth,
        reason,
        subject,
    }
}

/// OpenSSL's `X509_verify_cert` in outline, every failure reported and passed over as
/// Exim's callback does under `tls_try_verify_hosts`.
fn walk(trust: &Trust, chain: &[CertificateDer<'_>], now: i64) -> Vec<Failure> {
    // The client's own certificate must parse; its intermediates that do not are
    // left out (OpenSSL would have refused them before verifying).
    let Some(end) = chain.first().and_then(|c| parse(c)) else {
        return Vec::new();
    };
    let end = &end;
    let presented: Vec<Parsed<'_>> = chain[1..].iter().filter_map(|c| parse(c)).collect();
    let anchors: Vec<Parsed<'_>> = trust.roots.iter().filter_map(|c| parse(c)).collect();
    let mut out = Vec::new();

    // The chain: trusted CAs first (OpenSSL's X509_V_FLAG_TRUSTED_FIRST), then the
    // client's own intermediates, by issuer name.
    let mut path: Vec<&Parsed<'_>> = vec![end];
    let mut trusted = false;
    while path.len() < MAX_DEPTH {
        let cur = path[path.len() - 1];
        if anchors.iter().any(|a| a.der == cur.der) {
            trusted = true;
            break;
        }
        if let Some(a) = anchors
            .iter()
            .find(|a| a.cert.subject().as_raw() == cur.cert.issuer().as_raw())
        {
            path.push(a);
            trusted = true;
            break;
        }
        let depth = path.len() - 1;
        if self_issued(&cur.cert) {
            let why = if depth == 0 {
                SELF_SIGNED
            } else {
                SELF_SIGNED_IN_CHAIN
            };
            out.push(failure(&path, depth, why));
            break;
        }
        match presented.iter().find(|p| {
            p.cert.subject().as_raw() == cur.cert.issuer().as_raw()
                && !path.iter().any(|q| q.der == p.der)
        }) {
            Some(next) => path.push(next),
            None => {
                out.push(failure(&path, depth, NO_LOCAL_ISSUER));
                break;
            }
        }
    }

    // CA flags and the client-authentication purpose.
    for (depth, p) in path.iter().enumerate() {
        if depth > 0 {
            let is_ca = matches!(p.cert.basic_constraints(), Ok(Some(bc)) if bc.value.ca);
            if !is_ca {
                out.push(failure(&path, depth, INVALID_CA));
            }
        } else if let Ok(Some(eku)) = p.cert.extended_key_usage() {
            if !eku.value.any && !eku.value.client_auth {
                out.push(failure(&path, depth, PURPOSE));
            }
        }
    }

    // Revocation: every certificate of the chain needs a current CRL from its issuer.
    if let Some(crls) = &trust.crls {
        let parsed: Vec<CertificateRevocationList<'_>> = crls
            .iter()
            .filter_map(|c| x509_parser::parse_x509_crl(c).ok().map(|(_, crl)| crl))
            .collect();
        for depth in 0..path.len() {
            let cert = &path[depth].cert;
            let Some(crl) = parsed
                .iter()
                .find(|c| c.issuer().as_raw() == cert.issuer().as_raw())
            else {
                out.push(failure(&path, depth, NO_CRL));
                continue;
            };
            if crl.last_update().timestamp() > now {
                out.push(failure(&path, depth, CRL_NOT_YET_VALID));
            }
            if crl.next_update().is_some_and(|t| t.timestamp() < now) {
                out.push(failure(&path, depth, CRL_EXPIRED));
            }
            if crl
                .iter_revoked_certificates()
                .any(|r| r.raw_serial() == cert.raw_serial())
            {
                out.push(failure(&path, depth, REVOKED));
            }
        }
    }

    // Signatures and dates, from the top down (OpenSSL's internal_verify). An
    // untrusted top that is not self-issued has no issuer to check it with.
    let top = path.len() - 1;
    let mut lowest_checked_from = top;
    if trusted || self_issued(&path[top].cert) {
        dates(&path, top, now, &mut out);
    } else if top == 0 {
        out.push(failure(&path, 0, FIRST_UNVERIFIED));
        dates(&path, 0, now, &mut out);
        lowest_checked_from = 0;
    }
    for depth in (0..lowest_checked_from).rev() {
        let issuer = path[depth + 1].cert.public_key();
        if path[depth].cert.verify_signature(Some(issuer)).is_err() {
            out.push(failure(&path, depth, SIGNATURE));
        }
        dates(&path, depth, now, &mut out);
    }
    out
}

/// OpenSSL's validity check of the certificate at `depth`.
fn dates(path: &[&Parsed<'_>], depth: usize, now: i64, out: &mut Vec<Failure>) {
    let v = path[depth].cert.validity();
    if v.not_before.timestamp() > now {
        out.push(failure(path, depth, NOT_YET_VALID));
    } else if v.not_after.timestamp() < now {
        out.push(failure(path, depth, EXPIRED));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unreadable_certificates_get_rustls_reason_at_depth_zero() {
        let trust = Trust::for_tests(Vec::new(), None);
        let junk = CertificateDer::from(b"\x30\x03junk".to_vec());
        let err = Error::InvalidCertificate(CertificateError::Revoked);
        let got = explain(&trust, &[junk], UnixTime::now(), &err);
        assert_eq!(got.len(), 1);
        assert_eq!(
            got[0].line(),
            "SSL verify error: depth=0 error=certificate revoked cert="
        );
        let err = Error::InvalidCertificate(CertificateError::BadEncoding);
        let got = explain(&trust, &[], UnixTime::now(), &err);
        assert_eq!(got[0].reason, UNSPECIFIED);
    }

    #[test]
    fn a_self_signed_certificate_and_a_missing_crl() {
        let mut params = rcgen::CertificateParams::new(vec!["c.test".into()]).unwrap();
        params.distinguished_name = rcgen::DistinguishedName::new();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "c.test");
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        let der = cert.der().clone();
        let err = Error::InvalidCertificate(CertificateError::UnknownIssuer);
        let trust = Trust::for_tests(Vec::new(), Some(Vec::new()));
        let got: Vec<(usize, &str)> =
            explain(&trust, std::slice::from_ref(&der), UnixTime::now(), &err)
                .iter()
                .map(|f| (f.depth, f.reason))
                .collect();
        assert_eq!(got, [(0, SELF_SIGNED), (0, NO_CRL)]);
        // Trusted as it is: nothing OpenSSL would object to, so rustls's reason.
        let trust = Trust::for_tests(vec![der.clone()], None);
        let got = explain(&trust, &[der], UnixTime::now(), &err);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].reason, NO_LOCAL_ISSUER);
        assert_eq!(got[0].subject, "/CN=c.test");
    }
}
