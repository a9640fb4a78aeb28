//! The STARTTLS layer of the end-to-end tests: a daemon with an rcgen certificate for
//! `localhost`, rustls client configurations trusting it (or any server), and the
//! client's switch to TLS.

use std::io::{BufReader, Read, Write};
use std::net::TcpStream;
use std::ops::Deref;
use std::sync::Arc;

use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore, StreamOwned};

use super::client::Client;
use super::daemon::{self, Daemon};

/// A [`Daemon`] and the certificate it was given.
pub struct TlsDaemon {
    pub daemon: Daemon,
    pub cert: CertificateDer<'static>,
}

impl Deref for TlsDaemon {
    type Target = Daemon;
    fn deref(&self) -> &Daemon {
        &self.daemon
    }
}

/// Start the daemon with a fresh certificate for `localhost` (files `cert.pem`,
/// `key.pem` in the test directory), `extra` main options (`TESTDIR` and `TESTPORT`
/// stand for that directory and the listening port) and `acls`.
pub fn start(name: &str, extra: &str, acls: &str) -> TlsDaemon {
    start_with(name, extra, acls, true)
}

/// [`start`] without `tls_certificate`: the daemon presents its self-signed default.
pub fn start_selfsigned(name: &str, extra: &str, acls: &str) -> TlsDaemon {
    start_with(name, extra, acls, false)
}

fn start_with(name: &str, extra: &str, acls: &str, own_cert: bool) -> TlsDaemon {
    let dir = daemon::fresh_dir(&format!("tls-{name}"));
    let ck = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).expect("rcgen");
    std::fs::write(dir.join("cert.pem"), ck.cert.pem()).unwrap();
    std::fs::write(dir.join("key.pem"), ck.key_pair.serialize_pem()).unwrap();
    // The test's own tls_certificate replaces the default one.
    let cert = if extra.contains("tls_certificate =") || !own_cert {
        ""
    } else {
        "tls_certificate = TESTDIR/cert.pem\ntls_privatekey = TESTDIR/key.pem\n"
    };
    let rest = format!("{cert}{extra}\nbegin acl\n{acls}\n");
    TlsDaemon {
        daemon: daemon::start_in(dir, daemon::free_port(), &rest),
        cert: ck.cert.der().clone(),
    }
}

impl TlsDaemon {
    /// A connection past the banner (`220`) and `EHLO <helo>`, which must offer STARTTLS.
    pub fn offering_starttls(&self, helo: &str) -> Client<TcpStream> {
        let mut c = self.connect();
        assert!(c.reply().starts_with("220"));
        assert!(c.cmd(&format!("EHLO {helo}")).contains("STARTTLS"));
        c
    }

    /// A client configuration trusting this daemon's certificate. Connections made with
    /// the same configuration share its ticket store.
    pub fn client_config(&self) -> Arc<ClientConfig> {
        Arc::new(
            self.client_builder(rustls::ALL_VERSIONS)
                .with_no_client_auth(),
        )
    }

    /// A client configuration that takes any server certificate (the self-signed
    /// default names no SAN and no CA), still checking the handshake signatures.
    pub fn client_config_any(
        &self,
        versions: &[&'static rustls::SupportedProtocolVersion],
    ) -> Arc<ClientConfig> {
        any_server_config(versions)
    }

    /// The start of a client configuration for `versions`, trusting this daemon.
    pub fn client_builder(
        &self,
        versions: &[&'static rustls::SupportedProtocolVersion],
    ) -> rustls::ConfigBuilder<ClientConfig, rustls::client::WantsClientCert> {
        let mut roots = RootCertStore::empty();
        roots.add(self.cert.clone()).unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        ClientConfig::builder_with_provider(provider)
            .with_protocol_versions(versions)
            .unwrap()
            .with_root_certificates(roots)
    }
}

pub type TlsClient = Client<StreamOwned<ClientConnection, TcpStream>>;

impl Client<TcpStream> {
    /// After `220 TLS go ahead`: the handshake, as the client side.
    pub fn handshake(self, cfg: &Arc<ClientConfig>) -> TlsClient {
        assert!(self.r.buffer().is_empty(), "clear text after the 220");
        let tcp = self.r.into_inner();
        let name = ServerName::try_from("localhost").unwrap();
        let conn = ClientConnection::new(cfg.clone(), name).expect("client connection");
        let mut tls = StreamOwned::new(conn, tcp);
        while tls.conn.is_handshaking() {
            tls.conn
                .complete_io(&mut tls.sock)
                .expect("TLS handshake with rexim");
        }
        Client {
            r: BufReader::new(tls),
        }
    }

    /// Banner, EHLO, STARTTLS, handshake, EHLO again; returns the client and the second
    /// EHLO reply (reading it also takes in the TLS 1.3 tickets).
    pub fn upgrade(mut self, cfg: &Arc<ClientConfig>) -> (TlsClient, String) {
        assert!(self.reply().starts_with("220 test.example ESMTP"));
        let ehlo = self.cmd("EHLO client.test");
        assert!(ehlo.contains("\n250-STARTTLS\n"), "{ehlo}");
        assert_eq!(self.cmd("STARTTLS"), "220 TLS go ahead");
        let mut tls = self.handshake(cfg);
        let ehlo = tls.cmd("EHLO client.test");
        (tls, ehlo)
    }
}

pub fn send_message<S: Read + Write>(c: &mut Client<S>) -> String {
    assert!(c.cmd("MAIL FROM:<a@client.test>").starts_with("250"));
    let r = c.cmd("RCPT TO:<u@test.example>");
    assert!(r.starts_with("250"), "{r}");
    assert!(c.cmd("DATA").starts_with("354"));
    c.send(b"Subject: over TLS\r\n\r\nbody\r\n.\r\n");
    let r = c.reply();
    assert!(r.starts_with("250 OK id="), "{r}");
    r.trim_start_matches("250 OK id=").to_string()
}

/// A client configuration taking any server certificate (see
/// [`TlsDaemon::client_config_any`]).
pub fn any_server_config(
    versions: &[&'static rustls::SupportedProtocolVersion],
) -> Arc<ClientConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let any = Arc::new(AnyServer(provider.clone()));
    Arc::new(
        ClientConfig::builder_with_provider(provider)
            .with_protocol_versions(versions)
            .unwrap()
            .dangerous()
            .with_custom_certificate_verifier(any)
            .with_no_client_auth(),
    )
}

/// Accepts any server certificate; verifies the handshake signatures with it.
#[derive(Debug)]
struct AnyServer(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for AnyServer {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
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
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }
    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// A CA (PEM), and a client certificate it signed (`O=Example, CN=client.test`, for
/// client authentication) with its key.
pub fn client_pki() -> (
    String,
    CertificateDer<'static>,
    rustls::pki_types::PrivateKeyDer<'static>,
) {
    use rcgen::{BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa};
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name.push(DnType::CommonName, "Test CA");
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let mut cl = CertificateParams::new(vec!["client.test".to_string()]).unwrap();
    cl.distinguished_name = rcgen::DistinguishedName::new();
    cl.distinguished_name
        .push(DnType::OrganizationName, "Example");
    cl.distinguished_name
        .push(DnType::CommonName, "client.test");
    cl.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    let cl_key = rcgen::KeyPair::generate().unwrap();
    let cl_cert = cl.signed_by(&cl_key, &ca_cert, &ca_key).unwrap();
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(rustls::pki_types::PrivatePkcs8KeyDer::from(
        cl_key.serialize_der(),
    ));
    (ca_cert.pem(), cl_cert.der().clone(), key)
}
