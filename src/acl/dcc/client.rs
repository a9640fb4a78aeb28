//! One exchange with dccifd: `dccifd_address` (a unix socket path, or `host port`),
//! connect, send the envelope and the message, close our side, read the answer to
//! the end — all within one time limit, the answer bounded in size.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream, ToSocketAddrs};
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use crate::acl::spam::client::os_text;

/// More than any answer dccifd gives for `header` (three short lines); what comes
/// beyond is not read (with the `body` option dccifd would echo the message).
pub const MAX_REPLY: usize = 64 * 1024;

/// Where dccifd listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Address {
    Unix(String),
    Tcp { host: String, port: u16 },
}

/// `dccifd_address` as Exim reads it: starting with `/` a socket path, otherwise a
/// host and a port number separated by white space (`sscanf("%s %u")`: the port's
/// leading digits count). `None` for anything else.
///
/// ```
/// use rexim::acl::dcc::client::{parse_address, Address};
/// assert_eq!(parse_address("127.0.0.1 6277"), Some(Address::Tcp { host: "127.0.0.1".into(), port: 6277 }));
/// assert_eq!(parse_address("/var/dcc/dccifd"), Some(Address::Unix("/var/dcc/dccifd".into())));
/// assert_eq!(parse_address("127.0.0.1"), None);
/// ```
pub fn parse_address(text: &str) -> Option<Address> {
    if text.starts_with('/') {
        return Some(Address::Unix(text.to_string()));
    }
    let mut words = text.split_ascii_whitespace();
    let host = words.next()?;
    let port = words.next()?;
    let digits: String = port.chars().take_while(char::is_ascii_digit).collect();
    // Exim would wrap a number above 65535 into a port; rexim refuses it.
    let port = digits.parse::<u16>().ok()?;
    Some(Address::Tcp {
        host: host.to_string(),
        port,
    })
}

/// How an exchange failed, for the log line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// Exim: `DCC: Connecting to UNIX socket failed: …` (panic log).
    ConnectUnix(String),
    /// Exim: `DCC: Connecting to TCP socket failed: …` (panic log).
    ConnectTcp(String),
    /// Sending failed (Exim defers without a log line; rexim logs it).
    Write(String),
    /// Exim: `DCC: Couldn't shutdown socket: …` (main log).
    Shutdown(String),
    /// The time limit passed (Exim has none; rexim logs it).
    Timeout,
}

enum Stream {
    Tcp(TcpStream),
    Unix(UnixStream),
}

impl Stream {
    fn limit(&self, t: Duration) -> std::io::Result<()> {
        match self {
            Stream::Tcp(s) => {
                s.set_read_timeout(Some(t))?;
                s.set_write_timeout(Some(t))
            }
            Stream::Unix(s) => {
                s.set_read_timeout(Some(t))?;
                s.set_write_timeout(Some(t))
            }
        }
    }

    fn write_all(&mut self, b: &[u8]) -> std::io::Result<()> {
        match self {
            Stream::Tcp(s) => s.write_all(b),
            Stream::Unix(s) => s.write_all(b),
        }
    }

    fn read(&mut self, b: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.read(b),
            Stream::Unix(s) => s.read(b),
        }
    }

    fn shutdown_write(&self) -> std::io::Result<()> {
        match self {
            Stream::Tcp(s) => s.shutdown(Shutdown::Write),
            Stream::Unix(s) => s.shutdown(Shutdown::Write),
        }
    }
}

fn timed_out(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock
    )
}

fn connect(address: &Address, deadline: Instant) -> Result<Stream, Failure> {
    match address {
        Address::Unix(path) => UnixStream::connect(path)
            .map(Stream::Unix)
            .map_err(|e| Failure::ConnectUnix(os_text(&e))),
        Address::Tcp { host, port } => {
            let addrs: Vec<_> = (host.as_str(), *port)
                .to_socket_addrs()
                .map_err(|_| Failure::ConnectTcp(format!("unknown host {host}")))?
                .collect();
            let Some(addr) = addrs.first() else {
                return Err(Failure::ConnectTcp(format!("unknown host {host}")));
            };
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(Failure::Timeout);
            }
            TcpStream::connect_timeout(addr, left)
                .map(Stream::Tcp)
                .map_err(|e| Failure::ConnectTcp(os_text(&e)))
        }
    }
}

/// Send `envelope` then `message`, half-close, and read the answer until dccifd closes
/// (a read error ends the answer too, as in Exim) or [`MAX_REPLY`] bytes have come.
pub fn exchange(
    address: &Address,
    envelope: &[u8],
    message: &[u8],
    timeout: Duration,
) -> Result<Vec<u8>, Failure> {
    let deadline = Instant::now() + timeout;
    let mut stream = connect(address, deadline)?;
    let arm = |s: &Stream| {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(Failure::Timeout);
        }
        s.limit(left).map_err(|e| Failure::Write(os_text(&e)))
    };
    for block in [envelope, message] {
        for chunk in block.chunks(64 * 1024) {
            arm(&stream)?;
            stream.write_all(chunk).map_err(|e| {
                if timed_out(&e) {
                    Failure::Timeout
                } else {
                    Failure::Write(os_text(&e))
                }
            })?;
        }
    }
    stream
        .shutdown_write()
        .map_err(|e| Failure::Shutdown(os_text(&e)))?;
    let mut out = Vec::new();
    let mut buf = [0u8; 8192];
    while out.len() < MAX_REPLY {
        arm(&stream)?;
        let want = buf.len().min(MAX_REPLY - out.len());
        match stream.read(&mut buf[..want]) {
            Ok(0) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) if timed_out(&e) => return Err(Failure::Timeout),
            Err(_) => break,
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses() {
        assert_eq!(
            parse_address("  localhost   10025x"),
            Some(Address::Tcp {
                host: "localhost".into(),
                port: 10025
            })
        );
        assert_eq!(parse_address(""), None);
        assert_eq!(parse_address("127.0.0.1 port"), None);
        assert_eq!(parse_address("127.0.0.1 70000"), None);
        assert_eq!(
            parse_address("/tmp/x y"),
            Some(Address::Unix("/tmp/x y".into()))
        );
    }

    #[test]
    fn silent_server_times_out() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let hold = std::thread::spawn(move || {
            let (s, _) = l.accept().unwrap();
            std::thread::sleep(Duration::from_millis(800));
            drop(s);
        });
        let a = Address::Tcp {
            host: "127.0.0.1".into(),
            port,
        };
        let start = Instant::now();
        let r = exchange(&a, b"header\n", b"\r\n", Duration::from_millis(200));
        assert_eq!(r, Err(Failure::Timeout));
        assert!(start.elapsed() < Duration::from_millis(700));
        hold.join().unwrap();
    }

    #[test]
    fn refused_connection() {
        let a = Address::Unix("/nonexistent/rexim-dccifd".into());
        assert_eq!(
            exchange(&a, b"", b"", Duration::from_secs(1)),
            Err(Failure::ConnectUnix("No such file or directory".into()))
        );
    }

    #[test]
    fn answer_is_bounded() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let flood = std::thread::spawn(move || {
            let (mut s, _) = l.accept().unwrap();
            let mut sink = Vec::new();
            let _ = s.read_to_end(&mut sink);
            let block = vec![b'x'; 16 * 1024];
            for _ in 0..64 {
                if s.write_all(&block).is_err() {
                    break;
                }
            }
        });
        let a = Address::Tcp {
            host: "127.0.0.1".into(),
            port,
        };
        let r = exchange(&a, b"header\n", b"\r\n", Duration::from_secs(5)).unwrap();
        assert_eq!(r.len(), MAX_REPLY);
        drop(r);
        flood.join().unwrap();
    }
}
