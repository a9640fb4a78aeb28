//! One exchange with a spamd server: connect (TCP or a unix socket), send the request
//! and the message, read the answer within the server's time limit.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use crate::acl::spam::address::{Endpoint, Server};
use crate::acl::spam::reply::MAX_REPLY;

/// Exim's connect timeout for spamd (`ip_streamsocket(..., 5)`).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

pub enum Stream {
    Tcp(TcpStream),
    Unix(UnixStream),
}

impl Stream {
    fn set_timeouts(&self, t: Option<Duration>) -> std::io::Result<()> {
        match self {
            Stream::Tcp(s) => {
                s.set_read_timeout(t)?;
                s.set_write_timeout(t)
            }
            Stream::Unix(s) => {
                s.set_read_timeout(t)?;
                s.set_write_timeout(t)
            }
        }
    }

    fn io(&mut self) -> &mut dyn ReadWrite {
        match self {
            Stream::Tcp(s) => s,
            Stream::Unix(s) => s,
        }
    }

    fn shutdown_write(&self) {
        let _ = match self {
            Stream::Tcp(s) => s.shutdown(std::net::Shutdown::Write),
            Stream::Unix(s) => s.shutdown(std::net::Shutdown::Write),
        };
    }
}

trait ReadWrite: Read + Write {}
impl<T: Read + Write> ReadWrite for T {}

/// Connect as Exim's `ip_streamsocket` does; the error text is Exim's.
pub fn connect(server: &Server) -> Result<(Stream, String), String> {
    match &server.endpoint {
        Endpoint::Unix(path) => UnixStream::connect(path)
            .map(|s| (Stream::Unix(s), path.clone()))
            .map_err(|e| format!("unable to connect to UNIX socket ({path}): {}", os_text(&e))),
        Endpoint::Tcp { host, port } => {
            let port_n: u16 = port
                .parse()
                .map_err(|_| format!("failed to connect to any address for {host}: bad port"))?;
            let addrs: Vec<std::net::SocketAddr> = (host.as_str(), port_n)
                .to_socket_addrs()
                .map_err(|_| format!("no IP address found for host {host}"))?
                .collect();
            let mut last = String::from("no address");
            for a in addrs {
                match TcpStream::connect_timeout(&a, CONNECT_TIMEOUT) {
                    Ok(s) => {
                        let shown = match a {
                            std::net::SocketAddr::V4(v) => format!("[{}]:{}", v.ip(), v.port()),
                            std::net::SocketAddr::V6(v) => format!("[{}]:{}", v.ip(), v.port()),
                        };
                        return Ok((Stream::Tcp(s), shown));
                    }
                    Err(e) => last = os_text(&e),
                }
            }
            Err(format!(
                "failed to connect to any address for {host}: {last}"
            ))
        }
    }
}

/// The C library's text for an I/O error (`Connection refused`), without Rust's
/// `(os error N)` suffix.
pub fn os_text(e: &std::io::Error) -> String {
    if e.kind() == std::io::ErrorKind::TimedOut || e.kind() == std::io::ErrorKind::WouldBlock {
        return "Connection timed out".into();
    }
    let s = e.to_string();
    match s.find(" (os error") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

/// How sending or reading failed, for Exim's log lines.
pub enum Failure {
    /// The request line could not be sent.
    Request(String),
    /// The message could not be sent.
    Send(String),
    WriteTimeout,
    Read(String),
}

/// Send `request` then `body`, close our side (SpamAssassin only), read the answer
/// (at most [`MAX_REPLY`] bytes) before `deadline`.
pub fn exchange(
    stream: &mut Stream,
    request: &[u8],
    body: &[u8],
    half_close: bool,
    deadline: Instant,
) -> Result<Vec<u8>, Failure> {
    let left = || deadline.saturating_duration_since(Instant::now());
    let timed = |s: &Stream| {
        let t = left();
        if t.is_zero() {
            return Err(());
        }
        s.set_timeouts(Some(t)).map_err(|_| ())
    };
    timed(stream).map_err(|_| Failure::WriteTimeout)?;
    stream
        .io()
        .write_all(request)
        .map_err(|e| Failure::Request(os_text(&e)))?;
    for chunk in body.chunks(32_600) {
        timed(stream).map_err(|_| Failure::WriteTimeout)?;
        stream.io().write_all(chunk).map_err(|e| match e.kind() {
            std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock => Failure::WriteTimeout,
            _ => Failure::Send(os_text(&e)),
        })?;
    }
    if half_close {
        stream.shutdown_write();
    }
    let mut out = Vec::new();
    let mut buf = [0u8; 8192];
    while out.len() < MAX_REPLY {
        timed(stream).map_err(|_| Failure::Read("Connection timed out".into()))?;
        let want = buf.len().min(MAX_REPLY - out.len());
        match stream.io().read(&mut buf[..want]) {
            Ok(0) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(Failure::Read(os_text(&e))),
        }
    }
    Ok(out)
}
