//! Native SRS (Sender Rewriting Scheme, SRS0 only): `${srs_encode}` and `inbound_srs`.
//!
//! The hash is the first four lowercase hex digits of HMAC-MD5 keyed with the secret;
//! the timestamp is the day number (mod 1024) as two base-32 digits. This is what the
//! reference binary (Debian's 4.96, which carries upstream's fix "srs_encode for mod-1024
//! day zero") does; the plain 4.96 release wrote one digit on days 0-31 of each 1024-day
//! cycle and accepted timestamps of any length.

use hmac::{Hmac, Mac};
use md5::Md5;

use crate::error::{ExpResult, ExpandError};
use crate::expand::address;
use crate::expand::ast::ItemNode;
use crate::expand::ast::Seq;
use crate::expand::eval::Eval;
use crate::expand::value::Val;
use crate::features::c_str;

/// Exim's base-32 digits (lowercase letters, then 2-7).
const BASE32: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";

/// An SRS0 local part: hash, timestamp, original domain, original local part.
const SRS0_PATTERN: &[u8] = b"^(?i)SRS0=([^=]+)=([A-Z2-7]{2})=([^=]*)=(.*)$";

/// Bytes that may appear in an unquoted local part (besides alphanumerics).
const LOCAL_PART_SPECIALS: &[u8] = b".!#$%&'*+-/=?^_`{|}~";

/// Days an SRS address stays valid.
const MAX_AGE_DAYS: i64 = 10;

/// The first four lowercase hex digits of HMAC-MD5(key, msg).
pub fn hmac_md5_4(key: &[u8], msg: &[u8]) -> ExpResult<[u8; 4]> {
    let mut mac = Hmac::<Md5>::new_from_slice(c_str(key))
        .map_err(|e| ExpandError::hard(format!("HMAC-MD5 key rejected: {e}")))?;
    mac.update(c_str(msg));
    let digest = mac.finalize().into_bytes();
    const HEX: &[u8; 16] = b"0123456789abcdef";
    Ok([
        HEX[(digest[0] >> 4) as usize],
        HEX[(digest[0] & 15) as usize],
        HEX[(digest[1] >> 4) as usize],
        HEX[(digest[1] & 15) as usize],
    ])
}

/// Today's day number mod 1024.
fn day_stamp(ev: &Eval) -> i64 {
    ev.ctx.now().div_euclid(86400) & 0x3ff
}

/// The timestamp for a day: two base-32 digits of the day number mod 1024.
pub fn timestamp(day: i64) -> [u8; 2] {
    let d = (day & 0x3ff) as usize;
    [BASE32[d >> 5], BASE32[d & 31]]
}

/// Decode a timestamp; `None` when a character is not a lowercase base-32 digit
/// (Exim 4.96 computes with a garbage value there, which practically never validates).
fn decode_timestamp(ts: &[u8]) -> Option<i64> {
    ts.iter().try_fold(0i64, |d, c| {
        let v = BASE32.iter().position(|b| b == c)? as i64;
        Some(d.wrapping_mul(32).wrapping_add(v))
    })
}

/// `${if inbound_srs{SRS0=b3d4=jm=example.com=user}{secret}{yes}{no}}` gives `yes` on the
/// day coded `jm` (and up to ten days later) and sets `$srs_recipient` to `user@example.com`.
/// With an empty secret only the form is checked.
pub fn inbound_srs(ev: &mut Eval, args: &[Seq]) -> ExpResult<bool> {
    let local_part = ev.seq(&args[0])?;
    let secret = ev.seq(&args[1])?;
    let re = ev.regex(SRS0_PATTERN, false)?;
    let subject = c_str(&local_part.bytes);
    let caps = match re.captures(subject) {
        Ok(Some(c)) => c,
        Ok(None) => return Ok(false),
        Err(e) => {
            return Err(ExpandError::hard(format!(
                "inbound_srs: regex match failed: {e}"
            )))
        }
    };
    let group = |i: usize| caps.get(i).map(|m| m.as_bytes()).unwrap_or_default();
    // Exim decides on quoting by looking at the whole argument, not just the local part.
    let quote = subject.first() == Some(&b'"')
        || subject
            .iter()
            .any(|c| !c.is_ascii_alphanumeric() && !LOCAL_PART_SPECIALS.contains(c));
    let mut recipient = Vec::with_capacity(subject.len());
    if quote {
        recipient.push(b'"');
    }
    recipient.extend(group(4).iter().map(u8::to_ascii_lowercase));
    if quote {
        recipient.push(b'"');
    }
    recipient.push(b'@');
    recipient.extend(group(3).iter().map(u8::to_ascii_lowercase));
    let hash = group(1).to_vec();
    let stamp = group(2).to_vec();
    ev.ctx
        .set("srs_recipient", local_part.derive(recipient.clone()));

    if c_str(&secret.bytes).is_empty() {
        return Ok(true);
    }
    let Some(then) = decode_timestamp(&stamp) else {
        return Ok(false);
    };
    if (day_stamp(ev).wrapping_sub(then) & 0x3ff) > MAX_AGE_DAYS {
        return Ok(false);
    }
    if hash.len() != 4 {
        return Ok(false);
    }
    Ok(hmac_md5_4(&secret.bytes, &recipient)? == hash[..])
}

/// `${srs_encode{secret}{user@example.com}{forwarder.example}}` gives
/// `SRS0=b3d4=jm=example.com=user@forwarder.example` on 2026-11-23. The hash covers the
/// whole return path as given, lowercased; an empty return path gives `""`; a local part
/// with quotes loses them and the whole SRS local part is quoted instead.
pub fn srs_encode(ev: &mut Eval, node: &ItemNode, out: &mut Val) -> ExpResult<()> {
    let secret = ev.seq(&node.args[0])?;
    let return_path = ev.seq(&node.args[1])?;
    let orig_domain = ev.seq(&node.args[2])?;
    let path = c_str(&return_path.bytes);
    if path.is_empty() {
        return Ok(());
    }
    let mut srs = b"SRS0=".to_vec();
    srs.extend_from_slice(&hmac_md5_4(&secret.bytes, &path.to_ascii_lowercase())?);
    srs.push(b'=');
    srs.extend_from_slice(&timestamp(ev.ctx.now().div_euclid(86400)));
    srs.push(b'=');
    let parsed = address::extract(path).map_err(ExpandError::hard)?;
    srs.extend_from_slice(parsed.domain());
    srs.push(b'=');
    let local = parsed.local_part();
    let quoted = local.contains(&b'"');
    srs.extend(local.iter().copied().filter(|&c| c != b'"'));
    let mut result = return_path.derive(Vec::with_capacity(srs.len() + 3));
    result.tainted |= orig_domain.tainted;
    if quoted {
        result.bytes.push(b'"');
    }
    result.bytes.extend_from_slice(&srs);
    if quoted {
        result.bytes.push(b'"');
    }
    result.bytes.push(b'@');
    result.bytes.extend_from_slice(c_str(&orig_domain.bytes));
    out.push(&result);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps() {
        assert_eq!(&timestamp(0), b"aa");
        assert_eq!(&timestamp(20780), b"jm");
        assert_eq!(decode_timestamp(b"jm"), Some(300));
        assert_eq!(decode_timestamp(b"JM"), None);
    }

    #[test]
    fn hash() {
        assert_eq!(
            &hmac_md5_4(b"secret", b"user@example.com").unwrap(),
            b"b3d4"
        );
    }
}
