//! Items rexim cannot run: `${perl}`, `${dlfunc}`, and `${certextract}` on a real certificate.

use crate::error::{ExpResult, ExpandError};
use crate::expand::ast::{ItemNode, Node};
use crate::expand::eval::Eval;
use crate::expand::value::Val;

pub fn certextract_missing(_: &str, got: usize) -> String {
    if got == 0 {
        "missing '{' for field arg of certextract".into()
    } else {
        "missing '{' for cert variable arg of certextract".into()
    }
}

/// `${certextract{subject}{$tls_in_peercert}{$value}{none}}`: rexim has no TLS, so a
/// certificate variable is always empty and the "no" branch is taken, as in Exim
/// without a peer certificate. A non-empty value cannot be decoded: named error.
pub fn certextract(ev: &mut Eval, node: &ItemNode, out: &mut Val) -> ExpResult<()> {
    ev.seq(&node.args[0])?;
    if !matches!(node.args[1].nodes.first(), Some(Node::Var(..))) {
        return Err(ExpandError::hard(
            "second argument of \"certextract\" must be a certificate variable",
        ));
    }
    let cert = ev.seq(&node.args[1])?;
    if !cert.is_empty() {
        return Err(ExpandError::hard(
            "\"certextract\" expansion item is not supported by rexim (no TLS certificates)",
        ));
    }
    let saved_caps = ev.captures.clone();
    let r = ev.tail(&node.tail, false, Val::default(), None, "certextract", out);
    ev.captures = saved_caps;
    r
}

/// `${dlfunc{/lib/x.so}{func}{arg}}`: loading C code is not supported by rexim.
pub fn dlfunc(ev: &mut Eval, node: &ItemNode, _: &mut Val) -> ExpResult<()> {
    for a in &node.args {
        ev.seq(a)?;
    }
    Err(ExpandError::hard(
        "\"dlfunc\" expansion item is not supported by rexim",
    ))
}

/// `${perl{sub}{arg}}`: there is no embedded Perl interpreter in rexim.
pub fn perl(ev: &mut Eval, node: &ItemNode, _: &mut Val) -> ExpResult<()> {
    for a in &node.args {
        ev.seq(a)?;
    }
    Err(ExpandError::hard(
        "\"perl\" expansion item is not supported by rexim",
    ))
}
