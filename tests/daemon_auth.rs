//! End-to-end tests of AUTH, DSN parameters and `split_spool_directory` in `rexim -bd`,
//! over real sockets on 127.0.0.1: swaks and Python's smtplib as clients, and the spool
//! read back by `exim4 -bp`/`-Mvh` and `exipick` where installed. Every client run and
//! read is bounded by a timeout; the daemon is killed at the end.

mod support;

use std::process::Command;
use support::daemon::{self, Daemon};
use support::tools::{exim4, run_bounded};

const AUTHENTICATORS: &str = "begin authenticators\n\
plain:\n  driver = plaintext\n  public_name = PLAIN\n  server_prompts = :\n  \
server_condition = ${if and{{eq{$auth2}{user}}{eq{$auth3}{secret}}}}\n  server_set_id = $auth2\n\
login:\n  driver = plaintext\n  public_name = LOGIN\n  server_prompts = Username:: : Password::\n  \
server_condition = ${if and{{eq{$auth1}{user}}{eq{$auth2}{secret}}}}\n  server_set_id = $auth1\n\
cram:\n  driver = cram_md5\n  public_name = CRAM-MD5\n  \
server_secret = ${if eq{$auth1}{user}{secret}fail}\n  server_set_id = $auth1\n";

/// Relaying (any domain) only for authenticated clients.
const ACLS: &str = "acl_check_rcpt:\n  accept authenticated = *\n  \
accept domains = test.example\n  deny message = authentication required\n";

/// Start `rexim -bd` with `extra` main options, the ACLs above and the authenticators.
fn start(name: &str, extra: &str) -> Daemon {
    daemon::start(
        &format!("daemon-auth-{name}"),
        &format!("acl_smtp_rcpt = acl_check_rcpt\n{extra}\nbegin acl\n{ACLS}\n{AUTHENTICATORS}"),
    )
}

/// swaks's options to authenticate as `user` with `mechanism` and `password`.
fn auth<'a>(mechanism: &'a str, password: &'a str) -> [&'a str; 6] {
    [
        "--auth",
        mechanism,
        "--auth-user",
        "user",
        "--auth-password",
        password,
    ]
}

fn swaks(d: &Daemon, args: &[&str]) -> Option<String> {
    let port = d.port.to_string();
    let server = format!("127.0.0.1:{port}");
    let out = run_bounded(
        Command::new("swaks")
            .args([
                "--server",
                &server,
                "--timeout",
                "10",
                "--helo",
                "client.example",
            ])
            .args(["--from", "a@client.example", "--to", "r@remote.example"])
            .args(args),
        None,
    )?;
    Some(String::from_utf8_lossy(&out.stdout).into_owned())
}

#[test]
fn swaks_auth_plain_and_login() {
    let d = start("swaks", "");
    let Some(ok) = swaks(&d, &auth("PLAIN", "secret")) else {
        eprintln!("SKIPPED: swaks is not installed");
        return;
    };
    assert!(ok.contains("250-AUTH PLAIN LOGIN CRAM-MD5"), "{ok}");
    assert!(ok.contains("235 Authentication succeeded"), "{ok}");
    assert!(ok.contains("250 OK id="), "{ok}");
    let bad = swaks(&d, &auth("LOGIN", "wrong")).unwrap();
    assert!(bad.contains("334 VXNlcm5hbWU6"), "{bad}");
    assert!(bad.contains("535 Incorrect authentication data"), "{bad}");
    let login = swaks(&d, &auth("LOGIN", "secret")).unwrap();
    assert!(login.contains("235 Authentication succeeded"), "{login}");
    // Without AUTH the relay is refused.
    let anon = swaks(&d, &[]).unwrap();
    assert!(anon.contains("550 authentication required"), "{anon}");
    let log = d.mainlog();
    assert!(
        log.contains("P=esmtpa A=plain:user S="),
        "{log}\n{}",
        d.stderr()
    );
    assert!(log.contains("P=esmtpa A=login:user S="), "{log}");
    assert!(
        log.contains(
            "login authenticator failed for (client.example) [127.0.0.1]: \
             535 Incorrect authentication data (set_id=user)"
        ),
        "{log}"
    );
    let ids = d.ids();
    assert_eq!(ids.len(), 2, "{ids:?}");
    for id in &ids {
        let h = d.header_file(id);
        assert!(h.contains("\n--auth_id user\n"), "{h}");
        assert!(h.contains("\n-host_auth_pubname "), "{h}");
        assert!(h.contains("\n-received_protocol esmtpa\n"), "{h}");
    }
    // Exim reads the spool: the listing and the -H file it shows.
    if let Some(bp) = exim4(&d.exim_conf(""), &["-bp"]) {
        for id in &ids {
            assert!(bp.contains(id.as_str()), "{bp}");
        }
        assert!(!bp.contains("***"), "{bp}");
    }
}

#[test]
fn swaks_auth_cram_md5() {
    let d = start("cram", "");
    let Some(ok) = swaks(&d, &auth("CRAM-MD5", "secret")) else {
        eprintln!("SKIPPED: swaks is not installed");
        return;
    };
    assert!(ok.contains("235 Authentication succeeded"), "{ok}");
    assert!(ok.contains("250 OK id="), "{ok}");
    let bad = swaks(&d, &auth("CRAM-MD5", "wrong")).unwrap();
    assert!(bad.contains("535 Incorrect authentication data"), "{bad}");
    let log = d.mainlog();
    assert!(log.contains("A=cram:user"), "{log}");
    assert!(
        log.contains("cram authenticator failed for (client.example) [127.0.0.1]:"),
        "{log}"
    );
}

#[test]
fn python_smtplib_login_and_auth_sender() {
    let d = start("smtplib", "");
    let script = format!(
        "import smtplib\n\
s = smtplib.SMTP('127.0.0.1', {}, timeout=10)\n\
s.ehlo('py.example')\n\
assert s.has_extn('auth'), s.esmtp_features\n\
try:\n    s.login('user', 'nope')\n    raise SystemExit('bad password accepted')\n\
except smtplib.SMTPAuthenticationError as e:\n    print('refused', e.smtp_code)\n\
s.login('user', 'secret')\n\
print('authenticated')\n\
code, _ = s.docmd('AUTH', 'PLAIN AHVzZXIAc2VjcmV0')\n\
print('again', code)\n\
s.sendmail('a@py.example', ['r@remote.example'], 'Subject: py\\r\\n\\r\\nbody\\r\\n',\n           mail_options=['AUTH=a+2Bb@py.example'])\n\
s.quit()\n\
print('done')\n",
        d.port
    );
    let Some(out) = run_bounded(Command::new("python3").arg("-"), Some(script.as_bytes())) else {
        eprintln!("SKIPPED: python3 is not installed");
        return;
    };
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // smtplib prefers CRAM-MD5 when it is offered, as here.
    assert!(text.contains("refused 535"), "{text}");
    assert!(text.contains("authenticated\nagain 503\ndone"), "{text}");
    let ids = d.ids();
    assert_eq!(ids.len(), 1);
    let h = d.header_file(&ids[0]);
    assert!(h.contains("\n--auth_sender a+b@py.example\n"), "{h}");
    assert!(h.contains("\n-host_auth cram\n"), "{h}");
}

#[test]
fn dsn_parameters_reach_the_spool_and_exim_reads_them() {
    let d = start("dsn", "dsn_advertise_hosts = 127.0.0.1");
    let replies = d.dialogue(&[
        "EHLO client.example",
        "MAIL FROM:<a@client.example> RET=FULL ENVID=env+2Bid",
        "RCPT TO:<u@test.example> NOTIFY=FAILURE,DELAY ORCPT=rfc822;u@test.example",
        "RCPT TO:<v@test.example> NOTIFY=WHENEVER",
        "RCPT TO:<v@test.example> NOTIFY=NEVER",
        "DATA",
        "Subject: dsn",
        "",
        "body",
        ".",
        "QUIT",
    ]);
    assert!(replies[1].contains("\n250-DSN\n"), "{replies:?}");
    assert_eq!(replies[4], "501 Invalid value for NOTIFY parameter");
    assert!(replies[7].starts_with("250 OK id="), "{replies:?}");
    let id = replies[7].trim_start_matches("250 OK id=").to_string();
    let h = d.header_file(&id);
    assert!(h.contains("\n-dsn_envid env+2Bid\n-dsn_ret 1\n"), "{h}");
    assert!(
        h.contains(
            "\nu@test.example rfc822;u@test.example 21,24  0,-1#3\nv@test.example  0,2  0,-1#3\n"
        ),
        "{h}"
    );
    // rexim reads them back.
    let spool = d.spool();
    let parsed = spool.read_header(&id).unwrap();
    assert_eq!(
        parsed.option("dsn_ret").unwrap().value.as_deref(),
        Some(&b"1"[..])
    );
    assert_eq!(parsed.recipients[0].dsn_flags, 0x18);
    assert_eq!(parsed.recipients[1].dsn_flags, 0x02);
    let conf = d.exim_conf("");
    let Some(bp) = exim4(&conf, &["-bp"]) else {
        eprintln!("SKIPPED exim4 part: exim4 is not installed");
        return;
    };
    assert!(
        bp.contains(&format!(
            "{id} <a@client.example>\n          u@test.example\n          v@test.example\n"
        )),
        "{bp}"
    );
    let vh = exim4(&conf, &["-Mvh", &id]).unwrap();
    assert_eq!(vh, h);
    let pick = run_bounded(
        Command::new("exipick")
            .arg("--spool")
            .arg(d.spool_dir())
            .args(["-i", "--show-vars", "sender_address,recipients"]),
        None,
    );
    if let Some(p) = pick {
        let out = String::from_utf8_lossy(&p.stdout);
        assert!(p.status.success(), "{out}");
        // exipick's recipient order is its hash order.
        assert!(
            out.contains("recipients='u@test.example, v@test.example'")
                || out.contains("recipients='v@test.example, u@test.example'"),
            "{out}"
        );
    }
}

#[test]
fn split_spool_directory_layout_read_by_exim_and_rexim() {
    let d = start("split", "split_spool_directory = true");
    let replies = d.dialogue(&[
        "EHLO client.example",
        "MAIL FROM:<a@client.example>",
        "RCPT TO:<u@test.example>",
        "DATA",
        "Subject: split",
        "",
        "body",
        ".",
        "QUIT",
    ]);
    let id = replies[5].trim_start_matches("250 OK id=").to_string();
    assert_eq!(id.len(), 16, "{replies:?}");
    let sub = d.spool_dir().join("input").join(&id[5..6]);
    assert!(sub.join(format!("{id}-H")).exists());
    assert!(sub.join(format!("{id}-D")).exists());
    // rexim -bp with the daemon's configuration finds it.
    let ours = run_bounded(
        Command::new(env!("CARGO_BIN_EXE_rexim"))
            .arg("-C")
            .arg(d.conf())
            .arg("-bp"),
        None,
    )
    .unwrap();
    let ours = String::from_utf8_lossy(&ours.stdout).into_owned();
    assert!(ours.contains(&id), "{ours}");
    let vh = run_bounded(
        Command::new(env!("CARGO_BIN_EXE_rexim"))
            .arg("-C")
            .arg(d.conf())
            .args(["-Mvh", &id]),
        None,
    )
    .unwrap();
    assert_eq!(String::from_utf8_lossy(&vh.stdout), d.header_file(&id));
    let Some(bp) = exim4(&d.exim_conf("split_spool_directory = true"), &["-bp"]) else {
        eprintln!("SKIPPED exim4 part: exim4 is not installed");
        return;
    };
    assert_eq!(bp, ours);
}
