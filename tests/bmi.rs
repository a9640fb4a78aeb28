//! Brightmail (BMI) with a fake verdict provider plugged into the session: what the
//! provider is handed at the end of reception (`control = bmi_run`, each recipient's
//! `bmi_optin`), the `--bmi_verdicts` line in `-H` and its read-back, and the
//! per-recipient `$bmi_*` variables and `bmi_rule` test routers will use. The vendor
//! SDK is proprietary and Debian's exim4 has no BMI: no differential test.

use std::sync::{Arc, Mutex};

use base64::Engine;
use rexim::features::bmi::{
    verdict, BmiError, BmiMessage, BmiProvider, DecodedVerdict, Destination, Step,
};

/// Verdicts are base64 of `rcpt|destination|rules` (`default`, `null`, `alt:<where>`).
#[derive(Default)]
struct FakeProvider {
    seen: Mutex<Vec<String>>,
}

fn b64(s: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(s)
}

impl BmiProvider for FakeProvider {
    fn process(&self, m: &BmiMessage) -> Result<Vec<String>, BmiError> {
        let mut seen = format!(
            "config={} ip={} sender=<{}>\n",
            m.config_file,
            String::from_utf8_lossy(m.host_address),
            String::from_utf8_lossy(m.sender)
        );
        for r in &m.recipients {
            seen += &format!(
                "rcpt {} optin={:?}\n",
                String::from_utf8_lossy(r.address),
                r.optin.map(|o| String::from_utf8_lossy(o).into_owned())
            );
        }
        for h in &m.headers {
            seen += &String::from_utf8_lossy(h);
        }
        seen += "--body\n";
        seen += &String::from_utf8_lossy(m.body);
        self.seen.lock().unwrap().push(seen);
        if m.sender == b"sdk-fails@example.org" {
            return Err(BmiError::new(Step::EndHeaders, 7, 3));
        }
        Ok(m.recipients
            .iter()
            .map(|r| {
                let a = String::from_utf8_lossy(r.address).into_owned();
                let dest = match r.optin {
                    Some(o) if o.starts_with(b"quarantine") => "alt:X-Quarantine: yes".into(),
                    _ if a.starts_with("trap@") => "null".to_string(),
                    _ => "default".to_string(),
                };
                b64(&format!("{a}|{dest}|5"))
            })
            .collect())
    }

    fn check_optin(&self, optin: &[u8]) -> Result<(), BmiError> {
        if optin.starts_with(b"bad") {
            return Err(BmiError::new(Step::To, 2, 9));
        }
        Ok(())
    }

    fn decode(&self, v: &str) -> Result<DecodedVerdict, BmiError> {
        let raw = base64::engine::general_purpose::STANDARD
            .decode(v)
            .map_err(|_| BmiError::new(Step::InitMessage, 1, 1))?;
        let text = String::from_utf8(raw).unwrap();
        let mut parts = text.split('|');
        let rcpt = parts.next().unwrap().as_bytes().to_vec();
        let destination = match parts.next().unwrap() {
            "default" => Destination::Default,
            "null" => Destination::Null,
            alt => Destination::Alternate(alt.strip_prefix("alt:").unwrap().to_string()),
        };
        let rules_fired = parts
            .next()
            .unwrap()
            .split(',')
            .map(|r| r.parse().unwrap())
            .collect();
        Ok(DecodedVerdict {
            recipients: vec![rcpt],
            error: false,
            destination,
            rules_fired,
            tracker: Ok(format!("tracker-{}", &v[..4])),
        })
    }
}

const CONFIG: &str = "primary_hostname = mx.test\n\
    bmi_config_file = /etc/bmi/test.cfg\n\
    acl_smtp_rcpt = rcpt\nacl_smtp_data = data\nbegin acl\n\
    rcpt:\n  deny   local_parts = refused\n         bmi_optin = leaked\n\
    \x20 accept local_parts = plain\n\
    \x20 accept bmi_optin = ${lookup{$local_part}lsearch{@DIR@/optins}}\n         control = bmi_run\n\
    data:\n  accept remove_header = X-Drop\n";

struct Run {
    dir: std::path::PathBuf,
    provider: Arc<FakeProvider>,
    replies: String,
    log: Vec<String>,
}

fn run(tag: &str, dialogue: &str) -> Run {
    let dir = std::env::temp_dir().join(format!("rexim-bmi-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("optins"),
        "alice: quarantine:family\nbob: x\ncarol: bad-optin\n",
    )
    .unwrap();
    let macros = rexim::config::initial_macros(&[]).unwrap();
    let loaded = rexim::config::load_text(
        "bmi.conf",
        CONFIG.replace("@DIR@", &dir.to_string_lossy()),
        macros,
    );
    assert!(loaded.errors.is_empty(), "{:?}", loaded.errors);
    let (cfg, mut acls) = rexim::smtp::SessionConfig::from_config(&loaded).unwrap();
    let provider = Arc::new(FakeProvider::default());
    acls.env.bmi.provider = provider.clone();
    assert_eq!(acls.env.bmi.config_file, "/etc/bmi/test.cfg");
    let peer = rexim::smtp::Peer {
        address: "192.0.2.9".into(),
        port: 1234,
        ..Default::default()
    };
    let mut s = rexim::smtp::Session::new(
        Arc::new(cfg),
        Arc::new(acls),
        rexim::expand::Context::default(),
        peer,
    );
    s.sink = Some(Arc::new(rexim::spool::Spool::new(dir.join("spool"))));
    s.start();
    s.feed(dialogue.replace('\n', "\r\n").as_bytes());
    let replies = String::from_utf8_lossy(&s.take_output()).into_owned();
    let mut log = std::mem::take(&mut s.log);
    log.extend(s.panic_log.drain(..).map(|l| format!("PANIC {l}")));
    Run {
        dir,
        provider,
        replies,
        log,
    }
}

fn message_id(replies: &str) -> String {
    replies
        .lines()
        .find_map(|l| l.strip_prefix("250 OK id="))
        .expect("accepted")
        .to_string()
}

fn scrub(s: &str, id: &str) -> String {
    let date =
        pcre2::bytes::Regex::new(r"\w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d [-+]\d{4}").unwrap();
    let s = s.replace(id, "<ID>");
    let mut out = String::new();
    let mut last = 0;
    for m in date.find_iter(s.as_bytes()) {
        let m = m.unwrap();
        out.push_str(&s[last..m.start()]);
        out.push_str("<DATE>");
        last = m.end();
    }
    out.push_str(&s[last..]);
    out
}

const DIALOGUE: &str = "EHLO client.test\nMAIL FROM:<sender@example.org>\n\
    RCPT TO:<refused@example.net>\nRCPT TO:<Alice@Example.NET>\nRCPT TO:<plain@example.net>\n\
    RCPT TO:<bob@example.net>\nRCPT TO:<carol@example.net>\nRCPT TO:<trap@example.net>\nDATA\n\
    Subject: offer\nX-Drop: removed by the DATA ACL\n\nbody line\n..dot\n.\nQUIT\n";

#[test]
fn verdicts_go_to_the_spool_and_back() {
    let r = run("spool", DIALOGUE);
    let id = message_id(&r.replies);
    let seen = r.provider.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 1, "one scan per message");
    let spool = rexim::spool::Spool::new(r.dir.join("spool"));
    let h_bytes = std::fs::read(spool.file(&id, "H").unwrap()).unwrap();
    let h = rexim::spool::header::HeaderFile::parse(&h_bytes).unwrap();
    let verdicts = rexim::features::bmi::verdicts_from_spool(&h).expect("-bmi_verdicts");
    assert!(verdicts.tainted, "written as --bmi_verdicts");
    let h_text = String::from_utf8_lossy(&h_bytes);
    let bmi_line = h_text
        .lines()
        .find(|l| l.starts_with("--bmi_verdicts "))
        .unwrap()
        .to_string();
    // Per recipient, as a router will see it (the verdict of the top-level address).
    let mut per_rcpt = String::new();
    for (lp, dom) in [
        ("alice", "example.net"),
        ("PLAIN", "EXAMPLE.NET"),
        ("trap", "example.net"),
        ("nobody", "example.net"),
    ] {
        let v = verdict::for_recipient(
            r.provider.as_ref(),
            Some(&verdicts.bytes),
            lp.as_bytes(),
            dom.as_bytes(),
        );
        let mut ctx = rexim::expand::Context::default();
        verdict::set_variables(&mut ctx, &v);
        let shown = rexim::expand_str(
            "deliver=$bmi_deliver alt=<$bmi_alt_location> tracker=<$bmi_base64_tracker_verdict> verdict=<$bmi_base64_verdict>",
            &mut ctx,
        )
        .unwrap();
        let mut logs = Vec::new();
        let rule5 = verdict::rule_fired(
            r.provider.as_ref(),
            v.base64_verdict.as_deref(),
            "3 : 5",
            &mut logs,
        );
        let rule7 = verdict::rule_fired(
            r.provider.as_ref(),
            v.base64_verdict.as_deref(),
            "7",
            &mut logs,
        );
        per_rcpt += &format!(
            "{lp}@{dom}: {} rule 3:5={rule5} rule 7={rule7}\n",
            shown.as_str_lossy()
        );
    }
    insta::assert_snapshot!(scrub(
        &format!(
            "{}\n--- log\n{}\n--- provider received\n{}\n--- spool\n{bmi_line}\n--- per recipient\n{per_rcpt}",
            r.replies,
            r.log.join("\n"),
            seen[0]
        ),
        &id
    ));
    let _ = std::fs::remove_dir_all(&r.dir);
}

#[test]
fn sdk_errors_leave_the_message_without_verdicts() {
    let r = run(
        "fails",
        "EHLO client.test\nMAIL FROM:<sdk-fails@example.org>\nRCPT TO:<bob@example.net>\nDATA\n\
         Subject: x\n\nbody\n.\nQUIT\n",
    );
    let id = message_id(&r.replies);
    let line = format!("PANIC {id} bmi error [loc 7 type 3]: bmiEndHeaders() failed.");
    assert!(r.log.contains(&line), "{:?}", r.log);
    let spool = rexim::spool::Spool::new(r.dir.join("spool"));
    let h = rexim::spool::header::HeaderFile::parse(
        &std::fs::read(spool.file(&id, "H").unwrap()).unwrap(),
    )
    .unwrap();
    assert!(rexim::features::bmi::verdicts_from_spool(&h).is_none());
    let _ = std::fs::remove_dir_all(&r.dir);
}

#[test]
fn without_bmi_run_nothing_is_scanned() {
    let r = run(
        "norun",
        "EHLO client.test\nMAIL FROM:<a@example.org>\nRCPT TO:<plain@example.net>\nDATA\n\
         Subject: x\n\nbody\n.\nQUIT\n",
    );
    message_id(&r.replies);
    assert!(r.provider.seen.lock().unwrap().is_empty());
    let _ = std::fs::remove_dir_all(&r.dir);
}

/// Exim 4.96 reads a spool file with `--bmi_verdicts` (Debian's build, without
/// Brightmail, skips the line): `exim4 -bp` lists the message.
#[test]
fn exim_reads_the_spool_with_verdicts() {
    if !std::path::Path::new("/usr/sbin/exim4").exists() {
        eprintln!("SKIPPED: exim4 is not installed here");
        return;
    }
    let r = run("exim", DIALOGUE);
    let id = message_id(&r.replies);
    let spool = r.dir.join("spool");
    let (user, _, gid) = rexim::spool::Spool::new(&spool).originator;
    let conf = r.dir.join("exim.conf");
    std::fs::write(
        &conf,
        format!(
            "spool_directory = {0}\nlog_file_path = {0}/exim-%slog\nkeep_environment =\n\
             exim_user = {user}\nexim_group = {gid}\n\
             queue_list_requires_admin = false\nprimary_hostname = mx.test\n",
            spool.display()
        ),
    )
    .unwrap();
    let out = std::process::Command::new("/usr/sbin/exim4")
        .arg("-C")
        .arg(&conf)
        .arg("-bp")
        .output()
        .unwrap();
    let listing = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(listing.contains(&id), "{listing}");
    assert!(listing.contains("trap@example.net"), "{listing}");
    let _ = std::fs::remove_dir_all(&r.dir);
}
