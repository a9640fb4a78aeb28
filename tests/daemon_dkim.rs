//! End-to-end DKIM and DMARC in the SMTP daemon over 127.0.0.1: signed messages (made
//! by mail-auth's signer at test time) pass, fail and are refused by the DKIM ACL; DMARC
//! refuses a message in the DATA ACL; headers the DKIM ACL adds reach the spool and the
//! `<=` line carries `DKIM=`. The daemon runs in this process, built from its
//! configuration file as `rexim -bd` builds it, with the keys and `_dmarc` records
//! answered by a fixture zone instead of real DNS (the binary has no such switch).

#[path = "support/dkim_sign.rs"]
mod dkim_sign;

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use dkim_sign::{public_key, signed, Signer};

const IO_TIMEOUT: Duration = Duration::from_secs(10);

const ACLS: &str = "\
acl_smtp_rcpt = rcpt
acl_smtp_dkim = dkim
acl_smtp_data = data
dmarc_tld_file = /dev/null
log_selector = +dkim_verbose
begin acl
rcpt:
  accept
dkim:
  deny    dkim_status = fail
          message = DKIM says $dkim_verify_reason for $dkim_cur_signer
  warn    add_header = X-DKIM-Check: $dkim_cur_signer $dkim_verify_status
  accept
data:
  deny    dmarc_status = reject
          message = DMARC policy of $dmarc_used_domain: reject
  warn    add_header = ${authresults{test.example}}
  accept
";

fn zone() -> String {
    format!(
        "sel._domainkey.example.com TXT \"v=DKIM1; k=rsa; p={}\"\n\
         _dmarc.example.com TXT \"v=DMARC1; p=quarantine\"\n\
         _dmarc.strict.example TXT \"v=DMARC1; p=reject\"\n",
        public_key("rsa2048")
    )
}

/// Start the daemon on a free loopback port; it lives until the test process exits.
fn start(dir: &std::path::Path) -> u16 {
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let conf = format!(
        "primary_hostname = test.example\nlocal_interfaces = 127.0.0.1\n\
         daemon_smtp_ports = {port}\nspool_directory = {0}/spool\nlog_file_path = {0}/log/%slog\n{ACLS}",
        dir.display()
    );
    let path = dir.join("test.conf");
    std::fs::write(&path, conf).unwrap();
    let o = rexim::smtp::server::Options {
        config: Some(path.to_string_lossy().into_owned()),
        ..Default::default()
    };
    let (mut d, addrs) = rexim::smtp::server::build(&o).expect("daemon config");
    let acls = Arc::get_mut(&mut d.acls).expect("sole owner");
    acls.env.resolver = Arc::new(rexim::dns::FakeResolver::parse(&zone()).expect("zone"));
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .unwrap();
        let _ = rt.block_on(rexim::smtp::server::serve(Arc::new(d), &addrs));
    });
    let deadline = Instant::now() + IO_TIMEOUT;
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "daemon did not listen in time");
        std::thread::sleep(Duration::from_millis(50));
    }
    port
}

struct Client {
    r: BufReader<TcpStream>,
    w: TcpStream,
}

impl Client {
    fn new(port: u16) -> Client {
        let s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        s.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
        Client {
            r: BufReader::new(s.try_clone().unwrap()),
            w: s,
        }
    }

    fn reply(&mut self) -> String {
        let mut all = String::new();
        loop {
            let mut line = String::new();
            let n = self.r.read_line(&mut line).expect("read reply");
            assert!(n > 0, "connection closed; so far: {all:?}");
            all.push_str(line.trim_end());
            if line.as_bytes().get(3) != Some(&b'-') {
                return all;
            }
            all.push('\n');
        }
    }

    fn cmd(&mut self, line: &str) -> String {
        self.w.write_all(format!("{line}\r\n").as_bytes()).unwrap();
        self.reply()
    }

    /// One message from `from`; the reply to the final dot.
    fn send(&mut self, from: &str, message: &str) -> String {
        assert_eq!(
            self.cmd(&format!("MAIL FROM:<{from}>")).get(..3),
            Some("250")
        );
        assert_eq!(self.cmd("RCPT TO:<u@test.example>").get(..3), Some("250"));
        assert_eq!(self.cmd("DATA").get(..3), Some("354"));
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

const BASE: &str = "From: Alice <alice@example.com>\nTo: u@test.example\nSubject: e2e\n\
Date: Tue, 01 Dec 2026 12:00:00 +0000\nMessage-ID: <e2e@example.com>\n\nHello.\n.dot line\n";

#[test]
fn dkim_and_dmarc_in_the_daemon() {
    let dir = std::env::temp_dir().join(format!("rexim-daemon-dkim-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let port = start(&dir);
    let signer = Signer {
        domain: "example.com",
        selector: "sel",
        key: "rsa2048",
        relaxed: true,
        identity: None,
    };
    let good = signed(BASE, &[signer]);
    let mut c = Client::new(port);
    assert!(c.reply().starts_with("220 "));
    c.cmd("EHLO client.example");

    let r = c.send("alice@example.com", &good);
    assert!(r.starts_with("250 OK id="), "{r}");
    let id = r.trim_start_matches("250 OK id=").to_string();

    // The same message in one BDAT chunk (CRLF line ends, no dot-stuffing).
    let crlf = good.replace('\n', "\r\n");
    let bdat = format!(
        "MAIL FROM:<alice@example.com>\r\nRCPT TO:<u@test.example>\r\nBDAT {} LAST\r\n{crlf}",
        crlf.len()
    );
    c.w.write_all(bdat.as_bytes()).unwrap();
    assert_eq!(c.reply().get(..3), Some("250"));
    assert_eq!(c.reply().get(..3), Some("250"));
    let r = c.reply();
    assert!(r.contains("250 OK id="), "{r}");
    let bdat_id = r.rsplit("250 OK id=").next().unwrap().trim().to_string();

    let changed = good.replace("Hello.", "Hello, changed.");
    assert_eq!(
        c.send("alice@example.com", &changed),
        "550 DKIM says bodyhash_mismatch for example.com"
    );

    let strict = BASE.replace("alice@example.com", "bob@strict.example");
    assert_eq!(
        c.send("bob@strict.example", &strict),
        "550 DMARC policy of strict.example: reject"
    );
    assert_eq!(c.cmd("QUIT").get(..3), Some("221"));

    let spool = rexim::spool::Spool::new(dir.join("spool"));
    let h = spool.read_header(&id).expect("read -H");
    let headers: String = h
        .headers
        .iter()
        .map(|hl| String::from_utf8_lossy(&hl.text).into_owned())
        .collect();
    assert!(
        headers.contains("X-DKIM-Check: example.com pass\n"),
        "{headers}"
    );
    assert!(
        headers.contains(
            "Authentication-Results: test.example;\n\tdkim=pass header.d=example.com \
             header.s=sel header.a=rsa-sha256;\n\tdmarc=pass header.from=example.com\n"
        ),
        "{headers}"
    );
    // The log is written after the reply; give the session a moment to finish.
    let deadline = Instant::now() + IO_TIMEOUT;
    let log = loop {
        let log = std::fs::read_to_string(dir.join("log/mainlog")).unwrap_or_default();
        if log.contains("rejected after DATA") || Instant::now() > deadline {
            break log;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(
        log.contains(&format!(
            "{id} DKIM: d=example.com s=sel c=relaxed/relaxed a=rsa-sha256 b=2048 t="
        )),
        "{log}"
    );
    assert!(log.contains("[verification succeeded]"), "{log}");
    assert!(
        log.contains(" DKIM=example.com id=e2e@example.com"),
        "{log}"
    );
    assert!(
        log.lines()
            .any(|l| l.contains(&format!("{bdat_id} <= alice@example.com"))
                && l.contains(" K S=")
                && l.contains(" DKIM=example.com")),
        "{log}"
    );
    assert!(
        log.contains("H=(client.example) [127.0.0.1] rejected DKIM : DKIM says bodyhash_mismatch for example.com"),
        "{log}"
    );
    assert!(
        log.contains("DMARC results: spf_domain=strict.example dmarc_domain=strict.example spf_align=no dkim_align=no enforcement='Reject'"),
        "{log}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
