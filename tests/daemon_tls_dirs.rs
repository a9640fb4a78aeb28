//! Directories for `tls_verify_certificates` (OpenSSL's CApath) and `tls_crl` (its
//! hashed CRL directory), with CAs made by the `openssl` command and its `rehash` links
//! (skipped where openssl is absent). Verdicts are compared with `openssl verify` on
//! the same directory and, for the CA directory, with Exim 4.96 (`exim4 -bdf`, whose
//! GnuTLS build reads a CA directory too; it has no CRL directory). End to end over
//! 127.0.0.1.

mod support;

use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::ClientConfig;
use support::daemon::{self, Daemon};
use support::pki;
use support::tls::{send_message, start, TlsDaemon};

/// A client presenting `name`'s certificate (files in `dir`) to `d`.
fn client(d: &TlsDaemon, dir: &Path, name: &str) -> Arc<ClientConfig> {
    let cert = CertificateDer::from_pem_file(dir.join(format!("{name}.pem"))).unwrap();
    let key = PrivateKeyDer::from_pem_file(dir.join(format!("{name}.key"))).unwrap();
    Arc::new(
        d.client_builder(rustls::ALL_VERSIONS)
            .with_client_auth_cert(vec![cert], key)
            .unwrap(),
    )
}

/// STARTTLS on `port` with `cfg` and a message; `true` when it went through.
fn message_over_tls(port: u16, cfg: &Arc<ClientConfig>) -> bool {
    let mut c = support::client::Client::connect(port);
    assert!(c.reply().starts_with("220"));
    assert!(c.cmd("EHLO client.test").contains("STARTTLS"));
    assert_eq!(c.cmd("STARTTLS"), "220 TLS go ahead");
    let tcp = c.r.into_inner();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let conn = rustls::ClientConnection::new(cfg.clone(), name).unwrap();
    let mut tls = rustls::StreamOwned::new(conn, tcp);
    while tls.conn.is_handshaking() {
        if tls.conn.complete_io(&mut tls.sock).is_err() {
            return false;
        }
    }
    let mut c = support::client::Client {
        r: std::io::BufReader::new(tls),
    };
    // TLS 1.3: the server's verdict on our certificate comes with its first records.
    let ok = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        if !c.cmd("EHLO client.test").starts_with("250") {
            return false;
        }
        send_message(&mut c);
        c.cmd("QUIT");
        true
    }));
    ok.unwrap_or(false)
}

/// `exim4 -bdf` on a free port with `rest` (as for rexim, `TESTDIR` already replaced),
/// its spool and logs in a directory of its own; `None` where exim4 is absent.
fn exim_daemon(tag: &str, rest: &str) -> Option<Daemon> {
    if !Path::new("/usr/sbin/exim4").exists() {
        return None;
    }
    let dir = daemon::fresh_dir(tag);
    let port = daemon::free_port();
    let rest = format!(
        "exim_user = root\nexim_group = root\nkeep_environment =\nqueue_only = true\n{rest}"
    );
    let conf = daemon::write_config(&dir, port, &rest);
    let mut cmd = Command::new("/usr/sbin/exim4");
    cmd.args(["-bdf", "-oX", &port.to_string(), "-C"]).arg(conf);
    Some(daemon::launch(dir, port, cmd))
}

/// Wait (bounded) until the mainlog holds `n` lines with `what`, and no more.
fn wait_count(d: &Daemon, what: &str, n: usize) {
    let deadline = std::time::Instant::now() + daemon::IO_TIMEOUT;
    loop {
        let log = d.mainlog();
        let seen = log.matches(what).count();
        assert!(seen <= n, "{what:?} {seen} times:\n{log}");
        if seen == n {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{what:?} {seen} times:\n{log}"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// `openssl verify` of `cert` with `args` (the trust settings): OpenSSL's verdict.
fn openssl_verifies(dir: &Path, args: &[&str], cert: &str) -> bool {
    let mut all = vec!["verify"];
    all.extend(args);
    all.push(cert);
    let out = pki::openssl_output(dir, &all).unwrap();
    out.contains(&format!("{cert}: OK"))
}

const OPTIONS: &str = "acl_smtp_rcpt = accept\ntls_verify_hosts = 127.0.0.1\n\
    tls_verify_certificates = TESTDIR/cas";

#[test]
fn ca_directory_is_read_whole_and_again_when_it_changes() {
    let d = start("cadir", OPTIONS, "");
    let dir = d.dir.clone();
    if !pki::make_ca(&dir, "alpha", None) {
        eprintln!("SKIPPED: no openssl command here");
        return;
    }
    assert!(pki::make_ca(&dir, "beta", None));
    assert!(pki::issue(&dir, "alpha", "one", None));
    assert!(pki::issue(&dir, "beta", "two", None));
    // The directory: alpha's certificate, hash links to it (when openssl has
    // `rehash`), and files that are not certificates.
    let cas = dir.join("cas");
    std::fs::create_dir(&cas).unwrap();
    std::fs::copy(dir.join("alpha.pem"), cas.join("alpha.pem")).unwrap();
    std::fs::copy(dir.join("alpha.key"), cas.join("alpha.key")).unwrap();
    std::fs::write(cas.join("README"), "CAs for the test\n").unwrap();
    let hashed = pki::rehash(&cas);
    if hashed {
        let links = std::fs::read_dir(&cas)
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .ends_with(".0")
            })
            .count();
        assert_eq!(links, 1);
    }
    let (one, two) = (client(&d, &dir, "one"), client(&d, &dir, "two"));
    let exim_rest =
        format!("{TLS_FILES}\n{OPTIONS}").replace("TESTDIR", &dir.display().to_string());
    let mut rexim_said = vec![
        message_over_tls(d.port, &one),
        message_over_tls(d.port, &two),
    ];
    let line = d.wait_log(" <= a@client.test");
    assert!(line.contains(" CV=yes "), "{line}");
    d.wait_log("TLS error on connection from (client.test) [127.0.0.1] (SSL_accept): ");

    // beta joins the directory: it is read again and two gets in.
    std::thread::sleep(std::time::Duration::from_millis(20));
    std::fs::copy(dir.join("beta.pem"), cas.join("beta.pem")).unwrap();
    pki::rehash(&cas);
    rexim_said.push(message_over_tls(d.port, &two));
    assert_eq!(rexim_said, [true, false, true]);
    wait_count(&d, " CV=yes ", 2);
    if hashed {
        let ca = cas.display().to_string();
        let said: Vec<bool> = ["one.pem", "two.pem"]
            .iter()
            .map(|c| openssl_verifies(&dir, &["-CApath", &ca, "-no-CAfile", "-no-CAstore"], c))
            .collect();
        assert_eq!(said, [true, true]);
    }

    // Exim 4.96 watches a CA directory's parent only (and reloads 5 s later), so it
    // misses a file added inside it: each state gets a daemon of its own.
    std::fs::remove_file(cas.join("beta.pem")).unwrap();
    pki::rehash(&cas);
    let Some(exim) = exim_daemon("cadir-exim", &exim_rest) else {
        eprintln!("SKIPPED exim4 part: exim4 is not installed");
        return;
    };
    let mut exim_said = vec![
        message_over_tls(exim.port, &one),
        message_over_tls(exim.port, &two),
    ];
    drop(exim);
    std::fs::copy(dir.join("beta.pem"), cas.join("beta.pem")).unwrap();
    pki::rehash(&cas);
    let exim = exim_daemon("cadir-exim2", &exim_rest).unwrap();
    exim_said.push(message_over_tls(exim.port, &two));
    assert_eq!(exim_said, rexim_said, "exim4:\n{}", exim.mainlog());
    let line = exim.wait_log(" <= a@client.test");
    assert!(line.contains(" CV=yes "), "{line}");
}

/// The certificate files [`start`] writes, for Exim's configuration.
const TLS_FILES: &str = "tls_certificate = TESTDIR/cert.pem\ntls_privatekey = TESTDIR/key.pem";

#[test]
fn crl_directory_is_read_whole_and_again_when_it_changes() {
    let d = start(
        "crldir",
        "acl_smtp_rcpt = accept\ntls_try_verify_hosts = 127.0.0.1\n\
         tls_verify_certificates = TESTDIR/alpha.pem\ntls_crl = TESTDIR/crls",
        "",
    );
    let dir = d.dir.clone();
    if !pki::make_ca(&dir, "alpha", None) {
        eprintln!("SKIPPED: no openssl command here");
        return;
    }
    assert!(pki::issue(&dir, "alpha", "good", None));
    assert!(pki::issue(&dir, "alpha", "bad", None));
    assert!(pki::crl(&dir, "alpha", "crl-none.pem"));
    assert!(pki::revoke(&dir, "alpha", "bad.pem"));
    assert!(pki::crl(&dir, "alpha", "crl-bad.pem"));
    let crls = dir.join("crls");
    std::fs::create_dir(&crls).unwrap();
    // The CRL with bad revoked, and a certificate beside it (a directory shared with
    // the CAs, as c_rehash makes them): only the CRL counts.
    std::fs::copy(dir.join("crl-bad.pem"), crls.join("alpha-crl.pem")).unwrap();
    std::fs::copy(dir.join("alpha.pem"), crls.join("alpha.pem")).unwrap();
    let hashed = pki::rehash(&crls);
    let (good, bad) = (client(&d, &dir, "good"), client(&d, &dir, "bad"));
    // tls_try_verify_hosts: both get in, bad unverified.
    assert!(message_over_tls(d.port, &good));
    assert!(message_over_tls(d.port, &bad));
    wait_count(&d, " CV=no ", 1);
    wait_count(&d, " CV=yes ", 1);
    if hashed {
        let ca = crls.display().to_string();
        let args = ["-CAfile", "alpha.pem", "-CApath", &ca, "-crl_check_all"];
        let said: Vec<bool> = ["good.pem", "bad.pem"]
            .iter()
            .map(|c| openssl_verifies(&dir, &args, c))
            .collect();
        assert_eq!(said, [true, false]);
    }

    // The CRL file is rewritten in place with one revoking nothing (the directory's
    // own mtime stays): seen within a second, read again, bad verifies.
    std::fs::copy(dir.join("crl-none.pem"), crls.join("alpha-crl.pem")).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1100));
    assert!(message_over_tls(d.port, &bad));
    wait_count(&d, " CV=yes ", 2);

    // No CRL at all in the directory: no certificate can be checked (OpenSSL's
    // `unable to get certificate CRL`), so none verifies.
    std::fs::remove_file(crls.join("alpha-crl.pem")).unwrap();
    pki::rehash(&crls);
    assert!(message_over_tls(d.port, &good));
    wait_count(&d, " CV=no ", 2);
    if hashed {
        let ca = crls.display().to_string();
        let args = ["-CAfile", "alpha.pem", "-CApath", &ca, "-crl_check_all"];
        assert!(!openssl_verifies(&dir, &args, "good.pem"));
    }
}

/// A client certificate resolver that notes the CA names the server asked for.
#[derive(Debug)]
struct NotingHints {
    key: Arc<rustls::sign::CertifiedKey>,
    seen: std::sync::Mutex<Vec<Vec<Vec<u8>>>>,
}

impl rustls::client::ResolvesClientCert for NotingHints {
    fn resolve(
        &self,
        hints: &[&[u8]],
        _: &[rustls::SignatureScheme],
    ) -> Option<Arc<rustls::sign::CertifiedKey>> {
        self.seen
            .lock()
            .unwrap()
            .push(hints.iter().map(|h| h.to_vec()).collect());
        Some(self.key.clone())
    }
    fn has_certs(&self) -> bool {
        true
    }
}

/// Exim's OpenSSL build sends the CA names of a `tls_verify_certificates` file in the
/// certificate request, and none for a directory.
#[test]
fn ca_names_are_sent_for_a_file_only() {
    let d = start(
        "cadir-names",
        "acl_smtp_rcpt = accept\ntls_try_verify_hosts = 127.0.0.1\n\
         tls_verify_certificates = ${if exists{TESTDIR/use-dir}{TESTDIR/cas}{TESTDIR/alpha.pem}}",
        "",
    );
    let dir = d.dir.clone();
    if !pki::make_ca(&dir, "alpha", None) {
        eprintln!("SKIPPED: no openssl command here");
        return;
    }
    assert!(pki::issue(&dir, "alpha", "one", None));
    std::fs::create_dir(dir.join("cas")).unwrap();
    std::fs::copy(dir.join("alpha.pem"), dir.join("cas/alpha.pem")).unwrap();
    let cert = CertificateDer::from_pem_file(dir.join("one.pem")).unwrap();
    let key = PrivateKeyDer::from_pem_file(dir.join("one.key")).unwrap();
    let signer = rustls::crypto::ring::sign::any_supported_type(&key).unwrap();
    let noting = Arc::new(NotingHints {
        key: Arc::new(rustls::sign::CertifiedKey::new(vec![cert], signer)),
        seen: std::sync::Mutex::new(Vec::new()),
    });
    let cfg = Arc::new(
        d.client_builder(rustls::ALL_VERSIONS)
            .with_client_cert_resolver(noting.clone()),
    );
    assert!(message_over_tls(d.port, &cfg));
    std::fs::write(dir.join("use-dir"), "").unwrap();
    assert!(message_over_tls(d.port, &cfg));
    wait_count(&d, " CV=yes ", 2);
    let seen = noting.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 2);
    // The file: alpha's subject (the DER of `CN=alpha`, without the SEQUENCE header
    // rustls strips); the directory: nothing.
    let (_, alpha) = x509_parser::parse_x509_certificate(
        CertificateDer::from_pem_file(dir.join("alpha.pem"))
            .unwrap()
            .as_ref(),
    )
    .map(|(r, c)| (r, c.subject().as_raw().to_vec()))
    .unwrap();
    assert_eq!(seen[0].len(), 1);
    assert!(alpha.ends_with(&seen[0][0]), "{:?}", seen[0]);
    assert!(seen[1].is_empty(), "{:?}", seen[1]);
}
