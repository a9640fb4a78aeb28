//! The logos token for an SMTP command verb, matched case-insensitively at line start.

use logos::Logos;

/// The command words Exim recognises (`mail from:` and `rcpt to:` include the colon).
#[derive(Logos, Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[logos(utf8 = false)]
pub enum Verb {
    #[token("helo", ignore(case))]
    Helo,
    #[token("ehlo", ignore(case))]
    Ehlo,
    #[token("mail from:", ignore(case))]
    Mail,
    #[token("rcpt to:", ignore(case))]
    Rcpt,
    #[token("data", ignore(case))]
    Data,
    #[token("bdat", ignore(case))]
    Bdat,
    #[token("rset", ignore(case))]
    Rset,
    #[token("noop", ignore(case))]
    Noop,
    #[token("quit", ignore(case))]
    Quit,
    #[token("vrfy", ignore(case))]
    Vrfy,
    #[token("expn", ignore(case))]
    Expn,
    #[token("help", ignore(case))]
    Help,
    #[token("etrn", ignore(case))]
    Etrn,
    #[token("starttls", ignore(case))]
    Starttls,
    #[token("auth", ignore(case))]
    Auth,
}

impl Verb {
    /// Whether the command may carry argument text (others give `501 unexpected argument data`).
    pub fn has_arg(self) -> bool {
        !matches!(self, Verb::Data | Verb::Quit | Verb::Rset | Verb::Starttls)
    }

    /// Length of the command word as matched (for `$smtp_command_argument`).
    fn word_len(self) -> usize {
        match self {
            Verb::Mail => 10,
            Verb::Rcpt => 8,
            Verb::Starttls => 8,
            _ => 4,
        }
    }
}

/// Recognise the verb at the start of a command line: it must be followed by the end of the
/// line or a space, unless it ends with a colon. Returns the verb and the offset of its end.
pub fn verb(line: &[u8]) -> Option<(Verb, usize)> {
    let mut lex = Verb::lexer(line);
    let tok = lex.next()?.ok()?;
    if lex.span().start != 0 {
        return None;
    }
    let end = tok.word_len();
    debug_assert_eq!(lex.span().end, end);
    let ends_colon = matches!(tok, Verb::Mail | Verb::Rcpt);
    match line.get(end) {
        None => Some((tok, end)),
        Some(b' ') => Some((tok, end)),
        Some(_) if ends_colon => Some((tok, end)),
        Some(_) => None,
    }
}
