//! Items rexim cannot run: `${perl}`, `${dlfunc}`.

use crate::error::{ExpResult, ExpandError};
use crate::expand::ast::ItemNode;
use crate::expand::eval::Eval;
use crate::expand::value::Val;

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
