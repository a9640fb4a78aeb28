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
        (Class::Router, "forbid_pipe" | "forbid_file" | "forbid_filter_reply")
            if is_set(d, "one_time") =>
        {
            Some(Value::Bool(true))
        }
        (Class::Transport, "check_string") if drv == "pipe" && is_set(d, "use_bsmtp") => {
            Some(Value::Str(".".into()))
        }
        (Class::Transport, "message_prefix" | "message_suffix")
            if drv == "pipe" && is_set(d, "use_bsmtp") =>
        {
            Some(Value::Unset)
        }
        (Class::Transport, "escape_string") if drv == "pipe" && is_set(d, "use_bsmtp") => {
            Some(Value::Str("..".into()))
        }
        (Class::Transport, "quota_warn_message") if drv == "appendfile" && quota_warn_set(d) => {
            Some(Value::Str(QUOTA_WARN.into()))
        }
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

const QUOTA_WARN: &str = "To: $local_part@$domain\nSubject: Your mailbox\n\nThis message is automatically created by mail delivery software (Exim).\n\nThe size of your mailbox has exceeded a warning threshold that is\nset by the system administrator.\n";

fn quota_warn_set(d: &Driver) -> bool {
    matches!(d.options.get("quota_warn_threshold").map(|s| &s.value), Some(Value::Str(s)) if !s.is_empty())
}

/// Checks made when a driver's definition is complete (Exim's driver init functions).
pub fn check(class: Class, d: &Driver, errors: &mut Vec<ConfigError>) {
    check_generic(class, d, errors);
    super::init_checks::check_driver(class, d, errors);
}

fn check_generic(class: Class, d: &Driver, errors: &mut Vec<ConfigError>) {
    let drv = d.driver.as_deref().unwrap_or("");
    if class == Class::Router && drv == "redirect" {
        let about = || format!("{} router", d.name);
        let (file, data) = (
            d.options.contains_key("file"),
            d.options.contains_key("data"),
        );
        if file == data {
            let only = if file { "only " } else { "" };
            let msg = format!("{only}one of \"file\" or \"data\" must be specified");
            errors.push(ConfigError::about(msg, Some(d.span), about()));
        }
        if is_set(d, "one_time") {
            if d.options.contains_key("headers_add") || d.options.contains_key("headers_remove") {
                let msg =
                    "\"headers_add\" and \"headers_remove\" are not permitted with \"one_time\"";
                errors.push(ConfigError::about(msg.into(), Some(d.span), about()));
            }
            if is_set(d, "unseen") {
                let msg = "\"unseen\" may not be used with \"one_time\"";
                errors.push(ConfigError::about(msg.into(), Some(d.span), about()));
            }
        }
    }
}

/// The checks of Exim's `route_init`, made for each router once the section is read:
/// transports required or forbidden by the driver, and the `self` option.
pub fn route_checks(d: &Driver, errors: &mut Vec<ConfigError>) {
    let drv = d.driver.as_deref().unwrap_or("");
    if d.def.is_none() {
        return;
    }
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
        let span = d.options.get("transport").map_or(d.span, |s| s.span);
        errors.push(ConfigError::general(
            format!(
                "{} router:\n  a transport must not be defined for this router",
                d.name
            ),
            Some(span),
        ));
    }
    if let Some(s) = d.options.get("self") {
        if let Value::Str(v) = &s.value {
            if !matches!(v.as_str(), "freeze" | "defer" | "send" | "pass" | "fail")
                && !v.starts_with("reroute:")
            {
                let msg = format!("{v} is not valid for the self option");
                errors.push(ConfigError::about(
                    msg,
                    Some(s.span),
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
    if let Some(Value::Str(s)) = get("syslog_facility") {
        let name = match s.get(..4) {
            Some(p) if p.eq_ignore_ascii_case("log_") => &s[4..],
            _ => s.as_str(),
        };
        if !SYSLOG_FACILITIES
            .iter()
            .any(|f| f.eq_ignore_ascii_case(name))
        {
            let msg = format!("failed to interpret syslog_facility \"{s}\"");
            errors.push(ConfigError::general(msg, None));
        }
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
    let int = |n: &str, default: i64| match get(n) {
        Some(Value::Int(v)) => *v,
        _ => default,
    };
    let per_host = matches!(get("smtp_accept_max_per_host"), Some(Value::Str(_)));
    if int("smtp_accept_max", 20) == 0 && (int("smtp_accept_queue", 0) > 0 || per_host) {
        let msg =
            "smtp_accept_max must be set if smtp_accept_queue or smtp_accept_max_per_host is set";
        errors.push(ConfigError::general(msg.into(), None));
    }
    if let Some(Value::Str(raw)) = get("localhost_number") {
        check_localhost_number(raw, errors);
    }
    if let Some(Value::Int(n)) = get("tls_dh_max_bits") {
        if *n < 1024 {
            let msg = "tls_dh_max_bits is too small, must be at least 1024 for interop";
            errors.push(ConfigError::general(msg.into(), None));
        }
    }
    // Exim's OpenSSL build checks the names at load (an expansion: at use).
    if let Some(Value::Str(s)) = get("openssl_options") {
        if !s.contains('$') {
            if let Err(msg) = crate::smtp::tls::openssl_opts::OpensslOptions::parse(s) {
                errors.push(ConfigError::general(msg, None));
            }
        }
    }
}

/// `syslog_facility` names (an optional `log_` prefix is allowed).
const SYSLOG_FACILITIES: &[&str] = &[
    "mail", "user", "news", "uucp", "local0", "local1", "local2", "local3", "local4", "local5",
    "local6", "local7", "daemon",
];

/// Highest `localhost_number` (message ids carry it in base 62).
const LOCALHOST_MAX: i64 = 16;

/// `localhost_number` is expanded, then read as C `strtol` base 0 (trailing space allowed).
fn check_localhost_number(raw: &str, errors: &mut Vec<ConfigError>) {
    let mut ctx = crate::Context::default();
    let v = match crate::expand::expand_str(raw, &mut ctx) {
        Ok(v) => String::from_utf8_lossy(&v.bytes).into_owned(),
        Err(e) => {
            let msg = format!("failed to expand localhost_number \"{raw}\": {}", e.message);
            errors.push(ConfigError::main_log(msg));
            return;
        }
    };
    let t = v.trim_start();
    let (neg, digits) = match t.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, t.strip_prefix('+').unwrap_or(t)),
    };
    let (radix, body) = if let Some(h) = digits
        .strip_prefix("0x")
        .or_else(|| digits.strip_prefix("0X"))
        .filter(|h| h.starts_with(|c: char| c.is_ascii_hexdigit()))
    {
        (16, h)
    } else if digits.starts_with('0') {
        (8, digits)
    } else {
        (10, digits)
    };
    let n = body.chars().take_while(|c| c.is_digit(radix)).count();
    let value = i64::from_str_radix(&body[..n], radix).unwrap_or(if n == 0 { 0 } else { i64::MAX });
    let value = if neg { -value } else { value };
    if !body[n..].trim_start().is_empty() {
        let msg = format!("localhost_number value is not a number: {v}");
        errors.push(ConfigError::general(msg, None));
    } else if value > LOCALHOST_MAX {
        let msg =
            format!("localhost_number is greater than the maximum allowed value ({LOCALHOST_MAX})");
        errors.push(ConfigError::general(msg, None));
    }
}

/// Exim expands these path options once the main section is read, and keeps the result;
/// `process_log_path` then defaults to a file in the spool directory.
pub fn expand_paths(cfg: &mut super::Config, errors: &mut Vec<ConfigError>) {
    let mut ctx = crate::Context::default();
    for name in ["spool_directory", "log_file_path", "pid_file_path"] {
        let Some(def) = super::tables::find(super::tables::MAIN, name) else {
            continue;
        };
        let Value::Str(raw) = cfg.main_value(def) else {
            continue;
        };
        if raw.is_empty() {
            continue;
        }
        let e = crate::expand::parse(&raw);
        let v = match crate::expand::expand(&e, &mut ctx) {
            Ok(v) => String::from_utf8_lossy(&v.bytes).into_owned(),
            Err(err) => {
                errors.push(ConfigError::main_log(format!(
                    "failed to expand {name} \"{raw}\": {}",
                    err.message
                )));
                return;
            }
        };
        if name == "log_file_path" {
            check_log_file_path(&v, errors);
        }
        set_main(cfg, def, v);
    }
    let current = cfg.main.get("process_log_path").map(|s| s.value.clone());
    if matches!(current, Some(Value::Str(ref s)) if !s.is_empty()) {
        return;
    }
    let sd = super::tables::find(super::tables::MAIN, "spool_directory").map(|d| cfg.main_value(d));
    if let (Some(Value::Str(sd)), Some(pdef)) = (
        sd,
        super::tables::find(super::tables::MAIN, "process_log_path"),
    ) {
        set_main(cfg, pdef, format!("{sd}/exim-process.info"));
    }
}

fn set_main(cfg: &mut super::Config, def: &'static super::OptDef, v: String) {
    match cfg.main.get_mut(def.name) {
        Some(s) => s.value = Value::Str(v),
        None => {
            let setting = super::Setting {
                value: Value::Str(v),
                expansion: None,
                hidden: false,
                derived: false,
                span: super::Span::default(),
            };
            cfg.main.insert(def.name, setting);
        }
    }
}

/// Each non-syslog component needs one `%s`, and may have one `%D` or `%M`.
fn check_log_file_path(v: &str, errors: &mut Vec<ConfigError>) {
    for item in v.split(':') {
        let item = item.trim();
        if item.is_empty() || item == "syslog" {
            continue;
        }
        let Some(p) = item.find("%s") else {
            errors.push(ConfigError::main_log(format!(
                "log_file_path \"{item}\" does not contain \"%s\""
            )));
            continue;
        };
        let rest = format!("{}X{}", &item[..p], &item[p + 1..]);
        if let Some(q) = rest.find('%') {
            let ok = matches!(rest.as_bytes().get(q + 1), Some(b'D' | b'M'))
                && !rest[q + 2..].contains('%');
            if !ok {
                errors.push(ConfigError::main_log(format!(
                    "log_file_path \"{v}\" contains unexpected \"%\" character"
                )));
            }
        }
    }
}
