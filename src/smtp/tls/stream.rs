//! The connection's byte stream: plain TCP until STARTTLS, then TLS over it.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use rustls::server::Acceptor;
use rustls::{HandshakeKind, ProtocolVersion};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::server::{StartHandshake, TlsStream};
use tokio_rustls::LazyConfigAcceptor;

use super::acceptor::{verified_later, Prepared};
use super::hello::Hello;
use super::{TlsFacts, TlsRequest, RESUME_SERVER_TICKET, RESUME_SUPPORTED, RESUME_USED};
use super::{OCSP_NOT_REQUESTED, OCSP_NOT_RESPONDED, OCSP_VERIFIED};

/// A connection, in clear or encrypted.
pub enum Conn {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
    /// A handshake timed out: the socket went with it.
    Gone,
}

impl Conn {
    /// The socket while the connection is in clear (raw peeks mean nothing under TLS).
    pub fn plain(&self) -> Option<&TcpStream> {
        match self {
            Conn::Plain(s) => Some(s),
            _ => None,
        }
    }

    /// Read the ClientHello (the `220 TLS go ahead` already sent), bounded by `limit`
    /// (`smtp_receive_timeout`, which covers the whole handshake). `Err` gives back the
    /// clear connection (or `Gone` after a timeout) and the text for Exim's log line.
    pub async fn read_client_hello(
        self,
        limit: Option<Duration>,
    ) -> Result<(Pending, Hello), (Conn, String)> {
        let tcp = match self {
            Conn::Plain(t) => t,
            other => return Err((other, "(SSL_accept): TLS already active".into())),
        };
        let deadline = limit.map(|l| Instant::now() + l);
        // rustls does not say whether the client asked for a stapled OCSP response
        // (`$tls_in_ocsp`): look at the ClientHello's bytes before it reads them.
        let status_request = match deadline {
            Some(d) => tokio::time::timeout_at(d.into(), super::hello::peek_status_request(&tcp))
                .await
                .unwrap_or(false),
            None => super::hello::peek_status_request(&tcp).await,
        };
        let mut lazy = LazyConfigAcceptor::new(Acceptor::default(), tcp);
        let result = match deadline {
            Some(d) => match tokio::time::timeout_at(d.into(), &mut lazy).await {
                Ok(r) => r,
                Err(_) => return Err((Conn::Gone, "(SSL_accept): timed out".into())),
            },
            None => (&mut lazy).await,
        };
        match result {
            Ok(start) => {
                let ch = start.client_hello();
                let hello = Hello {
                    sni: ch.server_name().map(str::to_string),
                    alpn: ch.alpn().map(|it| it.map(<[u8]>::to_vec).collect()),
                    status_request,
                };
                Ok((
                    Pending {
                        start,
                        deadline,
                        status_request,
                    },
                    hello,
                ))
            }
            Err(e) => {
                let conn = lazy.take_io().map_or(Conn::Gone, Conn::Plain);
                Err((conn, format!("(SSL_accept): {e}")))
            }
        }
    }
}

/// A handshake after its ClientHello, waiting for the configuration to go on with.
pub struct Pending {
    start: StartHandshake<TcpStream>,
    deadline: Option<Instant>,
    status_request: bool,
}

impl Pending {
    /// Go on with `prepared` (selecting `alpn`, when the client asked for it). Returns
    /// the new stream, and the facts or the error text. On failure the clear connection
    /// is kept, as Exim keeps reading it.
    pub async fn finish(
        self,
        req: &TlsRequest,
        prepared: Prepared,
        alpn: Option<Vec<u8>>,
    ) -> (Conn, Result<TlsFacts, String>) {
        let config = match alpn {
            Some(name) => {
                let mut c = (*prepared.config).clone();
                c.alpn_protocols = vec![name];
                Arc::new(c)
            }
            None => prepared.config.clone(),
        };
        let accept = self.start.into_stream(config).into_fallible();
        let result = match self.deadline {
            Some(d) => match tokio::time::timeout_at(d.into(), accept).await {
                Ok(r) => r,
                Err(_) => return (Conn::Gone, Err("(SSL_accept): timed out".into())),
            },
            None => accept.await,
        };
        match result {
            Ok(tls) => {
                let facts = facts(&tls, req, &prepared, self.status_request);
                (Conn::Tls(Box::new(tls)), Ok(facts))
            }
            Err((e, tcp)) => {
                // The verifier ran in this very poll, on this thread (see explain.rs).
                let verify = super::explain::take();
                let lines: String = verify.iter().map(|f| f.line() + "\n").collect();
                (Conn::Plain(tcp), Err(format!("{lines}(SSL_accept): {e}")))
            }
        }
    }

    /// End the handshake with an alert (SNI re-expansion or ALPN refused); `why` is the
    /// log text. The clear connection is kept.
    pub async fn refuse(self, why: String) -> (Conn, Result<TlsFacts, String>) {
        let Some(config) = super::hello::refusal() else {
            return (Conn::Plain(self.start.io), Err(why));
        };
        let accept = self.start.into_stream(config).into_fallible();
        let tcp = match self.deadline {
            Some(d) => match tokio::time::timeout_at(d.into(), accept).await {
                Ok(Err((_, tcp))) => Conn::Plain(tcp),
                Ok(Ok(_)) | Err(_) => Conn::Gone,
            },
            None => match accept.await {
                Err((_, tcp)) => Conn::Plain(tcp),
                Ok(_) => Conn::Gone,
            },
        };
        (tcp, Err(why))
    }
}

fn facts(
    tls: &TlsStream<TcpStream>,
    req: &TlsRequest,
    p: &Prepared,
    status_request: bool,
) -> TlsFacts {
    let (_, c) = tls.get_ref();
    let ver = match c.protocol_version() {
        Some(ProtocolVersion::TLSv1_3) => "TLS1.3".to_string(),
        Some(ProtocolVersion::TLSv1_2) => "TLS1.2".to_string(),
        Some(v) => format!("{v:?}"),
        None => String::new(),
    };
    let (suite, suite_std, bits) = match c
        .negotiated_cipher_suite()
        .and_then(|s| super::ciphers::name_of(s.suite()))
    {
        Some(n) => (n.openssl.to_string(), n.iana.to_string(), n.bits),
        None => (String::new(), String::new(), 0),
    };
    let chain = c.peer_certificates();
    let peerdn = chain
        .and_then(|ch| ch.first())
        .and_then(|cert| super::dn::subject_oneline(cert));
    // A required verification happened in the handshake; a tried one is judged now,
    // its failures logged as Exim's callback logs them before passing over them.
    let (certificate_verified, verify_errors) = match (&p.checker, chain) {
        (Some(checker), ch) => match verified_later(checker, ch) {
            Ok(()) => (true, Vec::new()),
            Err(failures) => (false, failures.iter().map(|f| f.line()).collect()),
        },
        (None, Some(ch)) => (
            !ch.is_empty() && req.verify != super::ClientVerify::None,
            Vec::new(),
        ),
        (None, None) => (false, Vec::new()),
    };
    let mut resumption = RESUME_SUPPORTED | p.events.load(std::sync::atomic::Ordering::Relaxed);
    if req.resumption {
        resumption |= RESUME_SERVER_TICKET;
    }
    let resumed = c.handshake_kind() == Some(HandshakeKind::Resumed);
    if resumed {
        resumption |= RESUME_USED;
    }
    // Exim's server callback runs only with tls_ocsp_file set, when the client asks
    // and a full handshake sends a certificate; rustls staples in exactly that case.
    let ocsp = match (
        status_request && !req.ocsp_file.is_empty() && !resumed,
        p.ocsp,
    ) {
        (false, _) => OCSP_NOT_REQUESTED,
        (true, false) => OCSP_NOT_RESPONDED,
        (true, true) => OCSP_VERIFIED,
    };
    TlsFacts {
        ver,
        suite,
        suite_std,
        bits,
        sni: c.server_name().map(str::to_string),
        peerdn,
        certificate_verified,
        verify_errors,
        resumption,
        ocsp,
        peercert: chain.and_then(|ch| ch.first()).map(|c| c.to_vec()),
        ourcert: Some(p.ourcert.clone()),
    }
}

impl AsyncRead for Conn {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Conn::Tls(t) => Pin::new(t.as_mut()).poll_read(cx, buf),
            Conn::Gone => Poll::Ready(Ok(())),
        }
    }
}

impl AsyncWrite for Conn {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Conn::Tls(t) => Pin::new(t.as_mut()).poll_write(cx, buf),
            Conn::Gone => Poll::Ready(Err(io::ErrorKind::NotConnected.into())),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_flush(cx),
            Conn::Tls(t) => Pin::new(t.as_mut()).poll_flush(cx),
            Conn::Gone => Poll::Ready(Ok(())),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Conn::Tls(t) => Pin::new(t.as_mut()).poll_shutdown(cx),
            Conn::Gone => Poll::Ready(Ok(())),
        }
    }
}
