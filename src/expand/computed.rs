//! Variables whose value is computed when read (time of day, process facts) unless set.

use crate::expand::context::Context;
use crate::expand::value::Val;
use crate::expand::vars::VarId;

/// The Exim release whose behaviour rexim reproduces (what configs test `$exim_version` against).
pub const EXIM_COMPAT_VERSION: &str = "4.96";

/// Value of a fixed variable that has not been set explicitly.
pub fn value(ctx: &Context, id: VarId) -> Option<Val> {
    let name = id.name();
    if let Some(rest) = name.strip_prefix("tod_") {
        let (secs, usecs) = ctx.clock.now();
        return tod(rest, secs, usecs).map(Val::from);
    }
    if let Some(v) = crate::expand::message::variable(ctx, name) {
        return Some(v);
    }
    let s: String = match name {
        "pid" => std::process::id().to_string(),
        "exim_version" | "version_number" => EXIM_COMPAT_VERSION.to_string(),
        "compile_number" => "1".into(),
        "primary_hostname" | "smtp_active_hostname" | "qualify_domain" | "qualify_recipient" => {
            primary_hostname()
        }
        "caller_uid" | "originator_uid" => unsafe { libc::getuid() }.to_string(),
        "caller_gid" | "originator_gid" => unsafe { libc::getgid() }.to_string(),
        "exim_uid" => unsafe { libc::geteuid() }.to_string(),
        "exim_gid" => unsafe { libc::getegid() }.to_string(),
        "exim_path" => std::env::current_exe().ok()?.to_string_lossy().into_owned(),
        "initial_cwd" => std::env::current_dir().ok()?.to_string_lossy().into_owned(),
        "load_average" => load_average(),
        "compile_date" => compile_date()?,
        "spool_space" | "spool_inodes" | "log_space" | "log_inodes" => {
            let dir = ctx
                .get("spool_directory")
                .map(|v| v.as_str_lossy().into_owned());
            let dir = match (name.starts_with("log"), dir) {
                (true, Some(d)) => format!("{d}/log"),
                (_, d) => d.unwrap_or_default(),
            };
            free_space(&dir, name.ends_with("inodes"))
        }
        _ => return initial(name).map(Val::from),
    };
    Some(Val::from(s))
}

/// Exim's initial value of a variable nothing has set yet (integers start at 0, the
/// "unset" ports and counts at -1, booleans at "no", DKIM's key defaults...).
pub fn initial(name: &str) -> Option<&'static str> {
    Some(match name {
        "acl_narg"
        | "authentication_failed"
        | "av_failed"
        | "dkim_created"
        | "dkim_key_length"
        | "dkim_key_nosubdomains"
        | "dkim_key_testing"
        | "event_defer_errno"
        | "host_lookup_deferred"
        | "host_lookup_failed"
        | "host_port"
        | "inode"
        | "localhost_number"
        | "message_age"
        | "mime_anomaly_level"
        | "mime_content_size"
        | "mime_is_coverletter"
        | "mime_is_multipart"
        | "mime_is_rfc822"
        | "proxy_external_port"
        | "proxy_local_port"
        | "rcpt_count"
        | "rcpt_defer_count"
        | "rcpt_fail_count"
        | "received_time"
        | "recipients_count"
        | "runrc"
        | "sender_host_port"
        | "smtp_count_at_connection_start"
        | "tls_bits"
        | "tls_certificate_verified"
        | "tls_in_bits"
        | "tls_in_certificate_verified"
        | "tls_in_ocsp"
        | "tls_in_resumption"
        | "tls_out_bits"
        | "tls_out_certificate_verified"
        | "tls_out_ocsp"
        | "tls_out_resumption"
        | "tls_out_tlsa_usage" => "0",
        "interface_port" | "mime_part_count" | "received_port" | "sending_port" => "-1",
        // Brightmail: deliver unless a verdict says otherwise.
        "bmi_deliver" => "1",
        "message_smtputf8" | "prdr_requested" | "proxy_session" | "sender_helo_dnssec"
        | "sender_host_dnssec" | "spf_result_guessed" | "tls_out_dane" => "no",
        "dkim_key_granularity" | "dkim_key_srvtype" => "*",
        "dkim_bodylength" | "dkim_expires" => "9999999999999",
        // Defaults of the main options of the same names.
        "bounce_return_size_limit" | "return_size_limit" => "102400",
        "spf_guess" => "v=spf1 a/24 mx/24 ptr ?all",
        // No local user has been looked up: (uid_t)-1, printed unsigned.
        "local_user_gid" | "local_user_uid" => "4294967295",
        _ => return None,
    })
}

/// When this binary was built, as Exim shows `$compile_date` (`27-May-2026 16:52:26`):
/// taken from the executable's modification time.
fn compile_date() -> Option<String> {
    let exe = std::env::current_exe().ok()?;
    let modified = std::fs::metadata(exe).ok()?.modified().ok()?;
    let secs = modified
        .duration_since(std::time::UNIX_EPOCH)
        .ok()?
        .as_secs() as i64;
    let t = local(secs, false);
    Some(format!(
        "{:02}-{}-{} {:02}:{:02}:{:02}",
        t.mday, MONTHS[t.mon], t.year, t.hour, t.min, t.sec
    ))
}

/// Free space (KiB) or free inodes on the file system holding `dir`, as Exim's
/// `$spool_space` family shows them; `-1` when it cannot be found.
fn free_space(dir: &str, inodes: bool) -> String {
    let Ok(path) = std::ffi::CString::new(dir) else {
        return "-1".into();
    };
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    if dir.is_empty() || unsafe { libc::statvfs(path.as_ptr(), &mut st) } != 0 {
        return "-1".into();
    }
    if inodes {
        (st.f_favail as u64).to_string()
    } else {
        ((st.f_bavail as u64).saturating_mul(st.f_frsize as u64) / 1024).to_string()
    }
}

/// The one-minute load average times 1000, as Exim shows it (`-1` when unavailable).
fn load_average() -> String {
    let mut avg = [0f64; 3];
    let n = unsafe { libc::getloadavg(avg.as_mut_ptr(), 3) };
    if n < 1 {
        return "-1".into();
    }
    ((avg[0] * 1000.0) as i64).to_string()
}

/// Facts Exim sets for a locally invoked process (`-be`, `-bem`, local submission):
/// the caller is the sender and is locally "authenticated".
pub fn local_caller(ctx: &mut Context) {
    let login = caller_login();
    let sender = format!("{login}@{}", primary_hostname());
    for (name, value) in [
        ("sender_address", sender.as_str()),
        ("sender_address_local_part", login.as_str()),
        ("sender_address_domain", &primary_hostname()),
        ("sender_ident", login.as_str()),
        ("authenticated_id", login.as_str()),
        ("authenticated_sender", sender.as_str()),
    ] {
        ctx.set(name, value);
    }
}

/// The login name of the calling user (or the uid when it has no passwd entry).
pub fn caller_login() -> String {
    passwd_entry().map_or_else(|| unsafe { libc::getuid() }.to_string(), |(login, _)| login)
}

/// The calling user's login and gecos name field (up to the first comma, `&` replaced by
/// the capitalised login, as Exim does for `$originator_name`-style names).
pub fn caller_name() -> String {
    let Some((login, gecos)) = passwd_entry() else {
        return String::new();
    };
    let name = gecos.split(',').next().unwrap_or_default();
    let mut cap = login.clone();
    if let Some(first) = cap.get_mut(..1) {
        first.make_ascii_uppercase();
    }
    name.replacen('&', &cap, 1)
}

fn passwd_entry() -> Option<(String, String)> {
    let mut pw: libc::passwd = unsafe { std::mem::zeroed() };
    let mut buf = vec![0 as libc::c_char; 4096];
    let mut result: *mut libc::passwd = std::ptr::null_mut();
    let rc = unsafe {
        libc::getpwuid_r(
            libc::getuid(),
            &mut pw,
            buf.as_mut_ptr(),
            buf.len(),
            &mut result,
        )
    };
    if rc != 0 || result.is_null() {
        return None;
    }
    let field = |p: *const libc::c_char| {
        if p.is_null() {
            String::new()
        } else {
            unsafe { std::ffi::CStr::from_ptr(p) }
                .to_string_lossy()
                .into_owned()
        }
    };
    Some((field(pw.pw_name), field(pw.pw_gecos)))
}

/// A message id in Exim 4.96's format `TTTTTT-PPPPPP-SS` (base 62: time, pid,
/// and the sub-second in 1/200 s units), as `-bem` gives the test message.
pub fn message_id(secs: i64, usecs: u32, pid: u32) -> String {
    let t = base62(secs.max(0) as u64);
    let p = base62(u64::from(pid));
    let f = base62(u64::from(usecs / 5000));
    format!("{t}-{p}-{}", &f[4..])
}

/// Six base-62 digits (`0-9A-Za-z`), as Exim's `string_base62`.
pub fn base62(mut n: u64) -> String {
    const DIGITS: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut out = [b'0'; 6];
    for slot in out.iter_mut().rev() {
        *slot = DIGITS[(n % 62) as usize];
        n /= 62;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The host's name as `uname` gives it (Exim's default `primary_hostname`).
pub fn primary_hostname() -> String {
    let mut buf: libc::utsname = unsafe { std::mem::zeroed() };
    if unsafe { libc::uname(&mut buf) } != 0 {
        return "localhost".into();
    }
    let raw: Vec<u8> = buf
        .nodename
        .iter()
        .take_while(|&&c| c != 0)
        .map(|&c| c as u8)
        .collect();
    String::from_utf8_lossy(&raw).into_owned()
}

struct Tm {
    year: i32,
    mon: usize,
    mday: i32,
    hour: i32,
    min: i32,
    sec: i32,
    wday: usize,
    gmtoff: i64,
}

fn local(secs: i64, utc: bool) -> Tm {
    let t = secs as libc::time_t;
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    unsafe {
        if utc {
            libc::gmtime_r(&t, &mut tm);
        } else {
            libc::localtime_r(&t, &mut tm);
        }
    }
    Tm {
        year: tm.tm_year + 1900,
        mon: tm.tm_mon as usize,
        mday: tm.tm_mday,
        hour: tm.tm_hour,
        min: tm.tm_min,
        sec: tm.tm_sec,
        wday: tm.tm_wday as usize,
        gmtoff: tm.tm_gmtoff,
    }
}

const DAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

fn zone(off: i64) -> String {
    let sign = if off < 0 { '-' } else { '+' };
    let off = off.abs();
    format!("{sign}{:02}{:02}", off / 3600, (off % 3600) / 60)
}

/// Exim's `$tod_*` formats.
pub fn tod(which: &str, secs: i64, usecs: u32) -> Option<String> {
    let t = local(secs, false);
    Some(match which {
        "epoch" => secs.to_string(),
        "epoch_l" => format!("{secs}{usecs:06}"),
        "log" => format!(
            "{}-{:02}-{:02} {:02}:{:02}:{:02}",
            t.year,
            t.mon + 1,
            t.mday,
            t.hour,
            t.min,
            t.sec
        ),
        "logfile" => format!("{}{:02}{:02}", t.year, t.mon + 1, t.mday),
        "zone" => zone(t.gmtoff),
        "full" => format!(
            "{}, {:02} {} {} {:02}:{:02}:{:02} {}",
            DAYS[t.wday],
            t.mday,
            MONTHS[t.mon],
            t.year,
            t.hour,
            t.min,
            t.sec,
            zone(t.gmtoff)
        ),
        // Exim pads the day with a zero here (`Dec 01`), unlike `tod_full`.
        "bsdinbox" => format!(
            "{} {} {:02} {:02}:{:02}:{:02} {}",
            DAYS[t.wday], MONTHS[t.mon], t.mday, t.hour, t.min, t.sec, t.year
        ),
        "zulu" => {
            let u = local(secs, true);
            format!(
                "{}{:02}{:02}{:02}{:02}{:02}Z",
                u.year,
                u.mon + 1,
                u.mday,
                u.hour,
                u.min,
                u.sec
            )
        }
        _ => return None,
    })
}
