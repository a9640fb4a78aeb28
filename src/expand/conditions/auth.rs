//! Password conditions: `crypteq`, and the authentication-daemon conditions
//! (`pam`, `radius`, `ldapauth`, `pwcheck`, `saslauthd`) that rexim does not provide.

use base64::Engine;
use md5::{Digest, Md5};
use sha1::Sha1;

use crate::error::{ExpResult, ExpandError};
use crate::expand::ast::Seq;
use crate::expand::eval::Eval;

fn has_prefix(s: &[u8], p: &[u8]) -> bool {
    s.len() >= p.len() && s[..p.len()].eq_ignore_ascii_case(p)
}

/// Compare a digest with base64 (exact) or hex (caseless) text of the given lengths.
fn digest_matches(digest: &[u8], coded: &[u8], b64_len: usize) -> bool {
    if coded.len() == b64_len {
        base64::engine::general_purpose::STANDARD
            .encode(digest)
            .as_bytes()
            == coded
    } else if coded.len() == digest.len() * 2 {
        let hex: String = digest.iter().map(|b| format!("{b:02X}")).collect();
        hex.as_bytes().eq_ignore_ascii_case(coded)
    } else {
        false
    }
}

/// Unix `crypt()` through the pwhash crate; failures (bad salt) give `None`.
fn crypt(pass: &[u8], salt: &[u8]) -> Option<String> {
    let salt = std::str::from_utf8(salt).ok()?;
    pwhash::unix::crypt(pass, salt).ok()
}

/// Exim's `crypt16`: DES crypt of the first 8 bytes, then of the rest with a salt
/// taken from the first result, joined (24 characters).
fn crypt16(pass: &[u8], salt: &[u8]) -> Option<String> {
    let first = crypt(pass, salt)?;
    let mut res: String = first.chars().take(13).collect();
    if pass.len() > 8 {
        let s2: String = res.chars().skip(2).take(2).collect();
        let second = crypt(&pass[8..], s2.as_bytes())?;
        res.extend(second.chars().skip(2).take(11));
    }
    Some(res)
}

/// `${if crypteq{abc}{\{md5\}kAFQmDzST7DWlj99KOF/cg==}{y}{n}}` gives `y`; also `{sha1}`,
/// `{crypt}`, `{crypt16}` and bare crypt() hashes.
pub fn crypteq(ev: &mut Eval, args: &[Seq]) -> ExpResult<bool> {
    let plain = ev.seq(&args[0])?.bytes;
    let coded = ev.seq(&args[1])?.bytes;
    if has_prefix(&coded, b"{md5}") {
        let d = Md5::digest(&plain);
        return Ok(digest_matches(&d, &coded[5..], 24));
    }
    if has_prefix(&coded, b"{sha1}") {
        let d = Sha1::digest(&plain);
        return Ok(digest_matches(&d, &coded[6..], 28));
    }
    let (hashed, which16) = if has_prefix(&coded, b"{crypt}") {
        (&coded[7..], false)
    } else if has_prefix(&coded, b"{crypt16}") {
        (&coded[9..], true)
    } else if coded.first() == Some(&b'{') {
        return Err(ExpandError::hard(format!(
            "unknown encryption mechanism in \"{}\"",
            String::from_utf8_lossy(&coded)
        )));
    } else {
        (&coded[..], false)
    };
    // Exim: fewer than two characters (no salt) never matches.
    if hashed.len() < 2 {
        return Ok(false);
    }
    // crypt() stops at the first NUL of the password, as in C.
    let plain = plain.split(|&c| c == 0).next().unwrap_or_default();
    let result = if which16 {
        crypt16(plain, hashed)
    } else {
        crypt(plain, hashed)
    };
    Ok(result.is_some_and(|r| r.as_bytes() == hashed))
}

/// Expand the arguments (as Exim does first), then report the missing support.
fn unsupported(ev: &mut Eval, args: &[Seq], msg: String) -> ExpResult<bool> {
    for a in args {
        ev.seq(a)?;
    }
    Err(ExpandError::hard(msg))
}

/// `${if pam{user:password}}`: PAM is not available in rexim.
pub fn pam(ev: &mut Eval, args: &[Seq]) -> ExpResult<bool> {
    unsupported(
        ev,
        args,
        "\"pam\" condition is not supported by rexim".into(),
    )
}

/// `${if radius{user password}}`: not compiled, as in Debian's Exim.
pub fn radius(ev: &mut Eval, args: &[Seq]) -> ExpResult<bool> {
    unsupported(ev, args, "support for \"radius\" not compiled".into())
}

/// `${if ldapauth{ldap:///...}}`: LDAP is not available in rexim.
pub fn ldapauth(ev: &mut Eval, args: &[Seq]) -> ExpResult<bool> {
    unsupported(
        ev,
        args,
        "\"ldapauth\" condition is not supported by rexim".into(),
    )
}

/// `${if pwcheck{user:password}}`: not compiled, as in Debian's Exim.
pub fn pwcheck(ev: &mut Eval, args: &[Seq]) -> ExpResult<bool> {
    unsupported(ev, args, "support for \"pwcheck\" not compiled".into())
}

/// `${if saslauthd{{user}{password}{service}{realm}}}`: not available in rexim.
pub fn saslauthd(ev: &mut Eval, args: &[Seq]) -> ExpResult<bool> {
    unsupported(
        ev,
        args,
        "\"saslauthd\" condition is not supported by rexim".into(),
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn crypt16_shape() {
        let r = super::crypt16(b"testtesttest", b"aZ").unwrap();
        assert_eq!(r.len(), 24);
        assert!(r.starts_with("aZ"));
    }
}
