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
    /// The client asked for a stapled OCSP response (`status_request`).
    pub status_request: bool,
}

/// The longest first record a ClientHello comes in (TLS's 16 KiB plus the header).
const MAX_RECORD: usize = 5 + 16384;

/// How often a partial ClientHello is looked at again before giving up.
const PEEK_TRIES: usize = 50;

/// Does the ClientHello waiting on `tcp` carry `status_request`? Peeks (reads nothing
/// away from rustls); a ClientHello split over several records, or not there within
/// about half a second of its first bytes, counts as no.
pub async fn peek_status_request(tcp: &tokio::net::TcpStream) -> bool {
    let mut buf = vec![0u8; MAX_RECORD];
    for _ in 0..PEEK_TRIES {
        let n = match tcp.peek(&mut buf).await {
            Ok(0) | Err(_) => return false,
            Ok(n) => n,
        };
        // Not a handshake record: rustls will say what is wrong; do not wait for more.
        if buf[0] != 22 {
            return false;
        }
        let need = match buf.get(..5) {
            Some(h) if n >= 5 => 5 + usize::from(u16::from_be_bytes([h[3], h[4]])),
            _ => usize::MAX,
        };
        if n >= need {
            return status_request_in(&buf[..need]).unwrap_or(false);
        }
        if n >= MAX_RECORD {
            return false;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    false
}

/// Parse one TLS record holding a ClientHello: is extension 5 (`status_request`) there?
/// `None`: not a ClientHello record, or cut short.
pub fn status_request_in(record: &[u8]) -> Option<bool> {
    const HANDSHAKE: u8 = 22;
    const CLIENT_HELLO: u8 = 1;
    const STATUS_REQUEST: u16 = 5;
    let mut r = Reader(record);
    if r.u8()? != HANDSHAKE {
        return None;
    }
    r.take(4)?; // version, length
    if r.u8()? != CLIENT_HELLO {
        return None;
    }
    r.take(3 + 2 + 32)?; // length, client version, random
    let n = usize::from(r.u8()?);
    r.take(n)?; // session id
    let n = usize::from(r.u16()?);
    r.take(n)?; // cipher suites
    let n = usize::from(r.u8()?);
    r.take(n)?; // compression methods
    let n = usize::from(r.u16()?);
    let mut ext = Reader(r.take(n)?);
    while !ext.0.is_empty() {
        let kind = ext.u16()?;
        let len = usize::from(ext.u16()?);
        ext.take(len)?;
        if kind == STATUS_REQUEST {
            return Some(true);
        }
    }
    Some(false)
}

/// A cursor over bytes for [`status_request_in`].
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Some(a)
    }
    fn u8(&mut self) -> Option<u8> {
        self.take(1).map(|b| b[0])
    }
    fn u16(&mut self) -> Option<u16> {
        self.take(2).map(|b| u16::from_be_bytes([b[0], b[1]]))
    }
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

    /// A ClientHello record with the given extensions (type, body).
    fn client_hello(exts: &[(u16, &[u8])]) -> Vec<u8> {
        let mut e = Vec::new();
        for (kind, body) in exts {
            e.extend(kind.to_be_bytes());
            e.extend((body.len() as u16).to_be_bytes());
            e.extend(*body);
        }
        let mut hs = vec![3, 3];
        hs.extend([7u8; 32]);
        hs.extend([1, 9]); // session id
        hs.extend([0, 2, 0x13, 0x01]); // one suite
        hs.extend([1, 0]); // null compression
        hs.extend((e.len() as u16).to_be_bytes());
        hs.extend(e);
        let mut msg = vec![1, 0];
        msg.extend((hs.len() as u16).to_be_bytes());
        msg.extend(hs);
        let mut rec = vec![22, 3, 1];
        rec.extend((msg.len() as u16).to_be_bytes());
        rec.extend(msg);
        rec
    }

    #[test]
    fn status_request_found_in_the_hello() {
        let with = client_hello(&[(0, b"\0\0"), (5, b"\x01\0\0\0\0"), (16, b"")]);
        assert_eq!(status_request_in(&with), Some(true));
        let without = client_hello(&[(0, b"\0\0"), (16, b"")]);
        assert_eq!(status_request_in(&without), Some(false));
        assert_eq!(status_request_in(&with[..with.len() - 3]), None);
        assert_eq!(status_request_in(b"\x17\x03\x03\x00\x00"), None);
    }

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
