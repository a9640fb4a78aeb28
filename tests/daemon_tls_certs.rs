//! Certificate variables after STARTTLS: `$tls_in_peercert` (the client's certificate)
//! and `$tls_in_ourcert` (rexim's), read by `${certextract}` and `${sha256:}` in an ACL
//! and checked against `openssl x509` on the same certificates; and the spool lines
//! `--tls_peercert` / `-tls_ourcert` written as Exim 4.96 writes them, read back, and
//! read by `exim4 -bp` / `exipick` where installed. End to end over 127.0.0.1.

mod support;

use std::process::Command;
use std::sync::Arc;

use support::tls::{client_pki, send_message, start};
use support::tools::{exim4, openssl_x509};

/// `SHA256 Fingerprint=AB:CD:…` as Exim's `${sha256:<cert>}` prints it (`ABCD…`).
fn fingerprint(text: &str) -> String {
    text.rsplit('=').next().unwrap().replace(':', "")
}

const ACL: &str = "rcpt:\n  \
    warn logwrite = peer subject=${certextract{subject}{$tls_in_peercert}} \
         sha256=${sha256:$tls_in_peercert} is=$tls_in_peercert\n  \
    warn logwrite = our subject=${certextract{subject}{$tls_in_ourcert}} \
         sha256=${sha256:$tls_in_ourcert}\n  \
    accept\n";

#[test]
fn certificate_variables_in_acls_and_the_spool() {
    let (ca_pem, cert, key) = client_pki();
    let d = start(
        "certvars",
        "acl_smtp_rcpt = rcpt\ntls_verify_hosts = 127.0.0.1\n\
         tls_verify_certificates = TESTDIR/ca.pem",
        ACL,
    );
    std::fs::write(d.dir.join("ca.pem"), ca_pem).unwrap();
    let cfg = Arc::new(
        d.client_builder(rustls::ALL_VERSIONS)
            .with_client_auth_cert(vec![cert.clone()], key)
            .unwrap(),
    );
    let (mut c, _) = d.connect().upgrade(&cfg);
    let id = send_message(&mut c);
    assert!(c.cmd("QUIT").starts_with("221"));
    let log = d.wait_log(&format!("{id} <="));

    // Our own view of the certificates, for when openssl is absent.
    let peer_sha = {
        let mut ctx = rexim::Context::default();
        ctx.set_certificate("tls_in_peercert", &cert).unwrap();
        rexim::expand::expand_str("${sha256:$tls_in_peercert}", &mut ctx)
            .unwrap()
            .as_str_lossy()
            .into_owned()
    };
    assert!(
        log.contains(&format!(
            "peer subject=CN=client.test,O=Example sha256={peer_sha} is=<cert>"
        )),
        "{log}"
    );
    match (
        openssl_x509(&d.dir, &cert, &["-subject", "-nameopt", "RFC2253"]),
        openssl_x509(&d.dir, &cert, &["-fingerprint", "-sha256"]),
        openssl_x509(&d.dir, &d.cert, &["-subject", "-nameopt", "RFC2253"]),
        openssl_x509(&d.dir, &d.cert, &["-fingerprint", "-sha256"]),
    ) {
        (Some(ps), Some(pf), Some(os), Some(of)) => {
            let peer = format!("peer {} sha256={} is=<cert>", ps, fingerprint(&pf));
            assert!(log.contains(&peer), "{peer}\n{log}");
            let our = format!("our {} sha256={}", os, fingerprint(&of));
            assert!(log.contains(&our), "{our}\n{log}");
        }
        _ => eprintln!("SKIPPED openssl comparison: no openssl command here"),
    }

    // The spool: the client's certificate tainted after -tls_cipher, ours after the SNI.
    let h = d.header_file(&id);
    let peer_line = format!(
        "--tls_peercert {}\n",
        rexim::smtp::tls::certs::export_cert(&cert)
    );
    let our_line = format!(
        "-tls_ourcert {}\n",
        rexim::smtp::tls::certs::export_cert(&d.cert)
    );
    let cipher_at = h.find("-tls_cipher ").expect("cipher line");
    let peer_at = h.find(&peer_line).unwrap_or_else(|| panic!("{h}"));
    let our_at = h.find(&our_line).unwrap_or_else(|| panic!("{h}"));
    let resumption_at = h.find("-tls_resumption ").unwrap();
    assert!(
        cipher_at < peer_at && peer_at < our_at && our_at < resumption_at,
        "{h}"
    );
    // Read back: the same DER.
    let parsed = rexim::spool::header::HeaderFile::parse(h.as_bytes()).unwrap();
    let certs = rexim::smtp::tls::certs_from_spool(&parsed);
    assert_eq!(
        certs,
        vec![
            ("tls_in_peercert", cert.to_vec()),
            ("tls_in_ourcert", d.cert.to_vec())
        ]
    );

    let conf = d.exim_conf("");
    let Some(bp) = exim4(&conf, &["-bp"]) else {
        eprintln!("SKIPPED exim4 part: exim4 is not installed");
        return;
    };
    assert!(bp.contains(&id), "exim4 -bp: {bp}");
    let vh = exim4(&conf, &["-Mvh", &id]).unwrap();
    assert!(vh.contains(&peer_line), "exim4 -Mvh: {vh}");
    assert!(vh.contains(&our_line), "exim4 -Mvh: {vh}");
    if let Ok(p) = Command::new("exipick")
        .arg("--spool")
        .arg(d.dir.join("spool"))
        .args(["-i", "--show-vars", "tls_cipher"])
        .output()
    {
        let out = String::from_utf8_lossy(&p.stdout);
        assert!(out.contains(&id), "exipick: {out}");
        assert!(out.contains("tls_cipher='TLS1.3:"), "exipick: {out}");
    }
}
