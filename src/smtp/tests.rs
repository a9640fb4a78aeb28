//! Session tests over in-memory transcripts: `cmd("RCPT TO:<a@b>", "250")`.

use std::sync::Arc;

use crate::expand::Context;
use crate::smtp::{Peer, Session, SessionConfig};

struct T {
    s: Session,
}

impl T {
    fn new(config: &str) -> T {
        let macros = crate::config::initial_macros(&[]).expect("macros");
        let loaded = crate::config::load_text("test.conf", config, macros);
        assert!(loaded.errors.is_empty(), "{:?}", loaded.errors);
        let (mut cfg, acls) = SessionConfig::from_config(&loaded).expect("config");
        cfg.primary_hostname = "mx.test".into();
        let peer = Peer {
            address: "192.0.2.1".into(),
            port: 1234,
            ..Peer::default()
        };
        let mut s = Session::new(Arc::new(cfg), Arc::new(acls), Context::default(), peer);
        s.start();
        let banner = String::from_utf8(s.take_output()).unwrap();
        assert!(banner.starts_with("220 mx.test ESMTP"), "{banner}");
        T { s }
    }

    /// Send raw bytes and return the reply text.
    fn send(&mut self, bytes: &[u8]) -> String {
        self.s.feed(bytes);
        String::from_utf8(self.s.take_output()).unwrap()
    }

    /// Send one command line; the reply must start with `expect`.
    fn cmd(&mut self, line: &str, expect: &str) -> String {
        let r = self.send(format!("{line}\r\n").as_bytes());
        assert!(
            r.starts_with(expect),
            "{line}: expected {expect}, got {r:?}"
        );
        r
    }
}

const ACCEPT_ALL: &str = "acl_smtp_rcpt = accept\n";

#[test]
fn basic_transaction() {
    let mut t = T::new(ACCEPT_ALL);
    let r = t.cmd(
        "EHLO client.example",
        "250-mx.test Hello client.example [192.0.2.1]",
    );
    assert!(r.contains("250-PIPELINING\r\n") && r.ends_with("250 HELP\r\n"));
    t.cmd("MAIL FROM:<a@b.example>", "250 OK");
    t.cmd("RCPT TO:<c@d.example>", "250 Accepted");
    t.cmd("DATA", "354 Enter message");
    let r = t.send(b"Subject: x\r\n\r\nhello\r\n.\r\n");
    assert!(r.starts_with("250 OK id="), "{r}");
    t.cmd("QUIT", "221 mx.test closing connection");
    assert!(t.s.is_closed());
}

#[test]
fn sequence_errors_and_limit() {
    let mut t = T::new(ACCEPT_ALL);
    t.cmd("MAIL FROM:<a@b.example>", "503 HELO or EHLO required");
    t.cmd("HELO x.example", "250 mx.test Hello x.example");
    t.cmd("RCPT TO:<a@b.example>", "503 sender not yet given");
    t.cmd("XYZZY", "500 unrecognized command");
    let r = t.cmd(
        "DATA",
        "503-All RCPT commands were rejected with this error:",
    );
    assert!(r.ends_with("503 valid RCPT command must precede DATA\r\n"));
    let r = t.cmd("QUIT now", "501-unexpected argument data");
    assert!(r.ends_with("501 Too many syntax or protocol errors\r\n"));
    assert!(t.s.is_closed());
}

#[test]
fn variables_per_phase() {
    let mut t = T::new(
        "acl_smtp_mail = m\nacl_smtp_rcpt = r\nacl_smtp_data = d\nbegin acl\n\
         m:\n  deny message = $sender_host_address $sender_helo_name $sender_address\n\
         r:\n  deny condition = ${if eq{$local_part}{no}}\n       message = $local_part $domain $rcpt_count $recipients_count\n  accept\n\
         d:\n  deny message = $h_subject: $recipients_count $message_exim_id\n",
    );
    t.cmd("EHLO h.example", "250-");
    t.cmd(
        "MAIL FROM:<s@x.example>",
        "550 192.0.2.1 h.example s@x.example",
    );
    let mut t = T::new(
        "acl_smtp_rcpt = r\nacl_smtp_data = d\nbegin acl\n\
         r:\n  deny condition = ${if eq{$local_part}{no}}\n       message = $local_part $domain $rcpt_count $recipients_count\n  accept\n\
         d:\n  deny message = $h_subject: $recipients_count\n",
    );
    t.cmd("EHLO h.example", "250-");
    t.cmd("MAIL FROM:<s@x.example>", "250 OK");
    t.cmd("RCPT TO:<yes@y.example>", "250 Accepted");
    t.cmd("RCPT TO:<no@y.example>", "550 no y.example 2 1");
    t.cmd("DATA", "354");
    t.cmd("Subject: hello\r\n\r\nbody\r\n.", "550 hello 1");
}

#[test]
fn smuggled_end_of_data_is_data() {
    let mut t = T::new("acl_smtp_rcpt = accept\nacl_smtp_data = d\nbegin acl\nd:\n  deny message = lines=$body_linecount\n");
    t.cmd("EHLO h.example", "250-");
    t.cmd("MAIL FROM:<s@x.example>", "250 OK");
    t.cmd("RCPT TO:<a@y.example>", "250 Accepted");
    t.cmd("DATA", "354");
    // A bare-LF dot line followed by a smuggled command must not end the message.
    let r = t.send(b"Subject: a\r\n\r\nx\n.\nMAIL FROM:<evil@x>\r\n");
    assert_eq!(r, "");
    let r = t.send(b".\r\n");
    assert!(r.starts_with("550 lines="), "{r}");
}

#[test]
fn pipelining_sync_enforced_when_not_advertised() {
    let mut t = T::new("acl_smtp_rcpt = accept\npipelining_advertise_hosts =\n");
    t.s.sync_check = true;
    t.cmd("EHLO h.example", "250-");
    let r = t.send(b"MAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\n");
    assert_eq!(r, "554 SMTP synchronization error\r\n");
    assert!(t.s.is_closed());
}

#[test]
fn pipelining_allowed_when_advertised() {
    let mut t = T::new(ACCEPT_ALL);
    t.s.sync_check = true;
    t.cmd("EHLO h.example", "250-");
    let r = t.send(b"MAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\nDATA\r\n");
    assert_eq!(
        r,
        "250 OK\r\n250 Accepted\r\n354 Enter message, ending with \".\" on a line by itself\r\n"
    );
}

#[test]
fn drop_closes_connection() {
    let mut t = T::new("acl_smtp_mail = m\nbegin acl\nm:\n  drop message = bye\n");
    t.cmd("HELO h.example", "250 ");
    let r = t.send(b"MAIL FROM:<a@b.example>\r\nNOOP\r\n");
    assert_eq!(r, "550 bye\r\n");
    assert!(t.s.is_closed());
}

#[test]
fn bdat_without_chunking_and_bad_size() {
    let mut t = T::new("acl_smtp_rcpt = accept\nchunking_advertise_hosts =\n");
    t.cmd("EHLO h.example", "250-");
    t.cmd(
        "BDAT 3",
        "503 BDAT command used when CHUNKING not advertised",
    );
    let mut t = T::new(ACCEPT_ALL);
    t.cmd("EHLO h.example", "250-");
    t.cmd("BDAT x", "501 missing size for BDAT command");
}

#[test]
fn random_dialogues_never_panic() {
    use rand::{Rng, SeedableRng};
    let mut rng = rand::rngs::StdRng::seed_from_u64(2821);
    let words = [
        "EHLO a.b\r\n",
        "HELO x\r\n",
        "MAIL FROM:<a@b.c>\r\n",
        "RCPT TO:<d@e.f>\r\n",
        "DATA\r\n",
        ".\r\n",
        "BDAT 5\r\n",
        "BDAT 2 LAST\r\n",
        "RSET\r\n",
        "QUIT\r\n",
        "\r\n",
        "\n",
        "\r",
        "VRFY x@y\r\n",
        "EXPN z\r\n",
        "HELP\r\n",
        "ETRN a\r\n",
        "STARTTLS\r\n",
        "AUTH PLAIN\r\n",
        "\0",
        "..\r\n",
        "MAIL FROM:<> SIZE=99999999999999999999\r\n",
    ];
    for _ in 0..300 {
        let mut t = T::new(ACCEPT_ALL);
        for _ in 0..rng.gen_range(1..40) {
            if t.s.is_closed() {
                break;
            }
            let w = words[rng.gen_range(0..words.len())];
            t.send(w.as_bytes());
        }
        t.s.close_input();
    }
}

/// id, sender, recipients, data of a stored message.
type Stored = (String, Vec<u8>, Vec<Vec<u8>>, Vec<u8>);

/// Records stored messages, or fails every store.
struct TestSink {
    fail: bool,
    stored: std::sync::Mutex<Vec<Stored>>,
}

impl crate::smtp::sink::MessageSink for TestSink {
    fn store(&self, m: &crate::smtp::sink::AcceptedMessage) -> std::io::Result<()> {
        if self.fail {
            return Err(std::io::Error::other("disk full"));
        }
        self.stored.lock().unwrap().push((
            m.id.to_string(),
            m.sender.to_vec(),
            m.recipients.to_vec(),
            m.data.to_vec(),
        ));
        Ok(())
    }
}

fn transaction_with_sink(fail: bool) -> (String, Arc<TestSink>) {
    let sink = Arc::new(TestSink {
        fail,
        stored: Default::default(),
    });
    let mut t = T::new(ACCEPT_ALL);
    t.s.sink = Some(sink.clone());
    t.cmd("EHLO client.example", "250-");
    t.cmd("MAIL FROM:<a@b.example>", "250 OK");
    t.cmd("RCPT TO:<c@d.example>", "250 Accepted");
    t.cmd("DATA", "354");
    let r = t.send(b"Subject: hi\r\n\r\nbody\r\n.\r\n");
    (r, sink)
}

#[test]
fn accepted_message_is_stored_before_250() {
    let (r, sink) = transaction_with_sink(false);
    assert!(r.starts_with("250 OK id="), "{r}");
    let stored = sink.stored.lock().unwrap();
    assert_eq!(stored.len(), 1);
    assert!(r.contains(&stored[0].0), "reply names the stored id");
    assert_eq!(stored[0].1, b"a@b.example");
    assert_eq!(stored[0].2, vec![b"c@d.example".to_vec()]);
    assert!(
        stored[0].3.ends_with(b"body\n"),
        "{:?}",
        String::from_utf8_lossy(&stored[0].3)
    );
}

#[test]
fn failed_store_is_never_acknowledged() {
    let (r, sink) = transaction_with_sink(true);
    assert_eq!(r, "451 Temporary local problem - please try later\r\n");
    assert!(sink.stored.lock().unwrap().is_empty());
}
