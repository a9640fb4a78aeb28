//! SPF checks against an offline fixture zone (no resolver configuration is read).

use std::sync::Arc;

use crate::dns::FakeResolver;
use crate::mailauth::spf::{check, SpfOutcome, SpfRequest};
use crate::mailauth::spf_dns::{OfflineZone, SpfDns};

const ZONE: &str = r#"
pass.example TXT "v=spf1 ip4:192.0.2.0/24 -all"
fail.example TXT "v=spf1 ip4:198.51.100.1 -all"
soft.example TXT "v=spf1 ~all"
neutral.example TXT "v=spf1 ?all"
nomatch.example TXT "v=spf1 ip4:198.51.100.1"
other.example TXT "some other text"
broken.example TXT "v=spf1 ip4:not-an-address -all"
slow.example SERVFAIL
aslow.example TXT "v=spf1 a:host.slowzone.example -all"
host.slowzone.example SERVFAIL
inc.example TXT "v=spf1 include:pass.example -all"
incmissing.example TXT "v=spf1 include:nothing.example -all"
redir.example TXT "v=spf1 redirect=pass.example"
mac.example TXT "v=spf1 exists:%{l}.%{o}.users.example -all"
alice.mac.example.users.example A 127.0.0.2
mxhost.example TXT "v=spf1 mx -all"
mxhost.example MX 10 mail.mxhost.example
mail.mxhost.example A 192.0.2.10
exp.example TXT "v=spf1 -all exp=why.exp.example"
why.exp.example TXT "%{i} is not one of %{d}'s hosts"
guess.example A 192.0.2.20
guess.example MX 10 mx.guess.example
mx.guess.example A 203.0.113.5
"#;

fn dns() -> SpfDns {
    let zone = FakeResolver::parse(ZONE).expect("zone");
    SpfDns::Offline(Arc::new(OfflineZone::from_zone(&zone)))
}

fn req(ip: &str, sender: &str) -> SpfRequest {
    SpfRequest {
        ip: ip.parse().unwrap(),
        helo: "client.example".into(),
        sender: sender.into(),
        receiver: "mx.rexim.test".into(),
        guess: None,
        comment_template: "Please%_see%_http://www.open-spf.org/Why".into(),
    }
}

fn run(ip: &str, sender: &str) -> SpfOutcome {
    check(&req(ip, sender), &dns())
}

#[test]
fn pass_with_exim_texts() {
    let o = run("192.0.2.7", "bob@pass.example");
    assert_eq!(o.result, "pass");
    assert_eq!(
        o.header_comment,
        "mx.rexim.test: domain of pass.example designates 192.0.2.7 as permitted sender"
    );
    assert_eq!(
        o.received,
        "Received-SPF: pass (mx.rexim.test: domain of pass.example designates 192.0.2.7 as \
         permitted sender) client-ip=192.0.2.7; envelope-from=bob@pass.example; helo=client.example;"
    );
    assert_eq!(o.smtp_comment, "");
    assert!(!o.guessed);
}

#[test]
fn fail_softfail_neutral() {
    let o = run("192.0.2.7", "bob@fail.example");
    assert_eq!(o.result, "fail");
    assert_eq!(
        o.header_comment,
        "mx.rexim.test: domain of fail.example does not designate 192.0.2.7 as permitted sender"
    );
    assert_eq!(
        o.smtp_comment,
        "Please see http://www.open-spf.org/Why : Reason: mechanism"
    );
    let o = run("192.0.2.7", "bob@soft.example");
    assert_eq!(o.result, "softfail");
    assert!(o
        .header_comment
        .contains(": transitioning domain of soft.example does not"));
    let o = run("192.0.2.7", "bob@neutral.example");
    assert_eq!(o.result, "neutral");
    assert_eq!(
        o.header_comment,
        "mx.rexim.test: 192.0.2.7 is neither permitted nor denied by domain of neutral.example"
    );
    // No mechanism matched and no `all`: libspf2's reason is "default".
    let o = run("192.0.2.7", "bob@nomatch.example");
    assert_eq!(o.result, "neutral");
    assert!(
        o.smtp_comment.ends_with(" : Reason: default"),
        "{}",
        o.smtp_comment
    );
}

#[test]
fn none_for_missing_or_non_spf_records() {
    for sender in ["bob@nowhere.example", "bob@other.example"] {
        let o = run("192.0.2.7", sender);
        assert_eq!(o.result, "none", "{sender}");
        assert!(o.header_comment.ends_with("does not provide an SPF record"));
        assert!(o.smtp_comment.ends_with(" : Reason: none"));
    }
}

#[test]
fn permerror_and_temperror() {
    let o = run("192.0.2.7", "bob@broken.example");
    assert_eq!(o.result, "permerror");
    assert!(o
        .header_comment
        .contains("error in processing during lookup of domain of broken.example"));
    let o = run("192.0.2.7", "bob@incmissing.example");
    assert_eq!(o.result, "permerror");
    let o = run("192.0.2.7", "bob@slow.example");
    assert_eq!(o.result, "temperror");
    assert_eq!(
        o.header_comment,
        "mx.rexim.test: encountered temporary error during SPF processing of domain of slow.example"
    );
    assert_eq!(o.smtp_comment, "");
    // An address lookup that fails temporarily, inside the evaluation.
    let started = std::time::Instant::now();
    assert_eq!(run("192.0.2.7", "bob@aslow.example").result, "temperror");
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
}

#[test]
fn include_redirect_mx_and_macros() {
    assert_eq!(run("192.0.2.7", "bob@inc.example").result, "pass");
    assert_eq!(run("203.0.113.1", "bob@inc.example").result, "fail");
    assert_eq!(run("192.0.2.7", "bob@redir.example").result, "pass");
    assert_eq!(run("192.0.2.10", "bob@mxhost.example").result, "pass");
    assert_eq!(run("192.0.2.11", "bob@mxhost.example").result, "fail");
    // exists:%{l}.%{o}.users.example: alice's name exists, so she passes.
    assert_eq!(run("192.0.2.7", "alice@mac.example").result, "pass");
}

#[test]
fn explanation_record_gives_the_smtp_comment() {
    let o = run("192.0.2.7", "bob@exp.example");
    assert_eq!(o.result, "fail");
    assert_eq!(
        o.smtp_comment,
        "192.0.2.7 is not one of exp.example's hosts : Reason: mechanism"
    );
}

#[test]
fn null_sender_checks_the_helo_name() {
    let mut r = req("192.0.2.7", "");
    r.helo = "pass.example".into();
    let o = check(&r, &dns());
    assert_eq!(o.result, "pass");
    assert!(o
        .received
        .contains(" envelope-from=postmaster@pass.example; helo=pass.example;"));
}

#[test]
fn loopback_always_passes() {
    let o = run("127.0.0.1", "bob@fail.example");
    assert_eq!(o.result, "pass");
    assert_eq!(
        o.header_comment,
        "mx.rexim.test: localhost is always allowed."
    );
}

#[test]
fn guess_replaces_none_only() {
    let mut r = req("203.0.113.5", "bob@guess.example");
    r.guess = Some("v=spf1 a/24 mx/24 ptr ?all".into());
    let o = check(&r, &dns());
    assert_eq!((o.result, o.guessed), ("pass", true));
    r.ip = "198.51.100.9".parse().unwrap();
    let o = check(&r, &dns());
    assert_eq!((o.result, o.guessed), ("neutral", true));
    // A published record is used as it is.
    let mut r = req("192.0.2.7", "bob@fail.example");
    r.guess = Some("v=spf1 +all".into());
    let o = check(&r, &dns());
    assert_eq!((o.result, o.guessed), ("fail", false));
}

#[test]
fn runs_inside_the_daemons_blocking_tasks() {
    // Sessions run ACLs under tokio's spawn_blocking; SPF blocks on its own runtime.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .build()
        .unwrap();
    let o = rt
        .block_on(async {
            tokio::task::spawn_blocking(|| run("192.0.2.7", "bob@fail.example")).await
        })
        .unwrap();
    assert_eq!(o.result, "fail");
}
