//! `-be` on a pipe reads and parses on one thread and evaluates on another: the output
//! must stay in input order, macros defined mid-stream must apply from their line on, and
//! a peer that feeds one line at a time must get each answer before it sends the next.

use std::io::{BufReader, Read, Write};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

fn rexim_be() -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_rexim"))
        .arg("-be")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn rexim -be")
}

#[test]
fn a_line_at_a_time_peer_gets_each_answer_before_the_next_line() {
    let mut child = rexim_be();
    let mut stdin = child.stdin.take().unwrap();
    let stdout = child.stdout.take().unwrap();
    // Bytes of stdout arrive through a channel, so a missing answer fails after a timeout
    // instead of hanging the test.
    let (tx, rx) = mpsc::channel::<u8>();
    std::thread::spawn(move || {
        for b in BufReader::new(stdout).bytes() {
            let Ok(b) = b else { break };
            if tx.send(b).is_err() {
                break;
            }
        }
    });
    let read_until = |want: &str| {
        let mut got = Vec::new();
        while !got.ends_with(want.as_bytes()) {
            match rx.recv_timeout(Duration::from_secs(10)) {
                Ok(b) => got.push(b),
                Err(_) => panic!(
                    "no {want:?} within 10 s; got {:?}",
                    String::from_utf8_lossy(&got)
                ),
            }
        }
        String::from_utf8(got).unwrap()
    };
    assert_eq!(read_until("> "), "> ");
    for (line, answer) in [
        ("${uc:first}", "FIRST"),
        ("MAC = defined", "Defined macro 'MAC'"),
        ("${lc:MAC}", "defined"),
        ("${if eq{1}{2}{y}{n}}", "n"),
    ] {
        stdin.write_all(format!("{line}\n").as_bytes()).unwrap();
        stdin.flush().unwrap();
        assert_eq!(read_until("> "), format!("{answer}\n> "));
    }
    drop(stdin);
    assert_eq!(read_until("\n"), "\n");
    assert!(child.wait().unwrap().success());
}

#[test]
fn a_long_stream_keeps_order_and_macro_scope() {
    let mut input = String::new();
    let mut expected = String::new();
    for i in 0..20_000 {
        if i == 7_777 {
            input.push_str("NUM = macro\n");
            expected.push_str("> Defined macro 'NUM'\n");
        }
        input.push_str(&format!("${{length_3:{i}NUM}} ${{eval:{i}*2}}\n"));
        let word = if i >= 7_777 { "macro" } else { "NUM" };
        let text = format!("{i}{word}");
        expected.push_str(&format!("> {} {}\n", &text[..3], i * 2));
    }
    // A bad expansion in the middle prints its error in place.
    input.push_str("${lc:\n");
    expected.push_str("> Failed: missing } at end of string\n");
    expected.push_str("> \n");
    let mut child = rexim_be();
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let mut out = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_to_string(&mut out)
        .unwrap();
    writer.join().unwrap().unwrap();
    assert!(child.wait().unwrap().success());
    let first_difference = out.lines().zip(expected.lines()).position(|(a, b)| a != b);
    assert_eq!(first_difference, None, "output lines differ");
    assert_eq!(out, expected);
}

#[test]
fn a_macro_error_goes_to_stderr_after_the_output_before_it() {
    let mut child = rexim_be();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(b"${uc:a}\nBAD\n${uc:b}\n").unwrap();
    drop(stdin);
    let stderr = child.stderr.take().unwrap();
    let mut err = String::new();
    let mut out = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_to_string(&mut out)
        .unwrap();
    BufReader::new(stderr).read_to_string(&mut err).unwrap();
    assert!(child.wait().unwrap().success());
    assert_eq!(out, "> A\n> > B\n> \n");
    assert!(
        err.contains("Exim configuration error") && err.contains("malformed macro definition"),
        "stderr: {err}"
    );
}
