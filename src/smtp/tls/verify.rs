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
use rustls::{DigitallySignedStruct, DistinguishedName, RootCertStore, SignatureScheme};

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

/// `tls_verify_certificates`: a PEM file of trusted CAs, or `system`.
fn load_roots(spec: &str) -> Result<RootCertStore, String> {
    let file = ca_file(spec);
    if std::fs::metadata(file).is_ok_and(|m| m.is_dir()) {
        return Err(format!(
            "(tls_verify_certificates): {file}: a directory of CA files is not supported by rexim; name a PEM file"
        ));
    }
    let mut roots = RootCertStore::empty();
    let certs = CertificateDer::pem_file_iter(file)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(|e| format!("(tls_verify_certificates): {file}: {e}"))?;
    let (_, bad) = roots.add_parsable_certificates(certs);
    if roots.is_empty() {
        return Err(format!(
            "(tls_verify_certificates): {file}: no usable CA certificate ({bad} unreadable)"
        ));
    }
    Ok(roots)
}

/// `tls_crl`: a PEM file holding one or more CRLs. As Exim's OpenSSL build, a file that
/// cannot be found makes TLS unavailable (`failed to stat ...`).
fn load_crls(file: &str) -> Result<Vec<CertificateRevocationListDer<'static>>, String> {
    match std::fs::metadata(file) {
        Err(_) => {
            return Err(format!(
                "(tls_crl): failed to stat {file} for certificates revocation lists"
            ))
        }
        Ok(m) if m.is_dir() => {
            return Err(format!(
                "(tls_crl): {file}: a directory of CRL files is not supported by rexim; name a PEM file"
            ))
        }
        Ok(_) => {}
    }
    let crls = CertificateRevocationListDer::pem_file_iter(file)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(|e| format!("(tls_crl): {file}: {e}"))?;
    if crls.is_empty() {
        return Err(format!("(tls_crl): {file}: no CRL found"));
    }
    Ok(crls)
}

/// The verifier for `tls_verify_certificates` (and `tls_crl`, when set). As OpenSSL's
/// `X509_V_FLAG_CRL_CHECK_ALL`, which Exim sets with a CRL, every certificate of the
/// chain needs a CRL from its issuer and an expired CRL fails.
pub fn verifier(
    provider: Arc<CryptoProvider>,
    verify_certificates: &str,
    crl: &str,
) -> Result<Arc<dyn ClientCertVerifier>, String> {
    let roots = load_roots(verify_certificates)?;
    let mut b = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider);
    if !crl.is_empty() {
        b = b.with_crls(load_crls(crl)?).enforce_revocation_expiration();
    }
    b.build().map_err(|e| match crl.is_empty() {
        true => format!("(tls_verify_certificates): {e}"),
        false => format!("(tls_crl): {crl}: {e}"),
    })
}

/// `tls_try_verify_hosts`: ask for a certificate, accept the handshake whatever it is;
/// the real verifier judges it afterwards (`$tls_in_certificate_verified`).
#[derive(Debug)]
pub struct TryVerify(pub Arc<dyn ClientCertVerifier>);

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

/// After a `tls_try_verify_hosts` handshake: does the client's chain verify?
pub fn verified_later(
    checker: &dyn ClientCertVerifier,
    chain: Option<&[CertificateDer<'static>]>,
) -> bool {
    match chain {
        Some([end, rest @ ..]) => checker
            .verify_client_cert(end, rest, UnixTime::now())
            .is_ok(),
        _ => false,
    }
}
