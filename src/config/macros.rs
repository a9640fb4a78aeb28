//! Configuration macros: definition rules and Exim's substring substitution.

/// One macro, in definition order (built-ins first, then `-D`, then the file's).
#[derive(Debug, Clone)]
pub struct Macro {
    pub name: String,
    pub value: String,
    pub command_line: bool,
    pub builtin: bool,
}

/// The macro table in Exim's order.
#[derive(Debug, Clone, Default)]
pub struct Macros {
    pub list: Vec<Macro>,
    /// Index of the first non-built-in macro.
    user_start: usize,
}

impl Macros {
    /// The most recently created macro (Exim's `mlast`, which `-be` names even after a `==`).
    pub fn last_created(&self) -> Option<&str> {
        if self.list.len() > self.user_start {
            self.list.last().map(|m| m.name.as_str())
        } else {
            None
        }
    }
}

/// Longest line macro substitution may build (bytes).
const MAX_LINE: usize = 1 << 24;

/// The first candidate at or after `i`: an uppercase letter, or the `_` right before one
/// (found by looking for the letter, which a plain byte search does fast).
fn next_candidate(b: &[u8], i: usize) -> usize {
    let Some(rest) = b.get(i..) else {
        return i;
    };
    match rest.iter().position(u8::is_ascii_uppercase) {
        Some(j) if j > 0 && rest[j - 1] == b'_' => i + j - 1,
        Some(j) => i + j,
        None => b.len().max(i),
    }
}

fn find(hay: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || from > hay.len() {
        return None;
    }
    hay[from..]
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| p + from)
}

impl Macros {
    /// A table holding the given built-in macros (already in Exim's reverse-alphabetical order).
    pub fn with_builtins(builtins: Vec<(String, String)>) -> Macros {
        let list: Vec<Macro> = builtins
            .into_iter()
            .map(|(name, value)| Macro {
                name,
                value,
                command_line: false,
                builtin: true,
            })
            .collect();
        let user_start = list.len();
        Macros { list, user_start }
    }

    /// `-D NAME=value`: errors use Exim's command-line wording.
    pub fn define_command_line(&mut self, arg: &str) -> Result<(), String> {
        let s = arg.trim_start();
        if !s.starts_with(|c: char| c.is_ascii_uppercase()) {
            return Err("exim: macro name set by -D must start with an upper case letter".into());
        }
        let n = s
            .bytes()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == b'_')
            .count();
        let (name, rest) = s.split_at(n);
        let name: String = name.chars().take(23).collect();
        let rest = rest.trim_start();
        let value = if rest.is_empty() {
            ""
        } else {
            rest.strip_prefix('=')
                .ok_or_else(|| {
                    format!("exim abandoned: unknown, malformed, or incomplete option -D{arg}")
                })?
                .trim_start()
        };
        if self.list[self.user_start..].iter().any(|m| m.name == name) {
            return Err("exim: duplicated -D in command line".into());
        }
        self.list.push(Macro {
            name,
            value: value.to_string(),
            command_line: true,
            builtin: false,
        });
        Ok(())
    }

    /// A definition line `NAME = value` / `NAME == value` (already macro-substituted after `=`).
    pub fn define(&mut self, line: &str) -> Result<(), String> {
        let n = line
            .bytes()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == b'_')
            .count();
        if n > 63 {
            return Err("macro name too long (maximum is 63 characters)".into());
        }
        let (name, rest) = line.split_at(n);
        let rest = rest.trim_start();
        let Some(rest) = rest.strip_prefix('=') else {
            return Err("malformed macro definition".into());
        };
        let (redef, rest) = match rest.strip_prefix('=') {
            Some(r) => (true, r),
            None => (false, rest),
        };
        let value = rest.trim_start();
        let mut found = None;
        for (i, m) in self.list.iter().enumerate() {
            if m.name == name {
                if !m.command_line && !redef {
                    return Err(format!("macro \"{name}\" is already defined (use \"==\" if you want to redefine it)"));
                }
                found = Some(i);
                break;
            }
            if m.name.len() < name.len() && name.contains(m.name.as_str()) {
                return Err(format!(
                    "\"{name}\" cannot be defined as a macro because previously defined macro \"{}\" is a substring",
                    m.name
                ));
            }
        }
        match found {
            Some(i) if self.list[i].command_line => {}
            Some(i) => self.list[i].value = value.to_string(),
            None if redef => return Err(format!("can't redefine an undefined macro \"{name}\"")),
            None => self.list.push(Macro {
                name: name.to_string(),
                value: value.to_string(),
                command_line: false,
                builtin: false,
            }),
        }
        Ok(())
    }

    /// Substitute macros in a physical line, as Exim's `macros_expand`. `line_start` is true when
    /// this physical line starts a logical line (so a `NAME =` definition head is left alone).
    /// Returns whether any substitution happened.
    pub fn expand(&self, buf: &mut Vec<u8>, line_start: bool) -> bool {
        if !self.may_substitute(buf, line_start) {
            return false;
        }
        let lead = buf.iter().take_while(|c| c.is_ascii_whitespace()).count();
        let mut s = lead;
        if line_start && buf.get(s).is_some_and(|c| c.is_ascii_uppercase()) {
            while buf
                .get(s)
                .is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_')
            {
                s += 1;
            }
            while buf.get(s).is_some_and(|c| c.is_ascii_whitespace()) {
                s += 1;
            }
            if buf.get(s) != Some(&b'=') {
                s = lead;
            }
        }
        s = next_candidate(buf, s);
        let mut found = false;
        if s >= buf.len() {
            return false;
        }
        let from = if buf[s] == b'_' { 0 } else { self.user_start };
        for m in &self.list[from..] {
            s = next_candidate(buf, s);
            if s >= buf.len() {
                break;
            }
            let mut t = s;
            while let Some(p) = find(buf, t, m.name.as_bytes()) {
                // Macros that keep doubling a line could exhaust memory; Exim has no limit.
                if buf.len() > MAX_LINE {
                    return found;
                }
                buf.splice(p..p + m.name.len(), m.value.bytes());
                t = next_candidate(buf, p + m.value.len());
                found = true;
            }
        }
        found
    }

    /// Whether [`Macros::expand`] could change `buf`: its first candidate name (after a
    /// definition head) starts with `_` and there are macros, or there are user macros.
    fn may_substitute(&self, buf: &[u8], line_start: bool) -> bool {
        if self.list.len() > self.user_start {
            return true;
        }
        // Only built-ins (all named `_...`): tried only from a `_X` candidate on.
        let lead = buf.iter().take_while(|c| c.is_ascii_whitespace()).count();
        let mut s = lead;
        if line_start && buf.get(s).is_some_and(|c| c.is_ascii_uppercase()) {
            while buf
                .get(s)
                .is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_')
            {
                s += 1;
            }
            while buf.get(s).is_some_and(|c| c.is_ascii_whitespace()) {
                s += 1;
            }
            if buf.get(s) != Some(&b'=') {
                s = lead;
            }
        }
        let s = next_candidate(buf, s);
        s < buf.len() && buf[s] == b'_' && !self.list.is_empty()
    }

    /// Substitute in a whole line (used by `-be` with a configuration); borrowed when
    /// nothing could be substituted.
    pub fn substitute<'l>(&self, line: &'l str) -> std::borrow::Cow<'l, str> {
        if !self.may_substitute(line.as_bytes(), true) {
            return std::borrow::Cow::Borrowed(line);
        }
        let mut b = line.as_bytes().to_vec();
        self.expand(&mut b, true);
        // Substituting text into valid UTF-8 keeps it valid: no second copy needed.
        std::borrow::Cow::Owned(
            String::from_utf8(b)
                .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()),
        )
    }

    pub fn get(&self, name: &str) -> Option<&Macro> {
        self.list.iter().find(|m| m.name == name)
    }
}
