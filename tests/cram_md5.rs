//! CRAM-MD5 logins end to end: the same dialogue, answering each `334` challenge with
//! the digest computed from it, against `rexim -bh` and the real `exim4 -bh`. The
//! replies must be identical once the challenge (pid and time) is masked.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use base64::Engine;
use hmac::{Hmac, Mac};

const CONFIG: &str = "primary_hostname = mx.test
tls_advertise_hosts =
begin authenticators
cram:
  driver = cram_md5
  public_name = CRAM-MD5
  server_secret = secret-$auth1
  server_condition = ${if !eq{$1}{blocked}}
  server_set_id = $auth1
";

/// What to send after a `334` challenge: a user name and how to write the digest.
#[derive(Clone, Copy)]
enum Answer {
    Digest(&'static str),
    UpperCaseDigest(&'static str),
    WrongSecret(&'static str),
}

/// Each step: a command line, then the answer to its `334` challenge, if any.
const DIALOGUE: &[(&str, Option<Answer>)] = &[
    ("EHLO client.example", None),
    ("AUTH CRAM-MD5", Some(Answer::WrongSecret("user"))),
    ("AUTH CRAM-MD5", Some(Answer::Digest("blocked"))),
    ("AUTH CRAM-MD5", Some(Answer::UpperCaseDigest("user"))),
    ("AUTH CRAM-MD5", Some(Answer::Digest("user"))),
    ("AUTH CRAM-MD5", None),
    ("MAIL FROM:<user@client.example>", None),
    ("QUIT", None),
];

fn b64(s: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(s)
}

fn response(challenge: &[u8], answer: Answer) -> String {
    let (user, secret) = match answer {
        Answer::Digest(u) | Answer::UpperCaseDigest(u) => (u, format!("secret-{u}")),
        Answer::WrongSecret(u) => (u, "not-the-secret".to_string()),
    };
    let mut m = <Hmac<md5::Md5> as hmac::digest::KeyInit>::new_from_slice(secret.as_bytes())
        .expect("any key length");
    m.update(challenge);
    let mut hex: String = m
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    if matches!(answer, Answer::UpperCaseDigest(_)) {
        hex = hex.to_ascii_uppercase();
    }
    b64(format!("{user} {hex}").as_bytes())
}

/// Read one (possibly multi-line) reply; `None` at end of output.
fn read_reply(r: &mut impl BufRead, transcript: &mut String) -> Option<String> {
    loop {
        let mut line = String::new();
        if r.read_line(&mut line).ok()? == 0 {
            return None;
        }
        let done = line.as_bytes().get(3) != Some(&b'-');
        if line.starts_with("334 ") {
            transcript.push_str("334 <challenge>\n");
        } else {
            transcript.push_str(line.trim_end());
            transcript.push('\n');
        }
        if done {
            return Some(line);
        }
    }
}

/// Run the dialogue against a `-bh` process; returns the masked replies.
fn converse(mut child: Child) -> String {
    let pid = child.id();
    // Never hang the test run: kill the child if it stalls.
    let watchdog = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_secs(30));
        let _ = Command::new("kill").arg(pid.to_string()).status();
    });
    let mut input = child.stdin.take().unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut transcript = String::new();
    // `-bh` prints a notice before the banner.
    loop {
        let mut line = String::new();
        assert!(out.read_line(&mut line).unwrap() > 0, "no banner");
        if line.starts_with("220 ") {
            transcript.push_str("220 <banner>\n");
            break;
        }
    }
    for (command, answer) in DIALOGUE {
        transcript.push_str(&format!("C: {command}\n"));
        write!(input, "{command}\r\n").unwrap();
        input.flush().unwrap();
        let Some(reply) = read_reply(&mut out, &mut transcript) else {
            break;
        };
        if let (Some(b64_challenge), Some(answer)) = (reply.strip_prefix("334 "), answer) {
            let challenge = base64::engine::general_purpose::STANDARD
                .decode(b64_challenge.trim_end())
                .expect("base64 challenge");
            let text = String::from_utf8_lossy(&challenge).into_owned();
            assert!(
                text.starts_with('<') && text.ends_with("@mx.test>"),
                "challenge {text:?}"
            );
            write!(input, "{}\r\n", response(&challenge, *answer)).unwrap();
            input.flush().unwrap();
            read_reply(&mut out, &mut transcript);
        }
    }
    drop(input);
    let _ = child.wait();
    drop(watchdog);
    transcript
}

fn spawn(program: &str, conf: &Path) -> Child {
    Command::new(program)
        .arg("-C")
        .arg(conf)
        .args(["-bh", "192.0.2.1"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"))
}

fn conf_file(test: &str) -> std::path::PathBuf {
    let name = format!("rexim-cram-{}-{test}.conf", std::process::id());
    let path = std::env::temp_dir().join(name);
    std::fs::write(&path, CONFIG).unwrap();
    path
}

#[test]
fn rexim_cram_md5_dialogue() {
    let conf = conf_file("snapshot");
    let ours = converse(spawn(env!("CARGO_BIN_EXE_rexim"), &conf));
    let _ = std::fs::remove_file(&conf);
    insta::assert_snapshot!(ours);
}

#[test]
fn cram_md5_matches_exim() {
    let Some(exim) = ["/usr/sbin/exim4", "/usr/sbin/exim"]
        .into_iter()
        .find(|p| Path::new(p).exists())
    else {
        eprintln!("SKIPPED: exim4 is not installed here; the snapshot test still ran");
        return;
    };
    let conf = conf_file("exim");
    let theirs = converse(spawn(exim, &conf));
    let ours = converse(spawn(env!("CARGO_BIN_EXE_rexim"), &conf));
    let _ = std::fs::remove_file(&conf);
    assert_eq!(theirs, ours);
}
