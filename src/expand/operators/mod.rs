//! Expansion operators `${name:arg}` / `${name_args:arg}`: one table row and one small function each.

use crate::error::ExpResult;
use crate::expand::eval::Eval;
use crate::expand::value::Val;

pub mod rfc2047;
pub mod text;

/// Operator function: `arg` is the `_suffix` (if any), `input` the expanded operand.
pub type OpFn = fn(&mut Eval, Option<&str>, Val) -> ExpResult<Val>;

pub struct OpDef {
    pub name: &'static str,
    pub run: OpFn,
}

/// Every operator, sorted by name. Names containing `_` (`local_part`,
/// `time_eval` ...) match only in full; others also match as the stem before
/// the first `_`, whose rest becomes the argument (`sha2_256`).
pub static OPERATORS: &[OpDef] = &[
    OpDef {
        name: "lc",
        run: text::lc,
    },
    OpDef {
        name: "uc",
        run: text::uc,
    },
];

/// Look up an operator as Exim does; returns the definition and its `_arg`.
pub fn find(name: &str) -> Option<(&'static OpDef, Option<&str>)> {
    if let Some(d) = lookup(name) {
        return Some((d, None));
    }
    let (stem, arg) = name.split_once('_')?;
    let d = lookup(stem)?;
    Some((d, Some(arg)))
}

fn lookup(name: &str) -> Option<&'static OpDef> {
    OPERATORS
        .binary_search_by(|d| d.name.cmp(name))
        .ok()
        .map(|i| &OPERATORS[i])
}

#[cfg(test)]
mod tests {
    #[test]
    fn table_is_sorted_and_unique() {
        assert!(super::OPERATORS.windows(2).all(|w| w[0].name < w[1].name));
    }
}

impl std::fmt::Debug for OpDef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "OpDef({})", self.name)
    }
}
