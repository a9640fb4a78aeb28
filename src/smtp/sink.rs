//! Where accepted messages go. The session replies 250 only after `store` returns Ok,
//! so an implementation must return only once the message is durable (fsync'd).

use crate::expand::Context;

/// A message the DATA/BDAT phase accepted, as the spool needs it.
pub struct AcceptedMessage<'a> {
    /// Exim-format message id (`1xVaTL-00007s-1n`).
    pub id: &'a str,
    /// Envelope sender without angle brackets (empty for the null sender).
    pub sender: &'a [u8],
    /// Accepted recipients.
    pub recipients: &'a [Vec<u8>],
    /// Message as received (headers and body, LF line ends, dot-unstuffed).
    pub data: &'a [u8],
    /// What the ACLs did to the header list, step by step (`add_header` lines with
    /// their positions, `remove_header` names).
    pub header_batches: &'a [crate::spool::edits::HeaderBatch],
    /// The connection's variables (host, HELO, authentication, `$acl_c*`, `$acl_m*`,
    /// `$message_smtputf8` ...).
    pub ctx: &'a Context,
    /// DSN: `RET=` (Exim's `dsn_ret`: 0, 1 FULL, 2 HDRS), `ENVID=`, and per recipient
    /// `NOTIFY=`/`ORCPT=` (parallel to `recipients`; may be shorter).
    pub dsn_ret: u8,
    pub dsn_envid: Option<&'a [u8]>,
    pub recipient_dsn: &'a [crate::smtp::session::RecipientDsn],
    /// The mechanism the client authenticated with (`-host_auth_pubname`).
    pub auth_pubname: Option<&'a str>,
    /// `control = freeze`: the time it was frozen (`-frozen` in `-H`).
    pub frozen_at: Option<i64>,
    /// Indices of the message's own header lines that are old (`*`: a `Sender:`
    /// dropped by submission mode).
    pub obsolete_headers: &'a [usize],
    /// Brightmail verdicts (`-bmi_verdicts`), when `control = bmi_run` got some.
    pub bmi_verdicts: Option<&'a [u8]>,
    /// The Received: header made when the data was read (Exim makes it once, before the
    /// DKIM/MIME/DATA ACLs, which see it), with the `received_header_text` it was made
    /// from; the spool uses it when its own template is the same, else builds its own.
    pub received_header: Option<(&'a str, &'a [u8])>,
}

pub trait MessageSink: Send + Sync {
    /// Store the message durably; an error makes the session answer 451.
    fn store(&self, msg: &AcceptedMessage) -> std::io::Result<()>;

    /// As `store`, also giving the message size as Exim counts it (headers as stored,
    /// including the added Received:, plus body plus one: the `S=` of the `<=` log line).
    /// `None` lets the session compute it the same way.
    fn store_sized(&self, msg: &AcceptedMessage) -> std::io::Result<Option<u64>> {
        self.store(msg).map(|()| None)
    }
}
