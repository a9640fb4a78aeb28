//! rustls server configurations for STARTTLS: built from the PEM files named by
//! `tls_certificate`/`tls_privatekey` (and `tls_verify_certificates`), cached until one of
//! the files changes, and specialised per connection for session tickets.

use std::collections::HashMap;
use std::os::unix::fs::MetadataExt;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::server::{NoServerSessionStorage, ProducesTickets, ServerConfig, WebPkiClientVerifier};
use rustls::{DigitallySignedStruct, DistinguishedName, RootCertStore, SignatureScheme};

use super::{ClientVerify, TlsRequest, RESUME_CLIENT_REQUESTED, RESUME_CLIENT_SUGGESTED};

/// How long one ticket key encrypts new tickets. The rotator keeps the previous key for
/// decryption, so a ticket is accepted for up to twice this (OpenSSL's hourly rotation
/// with one previous key, as Exim runs it).
pub const TICKET_KEY_LIFETIME: u32 = 60 * 60;

/// Most configurations kept at once.
const MAX_CACHED: usize = 64;

/// Where Debian keeps the system's trusted CAs (`tls_verify_certificates = system`).
const SYSTEM_CA_FILE: &str = "/etc/ssl/certs/ca-certificates.crt";

/// A file's identity and version: re-read it when any of these change.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Stamp {
    dev: u64,
    ino: u64,
    size: u64,
    mtime: i64,
    mtime_nsec: i64,
}

fn stamp(path: &str) -> Option<Stamp> {
    let m = std::fs::metadata(path).ok()?;
    Some(Stamp {
        dev: m.dev(),
        ino: m.ino(),
        size: m.size(),
        mtime: m.mtime(),
        mtime_nsec: m.mtime_nsec(),
    })
}

/// Cache key: the expanded option values a configuration is built from.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key {
    certificate: String,
    privatekey: String,
    ciphers: String,
    verify: ClientVerify,
    verify_certificates: String,
    eccurve: String,
    ocsp_file: String,
}

struct Cached {
    stamps: Vec<Option<Stamp>>,
    /// The configuration with tickets off.
    config: Arc<ServerConfig>,
    /// For `tls_try_verify_hosts`: the real verifier, run after the handshake.
    checker: Option<Arc<dyn ClientCertVerifier>>,
    /// The first certificate of `tls_certificate` (`$tls_in_ourcert`).
    ourcert: Vec<u8>,
}

/// The daemon's TLS state shared by all connections: the configuration cache and the
/// session-ticket keys (in memory only, as Exim's).
pub struct TlsServer {
    provider: Arc<CryptoProvider>,
    ticketer: Arc<dyn ProducesTickets>,
    cache: Mutex<HashMap<Key, Arc<Cached>>>,
    /// How many configurations were built (files read and parsed).
    builds: AtomicUsize,
}

/// A configuration for one handshake, and what its ticketer saw.
pub struct Prepared {
    pub config: Arc<ServerConfig>,
    /// `RESUME_CLIENT_REQUESTED`/`RESUME_CLIENT_SUGGESTED` bits set during the handshake.
    pub events: Arc<AtomicU8>,
    pub checker: Option<Arc<dyn ClientCertVerifier>>,
    /// The certificate this configuration presents (DER).
    pub ourcert: Vec<u8>,
}

/// A ticketer wrapping the shared rotator (itself a rustls `TicketRotator`) that notes
/// when a ticket is issued or offered on this connection.
#[derive(Debug)]
struct Recording {
    inner: Arc<dyn ProducesTickets>,
    events: Arc<AtomicU8>,
}

impl ProducesTickets for Recording {
    fn enabled(&self) -> bool {
        self.inner.enabled()
    }
    fn lifetime(&self) -> u32 {
        self.inner.lifetime()
    }
    fn encrypt(&self, plain: &[u8]) -> Option<Vec<u8>> {
        self.events
            .fetch_or(RESUME_CLIENT_REQUESTED, Ordering::Relaxed);
        self.inner.encrypt(plain)
    }
    fn decrypt(&self, cipher: &[u8]) -> Option<Vec<u8>> {
        self.events
            .fetch_or(RESUME_CLIENT_SUGGESTED, Ordering::Relaxed);
        self.inner.decrypt(cipher)
    }
}

/// One generation of ticket keys, as the rotator holds it.
#[derive(Debug)]
struct SharedKey(Arc<dyn ProducesTickets>);

impl ProducesTickets for SharedKey {
    fn enabled(&self) -> bool {
        self.0.enabled()
    }
    fn lifetime(&self) -> u32 {
        self.0.lifetime()
    }
    fn encrypt(&self, plain: &[u8]) -> Option<Vec<u8>> {
        self.0.encrypt(plain)
    }
    fn decrypt(&self, cipher: &[u8]) -> Option<Vec<u8>> {
        self.0.decrypt(cipher)
    }
}

/// No tickets (hosts outside `tls_resumption_hosts`).
#[derive(Debug)]
struct NoTickets;

impl ProducesTickets for NoTickets {
    fn enabled(&self) -> bool {
        false
    }
    fn lifetime(&self) -> u32 {
        0
    }
    fn encrypt(&self, _: &[u8]) -> Option<Vec<u8>> {
        None
    }
    fn decrypt(&self, _: &[u8]) -> Option<Vec<u8>> {
        None
    }
}

/// The per-process key source for the rotator: each call starts a fresh ring ticketer
/// (random keys; its own six-hour rotation never comes into play, as the outer rotator
/// replaces it every [`TICKET_KEY_LIFETIME`]).
fn fresh_ticket_key() -> Result<Box<dyn ProducesTickets>, rustls::crypto::GetRandomFailed> {
    match rustls::crypto::ring::Ticketer::new() {
        Ok(t) => Ok(Box::new(SharedKey(t))),
        Err(_) => Err(rustls::crypto::GetRandomFailed),
    }
}

/// `tls_try_verify_hosts`: ask for a certificate, accept the handshake whatever it is;
/// the real verifier judges it afterwards (`$tls_in_certificate_verified`).
#[derive(Debug)]
struct TryVerify(Arc<dyn ClientCertVerifier>);

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

impl TlsServer {
    pub fn new() -> Result<TlsServer, String> {
        let ticketer = rustls::ticketer::TicketRotator::new(TICKET_KEY_LIFETIME, fresh_ticket_key)
            .map_err(|e| format!("cannot create TLS session ticket keys: {e}"))?;
        Ok(TlsServer {
            provider: Arc::new(rustls::crypto::ring::default_provider()),
            ticketer: Arc::new(ticketer),
            cache: Mutex::new(HashMap::new()),
            builds: AtomicUsize::new(0),
        })
    }

    /// How many times PEM files were read and a configuration built.
    pub fn builds(&self) -> usize {
        self.builds.load(Ordering::Relaxed)
    }

    /// The configuration for one connection. `Err` is the text of Exim's "TLS error"
    /// log line (the client then gets 454).
    pub fn prepare(&self, req: &TlsRequest) -> Result<Prepared, String> {
        let key = Key {
            certificate: req.certificate.clone(),
            privatekey: req.privatekey.clone(),
            ciphers: req.require_ciphers.clone(),
            verify: req.verify,
            verify_certificates: req.verify_certificates.clone(),
            eccurve: req.eccurve.clone(),
            ocsp_file: req.ocsp_file.clone(),
        };
        let files = key_files(&key);
        let stamps: Vec<Option<Stamp>> = files.iter().map(|f| stamp(f)).collect();
        let cached = {
            let cache = self
                .cache
                .lock()
                .map_err(|_| "TLS cache unavailable".to_string())?;
            cache.get(&key).filter(|c| c.stamps == stamps).cloned()
        };
        let cached = match cached {
            Some(c) => c,
            None => {
                let c = Arc::new(self.build(&key, stamps)?);
                if let Ok(mut cache) = self.cache.lock() {
                    // Option values that expand differently per host could grow it.
                    if cache.len() >= MAX_CACHED {
                        cache.clear();
                    }
                    cache.insert(key, c.clone());
                }
                c
            }
        };
        let events = Arc::new(AtomicU8::new(0));
        let mut config = (*cached.config).clone();
        if req.resumption {
            config.ticketer = Arc::new(Recording {
                inner: self.ticketer.clone(),
                events: events.clone(),
            });
        }
        Ok(Prepared {
            config: Arc::new(config),
            events,
            checker: cached.checker.clone(),
            ourcert: cached.ourcert.clone(),
        })
    }

    fn build(&self, key: &Key, stamps: Vec<Option<Stamp>>) -> Result<Cached, String> {
        self.builds.fetch_add(1, Ordering::Relaxed);
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&key.certificate)
            .and_then(|it| it.collect::<Result<Vec<_>, _>>())
            .map_err(|e| format!("(tls_certificate): {}: {e}", key.certificate))?;
        if certs.is_empty() {
            return Err(format!(
                "(tls_certificate): {}: no certificate found",
                key.certificate
            ));
        }
        let key_file = if key.privatekey.is_empty() {
            &key.certificate
        } else {
            &key.privatekey
        };
        let private = PrivateKeyDer::from_pem_file(key_file)
            .map_err(|e| format!("(tls_privatekey): {key_file}: {e}"))?;
        let suites = if key.ciphers.is_empty() {
            self.provider.cipher_suites.clone()
        } else {
            super::ciphers::select(&self.provider, &key.ciphers)?
        };
        let kx_groups =
            super::groups::select(&key.eccurve)?.unwrap_or_else(|| self.provider.kx_groups.clone());
        let provider = Arc::new(CryptoProvider {
            cipher_suites: suites,
            kx_groups,
            ..(*self.provider).clone()
        });
        let builder = ServerConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(rustls::ALL_VERSIONS)
            .map_err(|e| format!("(tls_require_ciphers): {e}"))?;
        let (builder, checker) = match key.verify {
            ClientVerify::None => (builder.with_no_client_auth(), None),
            mode => {
                let roots = load_roots(&key.verify_certificates)?;
                let verifier =
                    WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                        .build()
                        .map_err(|e| format!("(tls_verify_certificates): {e}"))?;
                if mode == ClientVerify::Required {
                    (builder.with_client_cert_verifier(verifier), None)
                } else {
                    let lax: Arc<dyn ClientCertVerifier> = Arc::new(TryVerify(verifier.clone()));
                    (builder.with_client_cert_verifier(lax), Some(verifier))
                }
            }
        };
        let ourcert = certs[0].to_vec();
        let mut config = builder
            .with_single_cert_with_ocsp(certs, private, super::ocsp::response(&key.ocsp_file)?)
            .map_err(|e| format!("(tls_certificate): {e}"))?;
        config.ticketer = Arc::new(NoTickets);
        config.session_storage = Arc::new(NoServerSessionStorage {});
        config.send_tls13_tickets = 2;
        Ok(Cached {
            stamps,
            config: Arc::new(config),
            checker,
            ourcert,
        })
    }
}

/// The files a configuration is read from.
fn key_files(k: &Key) -> Vec<String> {
    let mut v = vec![k.certificate.clone()];
    if !k.privatekey.is_empty() {
        v.push(k.privatekey.clone());
    }
    if k.verify != ClientVerify::None {
        v.push(ca_file(&k.verify_certificates).to_string());
    }
    if !k.ocsp_file.is_empty() {
        v.push(super::ocsp::path(&k.ocsp_file).to_string());
    }
    v
}

fn ca_file(spec: &str) -> &str {
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
