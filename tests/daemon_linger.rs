//! `rexim -bd` keeps a busy plain connection on its session thread between commands
//! (`src/smtp/linger.rs`) and hands it back to the runtime when the client goes quiet or
//! too many sessions hold threads. These drive both paths over 127.0.0.1: more
//! concurrent lock-step clients than sessions may linger, each pausing longer than the
//! linger time between messages, and a pipelined client; every 250 must be a stored
//! message with the right body.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::time::Duration;

mod support;
use support::daemon::IO_TIMEOUT;

/// More than `linger::MAX_LINGERING` (48).
const CLIENTS: usize = 60;
/// Longer than `linger::LINGER` (250 ms).
const PAUSE: Duration = Duration::from_millis(400);

const CONF: &str = "smtp_accept_max = 200\nacl_smtp_rcpt = rcpt\nbegin acl\nrcpt:\n  \
                    accept domains = test.example\n  deny\n";

struct Client {
    r: BufReader<TcpStream>,
    w: TcpStream,
}

impl Client {
    fn connect(port: u16) -> Client {
        let s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        s.set_read_timeout(Some(IO_TIMEOUT)).expect("timeout");
        Client {
            r: BufReader::new(s.try_clone().expect("clone")),
            w: s,
        }
    }

    /// One reply's last line.
    fn reply(&mut self) -> String {
        loop {
            let mut line = String::new();
            let n = self.r.read_line(&mut line).expect("read reply");
            assert!(n > 0, "connection closed");
            if line.as_bytes().get(3) != Some(&b'-') {
                return line.trim_end().to_string();
            }
        }
    }

    fn cmd(&mut self, line: &str) -> String {
        self.w
            .write_all(format!("{line}\r\n").as_bytes())
            .expect("write");
        self.reply()
    }
}

/// A message's body (what the spool's `-D` holds after its first line).
fn body(client: usize, m: usize) -> String {
    format!("message {m} of client {client}\n")
}

/// The message as sent, with CRLF line ends and without the final dot.
fn message(client: usize, m: usize) -> String {
    format!(
        "Subject: {client}/{m}\r\n\r\n{}",
        body(client, m).replace('\n', "\r\n")
    )
}

/// The stored bodies, sorted.
fn stored(d: &support::daemon::Daemon) -> Vec<String> {
    let spool = rexim::spool::Spool::new(d.dir.join("spool"));
    let mut v: Vec<String> = spool
        .message_ids()
        .expect("list spool")
        .iter()
        .map(|id| String::from_utf8_lossy(&spool.read_body(id).expect("read -D")).into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn many_clients_pausing_between_messages_are_all_served() {
    let d = support::daemon::start("linger-many", CONF);
    let port = d.port;
    let workers: Vec<_> = (0..CLIENTS)
        .map(|c| {
            std::thread::spawn(move || {
                let mut cl = Client::connect(port);
                assert!(cl.reply().starts_with("220"));
                assert!(cl.cmd("EHLO client.example").starts_with("250"));
                for m in 0..2 {
                    assert!(cl.cmd("MAIL FROM:<a@client.example>").starts_with("250"));
                    assert!(cl.cmd("RCPT TO:<u@test.example>").starts_with("250"));
                    assert!(cl.cmd("RCPT TO:<u@elsewhere.example>").starts_with("550"));
                    assert!(cl.cmd("DATA").starts_with("354"));
                    let r = cl.cmd(&format!("{}.", message(c, m)));
                    assert!(r.starts_with("250 OK id="), "{r}");
                    // Quiet for longer than the linger time: the connection goes back to
                    // the runtime and must be picked up again.
                    std::thread::sleep(PAUSE);
                }
                assert!(cl.cmd("QUIT").starts_with("221"));
            })
        })
        .collect();
    for w in workers {
        w.join().expect("client");
    }
    let mut want: Vec<String> = (0..CLIENTS)
        .flat_map(|c| (0..2).map(move |m| body(c, m)))
        .collect();
    want.sort();
    assert_eq!(stored(&d), want, "{}", d.stderr());
}

#[test]
fn pipelined_groups_are_answered_in_order() {
    let d = support::daemon::start("linger-pipe", CONF);
    let mut cl = Client::connect(d.port);
    assert!(cl.reply().starts_with("220"));
    assert!(cl.cmd("EHLO client.example").starts_with("250"));
    // Ten messages, each body written together with the next MAIL, RCPT and DATA (one
    // batch of input holds the end of one message and the start of the next).
    let mut batch = String::new();
    for m in 0..10 {
        batch += "MAIL FROM:<a@client.example>\r\nRCPT TO:<u@test.example>\r\nDATA\r\n";
        batch += &message(0, m);
        batch += ".\r\n";
    }
    batch += "QUIT\r\n";
    let mut parts = batch.split_inclusive("DATA\r\n");
    let first = parts.next().expect("first part");
    cl.w.write_all(first.as_bytes()).expect("write");
    assert!(cl.reply().starts_with("250"));
    assert!(cl.reply().starts_with("250"));
    assert!(cl.reply().starts_with("354"));
    let mut ids = 0;
    for part in parts {
        cl.w.write_all(part.as_bytes()).expect("write");
        let r = cl.reply();
        assert!(r.starts_with("250 OK id="), "{r}");
        ids += 1;
        if part.ends_with("QUIT\r\n") {
            assert!(cl.reply().starts_with("221"));
            break;
        }
        assert!(cl.reply().starts_with("250"));
        assert!(cl.reply().starts_with("250"));
        assert!(cl.reply().starts_with("354"));
    }
    assert_eq!(ids, 10);
    let mut want: Vec<String> = (0..10).map(|m| body(0, m)).collect();
    want.sort();
    assert_eq!(stored(&d), want, "{}", d.stderr());
}
