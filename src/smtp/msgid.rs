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

#[cfg(test)]
mod tests {
    #[test]
    fn matches_exim_sample() {
        // 1xVc08 is 1795470904 s; pid 0005yt is 22995; 5000 us is tail 10.
        let id = super::message_id(1_795_470_904, 22995, 5000);
        assert_eq!(id, "1xVc08-0005yt-0A");
    }
}
