use super::*;

fn facts() -> TlsFacts {
    TlsFacts {
        ver: "TLS1.3".into(),
        suite: "TLS_AES_256_GCM_SHA384".into(),
        suite_std: "TLS_AES_256_GCM_SHA384".into(),
        bits: 256,
        sni: Some("mx test".into()),
        peerdn: Some("/CN=client".into()),
        certificate_verified: true,
        verify_errors: Vec::new(),
        resumption: RESUME_SUPPORTED | RESUME_CLIENT_SUGGESTED | RESUME_SERVER_TICKET | RESUME_USED,
        ocsp: OCSP_VERIFIED,
        peercert: None,
        ourcert: None,
    }
}

#[test]
fn log_fields_follow_the_selector() {
    let f = facts();
    assert_eq!(
        TlsLogging::default().fields(Some(&f)),
        " X=TLS1.3:TLS_AES_256_GCM_SHA384:256 CV=yes"
    );
    assert_eq!(TlsLogging::default().fields(None), "");
    let all = TlsLogging::from_selector("+all -tls_certificate_verified");
    assert_eq!(
        all.fields(Some(&f)),
        " X=TLS1.3:TLS_AES_256_GCM_SHA384:256* DN=\"/CN=client\" SNI=mx\\040test"
    );
    let none = TlsLogging::from_selector("-tls_cipher -tls_certificate_verified +smtp_connection");
    assert_eq!(none.fields(Some(&f)), "");
    // `*` only for a resumed session.
    let mut g = f.clone();
    g.resumption = RESUME_SUPPORTED;
    let r = TlsLogging::from_selector("+tls_resumption -tls_certificate_verified");
    assert_eq!(r.fields(Some(&g)), " X=TLS1.3:TLS_AES_256_GCM_SHA384:256");
}

#[test]
fn variables_and_the_spool_round_trip() {
    let f = facts();
    let mut ctx = Context::default();
    f.set_vars(&mut ctx);
    let get = |ctx: &Context, n: &str| ctx.get(n).map(|v| v.as_str_lossy().into_owned());
    assert_eq!(
        get(&ctx, "tls_in_cipher").as_deref(),
        Some("TLS1.3:TLS_AES_256_GCM_SHA384:256")
    );
    assert_eq!(get(&ctx, "tls_cipher"), get(&ctx, "tls_in_cipher"));
    assert_eq!(get(&ctx, "tls_in_bits").as_deref(), Some("256"));
    assert_eq!(get(&ctx, "tls_in_resumption").as_deref(), Some("29"));
    assert_eq!(
        get(&ctx, "tls_in_certificate_verified").as_deref(),
        Some("1")
    );
    assert!(ctx.get("tls_in_sni").unwrap().tainted);
    assert!(!ctx.get("tls_in_cipher").unwrap().tainted);

    let h = crate::spool::header::HeaderFile::parse(
        b"1xYU3E-0005hn-6E-H\nroot 0 0\n<a@b>\n1796155328 0\n-tls_certificate_verified\n\
          -tls_cipher TLS1.3:TLS_AES_256_GCM_SHA384:256\n-tls_peerdn /CN=client\n\
          --tls_sni mx.test\n-tls_resumption ^\n-tls_ver TLS1.3\nXX\n1\nu@test\n\n",
    )
    .unwrap();
    let vars = vars_from_spool(&h);
    let v = |n: &str| {
        vars.iter()
            .find(|(k, _)| *k == n)
            .map(|(_, v)| v.as_str_lossy().into_owned())
    };
    assert_eq!(
        v("tls_in_cipher").as_deref(),
        Some("TLS1.3:TLS_AES_256_GCM_SHA384:256")
    );
    assert_eq!(v("tls_in_peerdn").as_deref(), Some("/CN=client"));
    assert_eq!(v("tls_in_sni").as_deref(), Some("mx.test"));
    assert_eq!(v("tls_in_ver").as_deref(), Some("TLS1.3"));
    assert_eq!(v("tls_in_certificate_verified").as_deref(), Some("1"));
    // '^' is 'A' + 29.
    assert_eq!(v("tls_in_resumption").as_deref(), Some("29"));
}

#[test]
fn configurations_are_cached_until_a_file_changes() {
    let dir = std::env::temp_dir().join(format!("rexim-tls-cache-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let write_cert = || {
        let ck = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
        let pem = format!("{}{}", ck.cert.pem(), ck.key_pair.serialize_pem());
        std::fs::write(dir.join("both.pem"), pem).unwrap();
    };
    write_cert();
    let server = acceptor::TlsServer::new().unwrap();
    let mut req = TlsRequest {
        certificate: dir.join("both.pem").display().to_string(),
        ..TlsRequest::default()
    };
    let p = server.prepare(&req).unwrap();
    assert!(
        !p.config.ticketer.enabled(),
        "tickets only for tls_resumption_hosts"
    );
    req.resumption = true;
    let p = server.prepare(&req).unwrap();
    assert!(p.config.ticketer.enabled());
    // Hourly keys, the previous one still accepted: tickets live two hours.
    assert_eq!(
        p.config.ticketer.lifetime(),
        2 * acceptor::TICKET_KEY_LIFETIME
    );
    assert_eq!(server.builds(), 1, "same files: no new read");
    // A new certificate in the same file (another size and inode change) is picked up.
    std::fs::remove_file(dir.join("both.pem")).unwrap();
    write_cert();
    server.prepare(&req).unwrap();
    assert_eq!(server.builds(), 2);
    // Errors name the option and the file.
    req.certificate = dir.join("missing.pem").display().to_string();
    let e = server.prepare(&req).err().unwrap();
    assert!(
        e.starts_with("(tls_certificate): ") && e.contains("missing.pem"),
        "{e}"
    );
    req.certificate = dir.join("both.pem").display().to_string();
    req.require_ciphers = "RC4-MD5".into();
    let e = server.prepare(&req).err().unwrap();
    assert!(e.contains("no cipher suite rexim supports"), "{e}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn selfsigned_and_crl_configurations_are_cached() {
    let server = acceptor::TlsServer::new().unwrap();
    // No tls_certificate: the self-signed certificate, made once.
    let req = TlsRequest::default();
    let a = server.prepare(&req).unwrap();
    let b = server.prepare(&req).unwrap();
    assert_eq!(a.ourcert, b.ourcert);
    assert_eq!(server.builds(), 1);
    assert!(!a.config.session_storage.can_cache(), "no sessions kept");
    let resume = TlsRequest {
        resumption: true,
        ..TlsRequest::default()
    };
    assert!(server
        .prepare(&resume)
        .unwrap()
        .config
        .session_storage
        .can_cache());
    assert_eq!(
        server.builds(),
        1,
        "resumption is per connection, not rebuilt"
    );

    // tls_crl: read when the configuration is built, again only when it changes.
    let dir = std::env::temp_dir().join(format!("rexim-tls-crl-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca.key_usages = vec![
        rcgen::KeyUsagePurpose::KeyCertSign,
        rcgen::KeyUsagePurpose::CrlSign,
    ];
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    std::fs::write(dir.join("ca.pem"), ca_cert.pem()).unwrap();
    let write_crl = |number: u64| {
        let now = time::OffsetDateTime::now_utc();
        let crl = rcgen::CertificateRevocationListParams {
            this_update: now,
            next_update: now + time::Duration::days(1),
            crl_number: rcgen::SerialNumber::from(number),
            issuing_distribution_point: None,
            revoked_certs: Vec::new(),
            key_identifier_method: rcgen::KeyIdMethod::Sha256,
        }
        .signed_by(&ca_cert, &ca_key)
        .unwrap();
        std::fs::write(dir.join("crl.pem"), crl.pem().unwrap()).unwrap();
    };
    write_crl(1);
    let mut req = TlsRequest {
        verify: ClientVerify::Required,
        verify_certificates: dir.join("ca.pem").display().to_string(),
        crl: dir.join("crl.pem").display().to_string(),
        ..TlsRequest::default()
    };
    server.prepare(&req).unwrap();
    server.prepare(&req).unwrap();
    assert_eq!(
        server.builds(),
        2,
        "one read of the CRL for two connections"
    );
    std::fs::remove_file(dir.join("crl.pem")).unwrap();
    write_crl(22);
    server.prepare(&req).unwrap();
    assert_eq!(server.builds(), 3, "a changed CRL is read again");
    std::fs::write(dir.join("crl.pem"), "not a CRL\n").unwrap();
    let e = server.prepare(&req).err().unwrap();
    assert!(
        e.starts_with("(tls_crl): ") && e.contains("no CRL found"),
        "{e}"
    );
    req.crl = dir.join("missing.pem").display().to_string();
    let e = server.prepare(&req).err().unwrap();
    assert_eq!(
        e,
        format!(
            "(tls_crl): failed to stat {} for certificates revocation lists",
            req.crl
        )
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn on_connect_ports_list() {
    assert_eq!(on_connect_ports("465 : 2465"), Ok(vec![465, 2465]));
    assert_eq!(on_connect_ports(""), Ok(vec![]));
    let services = "# comment\nsmtp\t\t25/tcp\t\tmail\n\
                    submissions\t465/tcp\t\tssmtp smtps urd # over TLS\nfoo 99/udp\n";
    assert_eq!(
        on_connect_ports_with("smtps : submissions : 2465", services),
        Ok(vec![465, 465, 2465])
    );
    assert!(on_connect_ports_with("foo", services)
        .unwrap_err()
        .contains("not a port number or a TCP service"));
    // The system's table, where it has the usual entry.
    if std::fs::read_to_string("/etc/services").is_ok_and(|s| s.contains(" smtps ")) {
        assert_eq!(on_connect_ports("smtps"), Ok(vec![465]));
    }
}

/// The sans-IO contract: the session asks for TLS, stops reading, and forgets the clear
/// session once the driver reports the handshake.
#[test]
fn session_asks_the_driver_for_tls() {
    use crate::smtp::{Peer, Session, SessionConfig};
    use std::sync::Arc;
    let macros = crate::config::initial_macros(&[]).unwrap();
    let loaded = crate::config::load_text(
        "t.conf",
        "tls_certificate = /c/$sender_host_address.pem\nsmtp_enforce_sync = false\n\
         tls_resumption_hosts = 192.0.2.1\ntls_try_verify_hosts = *\n",
        macros,
    );
    let (mut cfg, acls) = SessionConfig::from_config(&loaded).unwrap();
    cfg.primary_hostname = "mx.test".into();
    let peer = Peer {
        address: "192.0.2.1".into(),
        port: 1234,
        ..Peer::default()
    };
    let mut s = Session::new(Arc::new(cfg), Arc::new(acls), Context::default(), peer);
    s.start();
    s.take_output();
    s.tls_available = true;
    s.feed(b"EHLO a.test\r\nSTARTTLS\r\nNOOP\r\nNOOP\r\n");
    let out = String::from_utf8(s.take_output()).unwrap();
    assert!(out.contains("250-STARTTLS\r\n"), "{out}");
    // Nothing after STARTTLS is answered: the driver goes first.
    assert!(!out.contains("250 OK"), "{out}");
    let req = s.take_tls_request().expect("a TLS request");
    assert_eq!(req.certificate, "/c/192.0.2.1.pem");
    assert!(req.resumption);
    assert_eq!(req.verify, ClientVerify::Try);
    assert_eq!(req.verify_certificates, "system");
    s.tls_go_ahead();
    assert_eq!(s.take_output(), b"220 TLS go ahead\r\n");
    let mut f = facts();
    f.sni = None;
    s.tls_started(f);
    // The clear-text NOOPs were discarded; the client starts again with EHLO.
    s.feed(b"EHLO b.test\r\n");
    let out = String::from_utf8(s.take_output()).unwrap();
    assert!(
        out.starts_with("250-mx.test Hello b.test [192.0.2.1]\r\n"),
        "{out}"
    );
    assert!(!out.contains("STARTTLS"), "{out}");
    assert_eq!(
        s.ctx.get("received_protocol").unwrap().as_str_lossy(),
        "esmtps"
    );
    assert_eq!(
        s.ctx.get("tls_in_cipher").unwrap().as_str_lossy(),
        "TLS1.3:TLS_AES_256_GCM_SHA384:256"
    );
}

/// SNI: each expanded certificate name has its own cached configuration; going back
/// and forth between names reads no file again.
#[test]
fn one_cached_configuration_per_certificate_name() {
    let dir = std::env::temp_dir().join(format!("rexim-tls-sni-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for name in ["a", "b"] {
        let ck = rcgen::generate_simple_self_signed(vec![format!("{name}.test")]).unwrap();
        let pem = format!("{}{}", ck.cert.pem(), ck.key_pair.serialize_pem());
        std::fs::write(dir.join(format!("{name}.pem")), pem).unwrap();
    }
    let server = acceptor::TlsServer::new().unwrap();
    let req = |name: &str| TlsRequest {
        certificate: dir.join(format!("{name}.pem")).display().to_string(),
        ..TlsRequest::default()
    };
    let a = server.prepare(&req("a")).unwrap().ourcert;
    let b = server.prepare(&req("b")).unwrap().ourcert;
    assert_ne!(a, b);
    for _ in 0..3 {
        assert_eq!(server.prepare(&req("a")).unwrap().ourcert, a);
        assert_eq!(server.prepare(&req("b")).unwrap().ourcert, b);
    }
    assert_eq!(server.builds(), 2);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn startup_lines_for_what_rexim_does_not_act_on() {
    let lines = |text: &str| {
        let macros = crate::config::initial_macros(&[]).unwrap();
        unsupported_options(&crate::config::load_text("t", text, macros))
    };
    assert!(lines("").is_empty());
    assert!(lines("tls_dhparam = none\nopenssl_options = +no_tlsv1_3\n").is_empty());
    assert_eq!(
        lines("tls_dhparam = /etc/dh.pem\nopenssl_options = +all -no_renegotiation\n"),
        [
            "tls_dhparam is not supported by rexim and is ignored: rustls has no finite-field DH \
             (no DHE suites; ECDHE and TLS 1.3 key exchange only)",
            "openssl_options: rexim does not act on +all -no_renegotiation (rustls has no such switch)",
        ]
    );
}
