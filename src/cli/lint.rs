//! `rexim lint [--format json] [--deny-warnings] [-D NAME=value] [FILE]`.

use crate::config;
use crate::diag::{self, Severity};

/// Exit status: 0 clean, 1 warnings with `--deny-warnings`, 2 errors (or unreadable file).
pub fn main(args: &[String]) -> i32 {
    let mut json = false;
    let mut deny_warnings = false;
    let mut defines = Vec::new();
    let mut file = None;
    let mut i = 0;
    while i < args.len() {
        match args[i].as_str() {
            "--format" => {
                i += 1;
                json = args.get(i).is_some_and(|f| f == "json");
            }
            "--format=json" => json = true,
            "--deny-warnings" => deny_warnings = true,
            "-D" => {
                i += 1;
                defines.extend(args.get(i).cloned());
            }
            a if a.starts_with("-D") => defines.push(a[2..].to_string()),
            a => file = Some(a.to_string()),
        }
        i += 1;
    }
    let path = file.unwrap_or_else(|| crate::cli::config::DEFAULT_CONFIG.to_string());
    let macros = match config::initial_macros(&defines) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("{e}");
            return 2;
        }
    };
    let cfg = match config::load_file(&path, macros) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("rexim lint: cannot read {path}: {e}");
            return 2;
        }
    };
    let diags = crate::lint::run(&cfg);
    if json {
        println!("{}", diag::to_json(&diags, &cfg.files));
    } else {
        let color = std::io::IsTerminal::is_terminal(&std::io::stderr());
        eprint!("{}", diag::render(&diags, &cfg.files, color));
    }
    if diags.iter().any(|d| d.severity == Severity::Error) {
        2
    } else if deny_warnings && !diags.is_empty() {
        1
    } else {
        0
    }
}
