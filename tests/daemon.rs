//! End-to-end tests of `rexim -bd` over real sockets on 127.0.0.1: each test starts the
//! binary with its own configuration on a free port, talks SMTP with a small raw client
//! (every read bounded by a timeout), and kills the daemon at the end.

mod support;

use std::net::TcpStream;
use std::process::Command;
use std::time::{Duration, Instant};
use support::client::{code, Client};
use support::daemon::{self, Daemon};

/// Start the daemon with `extra` main options and `acls` (text after `begin acl`).
fn start(name: &str, extra: &str, acls: &str) -> Daemon {
    daemon::start(
        &format!("daemon-{name}"),
        &format!("domainlist local_domains = test.example\n{extra}\nbegin acl\n{acls}\n"),
    )
}

impl Daemon {
    /// The stored messages, read back from the Exim-format spool (`spool/input/`) as
    /// `Message-Id:`, `Sender:`, `Recipient:` lines, a blank line, then the message as
    /// received (headers other than the added Received:, blank line, body).
    fn stored(&self) -> Vec<String> {
        let spool = self.spool();
        let ids = spool.message_ids().expect("list spool");
        ids.iter()
            .map(|id| {
                let h = spool.read_header(id).expect("read -H");
                let mut out = format!(
                    "Message-Id: {id}\nSender: {}\n",
                    String::from_utf8_lossy(&h.sender)
                );
                for r in &h.recipients {
                    out += &format!("Recipient: {}\n", String::from_utf8_lossy(&r.address));
                }
                out.push('\n');
                for hl in h.headers.iter().skip(1).filter(|hl| hl.kind != b'*') {
                    out += &String::from_utf8_lossy(&hl.text);
                }
                out.push('\n');
                out += &String::from_utf8_lossy(&spool.read_body(id).expect("read -D"));
                out
            })
            .collect()
    }
}

/// A session past the banner and `EHLO client.example` (their replies unchecked).
fn after_ehlo(d: &Daemon) -> Client<TcpStream> {
    let mut c = d.connect();
    c.reply();
    c.cmd("EHLO client.example");
    c
}

const RCPT_ACL: &str = "acl_check_rcpt:\n  deny message = relay not permitted\n       domains = !+local_domains\n  deny local_parts = nobody\n  accept\n";
const RCPT_OPT: &str = "acl_smtp_rcpt = acl_check_rcpt";

#[test]
fn accepts_a_message_and_stores_it() {
    let d = start("accept", RCPT_OPT, RCPT_ACL);
    let mut c = d.connect();
    assert!(c.reply().starts_with("220 test.example ESMTP"));
    let ehlo = c.cmd("EHLO client.example");
    assert!(
        ehlo.contains("PIPELINING") && ehlo.contains("CHUNKING"),
        "{ehlo}"
    );
    assert_eq!(code(&c.cmd("MAIL FROM:<a@client.example>")), "250");
    assert_eq!(code(&c.cmd("RCPT TO:<u@test.example>")), "250");
    assert_eq!(code(&c.cmd("DATA")), "354");
    c.send(b"Subject: hello\r\n\r\nline one\r\n..dotted\r\n.\r\n");
    let r = c.reply();
    assert!(r.starts_with("250 OK id="), "{r}");
    let id = r.trim_start_matches("250 OK id=").to_string();
    assert_eq!(code(&c.cmd("QUIT")), "221");
    let stored = d.stored();
    assert_eq!(stored.len(), 1);
    assert!(
        stored[0].starts_with(&format!(
            "Message-Id: {id}\nSender: a@client.example\nRecipient: u@test.example\n"
        )),
        "{}",
        stored[0]
    );
    assert!(
        stored[0].ends_with("\nline one\n.dotted\n"),
        "{}",
        stored[0]
    );
    assert!(
        d.stderr().contains(&format!("{id} <= a@client.example")),
        "{}",
        d.stderr()
    );
    // The mainlog in Exim's default place, with Exim's S= for the stored message.
    let mainlog =
        std::fs::read_to_string(d.dir.join("spool").join("log").join("mainlog")).expect("mainlog");
    let line = mainlog
        .lines()
        .find(|l| l.contains(&format!("{id} <= a@client.example")))
        .unwrap_or_else(|| panic!("{mainlog}"));
    assert_eq!(line.as_bytes().get(19), Some(&b' '), "{line}");
    let h = rexim::spool::Spool::new(d.dir.join("spool"))
        .queued(&id)
        .expect("queued");
    assert!(line.ends_with(&format!(" S={}", h.size)), "{line}");
}

#[test]
fn rejects_at_rcpt() {
    let d = start("rcpt", RCPT_OPT, RCPT_ACL);
    let mut c = after_ehlo(&d);
    c.cmd("MAIL FROM:<a@client.example>");
    assert_eq!(
        c.cmd("RCPT TO:<x@elsewhere.example>"),
        "550 relay not permitted"
    );
    assert_eq!(
        c.cmd("RCPT TO:<nobody@test.example>"),
        "550 Administrative prohibition"
    );
    assert_eq!(code(&c.cmd("DATA")), "503");
    assert_eq!(code(&c.cmd("QUIT")), "221");
    assert!(d.stored().is_empty());
}

#[test]
fn pipelined_batch() {
    let d = start("pipe", RCPT_OPT, RCPT_ACL);
    let mut c = after_ehlo(&d);
    c.send(b"MAIL FROM:<a@client.example>\r\nRCPT TO:<u@test.example>\r\nRCPT TO:<x@elsewhere.example>\r\nRCPT TO:<v@test.example>\r\nDATA\r\n");
    let replies: Vec<String> = (0..5).map(|_| c.reply()).collect();
    let codes: Vec<&str> = replies.iter().map(|r| code(r)).collect();
    assert_eq!(codes, ["250", "250", "550", "250", "354"], "{replies:?}");
    c.send(b"Subject: p\r\n\r\nbody\r\n.\r\nQUIT\r\n");
    assert_eq!(code(&c.reply()), "250");
    assert_eq!(code(&c.reply()), "221");
    let stored = d.stored();
    assert_eq!(stored.len(), 1);
    assert!(stored[0].contains("Recipient: u@test.example\nRecipient: v@test.example\n\n"));
}

#[test]
fn early_talker_is_refused() {
    let d = start("sync", RCPT_OPT, RCPT_ACL);
    let mut c = d.connect();
    c.reply();
    // EHLO must wait for its reply before more commands.
    c.send(b"EHLO client.example\r\nMAIL FROM:<a@client.example>\r\n");
    assert_eq!(c.reply(), "554 SMTP synchronization error");
    assert!(c.closed());
}

#[test]
fn bdat_chunks() {
    let d = start("bdat", RCPT_OPT, RCPT_ACL);
    let mut c = after_ehlo(&d);
    c.cmd("MAIL FROM:<a@client.example>");
    c.cmd("RCPT TO:<u@test.example>");
    let part1 = b"Subject: b\r\n\r\n";
    let part2 = b"chunked body\r\n.\r\n";
    c.send(format!("BDAT {}\r\n", part1.len()).as_bytes());
    c.send(part1);
    assert_eq!(
        c.reply(),
        format!("250 {} byte chunk received", part1.len())
    );
    c.send(format!("BDAT {} LAST\r\n", part2.len()).as_bytes());
    c.send(part2);
    let r = c.reply();
    assert!(r.starts_with("250- "), "{r}");
    assert!(r.contains("\n250 OK id="), "{r}");
    let stored = d.stored();
    assert_eq!(stored.len(), 1);
    // BDAT data is not dot-stuffed: the dot line is kept.
    assert!(stored[0].ends_with("\nchunked body\n.\n"), "{}", stored[0]);
}

#[test]
fn size_limit() {
    let d = start(
        "size",
        &format!("{RCPT_OPT}\nmessage_size_limit = 1K"),
        RCPT_ACL,
    );
    let mut c = d.connect();
    c.reply();
    let ehlo = c.cmd("EHLO client.example");
    assert!(ehlo.contains("SIZE 1024"), "{ehlo}");
    assert_eq!(
        code(&c.cmd("MAIL FROM:<a@client.example> SIZE=5000")),
        "552"
    );
    assert_eq!(code(&c.cmd("MAIL FROM:<a@client.example>")), "250");
    c.cmd("RCPT TO:<u@test.example>");
    assert_eq!(code(&c.cmd("DATA")), "354");
    let mut body = b"Subject: big\r\n\r\n".to_vec();
    for _ in 0..40 {
        body.extend_from_slice(
            b"0123456789012345678901234567890123456789012345678901234567890123\r\n",
        );
    }
    body.extend_from_slice(b".\r\n");
    c.send(&body);
    let r = c.reply();
    assert_eq!(code(&r), "552", "{r}");
    assert!(d.stored().is_empty());
}

#[test]
fn smuggling_payload_does_not_end_the_message() {
    let d = start("smuggle", RCPT_OPT, RCPT_ACL);
    let mut c = after_ehlo(&d);
    c.cmd("MAIL FROM:<a@client.example>");
    c.cmd("RCPT TO:<u@test.example>");
    assert_eq!(code(&c.cmd("DATA")), "354");
    c.send(b"Subject: s\r\n\r\nhello\n.\nMAIL FROM:<evil@x.example>\r\nRCPT TO:<v@test.example>\r\nDATA\r\nsmuggled\r\n.\r\n");
    let r = c.reply();
    assert!(r.starts_with("250 OK id="), "{r}");
    assert_eq!(code(&c.cmd("QUIT")), "221");
    let stored = d.stored();
    assert_eq!(stored.len(), 1, "{stored:?}");
    assert!(
        stored[0].contains("MAIL FROM:<evil@x.example>"),
        "{}",
        stored[0]
    );
    assert!(!stored[0].contains("Recipient: v@test.example"));
}

#[test]
fn receive_timeouts() {
    let d = start(
        "timeout",
        &format!("{RCPT_OPT}\nsmtp_receive_timeout = 1s"),
        RCPT_ACL,
    );
    let mut c = d.connect();
    c.reply();
    let t = Instant::now();
    assert_eq!(
        c.reply(),
        "421 test.example: SMTP command timeout - closing connection"
    );
    assert!(t.elapsed() >= Duration::from_millis(900));
    assert!(c.closed());

    let mut c = after_ehlo(&d);
    c.cmd("MAIL FROM:<a@client.example>");
    c.cmd("RCPT TO:<u@test.example>");
    assert_eq!(code(&c.cmd("DATA")), "354");
    c.send(b"Subject: slow\r\n");
    assert_eq!(
        c.reply(),
        "421 test.example SMTP incoming data timeout - closing connection."
    );
    assert!(c.closed());
    assert!(d.stored().is_empty());
    let log = d.stderr();
    assert!(
        log.contains("SMTP command timeout on connection from [127.0.0.1]"),
        "{log}"
    );
    assert!(
        log.contains("SMTP data timeout (message abandoned) on connection from (client.example) [127.0.0.1] F=<a@client.example>"),
        "{log}"
    );
}

#[test]
fn connection_limits() {
    let d = start("limits", "smtp_accept_max_per_host = 1", "");
    let mut first = d.connect();
    assert_eq!(code(&first.reply()), "220");
    let mut second = d.connect();
    assert_eq!(
        second.reply(),
        "421 Too many concurrent SMTP connections from this IP address; please try again later."
    );
    assert!(second.closed());
    drop(first);
    drop(second);

    let d = start("max", "smtp_accept_max = 1", "");
    let mut first = d.connect();
    assert_eq!(code(&first.reply()), "220");
    let mut second = d.connect();
    assert_eq!(
        second.reply(),
        "421 Too many concurrent SMTP connections; please try again later."
    );
    assert!(d
        .stderr()
        .contains("Connection from [127.0.0.1] refused: too many connections"));
    assert_eq!(code(&first.cmd("QUIT")), "221");
}

#[test]
fn sigterm_closes_idle_connections_and_exits() {
    let mut d = start("term", "", "");
    let mut c = d.connect();
    assert_eq!(code(&c.reply()), "220");
    let pid = d.pid() as libc::pid_t;
    // SAFETY: signalling the child we started.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
    assert_eq!(
        c.reply(),
        "421 test.example Service not available - closing connection"
    );
    let st = d.wait_exit();
    assert!(st.success(), "{st}");
}

#[test]
fn concurrent_sessions_store_every_message_once() {
    let d = start("concurrent", RCPT_OPT, RCPT_ACL);
    let port = d.port;
    let workers: Vec<_> = (0..8)
        .map(|w| {
            std::thread::spawn(move || {
                let mut c = Client::connect(port);
                c.reply();
                c.cmd("EHLO client.example");
                let mut ids = Vec::new();
                for m in 0..5 {
                    c.send(format!("MAIL FROM:<w{w}@client.example>\r\nRCPT TO:<u@test.example>\r\nDATA\r\n").as_bytes());
                    assert_eq!(code(&c.reply()), "250");
                    assert_eq!(code(&c.reply()), "250");
                    assert_eq!(code(&c.reply()), "354");
                    c.send(format!("Subject: {w}/{m}\r\n\r\nbody\r\n.\r\n").as_bytes());
                    let r = c.reply();
                    assert!(r.starts_with("250 OK id="), "{r}");
                    ids.push(r);
                }
                c.cmd("QUIT");
                ids
            })
        })
        .collect();
    let mut ids: Vec<String> = workers
        .into_iter()
        .flat_map(|w| w.join().expect("worker"))
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 40);
    assert_eq!(d.stored().len(), 40);
}

#[test]
fn default_configuration_without_c() {
    let dir = daemon::fresh_dir("daemon-default");
    let port = daemon::free_port();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_rexim"));
    cmd.args(["-bd", "-oX", &port.to_string()])
        .current_dir(&dir);
    let d = daemon::launch(dir, port, cmd);
    let mut c = d.connect();
    assert_eq!(code(&c.reply()), "220");
    c.cmd("EHLO client.example");
    c.cmd("MAIL FROM:<a@client.example>");
    assert_eq!(
        c.cmd("RCPT TO:<a|b@localhost>"),
        "550 Restricted characters in address"
    );
    assert_eq!(code(&c.cmd("RCPT TO:<postmaster@localhost>")), "250");
    assert_eq!(code(&c.cmd("DATA")), "354");
    c.send(b"Subject: d\r\n\r\nhi\r\n.\r\n");
    assert_eq!(code(&c.reply()), "250");
    let stored = rexim::spool::Spool::new(d.dir.join("rexim-spool"))
        .message_ids()
        .expect("spool in ./rexim-spool")
        .len();
    assert_eq!(stored, 1);
}

#[test]
fn dns_lookups_in_acls_do_not_disturb_the_runtime() {
    let d = start(
        "dns",
        "acl_smtp_rcpt = r",
        "r:\n  warn logwrite = dns: ${lookup dnsdb{a=localhost}{found}{none}}\n  accept\n",
    );
    for _ in 0..2 {
        let mut c = d.connect();
        assert_eq!(code(&c.reply()), "220");
        c.cmd("EHLO client.example");
        c.cmd("MAIL FROM:<a@client.example>");
        assert_eq!(code(&c.cmd("RCPT TO:<u@test.example>")), "250");
        assert_eq!(code(&c.cmd("QUIT")), "221");
        assert!(c.closed());
    }
    std::thread::sleep(Duration::from_millis(300));
    let log = d.stderr();
    assert!(log.contains("dns: "), "{log}");
    assert!(!log.contains("panicked"), "{log}");
}

#[test]
fn acl_delay_is_obeyed() {
    let d = start(
        "delay",
        "acl_smtp_connect = c\nacl_smtp_rcpt = r\nacl_smtp_data = dt",
        "c:\n  accept delay = 1s\nr:\n  deny local_parts = slow\n       delay = 1s\n  accept\ndt:\n  accept delay = 1s\n",
    );
    let t = Instant::now();
    let mut c = d.connect();
    assert_eq!(code(&c.reply()), "220");
    assert!(
        t.elapsed() >= Duration::from_millis(950),
        "{:?}",
        t.elapsed()
    );
    c.cmd("EHLO client.example");
    c.cmd("MAIL FROM:<a@client.example>");
    let t = Instant::now();
    assert_eq!(code(&c.cmd("RCPT TO:<fast@test.example>")), "250");
    assert!(
        t.elapsed() < Duration::from_millis(900),
        "{:?}",
        t.elapsed()
    );
    let t = Instant::now();
    assert_eq!(code(&c.cmd("RCPT TO:<slow@test.example>")), "550");
    assert!(
        t.elapsed() >= Duration::from_millis(950),
        "{:?}",
        t.elapsed()
    );
    assert_eq!(code(&c.cmd("DATA")), "354");
    let t = Instant::now();
    c.send(b"Subject: d\r\n\r\nbody\r\n.\r\n");
    assert_eq!(code(&c.reply()), "250");
    assert!(
        t.elapsed() >= Duration::from_millis(950),
        "{:?}",
        t.elapsed()
    );
}

#[test]
fn input_before_the_greeting() {
    let opts = "acl_smtp_connect = c";
    let acl = "c:\n  accept delay = 1s\n";
    // PIPECONNECT hosts (the default `*`) may talk first.
    let d = start("early-ok", opts, acl);
    let mut c = d.connect();
    c.send(b"EHLO client.example\r\n");
    assert_eq!(code(&c.reply()), "220");
    assert_eq!(code(&c.reply()), "250");
    drop(c);
    drop(d);
    let d = start(
        "early",
        &format!("{opts}\npipelining_connect_advertise_hosts = 192.0.2.1"),
        acl,
    );
    let mut c = d.connect();
    c.send(b"EHLO client.example\r\n");
    assert_eq!(c.reply(), "554 SMTP synchronization error");
    assert!(c.closed());
    let log = d.stderr();
    assert!(
        log.contains("SMTP protocol synchronization error (input sent without waiting for greeting): rejected connection from H=[127.0.0.1] input=\"EHLO client.example\\r\\n\""),
        "{log}"
    );
    let mut c = d.connect();
    assert_eq!(code(&c.reply()), "220");
    assert_eq!(code(&c.cmd("EHLO client.example")), "250");
}

#[test]
fn mime_acl_checks_each_part() {
    let acls = format!(
        "{RCPT_ACL}chk_mime:\n  deny mime_regex = forbidden\n       message = part $mime_part_count ($mime_filename) refused\n  accept\n"
    );
    let d = start(
        "mime",
        &format!("{RCPT_OPT}\nacl_smtp_mime = chk_mime"),
        &acls,
    );
    let mut c = after_ehlo(&d);
    let send = |c: &mut Client<TcpStream>, attachment: &str| -> String {
        assert_eq!(code(&c.cmd("MAIL FROM:<a@client.example>")), "250");
        assert_eq!(code(&c.cmd("RCPT TO:<u@test.example>")), "250");
        assert_eq!(code(&c.cmd("DATA")), "354");
        c.send(
            format!(
                "Subject: mime\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n\
                 --b\r\nContent-Type: text/plain\r\n\r\nhello\r\n\
                 --b\r\nContent-Type: application/octet-stream; name=x.bin\r\n\
                 Content-Transfer-Encoding: base64\r\n\r\n{attachment}\r\n--b--\r\n.\r\n"
            )
            .as_bytes(),
        );
        c.reply()
    };
    // base64 of "forbidden words" and of "harmless words".
    assert_eq!(
        send(&mut c, "Zm9yYmlkZGVuIHdvcmRz"),
        "550 part 2 (x.bin) refused"
    );
    let ok = send(&mut c, "aGFybWxlc3Mgd29yZHM=");
    assert!(ok.starts_with("250 OK id="), "{ok}");
    assert_eq!(code(&c.cmd("QUIT")), "221");
    assert_eq!(d.stored().len(), 1);
    assert!(
        d.stderr()
            .contains("rejected during MIME ACL checks: part 2 (x.bin) refused"),
        "{}",
        d.stderr()
    );
    // The parts mime_regex decoded are removed once the message is done.
    let scan = d.dir.join("spool").join("scan");
    let left: Vec<_> = std::fs::read_dir(&scan)
        .map(|r| r.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn control_no_enforce_sync_allows_early_talkers() {
    let d = start(
        "nosync",
        &format!("{RCPT_OPT}\nacl_smtp_connect = accept control = no_enforce_sync"),
        RCPT_ACL,
    );
    let mut c = d.connect();
    c.reply();
    // The same batch as early_talker_is_refused, now answered in full.
    c.send(b"EHLO client.example\r\nMAIL FROM:<a@client.example>\r\n");
    assert!(c.reply().starts_with("250-test.example Hello"));
    assert_eq!(c.reply(), "250 OK");
    assert_eq!(code(&c.cmd("QUIT")), "221");
}

/// The daemon's mainlog/rejectlog follow `log_selector` for the session's optional
/// lines, with Exim's `C=` command history.
#[test]
fn session_log_lines_follow_log_selector() {
    let d = start(
        "logsel",
        "log_selector = +smtp_protocol_error +smtp_no_mail\nsmtp_max_synprot_errors = 1",
        "",
    );
    let mut c = after_ehlo(&d);
    assert_eq!(c.cmd("FOO"), "500 unrecognized command");
    // FOO counted (not logged: no smtp_syntax_error), so this one is one too many.
    let last = c.cmd("RCPT TO:<a@b.example>");
    assert_eq!(
        last,
        "503-sender not yet given\n503 Too many syntax or protocol errors"
    );
    assert!(c.closed());
    let mut c = d.connect();
    c.reply();
    c.cmd("EHLO other.example");
    assert_eq!(code(&c.cmd("QUIT")), "221");
    let want = "no MAIL in SMTP connection from (other.example) [127.0.0.1] D=0s C=EHLO,QUIT";
    let mainlog = d.poll_log("mainlog", want);
    assert!(mainlog.contains(want), "{mainlog}");
    assert!(
        mainlog.contains("SMTP protocol error in \"RCPT TO:<a@b.example>\" H=(client.example) [127.0.0.1] sender not yet given"),
        "{mainlog}"
    );
    // smtp_syntax_error is not selected.
    assert!(!mainlog.contains("SMTP syntax error"), "{mainlog}");
    let dropped = "SMTP call from (client.example) [127.0.0.1] dropped: too many syntax or protocol errors (last command was \"RCPT TO:<a@b.example>\",  C=EHLO,RCPT)";
    assert!(mainlog.contains(dropped), "{mainlog}");
    let rejectlog = d.log("rejectlog");
    assert!(rejectlog.contains(dropped), "{rejectlog}");
}

/// `host_reject_connection`: Exim's 554 before the banner, logged to both logs.
#[test]
fn host_reject_connection_refuses_before_the_banner() {
    let d = start("hostreject", "host_reject_connection = 127.0.0.1", "");
    let mut c = d.connect();
    assert_eq!(c.reply(), "554 SMTP service not available");
    assert!(c.closed());
    let want = "refused connection from [127.0.0.1] (host_reject_connection)";
    let rejectlog = d.poll_log("rejectlog", want);
    assert!(
        rejectlog.contains(want),
        "no rejectlog line: {}",
        d.stderr()
    );
}
