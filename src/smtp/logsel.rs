//! The `log_selector` bits that decide which of the session's own lines are written
//! (the TLS fields are in `smtp/tls`).

/// Session log lines Exim's default `log_selector` leaves out.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SessionLogging {
    /// `smtp_syntax_error`: "SMTP syntax error in ...", unqualified addresses.
    pub syntax_error: bool,
    /// `smtp_protocol_error`: "SMTP protocol error in ...".
    pub protocol_error: bool,
    /// `smtp_no_mail`: "no MAIL in SMTP connection from ..." at the end of a connection.
    pub no_mail: bool,
}

/// The `+name`/`-name` words of a `log_selector` value, left to right (other words are
/// skipped); each log family picks the names it knows.
pub fn selector_words(text: &str) -> impl Iterator<Item = (bool, &str)> {
    text.split_whitespace()
        .filter_map(|word| match word.as_bytes()[0] {
            b'+' => Some((true, &word[1..])),
            b'-' => Some((false, &word[1..])),
            _ => None,
        })
}

impl SessionLogging {
    /// Apply a `log_selector` value (`+smtp_syntax_error -all ...`), left to right;
    /// names about other log lines are skipped.
    pub fn from_selector(text: &str) -> SessionLogging {
        let mut l = SessionLogging::default();
        for (on, name) in selector_words(text) {
            match name {
                "all" => {
                    l = SessionLogging {
                        syntax_error: on,
                        protocol_error: on,
                        no_mail: on,
                    }
                }
                "smtp_syntax_error" => l.syntax_error = on,
                "smtp_protocol_error" => l.protocol_error = on,
                "smtp_no_mail" => l.no_mail = on,
                _ => {}
            }
        }
        l
    }

    /// Whether a `synprot_error` of this kind (`"syntax"` or `"protocol"`) is logged.
    pub fn synprot(&self, kind: &str) -> bool {
        if kind == "syntax" {
            self.syntax_error
        } else {
            self.protocol_error
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_logs_none_and_selectors_apply_in_order() {
        assert_eq!(SessionLogging::from_selector(""), SessionLogging::default());
        let l = SessionLogging::from_selector("+smtp_syntax_error +tls_peerdn");
        assert!(l.syntax_error && !l.protocol_error && !l.no_mail);
        let l = SessionLogging::from_selector("+all -smtp_no_mail");
        assert!(l.syntax_error && l.protocol_error && !l.no_mail);
        let l = SessionLogging::from_selector("+smtp_protocol_error -all +smtp_no_mail");
        assert!(!l.protocol_error && l.no_mail);
        assert!(SessionLogging::from_selector("+smtp_protocol_error").synprot("protocol"));
        assert!(!SessionLogging::from_selector("+smtp_protocol_error").synprot("syntax"));
    }
}
