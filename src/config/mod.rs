//! Exim run time configuration files: loading (with every error collected), typed options, `-bP`.

pub mod builtin;
pub mod error;
pub mod ids;
pub mod init;
mod init_checks;
pub mod lines;
mod load;
pub mod macros;
pub mod options;
pub mod print;
mod print_config;
pub mod retry;
pub mod retry_match;
pub mod rewrite;
pub mod rewrite_apply;
pub mod tables;

use std::collections::HashMap;

pub use error::{ConfigError, Span};
pub use lines::{Line, SourceFile};
pub use macros::Macros;
pub use options::{OptDef, OptType, Setting, Value};

/// Kinds of named list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListKind {
    Address,
    Domain,
    Host,
    LocalPart,
}

impl ListKind {
    /// The letter used by [`crate::expand::context::NamedLists`].
    pub fn letter(self) -> char {
        match self {
            ListKind::Address => 'a',
            ListKind::Domain => 'd',
            ListKind::Host => 'h',
            ListKind::LocalPart => 'l',
        }
    }

    /// The word `-bP +name` prints (`domainlist`...).
    pub fn word(self) -> &'static str {
        match self {
            ListKind::Address => "address",
            ListKind::Domain => "domain",
            ListKind::Host => "host",
            ListKind::LocalPart => "localpart",
        }
    }
}

/// `domainlist NAME = ...` and friends.
#[derive(Debug, Clone)]
pub struct NamedList {
    pub kind: ListKind,
    pub name: String,
    pub value: String,
    pub hide: bool,
    /// Results may be cached (no `$` in the list, or `_cache`).
    pub cacheable: bool,
    pub span: Span,
}

/// A router, transport or authenticator instance.
#[derive(Debug, Clone)]
pub struct Driver {
    pub name: String,
    pub driver: Option<String>,
    pub def: Option<&'static tables::DriverDef>,
    /// Generic and private settings, by option name.
    pub options: HashMap<&'static str, Setting>,
    pub span: Span,
}

/// An ACL: its name and its (unparsed) logical lines.
#[derive(Debug, Clone)]
pub struct Acl {
    pub name: String,
    pub lines: Vec<Line>,
    pub span: Span,
}

/// A loaded configuration.
#[derive(Debug, Clone, Default)]
pub struct Config {
    pub main_file: String,
    pub files: Vec<SourceFile>,
    pub macros: Macros,
    /// Main options that were set, by name (others take the table default).
    pub main: HashMap<&'static str, Setting>,
    pub named_lists: Vec<NamedList>,
    pub acls: Vec<Acl>,
    pub routers: Vec<Driver>,
    pub transports: Vec<Driver>,
    pub authenticators: Vec<Driver>,
    /// `begin retry`, in order (the first matching rule applies).
    pub retry: Vec<retry::RetryRule>,
    /// `begin rewrite`, in order.
    pub rewrite: Vec<rewrite::RewriteRule>,
    pub local_scan: Vec<Line>,
    pub errors: Vec<ConfigError>,
    /// What Exim logs while loading but accepts (obsolete forms).
    pub warnings: Vec<ConfigError>,
    /// Expansion syntax errors in option values and lists: Exim accepts the file and fails
    /// only when the value is used; rexim finds them at load time (for `lint`).
    pub expansion_errors: Vec<ConfigError>,
    /// The number of lines in the main file (Exim names it in later macro errors).
    pub end_line: u32,
    /// Logical lines as read, for `-bP config`.
    pub saved: Vec<String>,
}

/// The macro table before reading a file: built-ins, then `-D` definitions.
pub fn initial_macros(defines: &[String]) -> Result<Macros, String> {
    let mut m = Macros::with_builtins(builtin::builtin_macros());
    for d in defines {
        m.define_command_line(d)?;
    }
    Ok(m)
}

/// Load a configuration from text.
pub fn load_text(name: &str, text: impl Into<Vec<u8>>, macros: Macros) -> Config {
    load::load_text(name, text.into(), macros)
}

/// Load a configuration file; `Err` only when the file cannot be read.
pub fn load_file(path: &str, macros: Macros) -> std::io::Result<Config> {
    let text = std::fs::read(path)?;
    Ok(load_text(path, text, macros))
}

impl Config {
    /// The current value of a main option (its default when not set).
    pub fn main_value(&self, def: &OptDef) -> Value {
        match self.main.get(def.name) {
            Some(s) => s.value.clone(),
            None => print::main_default(def),
        }
    }

    pub fn named_list(&self, name: &str, kind: Option<ListKind>) -> Option<&NamedList> {
        self.named_lists
            .iter()
            .find(|l| l.name == name && kind.is_none_or(|k| k == l.kind))
    }
}

/// Named lists of a loaded configuration, for expansions (`+name`, `${listnamed}`).
pub struct ConfigLists(pub Vec<NamedList>);

impl crate::expand::context::NamedLists for ConfigLists {
    fn get(&self, name: &str, kind: Option<char>) -> Option<(char, String)> {
        self.0
            .iter()
            .find(|l| l.name == name && kind.is_none_or(|k| k == l.kind.letter()))
            .map(|l| (l.kind.letter(), l.value.clone()))
    }
}
