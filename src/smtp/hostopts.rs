//! The host-list options a session checks for itself, in Exim's order: at connection
//! time (`host_lookup`, `host_reject_connection`, unqualified addresses, HELO
//! verification, HELO junk), and the HELO verification Exim's `helo_verify_hosts` and
//! `helo_try_verify_hosts` ask for.

use crate::dns::{DnsResult, RData, RType};
use crate::smtp::session::Session;

/// What the connection-time checks decided for this host.
#[derive(Debug, Clone, Copy, Default)]
pub struct HostFlags {
    pub allow_unqualified_sender: bool,
    pub allow_unqualified_recipient: bool,
    /// `helo_verify_hosts`: a HELO name that does not verify is refused.
    pub helo_verify_required: bool,
    /// `helo_try_verify_hosts`: verified, but a failure is only noted.
    pub helo_verify: bool,
    pub helo_accept_junk: bool,
    /// A reverse lookup was tried and found no name.
    pub host_lookup_failed: bool,
}

/// Exim's `smtp_start_session` checks before the connect ACL. `false`: the host is in
/// `host_reject_connection` (refused, reply and log written).
pub fn connection_checks(s: &mut Session) -> bool {
    let cfg = s.cfg.clone();
    // Only the "connection from" line depends on it, which rexim -bh does not write.
    s.host_option("hosts_connection_nolog", &cfg.hosts_connection_nolog);
    if s.host_option("host_lookup", &cfg.host_lookup) {
        host_name_lookup(s);
    }
    if s.host_option("host_reject_connection", &cfg.host_reject_connection) {
        let line = format!(
            "refused connection from {} (host_reject_connection)",
            s.host_and_ident().trim_start_matches("H=")
        );
        s.log(line);
        s.reply("554 SMTP service not available");
        return false;
    }
    let mut f = s.host_flags;
    f.allow_unqualified_sender =
        s.host_option("sender_unqualified_hosts", &cfg.sender_unqualified_hosts);
    f.allow_unqualified_recipient = s.host_option(
        "recipient_unqualified_hosts",
        &cfg.recipient_unqualified_hosts,
    );
    f.helo_verify_required = s.host_option("helo_verify_hosts", &cfg.helo_verify_hosts);
    if !f.helo_verify_required {
        f.helo_verify = s.host_option("helo_try_verify_hosts", &cfg.helo_try_verify_hosts);
    }
    f.helo_accept_junk = s.host_option("helo_accept_junk_hosts", &cfg.helo_accept_junk_hosts);
    s.host_flags = f;
    // The PROXY protocol is not implemented: a matching host is served as if direct.
    s.host_option("hosts_proxy", &cfg.hosts_proxy);
    true
}

/// Exim's `host_name_lookup` through the resolver: a PTR name that resolves back to
/// the caller's address becomes `$sender_host_name`. A name given with `-oMs` stands
/// for the PTR answer and is checked the same way (Exim drops it if it does not
/// resolve to the address). No name at all is logged.
pub fn host_name_lookup(s: &mut Session) {
    let ip = s.peer.address.clone();
    s.ctx.trace(|| format!("looking up host name for {ip}"));
    let resolver = s.acls.env.resolver.clone();
    let given = s.peer.name.take().map(|n| vec![n]);
    let names: Vec<String> = given.unwrap_or_else(|| lookup_ptr(&*resolver, &ip));
    if names.is_empty() {
        s.host_flags.host_lookup_failed = true;
        s.ctx.set("host_lookup_failed", "1");
        s.ctx.unset("sender_host_name");
        s.log(format!("no host name found for IP address {ip}"));
        return;
    }
    for n in &names {
        let found = addresses(s, n);
        if found.is_empty() {
            s.ctx.trace(|| format!("no IP addresses found for {n}"));
        }
        if found.contains(&ip) {
            s.peer.name = Some(n.clone());
            s.ctx.set("sender_host_name", n.as_str());
            s.ctx.set("sender_rcvhost", format!("{n} ([{ip}])"));
            return;
        }
    }
    let first = &names[0];
    s.ctx
        .trace(|| format!("{ip} does not match any IP address for {first}"));
    s.host_flags.host_lookup_failed = true;
    s.ctx.set("host_lookup_failed", "1");
    s.ctx.unset("sender_host_name");
    s.ctx.set("sender_rcvhost", format!("[{ip}]"));
}

/// The PTR names of an address.
fn lookup_ptr(resolver: &dyn crate::dns::Resolver, ip: &str) -> Vec<String> {
    crate::dns::reverse_name(ip)
        .map(|rev| match resolver.lookup(&rev, RType::Ptr).result {
            DnsResult::Records(rs) => rs
                .into_iter()
                .filter_map(|r| match r.data {
                    RData::Ptr(n) => Some(n),
                    _ => None,
                })
                .collect(),
            _ => Vec::new(),
        })
        .unwrap_or_default()
}

/// The A and AAAA addresses of a name (none when the lookup fails).
fn addresses(s: &Session, name: &str) -> Vec<String> {
    let mut out = Vec::new();
    for t in [RType::A, RType::Aaaa] {
        if let DnsResult::Records(rs) = s.acls.env.resolver.lookup(name, t).result {
            out.extend(rs.into_iter().filter_map(|r| match r.data {
                RData::A(a) => Some(a.to_string()),
                RData::Aaaa(a) => Some(a.to_string()),
                _ => None,
            }));
        }
    }
    out
}

/// Exim's `smtp_verify_helo`: the HELO name is an address literal starting with the
/// caller's address, the caller's (looked up) name, or a name resolving to its address.
pub fn verify_helo(s: &mut Session, helo: &str) -> bool {
    s.ctx
        .trace(|| format!("verifying EHLO/HELO argument \"{helo}\""));
    let ip = s.peer.address.clone();
    if ip.is_empty() {
        return true;
    }
    if let Some(lit) = helo.strip_prefix('[') {
        let v4mapped = ip.get(..7).filter(|p| p.eq_ignore_ascii_case("::ffff:"));
        let ok = lit.starts_with(&ip) || (v4mapped.is_some() && lit.starts_with(&ip[7..]));
        if ok {
            s.ctx.trace(|| "matched host address".into());
        }
        return ok;
    }
    if s.peer.name.is_none() && !s.host_flags.host_lookup_failed {
        host_name_lookup(s);
    }
    if s.peer
        .name
        .as_deref()
        .is_some_and(|n| n.eq_ignore_ascii_case(helo))
    {
        s.ctx.trace(|| "matched host name".into());
        return true;
    }
    s.ctx.trace(|| format!("getting IP address for {helo}"));
    let ok = addresses(s, helo).contains(&ip);
    if ok {
        s.ctx
            .trace(|| format!("IP address for {helo} matches calling address"));
        // rexim's resolver does no DNSSEC validation.
        s.ctx
            .trace(|| "Forward DNS security status: unverified".into());
    }
    ok
}

/// Exim checks `ignore_fromline_hosts` as it reads the first header line of a message
/// from a remote host. rexim reads no UUCP `From ` lines in SMTP input, so a match
/// changes nothing; the check is made for the trace.
/// `first_header`: a complete, non-empty first line was received.
pub fn fromline_check(s: &mut Session, first_header: bool) {
    if s.peer.address.is_empty() || !first_header {
        return;
    }
    let hosts = s.cfg.ignore_fromline_hosts.clone();
    s.host_option("ignore_fromline_hosts", &hosts);
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use crate::expand::Context;
    use crate::smtp::{Peer, Session, SessionConfig};

    const ZONE: &str = "1.2.0.192.in-addr.arpa PTR client.example\n\
                        client.example A 192.0.2.1\n\
                        alias.example A 192.0.2.1\n\
                        other.example A 198.51.100.1\n";

    /// A started session from 192.0.2.1 with the fake DNS above; the banner is dropped.
    fn session(config: &str) -> Session {
        session_from(config, "192.0.2.1")
    }

    fn session_from(config: &str, ip: &str) -> Session {
        let macros = crate::config::initial_macros(&[]).expect("macros");
        let loaded = crate::config::load_text("test.conf", config, macros);
        assert!(loaded.errors.is_empty(), "{:?}", loaded.errors);
        let (cfg, mut acls) = SessionConfig::from_config(&loaded).expect("config");
        acls.env.resolver = Arc::new(crate::dns::FakeResolver::parse(ZONE).expect("zone"));
        let peer = Peer {
            address: ip.into(),
            ..Peer::default()
        };
        let mut s = Session::new(Arc::new(cfg), Arc::new(acls), Context::default(), peer);
        s.start();
        s.take_output();
        s
    }

    fn cmd(s: &mut Session, line: &str) -> String {
        s.feed(format!("{line}\r\n").as_bytes());
        String::from_utf8(s.take_output()).unwrap()
    }

    #[test]
    fn host_lookup_sets_a_forward_checked_name() {
        let mut s = session("primary_hostname = mx.test\nhost_lookup = *\n");
        assert_eq!(s.peer.name.as_deref(), Some("client.example"));
        let r = cmd(&mut s, "HELO x.example");
        assert_eq!(r, "250 mx.test Hello client.example [192.0.2.1]\r\n");
        assert!(s.log.is_empty(), "{:?}", s.log);
    }

    #[test]
    fn helo_verify_by_name_or_forward_lookup() {
        let mut s = session("primary_hostname = mx.test\nhelo_verify_hosts = *\n");
        // No name yet: the reverse lookup finds client.example.
        assert!(cmd(&mut s, "HELO Client.Example").starts_with("250 "));
        // Not the host's name, but its A record is the caller's address.
        assert!(cmd(&mut s, "HELO alias.example").starts_with("250 "));
        let r = cmd(&mut s, "EHLO other.example");
        assert_eq!(r, "550 EHLO argument does not match calling host\r\n");
        let logged = s.log.last().cloned().unwrap_or_default();
        assert_eq!(
            logged,
            "rejected \"EHLO other.example\" from client.example (other.example) [192.0.2.1]"
        );
    }

    #[test]
    fn helo_try_verify_only_notes_the_failure() {
        let mut s = session("primary_hostname = mx.test\nhelo_try_verify_hosts = *\n");
        assert!(cmd(&mut s, "HELO other.example").starts_with("250 "));
    }

    #[test]
    fn a_missing_ptr_is_logged_once_and_not_retried_for_helo() {
        // The zone has no PTR for this address.
        let config = "primary_hostname = mx.test\nhost_lookup = *\nhelo_verify_hosts = *\n";
        let mut s = session_from(config, "192.0.2.7");
        assert_eq!(
            s.log,
            vec!["no host name found for IP address 192.0.2.7".to_string()]
        );
        assert!(cmd(&mut s, "HELO client.example").starts_with("550 "));
        assert_eq!(s.log.len(), 2, "{:?}", s.log);
    }
}
