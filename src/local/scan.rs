//! Content scanning of a local message: what `spam`, `malware` and `dcc` in the
//! non-SMTP ACLs are given (the message with the Received: header Exim has put first,
//! the envelope recipients), the scan file's fate when reception ends, and
//! `control = bmi_run` after `acl_not_smtp`, as Exim's receive.c does for non-SMTP
//! input. With no client host, DCC and Brightmail report the client as `127.0.0.1`.

use std::sync::Arc;

use crate::acl::state::MessageState;
use crate::expand::Context;
use crate::local::report::Logger;
use crate::local::settings::Settings;
use crate::smtp::sink::AcceptedMessage;

/// Give the scanners the message: `message` is the headers the ACLs see, a blank line
/// and the body; `received` the Received: header as it will be spooled.
pub fn prepare(
    state: &mut MessageState,
    received: Vec<u8>,
    message: Arc<Vec<u8>>,
    recipients: &[Vec<u8>],
) {
    state.received_header = received;
    state.scan_data = Some(message);
    state.recipients = recipients.to_vec();
}

/// The MIME ACL is about to run: as in Exim, which spools the scan copy for it, the
/// copy scanners get later has the headers of now, not those the MIME ACL adds.
pub fn fix_headers(state: &mut MessageState, ctx: &Context) {
    if let Some(msg) = &ctx.message {
        state.scan_headers = Some(msg.headers.iter().map(|h| h.text.clone()).collect());
    }
}

/// Reception is over: the `.eml` scan file goes. `control = no_mbox_unspool`, which
/// would keep it, is refused in both non-SMTP ACLs, as in Exim.
pub fn finish(state: &mut MessageState) {
    state.scan_mbox = None;
}

/// `control = bmi_run`: hand the message, as it will be spooled, to the Brightmail
/// provider; its verdicts for `-H`, if any. Exim scans a blackholed message too.
pub fn bmi(
    st: &Settings,
    state: &MessageState,
    msg: &AcceptedMessage,
    log: &mut Logger,
) -> Option<Vec<u8>> {
    if !state.has_control("bmi_run") {
        return None;
    }
    // No RCPT ACL runs for a local message, so no recipient has a `bmi_optin`.
    let out = crate::features::bmi::receive::process(
        &st.acls.env.bmi,
        msg,
        &[],
        &st.spool.received_header_text,
    );
    log.acl_lines(out.logs);
    out.verdicts
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use crate::features::bmi::{BmiError, BmiMessage, BmiProvider, DecodedVerdict, Step};
    use crate::local::args::LocalArgs;
    use crate::local::caller::Caller;
    use crate::local::input::Source;
    use crate::local::receive::{receive, Envelope, Mode, Outcome};
    use crate::local::report::Logger;
    use crate::local::settings::Settings;

    /// Records what it is handed; one verdict per recipient, or an SDK failure for
    /// the sender `sdk-fails@...`.
    #[derive(Default)]
    struct FakeProvider {
        seen: Mutex<Vec<String>>,
    }

    impl BmiProvider for FakeProvider {
        fn process(&self, m: &BmiMessage) -> Result<Vec<String>, BmiError> {
            let lossy = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
            let mut seen = format!(
                "config={} ip={} sender=<{}>\n",
                m.config_file,
                lossy(m.host_address),
                lossy(m.sender)
            );
            for r in &m.recipients {
                seen += &format!("rcpt {} optin={:?}\n", lossy(r.address), r.optin);
            }
            for h in &m.headers {
                seen += &lossy(h);
            }
            seen += "--body\n";
            seen += &lossy(m.body);
            self.seen.lock().unwrap().push(seen);
            if m.sender.starts_with(b"sdk-fails@") {
                return Err(BmiError::new(Step::EndHeaders, 7, 3));
            }
            Ok(m.recipients
                .iter()
                .map(|r| format!("verdict-for-{}", lossy(r.address)))
                .collect())
        }

        fn decode(&self, _: &str) -> Result<DecodedVerdict, BmiError> {
            Err(BmiError::new(Step::InitMessage, 1, 1))
        }
    }

    struct Run {
        seen: Vec<String>,
        header_file: String,
        mainlog: String,
        paniclog: String,
        rc: Outcome,
    }

    fn run(tag: &str, acl: &str, sender: &str, message: &str) -> Run {
        let dir =
            std::env::temp_dir().join(format!("rexim-local-bmi-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let text = format!(
            "primary_hostname = test.example\nspool_directory = {0}\n\
             log_file_path = {0}/log/%slog\nbmi_config_file = /etc/bmi/local.cfg\n\
             acl_not_smtp = check\nbegin acl\ncheck:\n{acl}",
            dir.display()
        );
        let cfg =
            crate::config::load_text("t.conf", text, crate::config::initial_macros(&[]).unwrap());
        assert!(cfg.errors.is_empty(), "{:?}", cfg.errors);
        let mut st = Settings::from_config(&cfg).unwrap();
        let provider = Arc::new(FakeProvider::default());
        st.set_bmi_provider(provider.clone());
        let caller = Caller {
            login: "fred".into(),
            uid: 0,
            gid: 0,
            gecos: "Fred Bloggs".into(),
            trusted: true,
        };
        let args = LocalArgs {
            sender: Some(sender.into()),
            dot_ends: true,
            ..LocalArgs::default()
        };
        let (mut who, sender) = crate::local::decide_sender(&st, &args, caller).unwrap();
        let env = Envelope {
            sender,
            recipients: vec![b"a@b.example".to_vec(), b"c@d.example".to_vec()],
        };
        let mode = Mode {
            extract: false,
            dot_ends: true,
            batched: false,
            errors_to_stderr: true,
            errors_exit_zero: false,
        };
        let mut src = Source::new(message.as_bytes());
        let mut log = Logger::new(&st.logs);
        let rc = receive(&st, &mut who, env, mode, &mut src, &mut log);
        let read = |p: std::path::PathBuf| std::fs::read_to_string(p).unwrap_or_default();
        let header_file = std::fs::read_dir(dir.join("input"))
            .map(|rd| {
                rd.filter_map(|e| e.ok().map(|e| e.path()))
                    .find(|p| p.to_string_lossy().ends_with("-H"))
                    .map(read)
                    .unwrap_or_default()
            })
            .unwrap_or_default();
        let r = Run {
            seen: provider.seen.lock().unwrap().clone(),
            header_file,
            mainlog: read(dir.join("log/mainlog")),
            paniclog: read(dir.join("log/paniclog")),
            rc,
        };
        let _ = std::fs::remove_dir_all(&dir);
        r
    }

    const MESSAGE: &str = "Subject: offer\n\nbody line\n";

    #[test]
    fn bmi_run_scans_a_local_message_from_127_0_0_1() {
        let r = run(
            "run",
            "  accept control = bmi_run\n",
            "s@example.org",
            MESSAGE,
        );
        assert_eq!(r.rc, Outcome::Exit(0));
        assert_eq!(r.seen.len(), 1, "one scan: {:?}", r.seen);
        let seen = &r.seen[0];
        assert!(
            seen.starts_with(
                "config=/etc/bmi/local.cfg ip=127.0.0.1 sender=<s@example.org>\n\
                 rcpt a@b.example optin=None\nrcpt c@d.example optin=None\n\
                 Received: from fred by test.example with local (Exim 4.96)\n"
            ),
            "{seen}"
        );
        assert!(seen.contains("Subject: offer\n"), "{seen}");
        assert!(seen.ends_with("--body\nbody line\n"), "{seen}");
        assert!(
            r.header_file
                .lines()
                .any(|l| l == "--bmi_verdicts verdict-for-a@b.example:verdict-for-c@d.example"),
            "{}",
            r.header_file
        );
        assert!(r.mainlog.contains("<= s@example.org"), "{}", r.mainlog);
    }

    #[test]
    fn no_scan_without_bmi_run() {
        let r = run("none", "  accept\n", "s@example.org", MESSAGE);
        assert_eq!(r.rc, Outcome::Exit(0));
        assert!(r.seen.is_empty());
        assert!(!r.header_file.contains("bmi_verdicts"), "{}", r.header_file);
        assert!(r.header_file.contains("a@b.example"), "{}", r.header_file);
    }

    #[test]
    fn a_failing_sdk_is_logged_and_the_message_kept() {
        let r = run(
            "fails",
            "  accept control = bmi_run\n",
            "sdk-fails@example.org",
            MESSAGE,
        );
        assert_eq!(r.rc, Outcome::Exit(0));
        assert_eq!(r.seen.len(), 1);
        assert!(!r.header_file.contains("bmi_verdicts"), "{}", r.header_file);
        assert!(
            r.paniclog.contains("bmi error [loc 7 type 3]"),
            "{}",
            r.paniclog
        );
    }

    #[test]
    fn a_discarded_message_is_scanned_too() {
        let r = run(
            "discard",
            "  discard control = bmi_run\n",
            "s@example.org",
            MESSAGE,
        );
        assert_eq!(r.seen.len(), 1);
        assert!(r.header_file.is_empty(), "nothing spooled");
        assert!(r.mainlog.contains("=> blackhole"), "{}", r.mainlog);
    }
}
