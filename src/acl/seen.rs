//! `seen = [-]TIME / key=... / readonly|write / refresh=TIME`: was this key (by default
//! the client's IP address) recorded within (or, with `-`, before) TIME? Records live
//! in the `seen` hints database.

use crate::acl::engine::{AclRun, Rc};
use crate::acl::model::Item;
use crate::expand::operators::time::read_time;

#[derive(PartialEq, Eq)]
enum Mode {
    Default,
    ReadOnly,
    Write,
}

fn bad(run: &mut AclRun, msg: String) -> Rc {
    run.log_msg = Some(msg);
    Rc::Error
}

/// `seen = -5m / key=${sender_address}`: true when the key was last recorded at least
/// five minutes ago; `seen = 1d`: true when recorded within the last day.
pub fn seen(run: &mut AclRun, _: &Item, arg: &[u8]) -> Rc {
    let text = String::from_utf8_lossy(arg).into_owned();
    let mut parts = text.split('/').map(str::trim);
    let first = parts.next().unwrap_or("");
    let (before, t) = match first.strip_prefix('-') {
        Some(t) => (true, t),
        None => (false, first),
    };
    let Some(interval) = read_time(t.as_bytes()).map(i64::from) else {
        return bad(run, format!("failed to parse '{text}'"));
    };
    let mut key = run
        .ctx
        .get("sender_host_address")
        .map(|v| v.as_str_lossy().into_owned())
        .unwrap_or_default();
    let mut mode = Mode::Default;
    let mut refresh: i64 = 10 * 24 * 60 * 60;
    for opt in parts.filter(|p| !p.is_empty()) {
        if let Some(k) = opt.strip_prefix("key=") {
            key = k.to_string();
        } else if opt == "readonly" {
            mode = Mode::ReadOnly;
        } else if opt == "write" {
            mode = Mode::Write;
        } else if let Some(r) = opt.strip_prefix("refresh=") {
            match read_time(r.as_bytes()) {
                Some(r) => refresh = i64::from(r),
                None => return bad(run, format!("failed to parse '{text}'")),
            }
        } else {
            return bad(run, format!("unrecognised option '{opt}' in '{text}'"));
        }
    }
    let db = match run.acls.env.hints_dir.clone() {
        Some(dir) => crate::acl::hints::open(&dir, "seen").ok(),
        None => None,
    };
    let Some(db) = db else {
        run.ctx.trace(|| "database for 'seen' not available".into());
        run.log_msg = Some("database for 'seen' not available".into());
        return Rc::Defer;
    };
    // LMDB refuses empty keys: a local caller (no IP address) is stored as "<>".
    let db_key = if key.is_empty() {
        "<>".to_string()
    } else {
        key
    };
    let now = run.ctx.clock.now().0;
    let stored = match db.read(db_key.as_bytes()) {
        Ok(v) => v.and_then(|b| Some(i64::from_le_bytes(b.get(0..8)?.try_into().ok()?))),
        Err(_) => {
            run.log_msg = Some("database for 'seen' not available".into());
            return Rc::Defer;
        }
    };
    // The -bh trace names each outcome as Exim does.
    let write = |stamp: i64, run: &mut AclRun, how: &str| {
        if let Err(e) = db.write(db_key.as_bytes(), &stamp.to_le_bytes()) {
            run.flush_trace_then_panic(format!("seen database write failed: {e}"));
        }
        run.ctx.trace(|| format!("seen db written ({how})"));
    };
    let Some(stamp) = stored else {
        if mode != Mode::ReadOnly {
            write(now, run, "create");
        } else {
            run.ctx.trace(|| "seen db not written (readonly)".into());
        }
        return Rc::Fail;
    };
    let diff = now.saturating_sub(stamp);
    let hit = if before {
        diff >= interval
    } else {
        diff < interval
    };
    if mode == Mode::ReadOnly {
        run.ctx.trace(|| "seen db not written (readonly)".into());
    } else if mode == Mode::Write || !before {
        write(now, run, "update");
    } else if diff >= refresh {
        write(now.saturating_sub(interval), run, "refresh");
    }
    if hit {
        Rc::Ok
    } else {
        Rc::Fail
    }
}
