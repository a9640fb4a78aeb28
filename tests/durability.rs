//! Durability of `rexim -bd` under SIGKILL: concurrent clients send messages over
//! 127.0.0.1 while the daemon is killed at a random moment; afterwards every message the
//! clients saw a 250 for must be whole in the spool (`-H` and `-D`, read back by rexim's
//! spool reader and listed by `exim4 -bp`), and every message the spool shows as queued
//! must be whole too (no `-H` without its complete `-D`). Bounded: a few seconds per round.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::Rng;

const IO_TIMEOUT: Duration = Duration::from_secs(10);
const CLIENTS: usize = 8;
/// A body line, repeated to make each message about 8 KB.
const LINE: &str = "durability test line: the quick brown fox jumps over the lazy dog\r\n";
const BODY_LINES: usize = 120;

fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    l.local_addr().expect("local addr").port()
}

fn start(dir: &Path, port: u16) -> Child {
    let conf = format!(
        "primary_hostname = test.example\nlocal_interfaces = 127.0.0.1\n\
         daemon_smtp_ports = {port}\nspool_directory = {0}/spool\n\
         log_file_path = {0}/log/%slog\nsmtp_accept_max = 100\n\
         domainlist local_domains = test.example\nacl_smtp_rcpt = acl_rcpt\n\
         begin acl\nacl_rcpt:\n  accept domains = +local_domains\n  deny\n",
        dir.display()
    );
    let conf_path = dir.join("test.conf");
    std::fs::write(&conf_path, conf).expect("write config");
    let mut child = Command::new(env!("CARGO_BIN_EXE_rexim"))
        .args(["-bd", "-C"])
        .arg(&conf_path)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start rexim -bd");
    let deadline = Instant::now() + IO_TIMEOUT;
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        if let Ok(Some(st)) = child.try_wait() {
            panic!("rexim -bd exited with {st}");
        }
        assert!(
            Instant::now() < deadline,
            "rexim -bd did not listen in time"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    child
}

/// Read one reply; `None` when the connection broke (the daemon was killed).
fn reply(r: &mut BufReader<TcpStream>) -> Option<String> {
    let mut line = String::new();
    loop {
        line.clear();
        if r.read_line(&mut line).ok()? == 0 {
            return None;
        }
        if line.as_bytes().get(3) != Some(&b'-') {
            return Some(line.trim_end().to_string());
        }
    }
}

/// Send messages until the connection breaks; record `id => marker` for each 250.
fn client(n: usize, port: u16, acked: Arc<Mutex<BTreeMap<String, String>>>) {
    let Ok(s) = TcpStream::connect(("127.0.0.1", port)) else {
        return;
    };
    s.set_read_timeout(Some(IO_TIMEOUT)).expect("timeout");
    let mut w = s.try_clone().expect("clone");
    let mut r = BufReader::new(s);
    let mut step = |cmd: &[u8], want: &str| -> Option<String> {
        w.write_all(cmd).ok()?;
        let got = reply(&mut r)?;
        assert!(got.starts_with(want), "{cmd:?}: {got}");
        Some(got)
    };
    if step(b"", "220").is_none() || step(b"EHLO c.example\r\n", "250").is_none() {
        return;
    }
    for seq in 0.. {
        let marker = format!("end of message {n}.{seq}");
        let mut data = format!("Subject: {marker}\r\n\r\n");
        for _ in 0..BODY_LINES {
            data.push_str(LINE);
        }
        data.push_str(&marker);
        data.push_str("\r\n.\r\n");
        let Some(_) = step(b"MAIL FROM:<s@c.example>\r\n", "250") else {
            return;
        };
        let Some(_) = step(b"RCPT TO:<u@test.example>\r\n", "250") else {
            return;
        };
        let Some(_) = step(b"DATA\r\n", "354") else {
            return;
        };
        let Some(done) = step(data.as_bytes(), "250 OK id=") else {
            return;
        };
        let id = done.trim_start_matches("250 OK id=").to_string();
        acked.lock().unwrap().insert(id, marker);
    }
}

/// The expected body of a message with `marker` as its last line.
fn expected_body(marker: &str) -> Vec<u8> {
    let mut b = String::new();
    for _ in 0..BODY_LINES {
        b.push_str(&LINE.replace("\r\n", "\n"));
    }
    b.push_str(marker);
    b.push('\n');
    b.into_bytes()
}

/// `exim4 -bp` on the spool: the ids it lists, or `None` without exim4.
fn exim_listing(dir: &Path) -> Option<Vec<String>> {
    Command::new("exim4").arg("--version").output().ok()?;
    let conf = dir.join("exim.conf");
    // Exim reads the spool as its exim_user: the user that wrote it.
    let (user, _, gid) = rexim::spool::Spool::new(dir).originator;
    std::fs::write(
        &conf,
        format!(
            "spool_directory = {0}/spool\nlog_file_path = {0}/exim-%slog\n\
             keep_environment =\nqueue_list_requires_admin = false\n\
             primary_hostname = test.example\nexim_user = {user}\nexim_group = {gid}\n",
            dir.display()
        ),
    )
    .ok()?;
    let out = Command::new("exim4")
        .arg("-C")
        .arg(&conf)
        .arg("-bp")
        .output()
        .ok()?;
    assert!(
        out.status.success(),
        "exim4 -bp: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!text.contains("***"), "exim4 -bp: {text}");
    Some(
        text.split_whitespace()
            .filter(|w| rexim::spool::is_message_id(w))
            .map(str::to_string)
            .collect(),
    )
}

/// One run: start the daemon, load it, and once `min_acked` messages are acknowledged wait
/// `extra` more (the random part of the kill point), then SIGKILL it and check the spool.
fn round(tag: &str, min_acked: usize, extra: Duration) {
    let dir: PathBuf =
        std::env::temp_dir().join(format!("rexim-durability-{}-{tag}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("test dir");
    let port = free_port();
    let mut daemon = start(&dir, port);
    let acked = Arc::new(Mutex::new(BTreeMap::new()));
    let clients: Vec<_> = (0..CLIENTS)
        .map(|n| {
            let acked = acked.clone();
            std::thread::spawn(move || client(n, port, acked))
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(30);
    while acked.lock().unwrap().len() < min_acked {
        assert!(
            Instant::now() < deadline,
            "{tag}: fewer than {min_acked} messages acknowledged in 30 s"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    std::thread::sleep(extra);
    daemon.kill().expect("SIGKILL the daemon");
    daemon.wait().expect("reap the daemon");
    for c in clients {
        c.join().expect("client thread");
    }
    let acked = acked.lock().unwrap().clone();
    assert!(
        !acked.is_empty(),
        "{tag}: no message was acknowledged before the kill"
    );

    let spool = rexim::spool::Spool::new(dir.join("spool"));
    for (id, marker) in &acked {
        let h = spool
            .read_header(id)
            .unwrap_or_else(|e| panic!("{tag}: acknowledged {id}: -H: {e}"));
        assert_eq!(&h.id, id);
        let body = spool
            .read_body(id)
            .unwrap_or_else(|e| panic!("{tag}: acknowledged {id}: -D: {e}"));
        assert_eq!(body, expected_body(marker), "{tag}: {id} body");
    }
    // Whatever the spool shows as queued is whole, acknowledged or not (a message may be
    // stored in the instant between its commit and the 250 reaching the client).
    let mut queued = spool.message_ids().expect("list the spool");
    queued.sort();
    for id in &queued {
        assert_whole(&spool, id, tag);
    }
    assert!(queued.len() >= acked.len());
    if let Some(listed) = exim_listing(&dir) {
        let mut listed = listed;
        listed.sort();
        assert_eq!(
            listed, queued,
            "{tag}: exim4 -bp lists exactly the queued messages"
        );
    } else {
        eprintln!("SKIP the exim4 -bp check: exim4 is not installed");
    }
    restart_replays_the_journal(&dir, tag, &queued);
    eprintln!(
        "{tag}: killed {extra:?} after {min_acked} acknowledgements: {} acknowledged, {} queued",
        acked.len(),
        queued.len()
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// The next daemon on the spool replays the journal the killed one left. A SIGKILL loses
/// no written page, so the only messages it restores are those journalled (durable) in
/// the instant before their names were linked: never acknowledged, but whole, as a
/// message stored just before a lost 250 is. Afterwards the journal is empty, and a clean
/// stop (SIGTERM) leaves no journal either.
fn restart_replays_the_journal(dir: &Path, tag: &str, queued: &[String]) {
    let journal = dir.join("spool/journal");
    let segments = || {
        std::fs::read_dir(&journal)
            .map(|d| d.count())
            .unwrap_or_default()
    };
    let port = free_port();
    let mut daemon = start(dir, port);
    let log = std::fs::read_to_string(dir.join("log/mainlog")).unwrap_or_default();
    let restored: Vec<String> = log
        .lines()
        .filter_map(|l| l.split_once(" restored: ").map(|(_, ids)| ids))
        .flat_map(|ids| ids.split(' ').map(str::to_string))
        .collect();
    assert_eq!(segments(), 0, "{tag}: the replayed journal is deleted");
    let spool = rexim::spool::Spool::new(dir.join("spool"));
    let mut now = spool.message_ids().expect("list the spool");
    now.sort();
    let mut want: Vec<String> = queued.iter().chain(&restored).cloned().collect();
    want.sort();
    want.dedup();
    assert_eq!(
        now, want,
        "{tag}: the queue is what it was plus what was restored"
    );
    for id in &restored {
        assert!(!queued.contains(id), "{tag}: {id} was whole, yet restored");
        assert_whole(&spool, id, tag);
    }
    // SAFETY: kill(2) on the child we started.
    unsafe { libc::kill(daemon.id() as i32, libc::SIGTERM) };
    let deadline = Instant::now() + IO_TIMEOUT;
    while daemon.try_wait().expect("wait").is_none() {
        assert!(Instant::now() < deadline, "{tag}: no exit after SIGTERM");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(segments(), 0, "{tag}: a clean stop leaves no journal");
}

/// A queued message has its `-H` and the whole body its Subject names.
fn assert_whole(spool: &rexim::spool::Spool, id: &str, tag: &str) {
    let h = spool.read_header(id).expect("queued -H readable");
    let body = spool
        .read_body(id)
        .unwrap_or_else(|e| panic!("{tag}: queued {id} without its -D: {e}"));
    let subject = h
        .headers
        .iter()
        .find_map(|l| {
            String::from_utf8_lossy(&l.text)
                .strip_prefix("Subject: ")
                .map(|s| s.trim_end().to_string())
        })
        .expect("Subject header");
    assert_eq!(
        body,
        expected_body(&subject),
        "{tag}: queued {id} is incomplete"
    );
}

#[test]
fn every_acknowledged_message_survives_sigkill() {
    let mut rng = rand::thread_rng();
    for (i, min_acked) in [1usize, 50, 300].into_iter().enumerate() {
        let extra = Duration::from_millis(rng.gen_range(0..300));
        round(&format!("kill{i}"), min_acked, extra);
    }
}
