//! What rexim sends dccifd, byte for byte as Exim's dcc.c sends it: the option line,
//! the client address, a HELO line, the envelope, a blank line, then the message.

/// Exim copies the client address into a 40-byte buffer: at most 39 bytes go out.
const CLIENT_IP_MAX: usize = 39;

/// The envelope block: `<options>\n<client ip>\nHELO localhost\n<sender>\n<rcpt>\n…\n`.
///
/// Exim always sends the literal `HELO localhost` line (its `dcc_helo_option`), never
/// the client's HELO name; dccifd takes the line as the HELO value. A null sender is
/// sent as `<>`.
///
/// ```
/// let e = rexim::acl::dcc::request::envelope(b"header", b"192.0.2.1", b"", &[b"a@b.example".to_vec()]);
/// assert_eq!(e, b"header\n192.0.2.1\nHELO localhost\n<>\na@b.example\n\n");
/// ```
pub fn envelope(
    options: &[u8],
    client_ip: &[u8],
    sender: &[u8],
    recipients: &[Vec<u8>],
) -> Vec<u8> {
    let mut out = Vec::with_capacity(64 + recipients.iter().map(|r| r.len() + 1).sum::<usize>());
    out.extend_from_slice(options);
    out.push(b'\n');
    out.extend_from_slice(&client_ip[..client_ip.len().min(CLIENT_IP_MAX)]);
    out.extend_from_slice(b"\nHELO localhost\n");
    out.extend_from_slice(if sender.is_empty() { b"<>" } else { sender });
    out.push(b'\n');
    for r in recipients {
        out.extend_from_slice(r);
        out.push(b'\n');
    }
    out.push(b'\n');
    out
}

/// The message block: every header line as held (each ends in `\n`), then `\r\n` (Exim's
/// separator, a quirk kept), then the body as spooled in `-D` after its id line.
pub fn message<'a>(headers: impl IntoIterator<Item = &'a [u8]>, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() + 4096);
    for h in headers {
        out.extend_from_slice(h);
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelope_lines() {
        let rcpts = vec![b"a@x.example".to_vec(), b"b@y.example".to_vec()];
        assert_eq!(
            envelope(b"header", b"10.0.0.1", b"s@z.example", &rcpts),
            b"header\n10.0.0.1\nHELO localhost\ns@z.example\na@x.example\nb@y.example\n\n"
        );
        let long = [b'1'; 50];
        let e = envelope(b"", &long, b"", &[]);
        assert_eq!(
            e,
            [b"\n".as_slice(), &[b'1'; 39], b"\nHELO localhost\n<>\n\n"].concat()
        );
    }

    #[test]
    fn message_block() {
        let h: Vec<&[u8]> = vec![b"Received: x\n", b"Subject: hi\n"];
        assert_eq!(
            message(h, b"body\n"),
            b"Received: x\nSubject: hi\n\r\nbody\n"
        );
    }
}
