//! The parsed form of an ACL: statements of a verb and its conditions/modifiers.

use std::sync::Arc;

use crate::acl::conditions::AclCondDef;
use crate::expand::ast::Span;
use crate::expand::Expansion;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verb {
    Accept,
    Defer,
    Deny,
    Discard,
    Drop,
    Require,
    Warn,
}

impl Verb {
    pub fn from_name(name: &str) -> Option<Verb> {
        Some(match name {
            "accept" => Verb::Accept,
            "defer" => Verb::Defer,
            "deny" => Verb::Deny,
            "discard" => Verb::Discard,
            "drop" => Verb::Drop,
            "require" => Verb::Require,
            "warn" => Verb::Warn,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Verb::Accept => "accept",
            Verb::Defer => "defer",
            Verb::Deny => "deny",
            Verb::Discard => "discard",
            Verb::Drop => "drop",
            Verb::Require => "require",
            Verb::Warn => "warn",
        }
    }
}

/// The argument of a condition or modifier, prepared once at load time.
#[derive(Debug, Clone)]
pub enum Arg {
    /// `endpass` has none.
    None,
    /// Expanded when the statement reaches it.
    Expand(Expansion),
    /// Handed to list matching or ACL lookup, which expand it themselves.
    Raw(String),
    /// `set acl_xxx = value`: the variable name and its value.
    Set(String, Expansion),
}

#[derive(Debug, Clone)]
pub struct Item {
    pub def: &'static AclCondDef,
    pub negated: bool,
    pub arg: Arg,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub struct Statement {
    pub verb: Verb,
    pub items: Vec<Item>,
    pub span: Span,
    /// Configuration file and line of the verb, for the `-bh` trace.
    pub origin: Option<Origin>,
}

/// Where a statement was read: file name and Exim's line number.
pub type Origin = (Arc<str>, u32);

#[derive(Debug, Clone)]
pub struct Acl {
    pub name: String,
    pub statements: Vec<Statement>,
}

/// All named ACLs of a configuration.
#[derive(Debug, Clone, Default)]
pub struct AclSet {
    pub acls: std::collections::HashMap<String, Arc<Acl>>,
    /// Resolver and hints database used by the conditions that need them.
    pub env: crate::acl::env::AclEnv,
    /// What Exim names as the source of ACLs read at run time (inline text): the main
    /// configuration file and its last line.
    pub inline_origin: Option<Origin>,
}

impl AclSet {
    pub fn get(&self, name: &str) -> Option<&Arc<Acl>> {
        self.acls.get(name)
    }

    pub fn insert(&mut self, acl: Acl) {
        self.acls.insert(acl.name.clone(), Arc::new(acl));
    }
}
