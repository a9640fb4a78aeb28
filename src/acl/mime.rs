//! The MIME ACL's view of the current part (`MimeCursor`) and the conditions that read
//! it: `decode` (write the decoded part to a file), `mime_regex` (match the decoded
//! part) and `regex` within a part, as Exim's content scanner does them.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::acl::engine::{AclRun, Rc};
use crate::acl::model::Item;
use crate::expand::lists;
use crate::expand::Val;
use crate::mime::decode::{decode_part, is_boundary, next_line, MAX_LINE};

/// The part the MIME ACL is running for.
#[derive(Debug, Clone)]
pub struct MimeCursor {
    /// The message as Exim spools it for scanning (headers, blank line, body), or a
    /// decoded `message/rfc822` part.
    pub data: Arc<[u8]>,
    /// Where the part's body starts, and the boundary that ends it.
    pub body: usize,
    pub boundary: Option<Vec<u8>>,
    /// `$mime_content_transfer_encoding` (lower case).
    pub encoding: Option<Vec<u8>>,
    /// `spool_directory/scan/<message id>`, where decoded parts go; `None` when no
    /// spool directory is configured.
    pub scan_dir: Option<PathBuf>,
    pub message_id: String,
}

/// How much of a decoded part `mime_regex` looks at (Exim reads 32766 bytes).
const MIME_REGEX_WINDOW: u64 = 32766;
/// Automatic decode file names tried (`<id>-00000` ...), as Exim.
const MAX_DECODE_FILES: u32 = 1024;

/// The regexes of a `regex` / `mime_regex` list as Exim's content scanner compiles
/// them: `false` and `0` items skipped, a bad regex logged and skipped, and the list
/// reversed (Exim builds it by prepending).
pub fn compile_list(run: &mut AclRun, arg: &[u8]) -> Vec<(Vec<u8>, Arc<pcre2::bytes::Regex>)> {
    let mut out = Vec::new();
    for pat in lists::iter(arg) {
        if pat.eq_ignore_ascii_case(b"false") || pat == b"0" {
            continue;
        }
        match crate::expand::regex::compile(&pat, false) {
            Ok(re) => out.push((pat, re)),
            Err(e) => run.flush_trace_then_log(format!(
                "regex acl condition warning - error in regex '{}': {}, skipped.",
                String::from_utf8_lossy(&pat),
                e.message
            )),
        }
    }
    out.reverse();
    out
}

/// Try the regexes on `subject` in order (Exim's `matcher`): the first that matches sets
/// `$regex_match_string` and `$regex1`...
pub fn matcher(
    run: &mut AclRun,
    res: &[(Vec<u8>, Arc<pcre2::bytes::Regex>)],
    subject: &[u8],
) -> bool {
    for (pat, re) in res {
        // Most lines do not match: `is_match` needs no capture buffers of its own.
        if !re.is_match(subject).unwrap_or(false) {
            continue;
        }
        if let Ok(Some(caps)) = re.captures(subject) {
            run.ctx
                .set_id(crate::vid!("regex_match_string"), Val::tainted(pat.clone()));
            for i in 1..caps.len().min(10) {
                let v = caps.get(i).map(|m| m.as_bytes()).unwrap_or_default();
                run.ctx
                    .set_var(&crate::expand::vars::Var::Regex(i as u8), Val::tainted(v));
            }
            return true;
        }
    }
    false
}

/// `regex =`: each line of `data` from `start` (up to `boundary`) against the list.
pub fn match_lines(
    run: &mut AclRun,
    arg: &[u8],
    data: &[u8],
    start: usize,
    boundary: Option<&[u8]>,
) -> Rc {
    run.ctx.unset_ids(&[crate::vid!("regex_match_string")]);
    let res = compile_list(run, arg);
    if res.is_empty() {
        return Rc::Fail;
    }
    let mut pos = start;
    while let Some(line) = next_line(data, &mut pos, MAX_LINE) {
        if boundary.is_some_and(|b| is_boundary(line, b)) {
            break;
        }
        if matcher(run, &res, line) {
            return Rc::Ok;
        }
    }
    Rc::Fail
}

/// `regex =` in the MIME ACL: each line of the current part, up to its boundary.
pub fn regex_in_part(run: &mut AclRun, arg: &[u8]) -> Rc {
    let Some(cur) = run.state.mime.clone() else {
        return Rc::Fail;
    };
    match_lines(run, arg, &cur.data, cur.body, cur.boundary.as_deref())
}

/// `decode = default | /dir | /dir/file | file`: decode the current part into a file
/// (default directory `spool_directory/scan/<message id>`), set `$mime_decoded_filename`
/// and `$mime_content_size` (KiB, rounded up). A file name from tainted data is refused.
pub fn decode(run: &mut AclRun, _: &Item, arg: &[u8]) -> Rc {
    let Some(cur) = run.state.mime.clone() else {
        return Rc::Fail;
    };
    let option = lists::iter(arg).next();
    let named = match option.as_deref() {
        Some(b"false" | b"0") => return Rc::Fail,
        None | Some(b"default") => None,
        Some(o) => Some(String::from_utf8_lossy(o).into_owned()),
    };
    // A name from network data never names a file (Exim: `Tainted filename`, defer).
    if let Some(n) = named.as_deref().filter(|_| run.arg_tainted) {
        let path = if n.starts_with('/') {
            n.to_string()
        } else {
            format!("{}/{n}", scan_dir_text(&cur))
        };
        run.flush_trace_then_log(format!("Tainted filename '{path}'"));
        return Rc::Defer;
    }
    match decode_to_file(run, &cur, named.as_deref()) {
        Ok(_) => Rc::Ok,
        Err(e) => {
            run.log_msg = Some(e);
            Rc::Defer
        }
    }
}

fn scan_dir_text(cur: &MimeCursor) -> String {
    cur.scan_dir
        .as_deref()
        .map(|d| d.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Decode the current part to a file named as Exim's `mime_decode` names it; returns the
/// file name.
fn decode_to_file(
    run: &mut AclRun,
    cur: &MimeCursor,
    option: Option<&str>,
) -> Result<PathBuf, String> {
    let scan = cur
        .scan_dir
        .clone()
        .ok_or_else(|| "decode: no spool_directory to decode MIME parts into".to_string())?;
    let path = match option {
        Some(o) if o.starts_with('/') => {
            if Path::new(o).is_dir() {
                free_name(Path::new(o), &cur.message_id)
            } else {
                PathBuf::from(o)
            }
        }
        // Relative names and automatic ones go into the message's scan directory, which
        // Exim has created for its copy of the message.
        rel => {
            std::fs::create_dir_all(&scan)
                .map_err(|e| format!("decode: cannot create {}: {e}", scan.display()))?;
            match rel {
                Some(name) => scan.join(name),
                None => free_name(&scan, &cur.message_id),
            }
        }
    };
    let (bytes, anomaly) = decode_part(
        &cur.data,
        cur.body,
        cur.boundary.as_deref(),
        cur.encoding.as_deref(),
    );
    if let Some(a) = anomaly {
        run.ctx.set("mime_anomaly_level", a.level().to_string());
        run.ctx.set("mime_anomaly_text", a.text());
    }
    write_file(&path, &bytes)
        .map_err(|e| format!("decode: cannot write {}: {e}", path.display()))?;
    run.ctx.set(
        "mime_decoded_filename",
        Val::from(path.to_string_lossy().into_owned()),
    );
    run.ctx
        .set("mime_content_size", bytes.len().div_ceil(1024).to_string());
    Ok(path)
}

/// The first `<dir>/<id>-NNNNN` that does not exist yet.
fn free_name(dir: &Path, id: &str) -> PathBuf {
    let mut n = 0;
    loop {
        let p = dir.join(format!("{id}-{n:05}"));
        n += 1;
        if n >= MAX_DECODE_FILES || !p.exists() {
            return p;
        }
    }
}

fn write_file(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o640)
        .open(path)?;
    f.write_all(bytes)
}

/// `mime_regex = list`: match the decoded part (decoding it first, to the default file,
/// unless `decode` already did); only its first 32766 bytes are looked at.
pub fn mime_regex(run: &mut AclRun, _: &Item, arg: &[u8]) -> Rc {
    let Some(cur) = run.state.mime.clone() else {
        return Rc::Fail;
    };
    run.ctx.unset("regex_match_string");
    let res = compile_list(run, arg);
    if res.is_empty() {
        return Rc::Fail;
    }
    let decoded = run
        .ctx
        .get("mime_decoded_filename")
        .filter(|v| !v.is_empty())
        .map(|v| PathBuf::from(v.as_str_lossy().into_owned()));
    let file = match decoded {
        Some(f) => f,
        None => match decode_to_file(run, &cur, None) {
            Ok(f) => f,
            Err(e) => {
                run.flush_trace_then_log(format!(
                    "mime_regex acl condition warning - could not decode MIME part to file ({e})"
                ));
                return Rc::Defer;
            }
        },
    };
    let mut subject = Vec::new();
    let read = std::fs::File::open(&file)
        .and_then(|f| f.take(MIME_REGEX_WINDOW).read_to_end(&mut subject));
    if read.is_err() {
        run.flush_trace_then_log(format!(
            "mime_regex acl condition warning - can't open '{}' for reading",
            file.display()
        ));
        return Rc::Defer;
    }
    if matcher(run, &res, &subject) {
        Rc::Ok
    } else {
        Rc::Fail
    }
}
