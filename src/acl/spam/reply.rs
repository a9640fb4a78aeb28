//! What spamd (SpamAssassin's `SPAMD/1.x` or rspamd's `RSPAMD/x`) answered, and the
//! `$spam_*` values Exim derives from it.

/// Exim's reply buffer: a longer answer is cut at this many bytes.
pub const MAX_REPLY: usize = 32_599;

/// Exim's `MAX_SPAM_BAR_CHARS`; its loop lets one more character through.
const MAX_BAR: usize = 51;

#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    pub score: f64,
    pub threshold: f64,
    /// `$spam_action`: rspamd's `Action:` line; for SpamAssassin `reject` or `no action`.
    pub action: String,
    /// The report with CRs dropped, each newline followed by a space (a header
    /// continuation), trailing white space cut.
    pub report: String,
}

impl Verdict {
    pub fn is_spam(&self) -> bool {
        self.score >= self.threshold
    }

    /// `$spam_score`: one decimal.
    pub fn score_text(&self) -> String {
        format!("{:.1}", self.score)
    }

    /// `$spam_score_int`: ten times the score, rounded towards zero after adding 0.001.
    pub fn score_int(&self) -> String {
        (((self.score + 0.001) * 10.0) as i64).to_string()
    }

    /// `$spam_bar`: one `+` (or `-`) per whole point, `/` for less than one.
    pub fn bar(&self) -> String {
        let whole = (self.score as i64).unsigned_abs() as usize;
        if whole == 0 {
            return "/".into();
        }
        let c = if self.score > 0.0 { "+" } else { "-" };
        c.repeat(whole.min(MAX_BAR))
    }
}

/// spamd's answer is not in the expected form (Exim's log line says no more).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unparsable;

/// Parse spamd's answer.
pub fn parse(buf: &[u8], rspamd: bool) -> Result<Verdict, Unparsable> {
    let v = if rspamd {
        parse_rspamd(buf)
    } else {
        parse_spamd(buf)
    };
    v.map_err(|()| Unparsable)
}

/// `SPAMD/1.1 0 EX_OK\r\nContent-length: N\r\n\r\nSCORE/THRESHOLD\r\n<report>`, or the
/// pre-2.50 form `SPAMD/1.1 0 EX_OK\r\nSpam: True ; SCORE / THRESHOLD\r\n\r\n<report>`.
fn parse_spamd(buf: &[u8]) -> Result<Verdict, ()> {
    let mut s = Scan::new(buf);
    s.lit(b"SPAMD/")?;
    s.word(7)?;
    s.lit(b" 0 EX_OK\r\n")?;
    let after_status = s.pos;
    let modern = (|| {
        s.lit(b"Content-length: ")?;
        s.unsigned()?;
        s.lit(b"\r\n\r\n")?;
        let score = s.float()?;
        s.lit(b"/")?;
        let threshold = s.float()?;
        s.lit(b"\r\n")?;
        Ok((score, threshold, s.pos))
    })();
    let (score, threshold, at) = match modern {
        Ok(v) => v,
        Err(()) => {
            s.pos = after_status;
            s.lit(b"Spam: ")?;
            s.word(usize::MAX)?;
            s.lit(b" ; ")?;
            let score = s.float()?;
            s.lit(b" / ")?;
            let threshold = s.float()?;
            s.lit(b"\r\n\r\n")?;
            (score, threshold, s.pos)
        }
    };
    let action = if score >= threshold {
        "reject"
    } else {
        "no action"
    };
    Ok(Verdict {
        score,
        threshold,
        action: action.into(),
        report: report_text(&buf[at..]),
    })
}

/// `RSPAMD/1.3 0 EX_OK\r\nMetric: default; True 9.5 / 5.0 / 15.0\r\nAction: ...`.
fn parse_rspamd(buf: &[u8]) -> Result<Verdict, ()> {
    let mut s = Scan::new(buf);
    s.lit(b"RSPAMD/")?;
    s.word(7)?;
    s.lit(b" 0 EX_OK\r\nMetric: default; ")?;
    s.word(7)?;
    s.lit(b" ")?;
    let score = s.float()?;
    s.lit(b" / ")?;
    let threshold = s.float()?;
    s.lit(b" / ")?;
    let _reject = s.float()?;
    s.lit(b"\r\n")?;
    let at = s.pos;
    if at >= buf.len() {
        return Err(());
    }
    let mut action = String::new();
    if let Some(rest) = buf[at..].strip_prefix(b"Action: ") {
        let end = rest
            .iter()
            .position(|&c| c == b'\r' || c == 0)
            .unwrap_or(rest.len())
            .min(31);
        action = String::from_utf8_lossy(&rest[..end]).into_owned();
    }
    Ok(Verdict {
        score,
        threshold,
        action,
        report: report_text(&buf[at..]),
    })
}

fn report_text(raw: &[u8]) -> String {
    let raw = &raw[..raw.iter().position(|&c| c == 0).unwrap_or(raw.len())];
    let mut out = Vec::with_capacity(raw.len() + 16);
    for &c in raw {
        match c {
            b'\r' => {}
            b'\n' => out.extend_from_slice(b"\n "),
            _ => out.push(c),
        }
    }
    while out.last().is_some_and(|&c| c <= b' ') {
        out.pop();
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A small cursor with the parts of `sscanf` the reply formats need.
struct Scan<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Scan<'a> {
    fn new(buf: &'a [u8]) -> Self {
        Scan { buf, pos: 0 }
    }

    fn rest(&self) -> &'a [u8] {
        &self.buf[self.pos..]
    }

    /// A literal; white space in the literal also matches no white space or more
    /// (as in scanf), other bytes must match exactly.
    fn lit(&mut self, lit: &[u8]) -> Result<(), ()> {
        for &c in lit {
            if c.is_ascii_whitespace() {
                self.skip_space();
            } else if self.rest().first() == Some(&c) {
                self.pos += 1;
            } else {
                return Err(());
            }
        }
        Ok(())
    }

    fn skip_space(&mut self) {
        while self.rest().first().is_some_and(u8::is_ascii_whitespace) {
            self.pos += 1;
        }
    }

    /// `%Ns`: leading white space skipped, then up to `max` non-space bytes.
    fn word(&mut self, max: usize) -> Result<&'a [u8], ()> {
        self.skip_space();
        let n = self
            .rest()
            .iter()
            .take(max)
            .take_while(|c| !c.is_ascii_whitespace())
            .count();
        if n == 0 {
            return Err(());
        }
        let w = &self.rest()[..n];
        self.pos += n;
        Ok(w)
    }

    fn unsigned(&mut self) -> Result<u64, ()> {
        self.skip_space();
        let n = self
            .rest()
            .iter()
            .take_while(|c| c.is_ascii_digit())
            .count();
        let v = std::str::from_utf8(&self.rest()[..n]).map_err(|_| ())?;
        let v = v.parse().map_err(|_| ())?;
        self.pos += n;
        Ok(v)
    }

    /// `%lf`: an optional sign, digits with an optional fraction and exponent.
    fn float(&mut self) -> Result<f64, ()> {
        self.skip_space();
        let r = self.rest();
        let mut n = 0;
        if matches!(r.first(), Some(b'+' | b'-')) {
            n += 1;
        }
        let digits = |n: &mut usize| {
            let s = *n;
            while r.get(*n).is_some_and(u8::is_ascii_digit) {
                *n += 1;
            }
            *n - s
        };
        let mut d = digits(&mut n);
        if r.get(n) == Some(&b'.') {
            n += 1;
            d += digits(&mut n);
        }
        if d == 0 {
            return Err(());
        }
        if matches!(r.get(n), Some(b'e' | b'E')) {
            let mut m = n + 1;
            if matches!(r.get(m), Some(b'+' | b'-')) {
                m += 1;
            }
            if digits(&mut m) > 0 {
                n = m;
            }
        }
        let v = std::str::from_utf8(&r[..n]).map_err(|_| ())?;
        let v = v.parse().map_err(|_| ())?;
        self.pos += n;
        Ok(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spamassassin_reply() {
        let r = b"SPAMD/1.1 0 EX_OK\r\nContent-length: 40\r\n\r\n6.3/5.0\r\nline one\r\n line two\r\n\r\n";
        let v = parse(r, false).unwrap();
        assert_eq!(v.score_text(), "6.3");
        assert_eq!(v.score_int(), "63");
        assert_eq!(v.bar(), "++++++");
        assert_eq!(v.action, "reject");
        assert_eq!(v.report, "line one\n  line two");
        assert!(v.is_spam());
    }

    #[test]
    fn old_spamd_and_negative_scores() {
        let r = b"SPAMD/1.1 0 EX_OK\r\nSpam: False ; -2.5 / 5.0\r\n\r\nrep";
        let v = parse(r, false).unwrap();
        assert_eq!(
            (v.score_text(), v.score_int()),
            ("-2.5".into(), "-24".into())
        );
        assert_eq!(v.bar(), "--");
        assert_eq!(v.action, "no action");
        assert!(!v.is_spam());
        let v = parse(
            b"SPAMD/1.1 0 EX_OK\r\nContent-length: 1\r\n\r\n0.4/5\r\n",
            false,
        )
        .unwrap();
        assert_eq!((v.bar(), v.report.as_str()), ("/".into(), ""));
        let v = parse(
            b"SPAMD/1.1 0 EX_OK\r\nContent-length: 1\r\n\r\n99/5\r\n",
            false,
        )
        .unwrap();
        assert_eq!(v.bar().len(), 51);
    }

    #[test]
    fn rspamd_reply() {
        let r = b"RSPAMD/1.3 0 EX_OK\r\nMetric: default; True; 9.50 / 5.00 / 15.00\r\nAction: add header\r\nSymbol: X\r\n";
        // Exim's format wants a space, not "; ", after the verdict word: "True;" is the word.
        let v = parse(r, true).unwrap();
        assert_eq!(v.action, "add header");
        assert_eq!(v.report, "Action: add header\n Symbol: X");
        assert_eq!(v.score_int(), "95");
    }

    #[test]
    fn bad_replies() {
        for r in [
            &b""[..],
            b"SPAMD/1.1 76 EX_PROTOCOL\r\n\r\n",
            b"SPAMD/1.1 0 EX_OK\r\nContent-length: 3\r\n\r\nabc\r\n",
            b"RSPAMD/1.3 0 EX_OK\r\nMetric: default; True 1 / 2 / 3\r\n",
        ] {
            assert!(parse(r, r.starts_with(b"R")).is_err(), "{r:?}");
        }
    }
}
