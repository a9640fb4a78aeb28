//! A busy plain-text connection kept on its session thread between commands.
//!
//! The daemon runs a session's input on a blocking thread (`server.rs`). Handing every
//! batch from a runtime worker to that thread and back costs two thread wake-ups on top of
//! the one the input itself causes; in a lock-step dialogue (four batches per message)
//! that was about a third of the CPU per message. So once a batch is done, the session
//! thread keeps the connection while the client is busy: it sends the replies itself,
//! waits (`poll`) up to [`LINGER`] for the next input and feeds it at once — one wake-up
//! per command, as a process per connection has. The connection goes back to the
//! runtime (whose loop waits with no thread) when the client is quiet for that long, an
//! ACL asks for a `delay` (slept on the runtime's timer), a STARTTLS was accepted, the
//! daemon is stopping, the socket would block on a write, or [`MAX_LINGERING`] sessions
//! already hold threads (so new input always finds one).
//!
//! Meanwhile the socket is out of the runtime's poller (`server.rs` deregisters it), or
//! every segment the client sent would wake a runtime thread too.
//! `smtp_receive_timeout` is enforced by the runtime's loop once the session is back
//! there, so a quiet client gets up to [`LINGER`] more than the timeout.

use std::os::fd::RawFd;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use crate::smtp::Session;

/// How long a session thread waits for the client's next input before handing the
/// connection back to the runtime. Long enough for a lock-step client on a loaded
/// machine to answer; short enough that an idle connection soon holds no thread.
pub const LINGER: Duration = Duration::from_millis(250);

/// Sessions allowed to wait on their threads at once (of the daemon's 64 session
/// threads): the rest are left for connections whose input has just arrived.
pub const MAX_LINGERING: usize = 48;

static LINGERING: AtomicUsize = AtomicUsize::new(0);

/// What the session thread leaves for the runtime's loop.
#[derive(Debug, Default)]
pub struct Handback {
    /// Reply bytes the socket would not take without blocking (sent by the runtime).
    pub unsent: Vec<u8>,
    /// The peer is gone (a write failed): end the connection.
    pub gone: bool,
}

/// Feed `input`, then keep serving the connection on this thread while the client keeps
/// it busy. `stopping` says whether the daemon is shutting down.
pub fn serve(s: &mut Session, fd: RawFd, input: &[u8], stopping: impl Fn() -> bool) -> Handback {
    s.feed(input);
    let mut buf = [0u8; 16 * 1024];
    loop {
        if s.is_closed() || s.tls_request.is_some() || !s.acl_state.delay.is_zero() || stopping() {
            return Handback::default();
        }
        if !s.log.is_empty() {
            crate::smtp::server::log_lines(s.log.drain(..));
        }
        let out = s.take_output();
        match send_now(fd, &out) {
            Ok(n) if n < out.len() => {
                return Handback {
                    unsent: out[n..].to_vec(),
                    gone: false,
                }
            }
            Ok(_) => {}
            Err(_) => {
                return Handback {
                    unsent: Vec::new(),
                    gone: true,
                }
            }
        }
        let Some(got) = wait_and_read(fd, &mut buf) else {
            return Handback::default();
        };
        match got {
            Ok(0) | Err(_) => s.close_input(),
            Ok(n) => s.feed(&buf[..n]),
        }
    }
}

/// Send as much of `out` as the socket takes without blocking; `Err`: the peer is gone.
fn send_now(fd: RawFd, out: &[u8]) -> std::io::Result<usize> {
    let mut sent = 0;
    while sent < out.len() {
        let rest = &out[sent..];
        // SAFETY: send on a socket descriptor the caller's stream owns (alive for this
        // call), from a buffer of the length given; MSG_NOSIGNAL turns a closed peer into
        // EPIPE instead of a signal.
        let n = unsafe {
            libc::send(
                fd,
                rest.as_ptr().cast(),
                rest.len(),
                libc::MSG_NOSIGNAL | libc::MSG_DONTWAIT,
            )
        };
        if n < 0 {
            let e = std::io::Error::last_os_error();
            match e.kind() {
                std::io::ErrorKind::WouldBlock => return Ok(sent),
                std::io::ErrorKind::Interrupted => continue,
                _ => return Err(e),
            }
        }
        sent += n as usize;
    }
    Ok(sent)
}

/// Wait up to [`LINGER`] for input and read it into `buf`. `None`: nothing came (or too
/// many sessions are waiting already); the connection goes back to the runtime.
fn wait_and_read(fd: RawFd, buf: &mut [u8]) -> Option<std::io::Result<usize>> {
    if LINGERING.fetch_add(1, Ordering::Relaxed) >= MAX_LINGERING {
        LINGERING.fetch_sub(1, Ordering::Relaxed);
        return None;
    }
    let ready = poll_readable(fd, LINGER);
    LINGERING.fetch_sub(1, Ordering::Relaxed);
    if !ready {
        return None;
    }
    loop {
        // SAFETY: recv on the caller's socket into `buf`, at most its length; MSG_DONTWAIT
        // never blocks.
        let n = unsafe { libc::recv(fd, buf.as_mut_ptr().cast(), buf.len(), libc::MSG_DONTWAIT) };
        if n >= 0 {
            return Some(Ok(n as usize));
        }
        let e = std::io::Error::last_os_error();
        match e.kind() {
            std::io::ErrorKind::Interrupted => continue,
            // Readable but nothing there after all: let the runtime wait for it.
            std::io::ErrorKind::WouldBlock => return None,
            _ => return Some(Err(e)),
        }
    }
}

/// Block until `fd` is readable (or hung up), at most `limit`.
fn poll_readable(fd: RawFd, limit: Duration) -> bool {
    let mut p = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    let ms = i32::try_from(limit.as_millis()).unwrap_or(i32::MAX);
    // SAFETY: one pollfd, passed with its count; the descriptor outlives the call.
    let n = unsafe { libc::poll(&mut p, 1, ms) };
    n > 0 && p.revents != 0
}
