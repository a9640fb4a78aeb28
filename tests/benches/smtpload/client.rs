//! Load mode: C connections × M messages, every reply checked, latencies per message.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;
use tokio::runtime::Runtime;

use crate::Args;

/// One SMTP client connection with bounded reads.
pub struct Conn {
    r: BufReader<OwnedReadHalf>,
    w: OwnedWriteHalf,
    timeout: Duration,
    line: Vec<u8>,
}

impl Conn {
    pub async fn open(port: u16, timeout: Duration) -> Result<Conn, String> {
        let s = tokio::time::timeout(timeout, TcpStream::connect(("127.0.0.1", port)))
            .await
            .map_err(|_| "connect timed out".to_string())?
            .map_err(|e| format!("connect: {e}"))?;
        let _ = s.set_nodelay(true);
        let (r, w) = s.into_split();
        Ok(Conn {
            r: BufReader::with_capacity(4096, r),
            w,
            timeout,
            line: Vec::with_capacity(512),
        })
    }

    pub async fn send(&mut self, bytes: &[u8]) -> Result<(), String> {
        tokio::time::timeout(self.timeout, self.w.write_all(bytes))
            .await
            .map_err(|_| "write timed out".to_string())?
            .map_err(|e| format!("write: {e}"))
    }

    /// One (possibly multi-line) reply: its code and last line.
    pub async fn reply(&mut self) -> Result<(u16, String), String> {
        loop {
            self.line.clear();
            let n = tokio::time::timeout(self.timeout, self.r.read_until(b'\n', &mut self.line))
                .await
                .map_err(|_| "reply timed out".to_string())?
                .map_err(|e| format!("read: {e}"))?;
            if n == 0 {
                return Err("connection closed by the server".into());
            }
            let l = &self.line;
            let code = std::str::from_utf8(l.get(..3).unwrap_or_default())
                .ok()
                .and_then(|c| c.parse::<u16>().ok())
                .ok_or_else(|| format!("malformed reply {:?}", String::from_utf8_lossy(l)))?;
            match l.get(3) {
                Some(b'-') => continue,
                Some(b' ' | b'\r' | b'\n') | None => {
                    return Ok((code, String::from_utf8_lossy(l).trim_end().to_string()))
                }
                _ => return Err(format!("malformed reply {:?}", String::from_utf8_lossy(l))),
            }
        }
    }

    pub async fn expect(&mut self, code: u16, what: &str) -> Result<String, String> {
        let (c, text) = self.reply().await?;
        if c != code {
            return Err(format!("{what}: got {text:?}, wanted {code}"));
        }
        Ok(text)
    }
}

/// Message text: fixed headers and a body of about `size` bytes of 72-character lines.
struct Template {
    body: String,
}

impl Template {
    fn new(size: usize) -> Template {
        let words = "lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod \
                     tempor incididunt ut labore et dolore magna aliqua mail relay spool";
        let words: Vec<&str> = words.split(' ').collect();
        let mut body = String::new();
        let mut i = 0;
        while body.len() + 400 < size {
            let mut line = String::new();
            let mut j = i;
            while line.len() < 64 {
                if !line.is_empty() {
                    line.push(' ');
                }
                line.push_str(words[j % words.len()]);
                j += 7;
            }
            line.truncate(72);
            body.push_str(&line);
            body.push_str("\r\n");
            i += 1;
        }
        Template { body }
    }

    fn data(&self, conn: usize, seq: usize, rcpts: &[String]) -> Vec<u8> {
        let to: Vec<String> = rcpts.iter().map(|r| format!("<{r}>")).collect();
        let mut out = format!(
            "From: Load Generator <sender{conn}@client.example>\r\nTo: {}\r\n\
             Subject: bench message {conn}/{seq}\r\nDate: Mon, 23 Nov 2026 12:00:00 +0000\r\n\
             Message-ID: <bench.{conn}.{seq}@client.example>\r\nMIME-Version: 1.0\r\n\
             Content-Type: text/plain; charset=us-ascii\r\n\r\n",
            to.join(", ")
        )
        .into_bytes();
        out.extend_from_slice(self.body.as_bytes());
        out.extend_from_slice(b".\r\n");
        out
    }
}

#[derive(Default)]
struct ConnResult {
    accepted: usize,
    latencies_us: Vec<u64>,
    error: Option<String>,
}

async fn one_connection(cid: usize, a: Args, t: std::sync::Arc<Template>) -> ConnResult {
    let mut res = ConnResult::default();
    if let Err(e) = drive(cid, &a, &t, &mut res).await {
        res.error = Some(format!("connection {cid}: {e}"));
    }
    res
}

async fn drive(cid: usize, a: &Args, t: &Template, res: &mut ConnResult) -> Result<(), String> {
    let mut c = Conn::open(a.port, a.reply_timeout).await?;
    c.expect(220, "greeting").await?;
    c.send(format!("EHLO loadgen{cid}.client.example\r\n").as_bytes())
        .await?;
    c.expect(250, "EHLO").await?;
    for seq in 0..a.messages {
        let n = cid * 1_000_000 + seq;
        let rcpts: Vec<String> = (0..a.rcpts)
            .map(|k| {
                format!(
                    "user{:04}@bench{}.example",
                    (n + k) % 1000,
                    (n + k) % a.domains
                )
            })
            .collect();
        let mail = format!("MAIL FROM:<sender{cid}@client.example>\r\n");
        let start = Instant::now();
        if a.pipelining {
            let mut batch = mail.into_bytes();
            for r in &rcpts {
                batch.extend_from_slice(format!("RCPT TO:<{r}>\r\n").as_bytes());
            }
            batch.extend_from_slice(b"DATA\r\n");
            c.send(&batch).await?;
            c.expect(250, "MAIL").await?;
            for _ in &rcpts {
                c.expect(250, "RCPT").await?;
            }
            c.expect(354, "DATA").await?;
        } else {
            c.send(mail.as_bytes()).await?;
            c.expect(250, "MAIL").await?;
            for r in &rcpts {
                c.send(format!("RCPT TO:<{r}>\r\n").as_bytes()).await?;
                c.expect(250, "RCPT").await?;
            }
            c.send(b"DATA\r\n").await?;
            c.expect(354, "DATA").await?;
        }
        c.send(&t.data(cid, seq, &rcpts)).await?;
        c.expect(250, "end of DATA").await?;
        res.latencies_us.push(start.elapsed().as_micros() as u64);
        res.accepted += 1;
    }
    c.send(b"QUIT\r\n").await?;
    c.expect(221, "QUIT").await?;
    Ok(())
}

fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let k = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[k.min(sorted.len() - 1)] as f64 / 1000.0
}

fn ms(v: f64) -> serde_json::Value {
    serde_json::json!((v * 1000.0).round() / 1000.0)
}

async fn run(a: &Args) -> serde_json::Value {
    let t = std::sync::Arc::new(Template::new(a.size));
    let started = Instant::now();
    let mut set = tokio::task::JoinSet::new();
    for cid in 0..a.connections {
        set.spawn(one_connection(cid, a.clone(), t.clone()));
    }
    let mut results = Vec::new();
    let all = async {
        while let Some(r) = set.join_next().await {
            results.push(r.unwrap_or_else(|e| ConnResult {
                error: Some(format!("task: {e}")),
                ..ConnResult::default()
            }));
        }
    };
    let timed_out = tokio::time::timeout(a.max_wall, all).await.is_err();
    let wall = started.elapsed().as_secs_f64();
    let accepted: usize = results.iter().map(|r| r.accepted).sum();
    let mut lat: Vec<u64> = results
        .iter()
        .flat_map(|r| r.latencies_us.clone())
        .collect();
    lat.sort_unstable();
    let errors: Vec<String> = results.iter().filter_map(|r| r.error.clone()).collect();
    let expected = a.connections * a.messages;
    let ok = !timed_out && errors.is_empty() && accepted == expected;
    serde_json::json!({
        "target": if a.sink { "sink" } else { "server" },
        "port": a.port,
        "connections": a.connections,
        "messages_per_conn": a.messages,
        "pipelining": a.pipelining,
        "size": a.size,
        "body_bytes": t.body.len(),
        "rcpts_per_msg": a.rcpts,
        "accepted": accepted,
        "expected_accepted": expected,
        "wall_s": ms(wall),
        "msgs_per_s": (accepted as f64 / wall * 10.0).round() / 10.0,
        "lat_p50_ms": ms(percentile(&lat, 50.0)),
        "lat_p90_ms": ms(percentile(&lat, 90.0)),
        "lat_p99_ms": ms(percentile(&lat, 99.0)),
        "lat_max_ms": ms(lat.last().map_or(f64::NAN, |&v| v as f64 / 1000.0)),
        "timed_out": timed_out,
        "n_connection_errors": errors.len(),
        "connection_errors": errors.iter().take(10).collect::<Vec<_>>(),
        "ok": ok,
    })
}

/// Start `--serve-sink` as a child process and wait until it listens.
fn start_sink(a: &Args) -> Result<Child, String> {
    let exe = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
    let mut child = Command::new(exe)
        .args(["--serve-sink", "--port", &a.port.to_string()])
        .args(["--max-wall", &a.max_wall.as_secs().to_string()])
        .stdin(Stdio::null())
        .spawn()
        .map_err(|e| format!("start the sink: {e}"))?;
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if std::net::TcpStream::connect(("127.0.0.1", a.port)).is_ok() {
            return Ok(child);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
    Err("the sink did not start listening".into())
}

pub fn main(rt: &Runtime, a: &Args) -> i32 {
    let mut sink = None;
    if a.sink {
        match start_sink(a) {
            Ok(c) => sink = Some(c),
            Err(e) => {
                eprintln!("smtpload: {e}");
                return 1;
            }
        }
    }
    let out = rt.block_on(run(a));
    if let Some(mut c) = sink {
        let _ = c.kill();
        let _ = c.wait();
    }
    let text = out.to_string();
    if let Some(path) = &a.json {
        if let Err(e) = std::fs::write(path, &text) {
            eprintln!("smtpload: {path}: {e}");
        }
    }
    println!("{text}");
    i32::from(out["ok"] != serde_json::Value::Bool(true))
}
