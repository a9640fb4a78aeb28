//! The loader: sections, macros, named lists, drivers and option settings, collecting every error.
//!
//! Option settings are parsed in `load/option.rs`, driver and ACL sections in `load/drivers.rs`.

use pest::Parser;
use pest_derive::Parser;

use super::error::ConfigError;
use super::lines::{Line, Reader, SourceFile};
use super::macros::Macros;
use super::options;
use super::tables::Class;
use super::{Config, Driver, ListKind, NamedList};

mod drivers;
mod option;

#[derive(Parser)]
#[grammar = "../grammar/config.pest"]
struct LineParser;

/// Upper limit on named lists per kind (Exim's `MAX_NAMED_LIST`).
const MAX_NAMED_LIST: usize = 16;

const SECTIONS: &[&str] = &[
    "acls",
    "authenticators",
    "local_scans",
    "retrys",
    "rewrites",
    "routers",
    "transports",
];

struct Loader {
    reader: Reader,
    cfg: Config,
    begin_line: Option<Line>,
}

/// The shape of one logical line, from `grammar/config.pest`.
enum Shape<'a> {
    Begin(&'a str),
    List {
        hide: bool,
        kind: &'a str,
        cache: bool,
        name: &'a str,
        value: &'a str,
    },
    BadList {
        after_kind: &'a str,
        cache: bool,
    },
    Header {
        name: &'a str,
        rest: &'a str,
    },
    Other,
}

fn shape(text: &str) -> Shape<'_> {
    let Ok(mut pairs) = LineParser::parse(Rule::line, text) else {
        return Shape::Other;
    };
    let Some(line) = pairs.next() else {
        return Shape::Other;
    };
    let Some(p) = line.into_inner().next() else {
        return Shape::Other;
    };
    match p.as_rule() {
        Rule::begin_line => Shape::Begin(p.into_inner().next().map(|r| r.as_str()).unwrap_or("")),
        Rule::list_line => {
            let (mut hide, mut kind, mut cache, mut name, mut value) = (false, "", false, "", "");
            for q in p.into_inner() {
                match q.as_rule() {
                    Rule::hide => hide = true,
                    Rule::list_kind => kind = q.as_str(),
                    Rule::cache => cache = true,
                    Rule::list_name => name = q.as_str(),
                    Rule::rest => value = q.as_str(),
                    _ => {}
                }
            }
            Shape::List {
                hide,
                kind,
                cache,
                name,
                value,
            }
        }
        Rule::bad_list => {
            let rest = p.into_inner().last().map(|r| r.as_str()).unwrap_or("");
            match rest.strip_prefix("_cache") {
                Some(r) => Shape::BadList {
                    after_kind: r,
                    cache: true,
                },
                None => Shape::BadList {
                    after_kind: rest,
                    cache: false,
                },
            }
        }
        Rule::header_line => {
            let mut it = p.into_inner();
            let name = it.next().map(|r| r.as_str()).unwrap_or("");
            let rest = it.next().map(|r| r.as_str()).unwrap_or("");
            Shape::Header { name, rest }
        }
        _ => Shape::Other,
    }
}

/// Where settings go: the main section or one driver instance.
enum Target<'a> {
    Main,
    Driver(Class, &'a mut Driver),
}

impl Loader {
    fn err(&mut self, line: &Line, msg: String) {
        self.cfg.errors.push(ConfigError::in_line(
            msg,
            line.span,
            line.lineno,
            line.file_name.clone(),
        ));
    }

    /// An expansion that will always fail when used (Exim finds these only at run time).
    fn expansion_err(&mut self, line: &Line, msg: String) {
        self.cfg.expansion_errors.push(ConfigError::in_line(
            msg,
            line.span,
            line.lineno,
            line.file_name.clone(),
        ));
    }

    fn next(&mut self) -> Option<Line> {
        self.reader.next(&self.cfg.macros, &mut self.cfg.errors)
    }

    fn run(&mut self) {
        let mut section: Option<String> = None;
        let mut first = true;
        while let Some(line) = self.next() {
            if first && line.lineno == 1 && line.text.starts_with('\u{feff}') {
                self.err(&line, "found unexpected BOM (Byte Order Mark)".into());
            }
            first = false;
            if let Shape::Begin(name) = shape(&line.text) {
                section = Some(name.to_string());
                self.begin_line = Some(line.clone());
                break;
            }
            self.main_line(&line);
        }
        let mut had = 0u32;
        while let Some(name) = section.take() {
            let mut n = name.to_ascii_lowercase();
            if !n.ends_with('s') {
                n.push('s');
            }
            let idx = SECTIONS.iter().position(|s| *s == n);
            if let Some(bl) = self.begin_line.clone() {
                match idx {
                    Some(i) => {
                        let bit = 1 << i;
                        had ^= bit;
                        if had & bit == 0 {
                            self.err(
                                &bl,
                                format!("\"{name}\" section is repeated in the configuration file"),
                            );
                        }
                    }
                    None => self.err(
                        &bl,
                        format!("\"{name}\" is not a known configuration section name"),
                    ),
                }
            }
            section = match idx.map(|i| SECTIONS[i]) {
                Some("acls") => self.acl_section(),
                Some("authenticators") => self.driver_section(Class::Authenticator),
                Some("routers") => self.driver_section(Class::Router),
                Some("transports") => self.driver_section(Class::Transport),
                Some("retrys") => self.rule_section(Self::retry_line),
                Some("rewrites") => self.rule_section(Self::rewrite_line),
                Some(_) => self.raw_section(|c| &mut c.local_scan),
                None => self.raw_section(|c| &mut c.local_scan),
            };
        }
    }

    /// Read lines of a section until the next `begin`, returning its name.
    fn next_in_section(&mut self) -> Result<Line, Option<String>> {
        let Some(line) = self.next() else {
            return Err(None);
        };
        if let Shape::Begin(name) = shape(&line.text) {
            self.begin_line = Some(line.clone());
            return Err(Some(name.to_string()));
        }
        Ok(line)
    }

    fn raw_section(&mut self, f: fn(&mut Config) -> &mut Vec<Line>) -> Option<String> {
        loop {
            match self.next_in_section() {
                Ok(line) => f(&mut self.cfg).push(line),
                Err(next) => return next,
            }
        }
    }

    /// The retry and rewrite sections: one rule per logical line (as in Exim, a macro
    /// definition here is read as a rule).
    fn rule_section(&mut self, rule: fn(&mut Self, &Line)) -> Option<String> {
        loop {
            match self.next_in_section() {
                Ok(line) => rule(self, &line),
                Err(next) => return next,
            }
        }
    }

    fn retry_line(&mut self, line: &Line) {
        match super::retry::parse_rule(&line.text, line.span) {
            Ok(r) => {
                if r.dns_timeout {
                    let msg = "\"timeout_dns\" is no longer available in retry rules (it has never worked) - treated as \"timeout\"";
                    let w = ConfigError::warning(msg.into(), Some(line.span));
                    self.cfg.warnings.push(w);
                }
                self.cfg.retry.push(r);
            }
            Err(e) => self.err(line, e),
        }
    }

    fn rewrite_line(&mut self, line: &Line) {
        match super::rewrite::parse_rule(&line.text, true, line.span) {
            Ok(r) => {
                if let Some(e) = r.expansion.as_ref().and_then(|e| e.static_error()) {
                    let msg = format!("rewrite replacement \"{}\": {}", r.replacement, e.message);
                    self.expansion_err(line, msg);
                }
                self.cfg.rewrite.push(r);
            }
            Err(e) => self.err(line, e),
        }
    }

    fn macro_def(&mut self, line: &Line) {
        if let Err(m) = self.cfg.macros.define(&line.text) {
            let loc = if m.starts_with("macro name too long") || m.starts_with("malformed") {
                Some((line.lineno, line.file_name.clone()))
            } else {
                None
            };
            self.cfg
                .errors
                .push(ConfigError::macro_error(m, line.span, loc));
        }
    }

    fn main_line(&mut self, line: &Line) {
        if line.text.starts_with(|c: char| c.is_ascii_uppercase()) {
            self.macro_def(line);
            return;
        }
        match shape(&line.text) {
            Shape::List {
                hide,
                kind,
                cache,
                name,
                value,
            } => self.named_list(line, hide, kind, cache, name, value),
            Shape::BadList { after_kind, cache } => {
                if !after_kind.starts_with(|c: char| c.is_ascii_whitespace()) {
                    self.err(line, "unrecognized configuration line".into());
                } else {
                    let t = after_kind.trim_start();
                    let n: String = t
                        .chars()
                        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                        .collect();
                    let _ = cache;
                    self.err(line, format!("missing '=' after \"{n}\""));
                }
            }
            _ => {
                let text = line.text.clone();
                self.option(
                    line,
                    &text,
                    &mut Target::Main,
                    Some("main option \"%s\" unknown"),
                );
            }
        }
    }

    fn named_list(
        &mut self,
        line: &Line,
        hide: bool,
        kind: &str,
        cache: bool,
        name: &str,
        value: &str,
    ) {
        let (k, tname) = match kind {
            "domainlist" => (ListKind::Domain, "domain list"),
            "hostlist" => (ListKind::Host, "host list"),
            "addresslist" => (ListKind::Address, "address list"),
            _ => (ListKind::LocalPart, "local part list"),
        };
        if self.cfg.named_lists.iter().filter(|l| l.kind == k).count() >= MAX_NAMED_LIST {
            self.err(
                line,
                format!("too many named {tname}s (max is {MAX_NAMED_LIST})\n"),
            );
            return;
        }
        if self
            .cfg
            .named_lists
            .iter()
            .any(|l| l.kind == k && l.name == name)
        {
            self.err(
                line,
                format!("duplicate name \"{name}\" for a named {tname}"),
            );
            return;
        }
        let value = match options::read_string(value, name) {
            Ok(v) => v,
            Err(e) => return self.err(line, e),
        };
        let expansion = value.contains('$').then(|| crate::expand::parse(&value));
        if let Some(e) = expansion.as_ref().and_then(|e| e.static_error()) {
            self.expansion_err(line, format!("{tname} \"{name}\": {}", e.message));
        }
        self.cfg.named_lists.push(NamedList {
            kind: k,
            name: name.to_string(),
            cacheable: cache || !value.contains('$'),
            value,
            hide,
            span: line.span,
        });
    }
}

/// Load a configuration from text (`name` is the file name used in messages and for `.include`).
pub fn load_text(name: &str, text: Vec<u8>, macros: Macros) -> Config {
    let cfg = Config {
        main_file: name.to_string(),
        macros,
        ..Config::default()
    };
    let mut l = Loader {
        reader: Reader::new(SourceFile {
            name: name.to_string(),
            text,
        }),
        cfg,
        begin_line: None,
    };
    l.run();
    let mut errs = Vec::new();
    if l.cfg.errors.is_empty() {
        super::init::expand_paths(&mut l.cfg, &mut errs);
    }
    super::init::check_main(&l.cfg, &mut errs);
    l.cfg.errors.extend(errs);
    l.cfg.files = std::mem::take(&mut l.reader.files);
    l.cfg.saved = std::mem::take(&mut l.reader.saved);
    l.cfg.end_line = l.reader.last.1;
    l.cfg
}
