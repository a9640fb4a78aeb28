//! Message ids in Exim 4.96's format: base62 time, base62 pid, base62 fraction of a second.

const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

fn base62(mut n: u64, width: usize) -> String {
    let mut out = vec![b'0'; width];
    for slot in out.iter_mut().rev() {
        *slot = BASE62[(n % 62) as usize];
        n /= 62;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `1xVc08-0005yt-0a`: seconds, process id, then microseconds in units of 500 (Exim's
/// id resolution on Linux), which is why two ids in one process differ in the tail.
pub fn message_id(secs: u64, pid: u32, usec: u32) -> String {
    format!(
        "{}-{}-{}",
        base62(secs, 6),
        base62(u64::from(pid), 6),
        base62(u64::from(usec / 500), 2)
    )
}

/// Ticks of Exim's id clock per second (500 µs each).
const TICKS: u64 = 2000;

/// The last id time handed out in this process, in ticks.
static LAST_TICK: std::sync::Mutex<u64> = std::sync::Mutex::new(0);

/// A fresh id for `pid`, unique within this process: all sessions of a daemon share the
/// pid, so two messages in the same 500 µs take consecutive ticks instead of colliding
/// (Exim gets the same guarantee by waiting for the clock in each process).
pub fn next_id(pid: u32) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let mut tick = now.as_secs() * TICKS + u64::from(now.subsec_micros()) / 500;
    if let Ok(mut last) = LAST_TICK.lock() {
        if tick <= *last {
            tick = *last + 1;
        }
        *last = tick;
    }
    message_id(tick / TICKS, pid, ((tick % TICKS) * 500) as u32)
}

#[cfg(test)]
mod tests {
    #[test]
    fn ids_in_one_process_differ() {
        let ids: Vec<String> = (0..5000).map(|_| super::next_id(42)).collect();
        let mut sorted = ids.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), ids.len());
    }

    #[test]
    fn matches_exim_sample() {
        // 1xVc08 is 1795470904 s; pid 0005yt is 22995; 5000 us is tail 10.
        let id = super::message_id(1_795_470_904, 22995, 5000);
        assert_eq!(id, "1xVc08-0005yt-0A");
    }
}
