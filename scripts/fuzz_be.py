#!/usr/bin/env python3
"""Random differential testing of `rexim -be` against `exim4 -be`.

Builds random expansion lines from a token soup (mostly malformed on purpose), runs
them through both programs and prints how many outputs are byte-identical plus the
first differences. Lines that would run commands or touch files are skipped.
Usage: scripts/fuzz_be.py [LINES] [SEED] [REXIM]  (default 20000 1 target/release/rexim)
"""
import random
import subprocess
import sys

TOKENS = """${ } { $ \\ \\N if   eq lc: : a b fail ! and or def: h_x $h_ lookup dsearch lsearch sg
map reduce extract json jsons filter forall forany = < >= match_ip match acl item value x N 0 12
- _ \\x4 \\1 substr listextract tr hash nhash domain acl_m_x sha256: ${if  }{ }} sort listquote
hmac md5 prvs prvscheck srs_encode inbound_srs eval: eval10: base64: base64d: addresses: address:
mask: 1.2.3.4/24 ::1 ipv6norm: rfc2047: rfc2047d: =?utf-8?q?a?= quote_mysql: listnamed: [1,2]
<; <, ; , @ * partial- ret=key acl_c0 crypteq bool bool_lax isip inlist authresults certextract
imapfolder utf8clean: escape: time_eval: time_interval: 1d2h strlen: expand: from_utf8:
local_part: hexquote: base62: base32d:""".split()
TOKENS += ["\t", " ", "\u00e9"]
UNSAFE = ("run", "readfile", "stat", "exists", "env", "readsocket", "tod_", "randint", "pid")


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 20000
    rng = random.Random(int(sys.argv[2]) if len(sys.argv) > 2 else 1)
    rexim = sys.argv[3] if len(sys.argv) > 3 else "target/release/rexim"
    lines = []
    while len(lines) < n:
        s = "".join(rng.choice(TOKENS) for _ in range(rng.randint(1, 18)))
        # A trailing backslash would join the next line (-be continuation).
        if not any(u in s for u in UNSAFE) and not s.endswith("\\"):
            lines.append(s)
    data = ("\n".join(lines) + "\n").encode()
    run = lambda cmd: subprocess.run(cmd, input=data, capture_output=True, timeout=300).stdout
    # Each output follows a "> " prompt; drop the first prompt so item i is line i's output.
    ours = run([rexim, "-be"])[2:].split(b"\n> ")
    theirs = run(["exim4", "-C", "/dev/null", "-be"])[2:].split(b"\n> ")
    same = sum(a == b for a, b in zip(ours, theirs))
    print(f"{same} of {min(len(ours), len(theirs))} outputs identical")
    # Inputs are named only when outputs and lines align one to one.
    aligned = len(theirs) == len(lines) + 1
    shown = 0
    for i, (a, b) in enumerate(zip(theirs, ours)):
        if a != b and shown < 15:
            shown += 1
            where = repr(lines[i]) if aligned and i < len(lines) else f"output #{i}"
            print(f"input: {where}\n  exim4: {a[:160]!r}\n  rexim: {b[:160]!r}")


if __name__ == "__main__":
    main()
