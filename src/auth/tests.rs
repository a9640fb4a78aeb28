use super::plaintext::{Exchange, Step};
use super::*;
use crate::expand::Context;

fn plaintext(prompts: &str, cond: &str, set_id: &str) -> Authenticator {
    Authenticator {
        name: "plain".into(),
        driver: Driver::Plaintext,
        public_name: "PLAIN".into(),
        server_condition: Some(parse(cond)),
        server_set_id: Some(parse(set_id)),
        server_advertise_condition: None,
        server_mail_auth_condition: None,
        server_prompts: (!prompts.is_empty()).then(|| parse(prompts)),
        server_secret: None,
    }
}

fn b64(s: &[u8]) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD
        .encode(s)
        .into_bytes()
}

#[test]
fn xtext() {
    assert_eq!(xtext_decode(b"a+2Bb@c").unwrap(), b"a+b@c");
    assert_eq!(xtext_decode(b"plain").unwrap(), b"plain");
    assert!(xtext_decode(b"a+2").is_none());
    assert!(xtext_decode(b"a+zz").is_none());
    assert!(xtext_decode(b"a=b").is_none());
    assert!(xtext_decode(b"a b").is_none());
    assert!(xtext_decode("\u{e9}".as_bytes()).is_none());
}

#[test]
fn items_split_at_nuls_as_exim() {
    let mut i = Items::default();
    i.push_split(b"\0user\0secret", false);
    assert_eq!(
        i.0,
        vec![b"".to_vec(), b"user".to_vec(), b"secret".to_vec()]
    );
    // A trailing NUL adds nothing; empty data adds an item only for a prompt answer.
    let mut i = Items::default();
    i.push_split(b"a\0", false);
    i.push_split(b"", false);
    assert_eq!(i.len(), 1);
    i.push_split(b"", true);
    assert_eq!(i.0, vec![b"a".to_vec(), b"".to_vec()]);
    let mut many = Items::default();
    many.push_split(&[0u8; 100], false);
    assert_eq!(many.len(), EXPAND_MAXN);
}

#[test]
fn condition_results() {
    let mut ctx = Context::default();
    let items = Items(vec![b"u".to_vec(), b"p".to_vec()]);
    let check = |c: &str, ctx: &mut Context| check_condition(&parse(c), &items, ctx);
    assert_eq!(check("${if eq{$auth1:$2}{u:p}}", &mut ctx), Outcome::Ok);
    assert_eq!(check("yes", &mut ctx), Outcome::Ok);
    assert_eq!(check("TRUE", &mut ctx), Outcome::Ok);
    assert_eq!(check("", &mut ctx), Outcome::Fail);
    assert_eq!(check("No", &mut ctx), Outcome::Fail);
    assert_eq!(check("${if eq{1}{2}{x}fail}", &mut ctx), Outcome::Fail);
    assert_eq!(
        check("maybe", &mut ctx),
        Outcome::Defer {
            log: "maybe".into(),
            user: Some("maybe".into())
        }
    );
    assert!(matches!(
        check("${lookup{x}lsearch{/nonexistent/rexim}}", &mut ctx),
        Outcome::Defer { user: None, .. }
    ));
    // `$auth<n>` do not outlive the check.
    assert!(crate::expand_str("$auth1", &mut ctx)
        .unwrap()
        .bytes
        .is_empty());
}

#[test]
fn plain_with_initial_response() {
    let au = plaintext(":", "${if eq{$auth2:$auth3}{user:secret}}", "$auth2");
    let mut ctx = Context::default();
    let (x, step) = Exchange::start(&au, &b64(b"\0user\0secret"), &mut ctx);
    assert_eq!(step, Step::Done(Outcome::Ok));
    let id = x.items.expand(au.server_set_id.as_ref().unwrap(), &mut ctx);
    assert_eq!(id.unwrap().bytes, b"user");
    let (_, step) = Exchange::start(&au, &b64(b"\0user\0nope"), &mut ctx);
    assert_eq!(step, Step::Done(Outcome::Fail));
    let (_, step) = Exchange::start(&au, b"!!!", &mut ctx);
    assert_eq!(step, Step::Done(Outcome::Bad64));
}

#[test]
fn plain_prompted_and_cancelled() {
    let au = plaintext(":", "${if eq{$3}{secret}}", "$2");
    let mut ctx = Context::default();
    let (mut x, step) = Exchange::start(&au, b"", &mut ctx);
    assert_eq!(step, Step::Prompt(Vec::new()));
    assert_eq!(
        x.answer(&au, &b64(b"\0u\0secret"), &mut ctx),
        Step::Done(Outcome::Ok)
    );
    let (mut x, _) = Exchange::start(&au, b"", &mut ctx);
    assert_eq!(
        x.answer(&au, b"*", &mut ctx),
        Step::Done(Outcome::Cancelled)
    );
    let (mut x, _) = Exchange::start(&au, b"", &mut ctx);
    assert_eq!(x.answer(&au, b"a=b", &mut ctx), Step::Done(Outcome::Bad64));
}

#[test]
fn login_prompts_skip_what_was_given() {
    let au = plaintext(
        "Username:: : Password::",
        "${if eq{$1/$2}{user/secret}}",
        "$1",
    );
    let mut ctx = Context::default();
    let (mut x, step) = Exchange::start(&au, b"", &mut ctx);
    assert_eq!(step, Step::Prompt(b"Username:".to_vec()));
    assert_eq!(
        x.answer(&au, &b64(b"user"), &mut ctx),
        Step::Prompt(b"Password:".to_vec())
    );
    assert_eq!(
        x.answer(&au, &b64(b"secret"), &mut ctx),
        Step::Done(Outcome::Ok)
    );
    // The user name on the AUTH command skips the first prompt; `=` is one empty item.
    let (_, step) = Exchange::start(&au, &b64(b"user"), &mut ctx);
    assert_eq!(step, Step::Prompt(b"Password:".to_vec()));
    let (mut x, step) = Exchange::start(&au, b"=", &mut ctx);
    assert_eq!(step, Step::Prompt(b"Password:".to_vec()));
    assert_eq!(
        x.answer(&au, &b64(b"secret"), &mut ctx),
        Step::Done(Outcome::Fail)
    );
}

#[test]
fn prompts_that_fail_to_expand_defer() {
    let au = plaintext("${lookup{x}lsearch{/nonexistent/rexim}}", "yes", "");
    let mut ctx = Context::default();
    let (_, step) = Exchange::start(&au, b"", &mut ctx);
    assert!(matches!(
        step,
        Step::Done(Outcome::Defer { user: None, .. })
    ));
}

#[test]
fn config_builds_server_authenticators() {
    let text = "begin authenticators\n\
plain:\n  driver = plaintext\n  public_name = PLAIN\n  server_condition = yes\n\
client_only:\n  driver = plaintext\n  client_send = ^u^p\n\
login:\n  driver = plaintext\n  server_prompts = User\n  server_condition = no\n\
cram:\n  driver = cram_md5\n  public_name = CRAM-MD5\n  client_name = x\n  client_secret = y\n";
    let macros = crate::config::initial_macros(&[]).unwrap();
    let loaded = crate::config::load_text("t.conf", text, macros);
    assert!(loaded.errors.is_empty(), "{:?}", loaded.errors);
    let list = from_config(&loaded).unwrap();
    let names: Vec<_> = list
        .iter()
        .map(|a| (&a.name[..], &a.public_name[..]))
        .collect();
    assert_eq!(names, [("plain", "PLAIN"), ("login", "login")]);
    let text = "begin authenticators\ncram:\n  driver = cram_md5\n  public_name = CRAM-MD5\n  server_secret = s\n\
other:\n  driver = spa\n";
    let macros = crate::config::initial_macros(&[]).unwrap();
    let loaded = crate::config::load_text("t.conf", text, macros);
    let err = from_config(&loaded).unwrap_err();
    assert_eq!(
        err,
        ["authenticator \"other\": driver \"spa\" is not supported by rexim"]
    );
    let text = "begin authenticators\ncram:\n  driver = cram_md5\n  server_secret = s\n";
    let macros = crate::config::initial_macros(&[]).unwrap();
    let loaded = crate::config::load_text("t.conf", text, macros);
    let list = from_config(&loaded).unwrap();
    assert_eq!(list[0].driver, Driver::CramMd5);
    assert_eq!(list[0].public_name, "cram");
}

fn cram(cond: Option<&str>) -> Authenticator {
    Authenticator {
        name: "cram".into(),
        driver: Driver::CramMd5,
        public_name: "CRAM-MD5".into(),
        server_condition: cond.map(parse),
        server_set_id: Some(parse("$auth1")),
        server_advertise_condition: None,
        server_mail_auth_condition: None,
        server_prompts: None,
        server_secret: Some(parse("${if eq{$1}{tim}{tanstaaftanstaaf}fail}")),
    }
}

/// RFC 2195's example exchange.
const RFC_CHALLENGE: &[u8] = b"<1896.697170952@postoffice.reston.mci.net>";

#[test]
fn cram_md5_rfc2195_example() {
    use super::cram_md5;
    assert_eq!(
        cram_md5::digest(b"tanstaaftanstaaf", RFC_CHALLENGE)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>(),
        "b913a602c7eda7a495b4e6e7334d3890"
    );
    let mut ctx = Context::default();
    let au = cram(None);
    let answer = |text: &str, ctx: &mut Context| {
        cram_md5::Exchange::with_challenge(RFC_CHALLENGE).answer(&au, &b64(text.as_bytes()), ctx)
    };
    let good = "tim b913a602c7eda7a495b4e6e7334d3890";
    assert_eq!(answer(good, &mut ctx), Step::Done(Outcome::Ok));
    // Exim reads the digest as lower-case hex only.
    let upper = "tim B913A602C7EDA7A495B4E6E7334D3890";
    assert_eq!(answer(upper, &mut ctx), Step::Done(Outcome::Fail));
    // Unknown user: server_secret forced to fail.
    let other = "tom b913a602c7eda7a495b4e6e7334d3890";
    assert_eq!(answer(other, &mut ctx), Step::Done(Outcome::Fail));
    assert_eq!(answer("tim", &mut ctx), Step::Done(Outcome::Fail));
    let mut x = cram_md5::Exchange::with_challenge(RFC_CHALLENGE);
    assert_eq!(
        x.answer(&au, b"*", &mut ctx),
        Step::Done(Outcome::Cancelled)
    );
    assert_eq!(x.answer(&au, b"!!", &mut ctx), Step::Done(Outcome::Bad64));
    // server_condition authorises after the digest matched.
    let denied = cram(Some("${if eq{$auth1}{tim}{no}{yes}}"));
    let step = cram_md5::Exchange::with_challenge(RFC_CHALLENGE).answer(
        &denied,
        &b64(good.as_bytes()),
        &mut ctx,
    );
    assert_eq!(step, Step::Done(Outcome::Fail));
}

#[test]
fn cram_md5_refuses_initial_data_and_challenges_otherwise() {
    use super::cram_md5;
    let mut ctx = Context::default();
    ctx.set("primary_hostname", "mx.test");
    let (_, step) = cram_md5::Exchange::start(b"dGlt", &mut ctx);
    assert_eq!(step, Step::Done(Outcome::Unexpected));
    let (_, step) = cram_md5::Exchange::start(b"", &mut ctx);
    let Step::Prompt(c) = step else {
        panic!("no challenge")
    };
    let text = String::from_utf8(c).unwrap();
    let inner = text
        .strip_prefix('<')
        .unwrap()
        .strip_suffix("@mx.test>")
        .unwrap();
    let (pid, time) = inner.split_once('.').unwrap();
    assert_eq!(pid, std::process::id().to_string());
    assert!(time.parse::<i64>().unwrap() > 1_700_000_000);
}
