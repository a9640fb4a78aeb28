//! The `rexim` binary: Exim-compatible command line.

use std::process::ExitCode;

use rexim::Context;

fn usage() -> ExitCode {
    eprintln!(
        "usage: rexim -be [expansion ...] | rexim -bem FILE [expansion ...] | rexim [-C file] -bh IP[.port]"
    );
    ExitCode::from(1)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "-bh") {
        return ExitCode::from(rexim::cli::bh::main(&args) as u8);
    }
    let mut mode: Option<&str> = None;
    let mut message_file: Option<String> = None;
    let mut rest: Vec<String> = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let a = args[i].as_str();
        match a {
            "-be" if mode.is_none() => mode = Some("be"),
            "-bem" if mode.is_none() => {
                mode = Some("be");
                i += 1;
                match args.get(i) {
                    Some(f) => message_file = Some(f.clone()),
                    None => return usage(),
                }
            }
            _ if mode.is_some() => rest.push(args[i].clone()),
            _ => {
                eprintln!("rexim: unsupported option {a:?} (see README: what works)");
                return usage();
            }
        }
        i += 1;
    }
    match mode {
        Some("be") => {
            let code = rexim::cli::be::main(&rest, message_file.as_deref(), Context::default());
            ExitCode::from(code as u8)
        }
        _ => usage(),
    }
}
