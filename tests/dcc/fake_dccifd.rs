//! A fake dccifd on 127.0.0.1 (random port) or a unix socket: reads a request until
//! the client closes its side, records it, answers with a fixed reply (or nothing)
//! and closes.

use std::io::{Read, Write};
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Mode {
    /// Answer once the request has been read to its end.
    Answer,
    /// Read the request, then close without answering.
    Close,
    /// Read the request, then wait 3 s before answering (past the client's limit).
    Stall,
}

pub struct FakeDccifd {
    pub port: u16,
    pub requests: Arc<Mutex<Vec<Vec<u8>>>>,
}

fn serve(mut c: impl Read + Write, reply: &[u8], mode: Mode, log: &Mutex<Vec<Vec<u8>>>) {
    let mut req = Vec::new();
    let _ = c.read_to_end(&mut req);
    log.lock().unwrap().push(req);
    if mode == Mode::Close {
        return;
    }
    if mode == Mode::Stall {
        std::thread::sleep(Duration::from_secs(3));
    }
    let _ = c.write_all(reply);
}

fn accept_loop<S: Read + Write + Send + 'static>(
    incoming: impl Iterator<Item = S> + Send + 'static,
    reply: Vec<u8>,
    mode: Mode,
    log: Arc<Mutex<Vec<Vec<u8>>>>,
) {
    std::thread::spawn(move || {
        for c in incoming {
            let (reply, log) = (reply.clone(), log.clone());
            std::thread::spawn(move || serve(c, &reply, mode, &log));
        }
    });
}

impl FakeDccifd {
    pub fn tcp(reply: Vec<u8>, mode: Mode) -> FakeDccifd {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let incoming = std::iter::from_fn(move || l.accept().ok().map(|(c, _)| c)).inspect(|c| {
            c.set_read_timeout(Some(Duration::from_secs(10))).ok();
        });
        accept_loop(incoming, reply, mode, requests.clone());
        FakeDccifd { port, requests }
    }

    pub fn unix(path: std::path::PathBuf, reply: Vec<u8>, mode: Mode) -> FakeDccifd {
        let _ = std::fs::remove_file(&path);
        let l = std::os::unix::net::UnixListener::bind(&path).unwrap();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let incoming = std::iter::from_fn(move || l.accept().ok().map(|(c, _)| c)).inspect(|c| {
            c.set_read_timeout(Some(Duration::from_secs(10))).ok();
        });
        accept_loop(incoming, reply, mode, requests.clone());
        FakeDccifd { port: 0, requests }
    }

    pub fn take_requests(&self) -> Vec<Vec<u8>> {
        std::mem::take(&mut *self.requests.lock().unwrap())
    }
}
