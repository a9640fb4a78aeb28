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
        resumption: RESUME_SUPPORTED | RESUME_CLIENT_SUGGESTED | RESUME_SERVER_TICKET | RESUME_USED,
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
        " X=TLS1.3:TLS_AES_256_GCM_SHA384:256* DN=\"/CN=client\" SNI=mx\\x20test"
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
