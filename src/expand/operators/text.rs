//! Case and simple text operators.

use crate::error::ExpResult;
use crate::expand::eval::Eval;
use crate::expand::value::Val;

/// `${lc:ABC}` gives `abc` (ASCII only, as Exim).
pub fn lc(_: &mut Eval, _: Option<&str>, v: Val) -> ExpResult<Val> {
    Ok(v.derive(v.bytes.to_ascii_lowercase()))
}

/// `${uc:abc}` gives `ABC`.
pub fn uc(_: &mut Eval, _: Option<&str>, v: Val) -> ExpResult<Val> {
    Ok(v.derive(v.bytes.to_ascii_uppercase()))
}
