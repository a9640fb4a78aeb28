//! `-C`/`-D` loading and the `-bP`/`-bV` commands.

use std::io::Write;
use std::sync::Arc;

use crate::cli::args::{Args, Mode};
use crate::config::{self, Config};
use crate::expand::context::Clock;

/// Exim's default configuration file on Debian (used when there is no `-C`).
pub const DEFAULT_CONFIG: &str = "/etc/exim4/exim4.conf";

/// Load the configuration named by `-C` (or the default) with `-D` macros; on errors print
/// them as Exim does and return `Err(exit code)`.
pub fn load(args: &Args) -> Result<Config, i32> {
    let macros = match config::initial_macros(&args.defines) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("{e}");
            return Err(1);
        }
    };
    let path = args
        .config
        .clone()
        .unwrap_or_else(|| DEFAULT_CONFIG.to_string());
    let cfg = match config::load_file(&path, macros) {
        Ok(c) => c,
        Err(_) => {
            eprintln!("LOG: MAIN PANIC DIE\n  non-existent configuration file(s): {path}");
            return Err(1);
        }
    };
    // Exim turns on its debug output for -bP (not -bP config), which changes the format.
    let debug_format =
        args.mode == Mode::ListOptions && args.rest.first().is_none_or(|r| r != "config");
    let now = crate::expand::context::SystemClock.now().0;
    let ts = crate::expand::computed::tod("log", now, 0).unwrap_or_default();
    for w in &cfg.warnings {
        if debug_format {
            eprint!("{}", w.exim_text());
        } else {
            eprint!("{}", w.exim_log_text(&ts));
        }
    }
    if !cfg.errors.is_empty() {
        for e in &cfg.errors {
            if debug_format {
                eprint!("{}", e.exim_text());
            } else {
                eprint!("{}", e.exim_log_text(&ts));
            }
        }
        return Err(1);
    }
    Ok(cfg)
}

/// `-bP [items]`.
pub fn list_options(args: &Args) -> i32 {
    let cfg = match load(args) {
        Ok(c) => c,
        Err(rc) => return rc,
    };
    let admin = true;
    let labels = !args.no_labels;
    let mut out = String::new();
    let mut err = String::new();
    let mut fail = false;
    let items: Vec<&str> = args
        .rest
        .iter()
        .map(|s| s.as_str())
        .filter(|s| *s != "-n")
        .collect();
    let labels = labels && !args.rest.iter().any(|s| s == "-n");
    if items.is_empty() {
        fail = !config::print::print_item(&cfg, "all", None, admin, labels, &mut out, &mut err);
    }
    let mut i = 0;
    while i < items.len() {
        let it = items[i];
        if i + 1 < items.len() && matches!(it, "router" | "transport" | "authenticator" | "macro") {
            fail |= !config::print::print_item(
                &cfg,
                items[i + 1],
                Some(it),
                admin,
                labels,
                &mut out,
                &mut err,
            );
            i += 2;
        } else {
            fail = !config::print::print_item(&cfg, it, None, admin, labels, &mut out, &mut err);
            i += 1;
        }
    }
    let _ = std::io::stdout().write_all(out.as_bytes());
    eprint!("{err}");
    i32::from(fail)
}

/// `-bV`: version and what this build of rexim really supports.
pub fn version(args: &Args) -> i32 {
    let mut out = String::new();
    out.push_str(&format!(
        "rexim version {} (Exim 4.96 configuration language)\n",
        env!("CARGO_PKG_VERSION")
    ));
    out.push_str("Support for:");
    for f in config::builtin::FEATURES.iter().filter(|f| (f.present)()) {
        out.push(' ');
        out.push_str(f.word);
    }
    out.push('\n');
    out.push_str("Lookups (built-in):");
    for t in crate::lookup::TYPES {
        out.push(' ');
        out.push_str(t.name);
    }
    out.push('\n');
    out.push_str("Malware:");
    for m in crate::acl::malware::supported_scanners() {
        out.push(' ');
        out.push_str(m);
    }
    out.push('\n');
    // rexim reads these drivers' options but has no routing/delivery/authentication engine
    // yet, so -bV says so rather than claim them as Exim does.
    for (title, class) in [
        ("Authenticators", config::tables::Class::Authenticator),
        ("Routers", config::tables::Class::Router),
        ("Transports", config::tables::Class::Transport),
    ] {
        out.push_str(title);
        out.push_str(" (configuration only, not run):");
        for d in class.drivers().iter().filter(|d| d.supported) {
            out.push(' ');
            out.push_str(d.name);
        }
        out.push('\n');
    }
    let cfg = match load(args) {
        Ok(c) => c,
        Err(rc) => {
            print!("{out}");
            return rc;
        }
    };
    out.push_str(&format!("Configuration file is {}\n", cfg.main_file));
    print!("{out}");
    0
}

/// The context for `-be -C file`: the configuration's named lists, the variables that
/// mirror main options (`$primary_hostname`, `$qualify_domain` ...), `$config_file` and
/// `$config_dir`, and the settings that change expansion.
pub fn expansion_context(cfg: &Config) -> crate::Context {
    let mut ctx = crate::Context::default();
    ctx.named_lists = Some(Arc::new(config::ConfigLists(cfg.named_lists.clone())));
    let value =
        |name: &str| config::tables::find(config::tables::MAIN, name).map(|d| cfg.main_value(d));
    let text = |name: &str| match value(name) {
        Some(config::Value::Str(s)) if !s.is_empty() => Some(s),
        _ => None,
    };
    let flag = |name: &str| matches!(value(name), Some(config::Value::Bool(true)));
    ctx.set("config_file", cfg.main_file.as_str());
    if let Some(dir) = std::path::Path::new(&cfg.main_file).parent() {
        ctx.set("config_dir", dir.to_string_lossy().as_ref());
    }
    let primary = text("primary_hostname");
    if let Some(p) = &primary {
        ctx.set("primary_hostname", p.as_str());
        ctx.set("smtp_active_hostname", p.as_str());
    }
    // Unset qualify options follow primary_hostname (the loader may fill in a default).
    let set = |name: &str| cfg.main.contains_key(name);
    let qualify = if set("qualify_domain") {
        text("qualify_domain")
    } else {
        primary
    };
    if let Some(q) = &qualify {
        ctx.set("qualify_domain", q.as_str());
    }
    let recipient = if set("qualify_recipient") {
        text("qualify_recipient")
    } else {
        qualify
    };
    if let Some(r) = recipient {
        ctx.set("qualify_recipient", r.as_str());
    }
    if let Some(sd) = text("spool_directory") {
        ctx.set("spool_directory", sd.as_str());
    }
    ctx.settings.strict_acl_vars = flag("strict_acl_vars");
    ctx.settings.print_topbitchars = flag("print_topbitchars");
    ctx.settings.message_body_newlines = flag("message_body_newlines");
    if let Some(cs) = text("headers_charset") {
        ctx.settings.headers_charset = cs;
    }
    if let Some(config::Value::Int(n)) = value("message_body_visible") {
        ctx.settings.message_body_visible = n.max(0) as usize;
    }
    if let Some(k) = text("keep_environment") {
        ctx.settings.keep_environment = Some(
            crate::expand::lists::iter(k.as_bytes())
                .map(|i| String::from_utf8_lossy(&i).into_owned())
                .collect(),
        );
    }
    ctx
}
