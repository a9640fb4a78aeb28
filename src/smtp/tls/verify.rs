//! Client certificates: the trusted CAs of `tls_verify_certificates`, the revocation
//! lists of `tls_crl`, and the verifier for `tls_try_verify_hosts` that asks for a
//! certificate but leaves the judgement to after the handshake.

use std::sync::Arc;

use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, CertificateRevocationListDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::server::WebPkiClientVerifier;
use rustls::{
    CertificateError, DigitallySignedStruct, DistinguishedName, RootCertStore, SignatureScheme,
};

use super::explain::Failure;

/// Where Debian keeps the system's trusted CAs (`tls_verify_certificates = system`).
const SYSTEM_CA_FILE: &str = "/etc/ssl/certs/ca-certificates.crt";

/// The file `tls_verify_certificates` names.
pub fn ca_file(spec: &str) -> &str {
    if spec == "system" || spec.is_empty() {
        SYSTEM_CA_FILE
    } else {
        spec
    }
}

/// What `tls_verify_certificates` and `tls_crl` gave: the verifier's inputs, kept for
/// explaining a failure in OpenSSL's words (`explain.rs`).
pub struct Trust {
    pub roots: Vec<CertificateDer<'static>>,
    /// `None`: no `tls_crl`.
    pub crls: Option<Vec<CertificateRevocationListDer<'static>>>,
    /// The CAs came from a directory: OpenSSL then sends no list of CA names.
    from_dir: bool,
}

impl Trust {
    #[cfg(test)]
    pub fn for_tests(
        roots: Vec<CertificateDer<'static>>,
        crls: Option<Vec<CertificateRevocationListDer<'static>>>,
    ) -> Trust {
        Trust {
            roots,
            crls,
            from_dir: false,
        }
    }
}

fn is_dir(path: &str) -> bool {
    std::fs::metadata(path).is_ok_and(|m| m.is_dir())
}

/// `tls_verify_certificates`: a PEM file of trusted CAs, a directory of them (OpenSSL's
/// CApath), or `system`.
fn load_roots(spec: &str) -> Result<(Vec<CertificateDer<'static>>, bool), String> {
    let file = ca_file(spec);
    let from_dir = is_dir(file);
    let certs = if from_dir {
        super::capath::load(std::path::Path::new(file))
            .map_err(|e| format!("(tls_verify_certificates): {e}"))?
    } else {
        CertificateDer::pem_file_iter(file)
            .and_then(|it| it.collect::<Result<Vec<_>, _>>())
            .map_err(|e| format!("(tls_verify_certificates): {file}: {e}"))?
    };
    Ok((certs, from_dir))
}

/// `tls_crl`: a PEM file holding one or more CRLs, or a directory of them (OpenSSL's
/// hashed `<hash>.r0` directory). As Exim's OpenSSL build, a path that cannot be found
/// makes TLS unavailable (`failed to stat ...`); an empty directory leaves every
/// certificate without a CRL (refused, as OpenSSL's `unable to get certificate CRL`).
fn load_crls(path: &str) -> Result<Vec<CertificateRevocationListDer<'static>>, String> {
    let meta = std::fs::metadata(path).map_err(|_| {
        format!("(tls_crl): failed to stat {path} for certificates revocation lists")
    })?;
    if meta.is_dir() {
        return super::capath::load(std::path::Path::new(path))
            .map_err(|e| format!("(tls_crl): {e}"));
    }
    let crls = CertificateRevocationListDer::pem_file_iter(path)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(|e| format!("(tls_crl): {path}: {e}"))?;
    if crls.is_empty() {
        return Err(format!("(tls_crl): {path}: no CRL found"));
    }
    Ok(crls)
}

/// Read the CAs (and CRLs, when `tls_crl` is set).
pub fn load_trust(verify_certificates: &str, crl: &str) -> Result<Trust, String> {
    let (roots, from_dir) = load_roots(verify_certificates)?;
    let crls = match crl.is_empty() {
        true => None,
        false => Some(load_crls(crl)?),
    };
    Ok(Trust {
        roots,
        crls,
        from_dir,
    })
}

/// The verifier for `tls_verify_certificates` (and `tls_crl`, when set). As OpenSSL's
/// `X509_V_FLAG_CRL_CHECK_ALL`, which Exim sets with a CRL, every certificate of the
/// chain needs a CRL from its issuer and an expired CRL fails.
pub fn verifier(
    provider: Arc<CryptoProvider>,
    verify_certificates: &str,
    crl: &str,
) -> Result<Arc<Checker>, String> {
    let trust = load_trust(verify_certificates, crl)?;
    let file = ca_file(verify_certificates);
    let mut roots = RootCertStore::empty();
    let (_, bad) = roots.add_parsable_certificates(trust.roots.iter().cloned());
    if roots.is_empty() {
        return Err(format!(
            "(tls_verify_certificates): {file}: no usable CA certificate ({bad} unreadable)"
        ));
    }
    let mut b = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider);
    if trust.from_dir {
        b = b.clear_root_hint_subjects();
    }
    if let Some(crls) = trust.crls.as_ref().filter(|c| !c.is_empty()) {
        b = b
            .with_crls(crls.iter().cloned())
            .enforce_revocation_expiration();
    }
    let inner = b.build().map_err(|e| match crl.is_empty() {
        true => format!("(tls_verify_certificates): {e}"),
        false => format!("(tls_crl): {crl}: {e}"),
    })?;
    Ok(Arc::new(Checker { inner, trust }))
}

/// The client-certificate verifier: webpki's verdict, with OpenSSL's account of a
/// refusal (`explain.rs`) kept for Exim's `SSL verify error` line.
#[derive(Debug)]
pub struct Checker {
    inner: Arc<dyn ClientCertVerifier>,
    trust: Trust,
}

impl std::fmt::Debug for Trust {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Trust")
            .field("roots", &self.roots.len())
            .field("crls", &self.crls.as_ref().map(Vec::len))
            .finish()
    }
}

impl Checker {
    /// Verify a chain; `Err` holds rustls's error and every failure OpenSSL would log.
    pub fn check(
        &self,
        end: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, (rustls::Error, Vec<Failure>)> {
        // A CRL directory with no CRL in it: no certificate has its CRL (webpki would
        // skip revocation checking instead).
        let result = match &self.trust.crls {
            Some(crls) if crls.is_empty() => Err(rustls::Error::InvalidCertificate(
                CertificateError::UnknownRevocationStatus,
            )),
            _ => self.inner.verify_client_cert(end, intermediates, now),
        };
        result.map_err(|e| {
            let mut chain = vec![end.clone()];
            chain.extend(intermediates.iter().cloned());
            let failures = super::explain::explain(&self.trust, &chain, now, &e);
            (e, failures)
        })
    }
}

impl ClientCertVerifier for Checker {
    fn client_auth_mandatory(&self) -> bool {
        self.inner.client_auth_mandatory()
    }
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        self.inner.root_hint_subjects()
    }
    fn verify_client_cert(
        &self,
        end: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        self.check(end, intermediates, now)
            .map_err(|(e, failures)| {
                // Exim's callback refuses at the first failure.
                super::explain::record(failures.into_iter().take(1).collect());
                e
            })
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// `tls_try_verify_hosts`: ask for a certificate, accept the handshake whatever it is;
/// the real verifier judges it afterwards (`$tls_in_certificate_verified`).
#[derive(Debug)]
pub struct TryVerify(pub Arc<Checker>);

impl ClientCertVerifier for TryVerify {
    fn client_auth_mandatory(&self) -> bool {
        false
    }
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        self.0.root_hint_subjects()
    }
    fn verify_client_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        Ok(ClientCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

/// After a `tls_try_verify_hosts` handshake: does the client's chain verify? `Err`:
/// the failures Exim logs (each passed over, as its callback does for these hosts).
pub fn verified_later(
    checker: &Checker,
    chain: Option<&[CertificateDer<'static>]>,
) -> Result<(), Vec<Failure>> {
    match chain {
        Some([end, rest @ ..]) => checker
            .check(end, rest, UnixTime::now())
            .map(|_| ())
            .map_err(|(_, failures)| failures),
        _ => Err(Vec::new()),
    }
}
