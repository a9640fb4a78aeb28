//! Certificates as values: Exim's certificate-typed variables (`$tls_in_peercert`,
//! `$tls_in_ourcert`, `$tls_out_peercert`, `$tls_out_ourcert`). The TLS layer hands the
//! DER bytes to [`Context::set_certificate`]; `${certextract}` and the `md5`, `sha1`,
//! `sha256` and `base64` operators read them back. Output formats follow Exim built
//! with OpenSSL (`tlscert-openssl.c`).
//!
//! ```
//! # use rexim::Context;
//! # let der = rcgen::generate_simple_self_signed(vec!["mx.test".into()]).unwrap().cert.der().to_vec();
//! let mut ctx = Context::default();
//! ctx.set_certificate("tls_in_peercert", &der).unwrap();
//! let v = rexim::expand::expand_str("${certextract{subject}{$tls_in_peercert}}", &mut ctx).unwrap();
//! assert_eq!(v.bytes, b"CN=rcgen self signed cert");
//! ```

pub mod dn;
pub mod fields;

use std::sync::Arc;

use x509_parser::prelude::{FromDer, X509Certificate};

use crate::expand::context::Context;

/// The certificate variables, in the order of [`Certificates`]' slots.
pub const CERT_VARS: [&str; 4] = [
    "tls_in_ourcert",
    "tls_in_peercert",
    "tls_out_ourcert",
    "tls_out_peercert",
];

/// What a certificate variable expands to by itself when set (Exim's `vtype_cert`).
pub const CERT_PLACEHOLDER: &str = "<cert>";

/// Why a certificate could not be stored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CertError {
    #[error("\"{0}\" is not a certificate variable")]
    NotACertVariable(String),
    #[error("certificate for ${name} is not valid DER X.509: {reason}")]
    BadDer { name: String, reason: String },
}

/// One certificate's DER encoding (checked to parse when stored).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Certificate {
    der: Arc<[u8]>,
}

impl Certificate {
    /// Check that `der` is one X.509 certificate.
    pub fn from_der(der: &[u8]) -> Result<Certificate, String> {
        let (rest, _) = X509Certificate::from_der(der).map_err(|e| e.to_string())?;
        if !rest.is_empty() {
            return Err(format!("{} bytes after the certificate", rest.len()));
        }
        Ok(Certificate { der: der.into() })
    }

    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// The parsed certificate (parsing borrows from the DER; it was checked when stored).
    pub fn parsed(&self) -> Option<X509Certificate<'_>> {
        X509Certificate::from_der(&self.der).ok().map(|(_, c)| c)
    }
}

/// The four certificate slots of a context.
#[derive(Debug, Clone, Default)]
pub struct Certificates([Option<Certificate>; 4]);

fn slot(name: &str) -> Option<usize> {
    CERT_VARS.iter().position(|v| *v == name)
}

/// Is `name` one of the certificate variables?
pub fn is_cert_var(name: &str) -> bool {
    slot(name).is_some()
}

impl Context {
    /// Set a certificate variable (`tls_in_peercert`, `tls_in_ourcert`, `tls_out_peercert`,
    /// `tls_out_ourcert`) from the certificate's DER bytes. The variable then expands to
    /// `<cert>`, as in Exim, and `${certextract}`/`${md5:$name}` etc. read the certificate.
    pub fn set_certificate(&mut self, name: &str, der: &[u8]) -> Result<(), CertError> {
        let i = slot(name).ok_or_else(|| CertError::NotACertVariable(name.to_string()))?;
        let cert = Certificate::from_der(der).map_err(|reason| CertError::BadDer {
            name: name.to_string(),
            reason,
        })?;
        self.certificates.0[i] = Some(cert);
        self.set(name, CERT_PLACEHOLDER);
        Ok(())
    }

    /// Forget a certificate variable (end of a TLS session); it expands to "" again.
    pub fn clear_certificate(&mut self, name: &str) {
        if let Some(i) = slot(name) {
            self.certificates.0[i] = None;
            self.unset(name);
        }
    }

    /// The certificate in a certificate variable, if one is set.
    pub fn certificate(&self, name: &str) -> Option<&Certificate> {
        slot(name).and_then(|i| self.certificates.0[i].as_ref())
    }
}

#[cfg(test)]
mod tests;
