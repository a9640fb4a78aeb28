//! `-bP`: printing options, drivers, macros and named lists exactly as `exim -bP` does.

use super::options::{self, OptDef, Value};
use super::tables::{self, Class};
use super::{Config, Driver};

const HIDDEN: &str = "<value not displayable>";

/// This host's name (`uname` nodename), the default `primary_hostname`.
pub fn host_name() -> String {
    // SAFETY: utsname is plain data; uname fills it with NUL-terminated strings.
    let mut u: libc::utsname = unsafe { std::mem::zeroed() };
    // SAFETY: u is a valid, writable utsname.
    if unsafe { libc::uname(&mut u) } != 0 {
        return String::new();
    }
    let bytes: Vec<u8> = u
        .nodename
        .iter()
        .take_while(|c| **c != 0)
        .map(|c| *c as u8)
        .collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

/// Default of a main option (host-dependent ones are computed).
pub fn main_default(def: &OptDef) -> Value {
    match def.name {
        "primary_hostname" | "qualify_domain" | "qualify_recipient" => Value::Str(host_name()),
        _ => options::default_value(def),
    }
}

fn main_value(cfg: &Config, def: &OptDef) -> (Value, bool) {
    if let Some(s) = cfg.main.get(def.name) {
        return (s.value.clone(), s.hidden);
    }
    // qualify_domain defaults to primary_hostname, qualify_recipient to qualify_domain.
    let fallback = match def.name {
        "qualify_domain" => Some("primary_hostname"),
        "qualify_recipient" => Some("qualify_domain"),
        _ => None,
    };
    if let Some(f) = fallback.and_then(|n| tables::find(tables::MAIN, n)) {
        return main_value(cfg, f);
    }
    (main_default(def), false)
}

fn print_one(out: &mut String, def: &OptDef, v: &Value, hidden: bool, admin: bool, labels: bool) {
    if hidden && !admin {
        if labels {
            out.push_str(&format!("{} = {HIDDEN}\n", def.name));
        } else {
            out.push_str(HIDDEN);
            out.push('\n');
        }
        return;
    }
    out.push_str(&options::print_option(def, v, labels));
    out.push('\n');
}

fn drivers(cfg: &Config, c: Class) -> &[Driver] {
    match c {
        Class::Router => &cfg.routers,
        Class::Transport => &cfg.transports,
        Class::Authenticator => &cfg.authenticators,
    }
}

fn print_driver(out: &mut String, c: Class, d: &Driver, admin: bool, labels: bool) {
    let private: &[OptDef] = d.def.map(|x| x.options).unwrap_or(&[]);
    for table in [c.generic(), private] {
        for def in table.iter().filter(|o| !o.hidden) {
            let (v, hidden) = match d.options.get(def.name) {
                Some(s) => (s.value.clone(), s.hidden),
                None => (
                    super::init::derived_default(c, d, def.name)
                        .unwrap_or_else(|| options::default_value(def)),
                    false,
                ),
            };
            print_one(out, def, &v, hidden, admin, labels);
        }
    }
}

/// Handle one `-bP` request (`kind` is `router`/`transport`/`authenticator`/`macro` with a name).
/// Appends to `out` and returns success.
pub fn print_item(
    cfg: &Config,
    name: &str,
    kind: Option<&str>,
    admin: bool,
    labels: bool,
    out: &mut String,
    err: &mut String,
) -> bool {
    let (kind, name) = match (kind, name) {
        (Some(k), n) => (k, Some(n)),
        (None, "routers") => ("router", None),
        (None, "transports") => ("transport", None),
        (None, "authenticators") => ("authenticator", None),
        (None, "macros") => ("macro", None),
        (None, "router_list") => {
            return list_names(cfg.routers.iter().map(|d| d.name.as_str()), out)
        }
        (None, "transport_list") => {
            return list_names(cfg.transports.iter().map(|d| d.name.as_str()), out)
        }
        (None, "authenticator_list") => {
            return list_names(cfg.authenticators.iter().map(|d| d.name.as_str()), out)
        }
        (None, "macro_list") => {
            if !admin {
                err.push_str("exim: permission denied\n");
                return false;
            }
            return list_names(cfg.macros.list.iter().map(|m| m.name.as_str()), out);
        }
        (None, n) => return print_main(cfg, n, admin, labels, out),
    };
    let class = match kind {
        "router" => Class::Router,
        "transport" => Class::Transport,
        "authenticator" => Class::Authenticator,
        "macro" => {
            if !admin {
                err.push_str("exim: permission denied\n");
                return false;
            }
            for m in &cfg.macros.list {
                if name.is_none_or(|n| n == m.name) {
                    if labels {
                        out.push_str(&format!("{}={}\n", m.name, m.value));
                    } else {
                        out.push_str(&format!("{}\n", m.value));
                    }
                    if name.is_some() {
                        return true;
                    }
                }
            }
            if let Some(n) = name {
                out.push_str(&format!("macro {n} not found\n"));
                return false;
            }
            return true;
        }
        other => {
            out.push_str(&format!("{other} is not a known option\n"));
            return false;
        }
    };
    for d in drivers(cfg, class) {
        match name {
            None => out.push_str(&format!("\n{} {}:\n", d.name, class.name())),
            Some(n) if n != d.name => continue,
            Some(_) => {}
        }
        print_driver(out, class, d, admin, labels);
        if name.is_some() {
            return true;
        }
    }
    match name {
        None => true,
        Some(n) => {
            out.push_str(&format!("{} {n} not found\n", class.name()));
            false
        }
    }
}

fn list_names<'a>(names: impl Iterator<Item = &'a str>, out: &mut String) -> bool {
    for n in names {
        out.push_str(n);
        out.push('\n');
    }
    true
}

fn print_main(cfg: &Config, name: &str, admin: bool, labels: bool, out: &mut String) -> bool {
    if let Some(list) = name.strip_prefix('+') {
        let mut found = false;
        for kind in [
            super::ListKind::Address,
            super::ListKind::Domain,
            super::ListKind::Host,
            super::ListKind::LocalPart,
        ] {
            if let Some(l) = cfg.named_list(list, Some(kind)) {
                found = true;
                let v = if l.hide { HIDDEN } else { l.value.as_str() };
                if labels {
                    out.push_str(&format!("{}list {} = {v}\n", kind.word(), l.name));
                } else {
                    out.push_str(&format!("{v}\n"));
                }
            }
        }
        if !found {
            out.push_str(&format!(
                "no address, domain, host, or local part list called \"{list}\" exists\n"
            ));
        }
        return found;
    }
    match name {
        "configure_file" | "config_file" => {
            out.push_str(&cfg.main_file);
            out.push('\n');
            true
        }
        "all" => {
            for def in tables::MAIN.iter().filter(|o| !o.hidden) {
                let (v, h) = main_value(cfg, def);
                print_one(out, def, &v, h, admin, labels);
            }
            true
        }
        "local_scan" => {
            out.push_str("local_scan() options are not supported\n");
            false
        }
        "config" => {
            super::print_config::print_config(cfg, admin, !labels, out);
            true
        }
        _ => match tables::find(tables::MAIN, name) {
            Some(def) => {
                let (v, h) = main_value(cfg, def);
                print_one(out, def, &v, h, admin, labels);
                true
            }
            None => {
                out.push_str(&format!("{name} is not a known option\n"));
                false
            }
        },
    }
}
