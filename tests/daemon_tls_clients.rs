//! STARTTLS with other clients and settings: TLS 1.2 with `tls_require_ciphers` and
//! ticket resumption, client certificates (`tls_verify_hosts`, `tls_try_verify_hosts`,
//! `verify = certificate`, `$tls_in_peerdn`), and OpenSSL clients (Python's smtplib,
//! swaks) where installed. End to end over 127.0.0.1, every read bounded.

mod support;

use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use support::tls::{client_pki, send_message, start};
use support::tools::run_bounded;

#[test]
fn tls12_with_require_ciphers_and_ticket_resumption() {
    let d = start(
        "tls12",
        "acl_smtp_rcpt = accept\ntls_require_ciphers = ECDHE-ECDSA-AES128-GCM-SHA256\n\
         tls_resumption_hosts = *\nlog_selector = +tls_resumption",
        "",
    );
    let cfg = Arc::new(
        d.client_builder(&[&rustls::version::TLS12])
            .with_no_client_auth(),
    );
    let mut ids = Vec::new();
    for round in 0..2 {
        let (mut c, ehlo) = d.connect().upgrade(&cfg);
        assert!(ehlo.starts_with("250-test.example Hello"), "{ehlo}");
        let kind = c.r.get_ref().conn.handshake_kind();
        let want = if round == 0 {
            rustls::HandshakeKind::Full
        } else {
            rustls::HandshakeKind::Resumed
        };
        assert_eq!(kind, Some(want), "round {round}");
        ids.push(send_message(&mut c));
        assert!(c.cmd("QUIT").starts_with("221"));
    }
    let log = d.wait_log(&format!("{} <=", ids[1]));
    let x = "X=TLS1.2:ECDHE-ECDSA-AES128-GCM-SHA256:128";
    assert!(
        log.contains(&format!(
            "{} <= a@client.test H=(client.test) [127.0.0.1] P=esmtps {x} CV=no S=",
            ids[0]
        )),
        "{log}"
    );
    assert!(
        log.contains(&format!(
            "{} <= a@client.test H=(client.test) [127.0.0.1] P=esmtps {x}* CV=no S=",
            ids[1]
        )),
        "{log}"
    );
    assert!(d.header_file(&ids[0]).contains("-tls_ver TLS1.2\n"));
}

const CERT_ACL: &str = "rcpt:\n  deny !verify = certificate\n  \
    warn logwrite = peer dn=$tls_in_peerdn cv=$tls_in_certificate_verified\n  accept\n";

#[test]
fn required_client_certificate() {
    let (ca_pem, cert, key) = client_pki();
    let d = start(
        "verify",
        "acl_smtp_rcpt = rcpt\ntls_verify_hosts = 127.0.0.1\n\
         tls_verify_certificates = TESTDIR/ca.pem\nlog_selector = +tls_peerdn",
        CERT_ACL,
    );
    std::fs::write(d.dir.join("ca.pem"), ca_pem).unwrap();
    let cfg = Arc::new(
        d.client_builder(rustls::ALL_VERSIONS)
            .with_client_auth_cert(vec![cert], key)
            .unwrap(),
    );
    let (mut c, _) = d.connect().upgrade(&cfg);
    let id = send_message(&mut c);
    assert!(c.cmd("QUIT").starts_with("221"));
    let log = d.wait_log(&format!("{id} <="));
    assert!(
        log.contains("peer dn=/O=Example/CN=client.test cv=1"),
        "{log}"
    );
    assert!(
        log.contains(
            "X=TLS1.3:TLS_AES_256_GCM_SHA384:256 CV=yes DN=\"/O=Example/CN=client.test\" S="
        ),
        "{log}"
    );
    assert!(d
        .header_file(&id)
        .contains("-tls_certificate_verified\n-tls_cipher "));

    // No certificate: the handshake fails, and is logged.
    let mut c = d.connect();
    assert!(c.reply().starts_with("220"));
    c.cmd("EHLO client.test");
    assert_eq!(c.cmd("STARTTLS"), "220 TLS go ahead");
    let tcp = c.r.into_inner();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let conn = rustls::ClientConnection::new(d.client_config(), name).expect("client connection");
    let mut tls = rustls::StreamOwned::new(conn, tcp);
    let mut failed = false;
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        use std::io::{Read, Write};
        // TLS 1.3 clients finish first; the refusal comes with the first read.
        let _ = tls.write_all(b"EHLO client.test\r\n");
        let mut buf = [0u8; 256];
        match tls.read(&mut buf) {
            Ok(n) if n > 0 => continue,
            _ => {
                failed = true;
                break;
            }
        }
    }
    assert!(failed);
    d.wait_log("TLS error on connection from (client.test) [127.0.0.1] (SSL_accept): ");
}

#[test]
fn tried_client_certificate() {
    let (ca_pem, cert, key) = client_pki();
    let d = start(
        "tryverify",
        "acl_smtp_rcpt = rcpt\ntls_try_verify_hosts = *\n\
         tls_verify_certificates = TESTDIR/ca.pem\nlog_selector = +tls_peerdn",
        CERT_ACL,
    );
    // The CA file trusts some other CA: the client's certificate does not verify.
    let (other_ca, _, _) = client_pki();
    std::fs::write(d.dir.join("ca.pem"), other_ca).unwrap();
    let _ = ca_pem;
    let cfg = Arc::new(
        d.client_builder(rustls::ALL_VERSIONS)
            .with_client_auth_cert(vec![cert], key)
            .unwrap(),
    );
    let (mut c, _) = d.connect().upgrade(&cfg);
    assert!(c.cmd("MAIL FROM:<a@client.test>").starts_with("250"));
    let r = c.cmd("RCPT TO:<u@test.example>");
    assert_eq!(r, "550 no verified certificate");
    assert!(c.cmd("QUIT").starts_with("221"));
    let log = d.wait_log("rejected RCPT <u@test.example>");
    assert!(
        log.contains("H=(client.test) [127.0.0.1] X=TLS1.3:TLS_AES_256_GCM_SHA384:256 CV=no DN=\"/O=Example/CN=client.test\" F=<a@client.test> rejected RCPT <u@test.example>"),
        "{log}"
    );

    // Without a certificate the handshake still succeeds.
    let (mut c, ehlo) = d.connect().upgrade(&d.client_config());
    assert!(ehlo.starts_with("250-"));
    assert!(c.cmd("QUIT").starts_with("221"));
}

#[test]
fn tls_on_connect_port() {
    let d = start(
        "onconnect",
        "acl_smtp_rcpt = accept\ntls_on_connect_ports = TESTPORT\ntls_dhparam = /nonexistent",
        "",
    );
    d.wait_log(
        "tls_dhparam is not supported by rexim and is ignored: rustls has no finite-field DH",
    );
    // TLS first, then the banner, with no STARTTLS on offer.
    let c = d.connect();
    let mut c = c.handshake(&d.client_config());
    assert!(c.reply().starts_with("220 test.example ESMTP"));
    let ehlo = c.cmd("EHLO client.test");
    assert!(!ehlo.contains("STARTTLS"), "{ehlo}");
    let id = send_message(&mut c);
    assert!(c.cmd("QUIT").starts_with("221"));
    d.wait_log(&format!(
        "{id} <= a@client.test H=(client.test) [127.0.0.1] P=esmtps X=TLS1.3:"
    ));
    // A clear-text client there gets nothing but a logged TLS error.
    let mut c = d.connect();
    c.send(b"EHLO client.test\r\n");
    let mut rest = Vec::new();
    let _ = std::io::Read::read_to_end(&mut c.r, &mut rest);
    assert!(!String::from_utf8_lossy(&rest).contains("220 "), "{rest:?}");
    d.wait_log("TLS error on connection from [127.0.0.1] (SSL_accept): ");
}

#[test]
fn openssl_clients() {
    let d = start("openssl", "acl_smtp_rcpt = accept", "");
    let py = format!(
        "import smtplib, ssl\n\
         ctx = ssl.create_default_context(cafile='{0}/cert.pem')\n\
         ctx.check_hostname = False\n\
         s = smtplib.SMTP('127.0.0.1', {1}, local_hostname='py.test', timeout=10)\n\
         s.ehlo()\n\
         assert s.has_extn('starttls')\n\
         s.starttls(context=ctx)\n\
         s.ehlo()\n\
         assert not s.has_extn('starttls')\n\
         print(s.sock.version(), s.sock.cipher()[0])\n\
         s.sendmail('py@client.test', ['u@test.example'], 'Subject: py\\r\\n\\r\\nhi\\r\\n')\n\
         s.quit()\n",
        d.dir.display(),
        d.port
    );
    match run_bounded(Command::new("python3").args(["-c", &py]), None) {
        None => eprintln!("SKIPPED python part: python3 is not installed"),
        Some(out) => {
            let so = String::from_utf8_lossy(&out.stdout);
            assert!(
                out.status.success(),
                "{so}{}",
                String::from_utf8_lossy(&out.stderr)
            );
            assert_eq!(so.trim(), "TLSv1.3 TLS_AES_256_GCM_SHA384");
            d.wait_log("<= py@client.test H=(py.test) [127.0.0.1] P=esmtps X=TLS1.3:TLS_AES_256_GCM_SHA384:256 CV=no S=");
        }
    }
    let server = format!("127.0.0.1:{}", d.port);
    let mut swaks = Command::new("swaks");
    swaks
        .args([
            "--server",
            &server,
            "--timeout",
            "10",
            "--helo",
            "swaks.test",
        ])
        .args([
            "--from",
            "sw@client.test",
            "--to",
            "u@test.example",
            "--tls",
        ])
        .args(["--tls-protocol", "tlsv1_2"]);
    match run_bounded(&mut swaks, None) {
        None => eprintln!("SKIPPED swaks part: swaks is not installed"),
        Some(out) => {
            let so = String::from_utf8_lossy(&out.stdout);
            assert!(so.contains("<~  250 OK id="), "{so}");
            d.wait_log("<= sw@client.test H=(swaks.test) [127.0.0.1] P=esmtps X=TLS1.2:ECDHE-ECDSA-AES256-GCM-SHA384:256 CV=no S=");
        }
    }
}
