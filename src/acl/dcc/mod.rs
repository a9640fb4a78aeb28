//! The `dcc` ACL condition (Exim's `EXPERIMENTAL_DCC`): the envelope and the message go
//! to dccifd at `dccifd_address`; its overall answer decides the condition (`A`/`S`
//! true, `R`/`G` false, `T` defer) and sets `$dcc_result` and `$dcc_header`.
//! `dcc = *[/defer_ok]`; with `dcc_direct_add_header` the header joins the message.

pub mod client;
pub mod reply;
pub mod request;

use std::sync::Arc;
use std::time::Duration;

use crate::acl::engine::{AclRun, Rc};
use crate::acl::model::Item;
use crate::acl::state::LogLine;
use crate::expand::message::Header;
use crate::expand::Val;

/// The main options the condition reads.
#[derive(Debug, Clone)]
pub struct DccSettings {
    /// `dccifd_address` (Exim's default `/usr/local/dcc/var/dccifd`).
    pub address: String,
    /// `dccifd_options`, sent as the first line (default `header`).
    pub options: String,
    /// `dcc_direct_add_header`.
    pub direct_add_header: bool,
    /// The whole exchange's time limit. Exim has none (a stuck dccifd holds the SMTP
    /// session until the client gives up); rexim defers after it.
    pub timeout: Duration,
}

impl Default for DccSettings {
    fn default() -> Self {
        DccSettings {
            address: "/usr/local/dcc/var/dccifd".into(),
            options: "header".into(),
            direct_add_header: false,
            timeout: Duration::from_secs(60),
        }
    }
}

/// Read `dccifd_address`, `dccifd_options`, `dcc_direct_add_header` and
/// `bmi_config_file` (their defaults when unset) into the ACL services.
pub fn settings_from_config(cfg: &crate::config::Config, env: &mut crate::acl::env::AclEnv) {
    use crate::config::Value;
    let main = |name: &str| {
        crate::config::tables::find(crate::config::tables::MAIN, name).map(|d| cfg.main_value(d))
    };
    if let Some(Value::Str(s)) = main("dccifd_address") {
        env.dcc.address = s;
    }
    if let Some(Value::Str(s)) = main("dccifd_options") {
        env.dcc.options = s;
    }
    if let Some(Value::Bool(b)) = main("dcc_direct_add_header") {
        env.dcc.direct_add_header = b;
    }
    if let Some(Value::Str(s)) = main("bmi_config_file") {
        env.bmi.config_file = s;
    }
}

/// `dcc = *`, `dcc = */defer_ok`; a first item `false`, `0` or nothing is false
/// without asking dccifd.
pub fn dcc(run: &mut AclRun, _: &Item, arg: &[u8]) -> Rc {
    let (first, defer_ok) = split_arg(arg);
    let rc = match first {
        None => Rc::Fail,
        Some(w) if w.eq_ignore_ascii_case(b"false") || w == b"0" => Rc::Fail,
        Some(_) => check(run),
    };
    if rc == Rc::Defer && defer_ok {
        return Rc::Fail;
    }
    rc
}

/// Exim splits the argument at `/` (or the separator a leading `<x` names); the first
/// part is itself a colon list whose first item decides whether to scan, and a later
/// `defer_ok` turns a deferral into failure.
fn split_arg(arg: &[u8]) -> (Option<Vec<u8>>, bool) {
    let mut parts = crate::expand::lists::iter_default(arg, b'/');
    let first = parts.next().unwrap_or_default();
    let defer_ok = parts.any(|p| p.eq_ignore_ascii_case(b"defer_ok"));
    (crate::expand::lists::iter(&first).next(), defer_ok)
}

fn log(run: &mut AclRun, targets: Vec<&'static str>, text: String) {
    run.flush_trace();
    run.state.logs.push(LogLine { targets, text });
}

fn var(run: &AclRun, name: &str) -> Option<Vec<u8>> {
    run.ctx.get(name).map(|v| v.bytes.clone())
}

/// Ask dccifd once per message; later `dcc` conditions get the same result.
fn check(run: &mut AclRun) -> Rc {
    if let Some(rc) = run.state.dcc {
        return rc;
    }
    let (Some(data), Some(msg)) = (run.state.scan_data.clone(), run.ctx.message.clone()) else {
        log(
            run,
            vec!["main", "panic"],
            "DCC: error while opening spool file".into(),
        );
        return Rc::Defer;
    };
    let settings = run.acls.env.dcc.clone();
    let Some(address) = client::parse_address(&settings.address) else {
        let text = format!(
            "DCC: warning - invalid dccifd address: '{}'",
            settings.address
        );
        log(run, vec!["main"], text);
        return Rc::Defer;
    };
    let sender = var(run, "sender_address").unwrap_or_default();
    let envelope = request::envelope(
        settings.options.as_bytes(),
        &client_ip(run),
        &sender,
        &run.state.recipients,
    );
    let received = run.state.received_header.clone();
    let headers = std::iter::once(&received[..]).chain(msg.headers.iter().map(|h| h.text()));
    let body = crate::spool::build::split_headers(&data).1;
    let message = request::message(headers, body);
    let answer = match client::exchange(&address, &envelope, &message, settings.timeout) {
        Ok(a) => a,
        Err(f) => {
            let (targets, text) = match f {
                client::Failure::ConnectUnix(e) => (
                    vec!["panic"],
                    format!("DCC: Connecting to UNIX socket failed: {e}"),
                ),
                client::Failure::ConnectTcp(e) => (
                    vec!["panic"],
                    format!("DCC: Connecting to TCP socket failed: {e}"),
                ),
                client::Failure::Write(e) => {
                    (vec!["main"], format!("DCC: error writing to dccifd: {e}"))
                }
                client::Failure::Shutdown(e) => {
                    (vec!["main"], format!("DCC: Couldn't shutdown socket: {e}"))
                }
                client::Failure::Timeout => (
                    vec!["main"],
                    format!(
                        "DCC: no answer from dccifd within {}s",
                        settings.timeout.as_secs_f64()
                    ),
                ),
            };
            log(run, targets, text);
            return Rc::Defer;
        }
    };
    let rc = conclude(run, &answer, &sender);
    if settings.direct_add_header {
        add_headers(run);
    }
    run.state.dcc = Some(rc);
    rc
}

/// `$acl_m_dcc_override_client_ip` if set and not empty, else the client's address,
/// else (a local message) `127.0.0.1`.
fn client_ip(run: &mut AclRun) -> Vec<u8> {
    if let Ok(v) = crate::expand_str("$acl_m_dcc_override_client_ip", run.ctx) {
        if !v.is_empty() {
            return v.bytes;
        }
    }
    var(run, "sender_host_address")
        .filter(|a| !a.is_empty())
        .unwrap_or_else(|| b"127.0.0.1".to_vec())
}

/// Set the variables from dccifd's answer, log what Exim logs, give the result.
fn conclude(run: &mut AclRun, answer: &[u8], sender: &[u8]) -> Rc {
    let parsed = reply::parse(answer);
    // Exim logs what its first read got: at most one buffer (16 KiB less one byte).
    let shown = || {
        let t = String::from_utf8_lossy(&answer[..answer.len().min(16383)]);
        t.trim_end_matches('\n').to_string()
    };
    let rc = match parsed.overall {
        Some(c) => {
            let (rc, result, logged) = reply::verdict(c);
            run.ctx.set("dcc_result", result);
            match logged {
                reply::Logged::Nothing => {}
                reply::Logged::Rejected => {
                    let text = rejected_line(run, sender);
                    log(run, vec!["main"], text);
                }
                reply::Logged::Temporary => {
                    log(
                        run,
                        vec!["main"],
                        format!("Temporary error with DCC: {}", shown()),
                    );
                }
                reply::Logged::Unknown => {
                    log(
                        run,
                        vec!["main"],
                        format!("Unknown DCC response: {}", shown()),
                    );
                }
            }
            rc
        }
        // Exim defers silently here (and keeps the old `$dcc_result`).
        None => {
            log(
                run,
                vec!["main"],
                "DCC: no overall result in the answer from dccifd".into(),
            );
            Rc::Defer
        }
    };
    // Exim logs this after the result (for each further character; rexim once).
    if parsed.long_first_line {
        log(
            run,
            vec!["main"],
            format!("Wrong header from DCC, output is {}", shown()),
        );
    }
    if let Some(h) = parsed.dcc_header() {
        run.ctx.set("dcc_header", Val::tainted(h.to_vec()));
        if run.acls.env.dcc.direct_add_header {
            add_direct(run, h.to_vec());
        }
    }
    rc
}

fn rejected_line(run: &AclRun, sender: &[u8]) -> String {
    let addr = var(run, "sender_host_address")
        .map(|a| String::from_utf8_lossy(&a).into_owned())
        // A local message has no client address: Exim's log_write prints NULL.
        .unwrap_or_else(|| "NULL".into());
    let from = String::from_utf8_lossy(sender);
    match var(run, "sender_host_name").filter(|n| !n.is_empty()) {
        Some(n) => format!(
            "H={} [{addr}] F=<{from}>: rejected by DCC",
            String::from_utf8_lossy(&n)
        ),
        None => format!("H=[{addr}] F=<{from}>: rejected by DCC"),
    }
}

/// `dcc_direct_add_header`: `$acl_m_dcc_add_header` goes in as it is, a newline added
/// if it lacks one (Exim does not check its syntax).
fn add_headers(run: &mut AclRun) {
    let Ok(v) = crate::expand_str("$acl_m_dcc_add_header", run.ctx) else {
        return;
    };
    if v.is_empty() {
        return;
    }
    let mut text = v.bytes;
    if text.last() != Some(&b'\n') {
        text.push(b'\n');
    }
    add_direct(run, text);
}

/// Add a header at once, as Exim's `header_add`: later conditions see it (`$h_*`,
/// the copy `spam` sends) and the spool gets it before the header lines this ACL's
/// own `add_header` modifiers queue (Exim adds those when the ACL ends).
fn add_direct(run: &mut AclRun, text: Vec<u8>) {
    run.state
        .add_direct(String::from_utf8_lossy(&text).into_owned());
    if let Some(m) = run.ctx.message.clone() {
        let mut m = (*m).clone();
        m.headers.push(Header { text });
        run.ctx.message = Some(Arc::new(m));
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn argument_list() {
        let s = |a: &str| super::split_arg(a.as_bytes());
        assert_eq!(s("*"), (Some(b"*".to_vec()), false));
        assert_eq!(s("*/defer_ok"), (Some(b"*".to_vec()), true));
        assert_eq!(s("*/DEFER_OK"), (Some(b"*".to_vec()), true));
        assert_eq!(s("<, false,defer_ok"), (Some(b"false".to_vec()), true));
        assert_eq!(s("0 : x"), (Some(b"0".to_vec()), false));
        assert_eq!(s(""), (None, false));
        // An empty first item is still an item: Exim scans.
        assert_eq!(s(":"), (Some(Vec::new()), false));
    }
}
