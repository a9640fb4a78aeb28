//! Conditions for `${if}`, `and`/`or`, `filter` and `forall`/`forany`: one row and one function each.

use crate::error::ExpResult;
use crate::expand::ast::{Cond, Seq};
use crate::expand::eval::Eval;

pub mod compare;
pub mod each;

/// How a condition's arguments are written.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum CondForm {
    /// `name{a}{b}...` with exactly this many groups (`match_*` take a raw second one).
    Args(u8),
    /// `name{{a}{b}...}`: groups inside one group (`acl`, `saslauthd`).
    SubGroups { min: u8, max: u8 },
    /// `name{list}{condition}`.
    Each,
}

pub type CondFn = fn(&mut Eval, &[Seq]) -> ExpResult<bool>;
pub type EachFn = fn(&mut Eval, &Seq, &Cond) -> ExpResult<bool>;

pub struct CondDef {
    pub name: &'static str,
    pub form: CondForm,
    pub run: CondFn,
    /// The iterator for `CondForm::Each`.
    pub each: Option<EachFn>,
}

const fn args(name: &'static str, n: u8, run: CondFn) -> CondDef {
    CondDef {
        name,
        form: CondForm::Args(n),
        run,
        each: None,
    }
}

const fn each(name: &'static str, f: EachFn) -> CondDef {
    CondDef {
        name,
        form: CondForm::Each,
        run: each::not_direct,
        each: Some(f),
    }
}

/// Every condition, sorted by name (byte order, so symbols come first).
pub static CONDITIONS: &[CondDef] = &[
    args("<", 2, compare::num_lt),
    args("<=", 2, compare::num_le),
    args("=", 2, compare::num_eq),
    args("==", 2, compare::num_eq),
    args(">", 2, compare::num_gt),
    args(">=", 2, compare::num_ge),
    args("eq", 2, compare::eq),
    args("eqi", 2, compare::eqi),
    each("forall", each::forall),
    each("forany", each::forany),
];

pub fn find(name: &str) -> Option<&'static CondDef> {
    CONDITIONS
        .binary_search_by(|d| d.name.cmp(name))
        .ok()
        .map(|i| &CONDITIONS[i])
}

#[cfg(test)]
mod tests {
    #[test]
    fn table_is_sorted_and_unique() {
        assert!(super::CONDITIONS.windows(2).all(|w| w[0].name < w[1].name));
    }
}

impl std::fmt::Debug for CondDef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CondDef({})", self.name)
    }
}
