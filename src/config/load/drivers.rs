//! Driver sections (routers, transports, authenticators) and the ACL section.

use std::collections::HashMap;

use crate::config::error::ConfigError;
use crate::config::options::{Setting, Value};
use crate::config::tables::Class;
use crate::config::{Acl, Driver};

use super::{shape, Loader, Shape, Target};

impl Loader {
    pub(super) fn driver_section(&mut self, class: Class) -> Option<String> {
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
        crate::config::init_checks::check_section(class, self.drivers(class), &mut errs);
        self.cfg.errors.extend(errs);
        next
    }

    pub(super) fn drivers(&mut self, class: Class) -> &mut Vec<Driver> {
        match class {
            Class::Router => &mut self.cfg.routers,
            Class::Transport => &mut self.cfg.transports,
            Class::Authenticator => &mut self.cfg.authenticators,
        }
    }

    pub(super) fn finish_driver(&mut self, class: Class, d: Driver) {
        if d.driver.is_none() {
            let msg = format!("no driver defined for {} \"{}\"", class.name(), d.name);
            self.cfg
                .errors
                .push(ConfigError::general(msg, Some(d.span)));
        } else if d.def.is_some() {
            crate::config::init::check(class, &d, &mut self.cfg.errors);
        }
        self.drivers(class).push(d);
    }

    pub(super) fn acl_section(&mut self) -> Option<String> {
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
