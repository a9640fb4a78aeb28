//! TLS for `${readsocket}` (`tls=yes`, or `sni=NAME` as newer Exims accept): a rustls
//! client over the connected socket.
//!
//! Exim starts readsocket TLS with the smtp transport's default options, where
//! `tls_try_verify_hosts = *`: the server certificate is checked against the system CAs
//! but a failure does not stop the read. So rexim accepts any server certificate; the
//! handshake signatures are still verified, so the peer must hold the certificate's key.
//! No SNI is sent unless `sni=` names one.

use std::io::{Read, Write};
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, ClientConnection, DigitallySignedStruct, SignatureScheme, StreamOwned};

/// Accepts the server's certificate (Exim's optional verification), checks signatures.
#[derive(Debug)]
struct TryVerify(Arc<CryptoProvider>);

impl ServerCertVerifier for TryVerify {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// One client configuration per SNI choice, built once per process.
fn config(sni: bool) -> Result<Arc<ClientConfig>, String> {
    static WITH: std::sync::OnceLock<Result<Arc<ClientConfig>, String>> =
        std::sync::OnceLock::new();
    static WITHOUT: std::sync::OnceLock<Result<Arc<ClientConfig>, String>> =
        std::sync::OnceLock::new();
    let cell = if sni { &WITH } else { &WITHOUT };
    cell.get_or_init(|| {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut c = ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(TryVerify(provider)))
            .with_no_client_auth();
        c.enable_sni = sni;
        Ok(Arc::new(c))
    })
    .clone()
}

/// A TLS session over `sock`, handshake done; `sni` is the name to send, if any.
/// Errors are the text after Exim's `TLS connect failed: `.
pub fn connect<S: Read + Write>(
    sock: S,
    sni: Option<&str>,
) -> Result<StreamOwned<ClientConnection, S>, String> {
    let cfg = config(sni.is_some())?;
    // Without SNI the name only labels the session.
    let name = match sni {
        Some(n) => {
            ServerName::try_from(n.to_string()).map_err(|e| format!("bad SNI {n:?}: {e}"))?
        }
        None => ServerName::try_from("readsocket.invalid").map_err(|e| e.to_string())?,
    };
    let conn = ClientConnection::new(cfg, name).map_err(|e| e.to_string())?;
    let mut tls = StreamOwned::new(conn, sock);
    while tls.conn.is_handshaking() {
        tls.conn
            .complete_io(&mut tls.sock)
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut => {
                    "timed out".to_string()
                }
                _ => e.to_string(),
            })?;
    }
    Ok(tls)
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};
    use std::net::TcpListener;
    use std::sync::Arc;
    use std::time::Duration;

    use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
    use rustls::{ServerConfig, ServerConnection, StreamOwned};

    use crate::expand::{expand_str, Context};

    fn server_config() -> Arc<ServerConfig> {
        let ck = rcgen::generate_simple_self_signed(vec!["mx.test".into()]).expect("cert");
        let cert = CertificateDer::from(ck.cert.der().to_vec());
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(ck.key_pair.serialize_der()));
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let cfg = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![cert], key)
            .expect("server config");
        Arc::new(cfg)
    }

    /// A one-connection TLS server on 127.0.0.1: reads one line, answers
    /// `sni=<name>|- got=<line>` then `reply_tail`, sends close_notify.
    fn serve_tls(reply_tail: &'static str) -> u16 {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = l.local_addr().unwrap().port();
        let cfg = server_config();
        std::thread::spawn(move || {
            let Ok((sock, _)) = l.accept() else { return };
            sock.set_read_timeout(Some(Duration::from_secs(5))).ok();
            let conn = ServerConnection::new(cfg).expect("server conn");
            let mut tls = StreamOwned::new(conn, sock);
            let mut line = Vec::new();
            let mut b = [0u8; 1];
            while line.last() != Some(&b'\n') {
                match tls.read(&mut b) {
                    Ok(1) => line.push(b[0]),
                    _ => return,
                }
            }
            let sni = tls.conn.server_name().unwrap_or("-").to_string();
            let reply = format!(
                "sni={sni} got={}{reply_tail}",
                String::from_utf8_lossy(&line)
            );
            let _ = tls.write_all(reply.as_bytes());
            tls.conn.send_close_notify();
            let _ = tls.flush();
        });
        port
    }

    fn expand(s: &str) -> String {
        let mut ctx = Context::default();
        match expand_str(s, &mut ctx) {
            Ok(v) => String::from_utf8_lossy(&v.bytes).into_owned(),
            Err(e) => format!("Failed: {}", e.message),
        }
    }

    #[test]
    fn tls_yes_sends_no_sni_and_accepts_a_self_signed_server() {
        let port = serve_tls("bye\n");
        let r = expand(&format!(
            "${{readsocket{{inet:127.0.0.1:{port}}}{{ping\\n}}{{5s:tls=yes}}}}"
        ));
        assert_eq!(r, "sni=- got=ping\nbye\n");
    }

    #[test]
    fn sni_option_names_the_server_and_implies_tls() {
        let port = serve_tls("");
        let r = expand(&format!(
            "${{readsocket{{inet:127.0.0.1:{port}}}{{q\\n}}{{5s:sni=mx.test}}{{|}}}}"
        ));
        assert_eq!(r, "sni=mx.test got=q|");
    }

    #[test]
    fn tls_to_a_plain_server_fails_or_gives_the_failstring() {
        for (tail, want) in [("", "Failed: TLS connect failed: "), ("{}{FB}", "FB")] {
            let l = TcpListener::bind("127.0.0.1:0").expect("bind");
            let port = l.local_addr().unwrap().port();
            std::thread::spawn(move || {
                if let Ok((mut s, _)) = l.accept() {
                    let _ = s.write_all(b"220 plain text, not TLS\r\n");
                }
            });
            let r = expand(&format!(
                "${{readsocket{{inet:127.0.0.1:{port}}}{{q}}{{5s:tls=yes}}{tail}}}"
            ));
            assert!(r.starts_with(want), "{r}");
        }
    }

    #[test]
    fn a_silent_server_times_the_handshake_out() {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = l.local_addr().unwrap().port();
        let h = std::thread::spawn(move || {
            let c = l.accept();
            std::thread::sleep(Duration::from_millis(2500));
            drop(c);
        });
        let r = expand(&format!(
            "${{readsocket{{inet:127.0.0.1:{port}}}{{q}}{{1s:tls=yes}}}}"
        ));
        assert_eq!(r, "Failed: TLS connect failed: timed out");
        let _ = h.join();
    }
}
