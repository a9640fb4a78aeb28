//! The loader: sections, macros, named lists, drivers and option settings, collecting every error.

use std::collections::HashMap;

use pest::Parser;
use pest_derive::Parser;

use super::error::ConfigError;
use super::lines::{Line, Reader, SourceFile};
use super::macros::Macros;
use super::options::{self, OptDef, OptType, Setting, Value};
use super::tables::{self, Class};
use super::{Acl, Config, Driver, ListKind, NamedList};

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

    /// Exim's `readconf_handle_option`. Returns false when the name is unknown and `unknown` is None.
    fn option(
        &mut self,
        line: &Line,
        text: &str,
        target: &mut Target<'_>,
        unknown: Option<&str>,
    ) -> bool {
        let s = text.trim_start();
        if !s.starts_with(|c: char| c.is_ascii_alphabetic()) {
            self.err(line, format!("option setting expected: {s}"));
            return true;
        }
        let mut rest = s;
        let mut hide = false;
        let mut name = String::new();
        for _ in 0..2 {
            let n = rest
                .bytes()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == b'_')
                .count();
            name = rest[..n].to_string();
            rest = rest[n..].trim_start();
            if name != "hide" {
                break;
            }
            hide = true;
        }
        let (negated, base) = if let Some(b) = name.strip_prefix("no_") {
            (true, b)
        } else if let Some(b) = name.strip_prefix("not_") {
            (true, b)
        } else {
            (false, name.as_str())
        };
        let table: &'static [OptDef] = match target {
            Target::Main => tables::MAIN,
            Target::Driver(c, d) => {
                let generic = c.generic();
                if tables::find(generic, base).is_some() {
                    generic
                } else if let Some(dd) = d.def {
                    dd.options
                } else {
                    if unknown.is_none() {
                        return false;
                    }
                    generic
                }
            }
        };
        let Some(def) = tables::find(table, base) else {
            match unknown {
                None => return false,
                Some(u) => {
                    self.err(line, u.replace("%s", &name));
                    return true;
                }
            }
        };
        let is_bool = matches!(def.ty, OptType::Bool | OptType::ExpandBool);
        if !is_bool {
            if negated {
                self.err(
                    line,
                    "negation prefix applied to a non-boolean option".into(),
                );
                return true;
            }
            if rest.is_empty() {
                self.err(
                    line,
                    format!("unexpected end of line (data missing) after {name}"),
                );
                return true;
            }
            if !rest.starts_with('=') {
                self.err(line, format!("missing \"=\" after {name}"));
                return true;
            }
        } else if !rest.is_empty() && (negated || !rest.starts_with('=')) {
            let comment = if rest.starts_with('#') {
                " (# is comment only at line start)"
            } else {
                ""
            };
            self.err(
                line,
                format!("extra characters follow boolean option {name}{comment}"),
            );
            return true;
        }
        let value_text = rest
            .strip_prefix('=')
            .map(|v| v.trim_start())
            .unwrap_or(rest);
        let settings = match target {
            Target::Main => &mut self.cfg.main,
            Target::Driver(_, d) => &mut d.options,
        };
        let previous = settings.get(def.name).cloned();
        let previous = previous.filter(|p| !p.derived);
        if previous.is_some() && !def.combine_cond && def.repeat_sep.is_none() {
            self.err(line, format!("\"{name}\" option set for the second time"));
            return true;
        }
        let mut value = match options::parse_value(def, &name, value_text, negated) {
            Ok(v) => v,
            Err(e) => {
                self.err(line, e);
                return true;
            }
        };
        if let (OptType::Rewrite, Value::Str(rules)) = (def.ty, &value) {
            if let Err(e) = super::rewrite::check_header_rewrites(rules) {
                self.err(line, e);
                return true;
            }
        }
        if let Value::Str(new) = &value {
            let old = match previous.as_ref().map(|p| &p.value) {
                Some(Value::Str(o)) => Some(o.as_str()),
                _ => None,
            };
            if def.combine_cond {
                if let Some(old) = old {
                    value = Value::Str(format!(
                        "${{if and{{{{bool_lax{{{old}}}}}{{bool_lax{{{new}}}}}}}}}"
                    ));
                }
            } else if let Some(sep) = def.repeat_sep {
                value = Value::Str(append_list(old, new, sep));
            }
        }
        let expansion = match &value {
            Value::Str(s) | Value::Id(s) | Value::Ids(s)
                if def.expanded
                    || def.ty == OptType::ExpandBool
                    || s.contains('$')
                        && matches!(def.ty, OptType::ExpandUid | OptType::ExpandGid) =>
            {
                let e = crate::expand::parse(s);
                if let Some(err) = e.static_error() {
                    self.expansion_err(line, format!("option \"{name}\": {}", err.message));
                }
                Some(e)
            }
            _ => None,
        };
        let settings = match target {
            Target::Main => &mut self.cfg.main,
            Target::Driver(_, d) => &mut d.options,
        };
        let hidden = hide || previous.is_some_and(|p| p.hidden);
        // "verify" and "fail_verify" set both their _sender and _recipient options.
        if matches!(def.name, "verify" | "fail_verify") {
            for suffix in ["_sender", "_recipient"] {
                let n = format!("{}{suffix}", def.name);
                if let Some(d2) = tables::find(table, &n) {
                    settings.insert(
                        d2.name,
                        Setting {
                            value: value.clone(),
                            expansion: None,
                            hidden,
                            derived: false,
                            span: line.span,
                        },
                    );
                }
            }
        }
        // A fixed user also sets the matching group from its passwd entry, if not yet set.
        if matches!(def.ty, OptType::Uid | OptType::ExpandUid) {
            if let (Value::Id(u), Some(stem)) = (&value, def.name.strip_suffix("user")) {
                if !u.contains('$') {
                    let gname = format!("{stem}group");
                    let gid = super::ids::user_gid(u);
                    if let (Some(gdef), Some(gid)) = (tables::find(table, &gname), gid) {
                        if !settings.contains_key(gdef.name) {
                            let g = Setting {
                                value: Value::Id(gid.to_string()),
                                expansion: None,
                                hidden: false,
                                derived: true,
                                span: line.span,
                            };
                            settings.insert(gdef.name, g);
                        }
                    }
                }
            }
        }
        settings.insert(
            def.name,
            Setting {
                value,
                expansion,
                hidden,
                derived: false,
                span: line.span,
            },
        );
        true
    }

    fn driver_section(&mut self, class: Class) -> Option<String> {
        let mut current: Option<Driver> = None;
        let next = loop {
            let line = match self.next_in_section() {
                Ok(l) => l,
                Err(n) => break n,
            };
            let t = line.text.trim_start();
            let n = if t.starts_with(|c: char| c.is_ascii_alphabetic()) {
                t.bytes()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == b'_')
                    .count()
            } else {
                0
            };
            let after = t[n..].trim_start();
            if t.starts_with(|c: char| c.is_ascii_uppercase()) && after.starts_with('=') {
                if let Some(d) = current.take() {
                    self.finish_driver(class, d);
                }
                self.macro_def(&line);
                continue;
            }
            if let Shape::Header { name, rest } = shape(&line.text) {
                if let Some(d) = current.take() {
                    self.finish_driver(class, d);
                }
                if self.drivers(class).iter().any(|d| d.name == name) {
                    self.cfg.errors.push(ConfigError::general(
                        format!("there are two {}s called \"{name}\"", class.name()),
                        Some(line.span),
                    ));
                }
                if !rest.is_empty() {
                    let comment = if rest.starts_with('#') {
                        " (# is comment only at line start)"
                    } else {
                        ""
                    };
                    self.err(
                        &line,
                        format!("extra characters follow driver name {name}{comment}"),
                    );
                }
                current = Some(Driver {
                    name: name.to_string(),
                    driver: None,
                    def: None,
                    options: HashMap::new(),
                    span: line.span,
                });
                continue;
            }
            let Some(mut d) = current.take() else {
                self.err(&line, format!("{} name missing", class.name()));
                continue;
            };
            let text = line.text.clone();
            let handled = self.option(&line, &text, &mut Target::Driver(class, &mut d), None);
            if handled {
                if d.driver.is_none() {
                    if let Some(Setting {
                        value: Value::Str(dn),
                        ..
                    }) = d.options.get("driver")
                    {
                        let dn = dn.clone();
                        match class.drivers().iter().find(|x| x.name == dn) {
                            Some(def) => d.def = Some(def),
                            None => self.err(
                                &line,
                                format!(
                                    "{0} {1}: cannot find {0} driver \"{dn}\"",
                                    class.name(),
                                    d.name
                                ),
                            ),
                        }
                        d.driver = Some(dn);
                    }
                }
            } else if d.def.is_some() {
                self.option(
                    &line,
                    &text,
                    &mut Target::Driver(class, &mut d),
                    Some("option \"%s\" unknown"),
                );
            } else {
                let n: String = text
                    .trim_start()
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                self.err(&line, format!("option \"{n}\" unknown (\"driver\" must be specified before any private options)"));
            }
            current = Some(d);
        };
        if let Some(d) = current.take() {
            self.finish_driver(class, d);
        }
        let mut errs = Vec::new();
        super::init_checks::check_section(class, self.drivers(class), &mut errs);
        self.cfg.errors.extend(errs);
        next
    }

    fn drivers(&mut self, class: Class) -> &mut Vec<Driver> {
        match class {
            Class::Router => &mut self.cfg.routers,
            Class::Transport => &mut self.cfg.transports,
            Class::Authenticator => &mut self.cfg.authenticators,
        }
    }

    fn finish_driver(&mut self, class: Class, d: Driver) {
        if d.driver.is_none() {
            let msg = format!("no driver defined for {} \"{}\"", class.name(), d.name);
            self.cfg
                .errors
                .push(ConfigError::general(msg, Some(d.span)));
        } else if d.def.is_some() {
            super::init::check(class, &d, &mut self.cfg.errors);
        }
        self.drivers(class).push(d);
    }

    fn acl_section(&mut self) -> Option<String> {
        loop {
            let line = match self.next_in_section() {
                Ok(l) => l,
                Err(n) => return n,
            };
            let t = line.text.trim_start();
            let n = if t.starts_with(|c: char| c.is_ascii_alphabetic()) {
                t.bytes()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == b'_')
                    .count()
            } else {
                0
            };
            let name = &t[..n];
            let after = t[n..].trim_start();
            if name.starts_with(|c: char| c.is_ascii_uppercase()) && after.starts_with('=') {
                self.macro_def(&line);
                continue;
            }
            if after.starts_with(':') && n > 0 && after[1..].trim().is_empty() {
                if self.cfg.acls.iter().any(|a| a.name == name) {
                    self.err(&line, format!("there are two ACLs called \"{name}\""));
                }
                self.cfg.acls.push(Acl {
                    name: name.to_string(),
                    lines: Vec::new(),
                    span: line.span,
                });
                continue;
            }
            match self.cfg.acls.last_mut() {
                Some(acl) => acl.lines.push(line),
                None => self.err(&line, "missing or malformed ACL name".into()),
            }
        }
    }
}

/// Split `list` on `sep` (doubled = literal; a leading `<x` changes it), trimming items, as
/// Exim's `string_nextinlist` with a negative separator.
fn fixed_sep_items(list: &str, sep: u8) -> Vec<String> {
    let mut b = list.as_bytes();
    let mut sep = sep;
    let mut items = Vec::new();
    let mut i = 0;
    while i < b.len() && b[i].is_ascii_whitespace() {
        i += 1;
    }
    if b.get(i) == Some(&b'<')
        && b.get(i + 1)
            .is_some_and(|c| c.is_ascii_punctuation() || c.is_ascii_control())
    {
        sep = b[i + 1];
        b = &b[i + 2..];
        i = 0;
    }
    while i < b.len() {
        while i < b.len() && b[i].is_ascii_whitespace() && b[i] != sep {
            i += 1;
        }
        let mut item = Vec::new();
        while i < b.len() {
            if b[i] == sep {
                if b.get(i + 1) == Some(&sep) {
                    item.push(sep);
                    i += 2;
                    continue;
                }
                break;
            }
            item.push(b[i]);
            i += 1;
        }
        while item
            .last()
            .is_some_and(|c| c.is_ascii_whitespace() && *c != sep)
        {
            item.pop();
        }
        items.push(String::from_utf8_lossy(&item).into_owned());
        i += 1;
    }
    items
}

/// `headers_add`/`headers_remove`/`set`: each setting's items are appended to the list so far.
fn append_list(old: Option<&str>, new: &str, sep: u8) -> String {
    let sep_c = sep as char;
    let mut out = old.unwrap_or("").to_string();
    for item in fixed_sep_items(new, sep) {
        if !out.is_empty() {
            out.push(sep_c);
        }
        out.push_str(&item.replace(sep_c, &format!("{sep_c}{sep_c}")));
    }
    out
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
