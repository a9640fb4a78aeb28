//! `spamd_address`: a colon-separated list of servers, each `host port` or
//! `/unix/socket`, followed by space-separated options (`pri=`, `weight=`, `time=`,
//! `tmo=`, `retry=`, `variant=rspamd`).

use std::time::Duration;

/// Exim's defaults (spam.h): a 120 s transaction, weight and priority 1.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(120);

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    Tcp { host: String, port: String },
    Unix(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Server {
    pub endpoint: Endpoint,
    /// Exim's `hostspec`: `host port` or the socket path, as its log lines show it.
    pub spec: String,
    pub rspamd: bool,
    pub weight: u32,
    pub priority: u32,
    pub timeout: Duration,
    pub retry: Duration,
    pub failed: bool,
}

/// The usable servers in `list` (at most 32, as Exim) and the warnings to log (Exim's
/// texts, after the `spam acl condition:` label). `seconds_of_day` is local time, for
/// `time=` windows.
pub fn parse_list(list: &str, seconds_of_day: u32) -> (Vec<Server>, Vec<String>) {
    let mut servers = Vec::new();
    let mut warnings = Vec::new();
    for entry in crate::expand::lists::iter_default(list.as_bytes(), b':') {
        let entry = String::from_utf8_lossy(&entry).into_owned();
        let mut words = entry.split([' ', '\t', '\n']).filter(|w| !w.is_empty());
        let Some(first) = words.next() else {
            continue;
        };
        let mut server = Server {
            endpoint: Endpoint::Unix(first.to_string()),
            spec: first.to_string(),
            rspamd: false,
            weight: 1,
            priority: 1,
            timeout: DEFAULT_TIMEOUT,
            retry: Duration::ZERO,
            failed: false,
        };
        if !first.starts_with('/') {
            match words.next() {
                Some(port) => {
                    server.endpoint = Endpoint::Tcp {
                        host: first.to_string(),
                        port: port.to_string(),
                    };
                    server.spec = format!("{first} {port}");
                }
                None => {
                    warnings.push(format!("warning - invalid spamd address: '{entry}'"));
                    continue;
                }
            }
        }
        let mut skip = false;
        for opt in words {
            match option(opt, &mut server, seconds_of_day) {
                Ok(true) => {}
                Ok(false) => skip = true,
                Err(w) => warnings.push(w),
            }
        }
        // Exim registers a skipped server anyway but never picks it (weight 0 or
        // outside its time window): leaving it out has the same effect.
        if !skip {
            servers.push(server);
        }
        if servers.len() > 31 {
            break;
        }
    }
    (servers, warnings)
}

/// One option; `Ok(false)`: this server is not to be used now.
fn option(opt: &str, s: &mut Server, seconds_of_day: u32) -> Result<bool, String> {
    let bad = |name: &str, v: &str| format!("warning - invalid spamd {name} value: '{v}'");
    if let Some(v) = opt.strip_prefix("pri=") {
        s.priority = leading_number(v).ok_or_else(|| invalid(opt))?;
        return Ok(true);
    }
    if let Some(v) = opt.strip_prefix("weight=") {
        s.weight = leading_number(v).ok_or_else(|| invalid(opt))?;
        return Ok(s.weight != 0);
    }
    if let Some(v) = opt.strip_prefix("time=") {
        let (start, end) = match v.split_once('-') {
            Some((a, b)) => (
                clock(a).ok_or_else(|| bad("time", v))?,
                clock(b).ok_or_else(|| bad("time", v))?,
            ),
            None => return Err(bad("time", v)),
        };
        return Ok(seconds_of_day >= start && seconds_of_day < end);
    }
    if opt == "variant=rspamd" {
        s.rspamd = true;
        return Ok(true);
    }
    if let Some(v) = opt.strip_prefix("tmo=") {
        s.timeout = duration(v).ok_or_else(|| bad("timeout", v))?;
        return Ok(true);
    }
    if let Some(v) = opt.strip_prefix("retry=") {
        s.retry = duration(v).ok_or_else(|| bad("retry", v))?;
        return Ok(true);
    }
    Err(invalid(opt))
}

fn invalid(opt: &str) -> String {
    format!("warning - invalid spamd parameter: '{opt}'")
}

/// `%u`: the leading digits.
fn leading_number(v: &str) -> Option<u32> {
    let n = v.bytes().take_while(u8::is_ascii_digit).count();
    v[..n].parse().ok()
}

/// `h[.m[.s]]` as seconds since midnight.
fn clock(v: &str) -> Option<u32> {
    let mut parts = v.split('.');
    let h = leading_number(parts.next()?)?;
    let m = parts.next().map_or(Some(0), leading_number)?;
    let s = parts.next().map_or(Some(0), leading_number)?;
    Some(h * 3600 + m * 60 + s)
}

/// Exim's time format: `30s`, `2m`, `1h30m`, or plain seconds.
fn duration(v: &str) -> Option<Duration> {
    crate::config::options::read_time(v, false)
        .filter(|&s| s >= 0)
        .map(|s| Duration::from_secs(s as u64))
}

/// Exim's server choice: among working servers of the highest priority, one at random
/// in proportion to its weight.
pub fn choose(servers: &[Server], random: u64) -> Option<usize> {
    let live = || servers.iter().enumerate().filter(|(_, s)| !s.failed);
    let pri = live().map(|(_, s)| s.priority).max()?;
    let total: u64 = live()
        .filter(|(_, s)| s.priority == pri)
        .map(|(_, s)| u64::from(s.weight))
        .sum();
    if total == 0 {
        return None;
    }
    let mut r = random % total;
    for (i, s) in live().filter(|(_, s)| s.priority == pri) {
        if r < u64::from(s.weight) {
            return Some(i);
        }
        r -= u64::from(s.weight);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn servers_and_options() {
        let (s, w) = parse_list(
            "127.0.0.1 783 pri=2 weight=3 tmo=30s retry=1m : /run/spamd.sock variant=rspamd : 10.0.0.1 784 weight=0 : bad : ::1 783 frob",
            0,
        );
        assert_eq!(s.len(), 3, "{s:?}");
        assert_eq!(s[0].spec, "127.0.0.1 783");
        assert_eq!((s[0].priority, s[0].weight), (2, 3));
        assert_eq!(s[0].timeout, Duration::from_secs(30));
        assert_eq!(s[0].retry, Duration::from_secs(60));
        assert_eq!(s[1].endpoint, Endpoint::Unix("/run/spamd.sock".into()));
        assert!(s[1].rspamd);
        assert_eq!(s[2].spec, ":1 783");
        assert_eq!(
            w,
            [
                "warning - invalid spamd address: 'bad'",
                "warning - invalid spamd parameter: 'frob'"
            ]
        );
    }

    #[test]
    fn time_windows_and_choice() {
        let list = "a 1 time=8-17 : b 2 time=17-24";
        let (s, _) = parse_list(list, 9 * 3600);
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].spec, "a 1");
        let (s, _) = parse_list("a 1 pri=1 : b 2 pri=5 weight=2 : c 3 pri=5 weight=1", 0);
        assert_eq!(choose(&s, 0), Some(1));
        assert_eq!(choose(&s, 1), Some(1));
        assert_eq!(choose(&s, 2), Some(2));
        let mut s = s;
        s[1].failed = true;
        s[2].failed = true;
        assert_eq!(choose(&s, 7), Some(0));
        s[0].failed = true;
        assert_eq!(choose(&s, 0), None);
    }
}
