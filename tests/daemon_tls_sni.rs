//! What the daemon does with the ClientHello: `tls_certificate` re-expanded with
//! `$tls_in_sni` (and a tainted SNI refused as a file name), Exim's ALPN rule for
//! `tls_alpn`, `tls_eccurve` choosing the key exchange, and `tls_ocsp_file` stapled.
//! End to end over 127.0.0.1, every read bounded.

mod support;

use std::io::{BufReader, Read, Write};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore, StreamOwned};
use support::client::Client;
use support::tls::{start, TlsDaemon as Daemon};

/// A second certificate and key for `other.test`, in `TESTDIR/other.pem`.
fn other_cert(d: &Daemon) -> CertificateDer<'static> {
    let ck = rcgen::generate_simple_self_signed(vec!["other.test".to_string()]).unwrap();
    let pem = format!("{}{}", ck.cert.pem(), ck.key_pair.serialize_pem());
    std::fs::write(d.dir.join("other.pem"), pem).unwrap();
    ck.cert.der().clone()
}

/// A client trusting `roots`, asking for `alpn`.
fn client(roots: &[&CertificateDer<'static>], alpn: &[&[u8]]) -> Arc<ClientConfig> {
    let mut store = RootCertStore::empty();
    for r in roots {
        store.add((*r).clone()).unwrap();
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut c = ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(rustls::ALL_VERSIONS)
        .unwrap()
        .with_root_certificates(store)
        .with_no_client_auth();
    c.alpn_protocols = alpn.iter().map(|a| a.to_vec()).collect();
    Arc::new(c)
}

type Tls = StreamOwned<ClientConnection, std::net::TcpStream>;

/// EHLO, STARTTLS and a handshake naming `sni`: the TLS stream, or the client's error.
fn starttls(d: &Daemon, cfg: &Arc<ClientConfig>, sni: &str) -> Result<Tls, String> {
    let mut c: Client<std::net::TcpStream> = d.connect();
    assert!(c.reply().starts_with("220"));
    c.cmd("EHLO client.test");
    assert_eq!(c.cmd("STARTTLS"), "220 TLS go ahead");
    let tcp = c.r.into_inner();
    let name = ServerName::try_from(sni.to_string()).unwrap();
    let conn = ClientConnection::new(cfg.clone(), name).unwrap();
    let mut tls = StreamOwned::new(conn, tcp);
    let deadline = Instant::now() + Duration::from_secs(10);
    while tls.conn.is_handshaking() {
        if Instant::now() > deadline {
            return Err("handshake timed out".into());
        }
        tls.conn
            .complete_io(&mut tls.sock)
            .map_err(|e| e.to_string())?;
    }
    // TLS 1.3: a refusal may come after the client's Finished; read the EHLO reply.
    tls.write_all(b"EHLO client.test\r\n")
        .map_err(|e| e.to_string())?;
    let mut buf = [0u8; 512];
    let n = tls.read(&mut buf).map_err(|e| e.to_string())?;
    let reply = String::from_utf8_lossy(&buf[..n]).to_string();
    if !reply.starts_with("250") {
        return Err(format!("EHLO got {reply:?}"));
    }
    Ok(tls)
}

fn our_cert(tls: &Tls) -> CertificateDer<'static> {
    tls.conn.peer_certificates().unwrap()[0].clone()
}

#[test]
fn sni_chooses_the_certificate() {
    let d = start(
        "sni",
        "tls_certificate = ${if eq{$tls_in_sni}{other.test}{TESTDIR/other.pem}{TESTDIR/cert.pem}}\n\
         tls_privatekey = ${if eq{$tls_in_sni}{other.test}{TESTDIR/other.pem}{TESTDIR/key.pem}}\n\
         acl_smtp_rcpt = accept\nlog_selector = +tls_sni",
        "",
    );
    let other = other_cert(&d);
    let cfg = client(&[&d.cert, &other], &[]);
    for _ in 0..2 {
        let tls = starttls(&d, &cfg, "other.test").unwrap();
        assert_eq!(our_cert(&tls), other);
    }
    let tls = starttls(&d, &cfg, "localhost").unwrap();
    assert_eq!(our_cert(&tls), d.cert);
    drop(tls);
    // A file that does not load for this name: the handshake is refused, and logged.
    std::fs::write(d.dir.join("other.pem"), "not a certificate").unwrap();
    assert!(starttls(&d, &cfg, "other.test").is_err());
    let log = d.wait_log("(SNI): (tls_certificate): ");
    assert!(log.contains("other.pem"), "{log}");
}

#[test]
fn a_tainted_sni_names_no_file() {
    let d = start(
        "sni-taint",
        "tls_certificate = ${if def:tls_in_sni{TESTDIR/$tls_in_sni.pem}{TESTDIR/cert.pem}}\n\
         tls_privatekey = TESTDIR/key.pem",
        "",
    );
    let other = other_cert(&d);
    let cfg = client(&[&d.cert, &other], &[]);
    assert!(starttls(&d, &cfg, "other").is_err());
    let log = d.wait_log("tainted file name");
    assert!(
        log.contains("(SNI): (tls_certificate): tainted file name \""),
        "{log}"
    );
}

#[test]
fn alpn_as_exim_checks_it() {
    let d = start("alpn", "", "");
    // One name from tls_alpn (default smtp : esmtp): selected.
    let tls = starttls(&d, &client(&[&d.cert], &[b"smtp"]), "localhost").unwrap();
    assert_eq!(tls.conn.alpn_protocol(), Some(&b"smtp"[..]));
    drop(tls);
    // No ALPN: fine, nothing selected.
    let tls = starttls(&d, &client(&[&d.cert], &[]), "localhost").unwrap();
    assert_eq!(tls.conn.alpn_protocol(), None);
    drop(tls);
    // A web client: refused.
    assert!(starttls(&d, &client(&[&d.cert], &[b"h2", b"http/1.1"]), "localhost").is_err());
    d.wait_log("(SSL_accept): ALPN rejected: the client offered 'h2' 'http/1.1'");
    // hosts_require_alpn: a client without ALPN is refused, one with it served.
    let d2 = start("alpn-required", "hosts_require_alpn = 127.0.0.1", "");
    assert!(starttls(&d2, &client(&[&d2.cert], &[]), "localhost").is_err());
    d2.wait_log("(SSL_accept): ALPN required but not negotiated");
    assert!(starttls(&d2, &client(&[&d2.cert], &[b"esmtp"]), "localhost").is_ok());
    // tls_alpn empty: not checked.
    let d = start("alpn-off", "tls_alpn =", "");
    let tls = starttls(&d, &client(&[&d.cert], &[b"h2"]), "localhost").unwrap();
    assert_eq!(tls.conn.alpn_protocol(), None);
}

#[test]
fn eccurve_chooses_the_key_exchange() {
    let d = start("eccurve", "tls_eccurve = secp384r1", "");
    let tls = starttls(&d, &client(&[&d.cert], &[]), "localhost").unwrap();
    assert_eq!(
        tls.conn.negotiated_key_exchange_group().map(|g| g.name()),
        Some(rustls::NamedGroup::secp384r1)
    );
    drop(tls);
    // An unknown curve: STARTTLS answers 454 and says why in the log.
    let d = start("eccurve-bad", "tls_eccurve = brainpool", "");
    let mut c = d.connect();
    assert!(c.reply().starts_with("220"));
    c.cmd("EHLO client.test");
    assert_eq!(c.cmd("STARTTLS"), "454 TLS currently unavailable");
    d.wait_log("Unknown curve name tls_eccurve 'brainpool'");
}

#[test]
fn ocsp_response_is_stapled() {
    // A minimal OCSPResponse: status malformedRequest, no response bytes.
    let d = start("ocsp", "tls_ocsp_file = TESTDIR/ocsp.der", "");
    std::fs::write(d.dir.join("ocsp.der"), [0x30, 0x03, 0x0a, 0x01, 0x01]).unwrap();
    let mut cmd = Command::new("openssl");
    cmd.args(["s_client", "-starttls", "smtp", "-status", "-connect"])
        .arg(format!("127.0.0.1:{}", d.port))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let Ok(mut child) = cmd.spawn() else {
        eprintln!("SKIPPED: no openssl command here");
        return;
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while child.try_wait().unwrap().is_none() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let mut out = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_to_string(&mut out)
        .unwrap();
    assert!(
        out.contains("OCSP Response Status: malformedrequest (0x1)"),
        "{out}"
    );
}

const OCSP_ACL: &str = "rcpt:\n  warn logwrite = ocsp=$tls_in_ocsp\n  accept\n";

/// `openssl s_client` (STARTTLS, without `-status`) sending `lines`; its output, or
/// `None` without the command.
fn s_client(d: &Daemon, extra: &[&str], lines: &str) -> Option<String> {
    let mut cmd = Command::new("openssl");
    cmd.args([
        "s_client",
        "-starttls",
        "smtp",
        "-crlf",
        "-ign_eof",
        "-connect",
    ])
    .arg(format!("127.0.0.1:{}", d.port))
    .args(extra)
    .stdin(Stdio::piped())
    .stdout(Stdio::piped())
    .stderr(Stdio::null());
    let mut child = cmd.spawn().ok()?;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(lines.as_bytes())
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while child.try_wait().unwrap().is_none() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let mut out = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_to_string(&mut out)
        .unwrap();
    Some(out)
}

#[test]
fn tls_in_ocsp_and_the_spool_line() {
    let d = start(
        "ocsp-var",
        // s_client sends its input in one go.
        "acl_smtp_rcpt = rcpt\ntls_ocsp_file = TESTDIR/ocsp.der\nsmtp_enforce_sync = false",
        OCSP_ACL,
    );
    let ocsp = d.dir.join("ocsp.der");
    std::fs::write(&ocsp, [0x30, 0x03, 0x0a, 0x01, 0x01]).unwrap();
    let cfg = d.client_config();
    // rustls always asks for a stapled response: stapled, so Exim's OCSP_VFIED (4).
    let (mut c, _) = d.connect().upgrade(&cfg);
    let id = support::tls::send_message(&mut c);
    assert!(c.cmd("QUIT").starts_with("221"));
    let log = d.wait_log(&format!("{id} <="));
    assert!(log.contains("ocsp=4\n"), "{log}");
    let h = d.header_file(&id);
    assert!(
        h.contains("-tls_ocsp 4\n-tls_resumption "),
        "after -tls_ourcert, before -tls_resumption, as Exim writes it:\n{h}"
    );
    let parsed = rexim::spool::header::HeaderFile::parse(h.as_bytes()).unwrap();
    let vars = rexim::smtp::tls::vars_from_spool(&parsed);
    assert!(vars
        .iter()
        .any(|(k, v)| *k == "tls_in_ocsp" && v.as_str_lossy() == "4"));
    if let Some(vh) = support::tools::exim4(&d.exim_conf(""), &["-Mvh", &id]) {
        assert!(vh.contains("-tls_ocsp 4\n"), "{vh}");
    }

    // Asked, but nothing to staple (the file went away): OCSP_NOT_RESP (1).
    std::fs::remove_file(&ocsp).unwrap();
    let (mut c, _) = d.connect().upgrade(&cfg);
    let id = support::tls::send_message(&mut c);
    assert!(c.cmd("QUIT").starts_with("221"));
    let log = d.wait_log(&format!("{id} <="));
    assert!(log.contains("ocsp=1\n"), "{log}");
    assert!(d.header_file(&id).contains("-tls_ocsp 1\n"));

    // openssl s_client without -status does not ask: 0, and no spool line.
    std::fs::write(&ocsp, [0x30, 0x03, 0x0a, 0x01, 0x01]).unwrap();
    let talk = "EHLO client.test\nMAIL FROM:<a@client.test>\nRCPT TO:<u@test.example>\nQUIT\n";
    let Some(out) = s_client(&d, &[], talk) else {
        eprintln!("SKIPPED openssl part: no openssl command here");
        return;
    };
    assert!(out.contains("221 "), "{out}");
    let log = d.wait_log("ocsp=0\n");
    assert_eq!(log.matches("ocsp=").count(), 3, "{log}");
    let out = s_client(&d, &["-status"], talk).unwrap();
    assert!(
        out.contains("OCSP Response Status: malformedrequest (0x1)"),
        "{out}"
    );
    let log = d.wait_log("ocsp=4\n");
    assert_eq!(log.matches("ocsp=4\n").count(), 2, "{log}");
}

#[test]
fn tls_in_ocsp_unset_without_tls_ocsp_file() {
    let d = start("ocsp-none", "acl_smtp_rcpt = rcpt", OCSP_ACL);
    let (mut c, _) = d.connect().upgrade(&d.client_config());
    let id = support::tls::send_message(&mut c);
    assert!(c.cmd("QUIT").starts_with("221"));
    let log = d.wait_log(&format!("{id} <="));
    assert!(log.contains("ocsp=0\n"), "{log}");
    assert!(!d.header_file(&id).contains("-tls_ocsp"));
}
