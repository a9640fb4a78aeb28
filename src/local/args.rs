//! The command line of a local (non-SMTP) submission: `-bm`, bare addresses, `-t`,
//! `-i`/`-oi`, `-f`, `-F`, `-oMr`, `-oMa`, `-od*`, `-oe*`, `-bS`, as Exim reads them.

/// How errors in a local message are reported (Exim's `-oe?` options).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ErrorMode {
    /// `-oem` (the default), `-oew`, `-oee`: mail a report to the sender.
    #[default]
    Mail,
    /// `-oep`, `-oeq`: write the report on stderr.
    Stderr,
}

/// When delivery would happen (rexim never delivers: every mode queues).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DeliveryMode {
    #[default]
    Default,
    Queue,
    Interactive,
    Background,
    Foreground,
}

/// A parsed local-submission command line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LocalArgs {
    pub config: Option<String>,
    pub defines: Vec<String>,
    /// `-t`: recipients from To:/Cc:/Bcc:.
    pub extract: bool,
    /// `-bS`: batched SMTP on stdin.
    pub batched_smtp: bool,
    /// A dot on a line by itself ends the message (cleared by `-i`, `-oi`, `-ti`).
    pub dot_ends: bool,
    /// `-f addr` as given (`""` for `<>`).
    pub sender: Option<String>,
    /// `-F name`.
    pub name: Option<String>,
    /// `-oMr protocol`, `-oMa`, `-oMs`, `-oMt`, `-oMi`, `-oMaa`, `-oMai`, `-oMas`.
    pub protocol: Option<String>,
    pub host_address: Option<String>,
    pub host_name: Option<String>,
    pub ident: Option<String>,
    pub interface: Option<String>,
    pub auth_name: Option<String>,
    pub auth_id: Option<String>,
    pub auth_sender: Option<String>,
    pub delivery: DeliveryMode,
    pub errors: ErrorMode,
    /// `-oee`: exit 0 once the error report is mailed.
    pub errors_exit_zero: bool,
    /// The recipient arguments.
    pub recipients: Vec<String>,
}

/// Does this command line ask for local reception? (`-bm`, `-t`, `-bS`, or arguments
/// that are all addresses and sendmail-style options.)
pub fn wanted(argv: &[String]) -> bool {
    if argv
        .iter()
        .any(|a| a == "-bm" || a == "-bS" || a == "-t" || a == "-ti")
    {
        return true;
    }
    // Sendmail style: `rexim [options] addr ...` with no mode flag at all.
    let mode_flag = argv
        .iter()
        .any(|a| a.starts_with("-b") || a.starts_with("-M") || a.starts_with("-q"));
    !mode_flag && parse(argv).is_ok_and(|a| !a.recipients.is_empty())
}

/// Parse `argv` (without the program name); `Err` is the text for stderr.
pub fn parse(argv: &[String]) -> Result<LocalArgs, String> {
    let mut a = LocalArgs {
        dot_ends: true,
        ..LocalArgs::default()
    };
    let mut i = 0;
    while i < argv.len() {
        let arg = argv[i].as_str();
        if !arg.starts_with('-') || arg == "-" {
            a.recipients.extend(argv[i..].iter().cloned());
            break;
        }
        if arg == "--" {
            a.recipients.extend(argv[i + 1..].iter().cloned());
            break;
        }
        // An option's value is the rest of the argument or the next one.
        let mut value = |flag: &str| -> Result<String, String> {
            let rest = &arg[flag.len()..];
            if !rest.is_empty() {
                return Ok(rest.to_string());
            }
            i += 1;
            argv.get(i).cloned().ok_or_else(|| {
                format!("exim abandoned: unknown, malformed, or incomplete option {arg}")
            })
        };
        match arg {
            "-bm" => {}
            "-bS" => a.batched_smtp = true,
            "-t" => a.extract = true,
            "-ti" => {
                a.extract = true;
                a.dot_ends = false;
            }
            "-i" | "-oi" => a.dot_ends = false,
            "-odq" => a.delivery = DeliveryMode::Queue,
            "-odi" => a.delivery = DeliveryMode::Interactive,
            "-odb" => a.delivery = DeliveryMode::Background,
            "-odf" => a.delivery = DeliveryMode::Foreground,
            "-oem" | "-oew" | "-em" | "-ew" => a.errors = ErrorMode::Mail,
            "-oee" | "-ee" => {
                a.errors = ErrorMode::Mail;
                a.errors_exit_zero = true;
            }
            "-oep" | "-oeq" | "-ep" | "-eq" => a.errors = ErrorMode::Stderr,
            // Sendmail options Exim accepts and ignores.
            "-oem0" | "-v" | "-m" | "-om" | "-oo" | "-U" | "-n" | "-G" => {}
            _ if arg.starts_with("-oMaa") => a.auth_name = Some(value("-oMaa")?),
            _ if arg.starts_with("-oMai") => a.auth_id = Some(value("-oMai")?),
            _ if arg.starts_with("-oMas") => a.auth_sender = Some(value("-oMas")?),
            _ if arg.starts_with("-oMa") => a.host_address = Some(value("-oMa")?),
            _ if arg.starts_with("-oMr") => a.protocol = Some(value("-oMr")?),
            _ if arg.starts_with("-oMs") => a.host_name = Some(value("-oMs")?),
            _ if arg.starts_with("-oMt") => a.ident = Some(value("-oMt")?),
            _ if arg.starts_with("-oMi") => a.interface = Some(value("-oMi")?),
            _ if arg.starts_with("-C") => a.config = Some(value("-C")?),
            _ if arg.starts_with("-D") => a.defines.push(value("-D")?),
            _ if arg.starts_with("-f") => a.sender = Some(value("-f")?),
            _ if arg.starts_with("-r") => a.sender = Some(value("-r")?),
            _ if arg.starts_with("-F") => a.name = Some(value("-F")?),
            _ => {
                return Err(format!(
                    "exim abandoned: unknown, malformed, or incomplete option {arg}"
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

    fn p(v: &[&str]) -> LocalArgs {
        parse(&v.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap()
    }

    #[test]
    fn sendmail_style_flags() {
        let a = p(&[
            "-C",
            "/x.conf",
            "-odq",
            "-oi",
            "-f",
            "<>",
            "-Fred Bloggs",
            "a@b",
            "c@d",
        ]);
        assert_eq!(a.config.as_deref(), Some("/x.conf"));
        assert_eq!(a.delivery, DeliveryMode::Queue);
        assert!(!a.dot_ends);
        assert_eq!(a.sender.as_deref(), Some("<>"));
        assert_eq!(a.name.as_deref(), Some("red Bloggs"));
        assert_eq!(a.recipients, vec!["a@b".to_string(), "c@d".to_string()]);
        let a = p(&["-t", "-oep", "-oMr", "x-proto", "-bm"]);
        assert!(a.extract && a.dot_ends);
        assert_eq!(a.errors, ErrorMode::Stderr);
        assert_eq!(a.protocol.as_deref(), Some("x-proto"));
        assert!(parse(&["-bx".to_string()]).is_err());
    }

    #[test]
    fn which_command_lines_are_local() {
        let v = |x: &[&str]| x.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(wanted(&v(&["-odq", "a@b"])));
        assert!(wanted(&v(&["-t"])));
        assert!(!wanted(&v(&["-be", "x"])));
        assert!(!wanted(&v(&["-bP", "x"])));
        assert!(!wanted(&v(&["-odq"])));
    }
}
