//! DNS for mail-auth's SPF evaluation: its own resolver built from the system
//! configuration in production, or answers taken in advance from a fixture zone
//! (`dns::FakeResolver`) through mail-auth's resolver-cache interface in tests.

use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::Hash;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::{Arc, OnceLock};

use mail_auth::common::parse::TxtRecordParser;
use mail_auth::hickory_resolver::config::{ResolverConfig, ResolverOpts};
use mail_auth::hickory_resolver::proto::op::ResponseCode;
use mail_auth::spf::{Macro, Spf};
use mail_auth::{
    DnsError, DnssecStatus, Error, MessageAuthenticator, RecordSet, ResolverCache, Txt, MX,
};

use crate::dns::{DnsResult, FakeResolver, RData, RType, Resolver};

/// Where SPF evaluation gets its DNS answers.
#[derive(Clone, Default)]
pub enum SpfDns {
    /// mail-auth's resolver configured from /etc/resolv.conf.
    #[default]
    System,
    /// Only the answers of a fixture zone; nothing leaves the process.
    Offline(Arc<OfflineZone>),
}

impl std::fmt::Debug for SpfDns {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            SpfDns::System => "System",
            SpfDns::Offline(_) => "Offline",
        })
    }
}

/// A fixture zone's answers in the shapes mail-auth caches (names as FQDNs with a dot).
#[derive(Default)]
pub struct OfflineZone {
    txt: HashMap<Box<str>, Txt>,
    mx: HashMap<Box<str>, RecordSet<MX>>,
    a: HashMap<Box<str>, RecordSet<Ipv4Addr>>,
    aaaa: HashMap<Box<str>, RecordSet<Ipv6Addr>>,
    ptr: HashMap<IpAddr, RecordSet<Box<str>>>,
}

fn set<T>(items: Vec<T>) -> RecordSet<T> {
    RecordSet {
        rrset: items.into(),
        dnssec_status: DnssecStatus::Indeterminate,
    }
}

fn nxdomain() -> Error {
    Error::Dns(DnsError::RecordNotFound(ResponseCode::NXDomain))
}

/// `4.3.2.1.in-addr.arpa` back to `1.2.3.4` (IPv6 nibble names too).
fn ip_of_reverse_name(name: &str) -> Option<IpAddr> {
    if let Some(v4) = name.strip_suffix(".in-addr.arpa") {
        let mut o: Vec<&str> = v4.split('.').collect();
        o.reverse();
        return o.join(".").parse().ok();
    }
    let v6 = name.strip_suffix(".ip6.arpa")?;
    let mut nibbles: Vec<&str> = v6.split('.').collect();
    if nibbles.len() != 32 {
        return None;
    }
    nibbles.reverse();
    let hex: String = nibbles.concat();
    u128::from_str_radix(&hex, 16)
        .ok()
        .map(|n| IpAddr::V6(Ipv6Addr::from(n)))
}

impl OfflineZone {
    /// Ask `zone` about each of its names once and keep the answers.
    pub fn from_zone(zone: &FakeResolver) -> OfflineZone {
        let mut z = OfflineZone::default();
        let names: Vec<String> = zone.names().map(str::to_string).collect();
        for name in &names {
            let fqdn: Box<str> = format!("{name}.").into();
            z.add_txt(zone, name, &fqdn);
        }
        z.add_explanations(zone);
        for name in names {
            let fqdn: Box<str> = format!("{name}.").into();
            if let DnsResult::Records(recs) = zone.lookup(&name, RType::Mx).result {
                let mut by_pref: Vec<MX> = Vec::new();
                let mut mx: Vec<(u16, String)> = recs
                    .into_iter()
                    .filter_map(|r| match r.data {
                        RData::Mx { pref, host } => Some((pref, host.to_ascii_lowercase() + ".")),
                        _ => None,
                    })
                    .collect();
                mx.sort();
                for (pref, host) in mx {
                    match by_pref.last_mut() {
                        Some(last) if last.preference == pref => {
                            let mut v = last.exchanges.to_vec();
                            v.push(host.into());
                            last.exchanges = v.into();
                        }
                        _ => by_pref.push(MX {
                            preference: pref,
                            exchanges: vec![host.into()].into(),
                        }),
                    }
                }
                z.mx.insert(fqdn.clone(), set(by_pref));
            }
            if let DnsResult::Records(recs) = zone.lookup(&name, RType::A).result {
                let v: Vec<Ipv4Addr> = recs
                    .iter()
                    .filter_map(|r| match r.data {
                        RData::A(a) => Some(a),
                        _ => None,
                    })
                    .collect();
                z.a.insert(fqdn.clone(), set(v));
            }
            if let DnsResult::Records(recs) = zone.lookup(&name, RType::Aaaa).result {
                let v: Vec<Ipv6Addr> = recs
                    .iter()
                    .filter_map(|r| match r.data {
                        RData::Aaaa(a) => Some(a),
                        _ => None,
                    })
                    .collect();
                z.aaaa.insert(fqdn.clone(), set(v));
            }
            if let (Some(ip), DnsResult::Records(recs)) = (
                ip_of_reverse_name(&name),
                zone.lookup(&name, RType::Ptr).result,
            ) {
                let v: Vec<Box<str>> = recs
                    .iter()
                    .filter_map(|r| match &r.data {
                        RData::Ptr(p) => Some(format!("{}.", p.to_ascii_lowercase()).into()),
                        _ => None,
                    })
                    .collect();
                z.ptr.insert(ip, set(v));
            }
        }
        z
    }

    /// Names that records point at with a literal `exp=` hold explanation texts, which
    /// mail-auth reads as macro strings from the same TXT cache.
    fn add_explanations(&mut self, zone: &FakeResolver) {
        let targets: Vec<String> = self
            .txt
            .values()
            .filter_map(|t| match t {
                Txt::Spf(spf) => match &spf.exp {
                    Some(Macro::Literal(name)) => Some(String::from_utf8_lossy(name).into_owned()),
                    _ => None,
                },
                _ => None,
            })
            .collect();
        for name in targets {
            let name = name.trim_end_matches('.').to_ascii_lowercase();
            if let DnsResult::Records(recs) = zone.lookup(&name, RType::Txt).result {
                if let Some(RData::Txt(strings)) = recs
                    .iter()
                    .map(|r| &r.data)
                    .find(|d| matches!(d, RData::Txt(_)))
                {
                    let value = Txt::from(Macro::parse(&strings.concat()));
                    self.txt.insert(format!("{name}.").into(), value);
                }
            }
        }
    }

    /// The SPF record of a name, as mail-auth's TXT lookup would leave it: the first
    /// TXT record that parses as SPF, else "not found"; a SERVFAIL stays an error.
    fn add_txt(&mut self, zone: &FakeResolver, name: &str, fqdn: &str) {
        let value = match zone.lookup(name, RType::Txt).result {
            DnsResult::Records(recs) => {
                let mut found: Result<Spf, Error> = Err(Error::Dns(DnsError::InvalidRecordType));
                for r in &recs {
                    if let RData::Txt(strings) = &r.data {
                        found = Spf::parse(&strings.concat());
                        if found.is_ok() {
                            break;
                        }
                    }
                }
                Txt::from(found)
            }
            DnsResult::NoData | DnsResult::NxDomain => Txt::Error(nxdomain()),
            DnsResult::Again(why) | DnsResult::Fail(why) => {
                Txt::Error(Error::Dns(DnsError::Resolver(why)))
            }
        };
        self.txt.insert(fqdn.into(), value);
    }
}

/// One of mail-auth's caches: a record set or an override answer first, then (offline)
/// the zone, then what a name missing from the zone means.
pub struct ZoneCache<'z, K, V> {
    map: Option<&'z HashMap<K, V>>,
    first: Option<(K, V)>,
    /// The answer for names the zone lacks; `None` lets mail-auth ask its resolver.
    miss: Option<V>,
}

impl<'z, K: Hash + Eq, V: Clone> ZoneCache<'z, K, V> {
    pub fn new(map: Option<&'z HashMap<K, V>>, miss: Option<V>) -> Self {
        ZoneCache {
            map,
            first: None,
            miss,
        }
    }
}

impl<K: Hash + Eq, V: Clone> ResolverCache<K, V> for ZoneCache<'_, K, V> {
    fn get<Q>(&self, name: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        if let Some((k, v)) = &self.first {
            if k.borrow() == name {
                return Some(v.clone());
            }
        }
        let map = self.map?;
        map.get(name).cloned().or_else(|| self.miss.clone())
    }

    fn remove<Q>(&self, _: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        None
    }

    /// Answers are per evaluation: rexim caches SPF outcomes, not records.
    fn insert(&self, _: K, _: V, _: std::time::Instant) {}
}

/// The five caches of one evaluation.
pub struct Caches<'z> {
    pub txt: ZoneCache<'z, Box<str>, Txt>,
    pub mx: ZoneCache<'z, Box<str>, RecordSet<MX>>,
    pub a: ZoneCache<'z, Box<str>, RecordSet<Ipv4Addr>>,
    pub aaaa: ZoneCache<'z, Box<str>, RecordSet<Ipv6Addr>>,
    pub ptr: ZoneCache<'z, IpAddr, RecordSet<Box<str>>>,
}

impl<'z> Caches<'z> {
    /// Offline, a name missing from the zone has no TXT, MX or PTR records. A missing
    /// A/AAAA name goes to mail-auth's resolver, which offline has no servers (a
    /// temporary error): mail-auth reads any cached address answer, even an empty one,
    /// as "exists", so the cache cannot say NXDOMAIN for `exists:`.
    pub fn new(dns: &'z SpfDns) -> Caches<'z> {
        match dns {
            SpfDns::System => Caches {
                txt: ZoneCache::new(None, None),
                mx: ZoneCache::new(None, None),
                a: ZoneCache::new(None, None),
                aaaa: ZoneCache::new(None, None),
                ptr: ZoneCache::new(None, None),
            },
            SpfDns::Offline(z) => Caches {
                txt: ZoneCache::new(Some(&z.txt), Some(Txt::Error(nxdomain()))),
                mx: ZoneCache::new(Some(&z.mx), Some(set(Vec::new()))),
                a: ZoneCache::new(Some(&z.a), None),
                aaaa: ZoneCache::new(Some(&z.aaaa), None),
                ptr: ZoneCache::new(Some(&z.ptr), Some(set(Vec::new()))),
            },
        }
    }

    /// Evaluate `record` instead of the published one for `domain` (`spf_guess`).
    /// Returns false when the record does not parse.
    pub fn override_record(&mut self, domain: &str, record: &str) -> bool {
        match Spf::parse(record.as_bytes()) {
            Ok(spf) => {
                let key = format!("{}.", domain.to_ascii_lowercase()).into();
                self.txt.first = Some((key, Txt::from(Ok::<Spf, Error>(spf))));
                true
            }
            Err(_) => false,
        }
    }
}

/// The runtime mail-auth's resolver runs on (one worker; ACLs block on it).
pub fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("rexim-spf-dns")
            .enable_all()
            .build()
            .expect("tokio runtime for SPF DNS")
    })
}

/// mail-auth's authenticator: from /etc/resolv.conf for `System`, with no name
/// servers at all for `Offline` (every question it would ask fails).
pub fn authenticator(dns: &SpfDns) -> Result<&'static MessageAuthenticator, String> {
    static SYSTEM: OnceLock<Result<MessageAuthenticator, String>> = OnceLock::new();
    static OFFLINE: OnceLock<Result<MessageAuthenticator, String>> = OnceLock::new();
    let (cell, offline) = match dns {
        SpfDns::System => (&SYSTEM, false),
        SpfDns::Offline(_) => (&OFFLINE, true),
    };
    cell.get_or_init(|| {
        let _guard = runtime().enter();
        if offline {
            MessageAuthenticator::new(
                ResolverConfig::from_parts(None, Vec::new(), Vec::new()),
                ResolverOpts::default(),
            )
        } else {
            MessageAuthenticator::new_system_conf()
        }
        .map_err(|e| e.to_string())
    })
    .as_ref()
    .map_err(Clone::clone)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reverse_names_give_addresses() {
        assert_eq!(
            ip_of_reverse_name("4.3.2.1.in-addr.arpa"),
            Some("1.2.3.4".parse().unwrap())
        );
        let v6 = crate::dns::reverse_name("2001:db8::1").unwrap();
        assert_eq!(
            ip_of_reverse_name(&v6),
            Some("2001:db8::1".parse().unwrap())
        );
        assert_eq!(ip_of_reverse_name("example.com"), None);
    }
}
