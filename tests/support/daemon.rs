//! A `rexim -bd` child for end-to-end tests: its own directory (config, spool, logs,
//! stderr) under the temp dir, a free port on 127.0.0.1, started and waited for until it
//! listens (bounded), killed and cleaned up on drop.

use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const IO_TIMEOUT: Duration = Duration::from_secs(10);

pub struct Daemon {
    child: Child,
    pub port: u16,
    pub dir: PathBuf,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Start a daemon in a fresh `rexim-<tag>-<pid>` directory. The configuration is the
/// loopback/port/spool/log settings followed by `rest` (more main options, then sections).
pub fn start(tag: &str, rest: &str) -> Daemon {
    let dir = std::env::temp_dir().join(format!("rexim-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("test dir");
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let conf = format!(
        "primary_hostname = test.example\nlocal_interfaces = 127.0.0.1\n\
         daemon_smtp_ports = {port}\nspool_directory = {0}\nlog_file_path = {0}/log/%slog\n\
         {rest}",
        dir.join("spool").display()
    );
    let conf_path = dir.join("test.conf");
    std::fs::write(&conf_path, conf).expect("write config");
    let child = Command::new(env!("CARGO_BIN_EXE_rexim"))
        .arg("-bd")
        .arg("-C")
        .arg(&conf_path)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join("stderr")).expect("stderr file"))
        .spawn()
        .expect("start rexim -bd");
    let mut d = Daemon { child, port, dir };
    let deadline = Instant::now() + IO_TIMEOUT;
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        if let Ok(Some(st)) = d.child.try_wait() {
            panic!("rexim -bd exited with {st}: {}", d.stderr());
        }
        assert!(
            Instant::now() < deadline,
            "rexim -bd did not listen in time"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // That probe connection counts against the limits until its task ends.
    std::thread::sleep(Duration::from_millis(200));
    d
}

impl Daemon {
    pub fn stderr(&self) -> String {
        std::fs::read_to_string(self.dir.join("stderr")).unwrap_or_default()
    }
}
