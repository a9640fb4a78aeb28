//! DNS behind one small trait: the system resolver in production, a fake zone in tests.

use std::net::{Ipv4Addr, Ipv6Addr};

pub mod fake;
pub mod system;

pub use fake::FakeResolver;
pub use system::SystemResolver;

/// The record types rexim asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RType {
    A,
    Aaaa,
    Cname,
    Mx,
    Ns,
    Ptr,
    Soa,
    Spf,
    Srv,
    Tlsa,
    Txt,
}

impl RType {
    pub fn name(self) -> &'static str {
        match self {
            RType::A => "A",
            RType::Aaaa => "AAAA",
            RType::Cname => "CNAME",
            RType::Mx => "MX",
            RType::Ns => "NS",
            RType::Ptr => "PTR",
            RType::Soa => "SOA",
            RType::Spf => "SPF",
            RType::Srv => "SRV",
            RType::Tlsa => "TLSA",
            RType::Txt => "TXT",
        }
    }

    pub fn from_name(s: &str) -> Option<RType> {
        [
            RType::A,
            RType::Aaaa,
            RType::Cname,
            RType::Mx,
            RType::Ns,
            RType::Ptr,
            RType::Soa,
            RType::Spf,
            RType::Srv,
            RType::Tlsa,
            RType::Txt,
        ]
        .into_iter()
        .find(|t| t.name().eq_ignore_ascii_case(s))
    }
}

/// Record data; names are written without the trailing dot, as `dn_expand` gives them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RData {
    A(Ipv4Addr),
    Aaaa(Ipv6Addr),
    Cname(String),
    Ns(String),
    Ptr(String),
    Mx {
        pref: u16,
        host: String,
    },
    Srv {
        prio: u16,
        weight: u16,
        port: u16,
        target: String,
    },
    Soa {
        mname: String,
        rname: String,
        serial: u32,
        refresh: u32,
        retry: u32,
        expire: u32,
        minimum: u32,
    },
    /// TXT and SPF: the character-strings of one record.
    Txt(Vec<Vec<u8>>),
    Spf(Vec<Vec<u8>>),
    Tlsa {
        usage: u8,
        selector: u8,
        mtype: u8,
        data: Vec<u8>,
    },
}

impl RData {
    pub fn rtype(&self) -> RType {
        match self {
            RData::A(_) => RType::A,
            RData::Aaaa(_) => RType::Aaaa,
            RData::Cname(_) => RType::Cname,
            RData::Ns(_) => RType::Ns,
            RData::Ptr(_) => RType::Ptr,
            RData::Mx { .. } => RType::Mx,
            RData::Srv { .. } => RType::Srv,
            RData::Soa { .. } => RType::Soa,
            RData::Txt(_) => RType::Txt,
            RData::Spf(_) => RType::Spf,
            RData::Tlsa { .. } => RType::Tlsa,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub name: String,
    pub ttl: u32,
    pub data: RData,
}

/// Exim's `DNS_SUCCEED`, `DNS_NODATA`, `DNS_NOMATCH`, `DNS_AGAIN`, `DNS_FAIL`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DnsResult {
    /// The answer section (CNAMEs followed, so it may hold records of other types).
    Records(Vec<Record>),
    NoData,
    NxDomain,
    /// Temporary failure (timeout, SERVFAIL).
    Again(String),
    /// Permanent failure other than "no such name".
    Fail(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub result: DnsResult,
    /// The AD bit: the data was DNSSEC-validated.
    pub secure: bool,
}

/// Anything that can answer DNS questions.
pub trait Resolver: Send + Sync {
    /// Look `name` (no trailing dot, never extended with search domains) up.
    fn lookup(&self, name: &str, rtype: RType) -> Answer;
}

/// The reverse-lookup name of an address (`4.3.2.1.in-addr.arpa`, nibbles for IPv6).
pub fn reverse_name(ip: &str) -> Option<String> {
    let ip = ip.split('%').next().unwrap_or(ip);
    if let Ok(v4) = ip.parse::<Ipv4Addr>() {
        let o = v4.octets();
        return Some(format!("{}.{}.{}.{}.in-addr.arpa", o[3], o[2], o[1], o[0]));
    }
    let v6: Ipv6Addr = ip.parse().ok()?;
    let mut s = String::with_capacity(72);
    for b in v6.octets().iter().rev() {
        s.push_str(&format!("{:x}.{:x}.", b & 0xf, b >> 4));
    }
    s.push_str("ip6.arpa");
    Some(s)
}
