//! The certificate the daemon presents when `tls_certificate` is unset: Exim's OpenSSL
//! build (`tls_install_selfsign`) makes one so that STARTTLS works out of the box. Its
//! shape is Exim's: an RSA-2048 key, X.509 v3, serial 1, valid from now for two hours,
//! subject and issuer `C=UK, O=Exim Developers, CN=<smtp_active_hostname>`. Exim signs it
//! with MD5, which neither ring nor rcgen offers: rexim signs with SHA-256, as Debian's
//! GnuTLS-built exim4 does.
//!
//! Made once when the daemon starts (on a thread of its own) and again when it is an hour old (Exim reloads its
//! preloaded credentials hourly), never per connection.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rcgen::{CertificateParams, DistinguishedName, DnType, DnValue, KeyPair, SerialNumber};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

/// How long the certificate is valid (Exim: `X509_gmtime_adj(notAfter, 2 * 60 * 60)`).
pub const VALIDITY: Duration = Duration::from_secs(2 * 60 * 60);

/// After this a new certificate is made (Exim's credential lifetime for it).
pub const RENEW_AFTER: Duration = Duration::from_secs(60 * 60);

/// RSA key size (Exim: `EVP_RSA_gen(2048)`).
const RSA_BITS: usize = 2048;

/// One generated certificate and its key.
pub struct Generated {
    pub cert: CertificateDer<'static>,
    pub key: PrivatePkcs8KeyDer<'static>,
    made: Instant,
    /// Counts the certificates made, so cached configurations notice a new one.
    pub generation: u64,
}

impl Generated {
    pub fn private_key(&self) -> PrivateKeyDer<'static> {
        PrivateKeyDer::Pkcs8(self.key.clone_key())
    }
}

/// The daemon's self-signed certificate, made on first use and renewed hourly.
pub struct SelfSigned {
    hostname: String,
    current: Mutex<Option<Arc<Generated>>>,
}

impl SelfSigned {
    /// `hostname` goes in the subject's CN (Exim: `smtp_active_hostname`, which is
    /// `primary_hostname` when the daemon preloads it).
    pub fn new(hostname: &str) -> SelfSigned {
        SelfSigned {
            hostname: hostname.to_string(),
            current: Mutex::new(None),
        }
    }

    /// The certificate in force, made now if there is none or it is an hour old.
    pub fn get(&self) -> Result<Arc<Generated>, String> {
        let mut cur = self
            .current
            .lock()
            .map_err(|_| "(selfsign): certificate store unavailable".to_string())?;
        if let Some(g) = cur.as_ref().filter(|g| g.made.elapsed() < RENEW_AFTER) {
            return Ok(g.clone());
        }
        let generation = cur.as_ref().map_or(1, |g| g.generation + 1);
        let g = Arc::new(generate(&self.hostname, generation)?);
        *cur = Some(g.clone());
        Ok(g)
    }
}

/// Make the key and the certificate. `Err` is the text for Exim's TLS error line.
fn generate(hostname: &str, generation: u64) -> Result<Generated, String> {
    use rsa::pkcs8::EncodePrivateKey;
    let mut rng = rand::rngs::OsRng;
    let rsa = rsa::RsaPrivateKey::new(&mut rng, RSA_BITS)
        .map_err(|e| format!("(generating pkey): {e}"))?;
    let pkcs8 = rsa
        .to_pkcs8_der()
        .map_err(|e| format!("(generating pkey): {e}"))?;
    let key_der = PrivatePkcs8KeyDer::from(pkcs8.as_bytes().to_vec());
    let key = KeyPair::from_pkcs8_der_and_sign_algo(&key_der, &rcgen::PKCS_RSA_SHA256)
        .map_err(|e| format!("(assigning pkey): {e}"))?;
    let mut params = CertificateParams::default();
    let now = time::OffsetDateTime::now_utc();
    params.not_before = now;
    params.not_after = now + VALIDITY;
    params.serial_number = Some(SerialNumber::from(vec![1u8]));
    let mut dn = DistinguishedName::new();
    // As OpenSSL writes them: the country a PrintableString, the rest UTF8String.
    let country = rcgen::PrintableString::try_from("UK").map_err(|e| format!("(subject): {e}"))?;
    dn.push(DnType::CountryName, DnValue::PrintableString(country));
    dn.push(DnType::OrganizationName, "Exim Developers");
    dn.push(DnType::CommonName, hostname);
    params.distinguished_name = dn;
    let cert = params
        .self_signed(&key)
        .map_err(|e| format!("(signing cert): {e}"))?;
    Ok(Generated {
        cert: cert.der().clone(),
        key: key_der,
        made: Instant::now(),
        generation,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exim_shape_made_once() {
        let s = SelfSigned::new("mx.example");
        let a = s.get().unwrap();
        let b = s.get().unwrap();
        assert!(Arc::ptr_eq(&a, &b), "made once, not per call");
        assert_eq!(a.generation, 1);
        let c = crate::expand::cert::Certificate::from_der(&a.cert).unwrap();
        let (_, x) = x509_parser::parse_x509_certificate(&a.cert).unwrap();
        assert_eq!(x.version().0, 2, "X.509 v3");
        assert_eq!(x.raw_serial(), &[1]);
        assert_eq!(
            x.subject().to_string(),
            "C=UK, O=Exim Developers, CN=mx.example"
        );
        assert_eq!(x.subject(), x.issuer());
        let span = x.validity().not_after.timestamp() - x.validity().not_before.timestamp();
        assert_eq!(span, 2 * 60 * 60);
        let spki = x.public_key();
        assert_eq!(
            spki.algorithm.algorithm.to_id_string(),
            "1.2.840.113549.1.1.1"
        );
        match spki.parsed().unwrap() {
            x509_parser::public_key::PublicKey::RSA(k) => assert_eq!(k.key_size(), 2048),
            other => panic!("not RSA: {other:?}"),
        }
        drop(c);
    }
}
