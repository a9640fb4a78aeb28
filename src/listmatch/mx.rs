//! `@mx_any`, `@mx_primary`, `@mx_secondary` domain-list items (match.c with
//! host.c's `host_find_bydns` restricted to MX records): is the local host an MX
//! of the domain, and at which preference? Asks the resolver of `ctx.lookups`.

use crate::dns::{DnsResult, RData, RType, Resolver};
use crate::expand::context::Context;
use crate::listmatch::{host, ItemErr};

/// Which `@mx_` item: `any` (local host among the MXs), `primary` (at the
/// lowest preference) or `secondary` (at a higher one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Which {
    Any,
    Primary,
    Secondary,
}

/// Parse `@mx_KIND[/ignore=LIST]`; `None` when the item is not an `@mx_` special
/// (Exim then treats it as a literal).
fn parse(item: &[u8]) -> Option<(Which, Option<&[u8]>)> {
    let rest = item.get(4..)?;
    let (which, tail) = [
        (&b"any"[..], Which::Any),
        (b"primary", Which::Primary),
        (b"secondary", Which::Secondary),
    ]
    .into_iter()
    .find(|(w, _)| rest.len() >= w.len() && rest[..w.len()].eq_ignore_ascii_case(w))
    .map(|(w, k)| (k, &rest[w.len()..]))?;
    if tail.is_empty() {
        return Some((which, None));
    }
    let ignore = b"/ignore=";
    (tail.len() >= ignore.len() && tail[..ignore.len()].eq_ignore_ascii_case(ignore))
        .then(|| (which, Some(&tail[ignore.len()..])))
}

/// What the MX scan found (host_find_bydns' yield plus its `removed` flag).
#[derive(Debug, PartialEq, Eq)]
enum Found {
    /// The local host is (one of) the lowest-preference MXs.
    Local,
    /// Remote hosts only, or a local host at a higher preference (`removed`).
    Hosts {
        removed: bool,
        again: bool,
    },
    /// No MX records (or none usable).
    Nothing,
    Again,
}

/// One MX host's address lookup: addresses kept, any ignored, any temporary failure.
struct Addresses {
    kept: Vec<String>,
    ignored: bool,
    again: bool,
}

fn addresses(ctx: &mut Context, r: &dyn Resolver, host: &str, ignore: Option<&[u8]>) -> Addresses {
    let mut out = Addresses {
        kept: Vec::new(),
        ignored: false,
        again: false,
    };
    for rtype in [RType::Aaaa, RType::A] {
        match r.lookup(host, rtype).result {
            DnsResult::Records(recs) => {
                for rec in recs {
                    let ip = match rec.data {
                        RData::A(a) if rtype == RType::A => a.to_string(),
                        RData::Aaaa(a) if rtype == RType::Aaaa => a.to_string(),
                        _ => continue,
                    };
                    let skip = ignore.is_some_and(|list| {
                        matches!(
                            crate::listmatch::match_host(
                                ctx,
                                ip.as_bytes(),
                                Some(host.as_bytes()),
                                list,
                                false
                            ),
                            Ok(Some(_))
                        )
                    });
                    if skip {
                        out.ignored = true;
                    } else if !out.kept.contains(&ip) {
                        out.kept.push(ip);
                    }
                }
            }
            DnsResult::Again(_) | DnsResult::Fail(_) => out.again = true,
            DnsResult::NoData | DnsResult::NxDomain => {}
        }
    }
    out
}

fn scan(ctx: &mut Context, domain: &str, ignore: Option<&[u8]>) -> Found {
    let resolver = ctx.lookups.resolver();
    let mut mxs: Vec<(u16, String)> = match resolver.lookup(domain, RType::Mx).result {
        DnsResult::Records(recs) => recs
            .into_iter()
            .filter_map(|r| match r.data {
                RData::Mx { pref, host } => Some((pref, host.to_ascii_lowercase())),
                _ => None,
            })
            .collect(),
        DnsResult::Again(_) | DnsResult::Fail(_) => return Found::Again,
        DnsResult::NoData | DnsResult::NxDomain => return Found::Nothing,
    };
    // One entry per host name, at its lowest preference; a null MX names no host.
    mxs.sort();
    let mut seen = Vec::new();
    mxs.retain(|(_, h)| {
        !h.is_empty() && !seen.contains(h) && {
            seen.push(h.clone());
            true
        }
    });
    if mxs.is_empty() {
        return Found::Nothing;
    }
    let locals = host::local_addresses();
    let mut again = false;
    // (preference, address or None) in MX order; ignored hosts drop out entirely.
    let mut hosts: Vec<(u16, Option<String>)> = Vec::new();
    for (pref, name) in &mxs {
        let a = addresses(ctx, resolver.as_ref(), name, ignore);
        if a.kept.is_empty() {
            if a.ignored {
                continue;
            }
            again |= a.again;
            hosts.push((*pref, None));
        }
        for ip in a.kept {
            if !hosts.iter().any(|(_, x)| x.as_deref() == Some(ip.as_str())) {
                hosts.push((*pref, Some(ip)));
            }
        }
    }
    let lowest = hosts.first().map(|h| h.0);
    let mut remote = false;
    for (pref, ip) in &hosts {
        let Some(ip) = ip else { continue };
        if ip == "0.0.0.0" || locals.iter().any(|l| l == ip) {
            if Some(*pref) == lowest {
                return Found::Local;
            }
            return Found::Hosts {
                removed: true,
                again: again && !remote,
            };
        }
        remote = true;
    }
    if remote {
        Found::Hosts {
            removed: false,
            again: false,
        }
    } else if again {
        Found::Again
    } else {
        Found::Nothing
    }
}

thread_local! {
    static DEPTH: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
}

/// Most `@mx_*` checks nested through `/ignore=` lists.
const MAX_DEPTH: u32 = 5;

struct DepthGuard;

impl DepthGuard {
    fn enter() -> Option<DepthGuard> {
        DEPTH.with(|d| {
            (d.get() < MAX_DEPTH).then(|| {
                d.set(d.get() + 1);
                DepthGuard
            })
        })
    }
}

impl Drop for DepthGuard {
    fn drop(&mut self) {
        DEPTH.with(|d| d.set(d.get().saturating_sub(1)));
    }
}

/// Test an `@mx_*` item against `domain`: `Ok(None)` when `item` is not one
/// (a literal for the caller), else whether it matched.
pub(crate) fn check(
    ctx: &mut Context,
    domain: &[u8],
    item: &[u8],
) -> Option<Result<bool, ItemErr>> {
    let (which, ignore) = parse(item)?;
    let name = String::from_utf8_lossy(domain).into_owned();
    // An `/ignore=` list may hold `@mx_*` items of its own; bound the recursion.
    let _guard = match DepthGuard::enter() {
        Some(g) => g,
        None => {
            return Some(Err(ItemErr::Defer(Some(format!(
                "@mx_ items nested too deeply while checking \"{name}\""
            )))))
        }
    };
    let deferred = || {
        Err(ItemErr::Defer(Some(format!(
            "DNS lookup of \"{name}\" deferred"
        ))))
    };
    let (local, removed) = match scan(ctx, &name, ignore) {
        Found::Again | Found::Hosts { again: true, .. } => return Some(deferred()),
        Found::Local => (true, false),
        Found::Hosts { removed, .. } => (false, removed),
        Found::Nothing => (false, false),
    };
    Some(Ok(match which {
        Which::Any => local || removed,
        Which::Primary => local,
        Which::Secondary => removed,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_kinds_and_ignore_lists() {
        assert_eq!(parse(b"@mx_any"), Some((Which::Any, None)));
        assert_eq!(parse(b"@MX_Primary"), Some((Which::Primary, None)));
        assert_eq!(
            parse(b"@mx_secondary/ignore=127.0.0.1"),
            Some((Which::Secondary, Some(&b"127.0.0.1"[..])))
        );
        assert_eq!(parse(b"@mx_bogus"), None);
        assert_eq!(parse(b"@mx_anyx"), None);
    }
}
