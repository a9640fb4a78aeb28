//! Spool tests: sessions write real spool files, which are read back by rexim and, where
//! installed, by Exim 4.96 (`exim4 -bp`, `-Mvh`) and `exipick`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use super::header::{header_type, HeaderFile};
use super::queue::{format_age, format_size};
use super::Spool;
use crate::expand::Context;
use crate::smtp::{Peer, Session, SessionConfig};

/// A fresh directory under the system temp dir, removed on drop.
pub(super) struct TempDir(pub(super) PathBuf);

impl TempDir {
    pub(super) fn new(tag: &str) -> TempDir {
        let p = std::env::temp_dir().join(format!(
            "rexim-spool-{tag}-{}-{:?}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        ));
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

const CONFIG: &str = "acl_smtp_rcpt = accept\nacl_smtp_data = acl_data\n\
begin acl\nacl_data:\n  warn set acl_m_foo = bar\n       set acl_c0 = x\n       add_header = X-Added: yes\n       remove_header = X-Remove\n  accept\n";

/// Run an SMTP dialogue (lines joined with CRLF) into a session storing in `spool`.
pub(super) fn deliver(spool: &Arc<Spool>, ident: Option<&str>, lines: &[&str]) -> String {
    deliver_logged(spool, ident, lines).0
}

/// As `deliver`, also returning the session's log lines.
fn deliver_logged(
    spool: &Arc<Spool>,
    ident: Option<&str>,
    lines: &[&str],
) -> (String, Vec<String>) {
    deliver_named(spool, ident, None, lines)
}

/// As `deliver_logged`, with a verified host name for the client.
fn deliver_named(
    spool: &Arc<Spool>,
    ident: Option<&str>,
    name: Option<&str>,
    lines: &[&str],
) -> (String, Vec<String>) {
    deliver_with(spool, ident, name, &Extra::default(), lines)
}

/// Configuration added around `CONFIG`: main options in front, sections after.
#[derive(Default)]
struct Extra {
    main: &'static str,
    tail: &'static str,
}

/// As `deliver_named`, with extra configuration.
fn deliver_with(
    spool: &Arc<Spool>,
    ident: Option<&str>,
    name: Option<&str>,
    extra: &Extra,
    lines: &[&str],
) -> (String, Vec<String>) {
    let macros = crate::config::initial_macros(&[]).expect("macros");
    let text = format!("{}{CONFIG}{}", extra.main, extra.tail);
    let loaded = crate::config::load_text("test.conf", text.as_str(), macros);
    assert!(loaded.errors.is_empty(), "{:?}", loaded.errors);
    let (mut cfg, acls) = SessionConfig::from_config(&loaded).expect("config");
    cfg.primary_hostname = "mx.test".into();
    let peer = Peer {
        address: "192.0.2.1".into(),
        port: 1234,
        interface_address: Some("192.0.2.2".into()),
        interface_port: 25,
        ident: ident.map(str::to_string),
        name: name.map(str::to_string),
    };
    let mut s = Session::new(Arc::new(cfg), Arc::new(acls), Context::default(), peer);
    s.sink = Some(spool.clone());
    s.start();
    let mut input = lines.join("\r\n");
    input.push_str("\r\n");
    s.feed(input.as_bytes());
    (
        String::from_utf8(s.take_output()).unwrap(),
        std::mem::take(&mut s.log),
    )
}

pub(super) const DIALOGUE: &[&str] = &[
    "EHLO client.example",
    "MAIL FROM:<a@b.example>",
    "RCPT TO:<c@d.example>",
    "DATA",
    "Subject: x",
    "To: c@d.example",
    "From: a@b.example",
    "",
    "hello",
    "world line",
    ".",
    "QUIT",
];

fn only_id(spool: &Spool) -> String {
    let ids = spool.message_ids().unwrap();
    assert_eq!(ids.len(), 1, "{ids:?}");
    ids[0].clone()
}

#[test]
fn session_writes_d_and_h() {
    let dir = TempDir::new("dh");
    let spool = Arc::new(Spool::new(&dir.0));
    let out = deliver(&spool, None, DIALOGUE);
    assert!(out.contains("250 OK id="), "{out}");
    let id = only_id(&spool);
    assert!(out.contains(&format!("250 OK id={id}")), "{out}");
    let d = std::fs::read(spool.file(&id, "D").unwrap()).unwrap();
    assert_eq!(d, format!("{id}-D\nhello\nworld line\n").into_bytes());
    let h = spool.read_header(&id).unwrap();
    assert_eq!(h.sender, b"a@b.example");
    assert_eq!(h.recipients.len(), 1);
    assert_eq!(h.recipients[0].address, b"c@d.example");
    assert_eq!(
        h.option("received_protocol").unwrap().value.as_deref(),
        Some(&b"esmtp"[..])
    );
    let helo = h.option("helo_name").unwrap();
    assert!(helo.tainted && helo.value.as_deref() == Some(&b"client.example"[..]));
    assert_eq!(
        h.option("body_linecount").unwrap().value.as_deref(),
        Some(&b"2"[..])
    );
    assert_eq!(
        h.option("max_received_linelength")
            .unwrap()
            .value
            .as_deref(),
        Some(&b"17"[..])
    );
    assert_eq!(h.acl_vars.len(), 2);
    assert_eq!(
        (h.acl_vars[0].scope, h.acl_vars[0].rest.as_str()),
        ('c', "0")
    );
    assert_eq!(
        (h.acl_vars[1].scope, h.acl_vars[1].value.as_slice()),
        ('m', &b"bar"[..])
    );
    let kinds: Vec<u8> = h.headers.iter().map(|x| x.kind).collect();
    assert_eq!(kinds, b"P TF ");
    let received = String::from_utf8(h.headers[0].text.clone()).unwrap();
    assert!(
        received.starts_with(&format!(
            "Received: from [192.0.2.1] (helo=client.example)\n\tby mx.test with esmtp (Exim 4.96)\n\t(envelope-from <a@b.example>)\n\tid {id}\n\tfor c@d.example;\n\t"
        )),
        "{received}"
    );
    // No temporary files are left behind.
    let names: Vec<String> = std::fs::read_dir(spool.input_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
    // Serialisation reads back to the same bytes.
    let bytes = std::fs::read(spool.file(&id, "H").unwrap()).unwrap();
    assert_eq!(HeaderFile::parse(&bytes).unwrap().to_bytes(), bytes);
}

#[test]
fn failing_spool_answers_451() {
    let dir = TempDir::new("fail");
    // `input` is a file, so the spool cannot create its directory.
    std::fs::write(dir.0.join("input"), b"").unwrap();
    let spool = Arc::new(Spool::new(&dir.0));
    let out = deliver(&spool, None, DIALOGUE);
    assert!(out.contains("451 Temporary local problem"), "{out}");
    assert!(!out.contains("250 OK id="), "{out}");
}

#[test]
fn removed_and_added_headers_and_no_blank_line() {
    let dir = TempDir::new("rm");
    let spool = Arc::new(Spool::new(&dir.0));
    let out = deliver(
        &spool,
        None,
        &[
            "HELO h",
            "MAIL FROM:<>",
            "RCPT TO:<x@y>",
            "RCPT TO:<z@y>",
            "DATA",
            "Cc: q@r",
            "\tcontinued",
            "not a header",
            "..dot",
            ".",
        ],
    );
    assert!(out.contains("250 OK id="), "{out}");
    let id = only_id(&spool);
    let h = spool.read_header(&id).unwrap();
    assert!(h.sender.is_empty());
    assert_eq!(h.headers.len(), 3);
    assert_eq!(h.headers[2].text, b"X-Added: yes\n");
    assert_eq!(h.headers[1].kind, b'C');
    assert_eq!(h.headers[1].text, b"Cc: q@r\n\tcontinued\n");
    // Two recipients: no "for" clause.
    assert!(!String::from_utf8_lossy(&h.headers[0].text).contains("\tfor "));
    assert_eq!(spool.read_body(&id).unwrap(), b"not a header\n.dot\n");
    let raw = std::fs::read(spool.file(&id, "H").unwrap()).unwrap();
    assert!(raw.starts_with(format!("{id}-H\n").as_bytes()));
    assert!(String::from_utf8_lossy(&raw).contains("\n<>\n"));
}

#[test]
fn reads_exims_own_sample() {
    let sample = "1xVaTL-00007s-1n-H\nroot 0 0\n<sender@example.com>\n1795465027 0\n\
-received_time_usec .558541\n-received_time_complete 1795465027.565174\n-ident root\n\
-received_protocol local\n-body_linecount 2\n-max_received_linelength 19\n\
-allow_unqualified_recipient\n-allow_unqualified_sender\n-deliver_firsttime\n\
-tls_resumption A\nXX\n2\nrcpt1@localhost\nrcpt2@localhost\n\n\
142P Received: from root by vm with local (Exim 4.96)\n\t(envelope-from <sender@example.com>)\n\
\tid 1xVaTL-00007s-1n;\n\tMon, 23 Nov 2026 20:17:07 +0000\n\
020  Subject: spool test\n012  X-Test: yes\n035I Message-Id: <E1xVaTL-00007s-1n@vm>\n\
025F From: sender@example.com\n038  Date: Mon, 23 Nov 2026 20:17:07 +0000\n";
    let h = HeaderFile::parse(sample.as_bytes()).unwrap();
    assert_eq!(h.id, "1xVaTL-00007s-1n");
    assert_eq!((h.login.as_str(), h.uid, h.gid), ("root", 0, 0));
    assert_eq!(h.recipients.len(), 2);
    assert_eq!(h.headers.len(), 6);
    assert_eq!(h.header_size(), 142 + 20 + 12 + 35 + 25 + 38);
    assert_eq!(String::from_utf8(h.to_bytes()).unwrap(), sample);
}

#[test]
fn dsn_recipients_trees_and_tainted_acl_vars_round_trip() {
    let sample = "1xVaTL-00007s-1n-H\nexim 101 102\n<>\n1795465027 1\n\
--helo_name x y\n--aclm _v 7\nab\ncd e\n-frozen 1795465030\n\
YY b@x\nNN a@x\nNN c@x\n2\nweird address@x rfc822;o@x 10,6  0,-1#3\nold@x err@x 5,0#1\n\n\
011* Subject: x\n";
    let h = HeaderFile::parse(sample.as_bytes()).unwrap();
    assert_eq!(
        h.non_recipients,
        vec![b"b@x".to_vec(), b"a@x".to_vec(), b"c@x".to_vec()]
    );
    assert_eq!(h.recipients[0].address, b"weird address@x");
    assert_eq!(h.recipients[0].orcpt.as_deref(), Some(&b"rfc822;o@x"[..]));
    assert_eq!(h.recipients[0].dsn_flags, 6);
    assert_eq!(h.recipients[1].address, b"old@x");
    assert_eq!(h.recipients[1].errors_to.as_deref(), Some(&b"err@x"[..]));
    assert_eq!(h.acl_vars[0].value, b"ab\ncd e");
    assert!(h.acl_vars[0].tainted);
    assert_eq!(h.header_size(), 0);
    // Re-written: the old `#1` form becomes `#3`, everything else is identical.
    let again = HeaderFile::parse(&h.to_bytes()).unwrap();
    assert_eq!(again, h);
}

#[test]
fn malformed_headers_are_named_errors() {
    for bad in [
        "",
        "x-H\n",
        "1xVaTL-00007s-1n-H\nroot 0\n",
        "1xVaTL-00007s-1n-H\nroot 0 0\nnoangle\n1 0\nXX\n0\n\n",
        "1xVaTL-00007s-1n-H\nroot 0 0\n<>\n1 0\n-aclm _x 99\nshort\nXX\n0\n\n",
        "1xVaTL-00007s-1n-H\nroot 0 0\n<>\n1 0\nXX\n3\na\n",
        "1xVaTL-00007s-1n-H\nroot 0 0\n<>\n1 0\nXX\n0\n\n999  short\n",
        "1xVaTL-00007s-1n-H\nroot 0 0\n<>\n1 0\nXX\n0\n\nabc\n",
    ] {
        let e = HeaderFile::parse(bad.as_bytes()).unwrap_err();
        assert!(
            e.to_string().starts_with("spool format error"),
            "{bad:?}: {e}"
        );
    }
}

#[test]
fn header_types_and_sizes() {
    assert_eq!(header_type(b"Message-ID: <x>\n"), b'I');
    assert_eq!(header_type(b"reply-to : x\n"), b'R');
    assert_eq!(header_type(b"X-Other: x\n"), b' ');
    assert_eq!(format_size(0), "     ");
    assert_eq!(format_size(256), "  256");
    assert_eq!(format_size(2048), " 2.0K");
    assert_eq!(format_size(20 * 1024), "  20K");
    assert_eq!(format_size(3 * 1024 * 1024), " 3.0M");
    assert_eq!(format_size(30 * 1024 * 1024), "  30M");
    assert_eq!(format_age(59), " 0m ");
    assert_eq!(format_age(91 * 60), " 2h ");
    assert_eq!(format_age(80 * 3600), " 3d ");
    assert!(Spool::new("/x").file("../../etc", "H").is_err());
}

/// An Exim configuration pointing at `spool` that lets the current user read the queue.
fn exim_conf(dir: &Path, spool: &Spool) -> Option<PathBuf> {
    exim_conf_with(dir, spool, &Extra::default())
}

fn exim_conf_with(dir: &Path, spool: &Spool, extra: &Extra) -> Option<PathBuf> {
    let exim = Command::new("exim4").arg("--version").output().ok()?;
    if !exim.status.success() {
        return None;
    }
    let conf = dir.join("exim.conf");
    let user = &spool.originator.0;
    let group_id = spool.originator.2;
    std::fs::write(
        &conf,
        format!(
            "{}spool_directory = {}\nlog_file_path = {}/%slog\nexim_user = {user}\nexim_group = {group_id}\n\
             keep_environment =\nqueue_list_requires_admin = false\nprimary_hostname = mx.test\n\
             queue_only = true\nacl_smtp_rcpt = accept\nacl_smtp_data = acl_data\n\
             begin acl\nacl_data:\n  warn set acl_m_foo = bar\n       set acl_c0 = x\n       add_header = X-Added: yes\n       remove_header = X-Remove\n  accept\n{}",
            extra.main,
            spool.dir.display(),
            spool.dir.display(),
            extra.tail
        ),
    )
    .ok()?;
    Some(conf)
}

#[test]
fn exim_and_exipick_read_rexim_spool() {
    let dir = TempDir::new("exim");
    let spool = Arc::new(Spool::new(dir.0.join("spool")));
    let Some(conf) = exim_conf(&dir.0, &spool) else {
        eprintln!("SKIP exim_and_exipick_read_rexim_spool: exim4 is not installed");
        return;
    };
    deliver(&spool, None, DIALOGUE);
    deliver(
        &spool,
        None,
        &[
            "EHLO second.example",
            "MAIL FROM:<>",
            "RCPT TO:<r1@x.example>",
            "RCPT TO:<r2@x.example>",
            "DATA",
            "Subject: two",
            "",
            "body",
            ".",
        ],
    );
    let ids = spool.message_ids().unwrap();
    assert_eq!(ids.len(), 2);
    let mut ours = Vec::new();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    spool.write_listing(&mut ours, now).unwrap();
    let ours = String::from_utf8(ours).unwrap();
    let bp = Command::new("exim4")
        .arg("-C")
        .arg(&conf)
        .arg("-bp")
        .output()
        .unwrap();
    let theirs = String::from_utf8_lossy(&bp.stdout).into_owned();
    assert!(
        bp.status.success(),
        "{theirs} {}",
        String::from_utf8_lossy(&bp.stderr)
    );
    assert!(!theirs.contains("***"), "{theirs}");
    assert!(
        theirs.contains(&format!(
            "{} <a@b.example>\n          c@d.example\n",
            ids[0]
        )) || theirs.contains(&format!(
            "{} <a@b.example>\n          c@d.example\n",
            ids[1]
        )),
        "{theirs}"
    );
    assert!(
        theirs.contains(" <>\n          r1@x.example\n          r2@x.example\n"),
        "{theirs}"
    );
    // rexim -bp prints exactly what Exim prints (sizes included).
    assert_eq!(ours, theirs);
    for id in &ids {
        let vh = Command::new("exim4")
            .arg("-C")
            .arg(&conf)
            .args(["-Mvh", id])
            .output()
            .unwrap();
        assert!(vh.status.success());
        assert_eq!(
            vh.stdout,
            std::fs::read(spool.file(id, "H").unwrap()).unwrap()
        );
    }
    if Command::new("exipick").arg("--help").output().is_err() {
        eprintln!("SKIP exipick part: exipick is not installed");
        return;
    }
    let pick = Command::new("exipick")
        .arg("--spool")
        .arg(&spool.dir)
        .args([
            "--show-vars",
            "sender_address,message_size,recipients,acl_m_foo",
            "-i",
        ])
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&pick.stdout).into_owned();
    assert!(pick.status.success(), "{out}");
    for want in [
        "sender_address='a@b.example'",
        "sender_address=''",
        "recipients='c@d.example'",
        "r1@x.example",
        "r2@x.example",
        "acl_m_foo='bar'",
    ] {
        assert!(out.contains(want), "{want}: {out}");
    }
    // exipick's sizes agree with Exim's -bp column.
    for q in spool.list().unwrap() {
        let line = theirs.lines().find(|l| l.contains(&q.id)).unwrap();
        assert!(
            line.contains(&format!("{} {}", format_size(q.size), q.id)),
            "{line}"
        );
        assert!(out.contains(&format!("message_size='{}'", q.size)), "{out}");
    }
}

/// The same dialogue through Exim 4.96 (`-bs`, queue only) gives the same `-H` file,
/// apart from ids, times and the taint of the `-oMa`/`-oMi` addresses.
#[test]
fn header_file_matches_exims_for_the_same_dialogue() {
    differential("plain", None, DIALOGUE);
    // A verified host name differing from HELO, several recipients, a removed header.
    differential(
        "named",
        Some("client.example"),
        &[
            "EHLO other.example",
            "MAIL FROM:<>",
            "RCPT TO:<r1@x.example>",
            "RCPT TO:<r2@x.example>",
            "DATA",
            "X-Remove: gone",
            "Message-ID: <m@x>",
            "Cc: a@b,",
            "  c@d",
            "",
            "body",
            ".",
            "QUIT",
        ],
    );
    // SMTPUTF8 on MAIL: `-smtputf8` and Exim's utf8 protocol name.
    differential(
        "utf8",
        None,
        &[
            "EHLO c.example",
            "MAIL FROM:<\u{e9}@b.example> SMTPUTF8",
            "RCPT TO:<c@d.example>",
            "DATA",
            "Subject: caf\u{e9}",
            "",
            "x",
            ".",
            "QUIT",
        ],
    );
    // CHUNKING: one BDAT LAST chunk.
    differential(
        "bdat",
        None,
        &[
            "EHLO c.example",
            "MAIL FROM:<a@b.example>",
            "RCPT TO:<c@d.example>",
            "BDAT 20 LAST",
            "Subject: b",
            "",
            "body",
            "QUIT",
        ],
    );
    // HELO with the client's own address literal, HELO (not EHLO), no header section.
    differential(
        "literal",
        None,
        &[
            "HELO [192.0.2.1]",
            "MAIL FROM:<a@b.example>",
            "RCPT TO:<c@d.example>",
            "DATA",
            "just a body line",
            ".",
            "QUIT",
        ],
    );
}

fn differential(tag: &str, name: Option<&str>, dialogue: &[&str]) {
    differential_with(tag, name, &Extra::default(), dialogue)
}

fn differential_with(tag: &str, name: Option<&str>, extra: &Extra, dialogue: &[&str]) {
    let dir = TempDir::new(tag);
    let mut exim_spool = Spool::new(dir.0.join("exim"));
    exim_spool.split = extra.main.contains("split_spool_directory = true");
    let Some(conf) = exim_conf_with(&dir.0, &exim_spool, extra) else {
        eprintln!("SKIP header_file_matches_exims: exim4 is not installed");
        return;
    };
    if exim_spool.originator.1 != 0 {
        eprintln!("SKIP header_file_matches_exims: -oMa needs a trusted (root) caller");
        return;
    }
    let mut input = dialogue.join("\r\n");
    input.push_str("\r\n");
    let mut child = Command::new("exim4")
        .arg("-C")
        .arg(&conf)
        .args(name.map(|n| vec!["-oMs", n]).unwrap_or_default())
        .args([
            "-odq",
            "-oMa",
            "192.0.2.1.1234",
            "-oMi",
            "192.0.2.2.25",
            "-oMr",
            "esmtp",
            "-bs",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let exim_id = only_id(&exim_spool);
    let mut ours_spool = Spool::new(dir.0.join("ours"));
    ours_spool.split = exim_spool.split;
    let ours_spool = Arc::new(ours_spool);
    // Exim -bs as root records ident "root"; give our peer the same.
    let (_, our_log) = deliver_with(&ours_spool, Some("root"), name, extra, dialogue);
    let our_id = only_id(&ours_spool);
    // The `<=` log lines agree, S= included.
    let exim_log = std::fs::read_to_string(exim_spool.dir.join("mainlog")).unwrap();
    let theirs_arrival = exim_log
        .lines()
        .find_map(|l| {
            l.split_once(&format!("{exim_id} <= "))
                .map(|(_, r)| r.to_string())
        })
        .unwrap();
    let ours_arrival = our_log
        .iter()
        .find_map(|l| {
            l.split_once(&format!("{our_id} <= "))
                .map(|(_, r)| r.to_string())
        })
        .unwrap();
    assert_eq!(ours_arrival, theirs_arrival);
    let normalise = |bytes: Vec<u8>, id: &str| -> String {
        let text = String::from_utf8(bytes).unwrap().replace(id, "ID");
        text.lines()
            .map(|l| {
                if l.starts_with("-received_time") {
                    "-received_time".to_string()
                } else if l.starts_with("\t") && l.ends_with(" +0000")
                    || l.starts_with("\t") && l.contains(", ")
                {
                    "\tDATE".to_string()
                } else if l.chars().all(|c| c.is_ascii_digit() || c == ' ')
                    && l.contains(' ')
                    && !l.starts_with(' ')
                {
                    "TIME 0".to_string()
                } else {
                    l.trim_start_matches('-').to_string()
                }
            })
            .collect::<Vec<_>>()
            .join("\n")
    };
    let theirs = normalise(
        std::fs::read(exim_spool.file(&exim_id, "H").unwrap()).unwrap(),
        &exim_id,
    );
    let ours = normalise(
        std::fs::read(ours_spool.file(&our_id, "H").unwrap()).unwrap(),
        &our_id,
    );
    assert_eq!(ours, theirs);
    assert_eq!(
        ours_spool.read_body(&our_id).unwrap(),
        exim_spool.read_body(&exim_id).unwrap()
    );
}

#[test]
fn spool_from_config_uses_its_options() {
    let dir = TempDir::new("cfg");
    let text = format!(
        "spool_directory = {}/sp\nreceived_header_text = Received: by me for $sender_address\n",
        dir.0.display()
    );
    let macros = crate::config::initial_macros(&[]).expect("macros");
    let loaded = crate::config::load_text("t.conf", text.as_str(), macros);
    assert!(loaded.errors.is_empty(), "{:?}", loaded.errors);
    let spool = Arc::new(Spool::from_config(&loaded).unwrap());
    assert_eq!(spool.dir, dir.0.join("sp"));
    deliver(&spool, None, DIALOGUE);
    let h = spool.read_header(&only_id(&spool)).unwrap();
    let received = String::from_utf8(h.headers[0].text.clone()).unwrap();
    assert!(
        received.starts_with("Received: by me for a@b.example;\n\t"),
        "{received}"
    );
    let split = crate::config::load_text(
        "t.conf",
        "split_spool_directory = true\n",
        crate::config::initial_macros(&[]).expect("macros"),
    );
    assert!(Spool::from_config(&split).unwrap().split);
}

#[test]
fn failed_data_write_leaves_no_header() {
    let dir = TempDir::new("crash");
    let spool = Spool::new(&dir.0);
    let h = HeaderFile {
        id: "1xVc00-0000AB-00".into(),
        login: "u".into(),
        ..HeaderFile::default()
    };
    // A directory in the way of the -D rename makes the data write fail.
    std::fs::create_dir_all(spool.input_dir().join("1xVc00-0000AB-00-D/x")).unwrap();
    let e = spool.write(&h, b"body\n").unwrap_err();
    assert!(matches!(e, super::SpoolError::Io { .. }), "{e}");
    let names: Vec<String> = std::fs::read_dir(spool.input_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names,
        vec!["1xVc00-0000AB-00-D".to_string()],
        "no -H, no temp file"
    );
    // With the obstacle gone the same message is stored, -D then -H.
    std::fs::remove_dir_all(spool.input_dir().join("1xVc00-0000AB-00-D")).unwrap();
    spool.write(&h, b"body\n").unwrap();
    assert_eq!(spool.read_body("1xVc00-0000AB-00").unwrap(), b"body\n");
    assert_eq!(spool.read_header("1xVc00-0000AB-00").unwrap(), h);
}

const AUTH_EXTRA: Extra = Extra {
    main: "dsn_advertise_hosts = *\n",
    tail: "begin authenticators\nplain:\n  driver = plaintext\n  public_name = PLAIN\n  \
server_prompts = :\n  server_condition = ${if eq{$auth3}{secret}}\n  server_set_id = $auth2\n",
};

/// AUTH (`-host_auth`, `-host_auth_pubname`, `--auth_id`, `--auth_sender`, `esmtpa`, the
/// `A=` log element) and DSN (`-dsn_envid`, `-dsn_ret`, recipient flags; an ORCPT without
/// NOTIFY is dropped, as Exim does) give the same `-H` file as Exim's.
#[test]
fn header_file_matches_exims_with_auth_and_dsn() {
    differential_with(
        "auth",
        None,
        &AUTH_EXTRA,
        &[
            "EHLO c.example",
            "AUTH PLAIN AHVzZXIAc2VjcmV0",
            "MAIL FROM:<a@b.example> AUTH=a+2Bb@c RET=HDRS ENVID=x+2By",
            "RCPT TO:<c@d.example> NOTIFY=SUCCESS,DELAY ORCPT=rfc822;c@d.example",
            "RCPT TO:<e@d.example> ORCPT=rfc822;e@d.example",
            "RCPT TO:<f@d.example> NOTIFY=never",
            "DATA",
            "Subject: a",
            "",
            "x",
            ".",
            "QUIT",
        ],
    );
}

/// `split_spool_directory`: files in `input/<6th id character>/`, found by Exim's `-bp`
/// and `-Mvh`, and by rexim's listing.
#[test]
fn split_spool_matches_exims_layout() {
    const SPLIT: Extra = Extra {
        main: "split_spool_directory = true\n",
        tail: "",
    };
    differential_with("split", None, &SPLIT, DIALOGUE);
    let dir = TempDir::new("splitbp");
    let mut spool = Spool::new(dir.0.join("spool"));
    spool.split = true;
    let spool = Arc::new(spool);
    let Some(conf) = exim_conf_with(&dir.0, &spool, &SPLIT) else {
        eprintln!("SKIP split_spool_matches_exims_layout: exim4 is not installed");
        return;
    };
    deliver(&spool, None, DIALOGUE);
    let id = only_id(&spool);
    let sub = spool.input_dir().join(&id[5..6]);
    assert!(sub.join(format!("{id}-H")).exists());
    assert!(sub.join(format!("{id}-D")).exists());
    assert!(!spool.input_dir().join(format!("{id}-H")).exists());
    assert_eq!(spool.read_header(&id).unwrap().id, id);
    let bp = Command::new("exim4")
        .arg("-C")
        .arg(&conf)
        .arg("-bp")
        .output()
        .unwrap();
    let theirs = String::from_utf8_lossy(&bp.stdout).into_owned();
    let mut ours = Vec::new();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    spool.write_listing(&mut ours, now).unwrap();
    assert!(theirs.contains(&id), "{theirs}");
    assert_eq!(String::from_utf8(ours).unwrap(), theirs);
    // A spool written unsplit is still found after the option is turned on, and back.
    let mut flat = Spool::new(dir.0.join("flat"));
    let flat_arc = Arc::new(flat.clone());
    deliver(&flat_arc, None, DIALOGUE);
    let fid = only_id(&flat);
    flat.split = true;
    assert_eq!(flat.read_header(&fid).unwrap().id, fid);
    assert_eq!(only_id(&flat), fid);
}

#[test]
fn header_split_keeps_continuations_and_stops_at_the_body() {
    use super::build::{header_slices, split_headers};
    let data = b"Subject: a\n b\nFrom: x\nnot a header\nbody\n";
    let (h, body) = split_headers(data);
    assert_eq!(h, vec![b"Subject: a\n b\n".to_vec(), b"From: x\n".to_vec()]);
    assert_eq!(body, b"not a header\nbody\n");
    let (h, body) = split_headers(b"A: 1\n\nbody");
    assert_eq!((h, body), (vec![b"A: 1\n".to_vec()], &b"body"[..]));
    // The last line may lack its newline: the owned form adds it, the borrowed does not.
    assert_eq!(split_headers(b"A: 1").0, vec![b"A: 1\n".to_vec()]);
    assert_eq!(header_slices(b"A: 1").0, vec![&b"A: 1"[..]]);
    let (h, body) = split_headers(b" x\nA: 1\n");
    assert!(h.is_empty());
    assert_eq!(body, b" x\nA: 1\n");
}
