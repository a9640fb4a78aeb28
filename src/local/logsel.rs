//! The `log_selector` words that change a local message's `<=` line: `msg_id` (on by
//! default: `id=` for a Message-Id the message brought), `msg_id_created` (also for
//! one Exim made), `subject` (`T="..."`), `received_recipients` (`for a@b ...`).

use crate::smtp::logsel::selector_words;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArrivalLogging {
    pub msg_id: bool,
    pub msg_id_created: bool,
    pub subject: bool,
    pub received_recipients: bool,
}

impl Default for ArrivalLogging {
    fn default() -> Self {
        ArrivalLogging {
            msg_id: true,
            msg_id_created: false,
            subject: false,
            received_recipients: false,
        }
    }
}

impl ArrivalLogging {
    pub fn from_selector(text: &str) -> ArrivalLogging {
        let mut l = ArrivalLogging::default();
        for (on, name) in selector_words(text) {
            match name {
                "all" => {
                    l = ArrivalLogging {
                        msg_id: on,
                        msg_id_created: on,
                        subject: on,
                        received_recipients: on,
                    }
                }
                "msg_id" => l.msg_id = on,
                "msg_id_created" => l.msg_id_created = on,
                "subject" => l.subject = on,
                "received_recipients" => l.received_recipients = on,
                _ => {}
            }
        }
        l
    }
}

/// Exim's `T="..."`: the first 100 bytes of the subject, `"` and `\` escaped, then
/// non-printing characters shown as escapes.
pub fn subject_element(subject: &[u8]) -> String {
    let mut q = vec![b'"'];
    for &c in subject.iter().take(100) {
        if c == b'"' || c == b'\\' {
            q.push(b'\\');
        }
        q.push(c);
    }
    q.push(b'"');
    format!(
        " T={}",
        crate::local::printing(&String::from_utf8_lossy(&q))
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selector_and_subject() {
        let l = ArrivalLogging::from_selector("+subject -msg_id +received_recipients");
        assert!(l.subject && !l.msg_id && l.received_recipients);
        assert_eq!(subject_element(br#"say "hi""#), r#" T="say \"hi\"""#);
    }
}
