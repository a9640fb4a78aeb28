//! A fake dccifd on 127.0.0.1 (random port) or a unix socket: reads a request until
//! the client closes its side, records it, answers with a fixed reply (or nothing)
//! and closes.

use std::io::{Read, Write};
use std::ops::Deref;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use crate::support::fake_server::FakeServer;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Mode {
    /// Answer once the request has been read to its end.
    Answer,
    /// Read the request, then close without answering.
    Close,
    /// Read the request, then wait 3 s before answering (past the client's limit).
    Stall,
}

pub struct FakeDccifd(FakeServer);

impl Deref for FakeDccifd {
    type Target = FakeServer;
    fn deref(&self) -> &FakeServer {
        &self.0
    }
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

impl FakeDccifd {
    pub fn tcp(reply: Vec<u8>, mode: Mode) -> FakeDccifd {
        FakeDccifd(FakeServer::tcp(move |c, log| serve(c, &reply, mode, log)))
    }

    pub fn unix(path: PathBuf, reply: Vec<u8>, mode: Mode) -> FakeDccifd {
        FakeDccifd(FakeServer::unix(path, move |c, log| {
            serve(c, &reply, mode, log)
        }))
    }
}
