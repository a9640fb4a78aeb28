//! ACL phases ("where"): the SMTP command or event an ACL runs for.

/// Where an ACL runs. The order matches Exim's bit numbering, so the
/// forbidden-phase masks of the condition table read like Exim's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Phase {
    Rcpt,
    Mail,
    Predata,
    Mime,
    Dkim,
    Data,
    Prdr,
    NotSmtp,
    Auth,
    Connect,
    Etrn,
    Expn,
    Helo,
    MailAuth,
    NotSmtpStart,
    NotQuit,
    Quit,
    Starttls,
    Vrfy,
    Delivery,
    /// `${acl}` from an expansion outside any SMTP phase.
    Unknown,
}

impl Phase {
    pub const fn bit(self) -> u32 {
        1 << (self as u8)
    }

    /// The name Exim uses in messages ("cannot test X condition in RCPT ACL").
    pub fn name(self) -> &'static str {
        match self {
            Phase::Rcpt => "RCPT",
            Phase::Mail => "MAIL",
            Phase::Predata => "PREDATA",
            Phase::Mime => "MIME",
            Phase::Dkim => "DKIM",
            Phase::Data => "DATA",
            Phase::Prdr => "PRDR",
            Phase::NotSmtp => "non-SMTP",
            Phase::Auth => "AUTH",
            Phase::Connect => "connection",
            Phase::Etrn => "ETRN",
            Phase::Expn => "EXPN",
            Phase::Helo => "EHLO or HELO",
            Phase::MailAuth => "MAILAUTH",
            Phase::NotSmtpStart => "non-SMTP-start",
            Phase::NotQuit => "NOTQUIT",
            Phase::Quit => "QUIT",
            Phase::Starttls => "STARTTLS",
            Phase::Vrfy => "VRFY",
            Phase::Delivery => "delivery",
            Phase::Unknown => "unknown",
        }
    }

    /// Exim's default rejection code for the phase.
    pub fn reject_code(self) -> u16 {
        match self {
            Phase::Auth => 503,
            Phase::Etrn => 458,
            Phase::Vrfy => 252,
            _ => 550,
        }
    }
}

/// Bit masks for the condition table (names follow Exim's `ACL_BIT_*`).
pub mod bits {
    use super::Phase;
    pub const RCPT: u32 = Phase::Rcpt.bit();
    pub const MAIL: u32 = Phase::Mail.bit();
    pub const PREDATA: u32 = Phase::Predata.bit();
    pub const MIME: u32 = Phase::Mime.bit();
    pub const DKIM: u32 = Phase::Dkim.bit();
    pub const DATA: u32 = Phase::Data.bit();
    pub const PRDR: u32 = Phase::Prdr.bit();
    pub const NOTSMTP: u32 = Phase::NotSmtp.bit();
    pub const AUTH: u32 = Phase::Auth.bit();
    pub const CONNECT: u32 = Phase::Connect.bit();
    pub const ETRN: u32 = Phase::Etrn.bit();
    pub const EXPN: u32 = Phase::Expn.bit();
    pub const HELO: u32 = Phase::Helo.bit();
    pub const MAILAUTH: u32 = Phase::MailAuth.bit();
    pub const NOTSMTP_START: u32 = Phase::NotSmtpStart.bit();
    pub const NOTQUIT: u32 = Phase::NotQuit.bit();
    pub const QUIT: u32 = Phase::Quit.bit();
    pub const STARTTLS: u32 = Phase::Starttls.bit();
    pub const VRFY: u32 = Phase::Vrfy.bit();
}
