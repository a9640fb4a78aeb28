//! The `rexim` binary: Exim-compatible command line.

use std::process::ExitCode;

use rexim::cli::args::{self, Mode};
use rexim::cli::{be, config};
use rexim::Context;

fn usage() -> ExitCode {
    eprintln!("usage: rexim [-C FILE] [-D NAME=value] (-be [expansion ...] | -bem FILE [expansion ...] | -bP [item ...] | -bV | -brt key [domain] [error] | -brw address | -bh IP[.port] | -bd [-oX ports|interfaces] | -bp [id ...] | -Mvh id | -Mvb id | [-bm] [-t] [-i] [-f addr] [-F name] [-od?] [-oe?] addr ... | -bS)");
    ExitCode::from(1)
}

/// mimalloc: the evaluator allocates many short-lived buffers; glibc malloc fragments.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    if argv.iter().any(|a| a == "-bh") {
        return ExitCode::from(rexim::cli::bh::main(&argv) as u8);
    }
    if argv.iter().any(|a| a == "-bd") {
        return ExitCode::from(rexim::smtp::server::main(&argv) as u8);
    }
    if rexim::cli::queue::wanted(&argv) {
        return ExitCode::from(rexim::cli::queue::main(&argv).clamp(0, 255) as u8);
    }
    if argv.first().is_some_and(|a| a == "lint") {
        return ExitCode::from(rexim::cli::lint::main(&argv[1..]) as u8);
    }
    if rexim::local::args::wanted(&argv) {
        return ExitCode::from(rexim::local::main(&argv).clamp(0, 255) as u8);
    }
    let a = match args::parse(&argv) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            return usage();
        }
    };
    let code = match a.mode {
        Mode::Expand if a.config.is_none() && a.defines.is_empty() => {
            be::main(&a.rest, a.message_file.as_deref(), Context::default())
        }
        Mode::Expand => match config::load(&a) {
            Ok(cfg) => {
                let ctx = config::expansion_context(&cfg);
                be::main_with_macros(
                    &a.rest,
                    a.message_file.as_deref(),
                    ctx,
                    be::Macros::from_config(cfg),
                )
            }
            Err(rc) => rc,
        },
        Mode::ListOptions => config::list_options(&a),
        Mode::Version => config::version(&a),
        Mode::RetryTest => match config::load(&a) {
            Ok(cfg) => rexim::cli::retry_test::main(&cfg, &a.rest),
            Err(rc) => rc,
        },
        Mode::RewriteTest => match config::load(&a) {
            Ok(cfg) => rexim::cli::rewrite_test::main(&cfg, &a.rest),
            Err(rc) => rc,
        },
        Mode::None => return usage(),
    };
    ExitCode::from(code.clamp(0, 255) as u8)
}
