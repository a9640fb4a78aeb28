//! ACL modifiers: always "true", acting when reached (`set`, `add_header`, `control`, ...).

use std::time::Duration;

use crate::acl::engine::{AclRun, Rc};
use crate::acl::model::{Arg, Item};
use crate::acl::phase::bits::*;
use crate::acl::state::LogLine;
use crate::expand::{expand, Val};

/// `message`/`log_message` are handled by the engine; reaching here is a no-op.
pub fn message_text(_: &mut AclRun, _: &Item, _: &[u8]) -> Rc {
    Rc::Ok
}

/// `endpass` is handled by the engine.
pub fn endpass(_: &mut AclRun, _: &Item, _: &[u8]) -> Rc {
    Rc::Ok
}

/// `continue = ${...}`: the expansion (already done) is all it is for.
pub fn continue_(_: &mut AclRun, _: &Item, _: &[u8]) -> Rc {
    Rc::Ok
}

/// `set acl_m_x = value`.
pub fn set(run: &mut AclRun, item: &Item, _: &[u8]) -> Rc {
    let Arg::Set(name, value) = &item.arg else {
        return Rc::Error;
    };
    // The engine has expanded the value already (to trace it).
    if let Some(v) = run.set_value.take() {
        run.ctx.set(name, v);
        return Rc::Ok;
    }
    match expand(value, run.ctx) {
        Ok(v) => {
            run.ctx.set(name, v);
            Rc::Ok
        }
        Err(e) if e.is_forced() => Rc::Ok,
        Err(e) => {
            run.log_msg = Some(format!(
                "failed to expand ACL string \"{}\": {}",
                value.source(),
                e.message
            ));
            if e.kind == crate::ErrorKind::Defer {
                Rc::Defer
            } else {
                Rc::Error
            }
        }
    }
}

/// `add_header = [:at_start:|:at_start_rfc:|:after_received:|:at_end:]text`, several
/// lines allowed, each with its own position.
pub fn add_header(run: &mut AclRun, _: &Item, arg: &[u8]) -> Rc {
    run.state.add_header_lines(&String::from_utf8_lossy(arg));
    Rc::Ok
}

/// `remove_header = name : name ...`.
pub fn remove_header(run: &mut AclRun, _: &Item, arg: &[u8]) -> Rc {
    for name in crate::expand::lists::iter(arg) {
        let n = String::from_utf8_lossy(&name)
            .trim_end_matches(':')
            .to_string();
        if !n.is_empty() {
            run.state.remove_headers.push(n);
        }
    }
    Rc::Ok
}

/// `logwrite = [:main,reject,panic:] text`: written at once, non-printing bytes escaped.
pub fn logwrite(run: &mut AclRun, _: &Item, arg: &[u8]) -> Rc {
    let (targets, msg): (Vec<&'static str>, &[u8]) = match arg.strip_prefix(b":").and_then(|r| {
        r.iter()
            .position(|&c| c == b':')
            .map(|i| (&r[..i], &r[i + 1..]))
    }) {
        Some((list, msg)) => {
            let t = String::from_utf8_lossy(list)
                .split(',')
                .filter_map(|w| match w.trim() {
                    "main" => Some("main"),
                    "reject" => Some("reject"),
                    "panic" => Some("panic"),
                    _ => None,
                })
                .collect();
            (t, msg.trim_ascii_start())
        }
        None => (vec!["main"], arg),
    };
    run.flush_trace();
    run.state.logs.push(LogLine {
        targets,
        text: string_printing(msg),
    });
    Rc::Ok
}

/// Exim's `string_printing`: bytes outside printable ASCII become `\n`, `\t`, ... or
/// three octal digits.
pub fn string_printing(s: &[u8]) -> String {
    let mut out = String::with_capacity(s.len());
    for &c in s {
        match c {
            b' '..=b'~' => out.push(c as char),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            0x08 => out.push_str("\\b"),
            0x0b => out.push_str("\\v"),
            0x0c => out.push_str("\\f"),
            c => out.push_str(&format!("\\{c:03o}")),
        }
    }
    out
}

/// `log_reject_target = main : reject : panic` (may be empty).
pub fn log_reject_target(run: &mut AclRun, _: &Item, arg: &[u8]) -> Rc {
    let mut targets = Vec::new();
    for t in crate::expand::lists::iter(arg) {
        match t.as_slice() {
            b"main" => targets.push("main"),
            b"reject" => targets.push("reject"),
            b"panic" => targets.push("panic"),
            other => {
                run.state.panic_log(format!(
                    "unknown log name \"{}\" in \"log_reject_target\" in {} ACL",
                    String::from_utf8_lossy(other),
                    run.phase.name()
                ));
            }
        }
    }
    run.state.reject_targets = Some(targets);
    Rc::Ok
}

/// `delay = 2s`: recorded; the SMTP engine sleeps (not under `-bh`).
pub fn delay(run: &mut AclRun, _: &Item, arg: &[u8]) -> Rc {
    let text = String::from_utf8_lossy(arg);
    match parse_time(text.trim()) {
        Some(secs) => {
            run.ctx
                .trace(|| format!("delay modifier requests {secs}-second delay"));
            if run.host_checking {
                run.ctx
                    .trace(|| "delay skipped in -bh checking mode".into());
            } else {
                run.state.delay += Duration::from_secs(secs);
            }
            Rc::Ok
        }
        None => {
            run.log_msg = Some(format!(
                "syntax error in argument for \"delay\" modifier: \"{}\" is not a time value",
                text.trim()
            ));
            Rc::Error
        }
    }
}

/// Exim time values: `1h30m`, `90s`, a bare number of seconds.
pub fn parse_time(s: &str) -> Option<u64> {
    if s.is_empty() {
        return None;
    }
    let mut total: u64 = 0;
    let mut num: Option<u64> = None;
    for c in s.chars() {
        if let Some(d) = c.to_digit(10) {
            num = Some(num.unwrap_or(0).checked_mul(10)?.checked_add(d as u64)?);
            continue;
        }
        let mult = match c {
            'w' => 7 * 86400,
            'd' => 86400,
            'h' => 3600,
            'm' => 60,
            's' => 1,
            _ => return None,
        };
        total = total.checked_add(num.take()?.checked_mul(mult)?)?;
    }
    if let Some(n) = num {
        total = total.checked_add(n)?;
    }
    Some(total)
}

/// `queue = name`: the named queue for this message (untainted, no `/`).
pub fn queue(run: &mut AclRun, _: &Item, arg: &[u8]) -> Rc {
    let name = String::from_utf8_lossy(arg).into_owned();
    if name.contains('/') {
        run.log_msg = Some(format!("queue name '{name}' contains '/'"));
        return Rc::Error;
    }
    run.state.queue = (!name.is_empty()).then_some(name);
    Rc::Ok
}

/// `bmi_optin = list`: opt-in strings for the recipient being accepted (Brightmail).
pub fn bmi_optin(run: &mut AclRun, _: &Item, arg: &[u8]) -> Rc {
    run.state.bmi_optin = Some(String::from_utf8_lossy(arg).into_owned());
    Rc::Ok
}

/// `udpsend = host : port : data`: one datagram.
pub fn udpsend(run: &mut AclRun, _: &Item, arg: &[u8]) -> Rc {
    let mut it = crate::expand::lists::iter(arg);
    let (Some(host), Some(port)) = (it.next(), it.next()) else {
        run.log_msg = Some("missing host or port in udpsend".into());
        return Rc::Error;
    };
    let data = it.fold(Vec::new(), |mut acc, piece| {
        if !acc.is_empty() {
            acc.push(b':');
        }
        acc.extend_from_slice(&piece);
        acc
    });
    let addr = format!(
        "{}:{}",
        String::from_utf8_lossy(&host),
        String::from_utf8_lossy(&port)
    );
    let r = std::net::UdpSocket::bind(if host.contains(&b':') {
        "[::]:0"
    } else {
        "0.0.0.0:0"
    })
    .and_then(|s| s.send_to(&data, &addr));
    match r {
        Ok(_) => Rc::Ok,
        Err(e) => {
            run.log_msg = Some(format!("udpsend failed to send to {addr}: {e}"));
            Rc::Error
        }
    }
}

/// `control = name[/options]`, checked against the phases Exim allows.
pub fn control(run: &mut AclRun, _: &Item, arg: &[u8]) -> Rc {
    let text = String::from_utf8_lossy(arg).trim().to_string();
    if let Err(e) = control_check(&text, run.phase) {
        run.log_msg = Some(e);
        return Rc::Error;
    }
    // The case controls act at once, on `$local_part` for the rest of this RCPT ACL.
    if let Some((orig, _)) = run.state.rcpt_original.clone() {
        match text.as_str() {
            "caseful_local_part" => {
                run.ctx.set("local_part", Val::tainted(orig));
                return Rc::Ok;
            }
            "caselower_local_part" => {
                run.ctx
                    .set("local_part", Val::tainted(orig.to_ascii_lowercase()));
                return Rc::Ok;
            }
            _ => {}
        }
    }
    if let Some(opts) = text.strip_prefix("freeze") {
        // `/no_tell` only matters for `freeze_tell`, which needs local delivery.
        if !opts.is_empty() && opts != "/no_tell" {
            run.log_msg = Some(format!("syntax error in \"control={text}\""));
            return Rc::Error;
        }
        run.state.frozen_at = Some(run.ctx.now());
    }
    if let Some(opts) = text.strip_prefix("submission") {
        match crate::smtp::submission::Submission::parse(opts) {
            Some(sub) => run.state.submission = Some(sub),
            None => {
                run.log_msg = Some(format!("syntax error in \"control={text}\""));
                return Rc::Error;
            }
        }
    }
    if !run.state.controls.contains(&text) {
        run.state.controls.push(text);
    }
    Rc::Ok
}

/// Exim's checks of a `control =` value: a known name, options only where allowed, and
/// a phase where it may be used. `Err` is Exim's message.
pub fn control_check(text: &str, phase: crate::acl::Phase) -> Result<(), String> {
    let name = text.split('/').next().unwrap_or("");
    let Some(def) = CONTROLS
        .iter()
        .find(|c| name == c.name || (c.name == "queue" && name == "queue_only"))
    else {
        return Err(format!("syntax error in \"control={text}\""));
    };
    if !def.options && text.len() > name.len() {
        return Err(format!("syntax error in \"control={text}\""));
    }
    if def.forbids & phase.bit() != 0 {
        return Err(format!(
            "cannot use \"control={}\" in {} ACL",
            def.name,
            phase.name()
        ));
    }
    Ok(())
}

struct ControlDef {
    name: &'static str,
    options: bool,
    forbids: u32,
}

const MSG_PHASES: u32 = MAIL | RCPT | PREDATA | DATA | NOTSMTP | MIME;

static CONTROLS: &[ControlDef] = &[
    ControlDef {
        name: "allow_auth_unadvertised",
        options: false,
        forbids: !(CONNECT | HELO),
    },
    ControlDef {
        name: "bmi_run",
        options: false,
        forbids: 0,
    },
    ControlDef {
        name: "caseful_local_part",
        options: false,
        forbids: !RCPT,
    },
    ControlDef {
        name: "caselower_local_part",
        options: false,
        forbids: !RCPT,
    },
    ControlDef {
        name: "cutthrough_delivery",
        options: true,
        forbids: 0,
    },
    ControlDef {
        name: "debug",
        options: true,
        forbids: 0,
    },
    ControlDef {
        name: "dkim_disable_verify",
        options: false,
        forbids: DATA | NOTSMTP | PRDR | NOTSMTP_START,
    },
    ControlDef {
        name: "dmarc_disable_verify",
        options: false,
        forbids: DATA | NOTSMTP | NOTSMTP_START,
    },
    ControlDef {
        name: "dmarc_enable_forensic",
        options: false,
        forbids: DATA | NOTSMTP | NOTSMTP_START,
    },
    ControlDef {
        name: "dscp",
        options: true,
        forbids: NOTSMTP | NOTSMTP_START | NOTQUIT,
    },
    ControlDef {
        name: "enforce_sync",
        options: false,
        forbids: NOTSMTP | NOTSMTP_START,
    },
    ControlDef {
        name: "fakedefer",
        options: true,
        forbids: !(MAIL | RCPT | PREDATA | DATA | MIME | PRDR),
    },
    ControlDef {
        name: "fakereject",
        options: true,
        forbids: !(MAIL | RCPT | PREDATA | DATA | MIME | PRDR),
    },
    ControlDef {
        name: "freeze",
        options: true,
        forbids: !(MAIL | RCPT | PREDATA | DATA | NOTSMTP | MIME),
    },
    ControlDef {
        name: "no_callout_flush",
        options: false,
        forbids: NOTSMTP | NOTSMTP_START,
    },
    ControlDef {
        name: "no_delay_flush",
        options: false,
        forbids: NOTSMTP | NOTSMTP_START,
    },
    ControlDef {
        name: "no_enforce_sync",
        options: false,
        forbids: NOTSMTP | NOTSMTP_START,
    },
    ControlDef {
        name: "no_mbox_unspool",
        options: false,
        forbids: !(MAIL | RCPT | PREDATA | DATA | MIME),
    },
    ControlDef {
        name: "no_multiline_responses",
        options: false,
        forbids: NOTSMTP | NOTSMTP_START,
    },
    ControlDef {
        name: "no_pipelining",
        options: false,
        forbids: NOTSMTP | NOTSMTP_START,
    },
    ControlDef {
        name: "queue",
        options: true,
        forbids: !MSG_PHASES,
    },
    ControlDef {
        name: "submission",
        options: true,
        forbids: !(MAIL | RCPT | PREDATA),
    },
    ControlDef {
        name: "suppress_local_fixups",
        options: false,
        forbids: !(MAIL | RCPT | PREDATA | NOTSMTP_START),
    },
    ControlDef {
        name: "utf8_downconvert",
        options: true,
        forbids: !(RCPT | crate::acl::phase::bits::VRFY),
    },
];

/// Keep a value available to later expansions (used by verify results).
pub fn set_var(run: &mut AclRun, name: &str, value: &str) {
    run.ctx.set(name, Val::from(value));
}
