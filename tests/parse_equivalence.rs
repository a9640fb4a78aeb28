//! The fast scanner and the pest grammar must agree: same first static error and same
//! expansion result for every fixture line and for many generated (mostly broken) strings.

use std::path::Path;

use rexim::expand::parse_reference;
use rexim::{expand, parse, Context};

fn outcome(e: &rexim::Expansion) -> String {
    let stat = e
        .static_error()
        .map(|x| x.message.clone())
        .unwrap_or_default();
    let mut ctx = Context::default();
    let r = match expand(e, &mut ctx) {
        Ok(v) => format!("ok:{}", String::from_utf8_lossy(&v.bytes)),
        Err(err) => format!("err:{:?}:{}", err.kind, err.message),
    };
    format!("{stat}|{r}")
}

fn check(line: &str, failures: &mut Vec<String>) {
    let fast = outcome(&parse(line));
    if fast.contains("expansion nesting deeper than") {
        // Only the scanner bounds nesting; the pest reference follows any depth.
        return;
    }
    let reference = outcome(&parse_reference(line));
    if fast != reference {
        failures.push(format!(
            "{line:?}\n  fast:      {fast}\n  reference: {reference}"
        ));
    }
}

#[test]
fn fixture_lines_agree() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/expand/inputs");
    let mut failures = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        let body = text.split_once("\n---\n").map(|(_, b)| b).unwrap_or(&text);
        if text.contains("\n---\n") && text.split_once("\n---\n").unwrap().0.contains("run") {
            continue;
        }
        for line in body.lines() {
            if line.contains("${run") || line.contains("readsocket") {
                continue;
            }
            check(line, &mut failures);
        }
    }
    assert!(
        failures.is_empty(),
        "{} disagreements:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn generated_strings_agree() {
    const TOKENS: &[&str] = &[
        "${",
        "}",
        "{",
        "$",
        "\\",
        "\\N",
        "if",
        " ",
        "eq",
        "lc:",
        ":",
        "a",
        "b",
        "fail",
        "!",
        "and",
        "or",
        "def:",
        "h_x",
        "$h_",
        "lookup",
        "dsearch",
        "sg",
        "map",
        "reduce",
        "extract",
        "json",
        "filter",
        "forall",
        "forany",
        "=",
        "<",
        ">=",
        "match_ip",
        "acl",
        "saslauthd",
        "item",
        "value",
        "x",
        "N",
        "0",
        "12",
        "-",
        "_",
        "\t",
        "\\x4",
        "\\1",
        "bogus",
        "substr",
        "listextract",
        "tr",
        "hash",
        "domain",
        "acl_m_x",
        "nosuch",
        "sha256:",
        "run,preexpand",
        "${if ",
        "}{",
        "}}",
    ];
    let mut seed: u64 = 0x5eed_1234_abcd_ef01;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let mut failures = Vec::new();
    for _ in 0..30_000 {
        let n = 1 + (next() % 14) as usize;
        let s: String = (0..n)
            .map(|_| TOKENS[(next() % TOKENS.len() as u64) as usize])
            .collect();
        if s.contains("run") {
            continue;
        }
        check(&s, &mut failures);
        if failures.len() > 20 {
            break;
        }
    }
    assert!(
        failures.is_empty(),
        "{} disagreements:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
