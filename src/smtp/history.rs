//! The last commands of a connection, as Exim keeps them for the `C=` element of
//! "dropped" and "no MAIL" log lines.

use crate::smtp::proto::Verb;

/// How many commands are kept (Exim's `SMTP_HBUFF_SIZE`).
const KEPT: usize = 20;

/// A ring of the most recent commands.
#[derive(Debug, Clone, Default)]
pub struct History {
    ring: [Option<Verb>; KEPT],
    next: usize,
}

impl History {
    /// Record a command as it starts being handled.
    pub fn had(&mut self, verb: Verb) {
        self.ring[self.next] = Some(verb);
        self.next = (self.next + 1) % KEPT;
    }

    /// The command before the current one's successor: the latest recorded.
    pub fn latest(&self) -> Option<Verb> {
        self.ring[(self.next + KEPT - 1) % KEPT]
    }

    /// ` C=EHLO,MAIL,...`, oldest first; ` C=...,` once the ring has filled, as older
    /// commands may have been lost.
    pub fn log_element(&self) -> String {
        let mut s = String::from(if self.ring[KEPT - 1].is_some() {
            " C=..."
        } else {
            " C="
        });
        let mut first = true;
        for i in (self.next..KEPT).chain(0..self.next) {
            if let Some(v) = self.ring[i] {
                if !first {
                    s.push(',');
                }
                s.push_str(verb_name(v));
                first = false;
            }
        }
        s
    }
}

/// The command names Exim's history shows.
fn verb_name(v: Verb) -> &'static str {
    match v {
        Verb::Auth => "AUTH",
        Verb::Data => "DATA",
        Verb::Bdat => "BDAT",
        Verb::Ehlo => "EHLO",
        Verb::Etrn => "ETRN",
        Verb::Expn => "EXPN",
        Verb::Helo => "HELO",
        Verb::Help => "HELP",
        Verb::Mail => "MAIL",
        Verb::Noop => "NOOP",
        Verb::Quit => "QUIT",
        Verb::Rcpt => "RCPT",
        Verb::Rset => "RSET",
        Verb::Starttls => "STARTTLS",
        Verb::Vrfy => "VRFY",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oldest_first_and_marks_a_full_ring() {
        let mut h = History::default();
        assert_eq!(h.log_element(), " C=");
        h.had(Verb::Ehlo);
        h.had(Verb::Mail);
        assert_eq!(h.log_element(), " C=EHLO,MAIL");
        assert_eq!(h.latest(), Some(Verb::Mail));
        for _ in 0..19 {
            h.had(Verb::Noop);
        }
        h.had(Verb::Quit);
        let e = h.log_element();
        assert!(e.starts_with(" C=...NOOP,"), "{e}");
        assert!(e.ends_with(",NOOP,QUIT"), "{e}");
        assert_eq!(e.matches(',').count(), KEPT - 1);
    }
}
