//! IP address text rules as Exim applies them: syntax check, binary form, masked comparison.

/// Exim's `string_is_ip_address` (4.96 with the CVE-2023-42117 fix, as Debian ships it):
/// 4 or 6 for a valid address, 0 otherwise. The address itself must satisfy
/// `inet_pton`; IPv6 may carry `%scope`. With `allow_mask`, a `/N` suffix (N read
/// by `strtol`, so `/` alone counts as 0) is accepted and the slash offset returned.
pub fn ip_version(s: &[u8], allow_mask: bool) -> (u8, Option<usize>) {
    let slash = s.iter().position(|&c| c == b'/');
    let mut end = s.len();
    let mut mask = None;
    if let Some(sl) = slash {
        if !allow_mask {
            return (0, None);
        }
        let (n, rest) = strtol_rest(s, sl + 1);
        if rest != s.len() || n < 0 {
            return (0, None);
        }
        mask = Some(sl);
        end = sl;
    }
    let percent = s.iter().position(|&c| c == b'%');
    if let Some(pc) = percent {
        if slash.is_some() {
            return (0, None);
        }
        if !s[pc + 1..]
            .iter()
            .all(|c| c.is_ascii_alphanumeric() || c.is_ascii_punctuation())
        {
            return (0, None);
        }
        end = pc;
    }
    if end > 255 {
        return (0, None);
    }
    let Ok(text) = std::str::from_utf8(&s[..end]) else {
        return (0, None);
    };
    if text.contains(':') {
        if text.parse::<std::net::Ipv6Addr>().is_ok() {
            return (6, mask);
        }
    } else if percent.is_none() && text.parse::<std::net::Ipv4Addr>().is_ok() {
        return (4, mask);
    }
    (0, None)
}

fn at(s: &[u8], i: usize) -> u8 {
    s.get(i).copied().unwrap_or(0)
}

/// C `strtol` from `p` returning the value and where it stopped (`p` when nothing converted).
fn strtol_rest(s: &[u8], p: usize) -> (i64, usize) {
    strtol(s, p).unwrap_or((0, p))
}

/// C `strtol(s + p, NULL, 10)`: 0 when nothing converts.
pub fn strtol_value(s: &[u8], p: usize) -> i64 {
    strtol_rest(s, p).0
}

/// C `atoi` of the text after a mask slash, as Exim reads mask lengths.
pub fn mask_bits(s: &[u8], slash: usize) -> u32 {
    let n = strtol_rest(s, slash + 1).0;
    u32::try_from(n).unwrap_or(0)
}

/// C `strtol(s, &end, 10)` from `p`: None when no digits were converted.
fn strtol(s: &[u8], mut p: usize) -> Option<(i64, usize)> {
    while matches!(at(s, p), b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c) {
        p += 1;
    }
    let neg = at(s, p) == b'-';
    if matches!(at(s, p), b'-' | b'+') {
        p += 1;
    }
    let start = p;
    let mut n: i64 = 0;
    while at(s, p).is_ascii_digit() {
        n = n
            .saturating_mul(10)
            .saturating_add(i64::from(at(s, p) - b'0'));
        p += 1;
    }
    if p == start {
        return None;
    }
    Some((if neg { -n } else { n }, p))
}

/// Binary form of a syntactically valid address (Exim's `host_aton`): one word for
/// IPv4, four for IPv6. The text may carry a `/mask` or `%scope`, which are ignored.
pub fn aton(addr: &[u8]) -> Vec<u32> {
    let mut v4: &[u8] = addr;
    let mut out = Vec::new();
    if addr.contains(&b':') {
        let mut p = 0;
        if at(addr, 0) == b':' {
            p = 1;
        }
        let mut comps: Vec<&[u8]> = Vec::new();
        let mut null_at = 0;
        while p < addr.len() && addr[p] != b'%' {
            let len = addr[p..]
                .iter()
                .position(|&c| c == b':' || c == b'%')
                .unwrap_or(addr.len() - p);
            if len == 0 {
                null_at = comps.len();
            }
            comps.push(&addr[p..p + len]);
            p += len;
            if at(addr, p) == b':' {
                p += 1;
            }
        }
        let mut want = 8;
        let mut v4_ends = false;
        if comps.last().is_some_and(|c| c.contains(&b'.')) {
            v4 = comps.pop().unwrap_or_default();
            v4_ends = true;
            want = 6;
        }
        if comps.len() < want {
            let insert = want - comps.len();
            let at_pos = (null_at + 1).min(comps.len());
            for _ in 0..insert {
                comps.insert(at_pos, b"");
            }
        }
        comps.truncate(want);
        for pair in comps.chunks(2) {
            let hi = hex(pair[0]);
            let lo = pair.get(1).map_or(0, |c| hex(c));
            out.push((hi << 16) | (lo & 0xffff));
        }
        if !v4_ends {
            return out;
        }
    }
    let mut x = [0u32; 4];
    let mut p = 0;
    for (i, slot) in x.iter_mut().enumerate() {
        if i > 0 {
            if at(v4, p) != b'.' {
                break;
            }
            p += 1;
        }
        match strtol(v4, p) {
            Some((n, end)) => {
                *slot = n as u32;
                p = end;
            }
            None => break,
        }
    }
    out.push(
        (x[0] << 24)
            .wrapping_add(x[1] << 16)
            .wrapping_add(x[2] << 8)
            .wrapping_add(x[3]),
    );
    out
}

fn hex(c: &[u8]) -> u32 {
    let n = c.iter().take_while(|b| b.is_ascii_hexdigit()).count();
    std::str::from_utf8(&c[..n])
        .ok()
        .and_then(|t| u32::from_str_radix(t, 16).ok())
        .unwrap_or(0)
        & 0xffff
}

/// Keep the first `bits` bits of a binary address (`None` keeps all).
pub fn mask(words: &mut [u32], bits: Option<u32>) {
    let mut left = bits.unwrap_or(u32::MAX);
    for w in words.iter_mut() {
        let m = if left == 0 {
            0
        } else if left < 32 {
            let m = u32::MAX << (32 - left);
            left = 0;
            m
        } else {
            left -= 32;
            u32::MAX
        };
        *w &= m;
    }
}

/// Exim's `host_is_in_net`: is `host` inside `net` (`net` may end in `/bits`)?
/// `::ffff:a.b.c.d` hosts are compared as IPv4.
pub fn in_net(host: &[u8], net: &[u8], mask_offset: Option<usize>) -> bool {
    let mut want = aton(net);
    let mut have = aton(host);
    if have.len() == 4 && have[0] == 0 && have[1] == 0 && have[2] == 0xffff {
        have = vec![have[3]];
    }
    if have.len() != want.len() {
        return false;
    }
    let bits = mask_offset.map(|o| mask_bits(net, o));
    mask(&mut want, bits);
    mask(&mut have, bits);
    want == have
}

/// Exim's `host_nmtoa`: masked address as lookup key (`1.2.3.0/24`, or IPv6 with `sep`).
pub fn nmtoa(words: &[u32], bits: Option<u32>, sep: char) -> String {
    let mut s = if words.len() == 1 {
        let w = words[0];
        format!(
            "{}.{}.{}.{}",
            w >> 24,
            (w >> 16) & 255,
            (w >> 8) & 255,
            w & 255
        )
    } else {
        let parts: Vec<String> = words
            .iter()
            .map(|w| format!("{:04x}{sep}{:04x}", w >> 16, w & 0xffff))
            .collect();
        parts.join(&sep.to_string())
    };
    if let Some(b) = bits {
        s.push_str(&format!("/{b}"));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions() {
        let v = |s: &str| ip_version(s.as_bytes(), false).0;
        assert_eq!(v("1.2.3.4"), 4);
        assert_eq!(v("999.1.1.1"), 0);
        assert_eq!(v("1.2.3"), 0);
        assert_eq!(v("::1"), 6);
        assert_eq!(v("::ffff:1.2.3.4"), 6);
        assert_eq!(v("fe80::1%eth0"), 6);
        assert_eq!(v(":1"), 0);
        assert_eq!(v("1:2:3:4:5:6:7:8"), 6);
        assert_eq!(v("1:2:3:4:5:6:7"), 0);
        assert_eq!(v("1.2.3.4/8"), 0);
        assert_eq!(v("1.02.3.4"), 0);
        assert_eq!(v(" 1.2.3.4"), 0);
        assert_eq!(ip_version(b"1.2.3.4/8", true), (4, Some(7)));
        assert_eq!(ip_version(b"1.2.3.4/", true), (4, Some(7)));
        assert_eq!(ip_version(b"1.2.3.4/x", true), (0, None));
        assert_eq!(ip_version(b"1.2.3.4%x", false), (0, None));
    }

    #[test]
    fn nets() {
        assert!(in_net(b"1.2.3.4", b"1.2.0.0/16", Some(7)));
        assert!(!in_net(b"1.3.3.4", b"1.2.0.0/16", Some(7)));
        assert!(in_net(b"::ffff:1.2.3.4", b"1.2.3.4", None));
        assert!(in_net(b"2001:db8::1", b"2001:db8::/32", Some(10)));
        assert_eq!(aton(b"::1"), vec![0, 0, 0, 1]);
        assert_eq!(aton(b"1::"), vec![0x10000, 0, 0, 0]);
        assert_eq!(
            aton(b"1:2:3:4:5:6:7:8"),
            vec![0x10002, 0x30004, 0x50006, 0x70008]
        );
        assert_eq!(nmtoa(&[0x01020300], Some(24), '.'), "1.2.3.0/24");
    }
}
