//! End-to-end tests of `rexim -bd` (127.0.0.1, bounded reads) for the ACL features
//! that reach the spool: `control = freeze` (`-frozen` in `-H`, `frozen by ACL`, and
//! `exim4 -bp` showing `*** frozen ***`), `control = submission` (the added headers
//! with Exim's type letters, the old `Sender:` kept as `*`, the new envelope sender),
//! and `spam` against a fake spamd (`-spam_*` lines in `-H`).

#[path = "spam/fake_spamd.rs"]
#[allow(dead_code)] // the unix-socket server is used by tests/spam.rs only
mod fake_spamd;

mod support;

use support::client::id_of;
use support::daemon::{self, Daemon};
use support::tools::exim4;

fn start(name: &str, main: &str, rest: &str) -> Daemon {
    daemon::start(&format!("controls-{name}"), &format!("{main}\n{rest}"))
}

const AUTH: &str = "begin authenticators\nplain:\n  driver = plaintext\n  public_name = PLAIN\n  \
server_prompts = :\n  server_condition = ${if eq{$auth3}{secret}}\n  server_set_id = $auth2\n";

#[test]
fn freeze_reaches_the_spool_and_exim_sees_it_frozen() {
    let d = start(
        "freeze",
        "acl_smtp_rcpt = rcpt",
        "begin acl\nrcpt:\n  accept local_parts = cold\n         control = freeze/no_tell\n  accept\n",
    );
    let r = d.dialogue(&[
        "HELO client.example",
        "MAIL FROM:<a@client.example>",
        "RCPT TO:<cold@test.example>",
        "DATA",
        "Subject: frozen",
        "",
        "body",
        ".",
        "MAIL FROM:<a@client.example>",
        "RCPT TO:<warm@test.example>",
        "DATA",
        "Subject: not frozen",
        "",
        "body",
        ".",
        "QUIT",
    ]);
    let (cold, warm) = (id_of(&r[5]), id_of(&r[9]));
    let h = d.header_file(&cold);
    let frozen = h
        .lines()
        .find_map(|l| l.strip_prefix("-frozen "))
        .unwrap_or_else(|| panic!("{h}"));
    let t: i64 = frozen.parse().unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    assert!((now - t).abs() < 60, "{t} vs {now}");
    // Exim's place for it: right after -deliver_firsttime.
    assert!(
        h.contains(&format!("-deliver_firsttime\n-frozen {t}\n")),
        "{h}"
    );
    assert!(!d.header_file(&warm).contains("-frozen"));
    let log = d.mainlog();
    assert!(log.contains(&format!("{cold} frozen by ACL")), "{log}");
    assert!(!log.contains(&format!("{warm} frozen")), "{log}");
    let spool = rexim::spool::Spool::new(d.dir.join("spool"));
    assert!(spool.read_header(&cold).unwrap().has_flag("frozen"));
    if let Some(bp) = exim4(&d.exim_conf(""), &["-bp"]) {
        let line = bp.lines().find(|l| l.contains(&cold)).unwrap();
        assert!(line.ends_with("*** frozen ***"), "{bp}");
        let line = bp.lines().find(|l| l.contains(&warm)).unwrap();
        assert!(!line.contains("frozen"), "{bp}");
        assert_eq!(exim4(&d.exim_conf(""), &["-Mvh", &cold]).unwrap(), h);
    } else {
        eprintln!("SKIPPED exim4 part: exim4 is not installed");
    }
}

#[test]
fn submission_mode_headers_in_the_spool() {
    let d = start(
        "submission",
        "acl_smtp_rcpt = rcpt\nauth_advertise_hosts = *",
        &format!(
            "begin acl\nrcpt:\n  accept authenticated = *\n         \
             control = submission/domain=example.org\n  deny\n{AUTH}"
        ),
    );
    let r = d.dialogue(&[
        "EHLO client.example",
        "AUTH PLAIN AGZyZWQAc2VjcmV0",
        "MAIL FROM:<a@client.example>",
        "RCPT TO:<u@test.example>",
        "DATA",
        "Subject: submitted",
        "Sender: forged@else.example",
        "From: Someone <someone@else.example>",
        "",
        "body",
        ".",
        "QUIT",
    ]);
    let id = id_of(&r[6]);
    let h = d.header_file(&id);
    // Envelope sender replaced; the old Sender: kept but marked old; the added headers
    // typed as Exim types them (I, S, and ' ' for Date:).
    assert!(h.contains("\n<fred@example.org>\n"), "{h}");
    assert!(h.contains("* Sender: forged@else.example\n"), "{h}");
    assert!(
        h.contains("F From: Someone <someone@else.example>\n"),
        "{h}"
    );
    assert!(
        h.contains(&format!("I Message-Id: <E{id}@test.example>\n")),
        "{h}"
    );
    assert!(h.contains("S Sender: fred@example.org\n"), "{h}");
    assert!(h.contains("  Date: "), "{h}");
    let log = d.mainlog();
    assert!(log.contains(&format!("{id} <= fred@example.org ")), "{log}");
    if let Some(vh) = exim4(&d.exim_conf(""), &["-Mvh", &id]) {
        assert_eq!(vh, h);
    }
}

#[test]
fn spam_scores_reach_the_spool() {
    let reply = b"SPAMD/1.1 0 EX_OK\r\nContent-length: 10\r\n\r\n7.5/5.0\r\nreport\r\n".to_vec();
    let spamd = fake_spamd::FakeSpamd::tcp(reply, fake_spamd::Mode::Answer);
    let d = start(
        "spam",
        &format!(
            "acl_smtp_rcpt = accept\nacl_smtp_data = data\nspamd_address = 127.0.0.1 {}",
            spamd.port
        ),
        "begin acl\ndata:\n  warn spam = nobody:true\n       add_header = X-Spam-Bar: $spam_bar\n  accept\n",
    );
    let r = d.dialogue(&[
        "HELO client.example",
        "MAIL FROM:<a@client.example>",
        "RCPT TO:<u@test.example>",
        "DATA",
        "Subject: spammy",
        "",
        "body",
        ".",
        "QUIT",
    ]);
    let id = id_of(&r[5]);
    let h = d.header_file(&id);
    assert!(
        h.contains("-spam_bar +++++++\n-spam_score 7.5\n-spam_score_int 75\n"),
        "{h}"
    );
    assert!(h.contains(" X-Spam-Bar: +++++++\n"), "{h}");
    let seen = spamd.take_requests();
    assert_eq!(seen.len(), 1);
    let req = String::from_utf8_lossy(&seen[0]);
    assert!(
        req.starts_with("REPORT SPAMC/1.2\r\nUser: nobody\r\n"),
        "{req}"
    );
    assert!(req.contains("\nSubject: spammy\n\nbody\n"), "{req}");
    if let Some(vh) = exim4(&d.exim_conf(""), &["-Mvh", &id]) {
        assert_eq!(vh, h);
    }
}
