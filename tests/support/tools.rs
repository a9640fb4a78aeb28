//! Other programs the end-to-end tests talk to or compare with (`exim4`, `openssl`,
//! swaks, Python), each run bounded in time; `None` where the program is not installed.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Run `cmd` with `input` on its stdin (none: an empty stdin) and a 30 s limit;
/// `None` when it cannot be started.
pub fn run_bounded(cmd: &mut Command, input: Option<&[u8]>) -> Option<Output> {
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

/// The real `exim4 -C conf args…` (which must succeed); its stdout, or `None` where
/// exim4 is not installed.
pub fn exim4(conf: &Path, args: &[&str]) -> Option<String> {
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

/// `openssl x509` on a DER certificate (written to `dir/probe.der`); `None` without
/// the command.
pub fn openssl_x509(dir: &Path, der: &[u8], args: &[&str]) -> Option<String> {
    let path = dir.join("probe.der");
    std::fs::write(&path, der).ok()?;
    let out = Command::new("openssl")
        .args(["x509", "-inform", "DER", "-noout", "-in"])
        .arg(&path)
        .args(args)
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}
