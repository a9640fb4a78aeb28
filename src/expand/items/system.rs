//! Items that reach outside the process: `${env}`, `${readfile}` and `${run}`.

use std::io::{BufRead, BufReader, Read};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::error::{ExpResult, ExpandError};
use crate::expand::ast::{ItemMode, ItemNode};
use crate::expand::context::Context;
use crate::expand::eval::Eval;
use crate::expand::value::Val;

/// `${env}` with no argument fails with an empty message, as in Exim.
pub fn env_missing(_: &str, _: usize) -> String {
    String::new()
}

pub fn run_missing(_: &str, _: usize) -> String {
    "missing '{' for command arg of run".into()
}

/// Does `keep_environment` let `name` through? Unset or empty keeps nothing; `*` keeps all.
fn env_kept(ctx: &Context, name: &str) -> bool {
    let Some(list) = &ctx.settings.keep_environment else {
        return false;
    };
    for pattern in list {
        let (neg, p) = match pattern.strip_prefix('!') {
            Some(p) => (true, p.trim_start()),
            None => (false, pattern.as_str()),
        };
        let hit = if p == "*" {
            true
        } else if p.starts_with('^') {
            crate::expand::regex::compile(p.as_bytes(), false)
                .map(|re| re.is_match(name.as_bytes()).unwrap_or(false))
                .unwrap_or(false)
        } else if let Some(suffix) = p.strip_prefix('*') {
            name.ends_with(suffix)
        } else {
            p == name
        };
        if hit {
            return !neg;
        }
    }
    false
}

/// The environment Exim would have after `keep_environment` cleaning.
fn kept_environment(ctx: &Context) -> Vec<(std::ffi::OsString, std::ffi::OsString)> {
    std::env::vars_os()
        .filter(|(k, _)| env_kept(ctx, &k.to_string_lossy()))
        .collect()
}

/// `${env{HOME}{$value}{unset}}`: an environment variable (only those kept by
/// `keep_environment`; `exim -C /dev/null` keeps none).
pub fn env(ev: &mut Eval, node: &ItemNode, out: &mut Val) -> ExpResult<()> {
    let name = ev.seq(&node.args[0])?;
    let key = name.as_str_lossy().into_owned();
    let found = if !key.is_empty() && !key.contains(['=', '\0']) && env_kept(ev.ctx, &key) {
        std::env::var_os(&key).map(|v| Val::new(std::os::unix::ffi::OsStringExt::into_vec(v)))
    } else {
        None
    };
    ev.tail_value(&node.tail, found, "env", out)
}

/// Read a file the way Exim's `cat_file` does: 1023-byte `fgets` chunks, each cut at
/// a NUL byte; with `eol`, each line's newline is replaced by it.
fn cat_file<R: BufRead>(
    r: &mut R,
    eol: Option<&[u8]>,
    limit: usize,
    out: &mut Vec<u8>,
) -> std::io::Result<()> {
    let mut line = Vec::new();
    loop {
        line.clear();
        let n = r.by_ref().take(1023).read_until(b'\n', &mut line)?;
        if n == 0 {
            return Ok(());
        }
        let chunk = match line.iter().position(|&c| c == 0) {
            Some(z) => &line[..z],
            None => &line[..],
        };
        match (eol, chunk.last()) {
            (Some(e), Some(b'\n')) => {
                out.extend_from_slice(&chunk[..chunk.len() - 1]);
                out.extend_from_slice(e);
            }
            _ => out.extend_from_slice(chunk),
        }
        if out.len() > limit {
            return Err(std::io::Error::other(format!(
                "data exceeds the limit of {limit} bytes"
            )));
        }
    }
}

pub(crate) fn read_stream(
    r: &mut dyn Read,
    eol: Option<&[u8]>,
    limit: usize,
) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::new();
    cat_file(&mut BufReader::new(r), eol, limit, &mut out)?;
    Ok(out)
}

/// The text C's `strerror` gives for an I/O error (without Rust's " (os error N)").
pub(crate) fn strerror(e: &std::io::Error) -> String {
    match e.raw_os_error() {
        Some(code) => {
            let s = e.to_string();
            s.strip_suffix(&format!(" (os error {code})"))
                .map(str::to_string)
                .unwrap_or(s)
        }
        None => e.to_string(),
    }
}

/// `${readfile{/etc/hostname}{,}}`: the file's contents, newlines replaced by the
/// optional second argument. A tainted file name is refused (logged, "Permission denied").
pub fn readfile(ev: &mut Eval, node: &ItemNode, out: &mut Val) -> ExpResult<()> {
    let path = ev.seq(&node.args[0])?;
    let eol = match node.args.get(1) {
        Some(s) => Some(ev.seq(s)?),
        None => None,
    };
    let shown = path.as_str_lossy().into_owned();
    let opened = if path.tainted {
        ev.ctx.log.push(format!("Tainted filename '{shown}'"));
        Err(std::io::Error::from_raw_os_error(libc::EACCES))
    } else {
        std::fs::File::open(
            <std::ffi::OsStr as std::os::unix::ffi::OsStrExt>::from_bytes(&path.bytes),
        )
    };
    let mut f = opened
        .map_err(|e| ExpandError::hard(format!("failed to open {shown}: {}", strerror(&e))))?;
    let limit = ev.ctx.limits.max_output;
    let mut data = Vec::new();
    let eol_bytes = eol.as_ref().map(|v| v.bytes.as_slice());
    if let Err(e) = cat_file(&mut BufReader::new(&mut f), eol_bytes, limit, &mut data) {
        // A read error ends the data, as when fgets() fails (a directory reads as empty).
        if data.len() > limit {
            return Err(ExpandError::hard(format!("failed to read {shown}: {e}")));
        }
    }
    out.push(&Val {
        bytes: data,
        tainted: path.tainted || eol.is_some_and(|e| e.tainted),
    });
    Ok(())
}

/// Split a command line as Exim's `transport_set_up_command` does: blanks separate
/// arguments, `'...'` is verbatim, `"..."` takes backslash escapes.
fn split_command(s: &[u8]) -> Vec<Vec<u8>> {
    let is_space = |c: u8| matches!(c, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c);
    let mut args = Vec::new();
    let mut p = 0;
    while p < s.len() && is_space(s[p]) {
        p += 1;
    }
    while p < s.len() {
        let mut arg = Vec::new();
        if s[p] == b'\'' {
            p += 1;
            while p < s.len() && s[p] != b'\'' {
                arg.push(s[p]);
                p += 1;
            }
            p = (p + 1).min(s.len());
        } else if s[p] == b'"' {
            p += 1;
            while p < s.len() && s[p] != b'"' {
                if s[p] == b'\\' && p + 1 < s.len() {
                    let mut tmp = Vec::new();
                    let used = unescape_one(&s[p + 1..], &mut tmp);
                    arg.extend_from_slice(&tmp);
                    p += 1 + used;
                } else {
                    arg.push(s[p]);
                    p += 1;
                }
            }
            p = (p + 1).min(s.len());
        } else {
            while p < s.len() && !is_space(s[p]) {
                arg.push(s[p]);
                p += 1;
            }
        }
        args.push(arg);
        while p < s.len() && is_space(s[p]) {
            p += 1;
        }
    }
    args
}

/// One C-style escape after a backslash, appended to `out`; returns the bytes consumed.
fn unescape_one(s: &[u8], out: &mut Vec<u8>) -> usize {
    let (c, used) = crate::expand::escape::unescape_one(s);
    out.push(c);
    used
}

/// A close-on-exec pipe: (read end, write end).
fn pipe() -> std::io::Result<(std::fs::File, std::fs::File)> {
    use std::os::fd::FromRawFd;
    let mut fds = [0 as libc::c_int; 2];
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: pipe2 just returned two new descriptors that nothing else owns.
    Ok(unsafe {
        (
            std::fs::File::from_raw_fd(fds[0]),
            std::fs::File::from_raw_fd(fds[1]),
        )
    })
}

const MAX_ARGS: usize = 60;
const RUN_TIMEOUT: Duration = Duration::from_secs(60);

/// `${run{/bin/echo hi}{$value}{failed: $runrc}}`: run a command (never via a shell),
/// output in `$value` for both branches, exit code in `$runrc` (127 if it cannot be run).
pub fn run(ev: &mut Eval, node: &ItemNode, out: &mut Val) -> ExpResult<()> {
    let preexpand = node.mode == ItemMode::Preexpand;
    let (cmd_text, argv) = if preexpand {
        let cmd = ev.seq(&node.args[0])?;
        let argv: Vec<Val> = split_command(&cmd.bytes)
            .into_iter()
            .map(|a| cmd.derive(a))
            .collect();
        (cmd.as_str_lossy().into_owned(), argv)
    } else {
        let raw = node.raw.as_deref().unwrap_or("").to_string();
        let pieces = split_command(raw.as_bytes());
        if pieces.len() > MAX_ARGS {
            return Err(ExpandError::hard(format!(
                "Too many arguments in command \"{raw}\" in ${{run}} expansion"
            )));
        }
        let mut argv = Vec::new();
        for p in pieces {
            let text = String::from_utf8_lossy(&p).into_owned();
            let parsed = crate::expand::parse(&text);
            let v = ev.seq(&parsed.body).map_err(|e| {
                ExpandError::hard(format!(
                    "Expansion of \"{text}\" from command \"{raw}\" in ${{run}} expansion failed: {}",
                    e.message
                ))
            })?;
            argv.push(v);
        }
        (raw, argv)
    };
    if argv.len() > MAX_ARGS {
        return Err(ExpandError::hard(format!(
            "Too many arguments in command \"{cmd_text}\" in ${{run}} expansion"
        )));
    }
    // Exim 4.96 refuses only a tainted program path, at exec time (logged); other
    // arguments may be tainted, with or without preexpand.
    if let Some(cmd) = argv.first().filter(|a| a.tainted) {
        ev.ctx.log.push(format!(
            "Attempt to exec tainted path: '{}'",
            cmd.as_str_lossy()
        ));
        return Err(ExpandError::hard(
            "couldn't create child process: Operation not permitted",
        ));
    }
    let (rc, output) = execute(ev.ctx, &argv)?;
    ev.ctx.set("runrc", rc.to_string());
    let value = Val {
        bytes: output,
        tainted: argv.iter().any(|a| a.tainted),
    };
    // $value keeps the output after the item too: run does not restore it.
    ev.value = Some(value.clone());
    ev.tail(&node.tail, rc == 0, value.clone(), Some(value), "run", out)
}

/// Run `argv` with stdin closed and stderr joined to stdout; returns (exit code, output).
fn execute(ctx: &Context, argv: &[Val]) -> ExpResult<(i32, Vec<u8>)> {
    use std::os::unix::ffi::OsStrExt;
    let Some((prog, rest)) = argv.split_first() else {
        return Ok((127, Vec::new()));
    };
    let (reader, writer) = pipe().map_err(|e| {
        ExpandError::hard(format!("couldn't create child process: {}", strerror(&e)))
    })?;
    let writer2 = writer.try_clone().map_err(|e| {
        ExpandError::hard(format!("couldn't create child process: {}", strerror(&e)))
    })?;
    let mut cmd = Command::new(std::ffi::OsStr::from_bytes(&prog.bytes));
    cmd.args(rest.iter().map(|a| std::ffi::OsStr::from_bytes(&a.bytes)))
        .env_clear()
        .envs(kept_environment(ctx))
        .stdin(Stdio::null())
        .stdout(writer)
        .stderr(writer2)
        .process_group(0);
    // SAFETY: umask() is async-signal-safe; Exim runs the command with umask 077.
    unsafe {
        cmd.pre_exec(|| {
            libc::umask(0o077);
            Ok(())
        });
    }
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        // Exim forks first; a failed exec makes the child exit with 127.
        Err(_) => return Ok((127, Vec::new())),
    };
    drop(cmd);
    let pid = child.id() as libc::pid_t;
    let limit = ctx.limits.max_output;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut r = reader;
        let _ = tx.send(read_stream(&mut r, None, limit));
    });
    let output = match rx.recv_timeout(RUN_TIMEOUT) {
        Ok(Ok(data)) => data,
        Ok(Err(e)) => {
            unsafe { libc::killpg(pid, libc::SIGKILL) };
            let _ = child.wait();
            return Err(ExpandError::hard(format!(
                "reading command output failed: {e}"
            )));
        }
        Err(_) => {
            unsafe { libc::killpg(pid, libc::SIGKILL) };
            let _ = child.wait();
            return Err(ExpandError::hard("command timed out"));
        }
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match child.try_wait() {
            Ok(Some(status)) => {
                if let Some(code) = status.code() {
                    return Ok((code, output));
                }
                let sig = status.signal().unwrap_or(0);
                return Err(ExpandError::hard(format!("command killed by signal {sig}")));
            }
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(5)),
            Ok(None) => {
                unsafe { libc::killpg(pid, libc::SIGKILL) };
                let _ = child.wait();
                return Err(ExpandError::hard("command timed out"));
            }
            Err(e) => {
                return Err(ExpandError::hard(format!(
                    "wait() failed: {}",
                    strerror(&e)
                )))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::split_command;
    use crate::expand::{expand_str, Context};

    #[test]
    fn run_output_is_bounded() {
        let mut ctx = Context::default();
        ctx.limits.max_output = 20;
        let r = expand_str("${run{/bin/echo 01234567 01234567 01234567}}", &mut ctx);
        assert!(
            r.as_ref()
                .is_err_and(|e| e.message.starts_with("reading command output failed")),
            "{r:?}"
        );
        assert_eq!(
            expand_str("${run{/bin/echo 012}}", &mut ctx).map(|v| v.bytes),
            Ok(b"012\n".to_vec())
        );
    }

    #[test]
    fn env_honours_keep_environment() {
        std::env::set_var("REXIM_TEST_KEEP", "kept");
        let mut ctx = Context::default();
        let e =
            |s: &str, ctx: &mut Context| expand_str(s, ctx).map(|v| v.as_str_lossy().into_owned());
        assert_eq!(
            e("${env{REXIM_TEST_KEEP}{$value}{unset}}", &mut ctx).as_deref(),
            Ok("unset")
        );
        ctx.settings.keep_environment = Some(vec!["OTHER".into(), "REXIM_TEST_KEEP".into()]);
        assert_eq!(
            e("${env{REXIM_TEST_KEEP}{$value}{unset}}", &mut ctx).as_deref(),
            Ok("kept")
        );
        ctx.settings.keep_environment = Some(vec!["^REXIM_".into()]);
        assert_eq!(
            e("${env{REXIM_TEST_KEEP}}", &mut ctx).as_deref(),
            Ok("kept")
        );
        ctx.settings.keep_environment = Some(vec!["!REXIM_TEST_KEEP".into(), "*".into()]);
        assert_eq!(e("${env{REXIM_TEST_KEEP}}", &mut ctx).as_deref(), Ok(""));
        ctx.settings.keep_environment = Some(vec!["*".into()]);
        assert_eq!(
            e("${run{/usr/bin/env}}", &mut ctx).map(|o| o.contains("REXIM_TEST_KEEP=kept")),
            Ok(true)
        );
    }

    #[test]
    fn splits_like_exim() {
        let v = split_command(b" /bin/echo 'a  b' \"c\\td\" e ");
        assert_eq!(
            v,
            vec![
                b"/bin/echo".to_vec(),
                b"a  b".to_vec(),
                b"c\td".to_vec(),
                b"e".to_vec()
            ]
        );
    }
}
