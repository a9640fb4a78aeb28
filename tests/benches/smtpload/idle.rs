//! Idle mode: hold N connections open (greeting read, EHLO answered) and report the
//! server's resident memory while they are open.

use std::time::{Duration, Instant};

use crate::client::Conn;
use crate::Args;

/// `VmRSS` of a process in KiB.
fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// Thread count of a process (to show no thread is held per idle connection).
fn threads(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("Threads:"))
        .and_then(|v| v.trim().parse().ok())
}

pub async fn run(a: &Args) -> i32 {
    let before = a.rss_pid.and_then(rss_kib);
    let started = Instant::now();
    let mut conns = Vec::with_capacity(a.idle);
    let mut error = None;
    // Open in waves so the listen backlog never overflows.
    'open: for wave in (0..a.idle).collect::<Vec<_>>().chunks(200) {
        let mut set = tokio::task::JoinSet::new();
        for &i in wave {
            let (port, t) = (a.port, a.reply_timeout);
            set.spawn(async move {
                let mut c = Conn::open(port, t).await?;
                c.expect(220, "greeting").await?;
                c.send(format!("EHLO idle{i}.client.example\r\n").as_bytes())
                    .await?;
                c.expect(250, "EHLO").await?;
                Ok::<Conn, String>(c)
            });
        }
        while let Some(r) = set.join_next().await {
            match r {
                Ok(Ok(c)) => conns.push(c),
                Ok(Err(e)) => error = Some(e),
                Err(e) => error = Some(e.to_string()),
            }
        }
        if error.is_some() || started.elapsed() > a.max_wall {
            break 'open;
        }
    }
    let open_s = started.elapsed().as_secs_f64();
    // Let the server settle (connect ACLs done, buffers released) before measuring.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let during = a.rss_pid.and_then(rss_kib);
    let server_threads = a.rss_pid.and_then(threads);
    tokio::time::sleep(a.hold).await;
    let after_hold = a.rss_pid.and_then(rss_kib);
    let opened = conns.len();
    drop(conns);
    let out = serde_json::json!({
        "mode": "idle",
        "port": a.port,
        "wanted": a.idle,
        "opened": opened,
        "open_s": (open_s * 1000.0).round() / 1000.0,
        "server_rss_kib_before": before,
        "server_rss_kib_idle": during,
        "server_rss_kib_after_hold": after_hold,
        "server_threads_idle": server_threads,
        "error": error,
        "ok": opened == a.idle,
    });
    let text = out.to_string();
    if let Some(path) = &a.json {
        let _ = std::fs::write(path, &text);
    }
    println!("{text}");
    i32::from(opened != a.idle)
}
