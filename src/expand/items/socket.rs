//! `${readsocket}`: send a request to a Unix or TCP socket, optionally over TLS
//! (`socket_tls.rs`), and read the reply.

use std::io::Write;
use std::net::{Shutdown, TcpStream, ToSocketAddrs};
use std::os::unix::net::UnixStream;
use std::time::Duration;

use crate::error::{ExpResult, ExpandError};
use crate::expand::ast::ItemNode;
use crate::expand::eval::Eval;
use crate::expand::items::system::{read_stream, strerror};
use crate::expand::lists;
use crate::expand::value::Val;

struct Options {
    timeout: Option<Duration>,
    shutdown: bool,
    tls: bool,
    /// `sni=NAME`: TLS, sending NAME as the server name.
    sni: Option<String>,
    eol: Option<Vec<u8>>,
}

/// Exim's time syntax (`5s`, `1m30s`, bare seconds); `None` when malformed.
fn parse_time(s: &[u8]) -> Option<u64> {
    let mut total: u64 = 0;
    let mut p = 0;
    if s.is_empty() {
        return None;
    }
    while p < s.len() {
        let start = p;
        while p < s.len() && s[p].is_ascii_digit() {
            p += 1;
        }
        if p == start {
            return None;
        }
        let n: u64 = std::str::from_utf8(&s[start..p]).ok()?.parse().ok()?;
        let mult = match s.get(p) {
            None => 1,
            Some(c) => {
                p += 1;
                match c {
                    b's' => 1,
                    b'm' => 60,
                    b'h' => 3600,
                    b'd' => 86400,
                    b'w' => 604800,
                    _ => return None,
                }
            }
        };
        total = total.checked_add(n.checked_mul(mult)?)?;
    }
    Some(total)
}

fn options(opts: Option<&Val>, eol: Option<&Val>) -> Options {
    let mut o = Options {
        timeout: Some(Duration::from_secs(5)),
        shutdown: true,
        tls: false,
        sni: None,
        eol: None,
    };
    let Some(opts) = opts else { return o };
    for (i, item) in lists::iter(&opts.bytes).enumerate() {
        let item: &[u8] = &item;
        let timeout = if i == 0 {
            Some(item)
        } else {
            item.strip_prefix(b"timeout=")
        };
        if let Some(t) = timeout {
            // A malformed time leaves the operation without a useful limit, as in Exim.
            o.timeout = parse_time(t).map(Duration::from_secs);
        } else if let Some(v) = item.strip_prefix(b"shutdown=") {
            o.shutdown = v != b"no";
        } else if let Some(v) = item.strip_prefix(b"tls=") {
            o.tls |= v != b"no";
        } else if let Some(v) = item.strip_prefix(b"sni=") {
            o.tls = true;
            o.sni = (!v.is_empty()).then(|| String::from_utf8_lossy(v).into_owned());
        }
    }
    o.eol = eol.filter(|e| !e.is_empty()).map(|e| e.bytes.clone());
    o
}

trait Conn: std::io::Read + Write {
    fn shut(&self);
}

impl Conn for UnixStream {
    fn shut(&self) {
        let _ = self.shutdown(Shutdown::Write);
    }
}

impl Conn for TcpStream {
    fn shut(&self) {
        let _ = self.shutdown(Shutdown::Write);
    }
}

/// A TLS session: Exim never half-closes one, and a peer that closes without
/// `close_notify` has still ended its reply.
struct TlsConn<S: std::io::Read + Write>(rustls::StreamOwned<rustls::ClientConnection, S>);

impl<S: std::io::Read + Write> std::io::Read for TlsConn<S> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self.0.read(buf) {
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => Ok(0),
            other => other,
        }
    }
}

impl<S: std::io::Read + Write> Write for TlsConn<S> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.write(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

impl<S: std::io::Read + Write> Conn for TlsConn<S> {
    fn shut(&self) {}
}

enum Sock {
    Tcp(TcpStream),
    Unix(UnixStream),
}

impl Sock {
    fn into_conn(self, o: &Options) -> Result<Box<dyn Conn>, SockFail> {
        let tls_fail = |e: String| SockFail(format!("TLS connect failed: {e}"));
        Ok(match (self, o.tls) {
            (Sock::Tcp(s), false) => Box::new(s),
            (Sock::Unix(s), false) => Box::new(s),
            (Sock::Tcp(s), true) => Box::new(TlsConn(
                super::socket_tls::connect(s, o.sni.as_deref()).map_err(tls_fail)?,
            )),
            (Sock::Unix(s), true) => Box::new(TlsConn(
                super::socket_tls::connect(s, o.sni.as_deref()).map_err(tls_fail)?,
            )),
        })
    }
}

/// A failure that the fifth argument (failstring) replaces.
struct SockFail(String);

fn connect(spec: &str, o: &Options) -> Result<Sock, SockFail> {
    let zero = |t: Option<Duration>| t.filter(|d| !d.is_zero());
    if let Some(server) = spec.strip_prefix("inet:") {
        let Some((host, port)) = server.rsplit_once(':') else {
            return Err(SockFail(String::new()));
        };
        let port: u16 = if port.starts_with(|c: char| c.is_ascii_digit()) {
            port.parse().map_err(|_| SockFail(String::new()))?
        } else {
            return Err(SockFail(String::new()));
        };
        let host = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host);
        let addrs: Vec<_> = (host, port)
            .to_socket_addrs()
            .map_err(|_| SockFail(format!("no IP address found for host {host}")))?
            .collect();
        let mut last = None;
        for a in &addrs {
            let r = match zero(o.timeout) {
                Some(t) => TcpStream::connect_timeout(a, t),
                None => TcpStream::connect(a),
            };
            match r {
                Ok(s) => {
                    s.set_read_timeout(zero(o.timeout)).ok();
                    s.set_write_timeout(zero(o.timeout)).ok();
                    return Ok(Sock::Tcp(s));
                }
                Err(e) => last = Some(e),
            }
        }
        let why = last
            .map(|e| strerror(&e))
            .unwrap_or_else(|| "no address".into());
        return Err(SockFail(format!(
            "failed to connect to any address for {host}: {why}"
        )));
    }
    let s = UnixStream::connect(spec).map_err(|e| {
        SockFail(format!(
            "failed to connect to socket {spec}: {}",
            strerror(&e)
        ))
    })?;
    s.set_read_timeout(zero(o.timeout)).ok();
    s.set_write_timeout(zero(o.timeout)).ok();
    Ok(Sock::Unix(s))
}

fn exchange(spec: &str, request: &[u8], o: &Options, limit: usize) -> Result<Vec<u8>, SockFail> {
    let mut conn = connect(spec, o)?.into_conn(o)?;
    if !request.is_empty() {
        conn.write_all(request)
            .and_then(|_| conn.flush())
            .map_err(|e| SockFail(format!("request write to socket failed: {}", strerror(&e))))?;
    }
    if o.shutdown {
        conn.shut();
    }
    read_stream(&mut conn, o.eol.as_deref(), limit).map_err(|e| match e.kind() {
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut => {
            SockFail("socket read timed out".into())
        }
        _ => SockFail(format!("socket read failed: {}", strerror(&e))),
    })
}

/// `${readsocket{/run/sock}{request}{5s}{}{FAILED}}`: the reply read to end of file; the
/// optional fifth argument replaces any socket failure.
pub fn readsocket(ev: &mut Eval, node: &ItemNode, out: &mut Val) -> ExpResult<()> {
    let spec = ev.seq(&node.args[0])?;
    let request = ev.seq(&node.args[1])?;
    let opts = match node.args.get(2) {
        Some(s) => Some(ev.seq(s)?),
        None => None,
    };
    let eol = match node.args.get(3) {
        Some(s) => Some(ev.seq(s)?),
        None => None,
    };
    let o = options(opts.as_ref(), eol.as_ref());
    let spec_text = spec.as_str_lossy().into_owned();
    // Exim 4.96 opens the socket through its lookup layer, which refuses a tainted
    // name (logged; the expansion error has no text of its own).
    let outcome = if spec.tainted {
        ev.ctx
            .log
            .push(format!("Tainted filename for search: '{spec_text}'"));
        Err(SockFail(String::new()))
    } else {
        exchange(&spec_text, &request.bytes, &o, ev.ctx.limits.max_output)
    };
    let result = match outcome {
        Ok(data) => {
            if let Some(f) = node.args.get(4) {
                ev.skip(f)?;
            }
            // As in Exim, the reply carries the taint of the socket name only.
            spec.derive(data)
        }
        Err(SockFail(msg)) => match node.args.get(4) {
            Some(f) => ev.seq(f)?,
            None => return Err(ExpandError::hard(msg)),
        },
    };
    if node.args.len() > 5 {
        return Err(ExpandError::hard("missing '}' closing readsocket"));
    }
    out.push(&result);
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};
    use std::net::TcpListener;
    use std::os::unix::net::UnixListener;

    use crate::expand::{expand_str, Context};

    /// Serve one connection: read the request to EOF, answer with `reply(request)`.
    fn serve_tcp(reply: fn(&[u8]) -> Vec<u8>) -> u16 {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = l.local_addr().expect("addr").port();
        std::thread::spawn(move || {
            if let Ok((mut s, _)) = l.accept() {
                let mut req = Vec::new();
                let _ = s.read_to_end(&mut req);
                let _ = s.write_all(&reply(&req));
            }
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
    fn inet_request_and_reply() {
        let port = serve_tcp(|req| [b"got ".as_slice(), req, b"\nline2\n"].concat());
        let r = expand(&format!("${{readsocket{{inet:127.0.0.1:{port}}}{{ping}}}}"));
        assert_eq!(r, "got ping\nline2\n");
    }

    #[test]
    fn inet_eol_replaces_newlines() {
        let port = serve_tcp(|_| b"a\nb\n".to_vec());
        let r = expand(&format!(
            "${{readsocket{{inet:127.0.0.1:{port}}}{{}}{{2s}}{{|}}}}"
        ));
        assert_eq!(r, "a|b|");
    }

    #[test]
    fn read_timeout_gives_failstring() {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = l.local_addr().expect("addr").port();
        let h = std::thread::spawn(move || {
            let c = l.accept();
            std::thread::sleep(std::time::Duration::from_millis(2500));
            drop(c);
        });
        let r = expand(&format!(
            "${{readsocket{{inet:127.0.0.1:{port}}}{{q}}{{1s:shutdown=no}}{{}}{{TIMEOUT}}}}"
        ));
        assert_eq!(r, "TIMEOUT");
        let _ = h.join();
    }

    #[test]
    fn unix_socket() {
        let dir = std::env::temp_dir().join(format!("rexim-rs-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        let path = dir.join("sock");
        let _ = std::fs::remove_file(&path);
        let l = UnixListener::bind(&path).expect("bind unix");
        std::thread::spawn(move || {
            if let Ok((mut s, _)) = l.accept() {
                let mut req = Vec::new();
                let _ = s.read_to_end(&mut req);
                let _ = s.write_all(&[b"unix:".as_slice(), &req].concat());
            }
        });
        let r = expand(&format!("${{readsocket{{{}}}{{hello}}}}", path.display()));
        assert_eq!(r, "unix:hello");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
