//! A fake spamd on 127.0.0.1 (random port) or a unix socket: reads one request
//! (headers, then `Content-length` bytes), records it, answers with a fixed reply.

use std::io::{Read, Write};
use std::ops::Deref;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use crate::support::fake_server::FakeServer;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Mode {
    /// Answer after reading the request.
    Answer,
    /// Read the request, never answer (the client's `tmo=` must end it).
    Stall,
    /// Close the connection at once.
    Close,
}

pub struct FakeSpamd(FakeServer);

impl Deref for FakeSpamd {
    type Target = FakeServer;
    fn deref(&self) -> &FakeServer {
        &self.0
    }
}

fn serve(mut c: impl Read + Write, reply: &[u8], mode: Mode, log: &Mutex<Vec<Vec<u8>>>) {
    if mode == Mode::Close {
        return;
    }
    let mut req = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        if let Some(end) = req.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&req[..end]).to_ascii_lowercase();
            let len: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length: "))
                .and_then(|n| n.trim().parse().ok())
                .unwrap_or(0);
            if req.len() >= end + 4 + len {
                break;
            }
        }
        match c.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => req.extend_from_slice(&buf[..n]),
        }
    }
    log.lock().unwrap().push(req);
    if mode == Mode::Stall {
        std::thread::sleep(Duration::from_secs(4));
        return;
    }
    let _ = c.write_all(reply);
}

impl FakeSpamd {
    pub fn tcp(reply: Vec<u8>, mode: Mode) -> FakeSpamd {
        FakeSpamd(FakeServer::tcp(move |c, log| serve(c, &reply, mode, log)))
    }

    pub fn unix(path: PathBuf, reply: Vec<u8>, mode: Mode) -> FakeSpamd {
        FakeSpamd(FakeServer::unix(path, move |c, log| {
            serve(c, &reply, mode, log)
        }))
    }
}
