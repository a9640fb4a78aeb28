//! In-process ACL throughput: evaluations per second of a realistic 20-statement RCPT
//! ACL (named lists, lsearch lookups, dnslists against a fake zone, ratelimit in an
//! LMDB hints database). Run: `cargo bench --bench acl [-- ROUNDS]`. Prints the figure;
//! results go in BENCHMARKS.md.

use std::sync::Arc;
use std::time::Instant;

use rexim::acl::read::{read_acl, Line};
use rexim::acl::{run_acl, AclSet, MessageState, Phase, Rc};
use rexim::dns::FakeResolver;
use rexim::expand::context::NamedLists;
use rexim::{parse, Context};

struct Lists(Vec<(&'static str, char, String)>);

impl NamedLists for Lists {
    fn get(&self, name: &str, kind: Option<char>) -> Option<(char, String)> {
        self.0
            .iter()
            .find(|(n, k, _)| *n == name && kind.is_none_or(|w| w == *k))
            .map(|(_, k, v)| (*k, v.clone()))
    }
}

const ACL: &str = r#"
  accept  hosts = :
          message = local submission
  deny    local_parts = ^[.] : ^.*[@%!/|]
          message = restricted characters in address
  deny    domains = !+local_domains
          local_parts = ^[./|] : ^.*[@%!] : ^.*/\\.\\./
  accept  local_parts = postmaster : abuse
          domains = +local_domains
  deny    hosts = !+relay_hosts : !+trusted_hosts : *
          !verify = helo
          message = HELO name does not resolve to your address
  deny    dnslists = zen.example : bl.example=127.0.0.2
          message = $sender_host_address is listed at $dnslist_domain
  deny    senders = lsearch*@;@DIR@/blocked_senders
          message = sender blocked ($sender_data)
  deny    sender_domains = +bad_domains
  warn    hosts = +greylist_hosts
          set acl_m_grey = yes
  accept  hosts = +relay_hosts
          control = submission
  accept  authenticated = *
  deny    ratelimit = 100 / 1h / per_rcpt / strict / $sender_host_address
          message = rate limit exceeded: $sender_rate per $sender_rate_period
  require message = relay not permitted
          domains = +local_domains : +relay_to_domains
  deny    domains = +local_domains
          local_parts = lsearch;@DIR@/disabled_users
          message = mailbox disabled
  warn    condition = ${if match{$local_part}{\N^test\d+$\N}}
          add_header = X-Test-Recipient: $local_part
  deny    recipients = lsearch*@;@DIR@/blocked_recipients
          message = recipient blocked
  accept  domains = +relay_to_domains
          set acl_m_relay = $domain_data
  defer   condition = ${if eq{$acl_m_grey}{yes}}
          message = greylisted, try later
  accept  domains = +local_domains
          local_parts = lsearch;@DIR@/users
          set acl_m_user = $local_part_data
  deny    message = unknown user
"#;

fn main() {
    let rounds: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(20_000);
    let dir = std::env::temp_dir().join(format!("rexim-acl-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("bench dir");
    let write = |name: &str, text: String| std::fs::write(dir.join(name), text).expect("write");
    write(
        "blocked_senders",
        "spammer@bad.example: known spammer\n*@junk.example: junk\n".into(),
    );
    write("blocked_recipients", "old@local.example: gone\n".into());
    write("disabled_users", "former\nleft\n".into());
    let users: String = (0..500).map(|i| format!("user{i}: {i}\n")).collect();
    write("users", users);
    let d = dir.to_string_lossy().into_owned();

    let text = ACL.replace("@DIR@", &d);
    let lines: Vec<Line> = text
        .split('\n')
        .scan(0, |off, l| {
            let line = Line {
                text: l,
                offset: *off,
            };
            *off += l.len() + 1;
            Some(line)
        })
        .collect();
    let acl = read_acl("check_rcpt", &lines).expect("ACL reads");
    let statements = acl.statements.len();
    let mut set = AclSet::default();
    set.insert(acl);
    set.env.resolver = Arc::new(
        FakeResolver::parse(
            "2.113.0.203.zen.example A 127.0.0.2\n\
             helo.client.example A 198.51.100.7\n\
             helo.client.example A 203.0.113.2\n\
             helo.client.example A 198.51.100.200\n",
        )
        .expect("zone"),
    );
    set.env.hints_dir = Some(dir.join("db"));
    let lists = Arc::new(Lists(vec![
        (
            "local_domains",
            'd',
            "local.example : *.local.example : @".into(),
        ),
        (
            "relay_to_domains",
            'd',
            "partner.example : lsearch;".to_string() + &d + "/blocked_senders",
        ),
        ("bad_domains", 'd', "junk.example : spam.example".into()),
        ("relay_hosts", 'h', "<; 192.0.2.0/24 ; 2001:db8::/32".into()),
        ("trusted_hosts", 'h', "10.0.0.0/8".into()),
        ("greylist_hosts", 'h', "198.51.100.128/25".into()),
    ]));
    let spec = parse("check_rcpt");

    let hosts = ["198.51.100.7", "203.0.113.2", "192.0.2.5", "198.51.100.200"];
    let senders = [
        "fred@example.org",
        "spammer@bad.example",
        "",
        "x@junk.example",
    ];
    let domains = ["local.example", "partner.example", "elsewhere.example"];
    let mut counts = [0usize; 6];
    let t = Instant::now();
    for i in 0..rounds {
        let mut ctx = Context::default();
        ctx.named_lists = Some(lists.clone());
        ctx.set("sender_host_address", hosts[i % hosts.len()]);
        ctx.set("sender_helo_name", "helo.client.example");
        ctx.set("sender_address", senders[(i / 3) % senders.len()]);
        ctx.set("domain", domains[i % domains.len()]);
        ctx.set("local_part", format!("user{}", i % 700).as_str());
        let mut state = MessageState::default();
        let v = run_acl(&mut ctx, &set, &mut state, Phase::Rcpt, &spec, true);
        let k = match v.rc {
            Rc::Ok => 0,
            Rc::Fail => 1,
            Rc::FailDrop => 2,
            Rc::Defer => 3,
            Rc::Error => 4,
            Rc::Discard => 5,
        };
        counts[k] += 1;
        if std::env::var_os("ACL_BENCH_SHOW").is_some() && i < 24 {
            eprintln!("{i}: {:?} {:?}", v.rc, v.log_message);
        }
    }
    let secs = t.elapsed().as_secs_f64();
    println!(
        "acl: {rounds} evaluations of a {statements}-statement RCPT ACL in {secs:.3}s = {:.0} evaluations/s",
        rounds as f64 / secs
    );
    println!(
        "  verdicts: accept {} deny {} drop {} defer {} error {} discard {}",
        counts[0], counts[1], counts[2], counts[3], counts[4], counts[5]
    );
    let _ = std::fs::remove_dir_all(&dir);
}
