//! Option tables for the main section and every driver rexim knows (generated rows).

mod authenticator_cram_md5;
mod authenticator_generic;
mod authenticator_plaintext;
mod main;
mod router_accept;
mod router_dnslookup;
mod router_generic;
mod router_ipliteral;
mod router_manualroute;
mod router_redirect;
mod transport_appendfile;
mod transport_autoreply;
mod transport_generic;
mod transport_pipe;
mod transport_queuefile;
mod transport_smtp;

use super::options::OptDef;

pub use main::MAIN;

/// A driver that configurations may name with `driver =`.
#[derive(Debug, Clone, Copy)]
pub struct DriverDef {
    pub name: &'static str,
    pub options: &'static [OptDef],
    /// One of the drivers rexim is to implement: `_DRIVER_*` macros and `-bV` name it (as
    /// "configuration only" until the engines exist). Others (ipliteral, autoreply) are only
    /// read, so that Debian's configuration loads.
    pub supported: bool,
}

/// The three driver classes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    Router,
    Transport,
    Authenticator,
}

impl Class {
    pub fn name(self) -> &'static str {
        match self {
            Class::Router => "router",
            Class::Transport => "transport",
            Class::Authenticator => "authenticator",
        }
    }

    pub fn generic(self) -> &'static [OptDef] {
        match self {
            Class::Router => router_generic::ROUTER_GENERIC,
            Class::Transport => transport_generic::TRANSPORT_GENERIC,
            Class::Authenticator => authenticator_generic::AUTHENTICATOR_GENERIC,
        }
    }

    pub fn drivers(self) -> &'static [DriverDef] {
        match self {
            Class::Router => ROUTERS,
            Class::Transport => TRANSPORTS,
            Class::Authenticator => AUTHENTICATORS,
        }
    }
}

pub const ROUTERS: &[DriverDef] = &[
    DriverDef {
        name: "accept",
        options: router_accept::ROUTER_ACCEPT,
        supported: true,
    },
    DriverDef {
        name: "dnslookup",
        options: router_dnslookup::ROUTER_DNSLOOKUP,
        supported: true,
    },
    DriverDef {
        name: "ipliteral",
        options: router_ipliteral::ROUTER_IPLITERAL,
        supported: false,
    },
    DriverDef {
        name: "manualroute",
        options: router_manualroute::ROUTER_MANUALROUTE,
        supported: true,
    },
    DriverDef {
        name: "redirect",
        options: router_redirect::ROUTER_REDIRECT,
        supported: true,
    },
];

pub const TRANSPORTS: &[DriverDef] = &[
    DriverDef {
        name: "appendfile",
        options: transport_appendfile::TRANSPORT_APPENDFILE,
        supported: true,
    },
    DriverDef {
        name: "autoreply",
        options: transport_autoreply::TRANSPORT_AUTOREPLY,
        supported: false,
    },
    DriverDef {
        name: "pipe",
        options: transport_pipe::TRANSPORT_PIPE,
        supported: true,
    },
    DriverDef {
        name: "queuefile",
        options: transport_queuefile::TRANSPORT_QUEUEFILE,
        supported: true,
    },
    DriverDef {
        name: "smtp",
        options: transport_smtp::TRANSPORT_SMTP,
        supported: true,
    },
];

pub const AUTHENTICATORS: &[DriverDef] = &[
    DriverDef {
        name: "cram_md5",
        options: authenticator_cram_md5::AUTHENTICATOR_CRAM_MD5,
        supported: true,
    },
    DriverDef {
        name: "plaintext",
        options: authenticator_plaintext::AUTHENTICATOR_PLAINTEXT,
        supported: true,
    },
];

/// Binary search by name, as Exim's `find_option` (tables are sorted).
pub fn find(table: &'static [OptDef], name: &str) -> Option<&'static OptDef> {
    table
        .binary_search_by(|o| o.name.cmp(name))
        .ok()
        .map(|i| &table[i])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_sorted_and_unique() {
        let mut all: Vec<&[OptDef]> = vec![MAIN];
        for c in [Class::Router, Class::Transport, Class::Authenticator] {
            all.push(c.generic());
            all.extend(c.drivers().iter().map(|d| d.options));
            assert!(c.drivers().windows(2).all(|w| w[0].name < w[1].name));
        }
        for t in all {
            assert!(
                t.windows(2).all(|w| w[0].name < w[1].name),
                "{:?}",
                t.first().map(|o| o.name)
            );
        }
    }
}
