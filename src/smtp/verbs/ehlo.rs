//! HELO and EHLO: argument check, the HELO ACL, the greeting and capability list.

use crate::acl::{Phase, Rc};
use crate::smtp::session::{Done, Offered, Session};

/// Exim's `check_helo`: an IP literal, or letters, digits, dots, hyphens and
/// `helo_allow_chars`.
pub fn valid_helo(arg: &str, allow: &str) -> bool {
    if let Some(inner) = arg.strip_prefix('[') {
        let Some(inner) = inner.strip_suffix(']') else {
            return false;
        };
        let lower = inner.to_ascii_lowercase();
        if let Some(v6) = lower.strip_prefix("ipv6:") {
            return v6.parse::<std::net::Ipv6Addr>().is_ok();
        }
        if let Some(v4) = lower.strip_prefix("ipv4:") {
            return v4.parse::<std::net::Ipv4Addr>().is_ok();
        }
        return inner.parse::<std::net::IpAddr>().is_ok();
    }
    !arg.is_empty()
        && arg.bytes().all(|c| {
            c.is_ascii_alphanumeric() || c == b'.' || c == b'-' || allow.as_bytes().contains(&c)
        })
}

/// `HELO name` / `EHLO name`.
pub fn handle_ehlo(s: &mut Session, esmtp: bool) -> Done {
    let hello = if esmtp { "EHLO" } else { "HELO" };
    let arg = String::from_utf8_lossy(&s.cmd.arg).into_owned();
    let junk_ok = s.host_flags.helo_accept_junk;
    let allow = s.cfg.helo_allow_chars.clone();
    if !junk_ok && !valid_helo(&arg, &allow) {
        s.reply(&format!("501 Syntactically invalid {hello} argument(s)"));
        let shown = if arg.is_empty() {
            "(no argument given)".to_string()
        } else {
            arg.clone()
        };
        let line = format!(
            "rejected {hello} from {}: syntactically invalid argument(s): {shown}",
            s.host_and_ident().trim_start_matches("H=")
        );
        s.log(line);
        // `$sender_helo_name` is forgotten, but log lines keep the last good name (Exim
        // rebuilds its host description only after a valid HELO).
        s.ctx.unset("sender_helo_name");
        s.synprot_errors += 1;
        if s.synprot_errors > s.cfg.smtp_max_synprot_errors {
            s.too_many_errors_log();
            return Done::Close;
        }
        return Done::Continue;
    }
    // `$sender_helo_name` keeps the client's case.
    let name: String = arg.split(' ').next().unwrap_or("").to_string();
    s.helo_name = Some(name.clone());
    s.ctx.set(
        "sender_helo_name",
        crate::expand::Val::tainted(name.as_bytes()),
    );
    if !helo_verification(s, hello, &name) {
        return Done::Continue;
    }
    s.esmtp = esmtp;
    if let Some(spec) = s.cfg.acl_smtp_helo.clone() {
        let v = s.acl(Phase::Helo, &spec);
        if v.rc != Rc::Ok {
            let done = s.acl_fail(Phase::Helo, &v);
            s.helo_name = None;
            s.ctx.unset("sender_helo_name");
            return done;
        }
        if let Some(u) = v.user_message {
            return greet(s, esmtp, Some(u));
        }
    }
    greet(s, esmtp, None)
}

/// `helo_lookup_domains` (a reverse lookup when the HELO name is one of ours), then
/// `helo_verify_hosts`/`helo_try_verify_hosts`. `false`: refused, reply and log written.
fn helo_verification(s: &mut Session, hello: &str, name: &str) -> bool {
    let domains = s.cfg.helo_lookup_domains.clone();
    if s.peer.name.is_none()
        && matches!(
            crate::listmatch::match_domain_option(
                &mut s.ctx,
                name.as_bytes(),
                domains.as_bytes(),
                "helo_lookup_domains"
            ),
            Ok(Some(_))
        )
    {
        crate::smtp::hostopts::host_name_lookup(s);
    }
    let f = s.host_flags;
    if !(f.helo_verify_required || f.helo_verify) {
        return true;
    }
    if crate::smtp::hostopts::verify_helo(s, name) {
        return true;
    }
    if !f.helo_verify_required {
        s.ctx
            .trace(|| format!("{hello} verification failed but host is in helo_try_verify_hosts"));
        return true;
    }
    s.reply(&format!("550 {hello} argument does not match calling host"));
    let line = format!(
        "rejected \"{hello} {name}\" from {}",
        s.host_and_ident().trim_start_matches("H=")
    );
    s.log(line);
    false
}

fn greet(s: &mut Session, esmtp: bool, user: Option<String>) -> Done {
    s.helo_seen = true;
    s.reset_message();
    let proto = crate::smtp::verbs::auth::protocol(s, esmtp);
    let plain = match (esmtp, s.tls.is_some()) {
        (true, true) => "esmtps",
        (true, false) => "esmtp",
        (false, true) => "smtps",
        (false, false) => "smtp",
    };
    s.ctx.set("received_protocol", proto.unwrap_or(plain));
    let mut code = "250".to_string();
    let first = match user {
        None => {
            let name = s
                .peer
                .name
                .clone()
                .or_else(|| s.helo_name.clone())
                .unwrap_or_default();
            let ident = s
                .peer
                .ident
                .as_ref()
                .map(|i| format!("{i} at "))
                .unwrap_or_default();
            let mut g = format!("{} Hello {ident}{name}", s.active_hostname());
            if !s.peer.address.is_empty() {
                g += &format!(" [{}]", s.peer.address);
            }
            g
        }
        Some(u) => {
            let mut text = u;
            if let Some(len) = crate::smtp::session::smtp_code_len(&text) {
                if text.starts_with('2') {
                    code = text[..3].to_string();
                }
                text = text[len..].to_string();
            }
            if let Some(i) = text.find(['\r', '\n']) {
                s.log(format!(
                    "EHLO/HELO response must not contain newlines: message truncated: {code} {text}"
                ));
                text.truncate(i);
            }
            text
        }
    };
    s.offered = Offered::default();
    s.auth.advertised = false;
    if !esmtp {
        s.reply(&format!("{code} {first}"));
        return Done::Continue;
    }
    let mut caps: Vec<String> = vec![first];
    caps.push(if s.cfg.message_size_limit > 0 {
        format!("SIZE {}", s.cfg.message_size_limit)
    } else {
        "SIZE".into()
    });
    if s.cfg.accept_8bitmime {
        caps.push("8BITMIME".into());
    }
    let cfg = s.cfg.clone();
    if s.host_option("dsn_advertise_hosts", &cfg.dsn_advertise_hosts) {
        caps.push("DSN".into());
        s.offered.dsn = true;
    }
    if cfg.acl_smtp_etrn.is_some() {
        caps.push("ETRN".into());
    }
    if cfg.acl_smtp_vrfy.is_some() {
        caps.push("VRFY".into());
    }
    if cfg.acl_smtp_expn.is_some() {
        caps.push("EXPN".into());
    }
    // `control = no_pipelining` (connect or HELO ACL) withdraws the offer, as Exim.
    if !s.acl_state.has_control("no_pipelining")
        && s.host_option(
            "pipelining_advertise_hosts",
            &cfg.pipelining_advertise_hosts,
        )
    {
        caps.push("PIPELINING".into());
        s.offered.pipelining = true;
        // Decided for the connection before the banner (`Session::start`).
        if s.pipe_connect_acceptable {
            caps.push("PIPECONNECT".into());
        }
    }
    if let Some(auth) = crate::smtp::verbs::auth::advertise(s) {
        caps.push(auth);
    }
    if s.host_option("chunking_advertise_hosts", &cfg.chunking_advertise_hosts) {
        caps.push("CHUNKING".into());
        s.offered.chunking = true;
    }
    // Exim checks the host list even where it cannot offer TLS (the trace shows it).
    if s.tls.is_none()
        && s.host_option("tls_advertise_hosts", &cfg.tls_advertise_hosts)
        && s.tls_available
    {
        caps.push("STARTTLS".into());
        s.offered.tls = true;
    }
    if cfg.prdr_enable {
        caps.push("PRDR".into());
    }
    if s.host_option("smtputf8_advertise_hosts", &cfg.smtputf8_advertise_hosts) {
        caps.push("SMTPUTF8".into());
        s.offered.smtputf8 = true;
    }
    caps.push("HELP".into());
    let n = caps.len();
    for (i, c) in caps.iter().enumerate() {
        let sep = if i + 1 == n { ' ' } else { '-' };
        s.reply(&format!("{code}{sep}{c}"));
    }
    Done::Continue
}

#[cfg(test)]
mod tests {
    use super::valid_helo;

    #[test]
    fn helo_arguments() {
        assert!(valid_helo("mx.example", ""));
        assert!(valid_helo("[192.0.2.1]", ""));
        assert!(valid_helo("[IPv6:2001:db8::1]", ""));
        assert!(!valid_helo("a_b", ""));
        assert!(valid_helo("a_b", "_"));
        assert!(!valid_helo("", ""));
        assert!(!valid_helo("foo bar", ""));
        assert!(!valid_helo("[1.2.3]", ""));
    }
}
