//! `rexim -bd` checks a lookup file on disk at most once a second (`LOOKUP_RECHECK`), not
//! on every lookup: an edit still shows, within the interval. The RCPT ACL accepts only
//! domains in an lsearch file; the test edits the file in place and replaces it by a
//! rename between RCPTs of one connection. Over 127.0.0.1, bounded in time.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const IO_TIMEOUT: Duration = Duration::from_secs(10);

/// Longer than the daemon's re-check interval, so the next lookup looks at the file again.
const PAST_INTERVAL: Duration = Duration::from_millis(1300);

struct Daemon(Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

struct Client {
    r: BufReader<TcpStream>,
    w: TcpStream,
}

impl Client {
    fn say(&mut self, line: &str) -> String {
        self.w.write_all(line.as_bytes()).expect("write");
        let mut all = String::new();
        loop {
            let mut l = String::new();
            assert!(self.r.read_line(&mut l).expect("read") > 0, "closed");
            all += &l;
            if l.as_bytes().get(3) != Some(&b'-') {
                return all.trim_end().to_string();
            }
        }
    }
}

fn start(dir: &Path) -> (Daemon, Client) {
    let domains = dir.join("domains");
    let conf = dir.join("recheck.conf");
    std::fs::write(
        &conf,
        format!(
            "primary_hostname = recheck.example\n\
             local_interfaces = 127.0.0.1\n\
             spool_directory = {spool}\n\
             log_file_path = {spool}/%slog\n\
             host_lookup =\n\
             domainlist local_domains = lsearch;{domains}\n\
             acl_smtp_rcpt = rcpt\n\
             begin acl\n\
             rcpt:\n  accept domains = +local_domains\n  deny message = not local\n",
            spool = dir.join("spool").display(),
            domains = domains.display(),
        ),
    )
    .expect("config");
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_rexim"))
        .args(["-bd", "-C"])
        .arg(&conf)
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
    let greeting = c.say("");
    assert!(greeting.starts_with("220 recheck.example"), "{greeting}");
    (Daemon(child), c)
}

#[test]
fn lookup_file_edits_show_after_the_recheck_interval() {
    let dir = std::env::temp_dir().join(format!("rexim-recheck-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("test dir");
    let domains = dir.join("domains");
    std::fs::write(&domains, "old.example: x\n").expect("domains");
    let (_daemon, mut c) = start(&dir);
    assert!(c.say("EHLO client.example\r\n").starts_with("250"));
    assert!(c.say("MAIL FROM:<a@client.example>\r\n").starts_with("250"));
    assert!(c.say("RCPT TO:<u@old.example>\r\n").starts_with("250"));
    assert_eq!(c.say("RCPT TO:<u@new.example>\r\n"), "550 not local");

    // Edited in place (same inode): the next lookup after the interval sees the new line.
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&domains)
        .expect("open for append");
    f.write_all(b"new.example: y\n").expect("append");
    drop(f);
    std::thread::sleep(PAST_INTERVAL);
    assert!(c.say("RCPT TO:<u@new.example>\r\n").starts_with("250"));

    // Replaced by a rename (a new inode, as editors and `install` do it).
    let fresh = dir.join("domains.new");
    std::fs::write(&fresh, "new.example: y\n").expect("new file");
    std::fs::rename(&fresh, &domains).expect("rename");
    std::thread::sleep(PAST_INTERVAL);
    assert_eq!(c.say("RCPT TO:<u@old.example>\r\n"), "550 not local");
    assert!(c.say("RCPT TO:<u@new.example>\r\n").starts_with("250"));
    assert!(c.say("QUIT\r\n").starts_with("221"));
    let _ = std::fs::remove_dir_all(&dir);
}
