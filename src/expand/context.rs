//! The evaluation context: variable values, the message, lookups, limits and hooks.
//! A `Context` belongs to one connection/message/thread; parsed expansions are shared.

use std::collections::HashMap;
use std::sync::Arc;

use crate::expand::message::Message;
use crate::expand::value::Val;
use crate::expand::vars::{self, Var, VarId};
use crate::lookup::Lookups;

/// Bounds that keep hostile input from exhausting the machine.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Deepest nesting of items, operators and conditions during evaluation.
    pub max_depth: u32,
    /// Largest result (bytes) of any single expansion.
    pub max_output: usize,
    /// Most list items processed by one map/filter/reduce/sort.
    pub max_list_items: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_depth: 200,
            max_output: 64 << 20,
            max_list_items: 1 << 20,
        }
    }
}

/// Settings from the main configuration that change expansion behaviour.
#[derive(Debug, Clone)]
pub struct Settings {
    pub strict_acl_vars: bool,
    pub headers_charset: String,
    pub print_topbitchars: bool,
    /// Names of environment variables `${env}` may see (`keep_environment`).
    pub keep_environment: Option<Vec<String>>,
    /// `$message_body` length (`message_body_visible`).
    pub message_body_visible: usize,
    pub message_body_newlines: bool,
    /// This is the first delivery attempt of the message (`first_delivery` condition).
    pub first_delivery: bool,
    /// Running in a process started by a queue runner (`queue_running` condition).
    pub queue_running: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            strict_acl_vars: false,
            headers_charset: "UTF-8".into(),
            print_topbitchars: false,
            keep_environment: None,
            message_body_visible: 500,
            message_body_newlines: false,
            first_delivery: false,
            queue_running: false,
        }
    }
}

/// Named lists (`domainlist` etc.) as seen by `${listnamed}` and `+name` list items.
pub trait NamedLists: Send + Sync {
    /// The raw (unexpanded) text of a named list; `kind` is one of `a d h l`
    /// (address, domain, host, local part) or `None` for any.
    fn get(&self, name: &str, kind: Option<char>) -> Option<(char, String)>;
}

/// Runs a named ACL for `${acl}` and the `acl` condition (provided by the ACL engine).
pub trait AclRunner: Send + Sync {
    /// Returns the verdict and the expanded `message=` text.
    fn run(&self, name: &str, args: &[Val], ctx: &mut Context) -> AclOutcome;
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AclOutcome {
    Accept(Option<Val>),
    Deny(Option<Val>),
    Defer,
    Error(String),
}

/// The source of "now" (so tests can pin the clock).
pub trait Clock: Send + Sync {
    /// Seconds and microseconds since the Unix epoch.
    fn now(&self) -> (i64, u32);
}

pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> (i64, u32) {
        let d = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        (d.as_secs() as i64, d.subsec_micros())
    }
}

/// A clock fixed at one instant.
pub struct FixedClock(pub i64);

impl Clock for FixedClock {
    fn now(&self) -> (i64, u32) {
        (self.0, 0)
    }
}

/// Everything an expansion can read or change.
pub struct Context {
    /// The fixed variables set, sorted by id: a connection sets a few dozen of the
    /// ~300 names, so a full table per connection would cost 9 KB for nothing.
    fixed: Vec<(VarId, Val)>,
    acl_c: HashMap<Box<str>, Val>,
    acl_m: HashMap<Box<str>, Val>,
    router: HashMap<Box<str>, Val>,
    auth: [Option<Val>; 4],
    regex: [Option<Val>; 9],
    pub message: Option<Arc<Message>>,
    pub lookups: Arc<Lookups>,
    pub limits: Limits,
    pub settings: Settings,
    pub named_lists: Option<Arc<dyn NamedLists>>,
    pub acl: Option<Arc<dyn AclRunner>>,
    pub clock: Arc<dyn Clock>,
    /// ACL nesting depth, shared by `${acl}` and the ACL engine.
    pub acl_depth: u32,
    /// Lines that Exim would write to its logs (taint violations etc.).
    pub log: Vec<String>,
    /// Spare buffers for intermediate values (operator operands, condition arguments),
    /// kept from one expansion to the next so that most evaluations allocate none.
    pub(crate) scratch: Vec<Vec<u8>>,
    /// A spare `$0..$n` vector whose values keep their buffers (see `Eval::fill_captures`).
    pub(crate) spare_captures: Vec<crate::expand::value::Val>,
    /// `-bh` debug trace (the `>>>` lines); `None` when nobody is watching.
    pub trace: Option<Box<crate::expand::trace::Trace>>,
    /// Results of named host lists without expansions, by list name and host: Exim
    /// caches them for the connection (the `-bh` trace shows `- cached`).
    pub host_list_cache: HashMap<Box<str>, Option<crate::listmatch::Matched>>,
    /// Certificate variables (`Context::set_certificate`, in `expand/cert/`).
    pub certificates: crate::expand::cert::Certificates,
    /// The message's ARC outcome once `verify = arc` ran (for `${authresults}`).
    pub arc: Option<Arc<crate::mailauth::arc::ArcOutcome>>,
    /// The message's DKIM/DMARC (and ARC) results, for `${authresults}` and the ACLs.
    pub auth_results: crate::mailauth::results::AuthResults,
}

impl Default for Context {
    fn default() -> Self {
        Context::new(Arc::new(Lookups::default()))
    }
}

impl Context {
    pub fn new(lookups: Arc<Lookups>) -> Context {
        Context {
            fixed: Vec::new(),
            acl_c: HashMap::new(),
            acl_m: HashMap::new(),
            router: HashMap::new(),
            auth: Default::default(),
            regex: Default::default(),
            message: None,
            lookups,
            limits: Limits::default(),
            settings: Settings::default(),
            named_lists: None,
            acl: None,
            clock: Arc::new(SystemClock),
            acl_depth: 0,
            log: Vec::new(),
            scratch: Vec::new(),
            spare_captures: Vec::new(),
            trace: None,
            host_list_cache: HashMap::new(),
            certificates: Default::default(),
            arc: None,
            auth_results: Default::default(),
        }
    }

    /// Set a variable by name (`domain`, `acl_m_foo`, `r_x`, `auth1`, ...).
    /// Returns false when the name is not a variable.
    pub fn set(&mut self, name: &str, value: impl Into<Val>) -> bool {
        match vars::resolve(name) {
            Some(v) => {
                self.set_var(&v, value.into());
                true
            }
            None => false,
        }
    }

    /// Set a variable to a tainted value (network or message data).
    pub fn set_tainted(&mut self, name: &str, value: &str) -> bool {
        self.set(name, Val::tainted(value.as_bytes()))
    }

    pub fn set_var(&mut self, var: &Var, value: Val) {
        match var {
            Var::Fixed(id) => self.set_fixed(*id, value),
            Var::AclC(n) => {
                self.acl_c.insert(n.clone(), value);
            }
            Var::AclM(n) => {
                self.acl_m.insert(n.clone(), value);
            }
            Var::Router(n) => {
                self.router.insert(n.clone(), value);
            }
            Var::Auth(n) => self.auth[*n as usize - 1] = Some(value),
            Var::Regex(n) => self.regex[*n as usize - 1] = Some(value),
        }
    }

    /// Set a fixed variable by its id ([`vars::id`]), without looking its name up.
    pub fn set_id(&mut self, id: VarId, value: impl Into<Val>) {
        self.set_fixed(id, value.into());
    }

    /// Unset fixed variables by id (a message's reset clears a dozen at once).
    pub fn unset_ids(&mut self, ids: &[VarId]) {
        self.fixed.retain(|(k, _)| !ids.contains(k));
    }

    pub fn unset(&mut self, name: &str) {
        match vars::resolve(name) {
            Some(Var::Fixed(id)) => {
                if let Ok(i) = self.fixed_slot(id) {
                    self.fixed.remove(i);
                }
            }
            Some(Var::Auth(n)) => self.auth[n as usize - 1] = None,
            _ => {}
        }
    }

    /// The value explicitly set for a fixed variable, if any.
    pub fn fixed(&self, id: VarId) -> Option<&Val> {
        self.fixed_slot(id).ok().map(|i| &self.fixed[i].1)
    }

    fn fixed_slot(&self, id: VarId) -> Result<usize, usize> {
        self.fixed.binary_search_by_key(&id, |(k, _)| *k)
    }

    fn set_fixed(&mut self, id: VarId, value: Val) {
        match self.fixed_slot(id) {
            Ok(i) => self.fixed[i].1 = value,
            Err(i) => self.fixed.insert(i, (id, value)),
        }
    }

    /// A fixed variable's value by name, if set.
    pub fn get(&self, name: &str) -> Option<&Val> {
        vars::var_id(name).and_then(|id| self.fixed(id))
    }

    /// Value of an ACL, router, auth or regex variable (`None` when unset).
    pub fn dynamic(&self, var: &Var) -> Option<&Val> {
        match var {
            Var::Fixed(id) => self.fixed(*id),
            Var::AclC(n) => self.acl_c.get(n),
            Var::AclM(n) => self.acl_m.get(n),
            Var::Router(n) => self.router.get(n),
            Var::Auth(n) => self.auth[*n as usize - 1].as_ref(),
            Var::Regex(n) => self.regex[*n as usize - 1].as_ref(),
        }
    }

    /// All `acl_c*` variables (for spooling).
    pub fn acl_c_vars(&self) -> impl Iterator<Item = (&str, &Val)> {
        self.acl_c.iter().map(|(k, v)| (k.as_ref(), v))
    }

    /// All `acl_m*` variables (for spooling).
    pub fn acl_m_vars(&self) -> impl Iterator<Item = (&str, &Val)> {
        self.acl_m.iter().map(|(k, v)| (k.as_ref(), v))
    }

    /// Forget message-scoped ACL variables (MAIL, RSET, HELO, end of message).
    pub fn reset_acl_m(&mut self) {
        self.acl_m.clear();
    }

    /// Now, in seconds since the epoch.
    pub fn now(&self) -> i64 {
        self.clock.now().0
    }
}
