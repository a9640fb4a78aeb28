//! Exim's `give_local_error` for local messages: the error on stderr (`-oep`, `-oeq`),
//! or a report mailed to the sender (`-oem`, `-oew`, `-oee`; see [`bounce`]), or, when
//! there is no usable sender, only a log line; then the exit status.

use crate::local::bounce::{self, Kind};
use crate::local::input::Source;
use crate::local::receive::{self, Envelope, Mode, Outcome};
use crate::local::report::{local_error, Logger, EXIT_FAILURE};
use crate::local::settings::Settings;
use crate::local::Who;

/// One refused message and what a report would copy.
pub struct Failure {
    pub kind: Kind,
    /// The stderr form: `exim: <prefix><text>`.
    pub prefix: &'static str,
    pub text: String,
    /// The headers received so far, typed (`P` for the Received: header).
    pub headers: Vec<(u8, Vec<u8>)>,
    pub body: Option<Vec<u8>>,
    pub message_size: u64,
}

/// Report `f` as the error mode says; the outcome to return.
pub fn fail(
    st: &Settings,
    who: &Who,
    mode: Mode,
    log: &mut Logger,
    sender: &[u8],
    f: Failure,
) -> Outcome {
    if mode.errors_to_stderr {
        return Outcome::Error(local_error(f.prefix, &f.text));
    }
    let sent = mail(st, who, log, sender, &f);
    Outcome::Error(if sent && mode.errors_exit_zero {
        0
    } else {
        EXIT_FAILURE
    })
}

/// Mail the report (Exim's `moan_to_sender`): true when it was queued.
pub fn mail(st: &Settings, who: &Who, log: &mut Logger, sender: &[u8], f: &Failure) -> bool {
    if sender.is_empty() || who.local_error.is_some() {
        let mut msg = "Error while reading message with no usable sender address".to_string();
        if let Some(r) = who.local_error.as_deref().filter(|r| !r.is_empty()) {
            msg += &format!(" (R={r})");
        }
        let line = f.kind.unmailable(&msg);
        if !line.is_empty() {
            log.main(&line);
        }
        return false;
    }
    let mut ctx = st.context();
    let mut opts = st.bounce.clone();
    opts.dsn_from = crate::expand::expand(&st.dsn_from, &mut ctx)
        .map(|v| v.as_str_lossy().into_owned())
        .unwrap_or_else(|_| format!("Mail Delivery System <Mailer-Daemon@{}>", st.qualify_domain));
    let typed: Vec<(u8, &[u8])> = f.headers.iter().map(|(k, h)| (*k, h.as_slice())).collect();
    let to = String::from_utf8_lossy(sender);
    let text = bounce::report(
        &f.kind,
        &opts,
        &to,
        &typed,
        f.body.as_deref(),
        f.message_size,
    );
    // Exim runs `exim -t -oem -oi -f <> -E<id>`; rexim receives it in this process.
    let mut child = who.clone();
    child.sender_local = false;
    child.sender_forced = true;
    child.sender_set_untrusted = false;
    child.name = String::new();
    child.name_forced = false;
    child.auth_id = None;
    child.auth_sender = None;
    child.helo = None;
    child.host = None;
    child.host_name = None;
    child.interface = None;
    child.protocol = "local".into();
    child.protocol_tainted = false;
    child.local_error = Some(log.id.clone().unwrap_or_default());
    let mode = Mode {
        extract: true,
        dot_ends: false,
        batched: false,
        errors_to_stderr: false,
        errors_exit_zero: false,
    };
    let mut src = Source::new(&text[..]);
    let mut child_log = Logger::new(log.files);
    let env = Envelope::default();
    let rc = match receive::receive(st, &mut child, env, mode, &mut src, &mut child_log) {
        Outcome::Exit(rc) | Outcome::Error(rc) => rc,
        Outcome::BatchRejected(_) | Outcome::Lost(_) => EXIT_FAILURE,
    };
    if rc != 0 {
        log.main(&format!("Child mail process returned status {rc}"));
    }
    rc == 0
}
