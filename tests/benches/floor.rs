//! The mix's own library work: for each line of the shared expansion mix, only the calls
//! no evaluator can avoid (SHA-256 of the text and its hex, PCRE2 matching with captures
//! for `match`/`sg`, one hash-table probe per lsearch lookup, base64 both ways), with the
//! arguments cut out of the line beforehand and patterns compiled beforehand. What is left
//! of a line (lists, conditions, extract, eval, output) costs nothing here, so the figure is
//! a lower bound for evaluating a pre-parsed line. It is compared in the same run with
//! `exim4 -be` on the same mix (when exim4 is installed).
//! Run: `cargo bench --bench floor -- [MIXFILE] [EXIM_CONF]`.

use std::collections::HashMap;
use std::process::{Command, Stdio};
use std::time::Instant;

use base64::Engine;
use pcre2::bytes::{Regex, RegexBuilder};
use sha2::{Digest, Sha256};

/// One unavoidable library call, its arguments taken from the line.
#[derive(Clone)]
enum Call {
    Sha256(Vec<u8>),
    Match(Vec<u8>, usize),
    Substitute(Vec<u8>, usize),
    Probe(Vec<u8>),
    Base64(Vec<u8>),
    Base64RoundTrip(Vec<u8>),
}

/// A kind of call by name, and the test that picks it.
type CallKind = (&'static str, fn(&Call) -> bool);

/// The text between `open` and the next `close` after it, if any.
fn between<'a>(s: &'a str, open: &str, close: &str) -> Option<&'a str> {
    let start = s.find(open)? + open.len();
    let end = s[start..].find(close)? + start;
    Some(&s[start..end])
}

struct Patterns(Vec<Regex>, HashMap<String, usize>);

impl Patterns {
    fn id(&mut self, p: &str) -> usize {
        if let Some(&i) = self.1.get(p) {
            return i;
        }
        let re = RegexBuilder::new()
            .jit_if_available(true)
            .build(p)
            .expect("mix pattern compiles");
        self.0.push(re);
        self.1.insert(p.to_string(), self.0.len() - 1);
        self.0.len() - 1
    }
}

fn calls_of(line: &str, patterns: &mut Patterns) -> Vec<Call> {
    let mut calls = Vec::new();
    if let Some(t) = line
        .strip_prefix("${sha256:")
        .and_then(|t| t.strip_suffix('}'))
    {
        calls.push(Call::Sha256(t.into()));
    } else if let Some(t) = line.strip_prefix("${base64d:${base64:") {
        calls.push(Call::Base64RoundTrip(t.trim_end_matches('}').into()));
    } else if let Some(t) = line.strip_prefix("${base64:") {
        calls.push(Call::Base64(t.trim_end_matches('}').into()));
    } else if line.starts_with("${sg{") {
        if let (Some(s), Some(p)) = (
            between(line, "${sg{", "}{\\N"),
            between(line, "{\\N", "\\N}"),
        ) {
            calls.push(Call::Substitute(s.into(), patterns.id(p)));
        }
    } else if line.contains("match{") {
        if let (Some(s), Some(p)) = (
            between(line, "match{", "}{\\N"),
            between(line, "{\\N", "\\N}"),
        ) {
            calls.push(Call::Match(s.into(), patterns.id(p)));
        }
    }
    if let Some(k) = between(line, "${lookup{", "}") {
        calls.push(Call::Probe(k.into()));
    }
    calls
}

fn run(calls: &[Vec<Call>], patterns: &[Regex], table: &HashMap<Vec<u8>, Vec<u8>>) -> usize {
    let mut sink = 0usize;
    let mut out = Vec::with_capacity(256);
    for line in calls {
        for call in line {
            out.clear();
            match call {
                Call::Sha256(t) => {
                    let d = Sha256::digest(t);
                    for b in d {
                        out.extend_from_slice(&[
                            b"0123456789abcdef"[(b >> 4) as usize],
                            b"0123456789abcdef"[(b & 15) as usize],
                        ]);
                    }
                }
                Call::Match(s, p) => {
                    if let Ok(Some(c)) = patterns[*p].captures(s) {
                        sink += c.len();
                    }
                }
                Call::Substitute(s, p) => {
                    let mut at = 0;
                    while let Ok(Some(c)) = patterns[*p].captures(&s[at..]) {
                        let m = c.get(0).map_or(0..0, |m| m.start()..m.end());
                        sink += c.len();
                        at += m.end.max(m.start + 1);
                        if at >= s.len() {
                            break;
                        }
                    }
                }
                Call::Probe(k) => sink += table.get(k.as_slice()).map_or(0, |v| v.len()),
                Call::Base64(t) => {
                    base64::engine::general_purpose::STANDARD.encode_string(t, &mut String::new())
                }
                Call::Base64RoundTrip(t) => {
                    let e = base64::engine::general_purpose::STANDARD.encode(t);
                    sink += base64::engine::general_purpose::STANDARD
                        .decode(e)
                        .map_or(0, |d| d.len());
                }
            }
            sink += out.len();
        }
    }
    sink
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let path = args
        .first()
        .cloned()
        .unwrap_or_else(|| "/tmp/rexim-bench/mix-200k.txt".into());
    let conf = args
        .get(1)
        .cloned()
        .unwrap_or_else(|| "../shared/bench/exim-bench.conf".into());
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        eprintln!("cannot read {path}: {e} (run scripts/bench-be 200000 first)");
        std::process::exit(1)
    });
    let lines: Vec<&str> = text.lines().collect();
    let mut patterns = Patterns(Vec::new(), HashMap::new());
    let calls: Vec<Vec<Call>> = lines.iter().map(|l| calls_of(l, &mut patterns)).collect();
    let table: HashMap<Vec<u8>, Vec<u8>> = (0..1000)
        .map(|i| {
            (
                format!("user{i:04}").into_bytes(),
                format!("uid={} quota=512M", 10000 + i).into_bytes(),
            )
        })
        .collect();
    let n = lines.len() as f64;
    // Median seconds of `rounds` runs over `calls`.
    let timed = |calls: &[Vec<Call>], rounds: usize| {
        median(
            (0..rounds)
                .map(|_| {
                    let t = Instant::now();
                    std::hint::black_box(run(calls, &patterns.0, &table));
                    t.elapsed().as_secs_f64()
                })
                .collect(),
        )
    };
    let floor_ns = timed(&calls, 7) / n * 1e9;
    // The same per kind of call, each over the whole mix.
    let kinds: [CallKind; 4] = [
        ("sha256", |c| matches!(c, Call::Sha256(_))),
        ("pcre2 match/sg", |c| {
            matches!(c, Call::Match(..) | Call::Substitute(..))
        }),
        ("lsearch probe", |c| matches!(c, Call::Probe(_))),
        ("base64", |c| {
            matches!(c, Call::Base64(_) | Call::Base64RoundTrip(_))
        }),
    ];
    let mut parts = Vec::new();
    for (name, keep) in kinds {
        let only: Vec<Vec<Call>> = calls
            .iter()
            .map(|l| l.iter().filter(|c| keep(c)).cloned().collect())
            .collect();
        parts.push(format!("{name} {:.1}", timed(&only, 5) / n * 1e9));
    }
    let counted = calls.iter().filter(|c| !c.is_empty()).count();
    println!(
        "mix: {path} ({} lines, {counted} with library calls)",
        lines.len()
    );
    println!(
        "library floor:       {floor_ns:>8.1} ns per line ({} ns)",
        parts.join(", ")
    );
    let exim = ["/usr/sbin/exim4"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists());
    let Some(exim) = exim else {
        println!("exim4 not installed: no comparison");
        return;
    };
    let times: Vec<f64> = (0..3)
        .map(|_| {
            let input = std::fs::File::open(&path).expect("mix");
            let t = Instant::now();
            let status = Command::new(exim)
                .args(["-C", &conf, "-be"])
                .stdin(input)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .expect("run exim4");
            assert!(status.success(), "exim4 -be failed");
            t.elapsed().as_secs_f64()
        })
        .collect();
    let exim_ns = median(times) / n * 1e9;
    println!("exim4 -be:           {exim_ns:>8.1} ns per line (whole process)");
    println!("100x budget:         {:>8.1} ns per line", exim_ns / 100.0);
    println!("30x budget:          {:>8.1} ns per line", exim_ns / 30.0);
    println!("floor / 100x budget: {:>8.2}", floor_ns / (exim_ns / 100.0));
}
