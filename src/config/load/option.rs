//! Option settings: `readconf_handle_option` for the main section and driver instances,
//! and the list-valued options that append.

use crate::config::lines::Line;
use crate::config::options::{self, OptDef, OptType, Setting, Value};
use crate::config::tables;

use super::{Loader, Target};

impl Loader {
    /// Exim's `readconf_handle_option`. Returns false when the name is unknown and `unknown` is None.
    pub(super) fn option(
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
            if let Err(e) = crate::config::rewrite::check_header_rewrites(rules) {
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
                    let gid = crate::config::ids::user_gid(u);
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
}

/// Split `list` on `sep` (doubled = literal; a leading `<x` changes it), trimming items, as
/// Exim's `string_nextinlist` with a negative separator.
pub(super) fn fixed_sep_items(list: &str, sep: u8) -> Vec<String> {
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
pub(super) fn append_list(old: Option<&str>, new: &str, sep: u8) -> String {
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
