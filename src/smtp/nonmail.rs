//! Exim's limit on "non-mail" commands (`smtp_accept_max_nonmail`): every command but MAIL,
//! RCPT, DATA, BDAT and QUIT counts, except one RSET, one HELO/EHLO and one STARTTLS per
//! message, the first AUTH of the connection, and one EHLO and AUTH after STARTTLS. It is
//! what bounds repeated failing AUTH attempts on one connection.

use crate::smtp::proto::Verb;

/// Which commands are uncounted right now, and the count so far.
#[derive(Debug, Clone)]
pub struct NonMail {
    count: u32,
    free_rset: bool,
    free_helo: bool,
    free_ehlo: bool,
    free_starttls: bool,
    free_auth: bool,
}

impl Default for NonMail {
    fn default() -> Self {
        NonMail {
            count: 0,
            free_rset: true,
            free_helo: true,
            free_ehlo: true,
            free_starttls: true,
            free_auth: true,
        }
    }
}

impl NonMail {
    /// Is `verb` a "mail" command (never counted) at this point?
    pub fn is_free(&self, verb: Verb) -> bool {
        match verb {
            Verb::Mail | Verb::Rcpt | Verb::Data | Verb::Bdat | Verb::Quit => true,
            Verb::Rset => self.free_rset,
            Verb::Helo => self.free_helo,
            Verb::Ehlo => self.free_ehlo,
            Verb::Starttls => self.free_starttls,
            Verb::Auth => self.free_auth,
            _ => false,
        }
    }

    /// Count `verb` if it is a non-mail command; true when the count passes `max`.
    pub fn count(&mut self, verb: Verb, max: u32) -> bool {
        if self.is_free(verb) {
            return false;
        }
        self.count += 1;
        self.count > max
    }

    /// The command is being processed: its one free use is gone.
    pub fn used(&mut self, verb: Verb) {
        match verb {
            Verb::Rset => self.free_rset = false,
            Verb::Helo | Verb::Ehlo => {
                self.free_helo = false;
                self.free_ehlo = false;
            }
            Verb::Starttls => self.free_starttls = false,
            Verb::Auth => self.free_auth = false,
            _ => {}
        }
    }

    /// A new message is expected (connection start, after a message was read).
    pub fn new_message(&mut self) {
        self.free_rset = true;
        self.free_helo = true;
        self.free_ehlo = true;
        self.free_starttls = true;
    }

    /// After a successful STARTTLS: one more EHLO and AUTH go uncounted.
    pub fn after_starttls(&mut self) {
        self.free_ehlo = true;
        self.free_auth = true;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_as_exim() {
        let mut n = NonMail::default();
        // The first EHLO, RSET and AUTH are free; repeats count.
        for v in [Verb::Ehlo, Verb::Rset, Verb::Auth, Verb::Mail, Verb::Quit] {
            assert!(!n.count(v, 0), "{v:?}");
            n.used(v);
        }
        assert!(!n.count(Verb::Auth, 1));
        assert!(n.count(Verb::Noop, 1));
        let mut n = NonMail::default();
        n.used(Verb::Helo);
        assert!(!n.is_free(Verb::Ehlo));
        n.new_message();
        assert!(n.is_free(Verb::Ehlo));
        n.used(Verb::Auth);
        n.new_message();
        assert!(!n.is_free(Verb::Auth));
        n.after_starttls();
        assert!(n.is_free(Verb::Auth));
    }
}
