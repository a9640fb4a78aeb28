//! Receiver tests: command splitting, dot-unstuffing, smuggling forms, random input.

use super::*;

fn events(input: &[u8]) -> Vec<Event> {
    let mut r = Receiver::new();
    r.feed(input);
    r.close();
    let mut out = Vec::new();
    while let Some(e) = r.next_event() {
        let data = matches!(&e, Event::Command(c) if c.verb == Some(Verb::Data));
        let eof = e == Event::Eof;
        out.push(e);
        if data {
            r.start_data();
        }
        if eof {
            break;
        }
    }
    out
}

fn verbs(input: &[u8]) -> Vec<Option<Verb>> {
    events(input)
        .into_iter()
        .filter_map(|e| match e {
            Event::Command(c) => Some(c.verb),
            _ => None,
        })
        .collect()
}

#[test]
fn splits_commands_case_insensitively() {
    let v = verbs(b"ehlo x\r\nMail From:<a@b>\r\nrcpt to: <c@d>\nFOO\r\nDATAX\r\nQUIT\r\n");
    assert_eq!(
        v,
        vec![
            Some(Verb::Ehlo),
            Some(Verb::Mail),
            Some(Verb::Rcpt),
            None,
            None,
            Some(Verb::Quit)
        ]
    );
    let c = split_command(b"MAIL FROM:  <a@b> SIZE=10  \r");
    assert_eq!(c.arg, b"<a@b> SIZE=10");
    assert_eq!(c.line, b"MAIL FROM:  <a@b> SIZE=10");
}

#[test]
fn need_more_until_newline() {
    let mut r = Receiver::new();
    r.feed(b"HELO fo");
    assert_eq!(r.next_event(), None);
    r.feed(b"o\r\n");
    assert!(matches!(r.next_event(), Some(Event::Command(c)) if c.arg == b"foo"));
}

#[test]
fn data_is_unstuffed_and_ends_at_crlf_dot_crlf() {
    let e = events(b"DATA\r\nA: b\r\n\r\n..x\r\n.\r\nQUIT\r\n");
    assert_eq!(e[1], Event::Message(b"A: b\n\n.x\n".to_vec()));
    assert!(matches!(&e[2], Event::Command(c) if c.verb == Some(Verb::Quit)));
}

#[test]
fn bare_lf_dot_does_not_end_crlf_data() {
    let e = events(b"DATA\r\nA: b\r\n\r\nx\n.\nMAIL FROM:<e@v>\r\n.\r\n");
    assert_eq!(
        e[1],
        Event::Message(b"A: b\n\nx\n.\nMAIL FROM:<e@v>\n".to_vec())
    );
    let e = events(b"DATA\r\nA: b\r\n\r\nx\r\n.\rRCPT\r\n.\r\n");
    assert_eq!(e[1], Event::Message(b"A: b\n\nx\n\rRCPT\n".to_vec()));
    let e = events(b"DATA\r\nA: b\r\n\r\nx\n.\r\n.\r\n");
    assert_eq!(e[1], Event::Message(b"A: b\n\nx\n.\n".to_vec()));
}

#[test]
fn lf_only_mode_from_first_line() {
    let e = events(b"DATA\nA: b\n\nx\n.\nQUIT\n");
    assert_eq!(e[1], Event::Message(b"A: b\n\nx\n".to_vec()));
}

#[test]
fn bdat_chunk_and_args() {
    let mut r = Receiver::new();
    r.feed(b"BDAT 3 LAST\r\nabcQUIT\r\n");
    let Some(Event::Command(c)) = r.next_event() else {
        panic!()
    };
    assert_eq!(command::parse_bdat(&c.arg), Some((3, true)));
    r.start_chunk(3);
    assert_eq!(r.next_event(), Some(Event::Chunk(b"abc".to_vec())));
    assert!(matches!(r.next_event(), Some(Event::Command(c)) if c.verb == Some(Verb::Quit)));
}

#[test]
fn mail_params_from_the_end() {
    let o = command::Offered {
        esmtp: true,
        smtputf8: true,
        eightbitmime: true,
        ..Default::default()
    };
    let m = parse_mail_args(b"<a@b> SIZE=100 BODY=8bitmime SMTPUTF8", o);
    assert_eq!(m.rest, b"<a@b>");
    assert_eq!(m.size, Some(100));
    assert_eq!(m.body.as_deref(), Some(&b"8BITMIME"[..]));
    assert!(m.smtputf8);
    let m = parse_mail_args(b"<a@b> SIZE=50 FOO=bar", o);
    assert_eq!(m.rest, b"<a@b> SIZE=50 FOO=bar");
    // DSN parameters are dropped when DSN was not offered; a bad SIZE is removed.
    let m = parse_mail_args(b"<a@b> RET=FULL", o);
    assert_eq!(m.rest, b"<a@b>");
    let m = parse_mail_args(b"<a@b> SIZE=abc", o);
    assert_eq!(m.rest, b"<a@b>");
    let m = parse_mail_args(b"<a@b> BODY=9BIT", o);
    assert_eq!(m.error.as_deref(), Some("invalid data for BODY"));
}

#[test]
fn nul_and_long_lines() {
    let c = split_command(b"HELO a\0b");
    assert!(c.had_nul);
    assert_eq!(c.arg, b"a?b");
    let long = vec![b'a'; MAX_COMMAND_LINE + 10];
    assert_eq!(split_command(&long).verb, None);
}

#[test]
fn random_bytes_never_panic() {
    use rand::{Rng, SeedableRng};
    let mut rng = rand::rngs::StdRng::seed_from_u64(5321);
    let alphabet = b"\r\n.\0 :<>=HELOMAIDTRCPBQUXSZ0123456789";
    for _ in 0..2000 {
        let mut r = Receiver::new();
        let len = rng.gen_range(0..300);
        let bytes: Vec<u8> = (0..len)
            .map(|_| {
                if rng.gen_bool(0.2) {
                    rng.gen()
                } else {
                    alphabet[rng.gen_range(0..alphabet.len())]
                }
            })
            .collect();
        for piece in bytes.chunks(rng.gen_range(1..20)) {
            r.feed(piece);
            while let Some(e) = r.next_event() {
                if let Event::Command(c) = e {
                    let _ = parse_mail_args(
                        &c.arg,
                        command::Offered {
                            esmtp: true,
                            dsn: true,
                            smtputf8: true,
                            auth: true,
                            eightbitmime: true,
                        },
                    );
                    let _ = command::parse_rcpt_args(
                        &c.arg,
                        command::Offered {
                            esmtp: true,
                            dsn: true,
                            ..Default::default()
                        },
                    );
                    let _ = command::parse_bdat(&c.arg);
                    match c.verb {
                        Some(Verb::Data) => r.start_data(),
                        Some(Verb::Bdat) => r.start_chunk(c.arg.len()),
                        _ => {}
                    }
                }
            }
        }
        r.close();
        while let Some(e) = r.next_event() {
            if e == Event::Eof {
                break;
            }
        }
    }
}

#[test]
fn long_lines_stay_bounded() {
    let mut r = Receiver::new();
    r.feed(&vec![b'x'; MAX_COMMAND_LINE + 5]);
    assert!(matches!(r.next_event(), Some(Event::Command(c)) if c.verb.is_none()));
    r.feed(b"\r\nNOOP\r\n");
    assert!(matches!(r.next_event(), Some(Event::Command(c)) if c.verb.is_none()));
    assert!(matches!(r.next_event(), Some(Event::Command(c)) if c.verb == Some(Verb::Noop)));
    r.start_data();
    for _ in 0..10 {
        r.feed(&vec![b'y'; 50_000]);
        assert_eq!(r.next_event(), None);
    }
    assert!(r.buf.len() - r.pos <= 2 * MAX_DATA_PIECE);
    r.feed(b"\r\n.\r\n");
    let Some(Event::Message(m)) = r.next_event() else {
        panic!()
    };
    assert_eq!(m.len(), 500_001);
}

#[test]
fn rcpt_dsn_parameters_as_exim() {
    use super::command::{parse_notify, parse_rcpt_args, Offered, NOTIFY_DELAY, NOTIFY_SUCCESS};
    let dsn = Offered {
        esmtp: true,
        dsn: true,
        ..Offered::default()
    };
    let a = parse_rcpt_args(b"<a@b> NOTIFY=success,Delay ORCPT=rfc822;a@b", dsn);
    assert_eq!(a.rest, b"<a@b>");
    assert_eq!(a.notify, NOTIFY_SUCCESS | NOTIFY_DELAY);
    assert_eq!(a.orcpt.as_deref(), Some(&b"rfc822;a@b"[..]));
    assert_eq!(parse_notify(b"NEVER"), Some(2));
    assert_eq!(parse_notify(b"SUCCESS,"), Some(4));
    assert_eq!(parse_notify(b"SUCCESS,,FAILURE"), None);
    assert_eq!(parse_notify(b"NEVER,SUCCESS"), None);
    let bad = parse_rcpt_args(b"<a@b> NOTIFY=SOMETIMES", dsn);
    assert_eq!(
        bad.error.as_deref(),
        Some("Invalid value for NOTIFY parameter")
    );
    let twice = parse_rcpt_args(b"<a@b> ORCPT=x ORCPT=y", dsn);
    assert_eq!(
        twice.error.as_deref(),
        Some("ORCPT can be specified once only")
    );
    let twice = parse_rcpt_args(b"<a@b> NOTIFY=NEVER NOTIFY=DELAY", dsn);
    assert_eq!(
        twice.error.as_deref(),
        Some("NOTIFY can be specified once only")
    );
    // Without DSN advertised the parameters stay with the address.
    let off = parse_rcpt_args(
        b"<a@b> NOTIFY=NEVER",
        Offered {
            esmtp: true,
            ..Offered::default()
        },
    );
    assert_eq!(off.rest, b"<a@b> NOTIFY=NEVER");
    assert_eq!(off.notify, 0);
}

#[test]
fn line_mode_reads_one_raw_line() {
    let mut r = Receiver::new();
    r.feed(b"AUTH PLAIN\r\ndXNlcg== \r\nNOOP\r\n");
    assert!(matches!(r.next_event(), Some(Event::Command(_))));
    r.start_line();
    assert_eq!(r.next_event(), Some(Event::Line(b"dXNlcg== ".to_vec())));
    match r.next_event() {
        Some(Event::Command(c)) => assert_eq!(c.verb, Some(Verb::Noop)),
        other => panic!("{other:?}"),
    }
    // An over-long answer is cut at the command buffer size; the rest is read as commands.
    let mut r = Receiver::new();
    r.start_line();
    r.feed(&vec![b'A'; MAX_COMMAND_LINE + 5]);
    match r.next_event() {
        Some(Event::Line(l)) => assert_eq!(l.len(), MAX_COMMAND_LINE),
        other => panic!("{other:?}"),
    }
    r.start_line();
    r.close();
    assert_eq!(r.next_event(), Some(Event::Eof));
}
