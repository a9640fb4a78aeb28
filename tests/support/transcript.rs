//! Pieces of the fixture-driven transcript tests: the fixture files of a directory,
//! the Exim binary to compare with, and masking what differs run to run.

use std::path::{Path, PathBuf};

/// An RFC 5322 date (the banner's, `Date:`, `Received:`).
pub const DATE: (&str, &str) = (
    r"[A-Z][a-z]{2}, \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d [-+]\d{4}",
    "<DATE>",
);
/// A ctime-style date (`From ` lines, spamd's report).
pub const BSD_DATE: (&str, &str) = (
    r"[A-Z][a-z]{2} [A-Z][a-z]{2} \d\d \d\d:\d\d:\d\d \d{4}",
    "<BSDDATE>",
);
/// An Exim message id.
pub const MESSAGE_ID: (&str, &str) = (r"\b[0-9A-Za-z]{6}-[0-9A-Za-z]{6}-[0-9A-Za-z]{2}\b", "<ID>");

/// `s` with every match of each rule's pattern replaced by its text, rule by rule.
pub fn substitute(s: &str, rules: &[(&str, &str)]) -> String {
    let mut s = s.to_string();
    for (re, rep) in rules {
        let re = pcre2::bytes::Regex::new(re).unwrap();
        let mut res = String::new();
        let mut last = 0;
        for m in re.find_iter(s.as_bytes()) {
            let m = m.unwrap();
            res.push_str(&s[last..m.start()]);
            res.push_str(rep);
            last = m.end();
        }
        res.push_str(&s[last..]);
        s = res;
    }
    s
}

/// The `*.txt` fixtures under `tests/<dir>`, sorted.
pub fn fixture_paths(dir: &str) -> Vec<PathBuf> {
    let mut paths: Vec<_> = std::fs::read_dir(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests")
            .join(dir),
    )
    .unwrap()
    .map(|e| e.unwrap().path())
    .filter(|p| p.extension().is_some_and(|e| e == "txt"))
    .collect();
    paths.sort();
    paths
}

/// The installed Exim binary, if any.
pub fn exim_binary() -> Option<&'static str> {
    ["/usr/sbin/exim4", "/usr/sbin/exim"]
        .into_iter()
        .find(|p| Path::new(p).exists())
}
