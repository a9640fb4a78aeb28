//! A fake spamd on 127.0.0.1 (random port) or a unix socket: reads one request
//! (headers, then `Content-length` bytes), records it, answers with a fixed reply.

use std::io::{Read, Write};
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Mode {
    /// Answer after reading the request.
    Answer,
    /// Read the request, never answer (the client's `tmo=` must end it).
    Stall,
    /// Close the connection at once.
    Close,
}

pub struct FakeSpamd {
    pub port: u16,
    pub requests: Arc<Mutex<Vec<Vec<u8>>>>,
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
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let log = requests.clone();
        std::thread::spawn(move || {
            for c in l.incoming().flatten() {
                c.set_read_timeout(Some(Duration::from_secs(10))).ok();
                let (reply, log) = (reply.clone(), log.clone());
                std::thread::spawn(move || serve(c, &reply, mode, &log));
            }
        });
        FakeSpamd { port, requests }
    }

    pub fn unix(path: std::path::PathBuf, reply: Vec<u8>, mode: Mode) -> FakeSpamd {
        let _ = std::fs::remove_file(&path);
        let l = std::os::unix::net::UnixListener::bind(&path).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o777)).unwrap();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let log = requests.clone();
        std::thread::spawn(move || {
            for c in l.incoming().flatten() {
                c.set_read_timeout(Some(Duration::from_secs(10))).ok();
                let (reply, log) = (reply.clone(), log.clone());
                std::thread::spawn(move || serve(c, &reply, mode, &log));
            }
        });
        FakeSpamd { port: 0, requests }
    }

    pub fn take_requests(&self) -> Vec<Vec<u8>> {
        std::mem::take(&mut *self.requests.lock().unwrap())
    }
}
