//! `verify = arc` end to end: rexim's daemon (`server::build` + `server::serve`, run in
//! this process so it can be given the ARC fixture zone instead of the system resolver)
//! on 127.0.0.1, real SMTP sessions, the `${authresults}` header in the spool and the
//! ` ARC` tag on the `<=` log line. Debian's exim4 has no ARC, so nothing to compare.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

const IO_TIMEOUT: Duration = Duration::from_secs(10);

const ACLS: &str = "\
acl_smtp_rcpt = check_rcpt
acl_smtp_data = check_data
begin acl
check_rcpt:
  accept
check_data:
  deny    !verify = arc/pass:none
          message = ARC $arc_state: $arc_state_reason
  warn    add_header = :at_start:${authresults{test.example}}
  accept
";

fn arc_file(name: &str) -> String {
    std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/arc")
            .join(name),
    )
    .expect("ARC fixture file")
}

struct Client {
    r: BufReader<TcpStream>,
    w: TcpStream,
}

impl Client {
    fn new(port: u16) -> Client {
        let s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        s.set_read_timeout(Some(IO_TIMEOUT)).expect("timeout");
        Client {
            r: BufReader::new(s.try_clone().expect("clone")),
            w: s,
        }
    }

    fn reply(&mut self) -> String {
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

    fn cmd(&mut self, line: &str) -> String {
        self.w
            .write_all(format!("{line}\r\n").as_bytes())
            .expect("write");
        self.reply()
    }

    /// MAIL, RCPT, DATA and the message (its lines dot-stuffed); the final reply.
    fn send(&mut self, message: &str) -> String {
        assert_eq!(c3(&self.cmd("MAIL FROM:<alice@origin.example>")), "250");
        assert_eq!(c3(&self.cmd("RCPT TO:<bob@test.example>")), "250");
        assert_eq!(c3(&self.cmd("DATA")), "354");
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

fn c3(r: &str) -> String {
    r.chars().take(3).collect()
}

#[test]
fn arc_results_reach_the_spool_and_the_log() {
    let dir = std::env::temp_dir().join(format!("rexim-daemon-arc-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap()
        .port();
    let conf = dir.join("test.conf");
    std::fs::write(
        &conf,
        format!(
            "primary_hostname = test.example\nlocal_interfaces = 127.0.0.1\n\
             daemon_smtp_ports = {port}\nspool_directory = {0}/spool\n\
             log_file_path = {0}/log/%slog\n{ACLS}",
            dir.display()
        ),
    )
    .unwrap();
    let args: Vec<String> = ["-bd", "-C", &conf.to_string_lossy()]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let o = rexim::smtp::server::parse_args(&args).unwrap();
    let (mut d, addrs) = rexim::smtp::server::build(&o).expect("daemon builds");
    let zone = rexim::dns::FakeResolver::parse(&arc_file("zone.txt")).unwrap();
    Arc::get_mut(&mut d.acls).unwrap().env.resolver = Arc::new(zone);
    // The daemon serves until the test process ends.
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let _ = rt.block_on(rexim::smtp::server::serve(Arc::new(d), &addrs));
    });
    let deadline = Instant::now() + IO_TIMEOUT;
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "the daemon did not listen in time"
        );
        std::thread::sleep(Duration::from_millis(50));
    }

    let mut c = Client::new(port);
    assert_eq!(c3(&c.reply()), "220");
    assert_eq!(c3(&c.cmd("EHLO client.example")), "250");
    let r = c.send(&arc_file("messages/pass2.eml"));
    assert!(r.starts_with("250 OK id="), "{r}");
    let id = r.trim_start_matches("250 OK id=").to_string();
    assert_eq!(
        c.send(&arc_file("messages/broken_chain.eml")),
        "550 ARC fail: (sequence; expected i=1)"
    );
    assert_eq!(
        c.send(&arc_file("messages/body_changed.eml")),
        "550 ARC fail: AMS body hash miscompare"
    );
    assert_eq!(c3(&c.cmd("QUIT")), "221");

    let spool = rexim::spool::Spool::new(dir.join("spool"));
    let h = spool.read_header(&id).expect("read -H");
    // (rexim's spool writer puts ACL-added headers after the message's own, whatever
    // their position option; Exim would put this `:at_start:` one first.)
    let ar = h
        .headers
        .iter()
        .map(|hl| String::from_utf8_lossy(&hl.text).into_owned())
        .find(|t| t.starts_with("Authentication-Results: test.example;"))
        .expect("the added Authentication-Results header");
    assert_eq!(
        ar,
        "Authentication-Results: test.example;\n\tarc=pass (i=2) header.s=sel2 \
         arc.oldest-pass=1 smtp.remote-ip=127.0.0.1\n"
    );
    let log = std::fs::read_to_string(dir.join("log/mainlog")).unwrap_or_default();
    let arrival = log
        .lines()
        .find(|l| l.contains(&format!("{id} <= ")))
        .unwrap_or_else(|| panic!("no <= line in {log}"));
    assert!(
        arrival.contains(" S=") && arrival.contains(" ARC"),
        "{arrival}"
    );
    assert!(
        log.contains("rejected after DATA: ARC fail: (sequence; expected i=1)"),
        "{log}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
