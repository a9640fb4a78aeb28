//! Host-list checks against the calling host, and the qualify domains.

use super::Session;

impl Session {
    /// Does the calling host match the host-list option `name`? Traced under `-bh` as
    /// Exim traces its own option checks (`host in NAME? no (option unset)`).
    pub fn host_option(&mut self, name: &str, list: &str) -> bool {
        if list.is_empty() && !self.cfg.empty_lists.iter().any(|n| n == name) {
            self.ctx
                .trace(|| format!("host in {name}? no (option unset)"));
            return false;
        }
        let ip = self.peer.address.clone();
        let host = self.peer.name.clone();
        matches!(
            crate::listmatch::match_host_option(
                &mut self.ctx,
                ip.as_bytes(),
                host.as_deref().map(str::as_bytes),
                list.as_bytes(),
                name
            ),
            Ok(Some(_))
        )
    }

    /// The domain unqualified senders get (`qualify_domain`, else `primary_hostname`),
    /// and unqualified recipients (`qualify_recipient`, else the former).
    pub fn qualify_domain(&self, recipient: bool) -> String {
        let c = &self.cfg;
        if recipient && !c.qualify_recipient.is_empty() {
            return c.qualify_recipient.clone();
        }
        if c.qualify_domain.is_empty() {
            c.primary_hostname.clone()
        } else {
            c.qualify_domain.clone()
        }
    }

    /// Does the calling host match a host list (untraced)?
    pub fn host_in(&mut self, list: &str) -> bool {
        if list.is_empty() {
            return false;
        }
        let ip = self.peer.address.clone();
        let name = self.peer.name.clone();
        // Not traced: the `-bh` trace names these option checks, which rexim does not yet.
        let trace = self.ctx.trace.take();
        let hit = matches!(
            crate::listmatch::match_host(
                &mut self.ctx,
                ip.as_bytes(),
                name.as_deref().map(str::as_bytes),
                list.as_bytes(),
                true
            ),
            Ok(Some(_))
        );
        self.ctx.trace = trace;
        hit
    }
}
