//! IP addresses as Exim reads them (`string_is_ip_address`, `host_aton`, `host_is_in_net`).

/// An address or network: 1 (IPv4) or 4 (IPv6) 32-bit words and a prefix length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Net {
    pub words: [u32; 4],
    pub size: usize,
    /// Bits to compare (`None`: all).
    pub mask: Option<u32>,
}

/// Exim's `string_is_ip_address`: 4, 6 or 0 (not an address). With `allow_mask`, a
/// trailing `/digits` is accepted and its offset returned.
pub fn is_ip_address(s: &[u8], allow_mask: bool) -> (u8, usize) {
    let mut mask_at = 0;
    if allow_mask && s.last().is_some_and(u8::is_ascii_digit) {
        let digits = s.iter().rev().take_while(|c| c.is_ascii_digit()).count();
        let slash = s.len() - digits;
        if slash > 0 && s[slash - 1] == b'/' {
            mask_at = slash - 1;
        }
    }
    let at = |i: usize| s.get(i).copied().unwrap_or(0);
    let end_ok = |i: usize| at(i) == 0 || (at(i) == b'/' && mask_at != 0);
    let mut i = 0;
    if s.contains(&b':') {
        if at(0) == b':' {
            i += 1;
            if at(i) != b':' {
                return (0, 0);
            }
        }
        let mut double = false;
        let mut v4end = false;
        for count in 0..8 {
            let c = at(i);
            if c == 0 || c == b'%' || c == b'/' {
                return if double { (6, mask_at) } else { (0, 0) };
            }
            if c == b':' {
                if double {
                    return (0, 0);
                }
                double = true;
                i += 1;
                continue;
            }
            let rest = &s[i..];
            if !rest.contains(&b':') && rest.contains(&b'.') {
                if (!double && count != 6) || (double && count > 6) {
                    return (0, 0);
                }
                v4end = true;
                break;
            }
            if !at(i).is_ascii_hexdigit() {
                return (0, 0);
            }
            i += 1;
            let mut n = 1;
            while n < 4 && at(i).is_ascii_hexdigit() {
                i += 1;
                n += 1;
            }
            if at(i) == b':' {
                i += 1;
                if at(i) == 0 {
                    return (0, 0);
                }
            }
        }
        if !v4end {
            return if at(i) == 0 || at(i) == b'%' || (at(i) == b'/' && mask_at != 0) {
                (6, mask_at)
            } else {
                (0, 0)
            };
        }
        return if v4_tail(s, &mut i) && end_ok(i) {
            (6, mask_at)
        } else {
            (0, 0)
        };
    }
    if v4_tail(s, &mut i) && end_ok(i) {
        (4, mask_at)
    } else {
        (0, 0)
    }
}

fn v4_tail(s: &[u8], i: &mut usize) -> bool {
    for part in 0..4 {
        if part != 0 {
            if s.get(*i) != Some(&b'.') {
                return false;
            }
            *i += 1;
        }
        let digits = s[(*i).min(s.len())..]
            .iter()
            .take_while(|c| c.is_ascii_digit())
            .count();
        if digits == 0 || digits > 3 {
            return false;
        }
        let n: u32 = s[*i..*i + digits]
            .iter()
            .fold(0, |a, &d| a * 10 + u32::from(d - b'0'));
        if n > 255 {
            return false;
        }
        *i += digits;
    }
    true
}

/// `host_aton` plus the mask: the address part of `text` (a valid address, checked first).
pub fn parse_net(text: &[u8], mask_at: usize) -> Option<Net> {
    let (addr, mask) = if mask_at > 0 {
        let m = std::str::from_utf8(text.get(mask_at + 1..)?).ok()?;
        (&text[..mask_at], Some(m.parse::<u32>().unwrap_or(u32::MAX)))
    } else {
        (text, None)
    };
    let addr = match addr.iter().position(|&c| c == b'%') {
        Some(p) => &addr[..p],
        None => addr,
    };
    let s = std::str::from_utf8(addr).ok()?;
    if s.contains(':') {
        let a: std::net::Ipv6Addr = s.parse().ok()?;
        let o = a.octets();
        let mut words = [0u32; 4];
        for (n, w) in words.iter_mut().enumerate() {
            *w = u32::from_be_bytes([o[4 * n], o[4 * n + 1], o[4 * n + 2], o[4 * n + 3]]);
        }
        Some(Net {
            words,
            size: 4,
            mask,
        })
    } else {
        let mut v = 0u32;
        for p in s.split('.') {
            v = (v << 8) | p.parse::<u32>().ok()?;
        }
        Some(Net {
            words: [v, 0, 0, 0],
            size: 1,
            mask,
        })
    }
}

impl Net {
    /// `host_is_in_net`: does `host` (an address, IPv4-mapped IPv6 counts as IPv4) match?
    pub fn contains(&self, host: &Net) -> bool {
        let mut h = *host;
        if h.size == 4 && h.words[0] == 0 && h.words[1] == 0 && h.words[2] == 0xffff {
            h = Net {
                words: [h.words[3], 0, 0, 0],
                size: 1,
                mask: None,
            };
        }
        if h.size != self.size {
            return false;
        }
        let mut bits = self.mask.unwrap_or(u32::MAX);
        for i in 0..self.size {
            let m = if bits == 0 {
                0
            } else if bits < 32 {
                let m = u32::MAX << (32 - bits);
                bits = 0;
                m
            } else {
                bits -= 32;
                u32::MAX
            };
            if h.words[i] & m != self.words[i] & m {
                return false;
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validates_like_exim() {
        assert_eq!(is_ip_address(b"1.2.3.4", false).0, 4);
        assert_eq!(is_ip_address(b"1.2.3.4/24", false).0, 0);
        assert_eq!(is_ip_address(b"1.2.3.0/24", true), (4, 7));
        assert_eq!(is_ip_address(b"::1", false).0, 6);
        assert_eq!(is_ip_address(b"fe80::1/64", true).0, 6);
        assert_eq!(is_ip_address(b"::ffff:1.2.3.4", false).0, 6);
        assert_eq!(is_ip_address(b"1.2.3", false).0, 0);
    }

    #[test]
    fn nets() {
        let (v, at) = is_ip_address(b"10.1.0.0/16", true);
        assert_eq!((v, at), (4, 8));
        let n = parse_net(b"10.1.0.0/16", at).unwrap();
        assert!(n.contains(&parse_net(b"10.1.2.3", 0).unwrap()));
        assert!(n.contains(&parse_net(b"::ffff:10.1.2.3", 0).unwrap()));
        assert!(!n.contains(&parse_net(b"10.2.2.3", 0).unwrap()));
    }
}
