//! The listening side of the fake scanner servers (clamd, spamd, dccifd): a random
//! 127.0.0.1 port or a unix socket, each connection served in its own thread with a
//! 10 s read timeout, the requests recorded for the test to look at.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The requests a fake server received, as it chose to record them.
pub type Requests = Arc<Mutex<Vec<Vec<u8>>>>;

/// A connection to a fake server.
pub trait Conn: Read + Write + Send + 'static {
    fn set_timeout(&self, t: Duration);
}

impl Conn for TcpStream {
    fn set_timeout(&self, t: Duration) {
        self.set_read_timeout(Some(t)).ok();
    }
}

impl Conn for UnixStream {
    fn set_timeout(&self, t: Duration) {
        self.set_read_timeout(Some(t)).ok();
    }
}

/// How a fake server handles one connection, recording what it got in the log.
pub trait Serve: Fn(Box<dyn Conn>, &Mutex<Vec<Vec<u8>>>) + Send + Sync + 'static {}
impl<F: Fn(Box<dyn Conn>, &Mutex<Vec<Vec<u8>>>) + Send + Sync + 'static> Serve for F {}

pub struct FakeServer {
    /// The TCP port (0 for a unix socket).
    pub port: u16,
    pub requests: Requests,
}

impl FakeServer {
    pub fn tcp(serve: impl Serve) -> FakeServer {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let incoming = std::iter::from_fn(move || l.accept().ok().map(|(c, _)| c));
        FakeServer {
            port,
            requests: accept_loop(incoming, serve),
        }
    }

    /// On a unix socket at `path` (mode 0777), replacing what was there.
    pub fn unix(path: PathBuf, serve: impl Serve) -> FakeServer {
        let _ = std::fs::remove_file(&path);
        let l = UnixListener::bind(&path).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o777)).unwrap();
        let incoming = std::iter::from_fn(move || l.accept().ok().map(|(c, _)| c));
        FakeServer {
            port: 0,
            requests: accept_loop(incoming, serve),
        }
    }

    pub fn take_requests(&self) -> Vec<Vec<u8>> {
        std::mem::take(&mut *self.requests.lock().unwrap())
    }
}

fn accept_loop<C: Conn>(
    incoming: impl Iterator<Item = C> + Send + 'static,
    serve: impl Serve,
) -> Requests {
    let requests = Requests::default();
    let log = requests.clone();
    let serve = Arc::new(serve);
    std::thread::spawn(move || {
        for c in incoming {
            c.set_timeout(Duration::from_secs(10));
            let (serve, log) = (serve.clone(), log.clone());
            std::thread::spawn(move || serve(Box::new(c), &log));
        }
    });
    requests
}
