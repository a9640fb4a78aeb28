//! From an accepted SMTP message to the `-H` contents and `-D` body Exim would write.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::header::{header_type, AclVar, HeaderFile, HeaderLine, OptionLine, Recipient};
use crate::expand::vars::{Var, VarId};
use crate::expand::{Context, Expansion, Val};
use crate::smtp::sink::AcceptedMessage;

/// Exim 4.96's default `received_header_text` (TLS parts included, as in Debian's build).
pub const DEFAULT_RECEIVED_HEADER_TEXT: &str = "Received: \
${if def:sender_rcvhost {from $sender_rcvhost\n\t}\
{${if def:sender_ident {from ${quote_local_part:$sender_ident} }}\
${if def:sender_helo_name {(helo=$sender_helo_name)\n\t}}}}\
by $primary_hostname \
${if def:received_protocol {with $received_protocol }}\
${if def:tls_in_ver        { ($tls_in_ver)}}\
${if def:tls_in_cipher_std { tls $tls_in_cipher_std\n\t}}\
(Exim $version_number)\n\t\
${if def:sender_address {(envelope-from <$sender_address>)\n\t}}\
id $message_exim_id\
${if def:received_for {\n\tfor $received_for}}";

/// Connection variables copied into the context the Received: header is expanded in.
const COPIED_VARS: &[VarId] = &crate::expand::vars::ids([
    "authenticated_id",
    "authenticated_sender",
    "interface_address",
    "interface_port",
    "message_size",
    "primary_hostname",
    "received_ip_address",
    "received_port",
    "received_protocol",
    "sender_helo_name",
    "sender_host_address",
    "sender_host_authenticated",
    "sender_host_name",
    "sender_host_port",
    "sender_ident",
    "smtp_active_hostname",
    "tls_in_cipher",
    "tls_in_cipher_std",
    "tls_in_peerdn",
    "tls_in_sni",
    "tls_in_ver",
]);

fn var(ctx: &Context, id: VarId) -> Option<&Val> {
    ctx.fixed(id).filter(|v| !v.bytes.is_empty())
}

fn text(v: &Val) -> String {
    String::from_utf8_lossy(&v.bytes).into_owned()
}

/// Exim's `$sender_rcvhost` (host.c's rules, without the `incoming_port` selector).
pub fn rcvhost(ctx: &Context) -> Option<String> {
    let addr = format!("[{}]", text(var(ctx, crate::vid!("sender_host_address"))?));
    let helo = var(ctx, crate::vid!("sender_helo_name")).map(text);
    let ident = var(ctx, crate::vid!("sender_ident")).map(text);
    let mut show_helo = helo.is_some();
    if let Some(h) = &helo {
        if let Some(inner) = h.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
            let ip = inner
                .get(..5)
                .filter(|p| p.eq_ignore_ascii_case("ipv6:") || p.eq_ignore_ascii_case("ipv4:"))
                .map_or(inner, |_| &inner[5..]);
            let a = text(var(ctx, crate::vid!("sender_host_address"))?);
            if let (Ok(x), Ok(y)) = (
                ip.parse::<std::net::IpAddr>(),
                a.parse::<std::net::IpAddr>(),
            ) {
                if x == y {
                    show_helo = false;
                }
            }
        }
    }
    match var(ctx, crate::vid!("sender_host_name")).map(text) {
        None => {
            let mut parts = Vec::new();
            if let (true, Some(h)) = (show_helo, &helo) {
                parts.push(format!("helo={h}"));
            }
            if let Some(i) = &ident {
                parts.push(format!("ident={i}"));
            }
            if parts.is_empty() {
                Some(addr)
            } else {
                Some(format!("{addr} ({})", parts.join(" ")))
            }
        }
        Some(name) => {
            let helo = helo.filter(|h| show_helo && !h.eq_ignore_ascii_case(&name));
            Some(match (helo, ident) {
                (Some(h), Some(i)) => format!("{name}\n\t({addr} helo={h} ident={i})"),
                (Some(h), None) => format!("{name} ({addr} helo={h})"),
                (None, Some(i)) => format!("{name} ({addr} ident={i})"),
                (None, None) => format!("{name} ({addr})"),
            })
        }
    }
}

/// Split the message into header lines (each with its newline) and the body.
pub fn split_headers(data: &[u8]) -> (Vec<Vec<u8>>, &[u8]) {
    let (slices, body) = header_slices(data);
    let headers = slices
        .into_iter()
        .map(|l| {
            let mut h = Vec::with_capacity(l.len() + 1);
            h.extend_from_slice(l);
            if h.last() != Some(&b'\n') {
                h.push(b'\n');
            }
            h
        })
        .collect();
    (headers, body)
}

/// As [`split_headers`], borrowing: each header line with its continuation lines as
/// they stand in `data` (only the last may lack its newline), and the body.
pub fn header_slices(data: &[u8]) -> (Vec<&[u8]>, &[u8]) {
    // A header and its continuation lines are adjacent: one range of `data` each.
    let mut ranges: Vec<(usize, usize)> = Vec::new();
    let mut pos = 0;
    let done = |ranges: Vec<(usize, usize)>, rest: usize| {
        let list = ranges.into_iter().map(|(a, b)| &data[a..b]).collect();
        (list, &data[rest..])
    };
    while pos < data.len() {
        let end = data[pos..]
            .iter()
            .position(|&c| c == b'\n')
            .map_or(data.len(), |n| pos + n + 1);
        let line = &data[pos..end];
        if line == b"\n" {
            return done(ranges, end);
        }
        if line[0] == b' ' || line[0] == b'\t' {
            if let Some(last) = ranges.last_mut() {
                last.1 = end;
                pos = end;
                continue;
            }
            return done(ranges, pos);
        }
        let name_len = line
            .iter()
            .take_while(|&&c| c > b' ' && c < 0x7f && c != b':')
            .count();
        let after = line[name_len..]
            .iter()
            .position(|&c| c != b' ' && c != b'\t')
            .map(|p| line[name_len + p]);
        if name_len == 0 || after != Some(b':') {
            return done(ranges, pos);
        }
        ranges.push((pos, end));
        pos = end;
    }
    done(ranges, data.len())
}

/// The reserved first line: an empty `received_header_text` leaves it old, as Exim.
pub fn received_line(text: Vec<u8>) -> HeaderLine {
    let kind = if text.starts_with(b"Received: ; ") {
        b'*'
    } else {
        b'P'
    };
    HeaderLine { kind, text }
}

/// Exim's header list for a message: `received`, the message's own header lines
/// (from `split_headers`; `obsolete` ones old), then what the ACLs' header steps did.
pub fn header_list(
    received: HeaderLine,
    own: Vec<Vec<u8>>,
    obsolete: &[usize],
    batches: &[super::edits::HeaderBatch],
) -> Vec<HeaderLine> {
    let own = own
        .into_iter()
        .enumerate()
        .map(|(i, text)| {
            let kind = if obsolete.contains(&i) {
                b'*'
            } else {
                own_header_type(&text)
            };
            HeaderLine { kind, text }
        })
        .collect();
    super::edits::replay(received, own, batches)
}

/// A received header's type letter: Exim also types `Resent-From:` and the like as
/// the header they resend (lines added by ACLs are typed by their own name only).
fn own_header_type(text: &[u8]) -> u8 {
    let kind = header_type(text);
    match text.get(..7) {
        Some(p) if kind == b' ' && p.eq_ignore_ascii_case(b"resent-") => {
            let resent = header_type(&text[7..]);
            if b"BCFIST".contains(&resent) {
                resent
            } else {
                kind
            }
        }
        _ => kind,
    }
}

/// The Received: header text Exim generates (`received_header_text` + `;\n\t<date>\n`).
pub fn received_header(msg: &AcceptedMessage, template: &str) -> Result<Vec<u8>, String> {
    let src = msg.ctx;
    let mut ctx = Context::new(src.lookups.clone());
    ctx.clock = src.clock.clone();
    ctx.message = src.message.clone();
    for &id in COPIED_VARS {
        if let Some(v) = src.fixed(id) {
            ctx.set_id(id, v.clone());
        }
    }
    for (k, v) in src.acl_c_vars() {
        ctx.set_var(&Var::AclC(k.into()), v.clone());
    }
    for (k, v) in src.acl_m_vars() {
        ctx.set_var(&Var::AclM(k.into()), v.clone());
    }
    if let Some(r) = rcvhost(src) {
        ctx.set_id(crate::vid!("sender_rcvhost"), r.as_str());
    }
    if !msg.sender.is_empty() {
        ctx.set_id(
            crate::vid!("sender_address"),
            Val::tainted(msg.sender.to_vec()),
        );
    }
    ctx.set_id(crate::vid!("message_exim_id"), msg.id);
    ctx.set_id(crate::vid!("message_id"), msg.id);
    // A PRDR message had several recipients when Exim made its Received: header, even
    // if only one was kept.
    let prdr = src
        .fixed(crate::vid!("prdr_requested"))
        .is_some_and(|v| v.bytes == b"yes");
    if let ([only], false) = (msg.recipients, prdr) {
        ctx.set_id(crate::vid!("received_for"), Val::tainted(only.clone()));
    }
    static TOD_FULL: std::sync::OnceLock<Expansion> = std::sync::OnceLock::new();
    let date = TOD_FULL.get_or_init(|| crate::parse("${tod_full}"));
    let date = crate::expand(date, &mut ctx).map_err(|e| e.into_message())?;
    let text = crate::expand(&parsed_template(template), &mut ctx).map_err(|e| {
        format!(
            "Expansion of \"{template}\" (received_header_text) failed: {}",
            e.message
        )
    })?;
    let mut out = Vec::new();
    if text.bytes.is_empty() {
        out.extend_from_slice(b"Received: ; ");
    } else {
        out.extend_from_slice(&text.bytes);
        out.extend_from_slice(b";\n\t");
    }
    out.extend_from_slice(&date.bytes);
    out.push(b'\n');
    Ok(out)
}

/// `received_header_text` parsed once, not once per message (a daemon has one template).
fn parsed_template(template: &str) -> Arc<Expansion> {
    static LAST: Mutex<Option<(String, Arc<Expansion>)>> = Mutex::new(None);
    let mut last = LAST.lock().unwrap_or_else(|p| p.into_inner());
    match &*last {
        Some((t, e)) if t == template => e.clone(),
        _ => {
            let e = Arc::new(crate::parse(template));
            *last = Some((template.to_string(), e.clone()));
            e
        }
    }
}

fn opt(name: &str, v: &Val) -> OptionLine {
    OptionLine {
        name: name.to_string(),
        value: Some(v.bytes.clone()),
        tainted: v.tainted,
    }
}

fn flag(name: &str, value: Option<String>) -> OptionLine {
    OptionLine {
        name: name.to_string(),
        value: value.map(String::into_bytes),
        tainted: false,
    }
}

/// The `-H` contents and the `-D` body (without its id line) for `msg`.
pub fn build(
    msg: &AcceptedMessage,
    originator: &(String, u32, u32),
    now: Duration,
    received_header_text: &str,
) -> Result<(HeaderFile, Vec<u8>), String> {
    let ctx = msg.ctx;
    let (in_headers, body) = split_headers(msg.data);
    let mut h = HeaderFile {
        id: msg.id.to_string(),
        login: originator.0.clone(),
        uid: i64::from(originator.1),
        gid: i64::from(originator.2),
        sender: msg.sender.to_vec(),
        received_time: now.as_secs() as i64,
        ..HeaderFile::default()
    };
    let usec = now.subsec_micros();
    h.options
        .push(flag("received_time_usec", Some(format!(".{usec:06}"))));
    h.options.push(flag(
        "received_time_complete",
        Some(format!("{}.{usec:06}", now.as_secs())),
    ));
    if let Some(v) = var(ctx, crate::vid!("sender_helo_name")) {
        h.options.push(opt("helo_name", v));
    }
    if let Some(a) = var(ctx, crate::vid!("sender_host_address")) {
        let port = var(ctx, crate::vid!("sender_host_port")).map_or("0".into(), text);
        let v = Val {
            bytes: format!("[{}]:{port}", text(a)).into_bytes(),
            tainted: a.tainted,
        };
        h.options.push(opt("host_address", &v));
        if let Some(n) = var(ctx, crate::vid!("sender_host_name")) {
            h.options.push(opt("host_name", n));
        }
    }
    if let Some(v) = var(ctx, crate::vid!("sender_host_authenticated")) {
        h.options.push(opt("host_auth", v));
    }
    if let Some(p) = msg.auth_pubname {
        h.options
            .push(flag("host_auth_pubname", Some(p.to_string())));
    }
    if let Some(a) = var(ctx, crate::vid!("interface_address")) {
        let port = var(ctx, crate::vid!("interface_port")).map_or("0".into(), text);
        let v = Val {
            bytes: format!("[{}]:{port}", text(a)).into_bytes(),
            tainted: a.tainted,
        };
        h.options.push(opt("interface_address", &v));
    }
    if let (Some(a), Some(p)) = (
        var(ctx, crate::vid!("smtp_active_hostname")),
        var(ctx, crate::vid!("primary_hostname")),
    ) {
        if a.bytes != p.bytes {
            h.options.push(opt("active_hostname", a));
        }
    }
    if let Some(v) = var(ctx, crate::vid!("sender_ident")) {
        h.options.push(opt("ident", v));
    }
    if let Some(v) = var(ctx, crate::vid!("received_protocol")) {
        h.options.push(opt("received_protocol", v));
    }
    for (scope, vars) in [
        ('c', ctx.acl_c_vars().collect::<Vec<_>>()),
        ('m', ctx.acl_m_vars().collect::<Vec<_>>()),
    ] {
        let mut vars: Vec<AclVar> = vars
            .into_iter()
            .map(|(k, v)| AclVar {
                scope,
                rest: k.to_string(),
                value: v.bytes.clone(),
                tainted: v.tainted,
            })
            .collect();
        vars.sort_by(|a, b| a.rest.cmp(&b.rest));
        h.acl_vars.extend(vars);
    }
    let body_linecount = body.iter().filter(|&&c| c == b'\n').count();
    let max_line = msg
        .data
        .split(|&c| c == b'\n')
        .map(<[u8]>::len)
        .max()
        .unwrap_or(0);
    h.options
        .push(flag("body_linecount", Some(body_linecount.to_string())));
    h.options
        .push(flag("max_received_linelength", Some(max_line.to_string())));
    let zeros = body.iter().filter(|&&c| c == 0).count();
    if zeros > 0 {
        h.options
            .push(flag("body_zerocount", Some(zeros.to_string())));
    }
    if let Some(v) = var(ctx, crate::vid!("authenticated_id")) {
        h.options.push(opt("auth_id", v));
    }
    if let Some(v) = var(ctx, crate::vid!("authenticated_sender")) {
        h.options.push(opt("auth_sender", v));
    }
    h.options.push(flag("deliver_firsttime", None));
    if let Some(t) = msg.frozen_at {
        h.options.push(flag("frozen", Some(t.to_string())));
    }
    // Exim writes the last `spam` answer's values (its globals outlive the message).
    for id in crate::expand::vars::ids(["spam_bar", "spam_score", "spam_score_int"]) {
        if let Some(v) = var(ctx, id) {
            h.options.push(opt(id.name(), v));
        }
    }
    // Brightmail verdicts describe message data: tainted, as Exim stores them.
    if let Some(v) = msg.bmi_verdicts {
        h.options.push(OptionLine {
            name: "bmi_verdicts".into(),
            value: Some(v.to_vec()),
            tainted: true,
        });
    }
    if var(ctx, crate::vid!("tls_in_certificate_verified")).is_some_and(|v| v.bytes == b"1") {
        h.options.push(flag("tls_certificate_verified", None));
    }
    if let Some(v) = var(ctx, crate::vid!("tls_in_cipher")) {
        h.options.push(opt("tls_cipher", v));
    }
    // The client's certificate is network data: `--` marks it tainted, as Exim writes it.
    let cert_line = |name: &str, var: &str, tainted: bool| {
        ctx.certificate(var).map(|c| OptionLine {
            name: name.into(),
            value: Some(crate::smtp::tls::certs::export_cert(c.der()).into_bytes()),
            tainted,
        })
    };
    h.options
        .extend(cert_line("tls_peercert", "tls_in_peercert", true));
    // Exim writes these through string_printing: a DN may hold any byte.
    let printed = |v: &Val| v.derive(crate::smtp::tls::printing(&text(v), false));
    if let Some(v) = var(ctx, crate::vid!("tls_in_peerdn")) {
        h.options.push(opt("tls_peerdn", &printed(v)));
    }
    if let Some(v) = var(ctx, crate::vid!("tls_in_sni")) {
        h.options.push(opt("tls_sni", &printed(v)));
    }
    h.options
        .extend(cert_line("tls_ourcert", "tls_in_ourcert", false));
    // Exim writes `-tls_ocsp N` only when the client asked for a stapled response.
    if let Some(n) =
        var(ctx, crate::vid!("tls_in_ocsp")).filter(|v| !v.bytes.is_empty() && v.bytes != b"0")
    {
        h.options.push(flag("tls_ocsp", Some(text(n))));
    }
    let resumption = var(ctx, crate::vid!("tls_in_resumption"))
        .and_then(|v| text(v).parse::<u8>().ok())
        .unwrap_or(0);
    h.options.push(flag(
        "tls_resumption",
        Some(char::from(b'A'.saturating_add(resumption)).to_string()),
    ));
    if let Some(v) = var(ctx, crate::vid!("tls_in_ver")) {
        h.options.push(opt("tls_ver", v));
    }
    if var(ctx, crate::vid!("message_smtputf8")).is_some_and(|v| v.bytes == b"yes") {
        h.options.push(flag("smtputf8", None));
    }
    if let Some(envid) = msg.dsn_envid {
        h.options.push(OptionLine {
            name: "dsn_envid".into(),
            value: Some(envid.to_vec()),
            tainted: false,
        });
    }
    if msg.dsn_ret != 0 {
        h.options
            .push(flag("dsn_ret", Some(msg.dsn_ret.to_string())));
    }
    h.recipients = msg
        .recipients
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let dsn = msg.recipient_dsn.get(i);
            Recipient {
                address: r.clone(),
                pno: -1,
                orcpt: dsn.and_then(|d| d.orcpt.clone()),
                dsn_flags: dsn.map_or(0, |d| d.flags),
                ..Recipient::default()
            }
        })
        .collect();
    let received = received_line(match msg.received_header {
        Some((template, made)) if template == received_header_text => made.to_vec(),
        _ => received_header(msg, received_header_text)?,
    });
    h.headers = header_list(
        received,
        in_headers,
        msg.obsolete_headers,
        msg.header_batches,
    );
    Ok((h, body.to_vec()))
}

/// Exim's `message_size` for `msg` without writing it (the `S=` of `-bh` log lines).
pub fn message_size(msg: &AcceptedMessage) -> Result<u64, String> {
    let now = Duration::from_secs(u64::try_from(msg.ctx.now()).unwrap_or(0));
    // Counted with the default Received: header, whatever the session made.
    let msg = AcceptedMessage {
        received_header: None,
        ..*msg
    };
    let (h, body) = build(
        &msg,
        &(String::new(), 0, 0),
        now,
        DEFAULT_RECEIVED_HEADER_TEXT,
    )?;
    Ok(h.header_size() + body.len() as u64 + 1)
}
