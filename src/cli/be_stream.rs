//! The non-terminal `-be` loop on two threads: one reads lines, applies macros and parses
//! them, the other evaluates and prints, in input order. Parsing depends only on the line
//! and the macro table, both kept on the reading thread, so the output is exactly what one
//! thread would print; the two halves of the work just overlap.

use std::io::{self, Read, Write};
use std::sync::mpsc::{self, Receiver, Sender, SyncSender, TryRecvError};

use crate::cli::be::{flush_log, next_logical_line, prepare_line, run_parsed, Job, Macros};
use crate::expand::Context;

/// Lines handed over at once while more input is already buffered (few channel
/// operations per line in a batch run).
const BATCH: usize = 64;
/// Batches in flight: memory stays bounded however fast the input comes.
const BATCHES_IN_FLIGHT: usize = 8;
/// The reading thread's stack: as much as the main thread's, for the parser's recursion.
const READER_STACK: usize = 8 << 20;

/// Run `-be` over `input` (not a terminal); returns the exit status.
pub fn run(input: impl Read + Send + 'static, macros: Macros, ctx: &mut Context) -> i32 {
    let (tx, rx) = mpsc::sync_channel(BATCHES_IN_FLIGHT);
    let (done_tx, done_rx) = mpsc::channel();
    let reader = std::thread::Builder::new()
        .name("be-reader".into())
        .stack_size(READER_STACK)
        .spawn(move || {
            let input = io::BufReader::with_capacity(1 << 16, input);
            read_and_parse(input, macros, tx, done_rx)
        });
    let reader = match reader {
        Ok(r) => r,
        Err(e) => {
            eprintln!("rexim: cannot start the -be reader thread: {e}");
            return 1;
        }
    };
    let status = evaluate_and_print(rx, done_tx, ctx);
    // After a failure here the reader may still be blocked on input: the process exits
    // without waiting. A reader that panicked (a bug) cut the output short: say so.
    if status == 0 && reader.join().is_err() {
        eprintln!("rexim: the -be reader thread failed; output is incomplete");
        return 1;
    }
    status
}

/// The reading half: logical lines to jobs, sent in batches. A batch goes out as soon
/// as the next read might block, so a peer feeding one line at a time gets each answer
/// before it writes the next. Evaluated batches come back on `done` to be dropped here:
/// the parser's memory is freed by the thread that allocated it, and the drop's cost
/// is taken off the evaluating thread.
fn read_and_parse(
    mut input: io::BufReader<impl Read>,
    mut macros: Macros,
    tx: SyncSender<Vec<io::Result<Job>>>,
    done: Receiver<Vec<io::Result<Job>>>,
) {
    let (mut line, mut buf) = (Vec::new(), Vec::new());
    let mut batch = Vec::with_capacity(BATCH);
    loop {
        if !batch.is_empty() && (batch.len() >= BATCH || input.buffer().is_empty()) {
            let next = match done.try_recv() {
                Ok(mut old) => {
                    old.clear();
                    old
                }
                Err(_) => Vec::with_capacity(BATCH),
            };
            let full = std::mem::replace(&mut batch, next);
            if tx.send(full).is_err() {
                return;
            }
        }
        match next_logical_line(&mut input, &mut line, &mut buf) {
            Ok(true) => batch.push(Ok(prepare_line(&line, &mut macros))),
            Ok(false) => break,
            Err(e) => {
                batch.push(Err(e));
                break;
            }
        }
    }
    if !batch.is_empty() {
        let _ = tx.send(batch);
    }
}

/// The evaluating half: Exim's `> ` prompt before each line, the result after it, and a
/// last newline at the end of input. Output is flushed only when no job is waiting.
fn evaluate_and_print(
    rx: Receiver<Vec<io::Result<Job>>>,
    done: Sender<Vec<io::Result<Job>>>,
    ctx: &mut Context,
) -> i32 {
    let mut out = io::BufWriter::with_capacity(1 << 16, io::stdout());
    let _ = out.write_all(b"> ");
    loop {
        let batch = match rx.try_recv() {
            Ok(batch) => batch,
            Err(TryRecvError::Empty) => {
                let _ = out.flush();
                match rx.recv() {
                    Ok(batch) => batch,
                    Err(_) => break,
                }
            }
            Err(TryRecvError::Disconnected) => break,
        };
        for job in &batch {
            match job {
                Ok(Job::Expand(parsed)) => {
                    let (text, _) = run_parsed(parsed, ctx);
                    if !ctx.log.is_empty() {
                        let _ = out.flush();
                        flush_log(ctx);
                    }
                    let _ = out.write_all(&text);
                    let _ = out.write_all(b"\n");
                }
                Ok(Job::Print(text)) => {
                    let _ = out.write_all(text.as_bytes());
                    let _ = out.write_all(b"\n");
                }
                Ok(Job::Complain(text)) => {
                    let _ = out.flush();
                    eprintln!("{text}");
                }
                // Reading failed: reported, and `-be` ends with status 1.
                Err(e) => {
                    let _ = out.flush();
                    eprintln!("rexim: reading standard input: {e}");
                    return 1;
                }
            }
            let _ = out.write_all(b"> ");
        }
        // Dropped on the reading thread (or here, once that has finished).
        let _ = done.send(batch);
    }
    let _ = out.write_all(b"\n");
    let _ = out.flush();
    0
}
