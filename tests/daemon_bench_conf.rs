//! `rexim -bd` runs the shared benchmark configuration (`../shared/bench/exim-bench.conf`)
//! unchanged: RCPT ACL (restricted characters, lsearch domain list, `add_header` with a
//! lookup), DATA ACL (`verify = header_syntax`, a body regex, `add_header` with
//! `$message_size`), `queue_only`, the spool from `-DSPOOL_DIR`. Over 127.0.0.1, bounded.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const IO_TIMEOUT: Duration = Duration::from_secs(10);
const FIXTURE: &str = "/tmp/rexim-bench-fixtures/domains.lsearch";

fn bench_conf() -> Option<PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/bench/exim-bench.conf");
    p.exists().then_some(p)
}

/// The lsearch file the configuration names, as `gen_expansions.py --fixtures-only` writes it.
fn ensure_fixture() {
    if Path::new(FIXTURE).exists() {
        return;
    }
    std::fs::create_dir_all("/tmp/rexim-bench-fixtures").expect("fixture dir");
    let mut text = String::from("# rexim benchmark fixture: local domains for the SMTP bench\n");
    for i in 0..100 {
        text += &format!("bench{i}.example: route=local{i}\n");
    }
    std::fs::write(FIXTURE, text).expect("write the fixture");
}

struct Client {
    r: BufReader<TcpStream>,
    w: TcpStream,
}

impl Client {
    fn say(&mut self, line: &str) -> String {
        self.w.write_all(line.as_bytes()).expect("write");
        self.reply()
    }

    fn reply(&mut self) -> String {
        let mut all = String::new();
        loop {
            let mut line = String::new();
            assert!(self.r.read_line(&mut line).expect("read") > 0, "closed");
            all += &line;
            if line.as_bytes().get(3) != Some(&b'-') {
                return all.trim_end().to_string();
            }
        }
    }
}

#[test]
fn daemon_runs_the_benchmark_configuration_unchanged() {
    let Some(conf) = bench_conf() else {
        eprintln!("SKIP: ../shared/bench/exim-bench.conf is not there");
        return;
    };
    ensure_fixture();
    let dir = std::env::temp_dir().join(format!("rexim-bench-conf-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("test dir");
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_rexim"))
        .args(["-bd", "-C"])
        .arg(&conf)
        .arg(format!("-DSPOOL_DIR={}", dir.join("spool").display()))
        .args(["-oX", &port.to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start rexim -bd");
    let deadline = Instant::now() + IO_TIMEOUT;
    let s = loop {
        if let Ok(s) = TcpStream::connect(("127.0.0.1", port)) {
            break s;
        }
        if let Ok(Some(st)) = child.try_wait() {
            panic!("rexim -bd exited with {st}");
        }
        assert!(Instant::now() < deadline, "rexim -bd did not listen");
        std::thread::sleep(Duration::from_millis(20));
    };
    s.set_read_timeout(Some(IO_TIMEOUT)).expect("timeout");
    let mut c = Client {
        r: BufReader::new(s.try_clone().expect("clone")),
        w: s,
    };
    assert!(c.reply().starts_with("220 bench.example"));
    let say = |c: &mut Client, line: &str| c.say(line);
    assert!(say(&mut c, "EHLO client.example\r\n").starts_with("250-bench.example"));
    assert!(say(&mut c, "MAIL FROM:<a@client.example>\r\n").starts_with("250"));
    let relay = say(&mut c, "RCPT TO:<u@elsewhere.example>\r\n");
    assert_eq!(relay, "550 Relay not permitted");
    let restricted = say(&mut c, "RCPT TO:<a|b@bench1.example>\r\n");
    assert_eq!(restricted, "550 Restricted characters in address");
    assert!(say(&mut c, "RCPT TO:<u@bench3.example>\r\n").starts_with("250"));
    assert!(say(&mut c, "DATA\r\n").starts_with("354"));
    let ok = say(
        &mut c,
        "Subject: hello\r\nFrom: a@client.example\r\n\r\nbody\r\n.\r\n",
    );
    let id = ok
        .strip_prefix("250 OK id=")
        .unwrap_or_else(|| panic!("end of DATA: {ok}"))
        .to_string();
    assert!(say(&mut c, "MAIL FROM:<a@client.example>\r\n").starts_with("250"));
    assert!(say(&mut c, "RCPT TO:<u@bench4.example>\r\n").starts_with("250"));
    assert!(say(&mut c, "DATA\r\n").starts_with("354"));
    let spam = say(&mut c, "Subject: x\r\n\r\nBuy cheap watches today\r\n.\r\n");
    assert_eq!(spam, "550 Body matched a spam pattern");
    assert!(say(&mut c, "QUIT\r\n").starts_with("221"));
    let _ = child.kill();
    let _ = child.wait();

    // queue_only: the one accepted message waits in the spool with both added headers.
    let spool = rexim::spool::Spool::new(dir.join("spool"));
    assert_eq!(spool.message_ids().expect("list"), vec![id.clone()]);
    let h = spool.read_header(&id).expect("-H");
    let text: String = h
        .headers
        .iter()
        .map(|l| String::from_utf8_lossy(&l.text).into_owned())
        .collect();
    assert!(text.contains("X-Bench-Route: local3\n"), "{text}");
    assert!(text.contains("X-Bench-Checked: size="), "{text}");
    assert!(text.contains(" rcpts=1\n"), "{text}");
    assert_eq!(spool.read_body(&id).expect("-D"), b"body\n");
    let _ = std::fs::remove_dir_all(&dir);
}
