//! Ports for tests on 127.0.0.1 that must refuse connections.

/// A 127.0.0.1 port that refuses connections for the rest of the test process: bound (so
/// no other test can take it) but never listening. Binding and releasing a port instead
/// lets a parallel fixture's fake server get the same port.
pub fn bound_port_without_listener() -> u16 {
    // SAFETY: plain socket calls on a descriptor this function owns; it stays open on purpose.
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM, 0);
        assert!(fd >= 0, "socket");
        let mut addr: libc::sockaddr_in = std::mem::zeroed();
        addr.sin_family = libc::AF_INET as libc::sa_family_t;
        addr.sin_addr.s_addr = u32::from_ne_bytes([127, 0, 0, 1]);
        let len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
        let rc = libc::bind(fd, &addr as *const _ as *const libc::sockaddr, len);
        assert_eq!(rc, 0, "bind");
        let mut got: libc::sockaddr_in = std::mem::zeroed();
        let mut glen = len;
        let rc = libc::getsockname(fd, &mut got as *mut _ as *mut libc::sockaddr, &mut glen);
        assert_eq!(rc, 0, "getsockname");
        u16::from_be(got.sin_port)
    }
}
