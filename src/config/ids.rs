//! Users and groups named in options (`exim_user`, `never_users`...): lookup and printing.

use std::ffi::{CStr, CString};

/// The uid for a user name or number, if it exists (numbers always do).
pub fn find_user(s: &str) -> Option<u32> {
    if !s.is_empty() && s.bytes().all(|c| c.is_ascii_digit()) {
        return s.parse().ok();
    }
    let c = CString::new(s).ok()?;
    // SAFETY: getpwnam returns a pointer to static storage or null; we copy out at once.
    let pw = unsafe { libc::getpwnam(c.as_ptr()) };
    if pw.is_null() {
        None
    } else {
        // SAFETY: non-null passwd entry.
        Some(unsafe { (*pw).pw_uid })
    }
}

/// The gid for a group name or number, if it exists.
pub fn find_group(s: &str) -> Option<u32> {
    if !s.is_empty() && s.bytes().all(|c| c.is_ascii_digit()) {
        return s.parse().ok();
    }
    let c = CString::new(s).ok()?;
    // SAFETY: as above for groups.
    let gr = unsafe { libc::getgrnam(c.as_ptr()) };
    if gr.is_null() {
        None
    } else {
        // SAFETY: non-null group entry.
        Some(unsafe { (*gr).gr_gid })
    }
}

/// How `-bP` shows a user: the passwd name for its uid, else the number.
pub fn user_name(s: &str) -> String {
    let Some(uid) = find_user(s) else {
        return s.to_string();
    };
    // SAFETY: getpwuid returns static storage or null; the name is copied immediately.
    let pw = unsafe { libc::getpwuid(uid) };
    if pw.is_null() {
        uid.to_string()
    } else {
        // SAFETY: pw_name is a valid C string in a non-null entry.
        unsafe { CStr::from_ptr((*pw).pw_name) }
            .to_string_lossy()
            .into_owned()
    }
}

/// How `-bP` shows a group: the group name for its gid, else the number.
pub fn group_name(s: &str) -> String {
    let Some(gid) = find_group(s) else {
        return s.to_string();
    };
    // SAFETY: as above.
    let gr = unsafe { libc::getgrgid(gid) };
    if gr.is_null() {
        gid.to_string()
    } else {
        // SAFETY: gr_name is a valid C string in a non-null entry.
        unsafe { CStr::from_ptr((*gr).gr_name) }
            .to_string_lossy()
            .into_owned()
    }
}

/// The primary group of a user given by name or number, from its passwd entry.
pub fn user_gid(s: &str) -> Option<u32> {
    let uid = find_user(s)?;
    // SAFETY: getpwuid returns static storage or null; the gid is copied at once.
    let pw = unsafe { libc::getpwuid(uid) };
    if pw.is_null() {
        None
    } else {
        // SAFETY: non-null passwd entry.
        Some(unsafe { (*pw).pw_gid })
    }
}
