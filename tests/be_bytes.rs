//! `-be` input that is not UTF-8 (Exim strings are bytes): output must be byte-identical
//! to `exim4 -be`; the expected bytes are checked in for machines without exim4.

use std::io::Write;
use std::process::{Command, Stdio};

const INPUT: &[u8] = b"escape: ${escape:B7\xb7F2\xf2}\nlen: ${strlen:\xe9t\xe9}\nuc: ${uc:\xe9a}\nhex: ${hexquote:\xff}\nraw: a\xb7b\n\\\xb7\n";
const EXPECTED: &[u8] =
    b"> escape: B7\\267F2\\362\n> len: 3\n> uc: \xe9A\n> hex: \\xff\n> raw: a\xb7b\n> \xb7\n> \n";

fn run(program: &str, args: &[&str]) -> Vec<u8> {
    run_with(program, args, INPUT)
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

/// Exim reads `-be` input with `fgets` into 1,024 bytes: a longer line is taken in pieces
/// of 1,023 bytes, each a line of its own (a `\` ending a piece still joins the next), and
/// a piece ends at a NUL.
#[test]
fn long_lines_are_read_in_exims_pieces() {
    let mut input = Vec::new();
    input.extend_from_slice(&[b'a'; 2500]);
    input.push(b'\n');
    input.extend_from_slice(&[b'b'; 1022]);
    input.extend_from_slice(b"\\ccccc\n");
    input.extend_from_slice(&[b'd'; 1021]);
    input.extend_from_slice(b"  eeeee\n");
    input.extend_from_slice(b"x\0y\\\nz\n\x0bq\x0b\n");
    let mut expected = Vec::new();
    for piece in [&[b'a'; 1023][..], &[b'a'; 1023][..], &[b'a'; 454][..]] {
        expected.extend_from_slice(b"> ");
        expected.extend_from_slice(piece);
        expected.push(b'\n');
    }
    expected.extend_from_slice(b"> ");
    expected.extend_from_slice(&[b'b'; 1022]);
    expected.extend_from_slice(b"ccccc\n> ");
    expected.extend_from_slice(&[b'd'; 1021]);
    expected.extend_from_slice(b"\n> eeeee\n> x\n> z\n> \x0bq\n> \n");
    let ours = run_with(env!("CARGO_BIN_EXE_rexim"), &["-be"], &input);
    assert_eq!(
        String::from_utf8_lossy(&ours),
        String::from_utf8_lossy(&expected)
    );
    if std::path::Path::new("/usr/sbin/exim4").exists() {
        let theirs = run_with("/usr/sbin/exim4", &["-C", "/dev/null", "-be"], &input);
        assert_eq!(ours, theirs, "differs from exim4");
    } else {
        eprintln!("SKIPPED exim4 comparison: exim4 is not installed");
    }
}

/// Input without a newline is still read a piece at a time (memory stays bounded).
#[test]
fn input_without_newlines_streams() {
    let input = vec![b'a'; 4 << 20];
    let out = run_with(env!("CARGO_BIN_EXE_rexim"), &["-be"], &input);
    let lines = out
        .split(|&c| c == b'\n')
        .filter(|l| l.len() == 1025)
        .count();
    assert_eq!(lines, (4 << 20) / 1023);
}

fn run_with(program: &str, args: &[&str], input: &[u8]) -> Vec<u8> {
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_vec();
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let out = child.wait_with_output().unwrap().stdout;
    writer.join().unwrap().unwrap();
    out
}
