//! Command-line parsing: Exim-style flags (`-be`, `-bem`, `-bP`, `-bV`, `-C`, `-D`, `-n`).

/// What the command line asks for.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Args {
    pub mode: Mode,
    /// `-bem FILE`: the message for `$h_*` etc.
    pub message_file: Option<String>,
    /// `-C FILE`.
    pub config: Option<String>,
    /// `-D NAME=value`, in order.
    pub defines: Vec<String>,
    /// `-n`: no `name =` labels in `-bP` output.
    pub no_labels: bool,
    /// Arguments after the mode flag (expansions for `-be`, items for `-bP`).
    pub rest: Vec<String>,
}

#[derive(Debug, Default, PartialEq, Eq, Clone, Copy)]
pub enum Mode {
    #[default]
    None,
    Expand,
    ListOptions,
    Version,
    /// `-brt`: which retry rule applies.
    RetryTest,
    /// `-brw`: what rewriting does to an address.
    RewriteTest,
}

/// Parse `args` (without the program name). `Err` carries the message for stderr.
pub fn parse(args: &[String]) -> Result<Args, String> {
    let mut a = Args::default();
    let mut i = 0;
    while i < args.len() {
        let s = args[i].as_str();
        if a.mode != Mode::None && !s.starts_with('-') {
            a.rest.extend(args[i..].iter().cloned());
            break;
        }
        match s {
            "-be" if a.mode == Mode::None => a.mode = Mode::Expand,
            "-bem" if a.mode == Mode::None => {
                a.mode = Mode::Expand;
                i += 1;
                a.message_file = Some(args.get(i).ok_or("rexim: -bem needs a file name")?.clone());
            }
            "-bP" if a.mode == Mode::None => a.mode = Mode::ListOptions,
            "-bV" if a.mode == Mode::None => a.mode = Mode::Version,
            "-brt" if a.mode == Mode::None => a.mode = Mode::RetryTest,
            "-brw" if a.mode == Mode::None => a.mode = Mode::RewriteTest,
            "-n" => a.no_labels = true,
            "-C" => {
                i += 1;
                a.config = Some(args.get(i).ok_or("exim: string expected after -C")?.clone());
            }
            "-D" => {
                i += 1;
                a.defines
                    .push(args.get(i).ok_or("rexim: -D needs NAME=value")?.clone());
            }
            _ if s.starts_with("-D") => a.defines.push(s[2..].to_string()),
            _ if s.starts_with("-C") => a.config = Some(s[2..].to_string()),
            _ if a.mode == Mode::Expand => a.rest.push(s.to_string()),
            _ => {
                return Err(format!(
                    "rexim: unsupported option {s:?} (see README: what works)"
                ))
            }
        }
        i += 1;
    }
    Ok(a)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(v: &[&str]) -> Args {
        parse(&v.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap()
    }

    #[test]
    fn be_and_config_flags() {
        let a = p(&["-C", "/x.conf", "-DFOO=1", "-be", "${lc:A}", "-x"]);
        assert_eq!(a.mode, Mode::Expand);
        assert_eq!(a.config.as_deref(), Some("/x.conf"));
        assert_eq!(a.defines, vec!["FOO=1".to_string()]);
        assert_eq!(a.rest, vec!["${lc:A}".to_string(), "-x".to_string()]);
        let a = p(&["-bem", "msg", "x"]);
        assert_eq!(a.message_file.as_deref(), Some("msg"));
        let a = p(&["-bP", "router", "r1", "-n"]);
        assert_eq!(
            a.rest,
            vec!["router".to_string(), "r1".to_string(), "-n".to_string()]
        );
    }
}
