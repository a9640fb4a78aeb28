//! What one idle SMTP connection holds (issue 5: 10,000 of them in 256 MB): a session made
//! as the daemon makes it, greeted and EHLO answered, measured by a counting allocator.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};
use std::sync::Arc;

struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        LIVE.fetch_add(l.size() as isize, Ordering::Relaxed);
        System.alloc(l)
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        LIVE.fetch_sub(l.size() as isize, Ordering::Relaxed);
        System.dealloc(p, l)
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        LIVE.fetch_add(new as isize - l.size() as isize, Ordering::Relaxed);
        System.realloc(p, l, new)
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

const CONFIG: &str = "primary_hostname = bench.example\nhost_lookup =\n";

#[test]
fn idle_session_footprint() {
    let macros = rexim::config::initial_macros(&[]).unwrap();
    let loaded = rexim::config::load_text("idle.conf", CONFIG, macros);
    assert!(loaded.errors.is_empty(), "{:?}", loaded.errors);
    let (cfg, acls) = rexim::smtp::SessionConfig::from_config(&loaded).unwrap();
    let (cfg, acls) = (Arc::new(cfg), Arc::new(acls));
    let lookups = rexim::lookup::Lookups::default();
    // Warm up whatever is made once per process (statics, tables).
    for round in 0..2 {
        let before = LIVE.load(Ordering::Relaxed);
        let peer = rexim::smtp::Peer {
            address: "127.0.0.1".into(),
            port: 40000,
            interface_address: Some("127.0.0.1".into()),
            interface_port: 25,
            ..Default::default()
        };
        let ctx = rexim::expand::Context::new(Arc::new(lookups.share_drivers()));
        let mut s = Box::new(rexim::smtp::Session::new(
            cfg.clone(),
            acls.clone(),
            ctx,
            peer,
        ));
        s.sync_check = true;
        let made = LIVE.load(Ordering::Relaxed) - before;
        s.start();
        let greeted = LIVE.load(Ordering::Relaxed) - before;
        let banner = s.take_output();
        assert!(banner.starts_with(b"220 bench.example ESMTP"));
        s.feed(b"EHLO client.example\r\n");
        let ehlo = String::from_utf8(s.take_output()).unwrap();
        assert!(ehlo.starts_with("250-bench.example Hello"), "{ehlo}");
        let held = LIVE.load(Ordering::Relaxed) - before;
        eprintln!(
            "round {round}: Session {} bytes inline, {held} bytes of heap held in all \
             ({made} made, {greeted} greeted; Context {}, MessageState {})",
            std::mem::size_of::<rexim::smtp::Session>(),
            std::mem::size_of::<rexim::expand::Context>(),
            std::mem::size_of::<rexim::acl::MessageState>(),
        );
        // 256 MB for 10,000 connections leaves ~25 KB each for the session, its task,
        // socket and allocator slack; before the sparse variable table this was 13 KB.
        assert!(held <= 8 * 1024, "an idle session holds {held} bytes");
        assert!(std::mem::size_of::<rexim::smtp::Session>() <= 4 * 1024);
        drop(s);
    }
}
