//! Decisions taken on the ClientHello, before the handshake goes on: the ALPN check
//! (Exim's `tls_server_alpn_cb`) and the configuration that refuses a handshake.

use std::sync::Arc;

use rustls::server::{ClientHello, ResolvesServerCert, ServerConfig};
use rustls::sign::CertifiedKey;

/// What the client sent in its ClientHello that rexim acts on.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Hello {
    pub sni: Option<String>,
    /// The ALPN names offered (`None`: no ALPN extension).
    pub alpn: Option<Vec<Vec<u8>>>,
}

/// Exim's rule: a client offering ALPN must offer exactly one name, and it must be in
/// `tls_alpn`; that name is then selected. `Ok(None)`: nothing to select (no ALPN
/// offered, or `tls_alpn` empty). `Err`: the handshake is refused. With `required`
/// (`hosts_require_alpn`), a client offering no ALPN is refused too.
pub fn alpn_choice(
    offered: Option<&[Vec<u8>]>,
    ours: &[String],
    required: bool,
) -> Result<Option<Vec<u8>>, String> {
    if ours.is_empty() {
        return Ok(None);
    }
    let Some(offered) = offered else {
        if required {
            return Err("(SSL_accept): ALPN required but not negotiated".into());
        }
        return Ok(None);
    };
    match offered {
        [one] if ours.iter().any(|n| n.as_bytes() == one.as_slice()) => Ok(Some(one.clone())),
        _ => Err(format!(
            "(SSL_accept): ALPN rejected: the client offered {}",
            offered
                .iter()
                .map(|n| format!("'{}'", String::from_utf8_lossy(n)))
                .collect::<Vec<_>>()
                .join(" ")
        )),
    }
}

/// No certificate for anyone: rustls ends the handshake with a fatal alert, as Exim's
/// callbacks do when SNI re-expansion or ALPN fails.
#[derive(Debug)]
struct NoCertificate;

impl ResolvesServerCert for NoCertificate {
    fn resolve(&self, _: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        None
    }
}

/// A configuration whose handshake always fails with an alert to the client (`None`
/// only if rustls refused its own provider).
pub fn refusal() -> Option<Arc<ServerConfig>> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(rustls::ALL_VERSIONS)
        .ok()
        .map(|b| {
            Arc::new(
                b.with_no_client_auth()
                    .with_cert_resolver(Arc::new(NoCertificate)),
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alpn_follows_exim() {
        let ours = vec!["smtp".to_string(), "esmtp".to_string()];
        assert_eq!(alpn_choice(None, &ours, false), Ok(None));
        assert_eq!(
            alpn_choice(None, &ours, true),
            Err("(SSL_accept): ALPN required but not negotiated".into())
        );
        assert_eq!(alpn_choice(None, &[], true), Ok(None));
        assert_eq!(
            alpn_choice(Some(&[b"esmtp".to_vec()]), &ours, false),
            Ok(Some(b"esmtp".to_vec()))
        );
        assert!(alpn_choice(Some(&[b"h2".to_vec()]), &ours, false).is_err());
        // Two names, even with one of ours among them: refused, as Exim does.
        let e = alpn_choice(Some(&[b"smtp".to_vec(), b"h2".to_vec()]), &ours, false).unwrap_err();
        assert_eq!(
            e,
            "(SSL_accept): ALPN rejected: the client offered 'smtp' 'h2'"
        );
        // tls_alpn empty: not checked.
        assert_eq!(alpn_choice(Some(&[b"h2".to_vec()]), &[], false), Ok(None));
    }
}
