//! The server handshake in the driver's hands: read the ClientHello, let the session
//! re-expand the certificate options for the SNI name (Exim's `tls_servername_cb`),
//! check ALPN (`tls_server_alpn_cb`), then finish with the chosen configuration.

use std::sync::Arc;
use std::time::Duration;

use super::acceptor::{Prepared, TlsServer};
use super::stream::Conn;
use super::{TlsFacts, TlsRequest};
use crate::smtp::Session;

/// Run the handshake after `220 TLS go ahead` with `prepared` (built from `req`), as
/// `tls_certificate` expanded before SNI was known. Returns the stream (clear again on
/// failure, `Gone` on a timeout) and the facts or the log text.
pub async fn run(
    server: Arc<TlsServer>,
    s: &mut Session,
    stream: Conn,
    req: TlsRequest,
    prepared: Prepared,
    limit: Option<Duration>,
) -> (Conn, Result<TlsFacts, String>) {
    let (pending, hello) = match stream.read_client_hello(limit).await {
        Ok(p) => p,
        Err((conn, why)) => return (conn, Err(why)),
    };
    let (req, prepared) = match hello.sni.as_deref().and_then(|n| s.tls_sni_request(n)) {
        None => (req, prepared),
        Some(Err(why)) => return pending.refuse(format!("(SNI): {why}")).await,
        Some(Ok(again)) if again == req => (req, prepared),
        Some(Ok(again)) => {
            let (r, srv) = (again.clone(), server.clone());
            match tokio::task::spawn_blocking(move || srv.prepare(&r)).await {
                Ok(Ok(p)) => (again, p),
                Ok(Err(why)) => return pending.refuse(format!("(SNI): {why}")).await,
                Err(e) => return pending.refuse(format!("(SNI): {e}")).await,
            }
        }
    };
    let alpn = match super::hello::alpn_choice(hello.alpn.as_deref(), &req.alpn, req.require_alpn) {
        Ok(a) => a,
        Err(why) => return pending.refuse(why).await,
    };
    pending.finish(&req, prepared, alpn).await
}
