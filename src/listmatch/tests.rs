//! Unit tests for the list-matching engine.

use std::sync::Arc;

use super::*;
use crate::expand::context::NamedLists;

struct Named;

impl NamedLists for Named {
    fn get(&self, name: &str, kind: Option<char>) -> Option<(char, String)> {
        match (name, kind) {
            ("locals", Some('d')) => Some(('d', "a.example : *.b.example".into())),
            ("nets", Some('h')) => Some(('h', "10.0.0.0/8 : !192.168.0.0/16".into())),
            _ => None,
        }
    }
}

fn ctx() -> Context {
    let mut c = Context::default();
    c.named_lists = Some(Arc::new(Named));
    c
}

fn dom(list: &str, s: &str) -> Option<String> {
    match_domain(&mut ctx(), s.as_bytes(), list.as_bytes(), false)
        .unwrap()
        .map(|m| {
            m.value
                .map(|v| String::from_utf8(v.bytes).unwrap())
                .unwrap_or_default()
        })
}

#[test]
fn domain_items() {
    assert_eq!(dom("a.b : c.d", "C.D"), Some("c.d".into()));
    assert_eq!(dom("*.b", "x.B"), Some("*.b".into()));
    assert_eq!(dom("!a.b", "a.b"), None);
    assert_eq!(dom("!a.b", "x.y"), Some(String::new()));
    assert_eq!(dom("!a.b : x.y", "z"), None);
    assert_eq!(dom("^x\\.(.*)", "x.y"), Some("^x\\.(.*)".into()));
    assert_eq!(dom("+locals", "q.b.example"), Some("*.b.example".into()));
    assert_eq!(dom("!+locals : *", "a.example"), None);
    assert_eq!(dom("", "a"), None);
}

#[test]
fn domain_captures() {
    let m = match_domain(&mut ctx(), b"x.y.z", b"*.z", false)
        .unwrap()
        .unwrap();
    let caps: Vec<_> = m
        .captures
        .iter()
        .map(|v| String::from_utf8(v.bytes.clone()).unwrap())
        .collect();
    assert_eq!(caps, vec!["x.y.z", "x.y"]);
}

#[test]
fn unknown_named_list_defers() {
    let e = match_domain(&mut ctx(), b"a", b"+nope", false).unwrap_err();
    assert_eq!(
        e.expansion_message(b"+nope"),
        "unable to complete match against \"+nope\": NULL"
    );
}

#[test]
fn local_parts_caseful() {
    let c = &mut ctx();
    assert!(match_local_part(c, b"Ab", b"ab", false).unwrap().is_some());
    assert!(match_local_part(c, b"Ab", b"+caseful : ab", false)
        .unwrap()
        .is_none());
    assert!(match_local_part(c, b"Ab", b"+caseful : Ab", false)
        .unwrap()
        .is_some());
}

#[test]
fn addresses() {
    let c = &mut ctx();
    let v = |c: &mut Context, a: &str, l: &str| {
        match_address(c, a.as_bytes(), l.as_bytes(), false)
            .unwrap()
            .map(|m| {
                m.value
                    .map(|v| String::from_utf8(v.bytes).unwrap())
                    .unwrap_or_default()
            })
    };
    assert_eq!(v(c, "X@A.b", "x@a.b"), Some("x@a.b".into()));
    assert_eq!(v(c, "x@a.b", "a.b"), Some("@a.b".into()));
    assert_eq!(v(c, "x@a.b", "*@a.b"), Some("*@a.b".into()));
    assert_eq!(
        v(c, "x@q.b.example", "x@+locals"),
        Some("x@*.b.example".into())
    );
    assert_eq!(v(c, "", ":"), Some(String::new()));
    assert_eq!(v(c, "x@a.b", "^x@"), Some(String::new()));
    assert_eq!(v(c, "x@a.b", "y@a.b"), None);
}

#[test]
fn ip_lists() {
    let c = &mut ctx();
    let hit = |c: &mut Context, ip: &str, l: &str| {
        match_ip(c, ip.as_bytes(), l.as_bytes(), false)
            .unwrap()
            .is_some()
    };
    assert!(hit(c, "10.1.2.3", "+nets"));
    assert!(hit(c, "11.1.2.3", "+nets")); // last sub-list item negative
    assert!(!hit(c, "192.168.1.1", "+nets"));
    assert!(hit(c, "1.2.3.4", "<; ::1 ; 1.2.3.0/24"));
    assert!(hit(c, "::ffff:1.2.3.4", "1.2.3.4"));
    assert!(hit(c, "", ":"));
    assert!(!hit(c, "1.2.3.4", ":"));
    assert!(hit(c, "1.2.3.4", "*"));
    assert!(!hit(c, "1.2.3.4", "foo.bar : 1.2.3"));
    assert!(hit(c, "1.2.3.4", "!1.2.3.5"));
}

#[test]
fn host_names_need_a_name() {
    let c = &mut ctx();
    let r = match_host(c, b"1.2.3.4", None, b"*.example", false).unwrap();
    assert!(r.is_none());
    let r = match_host(c, b"1.2.3.4", Some(b"mx.example"), b"*.example", false).unwrap();
    assert!(r.is_some());
    let r = match_host(c, b"1.2.3.4", None, b"+include_unknown : *.example", false).unwrap();
    assert!(r.is_some());
}

#[test]
fn inline_files() {
    let dir = std::env::temp_dir().join(format!("rexim-lm-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let f = dir.join("doms");
    std::fs::write(&f, "# comment\n a.b # x\n!c.d\n*.e\n").unwrap();
    let list = f.to_string_lossy().into_owned();
    assert_eq!(dom(&list, "a.b"), Some("a.b".into()));
    assert_eq!(dom(&list, "c.d"), None);
    assert_eq!(dom(&list, "x.e"), Some("*.e".into()));
    assert_eq!(dom(&list, "zz"), None);
    let e = match_domain(&mut ctx(), b"a", b"/nonexistent/x", false).unwrap_err();
    assert!(matches!(e, ListError::Fatal(_)));
    let _ = std::fs::remove_dir_all(&dir);
}

/// A fake single-key lookup (registered under `dsearch`) holding local-part lists.
struct Table;

impl crate::lookup::LookupDriver for Table {
    fn find(
        &self,
        _: &crate::lookup::Opened,
        _: &[u8],
        key: &[u8],
        _: &crate::lookup::Options,
        _: &mut crate::lookup::Call,
    ) -> Result<Option<Vec<u8>>, crate::lookup::LookupError> {
        Ok(match key {
            b"a.example" => Some(b"x : !y : ^z+$ : >b.example".to_vec()),
            b"b.example" => Some(b"q".to_vec()),
            b"loop.example" => Some(b">loop.example".to_vec()),
            _ => None,
        })
    }
}

fn table_ctx() -> Context {
    let lookups = crate::lookup::Lookups::default().with_driver("dsearch", Box::new(Table));
    Context::new(lookups.shared())
}

#[test]
fn split_lookups_chain() {
    let c = &mut table_ctx();
    let hit = |c: &mut Context, a: &str| {
        match_address(c, a.as_bytes(), b"@@dsearch;/x", false)
            .unwrap()
            .map(|m| String::from_utf8(m.value.unwrap_or_default().bytes).unwrap())
    };
    assert_eq!(hit(c, "x@a.example"), Some("x".into()));
    assert_eq!(hit(c, "X@a.example"), Some("x".into()));
    assert_eq!(hit(c, "y@a.example"), None);
    assert_eq!(hit(c, "zzz@a.example"), Some("^z+$".into()));
    assert_eq!(hit(c, "q@a.example"), Some("q".into()));
    assert_eq!(hit(c, "w@a.example"), None);
    assert!(match_address(c, b"w@loop.example", b"@@dsearch;/x", false).is_err());
}

#[test]
fn ip_lookups_use_masked_keys() {
    struct Keys;
    impl crate::lookup::LookupDriver for Keys {
        fn find(
            &self,
            _: &crate::lookup::Opened,
            _: &[u8],
            key: &[u8],
            _: &crate::lookup::Options,
            _: &mut crate::lookup::Call,
        ) -> Result<Option<Vec<u8>>, crate::lookup::LookupError> {
            Ok(Some(key.to_vec()))
        }
    }
    let lookups = crate::lookup::Lookups::default().with_driver("dsearch", Box::new(Keys));
    let c = &mut Context::new(lookups.shared());
    let v = |c: &mut Context, ip: &str, l: &str| {
        let m = match_ip(c, ip.as_bytes(), l.as_bytes(), false)
            .unwrap()
            .unwrap();
        String::from_utf8(m.value.unwrap().bytes).unwrap()
    };
    assert_eq!(v(c, "1.2.3.4", "net24-dsearch;/x"), "1.2.3.0/24");
    assert_eq!(v(c, "1.2.3.4", "dsearch;/x"), "1.2.3.4");
    assert_eq!(
        v(c, "2001:db8::1", "net32-dsearch;/x"),
        "2001.0db8.0000.0000.0000.0000.0000.0000/32"
    );
}
