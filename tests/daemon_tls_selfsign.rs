//! STARTTLS without `tls_certificate`: the daemon's self-signed default certificate,
//! shaped as Exim's OpenSSL build makes it (RSA-2048, v3, serial 1, two hours,
//! `C=UK, O=Exim Developers, CN=<primary_hostname>`), made once per daemon; the embedded
//! default configuration's STARTTLS; and `openssl_options` / `tls_dhparam` at startup.
//! End to end over 127.0.0.1, every read bounded.

mod support;

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::daemon::{self, IO_TIMEOUT};
use support::tls::{send_message, start, start_selfsigned};
use support::tools::openssl_x509;

const OURCERT_ACL: &str = "rcpt:\n  \
    warn logwrite = ourcert subject=${certextract{subject}{$tls_in_ourcert}} \
         issuer=${certextract{issuer}{$tls_in_ourcert}} \
         version=${certextract{version}{$tls_in_ourcert}} \
         serial=${certextract{serial_number}{$tls_in_ourcert}} \
         sha256=${sha256:$tls_in_ourcert}\n  \
    accept\n";

#[test]
fn selfsigned_certificate_as_exims() {
    let d = start_selfsigned("selfsign", "acl_smtp_rcpt = rcpt", OURCERT_ACL);
    let cfg = d.client_config_any(rustls::ALL_VERSIONS);
    let mut presented = Vec::new();
    for _ in 0..2 {
        let (mut c, _) = d.connect().upgrade(&cfg);
        let cert = c.r.get_ref().conn.peer_certificates().unwrap()[0].to_vec();
        presented.push(cert);
        let id = send_message(&mut c);
        assert!(c.cmd("QUIT").starts_with("221"));
        d.wait_log(&format!("{id} <="));
    }
    // Made once for the daemon, not per connection.
    assert_eq!(presented[0], presented[1]);
    let der = &presented[0];

    let (_, x) = x509_parser::parse_x509_certificate(der).unwrap();
    assert_eq!(
        x.subject().to_string(),
        "C=UK, O=Exim Developers, CN=test.example"
    );
    assert_eq!(x.subject(), x.issuer(), "self-signed");
    assert_eq!(x.raw_serial(), &[1]);
    assert_eq!(
        x.validity().not_after.timestamp() - x.validity().not_before.timestamp(),
        2 * 60 * 60
    );
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    assert!((x.validity().not_before.timestamp() - now).abs() < 600);
    match x.public_key().parsed().unwrap() {
        x509_parser::public_key::PublicKey::RSA(k) => assert_eq!(k.key_size(), 2048),
        other => panic!("Exim makes an RSA key, not {other:?}"),
    }

    // $tls_in_ourcert as Exim's certextract gives it (its OpenSSL build prints the
    // version field as stored: 2 for X.509 v3).
    let log = d.mainlog();
    let sha = {
        let mut ctx = rexim::Context::default();
        ctx.set_certificate("tls_in_ourcert", der).unwrap();
        rexim::expand::expand_str("${sha256:$tls_in_ourcert}", &mut ctx)
            .unwrap()
            .as_str_lossy()
            .into_owned()
    };
    let want = format!(
        "ourcert subject=CN=test.example,O=Exim Developers,C=UK \
         issuer=CN=test.example,O=Exim Developers,C=UK version=2 serial=01 sha256={sha}"
    );
    assert_eq!(log.matches(&want).count(), 2, "{want}\n{log}");
    match (
        openssl_x509(&d.dir, der, &["-subject", "-issuer", "-nameopt", "RFC2253"]),
        openssl_x509(&d.dir, der, &["-fingerprint", "-sha256"]),
    ) {
        (Some(names), Some(fp)) => {
            assert_eq!(
                names,
                "subject=CN=test.example,O=Exim Developers,C=UK\n\
                 issuer=CN=test.example,O=Exim Developers,C=UK"
            );
            assert!(fp.ends_with(&format!("={}", colons(&sha))), "{fp} {sha}");
        }
        _ => eprintln!("SKIPPED openssl comparison: no openssl command here"),
    }
}

/// `ABCD…` as `AB:CD:…`.
fn colons(hex: &str) -> String {
    hex.as_bytes()
        .chunks(2)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect::<Vec<_>>()
        .join(":")
}

/// `rexim -bd` with its built-in configuration (no -C), in a scratch directory (the
/// spool is `./rexim-spool`), on a free port given with `-oX`.
#[test]
fn embedded_default_configuration_offers_working_starttls() {
    let dir = daemon::fresh_dir("tls-default");
    let port = daemon::free_port();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_rexim"));
    cmd.args(["-bd", "-oX", &format!("{port}")])
        .current_dir(&dir);
    let d = daemon::launch(dir, port, cmd);
    let mut c = d.connect();
    assert!(c.reply().starts_with("220 "));
    let ehlo = c.cmd("EHLO client.test");
    assert!(ehlo.contains("\n250-STARTTLS\n"), "{ehlo}");
    assert_eq!(c.cmd("STARTTLS"), "220 TLS go ahead");
    let cfg = support::tls::any_server_config(rustls::ALL_VERSIONS);
    let mut t = c.handshake(&cfg);
    let host = rexim::smtp::config::SessionConfig::default().primary_hostname;
    let cert = t.r.get_ref().conn.peer_certificates().unwrap()[0].to_vec();
    let (_, x) = x509_parser::parse_x509_certificate(&cert).unwrap();
    assert_eq!(
        x.subject().to_string(),
        format!("C=UK, O=Exim Developers, CN={host}")
    );
    assert!(t.cmd("EHLO client.test").starts_with("250-"));
    assert!(t.cmd("MAIL FROM:<a@client.test>").starts_with("250"));
    assert!(t.cmd("RCPT TO:<postmaster@localhost>").starts_with("250"));
    assert!(t.cmd("DATA").starts_with("354"));
    t.send(b"Subject: hi\r\n\r\nbody\r\n.\r\n");
    let r = t.reply();
    assert!(r.starts_with("250 OK id="), "{r}");
    assert!(t.cmd("QUIT").starts_with("221"));
    let log_path = d.dir.join("rexim-spool/log/mainlog");
    let deadline = Instant::now() + IO_TIMEOUT;
    let log = loop {
        let log = std::fs::read_to_string(&log_path).unwrap_or_default();
        if log.contains(" <= a@client.test") {
            break log;
        }
        assert!(Instant::now() < deadline, "no <= line:\n{log}");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(
        log.contains("P=esmtps X=TLS1.3:TLS_AES_256_GCM_SHA384:256 CV=no "),
        "{log}"
    );
}

const CIPHER_ACL: &str = "rcpt:\n  warn logwrite = cipher=$tls_in_cipher\n  accept\n";

#[test]
fn openssl_options_act_on_rustls() {
    let d = start(
        "ossl-opts",
        "acl_smtp_rcpt = rcpt\n\
         openssl_options = +no_tlsv1_3 +cipher_server_preference +all -no_ticket\n\
         tls_dhparam = /nonexistent/dh.pem\nlog_selector = +tls_resumption",
        CIPHER_ACL,
    );
    // The switches rustls cannot honour, and tls_dhparam, are named at startup.
    let log = d.wait_log("openssl_options: ");
    assert!(
        log.contains("openssl_options: rexim does not act on +all (rustls has no such switch)\n"),
        "{log}"
    );
    assert!(
        log.contains(
            "tls_dhparam is not supported by rexim and is ignored: rustls has no \
             finite-field DH (no DHE suites; ECDHE and TLS 1.3 key exchange only)\n"
        ),
        "{log}"
    );
    // +no_tlsv1_3: a client offering both gets TLS 1.2; +cipher_server_preference: the
    // server's first suite (AES-256-GCM) wins over the client's first (ChaCha20).
    let mut client_pref = rustls::crypto::ring::default_provider();
    client_pref.cipher_suites = vec![
        rustls::crypto::ring::cipher_suite::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
        rustls::crypto::ring::cipher_suite::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
        rustls::crypto::ring::cipher_suite::TLS13_CHACHA20_POLY1305_SHA256,
    ];
    let mut roots = rustls::RootCertStore::empty();
    roots.add(d.cert.clone()).unwrap();
    let cfg = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(client_pref))
        .with_protocol_versions(rustls::ALL_VERSIONS)
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let cfg = std::sync::Arc::new(cfg);
    for round in 0..2 {
        let (mut c, _) = d.connect().upgrade(&cfg);
        // -no_ticket: tickets for every host, not only tls_resumption_hosts (unset).
        let kind = c.r.get_ref().conn.handshake_kind();
        let want = match round {
            0 => rustls::HandshakeKind::Full,
            _ => rustls::HandshakeKind::Resumed,
        };
        assert_eq!(kind, Some(want), "round {round}");
        let id = send_message(&mut c);
        assert!(c.cmd("QUIT").starts_with("221"));
        d.wait_log(&format!("{id} <="));
    }
    let log = d.mainlog();
    assert_eq!(
        log.matches("cipher=TLS1.2:ECDHE-ECDSA-AES256-GCM-SHA384:256")
            .count(),
        2,
        "{log}"
    );
}

#[test]
fn unknown_openssl_option_stops_the_daemon() {
    for (value, shown) in [
        ("+no_tlsv1_3 +bogus", "+no_tlsv1_3 +bogus"),
        ("no_ticket", "no_ticket"),
        // Not defined by OpenSSL 3.0, so not in Exim's table there either.
        ("+msie_sslv2_rsa_padding", "+msie_sslv2_rsa_padding"),
    ] {
        let dir = daemon::fresh_dir("tls-badopt");
        let conf = daemon::write_config(
            &dir,
            daemon::free_port(),
            &format!("openssl_options = {value}\n"),
        );
        let mut child = Command::new(env!("CARGO_BIN_EXE_rexim"))
            .args(["-bd", "-C"])
            .arg(&conf)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + IO_TIMEOUT;
        let status = loop {
            if let Some(st) = child.try_wait().unwrap() {
                break st;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("rexim -bd kept running with openssl_options = {value}");
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        let mut err = String::new();
        child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut err)
            .unwrap();
        assert!(!status.success());
        assert!(
            err.contains(&format!("openssl_options parse error: {shown}")),
            "{err}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}

/// swaks (Net::SSLeay, OpenSSL) over STARTTLS to the self-signed default, TLS 1.2 as
/// it is asked for; skipped where swaks is absent.
#[test]
fn swaks_over_the_selfsigned_default() {
    let d = start_selfsigned("selfsign-swaks", "acl_smtp_rcpt = accept", "");
    let mut swaks = Command::new("swaks");
    swaks
        .args(["--server", &format!("127.0.0.1:{}", d.port)])
        .args(["--timeout", "10", "--helo", "swaks.test"])
        .args([
            "--from",
            "sw@client.test",
            "--to",
            "u@test.example",
            "--tls",
        ])
        .args(["--tls-protocol", "tlsv1_2"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let Ok(mut child) = swaks.spawn() else {
        eprintln!("SKIPPED: swaks is not installed");
        return;
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("swaks did not finish");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut out = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    assert!(out.contains("<~  250 OK id="), "{out}");
    // An RSA key: the TLS 1.2 suite is ECDHE-RSA.
    d.wait_log(
        "<= sw@client.test H=(swaks.test) [127.0.0.1] P=esmtps \
         X=TLS1.2:ECDHE-RSA-AES256-GCM-SHA384:256 CV=no S=",
    );
}

/// The real `exim4 -bd` (Debian's, GnuTLS-built) as the oracle: its self-signed default
/// certificate against rexim's, fetched with `openssl s_client`. Same subject, issuer,
/// version, signature algorithm, RSA key and two-hour validity; the key size (GnuTLS:
/// 3072, the OpenSSL build and rexim: 2048) and serial (GnuTLS: the time) differ.
#[test]
fn selfsigned_certificate_matches_exim4s() {
    if !Path::new("/usr/sbin/exim4").exists() {
        eprintln!("SKIPPED: exim4 is not installed");
        return;
    }
    let d = start_selfsigned("selfsign-oracle", "", "");
    let port = daemon::free_port();
    let spool = d.dir.join("exim-spool");
    std::fs::create_dir_all(&spool).unwrap();
    let conf = d.dir.join("exim-bd.conf");
    std::fs::write(
        &conf,
        format!(
            "primary_hostname = test.example\nlocal_interfaces = 127.0.0.1\n\
             daemon_smtp_ports = {port}\nspool_directory = {0}\n\
             log_file_path = {0}/%slog\nexim_user = root\nexim_group = root\n\
             keep_environment =\n",
            spool.display()
        ),
    )
    .unwrap();
    let mut exim = Command::new("/usr/sbin/exim4")
        .arg("-C")
        .arg(&conf)
        .args(["-bdf", "-oX", &port.to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let fetched = fetch_with_s_client(port);
    let _ = exim.kill();
    let _ = exim.wait();
    let theirs = match fetched {
        Some(c) => c,
        None => {
            eprintln!("SKIPPED: exim4 -bd did not serve STARTTLS here (no openssl, or not root)");
            return;
        }
    };
    let (mut c, _) = d
        .connect()
        .upgrade(&d.client_config_any(rustls::ALL_VERSIONS));
    let ours = c.r.get_ref().conn.peer_certificates().unwrap()[0].to_vec();
    assert!(c.cmd("QUIT").starts_with("221"));
    let (_, a) = x509_parser::parse_x509_certificate(&ours).unwrap();
    let (_, b) = x509_parser::parse_x509_certificate(&theirs).unwrap();
    assert_eq!(a.subject().to_string(), b.subject().to_string());
    assert_eq!(a.issuer().to_string(), b.issuer().to_string());
    assert_eq!(a.version(), b.version());
    assert_eq!(
        a.signature_algorithm.algorithm,
        b.signature_algorithm.algorithm
    );
    assert_eq!(
        a.public_key().algorithm.algorithm,
        b.public_key().algorithm.algorithm
    );
    let span = |x: &x509_parser::certificate::X509Certificate| {
        x.validity().not_after.timestamp() - x.validity().not_before.timestamp()
    };
    assert_eq!(span(&a), span(&b));
}

/// The server certificate of a STARTTLS server on 127.0.0.1:`port`, by `openssl
/// s_client`, retried while the server starts; `None` if it never answers.
fn fetch_with_s_client(port: u16) -> Option<Vec<u8>> {
    use rustls::pki_types::pem::PemObject;
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        let mut child = Command::new("openssl")
            .args(["s_client", "-starttls", "smtp", "-connect"])
            .arg(format!("127.0.0.1:{port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .ok()?;
        let until = Instant::now() + Duration::from_secs(5);
        while child.try_wait().ok()?.is_none() && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = child.kill();
        let _ = child.wait();
        let mut out = Vec::new();
        child.stdout.take()?.read_to_end(&mut out).ok()?;
        if let Ok(c) = rustls::pki_types::CertificateDer::from_pem_slice(&out) {
            return Some(c.to_vec());
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    None
}
