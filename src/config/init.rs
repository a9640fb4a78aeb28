//! Driver initialisation: defaults that depend on other settings, and the checks Exim makes
//! once a driver's options are all read.

use super::options::Value;
use super::tables::Class;
use super::{ConfigError, Driver};

fn is_set(d: &Driver, name: &str) -> bool {
    match d.options.get(name) {
        Some(s) => !matches!(s.value, Value::Unset | Value::Bool(false)),
        None => false,
    }
}

fn str_set(d: &Driver, name: &str) -> bool {
    matches!(d.options.get(name).map(|s| &s.value), Some(Value::Str(s)) if !s.is_empty())
}

/// The value an unset option takes for this driver instance, when it differs from the table.
pub fn derived_default(class: Class, d: &Driver, name: &str) -> Option<Value> {
    let drv = d.driver.as_deref().unwrap_or("");
    match (class, name) {
        (Class::Router, "log_as_local") => Some(Value::Bool(drv == "accept")),
        (Class::Router, "retry_use_local_part") => Some(Value::Bool(
            [
                "check_local_user",
                "local_parts",
                "condition",
                "local_part_prefix",
                "local_part_suffix",
                "senders",
                "require_files",
            ]
            .iter()
            .any(|n| is_set(d, n)),
        )),
        (Class::Router, "check_owner") if drv == "redirect" => Some(Value::Bool(
            is_set(d, "check_local_user") || str_set(d, "owners"),
        )),
        (Class::Router, "check_group") if drv == "redirect" => {
            let modemask = match d.options.get("modemask").map(|s| &s.value) {
                Some(Value::Int(m)) => *m,
                _ => 0o022,
            };
            Some(Value::Bool(
                (is_set(d, "check_local_user") && modemask & 0o20 == 0) || str_set(d, "owngroups"),
            ))
        }
        (Class::Transport, "retry_use_local_part") => Some(Value::Bool(drv != "smtp")),
        (
            Class::Transport,
            "check_string" | "escape_string" | "message_prefix" | "message_suffix",
        ) if drv == "appendfile" => {
            if is_set(d, "use_bsmtp") {
                return match name {
                    "check_string" => Some(Value::Str(".".into())),
                    "escape_string" => Some(Value::Str("..".into())),
                    _ => Some(Value::Unset),
                };
            }
            if str_set(d, "directory")
                || is_set(d, "maildir_format")
                || is_set(d, "mailstore_format")
            {
                return Some(Value::Unset);
            }
            Some(Value::Str(
                match name {
                    "check_string" => "From ",
                    "escape_string" => ">From ",
                    "message_prefix" => {
                        "From ${if def:return_path{$return_path}{MAILER-DAEMON}} ${tod_bsdinbox}\n"
                    }
                    _ => "\n",
                }
                .into(),
            ))
        }
        _ => None,
    }
}

/// Checks made when a driver's definition is complete (Exim's driver init functions).
pub fn check(class: Class, d: &Driver, errors: &mut Vec<ConfigError>) {
    let drv = d.driver.as_deref().unwrap_or("");
    if class == Class::Router {
        let needs = matches!(drv, "accept" | "dnslookup" | "ipliteral");
        let forbids = drv == "redirect";
        let has = str_set(d, "transport");
        if needs && !has && !is_set(d, "verify_only") {
            errors.push(ConfigError::general(
                format!(
                    "{} router:\n  a transport is required for this router",
                    d.name
                ),
                Some(d.span),
            ));
        }
        if forbids && has {
            errors.push(ConfigError::general(
                format!(
                    "{} router:\n  a transport must not be defined for this router",
                    d.name
                ),
                Some(d.span),
            ));
        }
        if let Some(Value::Str(s)) = d.options.get("self").map(|s| &s.value) {
            if !matches!(s.as_str(), "freeze" | "defer" | "send" | "pass" | "fail")
                && !s.starts_with("reroute:")
            {
                let msg = format!("{s} is not valid for the self option");
                errors.push(ConfigError::about(
                    msg,
                    Some(d.span),
                    format!("{} router", d.name),
                ));
            }
        }
    }
}

/// Checks Exim makes on main options once the main section is read.
pub fn check_main(cfg: &super::Config, errors: &mut Vec<ConfigError>) {
    let get = |n: &str| cfg.main.get(n).map(|s| &s.value);
    let on = |n: &str| matches!(get(n), Some(Value::Bool(true)));
    let from_check = cfg
        .main
        .get("local_from_check")
        .is_none_or(|s| s.value == Value::Bool(true));
    if on("local_sender_retain") && from_check {
        let msg = "both local_from_check and local_sender_retain are set; this combination is not allowed";
        errors.push(ConfigError::general(msg.into(), None));
    }
    if let Some(Value::Str(s)) = get("errors_reply_to") {
        let addr = match s.rsplit_once('<') {
            Some((_, a)) => a.trim_end_matches(|c: char| c == '>' || c.is_whitespace()),
            None => s.trim(),
        };
        if !addr.contains('@') {
            errors.push(ConfigError::general(
                format!("errors_reply_to ({s}) does not contain a domain"),
                None,
            ));
        }
    }
    if let Some(Value::Int(n)) = get("tls_dh_max_bits") {
        if *n < 1024 {
            let msg = "tls_dh_max_bits is too small, must be at least 1024 for interop";
            errors.push(ConfigError::general(msg.into(), None));
        }
    }
}
