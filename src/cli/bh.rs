//! `rexim [-C file] [-D M=v] -bh IP[.port]`: an SMTP session read from stdin as if from that host; replies
//! on stdout, log lines (`LOG: ...`) on stderr; messages are accepted and discarded.

use std::io::{Read, Write};
use std::net::IpAddr;
use std::sync::Arc;

use crate::acl::engine::ExpansionAcls;
use crate::acl::AclSet;
use crate::expand::Context;
use crate::smtp::{Peer, Session, SessionConfig};

/// Split `192.0.2.1.25` / `2001:db8::1.25` into address and port, as Exim's
/// `host_address_extract_port` does for `-bh` and `-oMa`.
pub fn split_address(text: &str) -> Option<(String, u16)> {
    let t = text.trim();
    if t.parse::<IpAddr>().is_ok() {
        return Some((t.to_string(), 0));
    }
    let (ip, port) = t.rsplit_once('.')?;
    ip.parse::<IpAddr>().ok()?;
    Some((ip.to_string(), port.parse().ok()?))
}

/// The options `-bh` takes besides the address.
#[derive(Debug, Default, Clone)]
pub struct Options {
    pub address: String,
    pub config: Option<String>,
    /// `-D NAME=value` macro definitions.
    pub defines: Vec<String>,
    pub oma: Option<String>,
    pub oms: Option<String>,
    pub omi: Option<String>,
    pub omt: Option<String>,
}

/// Parse the command line of a `-bh` run; `Err` is the usage message.
pub fn parse_args(args: &[String]) -> Result<Options, String> {
    let mut o = Options::default();
    let mut i = 0;
    while i < args.len() {
        let a = args[i].as_str();
        let mut value = || {
            i += 1;
            args.get(i)
                .cloned()
                .ok_or_else(|| format!("rexim: {a} needs an argument"))
        };
        match a {
            "-bh" => o.address = value()?,
            "-C" => o.config = Some(value()?),
            "-D" => o.defines.push(value()?),
            d if d.starts_with("-D") => o.defines.push(d[2..].to_string()),
            "-oMa" => o.oma = Some(value()?),
            "-oMs" => o.oms = Some(value()?),
            "-oMi" => o.omi = Some(value()?),
            "-oMt" => o.omt = Some(value()?),
            _ => return Err(format!("rexim: option {a:?} is not supported with -bh")),
        }
        i += 1;
    }
    if o.address.is_empty() {
        return Err("rexim: -bh needs an IP address".into());
    }
    Ok(o)
}

/// Build the session for a `-bh` run.
pub fn session(o: &Options, cfg: SessionConfig, acls: AclSet) -> Result<Session, String> {
    let addr_text = o.oma.as_deref().unwrap_or(&o.address);
    let (address, port) = split_address(addr_text)
        .ok_or_else(|| format!("rexim: \"{addr_text}\" is not a valid IP address"))?;
    let (iface, iport) = match o.omi.as_deref() {
        Some(t) => {
            let (a, p) = split_address(t)
                .ok_or_else(|| format!("rexim: \"{t}\" is not a valid IP address"))?;
            (Some(a), p)
        }
        None => (None, 0),
    };
    let peer = Peer {
        address,
        port,
        name: o.oms.clone(),
        interface_address: iface,
        interface_port: iport,
        ident: o.omt.clone(),
    };
    let acls = Arc::new(acls);
    let mut ctx = Context::default();
    // `exim -bh` prints its debug trace (the `>>>` lines) on stderr.
    ctx.trace = Some(Box::default());
    ctx.acl = Some(Arc::new(ExpansionAcls { acls: acls.clone() }));
    let mut s = Session::new(Arc::new(cfg), acls, ctx, peer);
    s.host_checking = true;
    s.tls_available = true;
    s.tls_simulated = true;
    Ok(s)
}

/// The text `exim -bh` prints before the banner.
pub fn preamble(address: &str) -> String {
    format!(
        "\n**** SMTP testing session as if from host {address}\n**** but without any ident (RFC 1413) callback.\n**** This is not for real!\n\n"
    )
}

fn flush_logs(s: &mut Session, err: &mut dyn Write) {
    let trace = s.ctx.take_trace();
    s.log.extend(trace);
    for l in s.log.drain(..) {
        if l.starts_with(">>>") {
            let _ = writeln!(err, "{l}");
        } else {
            let _ = writeln!(err, "LOG: {l}");
        }
    }
}

/// Run a whole `-bh` dialogue from `input`, writing replies to `out`.
pub fn run(s: &mut Session, input: &mut dyn Read, out: &mut dyn Write, err: &mut dyn Write) {
    let _ = out.write_all(preamble(&s.peer.address).as_bytes());
    s.start();
    flush_logs(s, err);
    let _ = out.write_all(&s.take_output());
    let _ = out.flush();
    let mut buf = vec![0u8; 8192];
    while !s.is_closed() {
        match input.read(&mut buf) {
            Ok(0) | Err(_) => s.close_input(),
            Ok(n) => s.feed(&buf[..n]),
        }
        if s.take_tls_request().is_some() {
            s.tls_go_ahead();
            s.tls_failed(BH_HANDSHAKE_FAILURE);
            // Exim's GnuTLS build (Debian's exim4) ends the session there.
            s.state = crate::smtp::session::State::Closed;
        }
        flush_logs(s, err);
        let _ = out.write_all(&s.take_output());
        let _ = out.flush();
    }
}

/// Why a STARTTLS handshake under `-bh` fails: Exim runs it on stdin, which is not a
/// socket, so the TLS library's first read fails. The text is the one Debian's exim4
/// (built with GnuTLS) logs, so that `-bh` transcripts compare equal.
const BH_HANDSHAKE_FAILURE: &str = "(gnutls_handshake): Error in the pull function.";

/// `rexim -bh ...`: returns the exit code.
pub fn main(args: &[String]) -> i32 {
    let o = match parse_args(args) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("{e}");
            return 1;
        }
    };
    let (cfg, acls, lists) = match &o.config {
        Some(_) => {
            let args = crate::cli::args::Args {
                config: o.config.clone(),
                defines: o.defines.clone(),
                ..Default::default()
            };
            let loaded = match crate::cli::config::load(&args) {
                Ok(c) => c,
                Err(rc) => return rc,
            };
            match SessionConfig::from_config(&loaded) {
                Ok((c, mut a)) => {
                    a.env.hints_dir = hints_dir(&loaded);
                    (c, a, Some(loaded.named_lists.clone()))
                }
                Err(errs) => {
                    for e in errs {
                        eprintln!("rexim: {e}");
                    }
                    return 1;
                }
            }
        }
        None => (SessionConfig::default(), AclSet::default(), None),
    };
    let mut s = match session(&o, cfg, acls) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{e}");
            return 1;
        }
    };
    if let Some(l) = lists {
        s.ctx.named_lists = Some(Arc::new(crate::config::ConfigLists(l)));
    }
    run(
        &mut s,
        &mut std::io::stdin().lock(),
        &mut std::io::stdout().lock(),
        &mut std::io::stderr().lock(),
    );
    0
}

/// Exim keeps hints databases (ratelimit, seen) in `spool_directory/db`.
fn hints_dir(cfg: &crate::config::Config) -> Option<std::path::PathBuf> {
    let def = crate::config::tables::find(crate::config::tables::MAIN, "spool_directory")?;
    match cfg.main_value(def) {
        crate::config::Value::Str(s) if !s.is_empty() => Some(std::path::Path::new(&s).join("db")),
        _ => None,
    }
}
