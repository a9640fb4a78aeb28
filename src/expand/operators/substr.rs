//! `length`/`l`, `substr`/`s`, `hash`/`h`, `nhash`/`nh` operators and the algorithms
//! they share with the `${length{}{}}`, `${substr}`, `${hash}`, `${nhash}` items.

use crate::error::{ExpResult, ExpandError};
use crate::expand::eval::Eval;
use crate::expand::operators::cstr;
use crate::expand::operators::Input;

/// Exim's `hashcodes` (note the historical `rts`).
const HASHCODES: &[u8; 62] = b"abcdefghijklmnopqrtsuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

const PRIMES: [u64; 30] = [
    2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67, 71, 73, 79, 83, 89, 97,
    101, 103, 107, 109, 113,
];

/// Exim's `extract_substr`: `start` may be negative (from the end); `len < 0` means "the rest".
pub fn substr(s: &[u8], start: i32, len: i32) -> &[u8] {
    let sublen = s.len() as i64;
    let (mut v1, mut v2) = (i64::from(start), i64::from(len));
    if v1 < 0 {
        v1 += sublen;
        if v1 < 0 {
            v2 += v1;
            if v2 < 0 {
                v2 = 0;
            }
            v1 = 0;
        } else if v2 < 0 {
            v2 = v1;
            v1 = 0;
        }
    } else if v1 > sublen {
        v1 = sublen;
        v2 = 0;
    } else if v2 < 0 {
        v2 = sublen;
    }
    if v1 + v2 > sublen {
        v2 = sublen - v1;
    }
    let a = v1.clamp(0, sublen) as usize;
    let b = (v1 + v2.max(0)).clamp(0, sublen) as usize;
    &s[a..b.max(a)]
}

/// Exim's `compute_hash`: `len` characters from the first `modulus` of the alphabet.
pub fn hash(s: &[u8], len: i32, modulus: i32) -> Result<Vec<u8>, String> {
    let m = if modulus < 0 { 26 } else { modulus };
    if m > 62 {
        return Err(format!("hash count \"{m}\" too big"));
    }
    let n = len;
    if (n as i64) >= s.len() as i64 {
        return Ok(s.to_vec());
    }
    if n < 0 {
        // Exim passes the negative length on and dies in string_catn.
        return Err(format!("internal error in string_catn (count {n})"));
    }
    if n == 0 {
        return Ok(Vec::new());
    }
    if m == 0 {
        return Err("division by zero in hash (Exim 4.96 crashes here)".into());
    }
    let n = n as usize;
    let mut out = s[..n].to_vec();
    let mut i = 0;
    for (j, &c) in s.iter().enumerate().skip(n) {
        let c = u32::from(c);
        let shift = (c + j as u32) & 7;
        out[i] ^= ((c << shift) | (c >> (8 - shift))) as u8;
        i += 1;
        if i >= n {
            i = 0;
        }
    }
    for b in out.iter_mut() {
        *b = HASHCODES[(*b as usize) % m as usize];
    }
    Ok(out)
}

/// Exim's `compute_nhash`: `total % n`, or `a/b` for a div/mod pair when `m >= 0`.
pub fn nhash(s: &[u8], n: i32, m: i32) -> Result<Vec<u8>, String> {
    let mut total: u64 = 0;
    let mut i = 0;
    for &c in s {
        if i == 0 {
            i = PRIMES.len() - 1;
        }
        total = total.wrapping_add(PRIMES[i] * u64::from(c));
        i -= 1;
    }
    let zero = || "division by zero in nhash (Exim 4.96 crashes here)".to_string();
    if m < 0 {
        let d = i64::from(n) as u64;
        if d == 0 {
            return Err(zero());
        }
        return Ok((total % d).to_string().into_bytes());
    }
    let prod = i64::from(n.wrapping_mul(m)) as u64;
    let dm = i64::from(m) as u64;
    if prod == 0 || dm == 0 {
        return Err(zero());
    }
    let t = total % prod;
    Ok(format!("{}/{}", t / dm, t % dm).into_bytes())
}

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Length,
    Substr,
    Hash,
    Nhash,
}

fn run(name: &str, kind: Kind, arg: Option<&str>, v: Input, out: &mut Vec<u8>) -> ExpResult<bool> {
    let Some(arg) = arg else {
        return Err(ExpandError::hard(format!("missing values after {name}")));
    };
    let a = arg.as_bytes();
    let (mut v1, mut v2): (i32, i32) = (0, -1);
    let mut second = kind == Kind::Length;
    if second {
        v2 = 0;
    }
    let mut sign = 1;
    let mut i = 0;
    if kind == Kind::Substr && a.first() == Some(&b'-') {
        sign = -1;
        i = 1;
    }
    let start = i;
    while i < a.len() {
        let c = a[i];
        if i != start && c == b'_' && !second {
            second = true;
            v2 = 0;
            if i + 1 < a.len() {
                i += 1;
            }
        } else if !c.is_ascii_digit() {
            return Err(ExpandError::hard(format!(
                "non-digit after underscore in \"{name}_{arg}\""
            )));
        } else {
            let p = if second { &mut v2 } else { &mut v1 };
            *p = p.wrapping_mul(10).wrapping_add(i32::from(c - b'0'));
            i += 1;
        }
    }
    v1 = v1.wrapping_mul(sign);
    let s = cstr(v.bytes);
    match kind {
        Kind::Hash => out.extend_from_slice(&hash(s, v1, v2).map_err(ExpandError::hard)?),
        Kind::Nhash => out.extend_from_slice(&nhash(s, v1, v2).map_err(ExpandError::hard)?),
        Kind::Length | Kind::Substr => out.extend_from_slice(substr(s, v1, v2)),
    }
    Ok(v.tainted)
}

/// `${length_3:abcde}` gives `abc`.
pub fn length(_: &mut Eval, arg: Option<&str>, v: Input, out: &mut Vec<u8>) -> ExpResult<bool> {
    run("length", Kind::Length, arg, v, out)
}

/// `${l_3:abcde}` gives `abc`.
pub fn l(_: &mut Eval, arg: Option<&str>, v: Input, out: &mut Vec<u8>) -> ExpResult<bool> {
    run("l", Kind::Length, arg, v, out)
}

/// `${substr_1_2:abcde}` gives `bc`; `${substr_-2:abcde}` gives `de`.
pub fn substr_op(_: &mut Eval, arg: Option<&str>, v: Input, out: &mut Vec<u8>) -> ExpResult<bool> {
    run("substr", Kind::Substr, arg, v, out)
}

/// `${s_1_2:abcde}` gives `bc`.
pub fn s(_: &mut Eval, arg: Option<&str>, v: Input, out: &mut Vec<u8>) -> ExpResult<bool> {
    run("s", Kind::Substr, arg, v, out)
}

/// `${hash_3:monty}` gives `jmg`.
pub fn hash_op(_: &mut Eval, arg: Option<&str>, v: Input, out: &mut Vec<u8>) -> ExpResult<bool> {
    run("hash", Kind::Hash, arg, v, out)
}

/// `${h_4_62:monty python}` gives `fbWx`.
pub fn h(_: &mut Eval, arg: Option<&str>, v: Input, out: &mut Vec<u8>) -> ExpResult<bool> {
    run("h", Kind::Hash, arg, v, out)
}

/// `${nhash_8_64:supercalifragilisticexpialidocious}` gives `6/33`.
pub fn nhash_op(_: &mut Eval, arg: Option<&str>, v: Input, out: &mut Vec<u8>) -> ExpResult<bool> {
    run("nhash", Kind::Nhash, arg, v, out)
}

/// `${nh_8:supercalifragilisticexpialidocious}` gives `1`.
pub fn nh(_: &mut Eval, arg: Option<&str>, v: Input, out: &mut Vec<u8>) -> ExpResult<bool> {
    run("nh", Kind::Nhash, arg, v, out)
}
