//! `iplsearch`: an lsearch-format file whose keys are IP addresses or CIDR networks.

use crate::lookup::ip::{self, Net};
use crate::lookup::lsearch::{self, LsFile};
use crate::lookup::{Call, LookupDriver, LookupError, Opened, Options};

pub struct Iplsearch;

pub fn make() -> Box<dyn LookupDriver> {
    Box::new(Iplsearch)
}

/// Each entry's key as a network (`None`: `*` or not an address), parsed once per file.
fn nets(file: &LsFile) -> &[Option<Net>] {
    file.nets.get_or_init(|| {
        file.entries
            .iter()
            .map(|e| match ip::is_ip_address(&e.key, true) {
                (0, _) => None,
                (_, mask_at) => ip::parse_net(&e.key, mask_at),
            })
            .collect()
    })
}

impl LookupDriver for Iplsearch {
    fn open(&self, source: &[u8], _opts: &Options) -> Result<Opened, LookupError> {
        lsearch::open(source)
    }

    /// `${lookup{10.1.2.3}iplsearch{/etc/nets}}` gives the data of the first network
    /// containing 10.1.2.3 (`10.1.0.0/16: internal`).
    fn find(
        &self,
        opened: &Opened,
        _: &[u8],
        key: &[u8],
        opts: &Options,
        _: &mut Call,
    ) -> Result<Option<Vec<u8>>, LookupError> {
        let star = key == b"*";
        let host = if star { None } else { Some(key) };
        let host = match host {
            Some(k) if ip::is_ip_address(k, false).0 != 0 => ip::parse_net(k, 0),
            Some(k) => {
                return Err(LookupError::Defer(format!(
                    "\"{}\" is not a valid iplsearch key (an IP address, with optional CIDR mask, is wanted): \
                     in a host list, use net-iplsearch as the search type",
                    String::from_utf8_lossy(k)
                )))
            }
            None => None,
        };
        let Some(file) = opened.get::<LsFile>() else {
            return Ok(None);
        };
        for (e, net) in file.entries.iter().zip(nets(file)) {
            let hit = if e.key == b"*" {
                star
            } else {
                match (net, &host) {
                    (Some(n), Some(h)) => n.contains(h),
                    _ => false,
                }
            };
            if hit {
                return Ok(Some(e.result(opts)));
            }
        }
        Ok(None)
    }
}
