//! In-process expansion throughput: parse-only, and evaluation of pre-parsed expansions.
//! Run: `cargo bench --bench expand -- [MIXFILE]` (default: the shared 20k mix, generated
//! by `scripts/bench-be`). Prints lines/second; figures go in BENCHMARKS.md.

use std::time::Instant;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use rexim::{expand, parse, Context};

fn main() {
    let path = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with('-'))
        .unwrap_or_else(|| "/tmp/rexim-bench/mix-20k.txt".into());
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("cannot read {path}: {e} (run scripts/bench-be first to generate it)");
            std::process::exit(1);
        }
    };
    let lines: Vec<&str> = text.lines().collect();
    let n = lines.len();

    let rounds = 5;
    let mut best_parse = f64::MAX;
    for _ in 0..rounds {
        let t = Instant::now();
        let parsed: Vec<_> = lines.iter().map(|l| parse(l)).collect();
        best_parse = best_parse.min(t.elapsed().as_secs_f64());
        std::hint::black_box(parsed);
    }

    let parsed: Vec<_> = lines.iter().map(|l| parse(l)).collect();
    let mut ctx = Context::default();
    let mut failures = 0;
    for p in &parsed {
        if expand(p, &mut ctx).is_err() {
            failures += 1;
        }
    }
    let mut best_eval = f64::MAX;
    for _ in 0..rounds {
        let t = Instant::now();
        for p in &parsed {
            std::hint::black_box(expand(p, &mut ctx).ok());
        }
        best_eval = best_eval.min(t.elapsed().as_secs_f64());
    }
    println!("mix: {path} ({n} lines, {failures} fail)");
    println!(
        "parse only:          {:>12.0} lines/s",
        n as f64 / best_parse
    );
    println!(
        "evaluate pre-parsed: {:>12.0} lines/s",
        n as f64 / best_eval
    );
    println!(
        "parse + evaluate:    {:>12.0} lines/s",
        n as f64 / (best_parse + best_eval)
    );
}
