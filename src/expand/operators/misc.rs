//! Miscellaneous operators: `expand` (re-expansion) and `stat`.

use std::os::unix::fs::MetadataExt;

use crate::error::{ExpResult, ExpandError};
use crate::expand::eval::Eval;
use crate::expand::operators::cstr;
use crate::expand::operators::{emit_clean, Input};

/// `${expand:\$primary_hostname}` expands its (already expanded) argument again.
pub fn expand(ev: &mut Eval, _: Option<&str>, v: Input, out: &mut Vec<u8>) -> ExpResult<bool> {
    let text = crate::expand::value::Val {
        bytes: cstr(v.bytes).to_vec(),
        tainted: v.tainted,
    };
    let result = ev.expand_text(&text).map_err(|mut e| {
        e.message = format!(
            "internal expansion of \"{}\" failed: {}",
            text.as_str_lossy(),
            e.message
        );
        e
    })?;
    out.extend_from_slice(&result.bytes);
    Ok(result.tainted)
}

/// The text of an OS error without Rust's ` (os error N)` suffix (C `strerror`).
pub fn strerror(e: &std::io::Error) -> String {
    let s = e.to_string();
    match s.rfind(" (os error ") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

/// `${stat:/etc/hostname}` gives `mode=0644 smode=-rw-r--r-- inode=... size=... mtime=...`.
pub fn stat(_: &mut Eval, _: Option<&str>, v: Input, out: &mut Vec<u8>) -> ExpResult<bool> {
    let path = String::from_utf8_lossy(cstr(v.bytes)).into_owned();
    let md = std::fs::metadata(&path)
        .map_err(|e| ExpandError::hard(format!("stat({path}) failed: {}", strerror(&e))))?;
    let mode = md.mode();
    let kind = match mode & 0o170000 {
        0o010000 => 'p',
        0o020000 => 'c',
        0o040000 => 'd',
        0o060000 => 'b',
        0o100000 => '-',
        _ => '?',
    };
    const NORMAL: [&str; 8] = ["---", "--x", "-w-", "-wx", "r--", "r-x", "rw-", "rwx"];
    const SETID: [&str; 8] = ["--S", "--s", "-wS", "-ws", "r-S", "r-s", "rwS", "rws"];
    const STICKY: [&str; 8] = ["--T", "--t", "-wT", "-wt", "r-T", "r-t", "rwT", "rwt"];
    let pick = |special: bool, table: &'static [&'static str; 8], bits: u32| {
        if special {
            table[(bits & 7) as usize]
        } else {
            NORMAL[(bits & 7) as usize]
        }
    };
    let smode = format!(
        "{kind}{}{}{}",
        pick(mode & 0o4000 != 0, &SETID, mode >> 6),
        pick(mode & 0o2000 != 0, &SETID, mode >> 3),
        pick(mode & 0o1000 != 0, &STICKY, mode),
    );
    Ok(emit_clean(out, format!(
        "mode={:04o} smode={smode} inode={} device={} links={} uid={} gid={} size={} atime={} mtime={} ctime={}",
        mode & 0o77777,
        md.ino() as i64,
        md.dev() as i64,
        md.nlink() as i64,
        md.uid(),
        md.gid(),
        md.size(),
        md.atime(),
        md.mtime(),
        md.ctime()
    )))
}
