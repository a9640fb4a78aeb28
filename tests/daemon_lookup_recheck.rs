//! `rexim -bd` checks a lookup file on disk at most once a second (`LOOKUP_RECHECK`), not
//! on every lookup: an edit still shows, within the interval. The RCPT ACL accepts only
//! domains in an lsearch file; the test edits the file in place and replaces it by a
//! rename between RCPTs of one connection. Over 127.0.0.1, bounded in time.

mod support;

use std::io::Write;
use std::time::Duration;

use support::daemon;

/// Longer than the daemon's re-check interval, so the next lookup looks at the file again.
const PAST_INTERVAL: Duration = Duration::from_millis(1300);

#[test]
fn lookup_file_edits_show_after_the_recheck_interval() {
    let dir = daemon::fresh_dir("recheck");
    let domains = dir.join("domains");
    std::fs::write(&domains, "old.example: x\n").expect("domains");
    let d = daemon::start_in(
        dir.clone(),
        daemon::free_port(),
        "host_lookup =\ndomainlist local_domains = lsearch;TESTDIR/domains\n\
         acl_smtp_rcpt = rcpt\nbegin acl\n\
         rcpt:\n  accept domains = +local_domains\n  deny message = not local\n",
    );
    let mut c = d.connect();
    assert!(c.reply().starts_with("220 test.example"));
    assert!(c.cmd("EHLO client.example").starts_with("250"));
    assert!(c.cmd("MAIL FROM:<a@client.example>").starts_with("250"));
    assert!(c.cmd("RCPT TO:<u@old.example>").starts_with("250"));
    assert_eq!(c.cmd("RCPT TO:<u@new.example>"), "550 not local");

    // Edited in place (same inode): the next lookup after the interval sees the new line.
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&domains)
        .expect("open for append");
    f.write_all(b"new.example: y\n").expect("append");
    drop(f);
    std::thread::sleep(PAST_INTERVAL);
    assert!(c.cmd("RCPT TO:<u@new.example>").starts_with("250"));

    // Replaced by a rename (a new inode, as editors and `install` do it).
    let fresh = dir.join("domains.new");
    std::fs::write(&fresh, "new.example: y\n").expect("new file");
    std::fs::rename(&fresh, &domains).expect("rename");
    std::thread::sleep(PAST_INTERVAL);
    assert_eq!(c.cmd("RCPT TO:<u@old.example>"), "550 not local");
    assert!(c.cmd("RCPT TO:<u@new.example>").starts_with("250"));
    assert!(c.cmd("QUIT").starts_with("221"));
}
