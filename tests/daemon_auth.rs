//! End-to-end tests of AUTH, DSN parameters and `split_spool_directory` in `rexim -bd`,
//! over real sockets on 127.0.0.1: swaks and Python's smtplib as clients, and the spool
//! read back by `exim4 -bp`/`-Mvh` and `exipick` where installed. Every client run and
//! read is bounded by a timeout; the daemon is killed at the end.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const IO_TIMEOUT: Duration = Duration::from_secs(10);

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

struct Daemon {
    child: Child,
    port: u16,
    dir: PathBuf,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    l.local_addr().expect("local addr").port()
}

/// Start `rexim -bd` with `extra` main options, the ACLs above and the authenticators.
fn start(name: &str, extra: &str) -> Daemon {
    let dir = std::env::temp_dir().join(format!("rexim-daemon-auth-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("test dir");
    let port = free_port();
    let conf = format!(
        "primary_hostname = test.example\n\
         local_interfaces = 127.0.0.1\n\
         daemon_smtp_ports = {port}\n\
         spool_directory = {0}\n\
         log_file_path = {0}/log/%slog\n\
         acl_smtp_rcpt = acl_check_rcpt\n\
         {extra}\n\
         begin acl\n{ACLS}\n{AUTHENTICATORS}",
        dir.join("spool").display()
    );
    let conf_path = dir.join("test.conf");
    std::fs::write(&conf_path, conf).expect("write config");
    let stderr = std::fs::File::create(dir.join("stderr")).expect("stderr file");
    let child = Command::new(env!("CARGO_BIN_EXE_rexim"))
        .arg("-bd")
        .arg("-C")
        .arg(&conf_path)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(stderr)
        .spawn()
        .expect("start rexim -bd");
    let mut d = Daemon { child, port, dir };
    let deadline = Instant::now() + IO_TIMEOUT;
    loop {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            std::thread::sleep(Duration::from_millis(200));
            return d;
        }
        if let Ok(Some(st)) = d.child.try_wait() {
            panic!("rexim -bd exited with {st}: {}", d.stderr());
        }
        assert!(
            Instant::now() < deadline,
            "rexim -bd did not listen in time"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

impl Daemon {
    fn stderr(&self) -> String {
        std::fs::read_to_string(self.dir.join("stderr")).unwrap_or_default()
    }

    fn mainlog(&self) -> String {
        std::fs::read_to_string(self.dir.join("spool/log/mainlog")).unwrap_or_default()
    }

    fn spool(&self) -> PathBuf {
        self.dir.join("spool")
    }

    fn conf(&self) -> PathBuf {
        self.dir.join("test.conf")
    }

    fn ids(&self) -> Vec<String> {
        let mut spool = rexim::spool::Spool::new(self.spool());
        spool.split = true; // either layout is found
        spool.message_ids().expect("list spool")
    }

    /// The raw `-H` file of a message, wherever the layout put it.
    fn header_file(&self, id: &str) -> String {
        let spool = rexim::spool::Spool::new(self.spool());
        String::from_utf8(std::fs::read(spool.file(id, "H").unwrap()).unwrap()).unwrap()
    }

    /// An Exim configuration reading this daemon's spool (for `exim4 -bp`, `-Mvh`).
    fn exim_conf(&self, extra: &str) -> PathBuf {
        let path = self.dir.join("exim.conf");
        // Exim runs as the owner of the spool files (the test's user).
        let (user, _, gid) = rexim::spool::Spool::new(self.spool()).originator;
        std::fs::write(
            &path,
            format!(
                "spool_directory = {0}\nlog_file_path = {0}/exim-%slog\nkeep_environment =\n\
                 exim_user = {user}\nexim_group = {gid}\n\
                 queue_list_requires_admin = false\nprimary_hostname = test.example\n{extra}\n",
                self.spool().display()
            ),
        )
        .unwrap();
        path
    }
}

/// Run a client program with a time limit; `None` when it is not installed.
fn run_bounded(cmd: &mut Command, input: Option<&[u8]>) -> Option<Output> {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .ok()?;
    let mut stdin = child.stdin.take().unwrap();
    if let Some(i) = input {
        stdin.write_all(i).unwrap();
    }
    drop(stdin);
    let deadline = Instant::now() + Duration::from_secs(30);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("client did not finish in time: {cmd:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Some(child.wait_with_output().unwrap())
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

fn exim4(conf: &Path, args: &[&str]) -> Option<String> {
    if !Path::new("/usr/sbin/exim4").exists() {
        return None;
    }
    let out = run_bounded(
        Command::new("/usr/sbin/exim4")
            .arg("-C")
            .arg(conf)
            .args(args),
        None,
    )?;
    assert!(
        out.status.success(),
        "exim4 {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(String::from_utf8_lossy(&out.stdout).into_owned())
}

#[test]
fn swaks_auth_plain_and_login() {
    let d = start("swaks", "");
    let Some(ok) = swaks(
        &d,
        &[
            "--auth",
            "PLAIN",
            "--auth-user",
            "user",
            "--auth-password",
            "secret",
        ],
    ) else {
        eprintln!("SKIPPED: swaks is not installed");
        return;
    };
    assert!(ok.contains("250-AUTH PLAIN LOGIN CRAM-MD5"), "{ok}");
    assert!(ok.contains("235 Authentication succeeded"), "{ok}");
    assert!(ok.contains("250 OK id="), "{ok}");
    let bad = swaks(
        &d,
        &[
            "--auth",
            "LOGIN",
            "--auth-user",
            "user",
            "--auth-password",
            "wrong",
        ],
    )
    .unwrap();
    assert!(bad.contains("334 VXNlcm5hbWU6"), "{bad}");
    assert!(bad.contains("535 Incorrect authentication data"), "{bad}");
    let login = swaks(
        &d,
        &[
            "--auth",
            "LOGIN",
            "--auth-user",
            "user",
            "--auth-password",
            "secret",
        ],
    )
    .unwrap();
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
    let args = |password: &'static str| {
        [
            "--auth",
            "CRAM-MD5",
            "--auth-user",
            "user",
            "--auth-password",
            password,
        ]
    };
    let Some(ok) = swaks(&d, &args("secret")) else {
        eprintln!("SKIPPED: swaks is not installed");
        return;
    };
    assert!(ok.contains("235 Authentication succeeded"), "{ok}");
    assert!(ok.contains("250 OK id="), "{ok}");
    let bad = swaks(&d, &args("wrong")).unwrap();
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

/// Talk SMTP line by line over a raw socket.
fn dialogue(d: &Daemon, lines: &[&str]) -> Vec<String> {
    let s = TcpStream::connect(("127.0.0.1", d.port)).expect("connect");
    s.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    let mut r = BufReader::new(s.try_clone().unwrap());
    let mut w = s;
    let mut replies = Vec::new();
    let read_reply = |r: &mut BufReader<TcpStream>| {
        let mut all = String::new();
        loop {
            let mut line = String::new();
            assert!(r.read_line(&mut line).unwrap() > 0, "closed after {all:?}");
            all += line.trim_end();
            if line.as_bytes().get(3) != Some(&b'-') {
                return all;
            }
            all.push('\n');
        }
    };
    replies.push(read_reply(&mut r));
    let mut in_data = false;
    for l in lines {
        w.write_all(format!("{l}\r\n").as_bytes()).unwrap();
        if in_data && *l != "." {
            continue;
        }
        let reply = read_reply(&mut r);
        in_data = reply.starts_with("354");
        replies.push(reply);
    }
    replies
}

#[test]
fn dsn_parameters_reach_the_spool_and_exim_reads_them() {
    let d = start("dsn", "dsn_advertise_hosts = 127.0.0.1");
    let replies = dialogue(
        &d,
        &[
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
        ],
    );
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
    let spool = rexim::spool::Spool::new(d.spool());
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
        Command::new("exipick").arg("--spool").arg(d.spool()).args([
            "-i",
            "--show-vars",
            "sender_address,recipients",
        ]),
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
    let replies = dialogue(
        &d,
        &[
            "EHLO client.example",
            "MAIL FROM:<a@client.example>",
            "RCPT TO:<u@test.example>",
            "DATA",
            "Subject: split",
            "",
            "body",
            ".",
            "QUIT",
        ],
    );
    let id = replies[5].trim_start_matches("250 OK id=").to_string();
    assert_eq!(id.len(), 16, "{replies:?}");
    let sub = d.spool().join("input").join(&id[5..6]);
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
