//! Conditions for `${if}`, `and`/`or`, `filter` and `forall`/`forany`: one row and one function each.

use crate::error::{ExpResult, ExpandError};
use crate::expand::ast::{Cond, Seq};
use crate::expand::eval::Eval;
use crate::expand::fxhash::NameIndex;

pub mod auth;
pub mod compare;
pub mod each;
pub mod listcond;
pub mod state;

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
/// A check Exim makes even when the condition is skipped (`bool` validates its
/// literal text); it sees the arguments' literal parts only.
pub type SkipFn = fn(&[Seq]) -> Option<ExpandError>;

pub struct CondDef {
    pub name: &'static str,
    pub form: CondForm,
    pub run: CondFn,
    /// The iterator for `CondForm::Each`.
    pub each: Option<EachFn>,
    pub skip_check: Option<SkipFn>,
}

const fn args(name: &'static str, n: u8, run: CondFn) -> CondDef {
    CondDef {
        name,
        form: CondForm::Args(n),
        run,
        each: None,
        skip_check: None,
    }
}

const fn subs(name: &'static str, min: u8, max: u8, run: CondFn) -> CondDef {
    CondDef {
        name,
        form: CondForm::SubGroups { min, max },
        run,
        each: None,
        skip_check: None,
    }
}

const fn each(name: &'static str, f: EachFn) -> CondDef {
    CondDef {
        name,
        form: CondForm::Each,
        run: each::not_direct,
        each: Some(f),
        skip_check: None,
    }
}

const fn checked(name: &'static str, n: u8, run: CondFn, skip: SkipFn) -> CondDef {
    CondDef {
        name,
        form: CondForm::Args(n),
        run,
        each: None,
        skip_check: Some(skip),
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
    subs("acl", 1, 10, listcond::acl),
    checked("bool", 1, state::bool_strict, state::bool_skipped),
    args("bool_lax", 1, state::bool_lax),
    args("crypteq", 2, auth::crypteq),
    args("eq", 2, compare::eq),
    args("eqi", 2, compare::eqi),
    args("exists", 1, state::exists),
    args("first_delivery", 0, state::first_delivery),
    each("forall", each::forall),
    each("forall_json", each::forall_json),
    each("forall_jsons", each::forall_jsons),
    each("forany", each::forany),
    each("forany_json", each::forany_json),
    each("forany_jsons", each::forany_jsons),
    args("ge", 2, compare::ge),
    args("gei", 2, compare::gei),
    args("gt", 2, compare::gt),
    args("gti", 2, compare::gti),
    args("inbound_srs", 2, crate::features::srs::inbound_srs),
    args("inlist", 2, listcond::inlist),
    args("inlisti", 2, listcond::inlisti),
    args("isip", 1, state::isip),
    args("isip4", 1, state::isip4),
    args("isip6", 1, state::isip6),
    args("ldapauth", 1, auth::ldapauth),
    args("le", 2, compare::le),
    args("lei", 2, compare::lei),
    args("lt", 2, compare::lt),
    args("lti", 2, compare::lti),
    args("match", 2, listcond::match_re),
    args("match_address", 2, listcond::match_address),
    args("match_domain", 2, listcond::match_domain),
    args("match_ip", 2, listcond::match_ip),
    args("match_local_part", 2, listcond::match_local_part),
    args("pam", 1, auth::pam),
    args("pwcheck", 1, auth::pwcheck),
    args("queue_running", 0, state::queue_running),
    args("radius", 1, auth::radius),
    subs("saslauthd", 2, 4, auth::saslauthd),
];

/// Exim's own wording when a condition read by `read_subs` has too few arguments
/// (the generic wording is "missing 2nd string in {} after ...").
pub fn too_few_message(name: &str) -> Option<String> {
    matches!(name, "inbound_srs")
        .then(|| format!("too few arguments or bracketing error for {name}"))
}

pub fn find(name: &str) -> Option<&'static CondDef> {
    // Looked up for every condition of every parsed expansion: hashed, not searched.
    static INDEX: std::sync::OnceLock<NameIndex> = std::sync::OnceLock::new();
    let index = INDEX.get_or_init(|| NameIndex::new(CONDITIONS.iter().map(|d| &d.name)));
    index.get(name).map(|i| &CONDITIONS[i])
}

impl std::fmt::Debug for CondDef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CondDef({})", self.name)
    }
}

/// Compile ahead of time a literal regex argument (`match`'s pattern): evaluation then
/// neither expands it nor looks it up in the regex cache. `None` when it does not
/// compile (evaluation reports the error, in Exim's order).
pub fn precompile(
    def: &CondDef,
    args: &[crate::expand::ast::Seq],
) -> Option<std::sync::Arc<pcre2::bytes::Regex>> {
    if def.name != "match" {
        return None;
    }
    match args.get(1)?.nodes.as_slice() {
        [crate::expand::ast::Node::Text(t)] => crate::expand::regex::compile(t, false).ok(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn table_is_sorted_and_unique() {
        assert!(super::CONDITIONS.windows(2).all(|w| w[0].name < w[1].name));
    }
}
