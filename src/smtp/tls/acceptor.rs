//! rustls server configurations for STARTTLS: built from the PEM files named by
//! `tls_certificate`/`tls_privatekey` (and `tls_verify_certificates`, `tls_crl`,
//! `tls_ocsp_file`), or from the self-signed default certificate, cached until one of
//! the files changes, and specialised per connection for session resumption.

use std::collections::HashMap;
use std::os::unix::fs::MetadataExt;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::danger::ClientCertVerifier;
use rustls::server::{
    NoServerSessionStorage, ProducesTickets, ServerConfig, ServerSessionMemoryCache,
};

use super::openssl_opts::OpensslOptions;
use super::selfsign::{Generated, SelfSigned};
use super::tickets::{NoTickets, Recording};
use super::verify::{ca_file, verifier, Checker, TryVerify};
use super::{ClientVerify, TlsRequest};

pub use super::tickets::TICKET_KEY_LIFETIME;
pub use super::verify::verified_later;

/// Most configurations kept at once.
const MAX_CACHED: usize = 64;

/// TLS 1.2 sessions (by session ID) each configuration remembers for resumption.
const SESSIONS_KEPT: usize = 1024;

/// A file's identity and version: re-read it when any of these change. For a
/// directory (`tls_verify_certificates`, `tls_crl`) also a digest of its entries.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Stamp {
    dev: u64,
    ino: u64,
    size: u64,
    mtime: i64,
    mtime_nsec: i64,
    entries: u64,
}

fn stamp(path: &str) -> Option<Stamp> {
    let m = std::fs::metadata(path).ok()?;
    Some(Stamp {
        dev: m.dev(),
        ino: m.ino(),
        size: m.size(),
        mtime: m.mtime(),
        mtime_nsec: m.mtime_nsec(),
        entries: match m.is_dir() {
            true => super::capath::digest(std::path::Path::new(path), (m.mtime(), m.mtime_nsec())),
            false => 0,
        },
    })
}

/// Cache key: the expanded option values a configuration is built from.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key {
    /// Empty: the self-signed default certificate.
    certificate: String,
    privatekey: String,
    ciphers: String,
    verify: ClientVerify,
    verify_certificates: String,
    crl: String,
    eccurve: String,
    ocsp_file: String,
}

struct Cached {
    stamps: Vec<Option<Stamp>>,
    /// Which self-signed certificate it was built with (0: from files).
    generation: u64,
    /// The configuration with resumption off.
    config: Arc<ServerConfig>,
    /// For `tls_try_verify_hosts`: the real verifier, run after the handshake.
    checker: Option<Arc<Checker>>,
    /// The first certificate of `tls_certificate` (`$tls_in_ourcert`).
    ourcert: Vec<u8>,
    /// Whether an OCSP response is stapled (`$tls_in_ocsp`).
    ocsp: bool,
    /// Ticket keys and TLS 1.2 session IDs of this configuration only (as OpenSSL's
    /// session ID context): a session never resumes under other certificates, CAs or
    /// CRLs, and a changed file (a new CRL) ends the old sessions with the old build.
    ticketer: Arc<dyn ProducesTickets>,
    sessions: Arc<ServerSessionMemoryCache>,
}

/// The daemon's TLS state shared by all connections: the configuration cache (with
/// each configuration's session-ticket keys, in memory only, as Exim's), the
/// self-signed certificate and `openssl_options`.
pub struct TlsServer {
    provider: Arc<CryptoProvider>,
    cache: Mutex<HashMap<Key, Arc<Cached>>>,
    /// How many configurations were built (files read and parsed).
    builds: AtomicUsize,
    selfsigned: Arc<SelfSigned>,
    options: OpensslOptions,
}

/// A configuration for one handshake, and what its ticketer saw.
pub struct Prepared {
    pub config: Arc<ServerConfig>,
    /// `RESUME_CLIENT_REQUESTED`/`RESUME_CLIENT_SUGGESTED` bits set during the handshake.
    pub events: Arc<AtomicU8>,
    pub checker: Option<Arc<Checker>>,
    /// The certificate this configuration presents (DER).
    pub ourcert: Vec<u8>,
    /// An OCSP response is ready to staple.
    pub ocsp: bool,
}

impl TlsServer {
    /// With Exim's default `openssl_options`; the self-signed certificate names the
    /// local host.
    pub fn new() -> Result<TlsServer, String> {
        let host = crate::smtp::config::SessionConfig::default().primary_hostname;
        TlsServer::with_options(&host, OpensslOptions::default())
    }

    /// `hostname`: the self-signed certificate's CN (`primary_hostname`).
    pub fn with_options(hostname: &str, options: OpensslOptions) -> Result<TlsServer, String> {
        Ok(TlsServer {
            provider: Arc::new(rustls::crypto::ring::default_provider()),
            cache: Mutex::new(HashMap::new()),
            builds: AtomicUsize::new(0),
            selfsigned: Arc::new(SelfSigned::new(hostname)),
            options,
        })
    }

    /// Start making the self-signed certificate now (the daemon does so at startup, as
    /// Exim preloads it), on a thread of its own so that listening does not wait for the
    /// RSA key; a STARTTLS arriving meanwhile waits for it. A failure is reported to the
    /// first connection that needs the certificate (which tries again).
    pub fn preload_selfsigned(&self) {
        let s = self.selfsigned.clone();
        let _ = std::thread::Builder::new()
            .name("tls-selfsign".into())
            .spawn(move || s.get().map(|_| ()));
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
            crl: req.crl.clone(),
            eccurve: req.eccurve.clone(),
            ocsp_file: req.ocsp_file.clone(),
        };
        let own = match key.certificate.is_empty() {
            true => Some(self.selfsigned.get()?),
            false => None,
        };
        let generation = own.as_ref().map_or(0, |g| g.generation);
        let files = key_files(&key);
        let stamps: Vec<Option<Stamp>> = files.iter().map(|f| stamp(f)).collect();
        let cached = {
            let cache = self
                .cache
                .lock()
                .map_err(|_| "TLS cache unavailable".to_string())?;
            cache
                .get(&key)
                .filter(|c| c.stamps == stamps && c.generation == generation)
                .cloned()
        };
        let cached = match cached {
            Some(c) => c,
            None => {
                let c = Arc::new(self.build(&key, stamps, own.as_deref())?);
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
        // Exim: `tls_resumption_hosts` overrides openssl_options' `no_ticket`.
        if req.resumption || self.options.tickets_for_all() {
            config.ticketer = Arc::new(Recording {
                inner: cached.ticketer.clone(),
                events: events.clone(),
            });
        }
        if req.resumption {
            config.session_storage = cached.sessions.clone();
        }
        Ok(Prepared {
            config: Arc::new(config),
            events,
            checker: cached.checker.clone(),
            ourcert: cached.ourcert.clone(),
            ocsp: cached.ocsp,
        })
    }

    fn build(
        &self,
        key: &Key,
        stamps: Vec<Option<Stamp>>,
        own: Option<&Generated>,
    ) -> Result<Cached, String> {
        self.builds.fetch_add(1, Ordering::Relaxed);
        let (certs, private) = match own {
            Some(g) => (vec![g.cert.clone()], g.private_key()),
            None => load_certificate(key)?,
        };
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
            .with_protocol_versions(&self.versions()?)
            .map_err(|e| format!("(tls_require_ciphers): {e}"))?;
        let (builder, checker) = match key.verify {
            ClientVerify::None => (builder.with_no_client_auth(), None),
            mode => {
                let v = verifier(provider, &key.verify_certificates, &key.crl)?;
                if mode == ClientVerify::Required {
                    let v: Arc<dyn ClientCertVerifier> = v;
                    (builder.with_client_cert_verifier(v), None)
                } else {
                    let lax: Arc<dyn ClientCertVerifier> = Arc::new(TryVerify(v.clone()));
                    (builder.with_client_cert_verifier(lax), Some(v))
                }
            }
        };
        let ourcert = certs[0].to_vec();
        let ocsp = super::ocsp::response(&key.ocsp_file)?;
        let stapled = !ocsp.is_empty();
        let mut config = builder
            .with_single_cert_with_ocsp(certs, private, ocsp)
            .map_err(|e| format!("(tls_certificate): {e}"))?;
        config.ticketer = Arc::new(NoTickets);
        config.session_storage = Arc::new(NoServerSessionStorage {});
        config.send_tls13_tickets = 2;
        config.ignore_client_order = self.options.server_preference();
        Ok(Cached {
            stamps,
            generation: own.map_or(0, |g| g.generation),
            config: Arc::new(config),
            checker,
            ourcert,
            ocsp: stapled,
            ticketer: super::tickets::rotator()?,
            sessions: ServerSessionMemoryCache::new(SESSIONS_KEPT),
        })
    }

    /// The protocol versions `openssl_options` leaves (`+no_tlsv1_2`, `+no_tlsv1_3`).
    fn versions(&self) -> Result<Vec<&'static rustls::SupportedProtocolVersion>, String> {
        let mut v = Vec::new();
        if self.options.tls13() {
            v.push(&rustls::version::TLS13);
        }
        if self.options.tls12() {
            v.push(&rustls::version::TLS12);
        }
        if v.is_empty() {
            return Err(
                "(openssl_options): +no_tlsv1_2 and +no_tlsv1_3 leave no protocol version".into(),
            );
        }
        Ok(v)
    }
}

/// The certificate chain and key of `tls_certificate`/`tls_privatekey`.
fn load_certificate(
    key: &Key,
) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), String> {
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
    Ok((certs, private))
}

/// The files a configuration is read from.
fn key_files(k: &Key) -> Vec<String> {
    let mut v = Vec::new();
    if !k.certificate.is_empty() {
        v.push(k.certificate.clone());
    }
    if !k.privatekey.is_empty() {
        v.push(k.privatekey.clone());
    }
    if k.verify != ClientVerify::None {
        v.push(ca_file(&k.verify_certificates).to_string());
        if !k.crl.is_empty() {
            v.push(k.crl.clone());
        }
    }
    if !k.ocsp_file.is_empty() {
        v.push(super::ocsp::path(&k.ocsp_file).to_string());
    }
    v
}
