//! `rblwatch doctor` finds each broken setup: a hijacking resolver, one that strips 127/8
//! answers, a list that lists the world, missing or unconfirmed reverse DNS, SMTP down.

use crate::support::dns_server::{FakeDns, Reply};
use crate::support::postfix::{Postfix, Relay};
use crate::support::servers::free_tcp_port;
use crate::support::{CODES, Run, entry, rblwatch, shared_dir, write_file};

/// Runs doctor with a catalog of two lists (a.test, b.test) and a config watching `targets`,
/// all DNS through `server`; `extra` is appended to the config.
fn doctor(server: &str, targets: &[&str], extra: &str) -> Run {
    doctor_with(server, targets, extra, &[])
}

/// `doctor` as above, with more arguments.
fn doctor_with(server: &str, targets: &[&str], extra: &str, more: &[&str]) -> Run {
    let dir = shared_dir();
    let catalog = write_file(
        dir.path(),
        "lists.toml",
        &[
            entry("a", "a.test", "\"ipv4\"", CODES),
            entry("b", "b.test", "\"ipv4\"", CODES),
        ]
        .concat(),
    );
    let mut config = format!(
        "store = \"state.db\"\n[lists]\ncatalogs = [\"{}\"]\nonly = [\"a\", \"b\"]\n[resolver]\nnameservers = [\"{server}\"]\ntimeout = 1\nattempts = 1\n",
        catalog.display()
    );
    for t in targets {
        config.push_str(&format!("[[target]]\naddress = \"{t}\"\n"));
    }
    config.push_str(extra);
    let path = write_file(dir.path(), "rblwatch.toml", &config);
    // --nameserver as well: even with a broken config nothing goes to the system resolver.
    let path = path.to_string_lossy();
    let mut args = vec![
        "--config",
        &path,
        "doctor",
        "--nameserver",
        server,
        "--timeout",
        "1",
    ];
    args.extend_from_slice(more);
    rblwatch(&args, &[])
}

/// A well-behaved DNS: list test points, reverse DNS for 192.0.2.5 (confirmed) and 192.0.2.6
/// (a PTR whose name points elsewhere), none for 192.0.2.7.
fn good(name: &str) -> Reply {
    let listed = || Reply::A(vec!["127.0.0.2".parse().expect("ip")]);
    match name {
        n if n.starts_with("2.0.0.127.") => listed(),
        "5.2.0.192.in-addr.arpa" => Reply::Ptr("mail.example.test".into()),
        "6.2.0.192.in-addr.arpa" => Reply::Ptr("other.example.test".into()),
        "mail.example.test" => Reply::A(vec!["192.0.2.5".parse().expect("ip")]),
        "other.example.test" => Reply::A(vec!["203.0.113.9".parse().expect("ip")]),
        _ => Reply::NxDomain,
    }
}

/// A finding line: level, area and subject as its first three words, and `fragment` in it.
#[track_caller]
fn has(run: &Run, level: &str, area: &str, subject: &str, fragment: &str) {
    let found = run.stdout.lines().any(|l| {
        let words: Vec<&str> = l.split_whitespace().take(3).collect();
        words == [level, area, subject] && l.contains(fragment)
    });
    assert!(
        found,
        "want `{level} {area} {subject} ...{fragment}...` in:\n{}",
        run.stdout
    );
}

#[test]
fn a_good_setup_is_all_ok_and_reverse_dns_is_checked_both_ways() {
    let server = FakeDns::start(good);
    let run = doctor(&server.addr(), &["192.0.2.5"], "");
    assert_eq!(run.code, 0, "{run:?}");
    has(&run, "OK", "resolver", "NXDOMAIN", "not rewritten");
    has(&run, "OK", "list", "a", "healthy");
    has(
        &run,
        "OK",
        "rdns",
        "192.0.2.5",
        "PTR mail.example.test resolves back to it",
    );
    let store = run
        .stdout
        .lines()
        .find(|l| l.split_whitespace().nth(1) == Some("store"))
        .expect("a store line");
    assert!(
        store.starts_with("OK") && store.contains("the first pass creates it"),
        "{store}"
    );
    has(
        &run,
        "OK",
        "templates",
        "built-in",
        "every template renders",
    );

    let run = doctor(&server.addr(), &["192.0.2.6", "192.0.2.7"], "");
    assert_eq!(run.code, 1, "warnings: {run:?}");
    has(
        &run,
        "WARN",
        "rdns",
        "192.0.2.6",
        "PTR other.example.test does not resolve back to 192.0.2.6",
    );
    has(&run, "WARN", "rdns", "192.0.2.7", "no reverse DNS (PTR)");
}

#[test]
fn a_resolver_that_rewrites_nxdomain_is_an_error() {
    let server = FakeDns::start(|name| match name {
        n if n.starts_with("2.0.0.127.") => Reply::A(vec!["127.0.0.2".parse().expect("ip")]),
        // An ISP resolver's "search page" for everything that does not exist.
        _ => Reply::A(vec!["198.51.100.80".parse().expect("ip")]),
    });
    let run = doctor(&server.addr(), &["192.0.2.5"], "");
    assert_eq!(run.code, 2, "{run:?}");
    has(
        &run,
        "ERROR",
        "resolver",
        "NXDOMAIN",
        "rewrites NXDOMAIN (hijacking)",
    );
    // Both lists answer their test points outside what they document: the resolver's doing,
    // said once, and the lists are not blamed.
    has(
        &run,
        "ERROR",
        "resolver",
        &server.addr(),
        "(rewrites answers)",
    );
    assert!(!run.stdout.contains("disable it"), "{}", run.stdout);
}

#[test]
fn a_resolver_that_strips_loopback_answers_is_an_error() {
    // What unbound with `private-address: 127.0.0.0/8` gives: the names exist, the A records
    // are gone.
    let server = FakeDns::start(|name| {
        if name.starts_with("2.0.0.127.") || name == "a.test" || name == "b.test" {
            Reply::NoData
        } else {
            Reply::NxDomain
        }
    });
    let run = doctor(&server.addr(), &["192.0.2.5"], "");
    assert_eq!(run.code, 2, "{run:?}");
    has(
        &run,
        "ERROR",
        "resolver",
        &server.addr(),
        "the lists' zones exist, but 2 of 2 lists show nothing",
    );
    // The lists are fine: no advice to disable them, no line per list.
    assert!(!run.stdout.contains("disable it"), "{}", run.stdout);
    assert!(!run.stdout.contains("WARN   list"), "{}", run.stdout);
}

#[test]
fn a_resolver_that_answers_nxdomain_to_everything_is_told_apart() {
    let server = FakeDns::start(|_| Reply::NxDomain);
    let run = doctor(&server.addr(), &["192.0.2.5"], "");
    assert_eq!(run.code, 2, "{run:?}");
    has(
        &run,
        "ERROR",
        "resolver",
        &server.addr(),
        "answers NXDOMAIN even for names that exist (the zones a.test, b.test themselves)",
    );
    assert!(!run.stdout.contains("disable it"), "{}", run.stdout);
    assert!(
        !run.stdout.contains("127.0.0.0/8 stripped"),
        "{}",
        run.stdout
    );
}

#[test]
fn a_resolver_that_does_not_answer_is_told_apart_without_debug_text() {
    let server = FakeDns::start(|_| Reply::Silent);
    let run = doctor(&server.addr(), &["192.0.2.5"], "");
    assert_eq!(run.code, 2, "{run:?}");
    has(
        &run,
        "ERROR",
        "resolver",
        &server.addr(),
        "gives no answer for the test points of 2 of 2 lists",
    );
    has(
        &run,
        "WARN",
        "resolver",
        "NXDOMAIN",
        "could not tell whether NXDOMAIN is rewritten: the answer was timed out",
    );
    for debug in ["Failure(", "Addresses(", "NxDomain", "NoData"] {
        assert!(!run.stdout.contains(debug), "{debug}: {}", run.stdout);
    }
}

#[test]
fn a_list_that_lists_the_world_is_an_error() {
    let server = FakeDns::start(|name| {
        if name.ends_with("b.test") {
            Reply::A(vec!["127.0.0.2".parse().expect("ip")])
        } else {
            good(name)
        }
    });
    let run = doctor(&server.addr(), &["192.0.2.5"], "");
    assert_eq!(run.code, 2, "{run:?}");
    has(&run, "OK", "list", "a", "healthy");
    has(&run, "ERROR", "list", "b", "lists the world");
}

#[test]
fn an_smtp_server_that_is_down_is_an_error_and_a_broken_config_is_reported() {
    let server = FakeDns::start(good);
    let port = free_tcp_port();
    let smtp = format!(
        "[notify]\n[notify.smtp]\nhost = \"127.0.0.1\"\nport = {port}\nsecurity = \"none\"\nfrom = \"rblwatch@example.com\"\ntimeout = 2\n"
    );
    let run = doctor(&server.addr(), &["192.0.2.5"], &smtp);
    assert_eq!(run.code, 2, "{run:?}");
    has(
        &run,
        "ERROR",
        "smtp",
        &format!("127.0.0.1:{port}"),
        "connection",
    );

    let run = doctor(&server.addr(), &["192.0.2.5"], "colour = 1\n");
    assert_eq!(run.code, 2, "{run:?}");
    has(&run, "ERROR", "config", "-", "unknown field `colour`");
    // Without a usable config the resolver and the built-in lists are still checked.
    assert!(run.stdout.contains("resolver"), "{}", run.stdout);
    let _ = rblwatch;
}

#[test]
fn doctor_relay_tests_each_configured_mail_server() {
    let dns = FakeDns::start(good);
    let open = Postfix::start(&Relay::TrustedNetwork, None);
    let port = open.port.to_string();
    // 127.0.0.1 is the one mail server among the targets; the /30 is a range, not tested.
    let run = doctor_with(
        &dns.addr(),
        &["127.0.0.1", "192.0.2.4/30"],
        "",
        &["--relay", "--relay-port", &port],
    );
    assert_eq!(run.code, 2, "{run:?}\n{}", open.log());
    has(
        &run,
        "ERROR",
        "relay",
        &format!("127.0.0.1:{port}"),
        "OPEN RELAY",
    );
    assert_eq!(run.stdout.matches(" relay ").count(), 1, "{}", run.stdout);
    assert!(open.queued().is_empty());

    let closed = Postfix::start(&Relay::Closed, None);
    let port = closed.port.to_string();
    let run = doctor_with(
        &dns.addr(),
        &["127.0.0.1"],
        "",
        &["--relay", "--relay-port", &port],
    );
    has(
        &run,
        "OK",
        "relay",
        &format!("127.0.0.1:{port}"),
        "CLOSED: all 18 attempts were refused",
    );
}
