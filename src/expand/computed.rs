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
    let s: String = match name {
        "pid" => std::process::id().to_string(),
        "exim_version" | "version_number" => EXIM_COMPAT_VERSION.to_string(),
        "compile_number" => "1".into(),
        "primary_hostname" | "smtp_active_hostname" | "qualify_domain" | "qualify_recipient" => {
            primary_hostname()
        }
        "caller_uid" | "originator_uid" => unsafe { libc::getuid() }.to_string(),
        "caller_gid" | "originator_gid" => unsafe { libc::getgid() }.to_string(),
        "runrc" | "message_size" | "recipients_count" | "rcpt_count" | "received_count" => {
            if name == "message_size" {
                "-1".into()
            } else {
                "0".into()
            }
        }
        _ => return None,
    };
    Some(Val::from(s))
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
        "bsdinbox" => format!(
            "{} {} {:2} {:02}:{:02}:{:02} {}",
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
