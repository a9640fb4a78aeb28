//! `tls_crl`: client certificates checked against a PEM CRL file, with a CA, client
//! certificates and CRLs made by the `openssl` command (skipped where it is absent).
//! A revoked certificate fails `tls_verify_hosts` (no handshake) and leaves
//! `tls_try_verify_hosts` unverified (`CV=no`), as in Exim; a CRL file that changes is
//! read again. End to end over 127.0.0.1.

mod support;

use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::ClientConfig;
use support::pki;
use support::tls::{send_message, start, TlsDaemon as Daemon};

/// A CA, client certificates `good` and `bad`, and CRLs: `crl-none.pem` (nothing
/// revoked) and `crl-bad.pem` (`bad` revoked). `false`: no openssl command.
fn make_pki(dir: &Path) -> bool {
    if !pki::make_ca(dir, "ca", None) {
        return false;
    }
    assert!(pki::issue(dir, "ca", "good", None));
    assert!(pki::issue(dir, "ca", "bad", None));
    assert!(pki::crl(dir, "ca", "crl-none.pem"));
    assert!(pki::revoke(dir, "ca", "bad.pem"));
    assert!(pki::crl(dir, "ca", "crl-bad.pem"));
    true
}

/// A client presenting `name`'s certificate.
fn client(d: &Daemon, name: &str) -> Arc<ClientConfig> {
    let cert = CertificateDer::from_pem_file(d.dir.join(format!("{name}.pem"))).unwrap();
    let key = PrivateKeyDer::from_pem_file(d.dir.join(format!("{name}.key"))).unwrap();
    Arc::new(
        d.client_builder(rustls::ALL_VERSIONS)
            .with_client_auth_cert(vec![cert], key)
            .unwrap(),
    )
}

/// STARTTLS with `cfg`; `Err` when the handshake fails.
fn try_starttls(d: &Daemon, cfg: &Arc<ClientConfig>) -> Result<support::tls::TlsClient, String> {
    let mut c = d.offering_starttls("client.test");
    assert_eq!(c.cmd("STARTTLS"), "220 TLS go ahead");
    let tcp = c.r.into_inner();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let conn = rustls::ClientConnection::new(cfg.clone(), name).unwrap();
    let mut tls = rustls::StreamOwned::new(conn, tcp);
    while tls.conn.is_handshaking() {
        tls.conn
            .complete_io(&mut tls.sock)
            .map_err(|e| e.to_string())?;
    }
    let mut c = support::client::Client {
        r: std::io::BufReader::new(tls),
    };
    // TLS 1.3: the server's verdict on our certificate comes with its first records.
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| c.cmd("EHLO client.test")));
    match r {
        Ok(reply) if reply.starts_with("250") => Ok(c),
        Ok(reply) => Err(reply),
        Err(_) => Err("connection ended after the handshake".into()),
    }
}

const ACL: &str = "rcpt:\n  warn logwrite = verified=$tls_in_certificate_verified \
    dn=$tls_in_peerdn\n  accept\n";

#[test]
fn revoked_client_certificate_fails_required_verification() {
    let d = start(
        "crl-required",
        "acl_smtp_rcpt = rcpt\ntls_verify_hosts = 127.0.0.1\n\
         tls_verify_certificates = TESTDIR/ca.pem\ntls_crl = TESTDIR/crl.pem\n\
         tls_resumption_hosts = 127.0.0.1",
        ACL,
    );
    if !make_pki(&d.dir) {
        eprintln!("SKIPPED: no openssl command here");
        return;
    }
    let crl = d.dir.join("crl.pem");
    // Nothing revoked yet: both certificates verify (bad twice, the second time
    // resuming its session).
    std::fs::copy(d.dir.join("crl-none.pem"), &crl).unwrap();
    let bad = client(&d, "bad");
    let mut kinds = Vec::new();
    for (name, cfg) in [
        ("good", client(&d, "good")),
        ("bad", bad.clone()),
        ("bad", bad.clone()),
    ] {
        let mut c = try_starttls(&d, &cfg).unwrap_or_else(|e| panic!("{name}: {e}"));
        kinds.push(c.r.get_ref().conn.handshake_kind());
        let id = send_message(&mut c);
        assert!(c.cmd("QUIT").starts_with("221"));
        let log = d.wait_log(&format!("{id} <="));
        assert!(
            log.contains(&format!("verified=1 dn=/CN={name}.client")),
            "{log}"
        );
    }
    assert_eq!(
        d.mainlog().matches("verified=1 dn=/CN=bad.client").count(),
        2
    );
    assert_eq!(kinds[2], Some(rustls::HandshakeKind::Resumed));
    // The CRL file changes (bad revoked): it is read again, and bad is refused in the
    // handshake, its earlier session no way around it; good still gets in.
    std::thread::sleep(std::time::Duration::from_millis(20));
    std::fs::copy(d.dir.join("crl-bad.pem"), &crl).unwrap();
    assert!(try_starttls(&d, &bad).is_err());
    let log = d.wait_log("TLS error on connection from (client.test) [127.0.0.1] (SSL_accept): ");
    assert!(log.contains("Revoked"), "{log}");
    let mut c = try_starttls(&d, &client(&d, "good")).expect("good after the new CRL");
    let id = send_message(&mut c);
    assert!(c.cmd("QUIT").starts_with("221"));
    let line = d.arrival(&id);
    assert!(line.contains(" CV=yes "), "{line}");

    // A CRL that cannot be found: TLS unavailable (454), as Exim's stat failure.
    std::fs::remove_file(&crl).unwrap();
    let mut c = d.connect();
    assert!(c.reply().starts_with("220"));
    c.cmd("EHLO client.test");
    assert_eq!(c.cmd("STARTTLS"), "454 TLS currently unavailable");
    d.wait_log(&format!(
        "(tls_crl): failed to stat {} for certificates revocation lists",
        crl.display()
    ));
}

#[test]
fn revoked_client_certificate_is_unverified_under_try_verify() {
    let d = start(
        "crl-try",
        "acl_smtp_rcpt = rcpt\ntls_try_verify_hosts = 127.0.0.1\n\
         tls_verify_certificates = TESTDIR/ca.pem\ntls_crl = TESTDIR/crl-bad.pem",
        ACL,
    );
    if !make_pki(&d.dir) {
        eprintln!("SKIPPED: no openssl command here");
        return;
    }
    for (name, verified, cv) in [("bad", "0", "CV=no"), ("good", "1", "CV=yes")] {
        let mut c = try_starttls(&d, &client(&d, name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        let id = send_message(&mut c);
        assert!(c.cmd("QUIT").starts_with("221"));
        let log = d.wait_log(&format!("{id} <="));
        assert!(
            log.contains(&format!("verified={verified} dn=/CN={name}.client")),
            "{log}"
        );
        let line = log
            .lines()
            .find(|l| l.contains(&format!("{id} <=")))
            .unwrap();
        assert!(line.contains(cv), "{line}");
    }
}
