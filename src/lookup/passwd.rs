//! `passwd`: the password-file entry of a user, as `*:uid:gid:gecos:home:shell`.

use std::ffi::{CStr, CString};

use crate::lookup::{Call, LookupDriver, LookupError, Opened, Options};

pub struct Passwd;

pub fn make() -> Box<dyn LookupDriver> {
    Box::new(Passwd)
}

/// The fields of a password entry that the lookup returns.
struct Entry {
    uid: u32,
    gid: u32,
    gecos: Vec<u8>,
    dir: Vec<u8>,
    shell: Vec<u8>,
}

/// `getpwnam_r`, or `None` when there is no such user.
fn getpwnam(name: &[u8]) -> Option<Entry> {
    let cname = CString::new(name).ok()?;
    let mut size = 16 * 1024;
    loop {
        let mut buf = vec![0 as libc::c_char; size];
        // SAFETY: all-zero bytes are a valid `passwd` (null pointers, zero ids).
        let mut pw: libc::passwd = unsafe { std::mem::zeroed() };
        let mut result: *mut libc::passwd = std::ptr::null_mut();
        // SAFETY: every pointer is valid for the call and `buf` outlives the reads below.
        let rc = unsafe {
            libc::getpwnam_r(
                cname.as_ptr(),
                &mut pw,
                buf.as_mut_ptr(),
                buf.len(),
                &mut result,
            )
        };
        if rc == libc::ERANGE && size < 1 << 20 {
            size *= 4;
            continue;
        }
        if rc != 0 || result.is_null() {
            return None;
        }
        let field = |p: *const libc::c_char| -> Vec<u8> {
            if p.is_null() {
                Vec::new()
            } else {
                // SAFETY: getpwnam_r filled these with NUL-terminated strings inside `buf`.
                unsafe { CStr::from_ptr(p) }.to_bytes().to_vec()
            }
        };
        return Some(Entry {
            uid: pw.pw_uid,
            gid: pw.pw_gid,
            gecos: field(pw.pw_gecos),
            dir: field(pw.pw_dir),
            shell: field(pw.pw_shell),
        });
    }
}

impl LookupDriver for Passwd {
    /// `${lookup passwd{root}}` gives `*:0:0:root:/root:/bin/bash`.
    fn find(
        &self,
        _: &Opened,
        _: &[u8],
        user: &[u8],
        _: &Options,
        _: &mut Call,
    ) -> Result<Option<Vec<u8>>, LookupError> {
        Ok(getpwnam(user).map(|e| {
            let mut out = format!("*:{}:{}:", e.uid as i32, e.gid as i32).into_bytes();
            for (i, f) in [e.gecos, e.dir, e.shell].iter().enumerate() {
                if i > 0 {
                    out.push(b':');
                }
                out.extend_from_slice(f);
            }
            out
        }))
    }
}
