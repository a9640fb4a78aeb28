//! The no-op SMTP server `--sink` loads: 220/250/354/221, data discarded, pipelining
//! honoured (replies are written when the input buffer runs dry).

use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

pub async fn serve(port: u16, lifetime: Duration) -> i32 {
    let l = match TcpListener::bind(("127.0.0.1", port)).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("sink: bind 127.0.0.1:{port}: {e}");
            return 1;
        }
    };
    let accept = async {
        loop {
            if let Ok((s, _)) = l.accept().await {
                tokio::spawn(handle(s));
            }
        }
    };
    let _ = tokio::time::timeout(lifetime, accept).await;
    0
}

async fn handle(s: TcpStream) {
    let _ = s.set_nodelay(true);
    let (r, mut w) = s.into_split();
    let mut r = BufReader::with_capacity(16 * 1024, r);
    let mut out: Vec<u8> = b"220 sink.example ESMTP sink\r\n".to_vec();
    let mut line = Vec::with_capacity(1024);
    let mut in_data = false;
    loop {
        if r.buffer().is_empty() && !out.is_empty() {
            if w.write_all(&out).await.is_err() {
                return;
            }
            out.clear();
        }
        line.clear();
        match r.read_until(b'\n', &mut line).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        if in_data {
            if line == b".\r\n" || line == b".\n" {
                in_data = false;
                out.extend_from_slice(b"250 OK id=sink\r\n");
            }
            continue;
        }
        let verb = line.get(..4).unwrap_or(&line).to_ascii_uppercase();
        match verb.as_slice() {
            b"DATA" => {
                in_data = true;
                out.extend_from_slice(b"354 go ahead\r\n");
            }
            b"EHLO" => out.extend_from_slice(
                b"250-sink.example\r\n250-SIZE 52428800\r\n250-PIPELINING\r\n250 8BITMIME\r\n",
            ),
            b"QUIT" => {
                out.extend_from_slice(b"221 bye\r\n");
                let _ = w.write_all(&out).await;
                return;
            }
            _ => out.extend_from_slice(b"250 OK\r\n"),
        }
    }
}
