//! Option combinations Exim refuses when a driver (or a whole driver section) has been read:
//! the checks of each driver's init function and of `route_init`, `transport_init` and
//! `auths_init`, with Exim's texts.

use super::options::Value;
use super::tables::Class;
use super::{ConfigError, Driver};

/// Set to anything (a string option set to "" counts, as Exim keeps a non-NULL pointer).
fn has(d: &Driver, name: &str) -> bool {
    d.options
        .get(name)
        .is_some_and(|s| !matches!(s.value, Value::Unset))
}

/// A boolean that is true.
fn on(d: &Driver, name: &str) -> bool {
    matches!(
        d.options.get(name).map(|s| &s.value),
        Some(Value::Bool(true))
    )
}

fn text<'a>(d: &'a Driver, name: &str) -> Option<&'a str> {
    match d.options.get(name).map(|s| &s.value) {
        Some(Value::Str(s) | Value::Id(s)) => Some(s),
        _ => None,
    }
}

/// A fixed `user` (no `$`), which Exim resolves at load time.
fn fixed_user(d: &Driver) -> bool {
    text(d, "user").is_some_and(|u| !u.contains('$'))
}

/// Where to point: the last-set of the options involved, else the driver's name line.
fn span_of(d: &Driver, names: &[&str]) -> super::Span {
    names
        .iter()
        .filter_map(|n| d.options.get(n).filter(|s| !s.derived).map(|s| s.span))
        .max_by_key(|s| (s.file, s.start))
        .unwrap_or(d.span)
}

/// Exim's "error for NAME router:" form, pointing at the options involved.
fn about_at(d: &Driver, class: Class, names: &[&str], msg: &str) -> ConfigError {
    ConfigError::about(
        msg.to_string(),
        Some(span_of(d, names)),
        format!("{} {}", d.name, class.name()),
    )
}

fn general_at(d: &Driver, names: &[&str], msg: String) -> ConfigError {
    ConfigError::general(msg, Some(span_of(d, names)))
}

/// Driver-specific checks, made as each driver's definition ends.
pub fn check_driver(class: Class, d: &Driver, errors: &mut Vec<ConfigError>) {
    let drv = d.driver.as_deref().unwrap_or("");
    match (class, drv) {
        (Class::Router, "redirect") => redirect(d, errors),
        (Class::Router, "manualroute") => manualroute(d, errors),
        (Class::Transport, "appendfile") => appendfile(d, errors),
        (Class::Transport, "pipe") => pipe(d, errors),
        (Class::Transport, "autoreply") => user_needs_group(d, errors),
        (Class::Transport, "queuefile") if !has(d, "directory") => errors.push(general_at(
            d,
            &[],
            format!("directory must be set for the {} transport", d.name),
        )),
        (Class::Transport, "smtp") => {
            let zero = ["command_timeout", "data_timeout", "final_timeout"]
                .iter()
                .any(|n| matches!(d.options.get(*n).map(|s| &s.value), Some(Value::Int(t)) if *t <= 0));
            if zero {
                let timeouts = ["command_timeout", "data_timeout", "final_timeout"];
                errors.push(general_at(
                    d,
                    &timeouts,
                    format!(
                        "command, data, or final timeout value is zero for {} transport",
                        d.name
                    ),
                ));
            }
        }
        _ => {}
    }
}

fn redirect(d: &Driver, errors: &mut Vec<ConfigError>) {
    if has(d, "qualify_domain") && on(d, "qualify_preserve_domain") {
        let msg = "only one of \"qualify_domain\" or \"qualify_preserve_domain\" must be set";
        errors.push(about_at(
            d,
            Class::Router,
            &["qualify_domain", "qualify_preserve_domain"],
            msg,
        ));
    }
    if on(d, "allow_filter") && !on(d, "check_local_user") && !has(d, "user") {
        let msg = "\"user\" or \"check_local_user\" must be set with \"allow_filter\"";
        errors.push(about_at(d, Class::Router, &["allow_filter"], msg));
    }
}

/// `host_find_failed` and `host_all_ignored` words (the latter may not be `ignore`).
const HOST_FAILED: &[&str] = &["ignore", "decline", "defer", "fail", "freeze", "pass"];

fn manualroute(d: &Driver, errors: &mut Vec<ConfigError>) {
    if text(d, "host_find_failed").is_some_and(|v| !HOST_FAILED.contains(&v)) {
        let msg = "unrecognized setting for host_find_failed option";
        errors.push(about_at(d, Class::Router, &["host_find_failed"], msg));
    }
    if text(d, "host_all_ignored").is_some_and(|v| !HOST_FAILED[1..].contains(&v)) {
        let msg = "unrecognized setting for host_all_ignored option";
        errors.push(about_at(d, Class::Router, &["host_all_ignored"], msg));
    }
    if has(d, "route_list") == has(d, "route_data") {
        let msg = "route_list or route_data (but not both) must be specified";
        errors.push(about_at(
            d,
            Class::Router,
            &["route_list", "route_data"],
            msg,
        ));
    }
}

fn user_needs_group(d: &Driver, errors: &mut Vec<ConfigError>) {
    if fixed_user(d) && !has(d, "group") {
        errors.push(general_at(
            d,
            &["user"],
            format!("user set without group for the {} transport", d.name),
        ));
    }
}

fn appendfile(d: &Driver, errors: &mut Vec<ConfigError>) {
    let t = Class::Transport;
    let (file, dir) = (has(d, "file"), has(d, "directory"));
    if file && dir {
        let msg = "only one of \"file\" or \"directory\" can be specified";
        errors.push(about_at(d, t, &["file", "directory"], msg));
    }
    if file {
        for q in ["quota_filecount", "quota_directory"] {
            if has(d, q) {
                let msg = format!("{q} must not be set without \"directory\"");
                errors.push(about_at(d, t, &[q], &msg));
            }
        }
    }
    // Locking: fcntl and lockfile are on by default; flock turns fcntl's default off; MBX
    // format with no lock option set picks MBX locking (so some locking is always on).
    let lock = |n: &str, default: bool| match d.options.get(n).map(|s| &s.value) {
        Some(Value::Bool(b)) => *b,
        _ => default,
    };
    let flock = lock("use_flock_lock", false);
    let none_explicit = [
        "use_lockfile",
        "use_fcntl_lock",
        "use_flock_lock",
        "use_mbx_lock",
    ]
    .iter()
    .all(|n| !d.options.contains_key(n));
    let mbx = lock("use_mbx_lock", false) || on(d, "mbx_format") && none_explicit;
    if !lock("use_fcntl_lock", !flock) && !flock && !lock("use_lockfile", true) && !mbx {
        errors.push(about_at(
            d,
            t,
            &["use_fcntl_lock", "use_lockfile", "use_flock_lock"],
            "no locking configured",
        ));
    }
    if dir {
        if on(d, "maildir_format") && on(d, "mailstore_format") {
            let msg = "only one of maildir and mailstore may be specified";
            errors.push(about_at(d, t, &["maildir_format", "mailstore_format"], msg));
        }
        for q in ["quota_filecount", "quota_directory"] {
            if has(d, q) && !has(d, "quota") {
                let msg = format!("quota must be set if {q} is set");
                errors.push(about_at(d, t, &[q], &msg));
            }
        }
    }
    user_needs_group(d, errors);
    if let Some(s) = text(d, "create_file").filter(|s| !s.is_empty()) {
        if !matches!(s, "anywhere" | "belowhome" | "inhome") && !s.starts_with('/') {
            errors.push(general_at(
                d,
                &["create_file"],
                format!(
                    "invalid value given for \"create_file\" for the {} transport: '{s}'",
                    d.name
                ),
            ));
        }
    }
}

fn pipe(d: &Driver, errors: &mut Vec<ConfigError>) {
    let name = &d.name;
    if on(d, "pipe_as_creator") && (has(d, "user") || has(d, "group")) {
        let msg = format!(
            "both pipe_as_creator and an explicit uid/gid are set for the {name} transport"
        );
        errors.push(general_at(d, &["pipe_as_creator", "user", "group"], msg));
    }
    user_needs_group(d, errors);
    if let Some(t) = text(d, "temp_errors").filter(|t| *t != "*") {
        if !t
            .bytes()
            .all(|c| c.is_ascii_digit() || c == b':' || c == b' ')
        {
            let msg = format!(
                "temp_errors must be a list of numbers or an asterisk for the {name} transport"
            );
            errors.push(general_at(d, &["temp_errors"], msg));
        }
    }
    let pairs = [
        ("return_output", "return_fail_output", "for"),
        ("log_output", "log_fail_output", "for the"),
        ("restrict_to_path", "use_shell", "for"),
    ];
    for (a, b, for_) in pairs {
        if on(d, a) && on(d, b) {
            errors.push(general_at(
                d,
                &[a, b],
                format!("both {a} and {b} set {for_} {name} transport"),
            ));
        }
    }
    if has(d, "allow_commands") && on(d, "use_shell") {
        let msg = format!("both allow_commands and use_shell set for {name} transport");
        errors.push(general_at(d, &["allow_commands", "use_shell"], msg));
    }
}

/// Checks Exim makes once a whole driver section has been read.
pub fn check_section(class: Class, drivers: &[Driver], errors: &mut Vec<ConfigError>) {
    match class {
        Class::Router => routers(drivers, errors),
        Class::Transport => {
            for t in drivers {
                if t.driver.as_deref() == Some("smtp") && has(t, "shadow_transport") {
                    let msg = format!(
                        "shadow transport not allowed on non-local transport {}",
                        t.name
                    );
                    errors.push(general_at(t, &["shadow_transport"], msg));
                }
                if on(t, "body_only") && on(t, "headers_only") {
                    let msg = format!(
                        "{} transport: body_only and headers_only are mutually exclusive",
                        t.name
                    );
                    errors.push(general_at(t, &["body_only", "headers_only"], msg));
                }
            }
        }
        Class::Authenticator => authenticators(drivers, errors),
    }
}

fn routers(drivers: &[Driver], errors: &mut Vec<ConfigError>) {
    for (i, r) in drivers.iter().enumerate() {
        super::init::route_checks(r, errors);
        for (opt, after) in [("redirect_router", false), ("pass_router", true)] {
            let Some(target) = text(r, opt) else { continue };
            match drivers.iter().position(|x| x.name == target) {
                None => errors.push(general_at(
                    r,
                    &[opt],
                    format!(
                        "new_router \"{target}\" not found for \"{}\" router",
                        r.name
                    ),
                )),
                Some(j) if after && j <= i => errors.push(general_at(
                    r,
                    &[opt],
                    format!(
                        "new_router \"{target}\" does not follow \"{}\" router",
                        r.name
                    ),
                )),
                Some(_) => {}
            }
        }
    }
}

/// An authenticator's public name, and whether it is a server and a client.
fn auth_roles(a: &Driver) -> (Option<&str>, bool, bool) {
    let drv = a.driver.as_deref().unwrap_or("");
    let public = text(a, "public_name").or((drv == "plaintext").then_some(a.name.as_str()));
    let (server, client) = match drv {
        "plaintext" => (has(a, "server_condition"), has(a, "client_send")),
        "cram_md5" => (has(a, "server_secret"), has(a, "client_secret")),
        _ => (false, false),
    };
    (public, server, client)
}

fn authenticators(drivers: &[Driver], errors: &mut Vec<ConfigError>) {
    for (i, a) in drivers.iter().enumerate() {
        if a.def.is_none() {
            continue;
        }
        let (public, server, client) = auth_roles(a);
        let Some(public) = public else {
            let msg = format!("no public name specified for the {} authenticator", a.name);
            errors.push(general_at(a, &[], msg));
            continue;
        };
        for b in &drivers[i + 1..] {
            let (bp, bs, bc) = auth_roles(b);
            if !bp.is_some_and(|bp| bp.eq_ignore_ascii_case(public)) {
                continue;
            }
            let role = if client && bc {
                "client"
            } else if server && bs {
                "server"
            } else {
                continue;
            };
            let msg = format!(
                "two {role} authenticators ({} and {}) have the same public name ({public})",
                a.name, b.name
            );
            errors.push(general_at(b, &["public_name"], msg));
        }
    }
}
