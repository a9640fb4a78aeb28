//! The `spam` ACL condition: the message goes to SpamAssassin's spamd (or rspamd)
//! named by `spamd_address`; the answer sets `$spam_score`, `$spam_score_int`,
//! `$spam_bar`, `$spam_report`, `$spam_action`. `spam = user[:true][/defer_ok]`.

pub mod address;
pub mod client;
pub mod reply;

use std::time::Instant;

use crate::acl::engine::{AclRun, Rc};
use crate::acl::model::Item;
use crate::expand::Val;

/// Prefix of every log line the condition writes (Exim's `loglabel`).
const LABEL: &str = "spam acl condition:";

/// The last answer for this message: Exim asks spamd once per message and user.
#[derive(Debug, Clone)]
pub struct SpamCache {
    pub user: Vec<u8>,
    pub address: String,
    pub rc: Rc,
}

/// `spam = nobody`, `spam = nobody:true`, `spam = $local_part/defer_ok`.
pub fn spam(run: &mut AclRun, _: &Item, arg: &[u8]) -> Rc {
    let (user, rest, defer_ok) = split_arg(arg);
    let rc = check(run, &user, &rest);
    if rc == Rc::Defer && defer_ok {
        return Rc::Fail;
    }
    rc
}

/// Exim splits the argument at `/` first: the first part is a colon list whose first
/// item is the user and whose rest, if exactly `true`, forces success; a later
/// `/defer_ok` turns a deferral into failure.
fn split_arg(arg: &[u8]) -> (Vec<u8>, Vec<u8>, bool) {
    let mut parts = crate::expand::lists::iter_fixed(arg, b'/');
    let first = parts.next().unwrap_or_default();
    let defer_ok = parts.any(|i| i.eq_ignore_ascii_case(b"defer_ok"));
    let mut items = crate::expand::lists::iter(&first);
    let sep = items.separator();
    let user = items.next().unwrap_or_default();
    let body = match first.strip_prefix(b"<") {
        Some(r) if r.first() == Some(&sep) => &r[1..],
        _ => &first[..],
    };
    let mut i = 0;
    let mut rest = Vec::new();
    while i < body.len() {
        if body[i] == sep {
            if body.get(i + 1) == Some(&sep) {
                i += 2;
                continue;
            }
            rest = body[i + 1..].to_vec();
            break;
        }
        i += 1;
    }
    (user, rest, defer_ok)
}

fn check(run: &mut AclRun, user: &[u8], rest: &[u8]) -> Rc {
    if user.is_empty() || user == b"0" || user.eq_ignore_ascii_case(b"false") {
        return Rc::Fail;
    }
    let forced = rest.eq_ignore_ascii_case(b"true");
    let configured = run.acls.env.spamd_address.clone();
    let address = if configured.starts_with('$') {
        match crate::expand_str(&configured, run.ctx) {
            Ok(v) if v.tainted => {
                run.flush_trace_then_panic(format!(
                    "{LABEL} spamd_address \"{configured}\" expanded to tainted data: refused"
                ));
                return Rc::Defer;
            }
            Ok(v) => v.as_str_lossy().into_owned(),
            Err(e) => {
                run.flush_trace_then_panic(format!(
                    "{LABEL} spamd_address starts with $, but expansion failed: {}",
                    e.message
                ));
                return Rc::Defer;
            }
        }
    } else {
        configured
    };
    if let Some(c) = &run.state.spam_cache {
        if c.user == user && c.address == address {
            return if forced { Rc::Ok } else { c.rc };
        }
    }
    let Some(mbox) = mbox(run) else {
        run.flush_trace_then_panic(format!("{LABEL} error while creating mbox spool file"));
        return Rc::Defer;
    };
    let verdict = match ask(run, &address, user, &mbox) {
        Some(v) => v,
        None => return Rc::Defer,
    };
    for (name, value) in [
        ("spam_score", verdict.score_text()),
        ("spam_score_int", verdict.score_int()),
        ("spam_bar", verdict.bar()),
        ("spam_report", verdict.report.clone()),
        ("spam_action", verdict.action.clone()),
    ] {
        run.ctx.set(name, Val::from(value));
    }
    let rc = if verdict.is_spam() { Rc::Ok } else { Rc::Fail };
    run.state.spam_cache = Some(SpamCache {
        user: user.to_vec(),
        address,
        rc,
    });
    if forced {
        Rc::Ok
    } else {
        rc
    }
}

/// Pick servers until one answers; `None` after logging why (the condition defers).
fn ask(run: &mut AclRun, address: &str, user: &[u8], mbox: &[u8]) -> Option<reply::Verdict> {
    let (mut servers, warnings) = address::parse_list(address, seconds_of_day(run));
    for w in warnings {
        run.flush_trace_then_log(format!("{LABEL} {w}"));
    }
    if servers.is_empty() {
        run.flush_trace_then_panic(format!(
            "{LABEL} no useable spamd server addresses in spamd_address configuration option."
        ));
        return None;
    }
    let start = Instant::now();
    let random = rand::random::<u64>();
    let mut current = address::choose(&servers, random);
    let (mut stream, shown, server) = loop {
        let Some(i) = current else {
            run.flush_trace_then_panic(format!("{LABEL} all spamd servers failed"));
            return None;
        };
        let server = servers[i].clone();
        let mut attempt = client::connect(&server);
        if attempt.is_err() && !server.retry.is_zero() {
            // Exim sleeps `retry=` once (under -bh too), then tries the same server again.
            std::thread::sleep(server.retry);
            attempt = client::connect(&server);
        }
        match attempt {
            Ok((s, shown)) => break (s, shown, server),
            Err(e) => {
                run.flush_trace_then_log(format!("{LABEL} spamd: {e}"));
                servers[i].failed = true;
                current = address::choose(&servers, random);
            }
        }
    };
    let request = request(run, &server, user, mbox.len());
    let deadline = start + server.timeout;
    let answer = client::exchange(&mut stream, &request, mbox, !server.rspamd, deadline);
    let answer = match answer {
        Ok(a) => a,
        Err(f) => {
            let text = match f {
                client::Failure::Request(e) => format!("{LABEL} spamd {shown} send failed: {e}"),
                client::Failure::Send(e) => format!("{LABEL} {shown} on spamd {e} socket"),
                client::Failure::WriteTimeout => {
                    format!("{LABEL} timed out writing spamd {shown}, socket")
                }
                client::Failure::Read(e) => {
                    format!("{LABEL} error reading from spamd {shown}, socket: {e}")
                }
            };
            run.flush_trace_then_panic(text);
            return None;
        }
    };
    match reply::parse(&answer, server.rspamd) {
        Ok(v) => Some(v),
        Err(reply::Unparsable) => {
            let text = if server.rspamd {
                format!("{LABEL} cannot parse spamd {shown}, output")
            } else {
                format!("{LABEL} cannot parse spamd {shown} output")
            };
            run.flush_trace_then_panic(text);
            None
        }
    }
}

/// The request lines before the message: SpamAssassin's `REPORT SPAMC/1.2`, or
/// rspamd's `CHECK RSPAMC/1.3` with the envelope.
fn request(run: &mut AclRun, server: &address::Server, user: &[u8], size: usize) -> Vec<u8> {
    let mut r = Vec::new();
    if !server.rspamd {
        r.extend_from_slice(b"REPORT SPAMC/1.2\r\nUser: ");
        r.extend_from_slice(user);
        r.extend_from_slice(format!("\r\nContent-length: {size}\r\n\r\n").as_bytes());
        return r;
    }
    let var = |run: &mut AclRun, name: &str| -> Vec<u8> {
        run.ctx
            .get(name)
            .map(|v| v.bytes.clone())
            .unwrap_or_default()
    };
    r.extend_from_slice(format!("CHECK RSPAMC/1.3\r\nContent-length: {size}\r\n").as_bytes());
    r.extend_from_slice(b"Queue-Id: ");
    r.extend_from_slice(&var(run, "message_exim_id"));
    r.extend_from_slice(b"\r\nFrom: <");
    r.extend_from_slice(&var(run, "sender_address"));
    let recipients = run.state.recipients.clone();
    r.extend_from_slice(format!(">\r\nRecipient-Number: {}\r\n", recipients.len()).as_bytes());
    for rcpt in &recipients {
        r.extend_from_slice(b"Rcpt: <");
        r.extend_from_slice(rcpt);
        r.extend_from_slice(b">\r\n");
    }
    for (label, name) in [
        ("Helo", "sender_helo_name"),
        ("Hostname", "sender_host_name"),
        ("IP", "sender_host_address"),
        ("User", "authenticated_id"),
    ] {
        let v = var(run, name);
        if !v.is_empty() {
            r.extend_from_slice(format!("{label}: ").as_bytes());
            r.extend_from_slice(&v);
            r.extend_from_slice(b"\r\n");
        }
    }
    r.extend_from_slice(b"\r\n");
    r
}

/// The message as Exim spools it for scanners: a `From ` line, `X-Envelope-From:` and
/// `X-Envelope-To:`, the headers (its Received: first), a blank line, the body.
pub(crate) fn mbox(run: &mut AclRun) -> Option<Vec<u8>> {
    let prelude = "From ${if def:return_path{$return_path}{MAILER-DAEMON}} ${tod_bsdinbox}\n\
        ${if def:sender_address{X-Envelope-From: <${sender_address}>\n}}\
        ${if def:recipients{X-Envelope-To: ${recipients}\n}}";
    let mut out = crate::expand_str(prelude, run.ctx).ok()?.bytes;
    out.extend_from_slice(&run.state.received_header);
    let msg = run.ctx.message.clone()?;
    match &run.state.scan_headers {
        Some(fixed) => fixed.iter().for_each(|h| out.extend_from_slice(h)),
        None => msg
            .headers
            .iter()
            .for_each(|h| out.extend_from_slice(&h.text)),
    }
    out.push(b'\n');
    let data = run.state.scan_data.clone()?;
    out.extend_from_slice(crate::spool::build::split_headers(&data).1);
    Some(out)
}

/// Local time of day in seconds, for `time=` windows.
fn seconds_of_day(run: &mut AclRun) -> u32 {
    let t = crate::expand_str("$tod_log", run.ctx)
        .map(|v| v.as_str_lossy().into_owned())
        .unwrap_or_default();
    let hms = t.split(' ').nth(1).unwrap_or("0:0:0");
    hms.split(':')
        .map(|p| p.parse::<u32>().unwrap_or(0))
        .zip([3600, 60, 1])
        .map(|(a, b)| a * b)
        .sum()
}

#[cfg(test)]
mod tests {
    #[test]
    fn argument_list() {
        let s = |a: &str| super::split_arg(a.as_bytes());
        assert_eq!(s("nobody"), (b"nobody".to_vec(), vec![], false));
        assert_eq!(
            s("nobody:true"),
            (b"nobody".to_vec(), b"true".to_vec(), false)
        );
        assert_eq!(
            s("nobody:true/defer_ok"),
            (b"nobody".to_vec(), b"true".to_vec(), true)
        );
        // A colon item is part of the user list, not an option.
        assert!(!s("nobody:defer_ok").2);
        assert_eq!(
            s("<; a;true/DEFER_OK"),
            (b"a".to_vec(), b"true".to_vec(), true)
        );
    }
}
