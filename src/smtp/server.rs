//! `rexim -bd [-oX port[,port]|interfaces] [-C file] [-D M=v]`: the SMTP daemon.
//!
//! A tokio listener per configured address (`local_interfaces` × `daemon_smtp_ports`, or
//! `-oX`), one task per connection. The session core is synchronous (ACLs, DNS through
//! hickory's sync resolver, the fsync of the message store), so each batch of received
//! bytes is handed to the session inside `tokio::task::spawn_blocking`: the runtime's
//! worker threads never block, and a sync resolver that starts its own runtime cannot
//! panic with "runtime within a runtime". The session is moved into the blocking task and
//! back, so at most one batch per connection runs at a time. A plain connection whose
//! client keeps talking stays on that thread between commands (`linger.rs`: one thread
//! wake-up per command instead of three), and comes back to the runtime when it goes quiet.
//!
//! ACL `delay =` sleeps on the runtime's timer after the batch that asked for it.
//!
//! Limits: `smtp_accept_max` and `smtp_accept_max_per_host` (checked at accept, with Exim's
//! 421 texts), `smtp_receive_timeout` on every read (Exim's timeout replies and log lines).
//! SIGTERM or SIGINT stops the listeners; connections waiting for a command are closed with
//! a 421, those inside a command finish it, then the process exits. Log lines go to stderr.

use std::collections::HashMap;
use std::io::Write;
use std::net::{IpAddr, SocketAddr};
use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use crate::acl::engine::ExpansionAcls;
use crate::acl::AclSet;
use crate::config::{tables, Config, Value};
use crate::expand::{expand, parse, Context};
use crate::smtp::linger;
use crate::smtp::listen::listen_addresses;
use crate::smtp::session::State;
use crate::smtp::sink::MessageSink;
use crate::smtp::tls::acceptor::TlsServer;
use crate::smtp::tls::stream::Conn;
use crate::smtp::{Peer, Session, SessionConfig};

/// The configuration used when no `-C` is given.
pub const DEFAULT_CONFIG_TEXT: &str = include_str!("../../stdlib/default.conf");

/// Threads that run session batches (ACLs, the spool's fsyncs). Each thread keeps
/// allocator pages of its own (about 0.7 MB measured with 10,000 idle connections), and
/// tokio's default of 512 let a burst of connections cost hundreds of MB; 64 still lets
/// 64 sessions wait on a commit or a slow lookup at once.
const MAX_SESSION_THREADS: usize = 64;

/// How long a shutdown waits for connections still inside a command.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// Command-line options of `-bd`.
#[derive(Debug, Default, Clone)]
pub struct Options {
    pub config: Option<String>,
    pub defines: Vec<String>,
    /// `-oX`: ports (digits and commas) or an interface list.
    pub ox: Option<String>,
}

/// Parse the command line of a `-bd` run; `Err` is the message for stderr.
pub fn parse_args(args: &[String]) -> Result<Options, String> {
    let mut o = Options::default();
    let mut i = 0;
    while i < args.len() {
        let a = args[i].as_str();
        let mut value = || {
            i += 1;
            args.get(i)
                .cloned()
                .ok_or_else(|| format!("rexim: {a} needs an argument"))
        };
        match a {
            "-bd" => {}
            "-C" => o.config = Some(value()?),
            "-D" => o.defines.push(value()?),
            "-oX" => o.ox = Some(value()?),
            d if d.starts_with("-D") => o.defines.push(d[2..].to_string()),
            _ => return Err(format!("rexim: option {a:?} is not supported with -bd")),
        }
        i += 1;
    }
    Ok(o)
}

/// Everything a connection needs, shared by all connections.
pub struct Daemon {
    pub cfg: Arc<SessionConfig>,
    pub acls: Arc<AclSet>,
    pub lists: Arc<crate::config::ConfigLists>,
    pub sink: Option<Arc<dyn MessageSink>>,
    /// `smtp_receive_timeout`; `None`: wait for ever.
    pub receive_timeout: Option<Duration>,
    /// `smtp_accept_max` (0: no limit).
    pub accept_max: u32,
    /// `smtp_accept_max_per_host` (unexpanded; empty: no limit).
    pub accept_max_per_host: String,
    /// STARTTLS configurations and ticket keys (`None`: no `tls_certificate`).
    pub tls: Option<Arc<TlsServer>>,
    /// `tls_on_connect_ports`: TLS starts before the banner on these.
    pub tls_on_connect_ports: Vec<u16>,
    /// The spool's journal, synced and emptied at a clean stop.
    pub journal: Option<Arc<crate::spool::journal::Journal>>,
    counts: Mutex<Counts>,
}

#[derive(Default)]
struct Counts {
    total: u32,
    per_host: HashMap<IpAddr, u32>,
}

/// Releases a connection's slot when the connection ends.
struct Slot {
    daemon: Arc<Daemon>,
    ip: IpAddr,
}

impl Drop for Slot {
    fn drop(&mut self) {
        if let Ok(mut c) = self.daemon.counts.lock() {
            c.total = c.total.saturating_sub(1);
            if let Some(n) = c.per_host.get_mut(&self.ip) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    c.per_host.remove(&self.ip);
                }
            }
        }
    }
}

/// The daemon's log files (`log_file_path`), set once the configuration is loaded.
static LOG_FILES: std::sync::OnceLock<crate::log::LogFiles> = std::sync::OnceLock::new();

/// Write log lines with Exim's timestamp to the mainlog (rejections also to the
/// rejectlog) and, as before, to stderr.
pub fn log_lines(lines: impl IntoIterator<Item = String>) {
    let now = unix_now();
    let lines: Vec<String> = lines.into_iter().collect();
    let failed = LOG_FILES
        .get()
        .and_then(|files| files.session_lines(&lines, now).err());
    echo(now, failed, &lines);
}

/// Write lines to the paniclog (and stderr), with Exim's timestamp.
pub fn panic_lines(lines: impl IntoIterator<Item = String>) {
    let now = unix_now();
    let lines: Vec<String> = lines.into_iter().collect();
    let failed = LOG_FILES.get().and_then(|files| {
        let all: Vec<&str> = lines.iter().map(String::as_str).collect();
        files.write(crate::log::Log::Panic, &all, now).err()
    });
    echo(now, failed, &lines);
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default()
}

/// The stderr echo of log lines (and of a failure to write them), in one `write`:
/// stderr is unbuffered, and this runs for every message.
fn echo(now: i64, failed: Option<crate::log::LogError>, lines: &[String]) {
    if lines.is_empty() && failed.is_none() {
        return;
    }
    let ts = crate::log::stamps(now).0;
    let mut text = String::with_capacity(lines.iter().map(|l| ts.len() + l.len() + 2).sum());
    let failed = failed.map(|e| e.to_string());
    for l in failed
        .iter()
        .map(String::as_str)
        .chain(lines.iter().map(|l| crate::log::line_text(l)))
    {
        text.push_str(&ts);
        text.push(' ');
        text.push_str(l);
        text.push('\n');
    }
    let _ = std::io::stderr().lock().write_all(text.as_bytes());
}

/// A main option's text (its default when unset).
fn main_text(cfg: &Config, name: &str) -> String {
    let Some(def) = tables::find(tables::MAIN, name) else {
        return String::new();
    };
    match cfg.main_value(def) {
        Value::Unset => String::new(),
        Value::Str(s) | Value::Id(s) | Value::Ids(s) => s,
        Value::Bool(b) => b.to_string(),
        Value::Int(i) => i.to_string(),
        Value::Times(t) => t.first().map(i64::to_string).unwrap_or_default(),
    }
}

/// `smtp_receive_timeout` as a duration (0: none).
fn receive_timeout(cfg: &Config) -> Result<Option<Duration>, String> {
    let text = main_text(cfg, "smtp_receive_timeout");
    let text = if text.contains('$') {
        let mut ctx = Context::default();
        expand(&parse(&text), &mut ctx)
            .map(|v| v.as_str_lossy().into_owned())
            .map_err(|e| format!("failed to expand smtp_receive_timeout: {}", e.message))?
    } else {
        text
    };
    let secs = if text.bytes().all(|b| b.is_ascii_digit()) && !text.is_empty() {
        text.parse::<i64>().ok()
    } else {
        crate::config::options::read_time(&text, false)
    }
    .ok_or_else(|| format!("invalid time value for smtp_receive_timeout: \"{text}\""))?;
    Ok((secs > 0).then(|| Duration::from_secs(secs as u64)))
}

/// Load the configuration (`-C` or the embedded default) and build the daemon.
pub fn build(o: &Options) -> Result<(Daemon, Vec<SocketAddr>), String> {
    let macros = crate::config::initial_macros(&o.defines)?;
    let cfg = match &o.config {
        Some(path) => crate::config::load_file(path, macros)
            .map_err(|e| format!("non-existent configuration file(s): {path} ({e})"))?,
        None => crate::config::load_text("<default configuration>", DEFAULT_CONFIG_TEXT, macros),
    };
    if let Some(e) = cfg.errors.first() {
        return Err(e.exim_text().trim_end().to_string());
    }
    let (scfg, mut acls) = SessionConfig::from_config(&cfg).map_err(|e| e.join("\n"))?;
    let spool = main_text(&cfg, "spool_directory");
    if !spool.is_empty() {
        acls.env.hints_dir = Some(PathBuf::from(&spool).join("db"));
    }
    // Never acknowledge a message that is not stored: no spool, no daemon.
    if spool.is_empty() {
        return Err("spool_directory is empty: nowhere to store messages".into());
    }
    // Exim-format spool (`input/<id>-D`, `-H`), durable (journalled) before each 250.
    let mut store = crate::spool::Spool::from_config(&cfg).map_err(|e| e.to_string())?;
    std::fs::create_dir_all(store.input_dir())
        .map_err(|e| format!("cannot create the message store under {spool}: {e}"))?;
    let logs = crate::log::LogFiles::from_config(&cfg).map_err(|e| e.to_string())?;
    let _ = LOG_FILES.set(logs);
    let (journal, recovery) = store
        .open_journal()
        .map_err(|e| format!("cannot open the spool journal: {e}"))?;
    log_lines(recovery_lines(&recovery));
    let sink: Option<Arc<dyn MessageSink>> = Some(Arc::new(store));
    log_lines(crate::smtp::tls::unsupported_options(&cfg));
    let addrs = listen_addresses(
        &main_text(&cfg, "local_interfaces"),
        &main_text(&cfg, "daemon_smtp_ports"),
        o.ox.as_deref(),
    )?;
    let accept_max = main_text(&cfg, "smtp_accept_max")
        .parse::<u32>()
        .map_err(|_| "smtp_accept_max must be a non-negative integer".to_string())?;
    let tls = Some(Arc::new(crate::smtp::tls::daemon_server(&cfg, &scfg)?));
    let tls_on_connect_ports =
        crate::smtp::tls::on_connect_ports(&main_text(&cfg, "tls_on_connect_ports"))?;
    let d = Daemon {
        tls,
        tls_on_connect_ports,
        journal: Some(journal),
        cfg: Arc::new(scfg),
        acls: Arc::new(acls),
        lists: Arc::new(crate::config::ConfigLists(cfg.named_lists.clone())),
        sink,
        receive_timeout: receive_timeout(&cfg)?,
        accept_max,
        accept_max_per_host: main_text(&cfg, "smtp_accept_max_per_host"),
        counts: Mutex::new(Counts::default()),
    };
    Ok((d, addrs))
}

/// Log lines for what the start-up replay of the spool journal did (none when the last
/// daemon stopped cleanly).
fn recovery_lines(r: &crate::spool::journal::Recovery) -> Vec<String> {
    let mut lines = Vec::new();
    if r.records > 0 {
        lines.push(format!(
            "spool journal: {} message(s) from an unclean stop checked, {} restored{}",
            r.records,
            r.restored.len(),
            if r.restored.is_empty() {
                String::new()
            } else {
                format!(": {}", r.restored.join(" "))
            }
        ));
    }
    if r.busy_segments > 0 {
        lines.push(format!(
            "spool journal: {} segment(s) in use by another running process left alone",
            r.busy_segments
        ));
    }
    lines
}

/// Why a connection was refused at accept time.
enum Refusal {
    /// Reply and log line.
    Refused(&'static str, String),
}

impl Daemon {
    /// Take a connection slot for `ip`, or say why not.
    fn admit(self: &Arc<Self>, ip: IpAddr, whofrom: &str) -> Result<Slot, Refusal> {
        let per_host = self.max_per_host(ip, whofrom)?;
        let Ok(mut c) = self.counts.lock() else {
            return Err(Refusal::Refused(
                "421 Local problem: connection table unavailable; please try again later.",
                format!("Connection from {whofrom} refused: connection table unavailable"),
            ));
        };
        if self.accept_max > 0 && c.total >= self.accept_max {
            return Err(Refusal::Refused(
                "421 Too many concurrent SMTP connections; please try again later.",
                format!("Connection from {whofrom} refused: too many connections"),
            ));
        }
        let here = c.per_host.get(&ip).copied().unwrap_or(0);
        if per_host.is_some_and(|m| here >= m) {
            return Err(Refusal::Refused(
                "421 Too many concurrent SMTP connections from this IP address; please try again later.",
                format!(
                    "Connection from {whofrom} refused: too many connections from that IP address"
                ),
            ));
        }
        c.total += 1;
        *c.per_host.entry(ip).or_insert(0) += 1;
        Ok(Slot {
            daemon: self.clone(),
            ip,
        })
    }

    /// `smtp_accept_max_per_host` expanded for this host (`None`: no limit).
    fn max_per_host(&self, ip: IpAddr, whofrom: &str) -> Result<Option<u32>, Refusal> {
        let text = self.accept_max_per_host.trim();
        if text.is_empty() {
            return Ok(None);
        }
        let mut ctx = Context::default();
        ctx.set("sender_host_address", ip.to_string().as_str());
        let bad = |why: String| {
            Refusal::Refused(
                "421 Local configuration error; please try again later.",
                format!("{why} (connection from {whofrom})"),
            )
        };
        let v = expand(&parse(text), &mut ctx).map_err(|e| {
            bad(format!(
                "Expansion of smtp_accept_max_per_host failed: {}",
                e.message
            ))
        })?;
        let s = v.as_str_lossy();
        let n: u32 = s.trim().parse().map_err(|_| {
            bad(format!(
                "Expansion of smtp_accept_max_per_host (\"{s}\") is not an integer"
            ))
        })?;
        Ok((n > 0).then_some(n))
    }

    fn session(&self, peer: SocketAddr, local: Option<SocketAddr>) -> Session {
        let p = Peer {
            address: peer.ip().to_canonical().to_string(),
            port: peer.port(),
            name: None,
            interface_address: local.map(|l| l.ip().to_canonical().to_string()),
            interface_port: local.map(|l| l.port()).unwrap_or(0),
            ident: None,
        };
        // One set of lookup drivers for the process (lsearch files parsed once, a
        // connection costs no driver state), a result cache per connection.
        static LOOKUPS: std::sync::OnceLock<crate::lookup::Lookups> = std::sync::OnceLock::new();
        let lookups = LOOKUPS.get_or_init(Default::default).share_drivers();
        let mut ctx = Context::new(Arc::new(lookups));
        ctx.acl = Some(Arc::new(ExpansionAcls {
            acls: self.acls.clone(),
        }));
        ctx.named_lists = Some(self.lists.clone());
        let mut s = Session::new(self.cfg.clone(), self.acls.clone(), ctx, p);
        s.sync_check = true;
        s.tls_available = self.tls.is_some();
        s.sink = self.sink.clone();
        s
    }
}

/// Run `f` on the session off the runtime's worker threads.
async fn on_session(
    s: Box<Session>,
    f: impl FnOnce(&mut Session) + Send + 'static,
) -> Option<Box<Session>> {
    on_session_with(s, f).await.map(|(s, ())| s)
}

/// As [`on_session`], also giving back what `f` returns.
async fn on_session_with<R: Send + 'static>(
    mut s: Box<Session>,
    f: impl FnOnce(&mut Session) -> R + Send + 'static,
) -> Option<(Box<Session>, R)> {
    match tokio::task::spawn_blocking(move || {
        let r = f(&mut s);
        (s, r)
    })
    .await
    {
        Ok(x) => Some(x),
        Err(e) => {
            log_lines([format!("SMTP session task failed: {e}")]);
            None
        }
    }
}

/// Send the session's replies and log lines; false when the peer is gone or has not
/// taken the replies within `limit` (`smtp_receive_timeout`, so a client that never reads
/// cannot hold a connection slot for ever).
async fn flush(s: &mut Session, stream: &mut Conn, limit: Option<Duration>) -> bool {
    if !s.log.is_empty() {
        log_lines(s.log.drain(..));
    }
    if !s.panic_log.is_empty() {
        panic_lines(s.panic_log.drain(..));
    }
    let out = s.take_output();
    out.is_empty() || write_limited(stream, &out, limit).await
}

/// `smtp_receive_timeout` expired: Exim's replies and log lines.
fn timed_out(s: &mut Session) {
    let who = s.host_and_ident().trim_start_matches("H=").to_string();
    if matches!(s.state, State::Data | State::Chunk { .. }) {
        let sender = String::from_utf8_lossy(s.env.sender.as_deref().unwrap_or_default());
        s.log(format!(
            "SMTP data timeout (message abandoned) on connection from {who} F=<{sender}>"
        ));
        s.notquit("data-timeout");
        let host = s.active_hostname().to_string();
        s.reply(&format!(
            "421 {host} SMTP incoming data timeout - closing connection."
        ));
    } else {
        s.log(format!("SMTP command timeout on connection from {who}"));
        s.notquit("command-timeout");
        let host = s.active_hostname().to_string();
        s.reply(&format!(
            "421 {host}: SMTP command timeout - closing connection"
        ));
    }
    s.state = State::Closed;
}

/// The daemon is stopping while the client is between commands.
fn shutting_down(s: &mut Session) {
    s.notquit("signal-exit");
    let host = s.active_hostname().to_string();
    s.reply(&format!(
        "421 {host} Service not available - closing connection"
    ));
    s.state = State::Closed;
}

/// Bytes the client sent that are waiting to be read (peeked, not consumed).
fn pending_input(stream: &TcpStream) -> Option<Vec<u8>> {
    let mut buf = [0u8; 128];
    // SAFETY: recv on a socket we own, into a buffer of the length given; MSG_PEEK leaves
    // the bytes queued and MSG_DONTWAIT never blocks.
    let n = unsafe {
        libc::recv(
            stream.as_raw_fd(),
            buf.as_mut_ptr().cast(),
            buf.len(),
            libc::MSG_PEEK | libc::MSG_DONTWAIT,
        )
    };
    let n = usize::try_from(n).ok().filter(|&n| n > 0)?;
    buf.get(..n).map(<[u8]>::to_vec)
}

/// Input before the greeting from a host not in `pipelining_connect_advertise_hosts`:
/// Exim's 554 instead of the banner.
fn refuse_early_talker(s: &mut Session, input: &[u8]) {
    let _ = s.take_output();
    let line = format!(
        "SMTP protocol synchronization error (input sent without waiting for greeting): rejected connection from {} input=\"{}\"",
        s.host_and_ident(),
        printing(input)
    );
    s.log(line);
    s.reply("554 SMTP synchronization error");
    s.state = State::Closed;
}

/// Exim's `string_printing`: C escapes for control characters, octal for the rest.
fn printing(bytes: &[u8]) -> String {
    let mut out = String::new();
    for &b in bytes {
        match b {
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            b'\\' => out.push_str("\\\\"),
            0x20..=0x7e => out.push(char::from(b)),
            _ => out.push_str(&format!("\\{b:03o}")),
        }
    }
    out
}

/// Wait until the client sends something and take it (empty: end of input). An idle
/// connection holds no read buffer: the bytes are read into the stack, then copied out.
async fn read_some(stream: &TcpStream) -> std::io::Result<Vec<u8>> {
    loop {
        stream.readable().await?;
        match read_now(stream) {
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
            r => return r,
        }
    }
}

/// The next input of a connection: in clear straight from the socket (no buffer held
/// while idle); under TLS through the decrypting stream (its buffer lives only while a
/// read is pending).
async fn read_conn(stream: &mut Conn) -> std::io::Result<Vec<u8>> {
    match stream {
        Conn::Plain(tcp) => read_some(tcp).await,
        Conn::Gone => Ok(Vec::new()),
        tls => {
            let mut buf = vec![0u8; 16 * 1024];
            let n = tokio::io::AsyncReadExt::read(tls, &mut buf).await?;
            buf.truncate(n);
            Ok(buf)
        }
    }
}

/// The bytes waiting on the socket, read through a buffer on this thread's stack.
fn read_now(stream: &TcpStream) -> std::io::Result<Vec<u8>> {
    let mut buf = [0u8; 16 * 1024];
    let n = stream.try_read(&mut buf)?;
    Ok(buf[..n].to_vec())
}

/// Drive one connection to its end.
async fn connection(
    d: Arc<Daemon>,
    mut stream: TcpStream,
    peer: SocketAddr,
    mut stop: watch::Receiver<bool>,
) {
    let whofrom = format!("[{}]", peer.ip().to_canonical());
    let _slot = match d.admit(peer.ip().to_canonical(), &whofrom) {
        Ok(s) => s,
        Err(Refusal::Refused(reply, log)) => {
            log_lines([log]);
            let _ = stream.write_all(format!("{reply}\r\n").as_bytes()).await;
            let _ = stream.shutdown().await;
            return;
        }
    };
    let _ = stream.set_nodelay(true);
    let local = stream.local_addr().ok();
    let stream = Conn::Plain(stream);
    let s = Box::new(d.session(peer, local));
    let on_connect = local.is_some_and(|l| d.tls_on_connect_ports.contains(&l.port()));
    let (s, mut stream) = match on_connect {
        false => (s, stream),
        true => match tls_on_connect(&d, s, stream).await {
            Some(x) => x,
            None => return,
        },
    };
    let early_ok = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let flag = early_ok.clone();
    let Some(mut s) = on_session(s, move |s| {
        s.start();
        let ok = !s.cfg.smtp_enforce_sync || {
            let list = s.cfg.pipelining_connect_advertise_hosts.clone();
            s.host_in(&list)
        };
        flag.store(ok, std::sync::atomic::Ordering::Relaxed);
    })
    .await
    else {
        return;
    };
    if !s.is_closed() && !early_ok.load(std::sync::atomic::Ordering::Relaxed) {
        let delay = std::mem::take(&mut s.acl_state.delay);
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        if let Some(input) = stream.plain().and_then(pending_input) {
            refuse_early_talker(&mut s, &input);
        }
    }
    loop {
        // ACL `delay =`: sleep on the timer (no thread is held) before the replies of
        // this batch go out. Replies to earlier pipelined commands of the same batch wait
        // too, where Exim would flush them before sleeping.
        let delay = std::mem::take(&mut s.acl_state.delay);
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        if !flush(&mut s, &mut stream, d.receive_timeout).await {
            break;
        }
        if s.is_closed() {
            break;
        }
        let read = async {
            match d.receive_timeout {
                Some(t) => tokio::time::timeout(t, read_conn(&mut stream)).await.ok(),
                None => Some(read_conn(&mut stream).await),
            }
        };
        let got = tokio::select! {
            r = read => Some(r),
            _ = stop.wait_for(|v| *v) => None,
        };
        let next = match got {
            None => on_session(s, shutting_down).await,
            Some(None) => on_session(s, timed_out).await,
            Some(Some(Err(_))) => on_session(s, |s| s.close_input()).await,
            Some(Some(Ok(bytes))) if bytes.is_empty() => on_session(s, |s| s.close_input()).await,
            Some(Some(Ok(bytes))) => match feed(s, &mut stream, bytes, &stop, &d).await {
                Some((n, true)) => Some(n),
                Some((n, false)) => {
                    s = n;
                    break;
                }
                None => None,
            },
        };
        match next {
            Some(n) => s = n,
            None => return,
        }
        if let Some(req) = s.take_tls_request() {
            match starttls(&d, &mut s, stream, req).await {
                Some(c) => stream = c,
                None => {
                    stream = Conn::Gone;
                    break;
                }
            }
        }
    }
    let _ = stream.shutdown().await;
    // A session may own a sync DNS resolver, which owns a runtime of its own: dropping
    // that on a worker thread panics, so the session goes away on a blocking thread.
    let _ = tokio::task::spawn_blocking(move || drop(s)).await;
}

/// Feed a batch of input on a session thread. A plain connection stays there while the
/// client keeps it busy (`linger.rs`); meanwhile the socket is taken out of the runtime's
/// poller, so input arriving then wakes only the session thread. `Some((session, false))`:
/// the peer is gone.
async fn feed(
    s: Box<Session>,
    stream: &mut Conn,
    bytes: Vec<u8>,
    stop: &watch::Receiver<bool>,
    d: &Daemon,
) -> Option<(Box<Session>, bool)> {
    if stream.plain().is_none() {
        return on_session(s, move |s| s.feed(&bytes))
            .await
            .map(|s| (s, true));
    }
    let Conn::Plain(tcp) = std::mem::replace(stream, Conn::Gone) else {
        return None;
    };
    let Ok(tcp) = tcp.into_std() else {
        return Some((s, false));
    };
    let stopping = stop.clone();
    let (s, (back, tcp)) = on_session_with(s, move |s| {
        let back = linger::serve(s, tcp.as_raw_fd(), &bytes, || *stopping.borrow());
        (back, tcp)
    })
    .await?;
    match TcpStream::from_std(tcp) {
        Ok(tcp) => *stream = Conn::Plain(tcp),
        Err(_) => return Some((s, false)),
    }
    if back.gone {
        return Some((s, false));
    }
    let sent =
        back.unsent.is_empty() || write_limited(stream, &back.unsent, d.receive_timeout).await;
    Some((s, sent))
}

/// Write `out`, within `limit`; false when the peer is gone or too slow.
async fn write_limited(stream: &mut Conn, out: &[u8], limit: Option<Duration>) -> bool {
    match limit {
        Some(t) => matches!(
            tokio::time::timeout(t, stream.write_all(out)).await,
            Ok(Ok(()))
        ),
        None => stream.write_all(out).await.is_ok(),
    }
}

/// An accepted STARTTLS: prepare the configuration (files are read off the runtime's
/// threads), send `220 TLS go ahead`, run the handshake. `None`: the connection is gone.
async fn starttls(
    d: &Daemon,
    s: &mut Session,
    stream: Conn,
    req: crate::smtp::tls::TlsRequest,
) -> Option<Conn> {
    let Some(server) = d.tls.clone() else {
        s.tls_unavailable("(tls_certificate): no certificate configured");
        return Some(stream);
    };
    let (t, r) = (server.clone(), req.clone());
    let prepared = tokio::task::spawn_blocking(move || t.prepare(&r))
        .await
        .unwrap_or_else(|e| Err(format!("(tls): {e}")));
    let prepared = match prepared {
        Ok(p) => p,
        Err(e) => {
            s.tls_unavailable(&e);
            return Some(stream);
        }
    };
    s.tls_go_ahead();
    let mut stream = stream;
    if !flush(s, &mut stream, d.receive_timeout).await {
        return None;
    }
    let (stream, r) =
        crate::smtp::tls::handshake::run(server, s, stream, req, prepared, d.receive_timeout).await;
    match r {
        Ok(facts) => s.tls_started(facts),
        Err(e) => s.tls_failed(&e),
    }
    match stream {
        Conn::Gone => {
            log_lines(s.log.drain(..));
            None
        }
        c => Some(c),
    }
}

/// `tls_on_connect_ports`: the handshake before the banner (no `220 TLS go ahead`); a
/// failure is logged and the connection closed, as Exim does.
async fn tls_on_connect(d: &Daemon, s: Box<Session>, stream: Conn) -> Option<(Box<Session>, Conn)> {
    let mut s = on_session(s, |s| s.tls_on_connect()).await?;
    let mut stream = stream;
    if let Some(req) = s.take_tls_request() {
        stream = starttls(d, &mut s, stream, req).await.unwrap_or(Conn::Gone);
    }
    let failed = s.is_closed() || s.tls.is_none() || matches!(stream, Conn::Gone);
    log_lines(s.log.drain(..));
    if failed {
        let _ = stream.shutdown().await;
        let _ = tokio::task::spawn_blocking(move || drop(s)).await;
        return None;
    }
    Some((s, stream))
}

/// Accept connections on `listener` until `stop` turns true.
async fn accept_loop(
    d: Arc<Daemon>,
    listener: TcpListener,
    mut stop: watch::Receiver<bool>,
    tasks: Arc<tokio::sync::Mutex<tokio::task::JoinSet<()>>>,
) {
    loop {
        let r = tokio::select! {
            r = listener.accept() => r,
            _ = stop.wait_for(|v| *v) => return,
        };
        match r {
            Ok((stream, peer)) => {
                let conn = connection(d.clone(), stream, peer, stop.clone());
                tasks.lock().await.spawn(conn);
            }
            Err(e) => {
                log_lines([format!("accept() failed: {e}")]);
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// Wait for SIGTERM or SIGINT.
async fn signalled() -> &'static str {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        // Without signal handlers the default action (exit) still applies.
        std::future::pending::<()>().await;
        return "";
    };
    tokio::select! {
        _ = term.recv() => "SIGTERM",
        _ = int.recv() => "SIGINT",
    }
}

/// Listen and serve until a signal arrives.
pub async fn serve(d: Arc<Daemon>, addrs: &[SocketAddr]) -> Result<(), String> {
    let mut listeners = Vec::new();
    for a in addrs {
        let l = TcpListener::bind(a).await.map_err(|e| {
            format!(
                "socket bind() to port {} for address {} failed: {e}: daemon abandoned",
                a.port(),
                a.ip()
            )
        })?;
        listeners.push(l);
    }
    let shown: Vec<String> = listeners
        .iter()
        .filter_map(|l| l.local_addr().ok())
        .map(|a| format!("[{}]:{}", a.ip(), a.port()))
        .collect();
    log_lines([format!(
        "rexim {} daemon started: pid={}, no queue runs, listening for SMTP on {}",
        env!("CARGO_PKG_VERSION"),
        std::process::id(),
        shown.join(" ")
    )]);
    let (tx, rx) = watch::channel(false);
    let tasks = Arc::new(tokio::sync::Mutex::new(tokio::task::JoinSet::new()));
    let mut loops = tokio::task::JoinSet::new();
    for l in listeners {
        loops.spawn(accept_loop(d.clone(), l, rx.clone(), tasks.clone()));
    }
    // Reap finished connection tasks now and then so the set does not grow.
    let reaper = {
        let tasks = tasks.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_secs(1)).await;
                let mut t = tasks.lock().await;
                while t.try_join_next().is_some() {}
            }
        })
    };
    let sig = signalled().await;
    log_lines([format!(
        "rexim daemon: {sig} received, no longer accepting connections"
    )]);
    let _ = tx.send(true);
    while loops.join_next().await.is_some() {}
    reaper.abort();
    let mut t = tasks.lock().await;
    let drained = tokio::time::timeout(SHUTDOWN_GRACE, async {
        while t.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        log_lines([format!(
            "rexim daemon: {} connection(s) still busy after {}s; exiting",
            t.len(),
            SHUTDOWN_GRACE.as_secs()
        )]);
    }
    Ok(())
}

/// `rexim -bd ...`: returns the exit code.
/// How long the daemon uses a lookup file without checking it on disk again.
pub const LOOKUP_RECHECK: Duration = Duration::from_secs(1);

pub fn main(args: &[String]) -> i32 {
    let o = match parse_args(args) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("{e}");
            return 1;
        }
    };
    let (d, addrs) = match build(&o) {
        Ok(x) => x,
        Err(e) => {
            eprintln!("rexim: {e}");
            return 1;
        }
    };
    // Exim opens lookup files afresh in each connection's process and drops them at
    // every message's DATA; one daemon process instead `stat`s a file at most once a
    // second, so an edit shows within a second (README, "Lookups").
    crate::lookup::files::set_recheck_interval(LOOKUP_RECHECK);
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .max_blocking_threads(MAX_SESSION_THREADS)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("rexim: cannot start the runtime: {e}");
            return 1;
        }
    };
    let journal = d.journal.clone();
    let code = match rt.block_on(serve(Arc::new(d), &addrs)) {
        Ok(()) => 0,
        Err(e) => {
            log_lines([e]);
            1
        }
    };
    // Sessions still busy after the grace period cannot have been acknowledged: whatever
    // was is in the journal, and the clean stop syncs the spool and empties the journal.
    if let Some(j) = journal {
        j.shutdown();
    }
    // Every acknowledged message is already on disk. Exit without running destructors:
    // sessions still busy after the grace period, and the ACLs' DNS resolver, own runtimes
    // that must not be dropped from inside this one.
    std::process::exit(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_config_loads() {
        let macros = crate::config::initial_macros(&[]).unwrap();
        let cfg = crate::config::load_text("default", DEFAULT_CONFIG_TEXT, macros);
        assert!(cfg.errors.is_empty(), "{:?}", cfg.errors);
        assert!(SessionConfig::from_config(&cfg).is_ok());
        let addrs = listen_addresses(
            &main_text(&cfg, "local_interfaces"),
            &main_text(&cfg, "daemon_smtp_ports"),
            None,
        )
        .unwrap();
        assert_eq!(addrs, vec!["127.0.0.1:2525".parse().unwrap()]);
        assert_eq!(receive_timeout(&cfg), Ok(Some(Duration::from_secs(300))));
        assert_eq!(main_text(&cfg, "spool_directory"), "./rexim-spool");
    }
}
