//! STARTTLS and TLS session resumption in `rexim -bd`, end to end over 127.0.0.1: a
//! certificate made with rcgen at test time, a rustls client (one shared `ClientConfig`,
//! so a second connection can resume), the mainlog, the `-H` spool file, and `exim4 -bp`
//! / `-Mvh` reading that spool where exim4 is installed. Every read is bounded.

mod support;

use std::io::Read;
use std::process::Command;
use std::time::Duration;

use support::tls::{send_message, start};
use support::tools::exim4;
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
    // The spool carries the TLS facts, as Exim 4.96 writes them (with the certificate
    // rexim presented; the client presented none).
    let h = d.header_file(&id);
    assert!(
        h.contains(&format!(
            "-tls_cipher TLS1.3:TLS_AES_256_GCM_SHA384:256\n--tls_sni localhost\n\
             -tls_ourcert {}\n-tls_resumption L\n-tls_ver TLS1.3\n",
            rexim::smtp::tls::certs::export_cert(&d.cert)
        )),
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
    // Offered and used, and (TLS 1.3) a fresh ticket was issued too.
    assert!(
        res.contains("tlsvars res=31 (session resumed, also new ticket)"),
        "{res}"
    );
    assert!(d.header_file(&id2).contains("\n-tls_resumption "));

    // Exim's own tools read the spool.
    let conf = d.exim_conf("");
    let Some(bp) = exim4(&conf, &["-bp"]) else {
        eprintln!("SKIPPED exim4 part: exim4 is not installed");
        return;
    };
    assert!(bp.contains(&id) && bp.contains(&id2), "{bp}");
    let vh = exim4(&conf, &["-Mvh", &id]).unwrap();
    assert!(
        vh.contains("-tls_cipher TLS1.3:TLS_AES_256_GCM_SHA384:256"),
        "{vh}"
    );
    if let Ok(p) = Command::new("exipick")
        .arg("--spool")
        .arg(d.dir.join("spool"))
        .args(["-i", "--show-vars", "tls_cipher,tls_sni"])
        .output()
    {
        let out = String::from_utf8_lossy(&p.stdout);
        assert!(p.status.success(), "{out}");
        assert!(
            out.contains(&format!(
                "{id} tls_cipher='TLS1.3:TLS_AES_256_GCM_SHA384:256' tls_sni='localhost'"
            )),
            "{out}"
        );
    }
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
        let line = d.arrival(&id);
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
    let mut c = d.offering_starttls("client.test");
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
    let mut c = d.offering_starttls("client.test");
    assert_eq!(c.cmd("STARTTLS"), "550 no TLS for you");
    assert!(c.cmd("QUIT").starts_with("221"));
    d.wait_log("H=(client.test) [127.0.0.1] rejected STARTTLS");
    drop(c);

    // A certificate named by network data (here the HELO name) is refused: taint.
    let d = start(
        "tainted",
        "tls_certificate = ${if eq{$sender_helo_name}{x}{}{TESTDIR/$sender_helo_name}}\n\
         tls_privatekey = TESTDIR/key.pem",
        "",
    );
    let mut c = d.offering_starttls("cert.pem");
    assert_eq!(c.cmd("STARTTLS"), "454 TLS currently unavailable");
    d.wait_log(
        "TLS error on connection from (cert.pem) [127.0.0.1] (tls_certificate): tainted file name",
    );
    drop(c);
    // The same option expanding to nothing: no certificate (not the self-signed one).
    let mut c = d.offering_starttls("x");
    assert_eq!(c.cmd("STARTTLS"), "454 TLS currently unavailable");
    d.wait_log(
        "TLS error on connection from (x) [127.0.0.1] (tls_certificate): expanded to an empty string",
    );
    drop(c);

    // The certificate file went away: 454, and the session goes on in clear.
    let d = start("nocert", "", "");
    std::fs::remove_file(d.dir.join("cert.pem")).unwrap();
    let mut c = d.offering_starttls("client.test");
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

    // STARTTLS again before a new EHLO (the clear one offered it): Exim's 554 "Already
    // in TLS", and from then on only QUIT is served.
    let mut c = d.offering_starttls("client.test");
    assert_eq!(c.cmd("STARTTLS"), "220 TLS go ahead");
    let mut c = c.handshake(&cfg);
    assert_eq!(c.cmd("STARTTLS"), "554 Already in TLS");
    assert_eq!(c.cmd("EHLO client.test"), "554 Security failure");
    assert!(c.cmd("QUIT").starts_with("221"));
    d.wait_log("(STARTTLS received after TLS started): ");
}

#[test]
fn silent_client_times_out_in_the_handshake() {
    let d = start("hs-timeout", "smtp_receive_timeout = 1s", "");
    let mut c = d.connect();
    assert!(c.reply().starts_with("220"));
    c.cmd("EHLO client.test");
    assert_eq!(c.cmd("STARTTLS"), "220 TLS go ahead");
    let started = std::time::Instant::now();
    let mut rest = Vec::new();
    let _ = c.r.read_to_end(&mut rest);
    assert!(started.elapsed() < Duration::from_secs(8), "not bounded");
    d.wait_log("TLS error on connection from (client.test) [127.0.0.1] (SSL_accept): timed out");
}

/// A TLS 1.2 client that resumes by session ID only (sends no ticket extension).
fn session_id_client(d: &support::tls::TlsDaemon) -> std::sync::Arc<rustls::ClientConfig> {
    let mut cfg = d
        .client_builder(&[&rustls::version::TLS12])
        .with_no_client_auth();
    cfg.resumption = rustls::client::Resumption::in_memory_sessions(16)
        .tls12_resumption(rustls::client::Tls12Resumption::SessionIdOnly);
    std::sync::Arc::new(cfg)
}

#[test]
fn tls12_session_id_resumption_for_tls_resumption_hosts() {
    let d = start(
        "sessid",
        "acl_smtp_rcpt = rcpt\ntls_resumption_hosts = 127.0.0.1\n\
         log_selector = +tls_resumption",
        VARS_ACL,
    );
    let cfg = session_id_client(&d);
    let mut kinds = Vec::new();
    for _ in 0..2 {
        let (mut c, _) = d.connect().upgrade(&cfg);
        kinds.push(c.r.get_ref().conn.handshake_kind());
        let id = send_message(&mut c);
        assert!(c.cmd("QUIT").starts_with("221"));
        d.wait_log(&format!("{id} <="));
    }
    assert_eq!(
        kinds,
        [
            Some(rustls::HandshakeKind::Full),
            Some(rustls::HandshakeKind::Resumed)
        ]
    );
    let log = d.mainlog();
    // Exim's bits: resumption supported, server would give tickets (the host is in
    // tls_resumption_hosts); then also used, with no ticket asked for: "unasked".
    assert!(
        log.contains("tlsvars res=9 (no client request) cipher=TLS1.2:"),
        "{log}"
    );
    assert!(
        log.contains("tlsvars res=25 (session resumed unasked) cipher=TLS1.2:"),
        "{log}"
    );
    assert!(
        log.contains(" P=esmtps X=TLS1.2:ECDHE-ECDSA-AES256-GCM-SHA384:256* CV=no "),
        "{log}"
    );

    // Outside tls_resumption_hosts no session is kept: two full handshakes.
    let d = start(
        "sessid-no",
        "acl_smtp_rcpt = rcpt\ntls_resumption_hosts = 192.0.2.1",
        VARS_ACL,
    );
    let cfg = session_id_client(&d);
    for round in 0..2 {
        let (mut c, _) = d.connect().upgrade(&cfg);
        assert_eq!(
            c.r.get_ref().conn.handshake_kind(),
            Some(rustls::HandshakeKind::Full),
            "round {round}"
        );
        assert!(c.cmd("QUIT").starts_with("221"));
    }
}
