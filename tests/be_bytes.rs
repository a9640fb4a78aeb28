//! `-be` input that is not UTF-8 (Exim strings are bytes): output must be byte-identical
//! to `exim4 -be`; the expected bytes are checked in for machines without exim4.

use std::io::Write;
use std::process::{Command, Stdio};

const INPUT: &[u8] = b"escape: ${escape:B7\xb7F2\xf2}\nlen: ${strlen:\xe9t\xe9}\nuc: ${uc:\xe9a}\nhex: ${hexquote:\xff}\nraw: a\xb7b\n\\\xb7\n";
const EXPECTED: &[u8] =
    b"> escape: B7\\267F2\\362\n> len: 3\n> uc: \xe9A\n> hex: \\xff\n> raw: a\xb7b\n> \xb7\n> \n";

fn run(program: &str, args: &[&str]) -> Vec<u8> {
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    child.stdin.take().unwrap().write_all(INPUT).unwrap();
    child.wait_with_output().unwrap().stdout
}

#[test]
fn latin1_input_is_kept_byte_for_byte() {
    let ours = run(env!("CARGO_BIN_EXE_rexim"), &["-be"]);
    assert_eq!(
        String::from_utf8_lossy(&ours),
        String::from_utf8_lossy(EXPECTED)
    );
    assert_eq!(ours, EXPECTED);
    if std::path::Path::new("/usr/sbin/exim4").exists() {
        let theirs = run("/usr/sbin/exim4", &["-C", "/dev/null", "-be"]);
        assert_eq!(ours, theirs, "differs from exim4");
    } else {
        eprintln!("SKIPPED exim4 comparison: exim4 is not installed");
    }
}
