//! STARTTLS and TLS session resumption in `rexim -bd`, end to end over 127.0.0.1: a
//! certificate made with rcgen at test time, a rustls client (one shared `ClientConfig`,
//! so a second connection can resume), the mainlog, the `-H` spool file, and `exim4 -bp`
//! / `-Mvh` reading that spool where exim4 is installed. Every read is bounded.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore, StreamOwned};

const IO_TIMEOUT: Duration = Duration::from_secs(10);

struct Daemon {
    child: Child,
    port: u16,
    dir: PathBuf,
    cert: CertificateDer<'static>,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    l.local_addr().expect("local addr").port()
}

/// Start the daemon with a fresh certificate for `localhost` (files `cert.pem`,
/// `key.pem` in the test directory), `extra` main options and `acls`.
fn start(name: &str, extra: &str, acls: &str) -> Daemon {
    let dir = std::env::temp_dir().join(format!("rexim-tls-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("test dir");
    let ck = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).expect("rcgen");
    std::fs::write(dir.join("cert.pem"), ck.cert.pem()).unwrap();
    std::fs::write(dir.join("key.pem"), ck.key_pair.serialize_pem()).unwrap();
    let port = free_port();
    let conf = format!(
        "primary_hostname = test.example\n\
         local_interfaces = 127.0.0.1\n\
         daemon_smtp_ports = {port}\n\
         spool_directory = {0}/spool\n\
         log_file_path = {0}/log/%slog\n\
         tls_certificate = {0}/cert.pem\n\
         tls_privatekey = {0}/key.pem\n\
         {extra}\n\
         begin acl\n{acls}\n",
        dir.display()
    );
    let conf_path = dir.join("test.conf");
    std::fs::write(&conf_path, conf).expect("write config");
    let stderr = std::fs::File::create(dir.join("stderr")).expect("stderr file");
    let child = Command::new(env!("CARGO_BIN_EXE_rexim"))
        .args(["-bd", "-C"])
        .arg(&conf_path)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(stderr)
        .spawn()
        .expect("start rexim -bd");
    let mut d = Daemon {
        child,
        port,
        dir,
        cert: ck.cert.der().clone(),
    };
    let deadline = Instant::now() + IO_TIMEOUT;
    loop {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            std::thread::sleep(Duration::from_millis(200));
            return d;
        }
        if let Ok(Some(st)) = d.child.try_wait() {
            panic!("rexim -bd exited with {st}: {}", d.stderr());
        }
        assert!(
            Instant::now() < deadline,
            "rexim -bd did not listen in time"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

impl Daemon {
    fn stderr(&self) -> String {
        std::fs::read_to_string(self.dir.join("stderr")).unwrap_or_default()
    }

    fn mainlog(&self) -> String {
        std::fs::read_to_string(self.dir.join("log/mainlog")).unwrap_or_default()
    }

    /// Wait until the mainlog has a line containing `what` (log lines are written after
    /// the replies go out).
    fn wait_log(&self, what: &str) -> String {
        let deadline = Instant::now() + IO_TIMEOUT;
        loop {
            let log = self.mainlog();
            if log.contains(what) {
                return log;
            }
            assert!(
                Instant::now() < deadline,
                "no {what:?} in the mainlog:\n{log}\nstderr:\n{}",
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn connect(&self) -> Client<TcpStream> {
        let s = TcpStream::connect(("127.0.0.1", self.port)).expect("connect");
        s.set_read_timeout(Some(IO_TIMEOUT)).expect("timeout");
        Client {
            r: BufReader::new(s),
        }
    }

    /// A client configuration trusting this daemon's certificate. Connections made with
    /// the same configuration share its ticket store.
    fn client_config(&self) -> Arc<ClientConfig> {
        let mut roots = RootCertStore::empty();
        roots.add(self.cert.clone()).unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        Arc::new(
            ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .unwrap()
                .with_root_certificates(roots)
                .with_no_client_auth(),
        )
    }

    fn header_file(&self, id: &str) -> String {
        let spool = rexim::spool::Spool::new(self.dir.join("spool"));
        String::from_utf8(std::fs::read(spool.file(id, "H").unwrap()).unwrap()).unwrap()
    }

    /// An Exim configuration reading this daemon's spool.
    fn exim_conf(&self) -> PathBuf {
        let path = self.dir.join("exim.conf");
        let spool = self.dir.join("spool");
        let (user, _, gid) = rexim::spool::Spool::new(spool.clone()).originator;
        std::fs::write(
            &path,
            format!(
                "spool_directory = {0}\nlog_file_path = {0}/exim-%slog\nkeep_environment =\n\
                 exim_user = {user}\nexim_group = {gid}\n\
                 queue_list_requires_admin = false\nprimary_hostname = test.example\n",
                spool.display()
            ),
        )
        .unwrap();
        path
    }
}

struct Client<S: Read + Write> {
    r: BufReader<S>,
}

impl<S: Read + Write> Client<S> {
    /// One (possibly multi-line) reply, lines joined with `\n`.
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

    fn send(&mut self, bytes: &[u8]) {
        let w = self.r.get_mut();
        w.write_all(bytes).expect("write");
        w.flush().expect("flush");
    }

    fn cmd(&mut self, line: &str) -> String {
        self.send(format!("{line}\r\n").as_bytes());
        self.reply()
    }
}

type TlsClient = Client<StreamOwned<ClientConnection, TcpStream>>;

impl Client<TcpStream> {
    /// After `220 TLS go ahead`: the handshake, as the client side.
    fn handshake(self, cfg: &Arc<ClientConfig>) -> TlsClient {
        assert!(self.r.buffer().is_empty(), "clear text after the 220");
        let tcp = self.r.into_inner();
        let name = ServerName::try_from("localhost").unwrap();
        let conn = ClientConnection::new(cfg.clone(), name).expect("client connection");
        let mut tls = StreamOwned::new(conn, tcp);
        while tls.conn.is_handshaking() {
            tls.conn
                .complete_io(&mut tls.sock)
                .expect("TLS handshake with rexim");
        }
        Client {
            r: BufReader::new(tls),
        }
    }

    /// Banner, EHLO, STARTTLS, handshake, EHLO again; returns the client and the second
    /// EHLO reply (reading it also takes in the TLS 1.3 tickets).
    fn upgrade(mut self, cfg: &Arc<ClientConfig>) -> (TlsClient, String) {
        assert!(self.reply().starts_with("220 test.example ESMTP"));
        let ehlo = self.cmd("EHLO client.test");
        assert!(ehlo.contains("\n250-STARTTLS\n"), "{ehlo}");
        assert_eq!(self.cmd("STARTTLS"), "220 TLS go ahead");
        let mut tls = self.handshake(cfg);
        let ehlo = tls.cmd("EHLO client.test");
        (tls, ehlo)
    }
}

fn send_message<S: Read + Write>(c: &mut Client<S>) -> String {
    assert!(c.cmd("MAIL FROM:<a@client.test>").starts_with("250"));
    let r = c.cmd("RCPT TO:<u@test.example>");
    assert!(r.starts_with("250"), "{r}");
    assert!(c.cmd("DATA").starts_with("354"));
    c.send(b"Subject: over TLS\r\n\r\nbody\r\n.\r\n");
    let r = c.reply();
    assert!(r.starts_with("250 OK id="), "{r}");
    r.trim_start_matches("250 OK id=").to_string()
}

/// Logs the TLS variables at RCPT time; refuses RCPT without encryption. (No capital
/// letter before `_RESUME_DECODE` on its line: Exim tries built-in macros only when the
/// first candidate name on a line starts with `_`.)
const VARS_ACL: &str = "rcpt:\n  deny !encrypted = *\n  \
    warn logwrite = tlsvars res=$tls_in_resumption \
    (${listextract{$tls_in_resumption}{_RESUME_DECODE}}) cipher=$tls_in_cipher \
    std=$tls_in_cipher_std ver=$tls_in_ver bits=$tls_in_bits sni=$tls_in_sni \
    cv=$tls_in_certificate_verified proto=$received_protocol\n  accept\n";

#[test]
fn starttls_message_and_resumption() {
    let d = start(
        "resume",
        "acl_smtp_rcpt = rcpt\ntls_resumption_hosts = 127.0.0.1\n\
         log_selector = +tls_resumption +tls_sni",
        VARS_ACL,
    );
    let cfg = d.client_config();

    // First connection: a full handshake; the server issues tickets.
    let (mut c, ehlo) = d.connect().upgrade(&cfg);
    assert!(
        !ehlo.contains("STARTTLS"),
        "offered again under TLS: {ehlo}"
    );
    assert!(ehlo.starts_with("250-test.example Hello client.test [127.0.0.1]"));
    let id = send_message(&mut c);
    // Under TLS STARTTLS is not offered, so a repeat is refused as not advertised.
    assert!(c
        .cmd("STARTTLS")
        .starts_with("503 STARTTLS command used when not advertised"));
    assert!(c.cmd("QUIT").starts_with("221"));
    let cipher = "X=TLS1.3:TLS_AES_256_GCM_SHA384:256";
    let log = d.wait_log(&format!("{id} <= a@client.test"));
    let line = log
        .lines()
        .find(|l| l.contains(&format!("{id} <=")))
        .unwrap();
    assert!(
        line.contains(&format!(
            "H=(client.test) [127.0.0.1] P=esmtps {cipher} CV=no SNI=localhost S="
        )),
        "{line}"
    );
    assert!(
        log.contains(
            "tlsvars res=11 (client requested new ticket, server provided) \
             cipher=TLS1.3:TLS_AES_256_GCM_SHA384:256 std=TLS_AES_256_GCM_SHA384 ver=TLS1.3 \
             bits=256 sni=localhost cv=0 proto=esmtps"
        ),
        "{log}"
    );
    // The spool carries the TLS facts, as Exim 4.96 writes them.
    let h = d.header_file(&id);
    assert!(
        h.contains(
            "-tls_cipher TLS1.3:TLS_AES_256_GCM_SHA384:256\n--tls_sni localhost\n\
             -tls_resumption L\n-tls_ver TLS1.3\n"
        ),
        "{h}"
    );
    // Exim's default received_header_text gives two spaces before "(TLS1.3)".
    assert!(
        h.contains("with esmtps  (TLS1.3) tls TLS_AES_256_GCM_SHA384\n"),
        "{h}"
    );
    let parsed = rexim::spool::header::HeaderFile::parse(h.as_bytes()).unwrap();
    let vars = rexim::smtp::tls::vars_from_spool(&parsed);
    let get = |n: &str| {
        vars.iter()
            .find(|(k, _)| *k == n)
            .map(|(_, v)| v.as_str_lossy().into_owned())
    };
    assert_eq!(get("tls_in_resumption").as_deref(), Some("11"));
    assert_eq!(get("tls_in_sni").as_deref(), Some("localhost"));
    assert!(vars.iter().any(|(k, v)| *k == "tls_in_sni" && v.tainted));

    // Second connection with the same client configuration: the session is resumed.
    let (mut c, _) = d.connect().upgrade(&cfg);
    assert_eq!(
        c.r.get_ref().conn.handshake_kind(),
        Some(rustls::HandshakeKind::Resumed)
    );
    let id2 = send_message(&mut c);
    assert!(c.cmd("QUIT").starts_with("221"));
    let log = d.wait_log(&format!("{id2} <= a@client.test"));
    let line = log
        .lines()
        .find(|l| l.contains(&format!("{id2} <=")))
        .unwrap();
    assert!(
        line.contains(&format!("P=esmtps {cipher}* CV=no")),
        "{line}"
    );
    let res = log
        .lines()
        .filter(|l| l.contains("tlsvars"))
        .nth(1)
        .expect("second tlsvars line");
    assert!(
        res.contains("tlsvars res=31 (session resumed, also new ticket)")
            || res.contains("tlsvars res=29 (session resumed)"),
        "{res}"
    );
    assert!(d.header_file(&id2).contains("\n-tls_resumption "));

    // Exim's own tools read the spool.
    if !Path::new("/usr/sbin/exim4").exists() {
        eprintln!("SKIPPED exim4 part: exim4 is not installed");
        return;
    }
    let conf = d.exim_conf();
    let out = Command::new("/usr/sbin/exim4")
        .arg("-C")
        .arg(&conf)
        .arg("-bp")
        .output()
        .unwrap();
    let bp = String::from_utf8_lossy(&out.stdout);
    assert!(bp.contains(&id) && bp.contains(&id2), "{bp}");
    let out = Command::new("/usr/sbin/exim4")
        .arg("-C")
        .arg(&conf)
        .args(["-Mvh", &id])
        .output()
        .unwrap();
    let vh = String::from_utf8_lossy(&out.stdout);
    assert!(
        vh.contains("-tls_cipher TLS1.3:TLS_AES_256_GCM_SHA384:256"),
        "{vh}"
    );
}

#[test]
fn no_tickets_outside_tls_resumption_hosts() {
    let d = start(
        "noresume",
        "acl_smtp_rcpt = rcpt\ntls_resumption_hosts = 192.0.2.1\n\
         log_selector = +tls_resumption",
        VARS_ACL,
    );
    let cfg = d.client_config();
    for round in 0..2 {
        let (mut c, _) = d.connect().upgrade(&cfg);
        assert_eq!(
            c.r.get_ref().conn.handshake_kind(),
            Some(rustls::HandshakeKind::Full),
            "round {round}"
        );
        let id = send_message(&mut c);
        assert!(c.cmd("QUIT").starts_with("221"));
        let log = d.wait_log(&format!("{id} <="));
        let line = log
            .lines()
            .find(|l| l.contains(&format!("{id} <=")))
            .unwrap();
        assert!(
            line.contains("X=TLS1.3:TLS_AES_256_GCM_SHA384:256 CV=no S="),
            "{line}"
        );
    }
    let log = d.mainlog();
    assert_eq!(
        log.matches("tlsvars res=1 (not requested or offered)")
            .count(),
        2,
        "{log}"
    );
}

#[test]
fn starttls_only_for_tls_advertise_hosts_and_with_arguments_refused() {
    let d = start("advertise", "tls_advertise_hosts = 192.0.2.1", "");
    let mut c = d.connect();
    assert!(c.reply().starts_with("220"));
    let ehlo = c.cmd("EHLO client.test");
    assert!(!ehlo.contains("STARTTLS"), "{ehlo}");
    assert_eq!(
        c.cmd("STARTTLS"),
        "503 STARTTLS command used when not advertised"
    );
    drop(c);

    let d = start(
        "args",
        "acl_smtp_starttls = starttls",
        "starttls:\n  deny hosts = 192.0.2.1\n  accept\n",
    );
    let mut c = d.connect();
    assert!(c.reply().starts_with("220"));
    assert!(c.cmd("EHLO client.test").contains("STARTTLS"));
    assert_eq!(c.cmd("STARTTLS now"), "501 unexpected argument data");
    assert_eq!(c.cmd("STARTTLS"), "220 TLS go ahead");
}

#[test]
fn starttls_acl_and_missing_certificate() {
    let d = start(
        "acl",
        "acl_smtp_starttls = starttls",
        "starttls:\n  deny message = no TLS for you\n",
    );
    let mut c = d.connect();
    assert!(c.reply().starts_with("220"));
    assert!(c.cmd("EHLO client.test").contains("STARTTLS"));
    assert_eq!(c.cmd("STARTTLS"), "550 no TLS for you");
    assert!(c.cmd("QUIT").starts_with("221"));
    d.wait_log("H=(client.test) [127.0.0.1] rejected STARTTLS");
    drop(c);

    // The certificate file went away: 454, and the session goes on in clear.
    let d = start("nocert", "", "");
    std::fs::remove_file(d.dir.join("cert.pem")).unwrap();
    let mut c = d.connect();
    assert!(c.reply().starts_with("220"));
    assert!(c.cmd("EHLO client.test").contains("STARTTLS"));
    assert_eq!(c.cmd("STARTTLS"), "454 TLS currently unavailable");
    assert_eq!(c.cmd("NOOP"), "250 OK");
    let log =
        d.wait_log("TLS error on connection from (client.test) [127.0.0.1] (tls_certificate):");
    assert!(log.contains("cert.pem"), "{log}");
}

#[test]
fn garbage_instead_of_a_client_hello() {
    let d = start("garbage", "", "");
    let mut c = d.connect();
    assert!(c.reply().starts_with("220"));
    c.cmd("EHLO client.test");
    assert_eq!(c.cmd("STARTTLS"), "220 TLS go ahead");
    c.send(b"this is not a ClientHello\r\n");
    let log = d.wait_log("TLS error on connection from (client.test) [127.0.0.1] (SSL_accept): ");
    assert!(!log.contains("panic"), "{log}");
    // Only QUIT is served after a failed handshake (Exim); skip the alert bytes.
    std::thread::sleep(Duration::from_millis(200));
    c.send(b"NOOP\r\nQUIT\r\n");
    let mut rest = Vec::new();
    let _ = c.r.read_to_end(&mut rest);
    let rest = String::from_utf8_lossy(&rest);
    assert!(rest.contains("554 Security failure\r\n"), "{rest:?}");
    assert!(
        rest.contains("221 test.example closing connection\r\n"),
        "{rest:?}"
    );
    // The daemon is still serving.
    let mut c = d.connect();
    assert!(c.reply().starts_with("220"));
}

#[test]
fn command_injection_after_starttls() {
    // With synchronization enforced, input after STARTTLS is a protocol error.
    let d = start("inject-sync", "", "");
    let mut c = d.connect();
    assert!(c.reply().starts_with("220"));
    c.cmd("EHLO client.test");
    c.send(b"STARTTLS\r\nMAIL FROM:<evil@x>\r\n");
    assert_eq!(c.reply(), "554 SMTP synchronization error");
    drop(c);

    // Without it, the clear-text tail is thrown away: it never runs under TLS.
    let d = start("inject", "smtp_enforce_sync = false", "");
    let cfg = d.client_config();
    let mut c = d.connect();
    assert!(c.reply().starts_with("220"));
    c.cmd("EHLO client.test");
    c.send(b"STARTTLS\r\nMAIL FROM:<evil@x>\r\n");
    assert_eq!(c.reply(), "220 TLS go ahead");
    let mut c = c.handshake(&cfg);
    // The HELO name was forgotten, and no MAIL is in progress.
    assert!(c.cmd("MAIL FROM:<a@client.test>").starts_with("503"));
    c.cmd("EHLO again.test");
    assert_eq!(
        c.cmd("RCPT TO:<u@test.example>"),
        "503 sender not yet given"
    );
    assert!(c.cmd("QUIT").starts_with("221"));
}
