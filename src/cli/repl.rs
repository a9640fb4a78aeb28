//! The interactive `-be` REPL: line editing, history, and ariadne reports for failures.

use rustyline::error::ReadlineError;
use rustyline::DefaultEditor;

use crate::cli::be::{run_line, Macros};
use crate::diag;
use crate::expand::Context;

pub fn run(mut ctx: Context, mut macros: Macros) -> i32 {
    let Ok(mut rl) = DefaultEditor::new() else {
        eprintln!("rexim: cannot start line editor");
        return 1;
    };
    let history = std::env::var_os("HOME").map(|h| std::path::Path::new(&h).join(".rexim_history"));
    if let Some(h) = &history {
        let _ = rl.load_history(h);
    }
    loop {
        match rl.readline("> ") {
            Ok(line) => {
                let line = line.trim_end().to_string();
                let _ = rl.add_history_entry(line.as_str());
                let line = macros.substitute(&line);
                if let Some(msg) = macros.define(&line) {
                    match msg {
                        Ok(m) => println!("{m}"),
                        Err(e) => eprintln!("{e}"),
                    }
                    continue;
                }
                let (text, err) = run_line(&line, &mut ctx);
                println!("{}", String::from_utf8_lossy(&text));
                if let Some(e) = err {
                    if e.span.is_some() {
                        eprint!("{}", diag::render_expand_error(&line, &e, true));
                    }
                }
            }
            Err(ReadlineError::Interrupted) => continue,
            Err(_) => break,
        }
    }
    if let Some(h) = &history {
        let _ = rl.save_history(h);
    }
    println!();
    0
}
