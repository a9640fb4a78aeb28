//! ACL calls from the session, and the replies and log lines for refused commands.

use crate::acl::{run_acl, Phase, Rc, Verdict};
use crate::expand::Expansion;

use super::{smtp_code_len, Done, Session};

impl Session {
    /// Run an ACL for a phase, collecting its log lines.
    pub fn acl(&mut self, phase: Phase, spec: &Expansion) -> Verdict {
        self.acl_state.host_ident = self.host_and_ident();
        let v = run_acl(
            &mut self.ctx,
            &self.acls,
            &mut self.acl_state,
            phase,
            spec,
            self.host_checking,
        );
        let logs = std::mem::take(&mut self.acl_state.logs);
        self.route_logs(logs);
        v
    }

    /// ACL log lines to their logs: `-bh` trace lines as they are, panic-log lines to
    /// `panic_log` too, and every line to `log` under `-bh` (Exim prints them all).
    pub fn route_logs(&mut self, logs: Vec<crate::acl::state::LogLine>) {
        for l in logs {
            if l.targets.is_empty() {
                // A `-bh` trace line, already in order.
                self.log.push(l.text);
                continue;
            }
            if l.targets.contains(&"panic") && !self.host_checking {
                let line = match &self.log_id {
                    Some(id) if !l.text.starts_with(id.as_str()) => format!("{id} {}", l.text),
                    _ => l.text.clone(),
                };
                self.panic_log.push(line);
            }
            if self.host_checking || l.targets.iter().any(|t| *t != "panic") {
                self.log(l.text);
            }
        }
    }

    /// Exim's `smtp_handle_acl_fail`: the reply for a refused command and its log line.
    pub fn acl_fail(&mut self, phase: Phase, v: &Verdict) -> Done {
        let drop = v.rc == Rc::FailDrop;
        let fail = matches!(v.rc, Rc::Fail | Rc::FailDrop);
        let default = if fail {
            phase.reject_code().to_string()
        } else {
            "451".to_string()
        };
        let mut code = default.clone();
        let mut user = v.user_message.clone();
        let mut logm = v.log_message.clone();
        if let Some(u) = user.clone() {
            if let Some(len) = smtp_code_len(&u) {
                if phase != Phase::Vrfy && u.as_bytes()[0] != default.as_bytes()[0] {
                    self.log(format!(
                        "configured error code starts with incorrect digit (expected {}) in \"{u}\"",
                        &default[..1]
                    ));
                    if logm.as_deref() == Some(u.as_str()) {
                        logm = Some(format!("{default} {}", &u[len..]));
                    }
                } else {
                    code = u[..len].to_string();
                }
                user = Some(u[len..].to_string());
            }
        }
        let what = match phase {
            Phase::Predata => "DATA".to_string(),
            Phase::Data => "after DATA".to_string(),
            Phase::Mime => "during MIME ACL checks".to_string(),
            Phase::Connect => "connection in \"connect\" ACL".to_string(),
            // Only the mechanism: the rest may hold credentials.
            Phase::Auth => format!(
                "AUTH {}",
                String::from_utf8_lossy(
                    self.cmd
                        .arg
                        .split(u8::is_ascii_whitespace)
                        .next()
                        .unwrap_or(b"")
                )
            ),
            _ => format!(
                "{} {}",
                phase.name(),
                String::from_utf8_lossy(&self.cmd.arg)
            ),
        };
        let sender_info = match phase {
            Phase::Rcpt | Phase::Data | Phase::Mime => format!(
                "F=<{}>{} ",
                String::from_utf8_lossy(self.env.sender.as_deref().unwrap_or_default()),
                self.auth_log_element()
            ),
            _ => String::new(),
        };
        if fail {
            let msg = user
                .clone()
                .unwrap_or_else(|| "Administrative prohibition".into());
            self.respond(&code, true, &msg);
        } else {
            match user.clone() {
                Some(u) if v.rc == Rc::Defer => self.respond(&code, true, &u),
                _ => self.respond(&code, true, "Temporary local problem - please try later"),
            }
        }
        let logm = logm
            .map(|m| format!(": {}", m.split('\n').next().unwrap_or("")))
            .unwrap_or_default();
        let line = format!(
            "{}{} {sender_info}{}rejected {what}{logm}",
            self.host_and_ident(),
            self.cfg.log_tls.fields(self.tls.as_ref()),
            if fail { "" } else { "temporarily " }
        );
        self.log(line);
        if drop {
            self.notquit("acl-drop");
            Done::Close
        } else {
            Done::Continue
        }
    }

    /// The not-QUIT ACL, run when a connection ends any other way than QUIT.
    pub fn notquit(&mut self, reason: &str) {
        if let Some(spec) = self.cfg.acl_smtp_notquit.clone() {
            self.ctx.set("smtp_notquit_reason", reason);
            let v = self.acl(Phase::NotQuit, &spec);
            if v.rc == Rc::Error {
                self.log(format!(
                    "ACL for not-QUIT returned ERROR: {}",
                    v.log_message.unwrap_or_default()
                ));
            }
        }
    }
}
