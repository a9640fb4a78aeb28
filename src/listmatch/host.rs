//! One host list item against a host (Exim's `check_host`): `*`, empty item, IP and
//! CIDR, `@`, `@[]`, `net[N]-type;source` lookups, forward-resolved names and name patterns.

use std::net::ToSocketAddrs;

use crate::expand::context::Context;
use crate::expand::value::Val;
use crate::listmatch::{ip, string, ItemErr, ItemResult, Kind, Matched, Matcher};

/// The host being checked.
pub struct HostMatcher {
    address: Vec<u8>,
    /// Known host name; `Some(empty)` for IP-only matching.
    name: Option<Vec<u8>>,
    pub(crate) ip_only: bool,
}

impl HostMatcher {
    pub fn new(address: &[u8], name: Option<Vec<u8>>) -> HostMatcher {
        let ip_only = name.as_ref().is_some_and(|n| n.is_empty());
        HostMatcher {
            address: address.to_vec(),
            name,
            ip_only,
        }
    }
}

fn found() -> ItemResult {
    Ok(Some(Matched::default()))
}

impl Matcher for HostMatcher {
    fn kind(&self) -> Kind {
        Kind::Host
    }

    fn cache_key(&self) -> Option<String> {
        let name = self.name.as_deref().unwrap_or(b"");
        Some(format!(
            "{}\0{}",
            String::from_utf8_lossy(&self.address),
            String::from_utf8_lossy(name)
        ))
    }

    fn trace_name(&self) -> String {
        // Exim names the calling host "host"; a match_ip subject by its address.
        if self.ip_only {
            String::from_utf8_lossy(&self.address).into_owned()
        } else {
            "host".into()
        }
    }

    fn test(&mut self, ctx: &mut Context, item: &[u8]) -> ItemResult {
        if item == b"*" {
            return found();
        }
        if self.address.is_empty() {
            return if item.is_empty() { found() } else { Ok(None) };
        }
        if item.is_empty() {
            return Ok(None);
        }
        let mut pattern = item.to_vec();
        if pattern == b"@" {
            if self.ip_only {
                return Err(ItemErr::Unknown("(null)".into()));
            }
            pattern = string::primary_hostname(ctx);
        } else if pattern == b"@[]" {
            let me = String::from_utf8_lossy(&self.address).into_owned();
            return Ok(local_addresses().contains(&me).then(Matched::default));
        }
        let (version, mask_at) = ip::ip_version(&pattern, true);
        if version != 0 {
            return Ok(ip::in_net(&self.address, &pattern, mask_at).then(Matched::default));
        }
        let t = pattern
            .iter()
            .take_while(|c| c.is_ascii_digit() || **c == b'.')
            .count();
        if t == pattern.len() || (pattern[t] == b'/' && t != 0) {
            return Err(ItemErr::Unknown(
                "malformed IPv4 address or address mask".into(),
            ));
        }
        let semi = pattern.iter().position(|&c| c == b';');
        let mut iplookup = self.ip_only && semi.is_some();
        let mut start = 0;
        let mut bits: Option<u32> = None;
        if let (Some(_), true) = (semi, pattern.starts_with(b"net")) {
            let nd = pattern[3..]
                .iter()
                .take_while(|c| c.is_ascii_digit())
                .count();
            if nd > 0 {
                bits = Some(pattern[3..3 + nd].iter().fold(0u32, |a, &d| {
                    a.saturating_mul(10).saturating_add(u32::from(d - b'0'))
                }));
            }
            iplookup = pattern.get(3 + nd) == Some(&b'-');
            start = 3 + nd + 1;
        }
        if let (true, Some(semi)) = (iplookup, semi) {
            return self.ip_lookup(ctx, &pattern, start.min(semi), semi, bits);
        }
        if self.ip_only {
            return Err(ItemErr::Unknown(
                "cannot match host name in match_ip list".into(),
            ));
        }
        if pattern
            .iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'-' | b'_'))
        {
            return self.forward(&pattern);
        }
        match &self.name {
            Some(name) => {
                let name = name.clone();
                let lower = name.to_ascii_lowercase();
                string::check_string(ctx, &name, &lower, &pattern, true, true, false, true)
            }
            None => Err(ItemErr::Unknown("no host name known".into())),
        }
    }
}

impl HostMatcher {
    fn ip_lookup(
        &self,
        ctx: &mut Context,
        pattern: &[u8],
        start: usize,
        semi: usize,
        bits: Option<u32>,
    ) -> ItemResult {
        let word = String::from_utf8_lossy(&pattern[start..semi]).into_owned();
        let type_name = word.split(',').next().unwrap_or("");
        let bad = || ItemErr::Fatal(format!("unknown lookup type \"{type_name}\""));
        let spec = crate::lookup::parse_spec(&word).map_err(|_| bad())?;
        if spec.partial.is_some() || spec.star != crate::lookup::Star::None {
            return Err(bad());
        }
        let source = &pattern[semi + 1..];
        let key = if spec.is_single_key() {
            let mut words = ip::aton(&self.address);
            ip::mask(&mut words, bits);
            let sep = if spec.def().name == "iplsearch" {
                ':'
            } else {
                '.'
            };
            ip::nmtoa(&words, bits, sep).into_bytes()
        } else {
            source.to_vec()
        };
        let lookups = ctx.lookups.clone();
        let hit = lookups
            .find(
                &spec,
                source,
                &key,
                Some(&mut crate::expand::Eval::new(ctx)),
            )
            .map_err(|e| ItemErr::Defer(Some(crate::listmatch::driver_reason(e))))?;
        Ok(hit.map(|h| Matched {
            value: Some(Val {
                bytes: h.data,
                tainted: h.tainted,
            }),
            captures: Vec::new(),
        }))
    }

    /// A plain host name: resolve it and compare each address with the host's.
    fn forward(&self, name: &[u8]) -> ItemResult {
        let text = String::from_utf8_lossy(name).into_owned();
        match (text.as_str(), 0u16).to_socket_addrs() {
            Ok(addrs) => {
                let me = &self.address;
                let hit = addrs
                    .into_iter()
                    .any(|a| ip::in_net(a.ip().to_string().as_bytes(), me, None));
                Ok(hit.then(Matched::default))
            }
            Err(_) => Err(ItemErr::Unknown(format!(
                "failed to find IP address for {text}"
            ))),
        }
    }
}

/// Addresses of this machine's interfaces (what `@[]` matches), from getifaddrs.
pub fn local_addresses() -> Vec<String> {
    let mut out = Vec::new();
    let mut head: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs fills `head` with a list we only read and then free.
    unsafe {
        if libc::getifaddrs(&mut head) != 0 {
            return out;
        }
        let mut p = head;
        while !p.is_null() {
            let sa = (*p).ifa_addr;
            if !sa.is_null() {
                match i32::from((*sa).sa_family) {
                    libc::AF_INET => {
                        let sin = &*(sa as *const libc::sockaddr_in);
                        out.push(
                            std::net::Ipv4Addr::from(u32::from_be(sin.sin_addr.s_addr)).to_string(),
                        );
                    }
                    libc::AF_INET6 => {
                        let sin6 = &*(sa as *const libc::sockaddr_in6);
                        out.push(std::net::Ipv6Addr::from(sin6.sin6_addr.s6_addr).to_string());
                    }
                    _ => {}
                }
            }
            p = (*p).ifa_next;
        }
        libc::freeifaddrs(head);
    }
    out
}
