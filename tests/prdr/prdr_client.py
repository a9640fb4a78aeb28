#!/usr/bin/env python3
"""A PRDR client (draft-hall-prdr): EHLO, MAIL FROM with PRDR, the recipients, DATA;
then it reads the 353 reply, one reply per recipient and the final reply.

usage: prdr_client.py PORT SENDER RCPT... ; prints each reply line as received, and
exits 2 when the server does not offer PRDR. 127.0.0.1 only; every read is bounded."""

import socket
import sys

TIMEOUT = 10


def main():
    port, sender, rcpts = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
    sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
    sock.settimeout(TIMEOUT)
    reader = sock.makefile("rb")

    def reply():
        lines = []
        while True:
            line = reader.readline(4096)
            if not line:
                raise SystemExit("connection closed: %r" % lines)
            text = line.decode("ascii", "replace").rstrip("\r\n")
            lines.append(text)
            print(text, flush=True)
            if len(text) < 4 or text[3] != "-":
                return lines

    def send(line):
        sock.sendall(line.encode("ascii") + b"\r\n")

    reply()
    send("EHLO client.example")
    if not any(l[4:].upper() == "PRDR" for l in reply()):
        raise SystemExit(2)
    send("MAIL FROM:<%s> PRDR" % sender)
    reply()
    for r in rcpts:
        send("RCPT TO:<%s>" % r)
        reply()
    send("DATA")
    if not reply()[-1].startswith("354"):
        raise SystemExit("DATA refused")
    sock.sendall(b"Subject: prdr test\r\n\r\nper-recipient body\r\n.\r\n")
    first = reply()[-1]
    if first.startswith("353"):
        for _ in rcpts:
            reply()
        reply()
    send("QUIT")
    reply()


if __name__ == "__main__":
    main()
