//! Local (non-SMTP) message reception: `rexim -bm addr...`, sendmail-style `rexim
//! addr...`, `-t`, `-bS` (batched SMTP), running `acl_not_smtp_start`,
//! `acl_not_smtp_mime` and `acl_not_smtp`, writing Exim's spool and log lines.
//! rexim never delivers: every `-od*` mode leaves the message on the queue.

pub mod args;
pub mod bounce;
pub mod bsmtp;
pub mod caller;
pub mod fail;
pub mod fixups;
pub mod input;
pub mod logsel;
pub mod mime;
pub mod receive;
pub mod report;
pub mod scan;
pub mod settings;
pub mod store;
pub mod vars;

use args::{ErrorMode, LocalArgs};
use caller::Caller;
use receive::{Envelope, Mode, Outcome};
use report::{Logger, EXIT_FAILURE};
use settings::Settings;

/// Exim's `string_printing`: non-printing bytes escaped.
pub fn printing(s: &str) -> String {
    crate::smtp::tls::printing(s, false)
}

/// Who the message is from, as Exim decides it from the caller and the command line.
#[derive(Debug, Clone)]
pub struct Who {
    pub caller: Caller,
    /// Exim's `sender_local`: not a trusted caller who named the sender.
    pub sender_local: bool,
    /// `$originator_name` as a phrase (empty for a trusted `-f` without `-F`).
    pub name: String,
    pub name_forced: bool,
    pub sender_forced: bool,
    /// `$sender_ident` (the login unless a trusted caller gave `-oMt`).
    pub ident: Option<String>,
    pub protocol: String,
    /// `-oMt` / `-oMr` gave them (tainted, as command-line data).
    pub ident_tainted: bool,
    pub protocol_tainted: bool,
    pub auth_id: Option<String>,
    pub auth_sender: Option<String>,
    /// An untrusted caller set the sender (`untrusted_set_sender`, or `<>`).
    pub sender_set_untrusted: bool,
    /// `HELO` name in batched SMTP.
    pub helo: Option<String>,
    /// `-oMa`, `-oMs`, `-oMi` from a trusted caller: the host the message is from.
    pub host: Option<(String, u16)>,
    pub host_name: Option<String>,
    pub interface: Option<(String, u16)>,
    /// An error report about this message id (Exim's `-E`: `R=` and `-localerror`).
    pub local_error: Option<String>,
}

impl Who {
    /// Exim's `receive_check_set_sender`: may this caller name `sender`?
    pub fn may_set_sender(&self, st: &Settings, sender: &[u8]) -> bool {
        if self.caller.trusted {
            return true;
        }
        if st.untrusted_set_sender.is_empty() {
            return false;
        }
        let mut q = sender.to_vec();
        if !q.is_empty() && !q.contains(&b'@') {
            q = store::qualify(&q, &st.qualify_domain);
        }
        let mut ctx = st.context();
        matches!(
            crate::listmatch::match_address(&mut ctx, &q, st.untrusted_set_sender.as_bytes(), true),
            Ok(Some(_))
        )
    }

    /// A UUCP `From ` line's sender, when the caller may set it.
    pub fn take_from_line_sender(&mut self, st: &Settings, env: &mut Envelope, new: Vec<u8>) {
        let Ok(a) = crate::expand::address::extract(&new) else {
            return;
        };
        let mut s = a.address;
        if a.domain_offset == 0 && !s.is_empty() {
            s = store::qualify(&s, &st.qualify_domain);
        }
        if !self.may_set_sender(st, &s) {
            return;
        }
        env.sender = s;
        if self.caller.trusted {
            self.auth_sender = None;
            self.name = String::new();
            self.sender_local = false;
        }
    }
}

/// The sender address of `-f` (`<>` and the empty string are the null sender).
fn parse_f(text: &str) -> Result<Vec<u8>, String> {
    if text.is_empty() {
        return Ok(Vec::new());
    }
    let opts = crate::expand::address::Options {
        allow_null: true,
        allow_domain_literals: true,
        strip_trailing_dot: true,
        allow_utf8_domains: true,
        ..Default::default()
    };
    crate::expand::address::Parser::new(opts)
        .extract(text.as_bytes())
        .map(|a| a.address)
        .map_err(|e| format!("exim: bad -f address \"{text}\": {e}"))
}

/// Decide the sender and the caller facts (exim.c's rules for local messages).
fn who_and_sender(st: &Settings, a: &LocalArgs) -> Result<(Who, Vec<u8>), String> {
    let caller = Caller::current(&st.exim_user, &st.trusted_users, &st.trusted_groups);
    decide_sender(st, a, caller)
}

/// [`who_and_sender`] for a given caller.
fn decide_sender(st: &Settings, a: &LocalArgs, caller: Caller) -> Result<(Who, Vec<u8>), String> {
    let trusted = caller.trusted;
    let mut sender = match &a.sender {
        Some(t) => Some(parse_f(t)?),
        None => None,
    };
    let mut sender_forced = sender.is_some();
    let raw_name = match &a.name {
        Some(n) => n.clone(),
        None if sender.is_none() || !trusted => caller.gecos.clone(),
        None => String::new(),
    };
    let name = crate::config::rewrite_apply::fix_phrase(&raw_name).unwrap_or(raw_name);
    let sender_local = (sender.is_none() && !a.batched_smtp) || !trusted;
    let login = caller.login.clone();
    let mut who = Who {
        sender_local,
        name,
        name_forced: a.name.is_some(),
        sender_forced,
        ident: Some(login.clone()),
        protocol: if a.batched_smtp {
            "local-bsmtp"
        } else {
            "local"
        }
        .into(),
        ident_tainted: false,
        protocol_tainted: false,
        auth_id: None,
        auth_sender: None,
        sender_set_untrusted: false,
        helo: None,
        host: None,
        host_name: None,
        interface: None,
        local_error: None,
        caller,
    };
    if trusted {
        if let Some(i) = &a.ident {
            who.ident = (!i.is_empty()).then(|| i.clone());
            who.ident_tainted = true;
        }
        if let Some(p) = &a.protocol {
            who.protocol = p.clone();
            who.protocol_tainted = true;
        }
        let address = |t: &str| {
            crate::cli::bh::split_address(t)
                .ok_or_else(|| format!("exim: \"{t}\" is not a valid IP address"))
        };
        if let Some(t) = &a.host_address {
            who.host = Some(address(t)?);
            who.host_name = a.host_name.clone();
        }
        if let Some(t) = &a.interface {
            who.interface = Some(address(t)?);
        }
        who.auth_id = a.auth_id.clone();
        who.auth_sender = a.auth_sender.clone();
    }
    if sender_local {
        who.auth_sender
            .get_or_insert_with(|| format!("{login}@{}", st.qualify_domain));
        who.auth_id.get_or_insert_with(|| login.clone());
    }
    let allowed = sender.as_ref().is_some_and(|s| who.may_set_sender(st, s));
    if (!a.batched_smtp && sender.is_none()) || (sender.is_some() && !allowed) {
        // The null sender is always allowed; anything else becomes the caller.
        if sender.as_ref().is_none_or(|s| !s.is_empty()) {
            sender = Some(login.clone().into_bytes());
            sender_forced = false;
        }
    }
    who.sender_forced = sender_forced;
    who.sender_set_untrusted = !trusted && sender_forced;
    let mut s = sender.unwrap_or_default();
    if !s.is_empty() && !s.contains(&b'@') {
        let lp = fixups::quote_local_part(&String::from_utf8_lossy(&s));
        s = format!("{lp}@{}", st.qualify_domain).into_bytes();
    }
    Ok((who, s))
}

/// The rest of stdin as Exim copies it into a report (up to a line holding only a dot
/// when dots end messages, the dot kept without its newline).
fn stdin_copy<R: std::io::Read>(src: &mut input::Source<R>, dot_ends: bool) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(line) = src.line(1 << 20) {
        if dot_ends && line == b"." {
            out.push(b'.');
            break;
        }
        out.extend_from_slice(&line);
        out.push(b'\n');
        if out.len() > 1 << 24 {
            break;
        }
    }
    out
}

/// The command-line recipients (comma-separated lists allowed); `Err` is the argument
/// (as Exim prints it) and the parse error.
fn recipients(list: &[String]) -> Result<Vec<Vec<u8>>, (String, String)> {
    let mut out = Vec::new();
    for arg in list {
        for one in crate::expand::address::split(arg.as_bytes()) {
            let trimmed = one.trim_ascii();
            if trimmed.is_empty() {
                continue;
            }
            match crate::expand::address::extract(trimmed) {
                Ok(a) => out.push(a.address),
                Err(e) => return Err((printing(arg), e)),
            }
        }
    }
    Ok(out)
}

/// Exim's text when it is called with nothing to do.
const USAGE: &str = "Exim is a Mail Transfer Agent. It is normally called by Mail User Agents,\n\
not directly from a shell command line. Options and/or arguments control\n\
what it does when called. For a list of options, see the Exim documentation.\n";

/// `rexim -bm ...` / `rexim -t` / `rexim -bS` / `rexim addr ...`: the exit status.
pub fn main(argv: &[String]) -> i32 {
    let a = match args::parse(argv) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            return EXIT_FAILURE;
        }
    };
    let cli = crate::cli::args::Args {
        config: a.config.clone(),
        defines: a.defines.clone(),
        ..Default::default()
    };
    let cfg = match crate::cli::config::load(&cli) {
        Ok(c) => c,
        Err(rc) => return rc,
    };
    let st = match Settings::from_config(&cfg) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("rexim: {e}");
            return EXIT_FAILURE;
        }
    };
    let (mut who, sender) = match who_and_sender(&st, &a) {
        Ok(x) => x,
        Err(e) => {
            eprintln!("{e}");
            return EXIT_FAILURE;
        }
    };
    let mut log = Logger::new(&st.logs);
    let stdin = std::io::stdin();
    let mut src = input::Source::new(stdin.lock());
    let errors_to_stderr = a.errors == ErrorMode::Stderr;
    if a.batched_smtp {
        return bsmtp::run(&st, &mut who, sender, &a, &mut src, &mut log);
    }
    if !a.extract && a.recipients.is_empty() {
        eprint!("{USAGE}");
        return EXIT_FAILURE;
    }
    let rcpts = match recipients(&a.recipients) {
        Ok(r) => r,
        Err((arg, error)) if !errors_to_stderr => {
            // Exim mails the report with a copy of the message still on stdin.
            let body = stdin_copy(&mut src, a.dot_ends);
            let f = fail::Failure {
                kind: bounce::Kind::BadArgAddress { text: arg, error },
                prefix: "",
                text: String::new(),
                headers: Vec::new(),
                message_size: body.len() as u64,
                body: Some(body),
            };
            let sent = fail::mail(&st, &who, &mut log, &sender, &f);
            return if sent && a.errors_exit_zero {
                0
            } else {
                EXIT_FAILURE
            };
        }
        Err((arg, e)) => {
            eprintln!("exim: bad recipient address \"{arg}\": {e}");
            return EXIT_FAILURE;
        }
    };
    if !a.extract && st.recipients_max > 0 && rcpts.len() as u64 > st.recipients_max {
        eprintln!("exim: too many recipients");
        return EXIT_FAILURE;
    }
    let env = Envelope {
        sender,
        recipients: rcpts,
    };
    let mode = Mode {
        extract: a.extract,
        dot_ends: a.dot_ends,
        batched: false,
        errors_to_stderr,
        errors_exit_zero: a.errors_exit_zero,
    };
    match receive::receive(&st, &mut who, env, mode, &mut src, &mut log) {
        Outcome::Exit(rc) => rc,
        Outcome::Error(rc) => rc,
        Outcome::BatchRejected(_) | Outcome::Lost(_) => EXIT_FAILURE,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(extra: &str) -> Settings {
        let text =
            format!("primary_hostname = test.example\nspool_directory = /nonexistent\n{extra}");
        let cfg =
            crate::config::load_text("t.conf", text, crate::config::initial_macros(&[]).unwrap());
        Settings::from_config(&cfg).unwrap()
    }

    fn caller(trusted: bool) -> Caller {
        Caller {
            login: "fred".into(),
            uid: 1000,
            gid: 1000,
            gecos: "Fred Bloggs".into(),
            trusted,
        }
    }

    fn with_f(f: &str) -> LocalArgs {
        LocalArgs {
            sender: Some(f.into()),
            dot_ends: true,
            ..LocalArgs::default()
        }
    }

    #[test]
    fn untrusted_callers_cannot_name_the_sender() {
        let st = settings("");
        let (who, s) = decide_sender(&st, &with_f("boss@corp.example"), caller(false)).unwrap();
        assert_eq!(s, b"fred@test.example");
        assert!(who.sender_local && !who.sender_set_untrusted);
        assert_eq!(who.auth_id.as_deref(), Some("fred"));
        assert_eq!(who.name, "Fred Bloggs");
        // The null sender is always allowed, and marked as set by an untrusted caller.
        let (who, s) = decide_sender(&st, &with_f("<>"), caller(false)).unwrap();
        assert!(s.is_empty() && who.sender_set_untrusted);
    }

    #[test]
    fn untrusted_set_sender_and_trusted_callers() {
        let st = settings("untrusted_set_sender = *@corp.example\n");
        let (who, s) = decide_sender(&st, &with_f("boss@corp.example"), caller(false)).unwrap();
        assert_eq!(s, b"boss@corp.example");
        assert!(who.sender_local && who.sender_set_untrusted);
        let (who, s) = decide_sender(&st, &with_f("x@other.example"), caller(false)).unwrap();
        assert_eq!(s, b"fred@test.example");
        assert!(!who.sender_set_untrusted);
        // A trusted caller's -f is taken as is; no local sender, no name without -F.
        let (who, s) = decide_sender(&st, &with_f("x@other.example"), caller(true)).unwrap();
        assert_eq!(s, b"x@other.example");
        assert!(!who.sender_local && who.auth_id.is_none() && who.name.is_empty());
    }
}
