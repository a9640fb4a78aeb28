//! Exim's `[<ip>] SSL verify error: depth=N error=<reason> cert=<subject>` lines for a
//! client certificate that fails verification, as Exim's OpenSSL build writes them from
//! its verify callback (Debian's exim4 is a GnuTLS build, which logs otherwise, so the
//! oracle is OpenSSL itself: `openssl s_server -verify`, whose callback, like Exim's
//! under `tls_try_verify_hosts`, prints each failure and goes on). Under
//! `tls_verify_hosts` the first failure ends the handshake and is followed by the
//! `TLS error` line. Certificates made by the `openssl` command (skipped where absent).
//! End to end over 127.0.0.1.

mod support;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::ClientConfig;
use support::daemon::{self, IO_TIMEOUT};
use support::pki;
use support::tls::{send_message, start, TlsDaemon};

/// The client certificates: name, and the files it presents (its chain).
const CASES: &[(&str, &[&str])] = &[
    ("expired", &["expired.pem"]),
    ("future", &["future.pem"]),
    ("revoked", &["revoked.pem"]),
    ("stranger", &["stranger.pem"]),
    ("self", &["self.pem"]),
    ("deep", &["deep.pem", "mid.pem"]),
];

/// alpha (trusted) issues expired, future, revoked and good; beta (not trusted) issues
/// stranger and the intermediate mid, which issues deep; self is self-signed.
fn make_pki(dir: &Path) -> bool {
    if !pki::make_ca(dir, "alpha", None) {
        return false;
    }
    assert!(pki::make_ca(dir, "beta", None));
    assert!(pki::make_ca(dir, "mid", Some("beta")));
    let old = ("200101000000Z", "200102000000Z");
    let later = ("350101000000Z", "350102000000Z");
    assert!(pki::issue(dir, "alpha", "expired", Some(old)));
    assert!(pki::issue(dir, "alpha", "future", Some(later)));
    assert!(pki::issue(dir, "alpha", "revoked", None));
    assert!(pki::issue(dir, "alpha", "good", None));
    assert!(pki::issue(dir, "beta", "stranger", None));
    assert!(pki::issue(dir, "mid", "deep", None));
    assert!(pki::self_signed(dir, "self"));
    assert!(pki::revoke(dir, "alpha", "revoked.pem"));
    assert!(pki::crl(dir, "alpha", "crl.pem"));
    true
}

fn client(d: &TlsDaemon, name: &str, files: &[&str]) -> Arc<ClientConfig> {
    let chain: Vec<CertificateDer<'static>> = files
        .iter()
        .map(|f| CertificateDer::from_pem_file(d.dir.join(f)).unwrap())
        .collect();
    let key = PrivateKeyDer::from_pem_file(d.dir.join(format!("{name}.key"))).unwrap();
    Arc::new(
        d.client_builder(rustls::ALL_VERSIONS)
            .with_client_auth_cert(chain, key)
            .unwrap(),
    )
}

/// What OpenSSL's verifier reports for `name`'s chain, in order: `(depth, reason)`
/// from `openssl s_server -verify` (which, like Exim for `tls_try_verify_hosts`,
/// logs each failure and carries on), with the same CA file and CRL as rexim.
fn openssl_failures(d: &TlsDaemon, cfg: &Arc<ClientConfig>) -> Vec<(usize, String)> {
    let port = daemon::free_port();
    let mut server = Command::new("openssl")
        .current_dir(&d.dir)
        .args(["s_server", "-accept", &format!("127.0.0.1:{port}")])
        .args(["-cert", "cert.pem", "-key", "key.pem", "-naccept", "1"])
        .args([
            "-verify",
            "5",
            "-CAfile",
            "alpha.pem",
            "-no-CApath",
            "-no-CAstore",
        ])
        .args(["-CRL", "crl.pem", "-crl_check_all"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("openssl s_server");
    // "ACCEPT" comes on stdout, the verify callback's lines on stderr.
    let (tx, rx) = std::sync::mpsc::channel();
    let out: Box<dyn std::io::Read + Send> = Box::new(server.stdout.take().unwrap());
    let err: Box<dyn std::io::Read + Send> = Box::new(server.stderr.take().unwrap());
    for stream in [out, err] {
        let tx = tx.clone();
        std::thread::spawn(move || {
            for l in BufReader::new(stream).lines().map_while(Result::ok) {
                let _ = tx.send(l);
            }
        });
    }
    drop(tx);
    let deadline = Instant::now() + IO_TIMEOUT;
    loop {
        let l = rx.recv_timeout(IO_TIMEOUT).expect("s_server listens");
        if l.starts_with("ACCEPT") {
            break;
        }
    }
    // A plain TLS handshake with the client certificate, then close.
    let tcp = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    tcp.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    let name = ServerName::try_from("localhost").unwrap();
    let conn = rustls::ClientConnection::new(cfg.clone(), name).unwrap();
    let mut tls = rustls::StreamOwned::new(conn, tcp);
    while tls.conn.is_handshaking() {
        if tls.conn.complete_io(&mut tls.sock).is_err() {
            break;
        }
    }
    tls.conn.send_close_notify();
    let _ = tls.conn.complete_io(&mut tls.sock);
    drop(tls);
    let mut out = Vec::new();
    let mut depth = 0;
    while let Ok(l) = rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
        if let Some(rest) = l.strip_prefix("depth=") {
            depth = rest.split(' ').next().unwrap().parse().unwrap();
        } else if let Some(rest) = l.strip_prefix("verify error:num=") {
            out.push((depth, rest.split_once(':').unwrap().1.to_string()));
        }
    }
    let _ = server.kill();
    let _ = server.wait();
    out
}

/// rexim's `SSL verify error` lines in the mainlog after the first `skip`, as
/// `(depth, reason, cert)`.
fn logged(d: &TlsDaemon, skip: usize) -> Vec<(usize, String, String)> {
    d.mainlog()
        .lines()
        .filter_map(|l| l.split_once(" [127.0.0.1] SSL verify error: depth="))
        .skip(skip)
        .map(|(_, rest)| {
            let (depth, rest) = rest.split_once(" error=").unwrap();
            let (reason, cert) = rest.rsplit_once(" cert=").unwrap();
            (depth.parse().unwrap(), reason.to_string(), cert.to_string())
        })
        .collect()
}

/// The subject at `depth` of each case's chain, as Exim logs it.
fn subject(name: &str, depth: usize) -> &'static str {
    match (name, depth) {
        ("deep", 1) => "/CN=mid",
        ("deep", 0) => "/CN=deep.client",
        ("expired", _) => "/CN=expired.client",
        ("future", _) => "/CN=future.client",
        ("revoked", _) => "/CN=revoked.client",
        ("stranger", _) => "/CN=stranger.client",
        ("self", _) => "/CN=self.client",
        _ => panic!("{name} {depth}"),
    }
}

const TRUST: &str = "tls_verify_certificates = TESTDIR/alpha.pem\ntls_crl = TESTDIR/crl.pem";

#[test]
fn try_verify_logs_each_failure_as_openssl_reports_it_and_goes_on() {
    let d = start(
        "verr-try",
        &format!("acl_smtp_rcpt = accept\ntls_try_verify_hosts = 127.0.0.1\n{TRUST}"),
        "",
    );
    if !make_pki(&d.dir) {
        eprintln!("SKIPPED: no openssl command here");
        return;
    }
    let mut seen = 0;
    let mut want_all = Vec::new();
    for (name, files) in CASES {
        let cfg = client(&d, name, files);
        let mut c = d.offering_starttls("client.test");
        assert_eq!(c.cmd("STARTTLS"), "220 TLS go ahead");
        let mut c = c.handshake(&cfg);
        assert!(c.cmd("EHLO client.test").starts_with("250"), "{name}");
        let id = send_message(&mut c);
        assert!(c.cmd("QUIT").starts_with("221"));
        let line = d.arrival(&id);
        assert!(line.contains(" CV=no "), "{name}: {line}");
        let got = logged(&d, seen);
        seen += got.len();
        let want = openssl_failures(&d, &cfg);
        assert!(!want.is_empty(), "{name}: OpenSSL found nothing wrong");
        let depths_reasons: Vec<(usize, String)> =
            got.iter().map(|(n, r, _)| (*n, r.clone())).collect();
        assert_eq!(depths_reasons, want, "{name}");
        for (depth, _, cert) in &got {
            assert_eq!(cert, subject(name, *depth), "{name}");
        }
        want_all.extend(want);
    }
    // The reasons met on the way, in OpenSSL's words.
    for reason in [
        "certificate has expired",
        "certificate is not yet valid",
        "certificate revoked",
        "unable to get local issuer certificate",
        "self-signed certificate",
        "unable to get certificate CRL",
    ] {
        assert!(want_all.iter().any(|(_, r)| r == reason), "{reason}");
    }
    // A good certificate: nothing logged.
    let cfg = client(&d, "good", &["good.pem"]);
    let mut c = d.offering_starttls("client.test");
    assert_eq!(c.cmd("STARTTLS"), "220 TLS go ahead");
    let mut c = c.handshake(&cfg);
    assert!(c.cmd("EHLO client.test").starts_with("250"));
    let id = send_message(&mut c);
    assert!(d.arrival(&id).contains(" CV=yes "));
    assert!(logged(&d, seen).is_empty());
}

#[test]
fn required_verification_logs_the_first_failure_before_the_tls_error() {
    let d = start(
        "verr-req",
        &format!("acl_smtp_rcpt = accept\ntls_verify_hosts = 127.0.0.1\n{TRUST}"),
        "",
    );
    if !make_pki(&d.dir) {
        eprintln!("SKIPPED: no openssl command here");
        return;
    }
    let tls_error = "TLS error on connection from (client.test) [127.0.0.1] (SSL_accept): ";
    for (i, (name, files)) in CASES.iter().enumerate() {
        let cfg = client(&d, name, files);
        let mut c = d.offering_starttls("client.test");
        assert_eq!(c.cmd("STARTTLS"), "220 TLS go ahead");
        let tcp = c.r.into_inner();
        tcp.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
        let sni = ServerName::try_from("localhost").unwrap();
        let conn = rustls::ClientConnection::new(cfg.clone(), sni).unwrap();
        let mut tls = rustls::StreamOwned::new(conn, tcp);
        // TLS 1.3: the refusal comes after the client's side of the handshake.
        let mut failed = false;
        for _ in 0..10 {
            if tls.conn.complete_io(&mut tls.sock).is_err() {
                failed = true;
                break;
            }
            if !tls.conn.is_handshaking() && !tls.conn.wants_read() {
                break;
            }
        }
        if !failed {
            let mut buf = [0u8; 64];
            failed = std::io::Read::read(&mut tls, &mut buf).is_err();
        }
        assert!(failed, "{name} was let in");
        let deadline = Instant::now() + IO_TIMEOUT;
        let log = loop {
            let log = d.mainlog();
            if log.matches(tls_error).count() > i || Instant::now() > deadline {
                break log;
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        let got = logged(&d, i);
        let want = openssl_failures(&d, &cfg);
        assert_eq!(got.len(), 1, "{name}: {log}");
        assert_eq!((got[0].0, got[0].1.clone()), want[0], "{name}");
        assert_eq!(got[0].2, subject(name, got[0].0));
        // The verify line comes just before the TLS error line.
        let lines: Vec<&str> = log.lines().collect();
        let at = lines
            .iter()
            .rposition(|l| l.contains("SSL verify error:"))
            .unwrap();
        assert!(lines[at + 1].contains(tls_error), "{log}");
    }
}
