//! Helpers for comparing `rexim -bd` with `exim4 -bs`: one SMTP dialogue sent to the
//! daemon on 127.0.0.1 (bounded reads) or fed to `exim4 -bs` as if from 127.0.0.1,
//! and an exim4 configuration with its own spool and logs.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn reply(r: &mut BufReader<TcpStream>) -> String {
    let mut all = String::new();
    loop {
        let mut line = String::new();
        assert!(r.read_line(&mut line).unwrap() > 0, "closed: {all}");
        all.push_str(&line);
        if line.as_bytes().get(3) != Some(&b'-') {
            return all;
        }
    }
}

/// Send the lines (CRLF) to the daemon, one reply per command (none for message
/// lines); all replies in one text.
pub fn send(port: u16, lines: &[String]) -> String {
    let s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(super::daemon::IO_TIMEOUT)).unwrap();
    let mut r = BufReader::new(s.try_clone().unwrap());
    let mut w = s;
    let mut all = reply(&mut r);
    let mut in_data = false;
    for l in lines {
        w.write_all(format!("{l}\r\n").as_bytes()).unwrap();
        if in_data && l != "." {
            continue;
        }
        let mut rep = reply(&mut r);
        // PRDR answers the final dot with one reply per recipient, then its summary.
        while l == "." && !rep.contains("id=") && !rep.starts_with(['4', '5']) {
            all.push_str(&rep);
            rep = reply(&mut r);
        }
        in_data = rep.starts_with("354");
        all.push_str(&rep);
    }
    all
}

/// Feed the lines to `exim4 -bs` as if from 127.0.0.1; its replies.
pub fn exim_bs(conf: &Path, lines: &[String], extra_args: &[&str]) -> String {
    let mut child = Command::new("exim4")
        .arg("-C")
        .arg(conf)
        .args(["-bs", "-oMa", "127.0.0.1"])
        .args(extra_args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let input: String = lines.iter().map(|l| format!("{l}\r\n")).collect();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// An exim4 configuration under `dir` with its spool and logs in `spool`.
pub fn exim_config(dir: &Path, spool: &Path, extra: &str) -> PathBuf {
    let path = dir.join("exim.conf");
    std::fs::write(
        &path,
        format!(
            "spool_directory = {0}\nlog_file_path = {0}/log/%slog\nkeep_environment =\n\
             exim_user = root\nexim_group = root\nqueue_only = true\n\
             queue_list_requires_admin = false\nprimary_hostname = test.example\n{extra}",
            spool.display()
        ),
    )
    .unwrap();
    path
}

pub fn have_exim() -> bool {
    Command::new("exim4")
        .arg("-bV")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// The lines of a session: EHLO, then `commands`, then QUIT.
pub fn session(commands: &[&str]) -> Vec<String> {
    std::iter::once("EHLO client.example")
        .chain(commands.iter().copied())
        .chain(std::iter::once("QUIT"))
        .map(String::from)
        .collect()
}
