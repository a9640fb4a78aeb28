//! Shared harness of the TLS end-to-end tests: a daemon with an rcgen certificate, a
//! line client that can switch to TLS (rustls), log and spool access.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore, StreamOwned};

pub const IO_TIMEOUT: Duration = Duration::from_secs(10);

pub struct Daemon {
    child: Child,
    pub port: u16,
    pub dir: PathBuf,
    pub cert: CertificateDer<'static>,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    l.local_addr().expect("local addr").port()
}

/// Start the daemon with a fresh certificate for `localhost` (files `cert.pem`,
/// `key.pem` in the test directory), `extra` main options (`TESTDIR` and `TESTPORT`
/// stand for that directory and the listening port) and `acls`.
pub fn start(name: &str, extra: &str, acls: &str) -> Daemon {
    start_with(name, extra, acls, true)
}

/// [`start`] without `tls_certificate`: the daemon presents its self-signed default.
pub fn start_selfsigned(name: &str, extra: &str, acls: &str) -> Daemon {
    start_with(name, extra, acls, false)
}

fn start_with(name: &str, extra: &str, acls: &str, own_cert: bool) -> Daemon {
    let dir = std::env::temp_dir().join(format!("rexim-tls-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("test dir");
    let ck = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).expect("rcgen");
    std::fs::write(dir.join("cert.pem"), ck.cert.pem()).unwrap();
    std::fs::write(dir.join("key.pem"), ck.key_pair.serialize_pem()).unwrap();
    let port = free_port();
    let conf = format!(
        "primary_hostname = test.example\n\
         local_interfaces = 127.0.0.1\n\
         daemon_smtp_ports = {port}\n\
         spool_directory = {0}/spool\n\
         log_file_path = {0}/log/%slog\n\
         {cert}\
         {extra}\n\
         begin acl\n{acls}\n",
        dir.display(),
        // The test's own tls_certificate replaces the default one.
        cert = if extra.contains("tls_certificate =") || !own_cert {
            String::new()
        } else {
            format!(
                "tls_certificate = {0}/cert.pem\ntls_privatekey = {0}/key.pem\n",
                dir.display()
            )
        },
        extra = extra
            .replace("TESTDIR", &dir.display().to_string())
            .replace("TESTPORT", &port.to_string()),
    );
    let conf_path = dir.join("test.conf");
    std::fs::write(&conf_path, conf).expect("write config");
    let stderr = std::fs::File::create(dir.join("stderr")).expect("stderr file");
    let child = Command::new(env!("CARGO_BIN_EXE_rexim"))
        .args(["-bd", "-C"])
        .arg(&conf_path)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(stderr)
        .spawn()
        .expect("start rexim -bd");
    let mut d = Daemon {
        child,
        port,
        dir,
        cert: ck.cert.der().clone(),
    };
    let deadline = Instant::now() + IO_TIMEOUT;
    loop {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            std::thread::sleep(Duration::from_millis(200));
            return d;
        }
        if let Ok(Some(st)) = d.child.try_wait() {
            panic!("rexim -bd exited with {st}: {}", d.stderr());
        }
        assert!(
            Instant::now() < deadline,
            "rexim -bd did not listen in time"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

impl Daemon {
    pub fn stderr(&self) -> String {
        std::fs::read_to_string(self.dir.join("stderr")).unwrap_or_default()
    }

    pub fn mainlog(&self) -> String {
        std::fs::read_to_string(self.dir.join("log/mainlog")).unwrap_or_default()
    }

    /// Wait until the mainlog has a line containing `what` (log lines are written after
    /// the replies go out).
    pub fn wait_log(&self, what: &str) -> String {
        let deadline = Instant::now() + IO_TIMEOUT;
        loop {
            let log = self.mainlog();
            if log.contains(what) {
                return log;
            }
            assert!(
                Instant::now() < deadline,
                "no {what:?} in the mainlog:\n{log}\nstderr:\n{}",
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn connect(&self) -> Client<TcpStream> {
        let s = TcpStream::connect(("127.0.0.1", self.port)).expect("connect");
        s.set_read_timeout(Some(IO_TIMEOUT)).expect("timeout");
        Client {
            r: BufReader::new(s),
        }
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

    pub fn header_file(&self, id: &str) -> String {
        let spool = rexim::spool::Spool::new(self.dir.join("spool"));
        String::from_utf8(std::fs::read(spool.file(id, "H").unwrap()).unwrap()).unwrap()
    }

    /// An Exim configuration reading this daemon's spool.
    pub fn exim_conf(&self) -> PathBuf {
        let path = self.dir.join("exim.conf");
        let spool = self.dir.join("spool");
        let (user, _, gid) = rexim::spool::Spool::new(spool.clone()).originator;
        std::fs::write(
            &path,
            format!(
                "spool_directory = {0}\nlog_file_path = {0}/exim-%slog\nkeep_environment =\n\
                 exim_user = {user}\nexim_group = {gid}\n\
                 queue_list_requires_admin = false\nprimary_hostname = test.example\n",
                spool.display()
            ),
        )
        .unwrap();
        path
    }
}

pub struct Client<S: Read + Write> {
    pub r: BufReader<S>,
}

impl<S: Read + Write> Client<S> {
    /// One (possibly multi-line) reply, lines joined with `\n`.
    pub fn reply(&mut self) -> String {
        let mut all = String::new();
        loop {
            let mut line = String::new();
            let n = self.r.read_line(&mut line).expect("read reply");
            assert!(n > 0, "connection closed; got so far: {all:?}");
            all.push_str(line.trim_end_matches(['\r', '\n']));
            if line.as_bytes().get(3) != Some(&b'-') {
                return all;
            }
            all.push('\n');
        }
    }

    pub fn send(&mut self, bytes: &[u8]) {
        let w = self.r.get_mut();
        w.write_all(bytes).expect("write");
        w.flush().expect("flush");
    }

    pub fn cmd(&mut self, line: &str) -> String {
        self.send(format!("{line}\r\n").as_bytes());
        self.reply()
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
/// [`Daemon::client_config_any`]).
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
