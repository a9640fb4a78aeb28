//! A test daemon: its own directory under the temp dir (configuration `test.conf`,
//! spool `spool/`, logs `spool/log/`, stderr `stderr`), a free port on 127.0.0.1, started
//! and waited for until it listens (bounded). A `rexim -bd` child is killed and its
//! directory removed on drop; an in-process daemon serves until the test process ends.

use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::client::{self, Client};

pub const IO_TIMEOUT: Duration = Duration::from_secs(10);

pub struct Daemon {
    /// The `rexim -bd` child; `None` for a daemon served in this process.
    pub child: Option<Child>,
    pub port: u16,
    pub dir: PathBuf,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Some(child) = &mut self.child {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A fresh, empty `rexim-<tag>-<pid>` directory under the temp dir.
pub fn fresh_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("rexim-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("test dir");
    dir
}

pub fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    l.local_addr().expect("local addr").port()
}

/// Write `dir/test.conf`: the loopback/port/spool/log settings followed by `rest` (more
/// main options, then sections), in which `TESTDIR` and `TESTPORT` stand for the
/// directory and the port.
pub fn write_config(dir: &std::path::Path, port: u16, rest: &str) -> PathBuf {
    let conf = format!(
        "primary_hostname = test.example\nlocal_interfaces = 127.0.0.1\n\
         daemon_smtp_ports = {port}\nspool_directory = {0}\nlog_file_path = {0}/log/%slog\n\
         {1}",
        dir.join("spool").display(),
        rest.replace("TESTDIR", &dir.display().to_string())
            .replace("TESTPORT", &port.to_string()),
    );
    let path = dir.join("test.conf");
    std::fs::write(&path, conf).expect("write config");
    path
}

/// Start `rexim -bd` in a fresh `rexim-<tag>-<pid>` directory with the configuration of
/// [`write_config`].
pub fn start(tag: &str, rest: &str) -> Daemon {
    start_in(fresh_dir(tag), free_port(), rest)
}

/// [`start`] in a directory the test has prepared (files the configuration names).
pub fn start_in(dir: PathBuf, port: u16, rest: &str) -> Daemon {
    let conf = write_config(&dir, port, rest);
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_rexim"));
    cmd.arg("-bd").arg("-C").arg(conf);
    launch(dir, port, cmd)
}

/// Spawn `cmd` (a `rexim -bd` that will listen on `port`), stderr to `dir/stderr`, and
/// wait until it listens.
pub fn launch(dir: PathBuf, port: u16, mut cmd: Command) -> Daemon {
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join("stderr")).expect("stderr file"))
        .spawn()
        .expect("start rexim -bd");
    let mut d = Daemon {
        child: Some(child),
        port,
        dir,
    };
    let deadline = Instant::now() + IO_TIMEOUT;
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        if let Ok(Some(st)) = d.child_mut().try_wait() {
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

/// The daemon as `rexim -bd` builds it from [`write_config`]'s configuration, but served
/// in this process with `resolver` answering its DNS lookups (the binary has no such
/// switch). It serves until the test process ends; drop removes only its directory.
pub fn start_in_process(tag: &str, rest: &str, resolver: rexim::dns::FakeResolver) -> Daemon {
    let dir = fresh_dir(tag);
    let port = free_port();
    let conf = write_config(&dir, port, rest);
    let args: Vec<String> = ["-bd", "-C", &conf.to_string_lossy()]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let o = rexim::smtp::server::parse_args(&args).expect("daemon arguments");
    let (mut d, addrs) = rexim::smtp::server::build(&o).expect("daemon builds");
    Arc::get_mut(&mut d.acls).expect("sole owner").env.resolver = Arc::new(resolver);
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
        assert!(Instant::now() < deadline, "daemon did not listen in time");
        std::thread::sleep(Duration::from_millis(50));
    }
    Daemon {
        child: None,
        port,
        dir,
    }
}

impl Daemon {
    fn child_mut(&mut self) -> &mut Child {
        self.child.as_mut().expect("a rexim -bd child")
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("a rexim -bd child").id()
    }

    /// Wait (bounded) for the child to exit.
    pub fn wait_exit(&mut self) -> ExitStatus {
        let deadline = Instant::now() + IO_TIMEOUT;
        loop {
            if let Some(st) = self.child_mut().try_wait().expect("wait") {
                return st;
            }
            assert!(Instant::now() < deadline, "daemon did not exit");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn conf(&self) -> PathBuf {
        self.dir.join("test.conf")
    }

    pub fn spool_dir(&self) -> PathBuf {
        self.dir.join("spool")
    }

    pub fn spool(&self) -> rexim::spool::Spool {
        rexim::spool::Spool::new(self.spool_dir())
    }

    pub fn connect(&self) -> Client<TcpStream> {
        Client::connect(self.port)
    }

    /// See [`client::dialogue`].
    pub fn dialogue(&self, lines: &[&str]) -> Vec<String> {
        client::dialogue(self.port, lines)
    }

    pub fn stderr(&self) -> String {
        std::fs::read_to_string(self.dir.join("stderr")).unwrap_or_default()
    }

    /// A log file (`mainlog`, `rejectlog`, `paniclog`); empty while it does not exist.
    pub fn log(&self, name: &str) -> String {
        std::fs::read_to_string(self.spool_dir().join("log").join(name)).unwrap_or_default()
    }

    pub fn mainlog(&self) -> String {
        self.log("mainlog")
    }

    /// The log `name` once it contains `what`, or as it is when the time is up (log lines
    /// are written after the replies go out).
    pub fn poll_log(&self, name: &str, what: &str) -> String {
        let deadline = Instant::now() + IO_TIMEOUT;
        loop {
            let log = self.log(name);
            if log.contains(what) || Instant::now() > deadline {
                return log;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The mainlog once it has a line containing `what`; fails the test when it never does.
    pub fn wait_log(&self, what: &str) -> String {
        let log = self.poll_log("mainlog", what);
        assert!(
            log.contains(what),
            "no {what:?} in the mainlog:\n{log}\nstderr:\n{}",
            self.stderr()
        );
        log
    }

    /// The mainlog's `<=` line of message `id`, once it is written.
    pub fn arrival(&self, id: &str) -> String {
        let what = format!("{id} <=");
        let log = self.wait_log(&what);
        log.lines().find(|l| l.contains(&what)).unwrap().to_string()
    }

    /// The stored message ids, in either spool layout.
    pub fn ids(&self) -> Vec<String> {
        let mut spool = self.spool();
        spool.split = true; // either layout is found
        spool.message_ids().expect("list spool")
    }

    /// The raw `-H` file of a message, wherever the layout put it.
    pub fn header_file(&self, id: &str) -> String {
        let spool = self.spool();
        String::from_utf8(std::fs::read(spool.file(id, "H").unwrap()).unwrap()).unwrap()
    }

    /// An Exim configuration reading this daemon's spool (for `exim4 -bp`, `-Mvh`),
    /// with `extra` main options.
    pub fn exim_conf(&self, extra: &str) -> PathBuf {
        let path = self.dir.join("exim.conf");
        // Exim runs as the owner of the spool files (the test's user).
        let (user, _, gid) = self.spool().originator;
        std::fs::write(
            &path,
            format!(
                "spool_directory = {0}\nlog_file_path = {0}/exim-%slog\nkeep_environment =\n\
                 exim_user = {user}\nexim_group = {gid}\n\
                 queue_list_requires_admin = false\nprimary_hostname = test.example\n{extra}\n",
                self.spool_dir().display()
            ),
        )
        .unwrap();
        path
    }
}
