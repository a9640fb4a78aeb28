//! Digest operators: `md5` (lowercase hex), `sha1`, `sha2_N`/`sha256`, `sha3_N` (uppercase hex).

use md5::Md5;
use sha1::Sha1;
use sha2::{Digest, Sha256, Sha384, Sha512};
use sha3::{Sha3_224, Sha3_256, Sha3_384, Sha3_512};

use crate::error::{ExpResult, ExpandError};
use crate::expand::ast::{Node, Seq};
use crate::expand::eval::Eval;
use crate::expand::operators::{cstr, OpDef};
use crate::expand::operators::{emit_tainted, Input};

/// Append `bytes` in hex; returns false (digests are never tainted).
fn hex(out: &mut Vec<u8>, bytes: &[u8], upper: bool) -> bool {
    let digits: &[u8; 16] = if upper {
        b"0123456789ABCDEF"
    } else {
        b"0123456789abcdef"
    };
    out.reserve(bytes.len() * 2);
    for b in bytes {
        out.extend_from_slice(&[digits[(b >> 4) as usize], digits[(b & 15) as usize]]);
    }
    false
}

/// `${md5:abc}` gives `900150983cd24fb0d6963f7d28e17f72`.
pub fn md5(_: &mut Eval, _: Option<&str>, v: Input, out: &mut Vec<u8>) -> ExpResult<bool> {
    Ok(hex(out, &Md5::digest(cstr(v.bytes)), false))
}

/// `${sha1:abc}` gives `A9993E364706816ABA3E25717850C26C9CD0D89D`.
pub fn sha1(_: &mut Eval, _: Option<&str>, v: Input, out: &mut Vec<u8>) -> ExpResult<bool> {
    Ok(hex(out, &Sha1::digest(cstr(v.bytes)), true))
}

/// `${sha2_512:abc}`, `${sha256:abc}`: SHA-2 (256 unless `_384`/`_512`), uppercase hex.
pub fn sha2(_: &mut Eval, arg: Option<&str>, v: Input, out: &mut Vec<u8>) -> ExpResult<bool> {
    let s = cstr(v.bytes);
    Ok(match arg {
        None | Some("256") => hex(out, &Sha256::digest(s), true),
        Some("384") => hex(out, &Sha384::digest(s), true),
        Some("512") => hex(out, &Sha512::digest(s), true),
        Some(_) => return Err(ExpandError::hard("unrecognised sha2 variant")),
    })
}

/// `${sha3_224:abc}`: SHA-3 (256 unless `_224`/`_384`/`_512`), uppercase hex.
pub fn sha3(_: &mut Eval, arg: Option<&str>, v: Input, out: &mut Vec<u8>) -> ExpResult<bool> {
    let s = cstr(v.bytes);
    Ok(match arg {
        None | Some("256") => hex(out, &Sha3_256::digest(s), true),
        Some("224") => hex(out, &Sha3_224::digest(s), true),
        Some("384") => hex(out, &Sha3_384::digest(s), true),
        Some("512") => hex(out, &Sha3_512::digest(s), true),
        Some(_) => return Err(ExpandError::hard("unrecognised sha3 variant")),
    })
}

/// Exim reads `${md5:$tls_in_peercert}` (exactly `$` and a certificate variable) as a
/// certificate reference: with a certificate set it gives the certificate's fingerprint
/// (upper-case hex of the DER's digest; `base64` gives the DER in base64), without one it
/// works on the variable's *name*. Returns, for the parser, the operand (the name) and
/// the certificate-aware operator to use instead.
pub fn cert_operand(op: &str, operand: &Seq, src: &str) -> Option<(Seq, &'static OpDef)> {
    let def = CERT_OPS.iter().find(|d| d.name == op)?;
    let [Node::Var(v, span)] = &operand.nodes[..] else {
        return None;
    };
    // The name as written is checked first: most operands are not certificates, and
    // naming the variable allocates.
    let written = src
        .get(span.start as usize..span.end as usize)?
        .strip_prefix('$')?;
    if !crate::expand::cert::is_cert_var(written) {
        return None;
    }
    let name = v.name();
    if name != written {
        return None;
    }
    let seq = Seq::new(vec![Node::Text(name.into_bytes().into())], operand.span);
    Some((seq, def))
}

/// The operators that accept a certificate variable (reached only through `cert_operand`).
static CERT_OPS: [OpDef; 4] = [
    OpDef {
        name: "base64",
        run: cert_base64,
    },
    OpDef {
        name: "md5",
        run: cert_md5,
    },
    OpDef {
        name: "sha1",
        run: cert_sha1,
    },
    OpDef {
        name: "sha256",
        run: cert_sha256,
    },
];

/// The certificate a `cert_operand` names, if the variable holds one.
fn cert_der(ev: &Eval, v: &Input) -> Option<Vec<u8>> {
    let name = std::str::from_utf8(v.bytes).ok()?;
    ev.ctx.certificate(name).map(|c| c.der().to_vec())
}

/// `${md5:$tls_in_peercert}`: the certificate's MD5 fingerprint, upper-case hex.
fn cert_md5(ev: &mut Eval, arg: Option<&str>, v: Input, out: &mut Vec<u8>) -> ExpResult<bool> {
    match cert_der(ev, &v) {
        Some(der) => {
            hex(out, &Md5::digest(der), true);
            Ok(true)
        }
        None => md5(ev, arg, v, out),
    }
}

/// `${sha1:$tls_in_peercert}`: the certificate's SHA-1 fingerprint.
fn cert_sha1(ev: &mut Eval, arg: Option<&str>, v: Input, out: &mut Vec<u8>) -> ExpResult<bool> {
    match cert_der(ev, &v) {
        Some(der) => {
            hex(out, &Sha1::digest(der), true);
            Ok(true)
        }
        None => sha1(ev, arg, v, out),
    }
}

/// `${sha256:$tls_in_peercert}`: the certificate's SHA-256 fingerprint.
fn cert_sha256(ev: &mut Eval, arg: Option<&str>, v: Input, out: &mut Vec<u8>) -> ExpResult<bool> {
    match cert_der(ev, &v) {
        Some(der) => {
            hex(out, &Sha256::digest(der), true);
            Ok(true)
        }
        None => sha2(ev, arg, v, out),
    }
}

/// `${base64:$tls_in_peercert}`: the certificate's DER in base64.
fn cert_base64(ev: &mut Eval, arg: Option<&str>, v: Input, out: &mut Vec<u8>) -> ExpResult<bool> {
    use base64::Engine;
    match cert_der(ev, &v) {
        Some(der) => Ok(emit_tainted(
            out,
            base64::engine::general_purpose::STANDARD
                .encode(der)
                .into_bytes(),
        )),
        None => crate::expand::operators::codecs::base64(ev, arg, v, out),
    }
}

/// Exim first reads a `$`-operand of `md5`, `sha1`, `sha256` and `base64` as plain text
/// (no variables or items) up to the next `}`, to see whether it names a certificate
/// variable. With no `}` left in the string that pass fails: `${sha256:$x` gives
/// "missing } at end of string" whatever `$x` is. `rest` is the source after the `$`.
pub fn cert_prepass_error(op: &str, rest: &[u8]) -> Option<ExpandError> {
    if !matches!(op, "md5" | "sha1" | "sha256" | "base64") {
        return None;
    }
    let mut i = 0;
    while i < rest.len() {
        match rest[i] {
            b'\\' if rest.get(i + 1) == Some(&b'N') => {
                // `\N...\N` is copied as it stands.
                match rest[i + 2..].windows(2).position(|w| w == b"\\N") {
                    Some(end) => i += 2 + end + 2,
                    None => break,
                }
            }
            b'\\' if i + 1 < rest.len() => i += 2,
            b'}' => return None,
            _ => i += 1,
        }
    }
    Some(ExpandError::hard("missing } at end of string"))
}
