//! A small SMTP client for the end-to-end tests: one reply at a time (continuation
//! lines joined with `\n`), every read bounded by [`IO_TIMEOUT`].

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;

use super::daemon::IO_TIMEOUT;

pub struct Client<S: Read + Write> {
    pub r: BufReader<S>,
}

impl Client<TcpStream> {
    /// A plain connection to the daemon listening on `port` of 127.0.0.1.
    pub fn connect(port: u16) -> Client<TcpStream> {
        let s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        s.set_read_timeout(Some(IO_TIMEOUT)).expect("timeout");
        Client {
            r: BufReader::new(s),
        }
    }
}

impl<S: Read + Write> Client<S> {
    /// One (possibly multi-line) reply, lines joined with `\n`.
    pub fn reply(&mut self) -> String {
        let mut all = String::new();
        loop {
            let mut line = String::new();
            let n = self.r.read_line(&mut line).expect("read reply");
            assert!(n > 0, "connection closed; got so far: {all:?}");
            all.push_str(line.trim_end_matches(['\r', '\n']));
            if line.as_bytes().get(3) != Some(&b'-') {
                return all;
            }
            all.push('\n');
        }
    }

    pub fn send(&mut self, bytes: &[u8]) {
        let w = self.r.get_mut();
        w.write_all(bytes).expect("write");
        w.flush().expect("flush");
    }

    pub fn cmd(&mut self, line: &str) -> String {
        self.send(format!("{line}\r\n").as_bytes());
        self.reply()
    }

    /// True when the server closed the connection (EOF within the timeout).
    pub fn closed(&mut self) -> bool {
        let mut rest = Vec::new();
        self.r.read_to_end(&mut rest).is_ok()
    }

    /// MAIL, RCPT and DATA (each must succeed), then `message` with its lines
    /// dot-stuffed and the final dot; the reply to that dot.
    pub fn message(&mut self, from: &str, to: &str, message: &str) -> String {
        assert_eq!(code(&self.cmd(&format!("MAIL FROM:<{from}>"))), "250");
        assert_eq!(code(&self.cmd(&format!("RCPT TO:<{to}>"))), "250");
        assert_eq!(code(&self.cmd("DATA")), "354");
        let mut data = String::new();
        for l in message.lines() {
            if l.starts_with('.') {
                data.push('.');
            }
            data.push_str(l);
            data.push_str("\r\n");
        }
        data.push('.');
        self.cmd(&data)
    }
}

/// The three-digit code of a reply (empty when the reply is shorter).
pub fn code(reply: &str) -> &str {
    reply.get(..3).unwrap_or("")
}

/// The message id of a `250 OK id=…` reply; panics on any other reply.
pub fn id_of(reply: &str) -> String {
    reply
        .strip_prefix("250 OK id=")
        .unwrap_or_else(|| panic!("{reply}"))
        .to_string()
}

/// Connect to `port`, read the banner, then send each line (CRLF), reading one reply
/// per command line; DATA's text lines get no reply until the final dot. Returns the
/// banner and the replies.
pub fn dialogue(port: u16, lines: &[&str]) -> Vec<String> {
    let mut c = Client::connect(port);
    let mut replies = vec![c.reply()];
    let mut in_data = false;
    for l in lines {
        c.send(format!("{l}\r\n").as_bytes());
        if in_data && *l != "." {
            continue;
        }
        let reply = c.reply();
        in_data = reply.starts_with("354");
        replies.push(reply);
    }
    replies
}
