//! The configuration a local submission uses, read once from the loaded `Config`.

use std::sync::Arc;

use crate::acl::engine::ExpansionAcls;
use crate::acl::AclSet;
use crate::config::{tables, Config, Value};
use crate::expand::{Context, Expansion};
use crate::log::LogFiles;
use crate::spool::Spool;

/// Everything reception needs besides the message.
pub struct Settings {
    pub acls: Arc<AclSet>,
    pub acl_not_smtp_start: Option<Expansion>,
    pub acl_not_smtp: Option<Expansion>,
    pub acl_not_smtp_mime: Option<Expansion>,
    pub primary_hostname: String,
    pub qualify_domain: String,
    pub qualify_recipient: String,
    pub message_size_limit: u64,
    pub header_line_maxsize: u64,
    pub uucp_from_pattern: String,
    pub uucp_from_sender: Expansion,
    pub extract_addresses_remove_arguments: bool,
    pub recipients_max: u64,
    pub untrusted_set_sender: String,
    pub trusted_users: String,
    pub trusted_groups: String,
    pub exim_user: String,
    pub return_path_remove: bool,
    pub envelope_to_remove: bool,
    pub delivery_date_remove: bool,
    pub message_body_visible: usize,
    pub logging: crate::local::logsel::ArrivalLogging,
    /// `dsn_from` (expanded when a report is made) and the other report options.
    pub dsn_from: Expansion,
    pub bounce: crate::local::bounce::Options,
    pub spool: Spool,
    pub logs: LogFiles,
    /// The `-be`-style context: named lists, `$primary_hostname` ...
    pub base_ctx: Context,
}

fn main_value(cfg: &Config, name: &str) -> Option<Value> {
    tables::find(tables::MAIN, name).map(|d| cfg.main_value(d))
}

fn text(cfg: &Config, name: &str) -> String {
    match main_value(cfg, name) {
        Some(Value::Str(s) | Value::Id(s) | Value::Ids(s)) => s,
        Some(Value::Int(i)) => i.to_string(),
        _ => String::new(),
    }
}

fn flag(cfg: &Config, name: &str) -> bool {
    matches!(main_value(cfg, name), Some(Value::Bool(true)))
}

fn number(cfg: &Config, name: &str) -> u64 {
    match main_value(cfg, name) {
        Some(Value::Int(i)) => i.max(0) as u64,
        _ => 0,
    }
}

fn acl_option(cfg: &Config, name: &str) -> Option<Expansion> {
    let t = text(cfg, name);
    (!t.is_empty()).then(|| crate::parse(&t))
}

impl Settings {
    /// Read the settings; `Err` is the text for stderr.
    pub fn from_config(cfg: &Config) -> Result<Settings, String> {
        let (scfg, mut acls) =
            crate::smtp::SessionConfig::from_config(cfg).map_err(|e| e.join("\n"))?;
        let spool_dir = text(cfg, "spool_directory");
        if !spool_dir.is_empty() {
            acls.env.hints_dir = Some(std::path::PathBuf::from(&spool_dir).join("db"));
        }
        let spool = Spool::from_config(cfg).map_err(|e| e.to_string())?;
        let logs = LogFiles::from_config(cfg).map_err(|e| e.to_string())?;
        let acls = Arc::new(acls);
        let mut base_ctx = crate::cli::config::expansion_context(cfg);
        base_ctx.acl = Some(Arc::new(ExpansionAcls { acls: acls.clone() }));
        let primary_hostname = scfg.primary_hostname.clone();
        let qualify_domain = Some(scfg.qualify_domain.clone())
            .filter(|q| !q.is_empty())
            .unwrap_or_else(|| primary_hostname.clone());
        let qualify_recipient = Some(scfg.qualify_recipient.clone())
            .filter(|q| !q.is_empty())
            .unwrap_or_else(|| qualify_domain.clone());
        Ok(Settings {
            acl_not_smtp_start: acl_option(cfg, "acl_not_smtp_start"),
            acl_not_smtp: acl_option(cfg, "acl_not_smtp"),
            acl_not_smtp_mime: acl_option(cfg, "acl_not_smtp_mime"),
            acls,
            primary_hostname,
            qualify_domain,
            qualify_recipient,
            message_size_limit: scfg.message_size_limit,
            header_line_maxsize: number(cfg, "header_line_maxsize"),
            uucp_from_pattern: text(cfg, "uucp_from_pattern"),
            uucp_from_sender: crate::parse(&text(cfg, "uucp_from_sender")),
            extract_addresses_remove_arguments: flag(cfg, "extract_addresses_remove_arguments"),
            recipients_max: number(cfg, "recipients_max"),
            untrusted_set_sender: text(cfg, "untrusted_set_sender"),
            trusted_users: text(cfg, "trusted_users"),
            trusted_groups: text(cfg, "trusted_groups"),
            exim_user: text(cfg, "exim_user"),
            return_path_remove: flag(cfg, "return_path_remove"),
            envelope_to_remove: flag(cfg, "envelope_to_remove"),
            delivery_date_remove: flag(cfg, "delivery_date_remove"),
            message_body_visible: scfg.message_body_visible,
            logging: crate::local::logsel::ArrivalLogging::from_selector(&text(
                cfg,
                "log_selector",
            )),
            dsn_from: crate::parse(&text(cfg, "dsn_from")),
            bounce: crate::local::bounce::Options {
                dsn_from: String::new(),
                errors_reply_to: text(cfg, "errors_reply_to"),
                return_message: flag(cfg, "bounce_return_message"),
                return_body: flag(cfg, "bounce_return_body"),
                size_limit: number(cfg, "bounce_return_size_limit"),
                linesize_limit: number(cfg, "bounce_return_linesize_limit") as usize,
                message_size_limit: scfg.message_size_limit,
            },
            spool,
            logs,
            base_ctx,
        })
    }

    /// A fresh context for one message.
    /// Use `provider` for `control = bmi_run` (the Brightmail SDK's part; a build
    /// without the SDK has `SdkUnavailable`, tests plug in a fake).
    pub fn set_bmi_provider(&mut self, provider: Arc<dyn crate::features::bmi::BmiProvider>) {
        let mut acls = (*self.acls).clone();
        acls.env.bmi.provider = provider;
        self.acls = Arc::new(acls);
        self.base_ctx.acl = Some(Arc::new(ExpansionAcls {
            acls: self.acls.clone(),
        }));
    }

    pub fn context(&self) -> Context {
        let mut ctx = Context::default();
        ctx.named_lists = self.base_ctx.named_lists.clone();
        ctx.acl = self.base_ctx.acl.clone();
        ctx.settings = self.base_ctx.settings.clone();
        for name in [
            "primary_hostname",
            "smtp_active_hostname",
            "qualify_domain",
            "qualify_recipient",
            "spool_directory",
            "config_file",
            "config_dir",
        ] {
            if let Some(v) = self.base_ctx.get(name) {
                ctx.set(name, v.clone());
            }
        }
        ctx
    }
}
