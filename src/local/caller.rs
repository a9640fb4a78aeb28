//! Who is submitting: the real user's login, uid/gid, full name (gecos) and whether
//! Exim would count them as a trusted caller.

use std::ffi::{CStr, CString};

/// The calling user, as Exim records the originator of a local message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub login: String,
    pub uid: u32,
    pub gid: u32,
    /// The gecos field with `&` replaced by the login (first letter upper-cased).
    pub gecos: String,
    /// root, the Exim user, or a member of `trusted_users`/`trusted_groups`.
    pub trusted: bool,
}

struct Passwd {
    name: String,
    uid: u32,
    gecos: String,
}

fn passwd_by_uid(uid: u32) -> Option<Passwd> {
    // SAFETY: getpwuid returns static storage or null; it is copied at once.
    unsafe { copy_passwd(libc::getpwuid(uid)) }
}

fn passwd_by_name(name: &str) -> Option<Passwd> {
    let c = CString::new(name).ok()?;
    // SAFETY: as above; the name is a valid C string.
    unsafe { copy_passwd(libc::getpwnam(c.as_ptr())) }
}

unsafe fn copy_passwd(pw: *const libc::passwd) -> Option<Passwd> {
    if pw.is_null() || (*pw).pw_name.is_null() {
        return None;
    }
    let text = |p: *const libc::c_char| {
        if p.is_null() {
            String::new()
        } else {
            CStr::from_ptr(p).to_string_lossy().into_owned()
        }
    };
    Some(Passwd {
        name: text((*pw).pw_name),
        uid: (*pw).pw_uid,
        gecos: text((*pw).pw_gecos),
    })
}

fn group_id(name: &str) -> Option<u32> {
    if let Ok(n) = name.parse() {
        return Some(n);
    }
    let c = CString::new(name).ok()?;
    // SAFETY: getgrnam returns static storage or null; only the gid is read.
    unsafe {
        let g = libc::getgrnam(c.as_ptr());
        (!g.is_null()).then(|| (*g).gr_gid)
    }
}

fn user_id(name: &str) -> Option<u32> {
    name.parse()
        .ok()
        .or_else(|| passwd_by_name(name).map(|p| p.uid))
}

fn supplementary_groups() -> Vec<u32> {
    let mut groups = vec![0 as libc::gid_t; 256];
    // SAFETY: the buffer holds 256 entries and its length is passed.
    let n = unsafe { libc::getgroups(groups.len() as libc::c_int, groups.as_mut_ptr()) };
    groups.truncate(n.max(0) as usize);
    groups
}

/// Exim's gecos rule: `&` becomes the login with its first letter upper-cased.
pub fn gecos_name(gecos: &str, login: &str) -> String {
    match gecos.find('&') {
        Some(at) => {
            let mut cap = login.to_string();
            if let Some(first) = cap.get_mut(..1) {
                first.make_ascii_uppercase();
            }
            format!("{}{cap}{}", &gecos[..at], &gecos[at + 1..])
        }
        None => gecos.to_string(),
    }
}

impl Caller {
    /// The running user, trusted per the configuration's `exim_user`, `trusted_users`
    /// and `trusted_groups` (colon-separated names or numbers).
    pub fn current(exim_user: &str, trusted_users: &str, trusted_groups: &str) -> Caller {
        // SAFETY: getuid/getgid cannot fail and touch no memory.
        let (uid, gid) = unsafe { (libc::getuid(), libc::getgid()) };
        let pw = passwd_by_uid(uid);
        let login = pw
            .as_ref()
            .map_or_else(|| uid.to_string(), |p| p.name.clone());
        let gecos = pw
            .as_ref()
            .map_or_else(String::new, |p| gecos_name(&p.gecos, &login));
        let items = |list: &str| -> Vec<String> {
            list.split(':')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect()
        };
        let exim_uid = user_id(exim_user);
        let mut trusted = uid == 0 || exim_uid == Some(uid);
        trusted |= items(trusted_users).iter().any(|u| user_id(u) == Some(uid));
        if !trusted {
            let mine = supplementary_groups();
            trusted = items(trusted_groups)
                .iter()
                .filter_map(|g| group_id(g))
                .any(|g| g == gid || mine.contains(&g));
        }
        Caller {
            login,
            uid,
            gid,
            gecos,
            trusted,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ampersand_in_gecos_is_the_login() {
        assert_eq!(gecos_name("& Bloggs,,,", "fred"), "Fred Bloggs,,,");
        assert_eq!(gecos_name("root", "root"), "root");
    }

    #[test]
    fn root_is_trusted() {
        let c = Caller::current("", "", "");
        assert_eq!(c.trusted, c.uid == 0);
        assert!(!c.login.is_empty());
    }
}
