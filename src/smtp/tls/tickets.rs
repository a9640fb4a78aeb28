//! Session-ticket keys for STARTTLS resumption: one rotator for the daemon (keys in
//! memory only, as Exim's), and per connection a view of it that records what the
//! client did with tickets (`$tls_in_resumption`), or none at all.

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;

use rustls::server::ProducesTickets;

use super::{RESUME_CLIENT_REQUESTED, RESUME_CLIENT_SUGGESTED};

/// How long one ticket key encrypts new tickets. The rotator keeps the previous key for
/// decryption, so a ticket is accepted for up to twice this (OpenSSL's hourly rotation
/// with one previous key, as Exim runs it).
pub const TICKET_KEY_LIFETIME: u32 = 60 * 60;

/// The daemon's rotating ticket keys.
pub fn rotator() -> Result<Arc<dyn ProducesTickets>, String> {
    rustls::ticketer::TicketRotator::new(TICKET_KEY_LIFETIME, fresh_ticket_key)
        .map(|t| Arc::new(t) as Arc<dyn ProducesTickets>)
        .map_err(|e| format!("cannot create TLS session ticket keys: {e}"))
}

/// A ticketer wrapping the shared rotator that notes when a ticket is issued or offered
/// on this connection.
#[derive(Debug)]
pub struct Recording {
    pub inner: Arc<dyn ProducesTickets>,
    pub events: Arc<AtomicU8>,
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
pub struct NoTickets;

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
