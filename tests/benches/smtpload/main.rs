//! A bounded SMTP load generator for 127.0.0.1 only (the Rust successor of
//! `../shared/bench/smtpload.py`, which tops out near 4,000 msg/s on this machine).
//!
//! ```text
//! cargo bench --bench smtpload -- --port 2525 -c 32 -m 200 [--pipelining] [--json out.json]
//! cargo bench --bench smtpload -- --sink -c 32 -m 200      # the generator's own ceiling
//! cargo bench --bench smtpload -- --port 2525 --idle 10000 --hold 5 --rss-pid PID
//! ```
//!
//! Load mode: C connections, each EHLO once, then M messages (MAIL, RCPT, DATA, body, `.`),
//! then QUIT; every reply code is checked. Lock-step by default (one command, one reply),
//! or with `--pipelining` MAIL+RCPT+DATA in one write (RFC 2920). Latency per message is
//! MAIL sent to the reply after the final dot. Output: one JSON object (msg/s over the wall
//! time from the first connect to the last QUIT reply, p50/p90/p99/max latency, counts).
//! Exit status 0 only when every message got its 250.
//!
//! `--sink` runs the load against a no-op SMTP server started as a separate process (this
//! binary with `--serve-sink`), so the figure is the generator's own ceiling.
//!
//! Idle mode: open N connections, read the greeting, EHLO, then hold them `--hold` seconds;
//! with `--rss-pid` the server's VmRSS is read before and while they are open.
//!
//! Bounds: C×M ≤ 1,000,000, the whole run is cancelled after `--max-wall` seconds (default
//! 300), every reply must arrive within `--reply-timeout` seconds (default 30), the sink
//! exits after `--max-wall` + 30 seconds.

mod client;
mod idle;
mod sink;

use std::time::Duration;

/// Everything the command line sets.
#[derive(Debug, Clone)]
pub struct Args {
    pub port: u16,
    pub connections: usize,
    pub messages: usize,
    pub size: usize,
    pub rcpts: usize,
    pub domains: usize,
    pub pipelining: bool,
    pub max_wall: Duration,
    pub reply_timeout: Duration,
    pub json: Option<String>,
    pub sink: bool,
    pub serve_sink: bool,
    pub idle: usize,
    pub hold: Duration,
    pub rss_pid: Option<u32>,
    pub threads: usize,
}

const MAX_TOTAL: usize = 1_000_000;

fn parse_args(argv: &[String]) -> Result<Args, String> {
    let mut a = Args {
        port: 0,
        connections: 8,
        messages: 250,
        size: 4096,
        rcpts: 1,
        domains: 100,
        pipelining: false,
        max_wall: Duration::from_secs(300),
        reply_timeout: Duration::from_secs(30),
        json: None,
        sink: false,
        serve_sink: false,
        idle: 0,
        hold: Duration::from_secs(5),
        rss_pid: None,
        threads: 1,
    };
    let mut i = 0;
    while i < argv.len() {
        let flag = argv[i].as_str();
        let mut value = || {
            i += 1;
            argv.get(i)
                .cloned()
                .ok_or_else(|| format!("{flag} needs a value"))
        };
        let num = |s: String| {
            s.parse::<u64>()
                .map_err(|_| format!("{flag}: not a number: {s:?}"))
        };
        match flag {
            // `cargo bench` passes this to every bench binary.
            "--bench" => {}
            "--port" => a.port = num(value()?)? as u16,
            "-c" | "--connections" => a.connections = num(value()?)? as usize,
            "-m" | "--messages" => a.messages = num(value()?)? as usize,
            "--size" => a.size = num(value()?)? as usize,
            "--rcpts" => a.rcpts = num(value()?)? as usize,
            "--domains" => a.domains = num(value()?)?.max(1) as usize,
            "--pipelining" => a.pipelining = true,
            "--max-wall" => a.max_wall = Duration::from_secs(num(value()?)?.clamp(1, 3600)),
            "--reply-timeout" => a.reply_timeout = Duration::from_secs(num(value()?)?.max(1)),
            "--json" => a.json = Some(value()?),
            "--sink" => a.sink = true,
            "--serve-sink" => a.serve_sink = true,
            "--idle" => a.idle = num(value()?)? as usize,
            "--hold" => a.hold = Duration::from_secs(num(value()?)?.min(600)),
            "--rss-pid" => a.rss_pid = Some(num(value()?)? as u32),
            "--threads" => a.threads = num(value()?)?.clamp(1, 16) as usize,
            "--host" => {
                let h = value()?;
                if h != "127.0.0.1" {
                    return Err("only 127.0.0.1 is allowed".into());
                }
            }
            other => return Err(format!("unknown argument {other:?}")),
        }
        i += 1;
    }
    if a.port == 0 {
        a.port = if a.sink || a.serve_sink { 2526 } else { 2525 };
    }
    if a.idle == 0 && !a.serve_sink {
        let total = a.connections.saturating_mul(a.messages);
        if a.connections == 0 || a.messages == 0 || total > MAX_TOTAL {
            return Err(format!("need 1 <= C*M <= {MAX_TOTAL}"));
        }
    }
    Ok(a)
}

fn main() {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let a = match parse_args(&argv) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("smtpload: {e}");
            std::process::exit(2);
        }
    };
    let rt = if a.threads == 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(a.threads)
            .enable_all()
            .build()
    }
    .expect("tokio runtime");
    let code = if a.serve_sink {
        rt.block_on(sink::serve(a.port, a.max_wall + Duration::from_secs(30)))
    } else if a.idle > 0 {
        rt.block_on(idle::run(&a))
    } else {
        client::main(&rt, &a)
    };
    std::process::exit(code)
}
