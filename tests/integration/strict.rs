//! Only a proper answer to the question asked is read: hostile and broken replies from a
//! hand-written server are errors, never clear; TC, or a reply longer than its slot, goes to
//! TCP; `--attempts` bounds the sends; an unreachable server fails at once; ids and source
//! ports are unpredictable; replies to no query asked are dropped.

use std::collections::HashSet;
use std::net::Ipv4Addr;

use crate::support::raw_dns::{Act, RawDns};
use crate::support::{Run, row, rows, with_lists};

const LISTED: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 2);

/// A list `t` on zone t.test whose test points answer properly, everything else by `rule`.
fn server(rule: impl Fn(&str) -> Act + Send + Sync + 'static) -> RawDns {
    RawDns::start(move |name| match name {
        "2.0.0.127.t.test" => Act::A(vec![LISTED]),
        "1.0.0.127.t.test" => Act::NxDomain,
        other => rule(other),
    })
}

fn check(dns: &RawDns, args: &[&str]) -> Run {
    let addr = dns.addr();
    let mut all = vec!["check", "--nameserver", addr.as_str(), "--format", "json"];
    all.extend_from_slice(args);
    with_lists(&[("t", "t.test")], &all)
}

fn status_of<'a>(doc: &'a serde_json::Value, address: &str) -> &'a serde_json::Value {
    rows(doc, "t")
        .into_iter()
        .find(|r| r["address"] == address)
        .unwrap_or_else(|| panic!("no row for {address}: {doc:#}"))
}

#[test]
fn replies_that_do_not_answer_the_question_are_errors_never_clear() {
    let dns = server(|name| match name {
        "1.2.0.192.t.test" => Act::AaaaOnly,
        "2.2.0.192.t.test" => Act::Echo,
        "3.2.0.192.t.test" => Act::NotResponse(vec![LISTED]),
        "4.2.0.192.t.test" => Act::WrongClass(vec![LISTED]),
        "5.2.0.192.t.test" => Act::WrongPort(vec![LISTED]),
        _ => Act::NxDomain,
    });
    let targets = [
        "192.0.2.1",
        "192.0.2.2",
        "192.0.2.3",
        "192.0.2.4",
        "192.0.2.5",
    ];
    let mut args = targets.to_vec();
    args.extend(["--timeout", "1", "--attempts", "1"]);
    let run = check(&dns, &args);
    assert_eq!(run.code, 3, "no definite answer: {run:?}");
    let doc = run.json();
    for (address, why) in [
        ("192.0.2.1", "no A record for the name asked"),
        ("192.0.2.2", "QR bit unset"),
        ("192.0.2.3", "QR bit unset"),
        ("192.0.2.4", "class"),
        ("192.0.2.5", "timed out"),
    ] {
        let r = status_of(&doc, address);
        assert_eq!(r["status"], "error", "{address}: {r}");
        let detail = r["detail"].as_str().unwrap_or_default();
        assert!(
            detail.contains(why),
            "{address}: {detail:?} should say {why:?}"
        );
    }
    assert_eq!(doc["summary"]["clear"], 0, "{doc:#}");
}

#[test]
fn a_cname_is_followed_to_its_a_records() {
    let dns = server(|name| match name {
        "6.2.0.192.t.test" => Act::Cname(vec![LISTED]),
        _ => Act::NxDomain,
    });
    let run = check(&dns, &["192.0.2.6", "192.0.2.8"]);
    assert_eq!(run.code, 1, "{run:?}");
    let doc = run.json();
    assert_eq!(status_of(&doc, "192.0.2.6")["status"], "listed");
    assert_eq!(status_of(&doc, "192.0.2.8")["status"], "clear");
}

/// `192.0.2.{last}` answered by `act` over UDP is asked again over TCP and read from there.
#[track_caller]
fn read_over_tcp(last: u8, act: Act) {
    let name = format!("{last}.2.0.192.t.test");
    let asked = name.clone();
    let dns = server(move |n| {
        if n == asked {
            act.clone()
        } else {
            Act::NxDomain
        }
    });
    let run = check(&dns, &[&format!("192.0.2.{last}")]);
    assert_eq!(run.code, 1, "{run:?}");
    let doc = run.json();
    let r = row(&doc, "t");
    assert_eq!(r["status"], "listed", "{r}");
    assert_eq!(r["codes"], serde_json::json!(["127.0.0.2"]), "{r}");
    let over_tcp: Vec<_> = dns
        .seen()
        .into_iter()
        .filter(|q| q.tcp && q.name == name)
        .collect();
    assert!(!over_tcp.is_empty(), "no TCP query: {:?}", dns.seen());
}

#[test]
fn a_truncated_reply_is_asked_again_over_tcp() {
    read_over_tcp(7, Act::Truncated(vec![LISTED]));
}

/// A reply longer than any server without EDNS may send is never read from the part that
/// fits: it is asked again over TCP.
#[test]
fn an_oversized_udp_reply_is_asked_again_over_tcp() {
    read_over_tcp(9, Act::Oversized(vec![LISTED]));
}

#[test]
fn attempts_bound_the_sends_of_each_question() {
    let dns = server(|_| Act::Silent);
    let targets = ["192.0.2.1", "192.0.2.2", "192.0.2.3"];
    for attempts in [1usize, 3] {
        let before = dns.seen().len();
        let mut args = targets.to_vec();
        let n = attempts.to_string();
        args.extend(["--timeout", "1", "--attempts", &n, "--no-verify"]);
        let run = check(&dns, &args);
        assert_eq!(run.code, 3, "{run:?}");
        let seen = &dns.seen()[before..];
        for t in ["1.2.0.192.t.test", "2.2.0.192.t.test", "3.2.0.192.t.test"] {
            let sends = seen.iter().filter(|q| q.name == t).count();
            assert_eq!(sends, attempts, "{t} with --attempts {attempts}: {seen:?}");
        }
        assert_eq!(seen.len(), 3 * attempts, "{seen:?}");
    }
}

#[test]
fn a_closed_port_is_an_error_at_once_not_after_the_timeout() {
    let addr = closed_port();
    let started = std::time::Instant::now();
    let run = with_lists(
        &[("t", "t.test")],
        &[
            "check",
            "192.0.2.1",
            "--nameserver",
            &addr,
            "--timeout",
            "20",
            "--format",
            "json",
        ],
    );
    let took = started.elapsed();
    assert_eq!(run.code, 3, "{run:?}");
    let doc = run.json();
    let r = row(&doc, "t");
    assert_ne!(r["status"], "clear");
    let detail = r["detail"].as_str().unwrap_or_default();
    assert!(detail.contains("port unreachable"), "{r}");
    // Two tries of 20 s would be 40 s; an ICMP error is known in milliseconds.
    assert!(took.as_secs() < 10, "took {took:?}");
}

#[test]
fn query_ids_and_source_ports_are_not_predictable() {
    let dns = server(|_| Act::NxDomain);
    let run = check(
        &dns,
        &[
            "10.9.0.0/17",
            "--force",
            "--no-verify",
            "--concurrency",
            "16",
        ],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let seen = dns.seen();
    // Every address asked (a query the single-threaded server dropped is sent again).
    let names: HashSet<&str> = seen.iter().map(|q| q.name.as_str()).collect();
    assert_eq!(names.len(), 32_768, "every address asked");
    let ids: Vec<u16> = seen.iter().map(|q| q.id).collect();
    let sequential = ids
        .windows(2)
        .filter(|w| w[1] == w[0].wrapping_add(1))
        .count();
    assert!(
        sequential < 100,
        "{sequential} of 32767 ids follow the one before"
    );
    let distinct: HashSet<u16> = ids.iter().copied().collect();
    assert!(
        distinct.len() > 20_000,
        "only {} distinct ids",
        distinct.len()
    );
    let ports: HashSet<u16> = seen.iter().map(|q| q.port).collect();
    assert!(
        ports.len() >= 8,
        "source ports not changed during the run: {ports:?}"
    );
}

/// A port nothing listens on.
fn closed_port() -> String {
    let closed = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
    let addr = closed.local_addr().expect("addr").to_string();
    drop(closed);
    addr
}

/// A check of 192.0.2.0/29 without health checks, through `servers` in turn, with a 20 s
/// timeout; and how long it took.
fn without_health_check(servers: &[&str]) -> (Run, std::time::Duration) {
    let started = std::time::Instant::now();
    let mut args = vec!["check", "192.0.2.0/29", "--no-verify", "--timeout", "20"];
    for server in servers {
        args.extend(["--nameserver", server]);
    }
    args.extend(["--format", "json"]);
    let run = with_lists(&[("t", "t.test")], &args);
    (run, started.elapsed())
}

#[test]
fn every_pair_asked_of_a_closed_port_fails_at_once() {
    // Without the health check, the queries themselves meet the ICMP error.
    let (run, took) = without_health_check(&[&closed_port()]);
    assert_eq!(run.code, 3, "{run:?}");
    let doc = run.json();
    let rows = rows(&doc, "t");
    assert_eq!(rows.len(), 8, "{doc:#}");
    for r in rows {
        assert_eq!(r["status"], "error", "{r}");
        let detail = r["detail"].as_str().unwrap_or_default();
        assert!(detail.contains("port unreachable"), "{r}");
    }
    assert!(took.as_secs() < 10, "took {took:?}");
}

#[test]
fn a_closed_port_among_the_servers_is_passed_over_for_the_next() {
    let dns = server(|name| {
        if name.starts_with("5.2.0.192.") {
            Act::A(vec![LISTED])
        } else {
            Act::NxDomain
        }
    });
    let (run, took) = without_health_check(&[&closed_port(), &dns.addr()]);
    assert_eq!(run.code, 1, "{run:?}");
    let doc = run.json();
    assert_eq!(status_of(&doc, "192.0.2.5")["status"], "listed", "{doc:#}");
    for n in [0, 1, 2, 3, 4, 6, 7] {
        assert_eq!(status_of(&doc, &format!("192.0.2.{n}"))["status"], "clear");
    }
    assert!(took.as_secs() < 10, "took {took:?}");
}

#[test]
fn replies_to_no_query_asked_are_dropped_however_many() {
    // Before each real answer (NXDOMAIN) come replies saying "listed" with other ids, or with
    // the right id and another name: none may be read as the answer, whatever the engine.
    let dns = server(|name| {
        if name.ends_with(".2.0.192.t.test") {
            Act::NxDomainAfterDecoys
        } else {
            Act::NxDomain
        }
    });
    let run = check(&dns, &["192.0.2.0/28", "--timeout", "5"]);
    assert_eq!(run.code, 0, "{run:?}");
    let doc = run.json();
    let rows = rows(&doc, "t");
    assert_eq!(rows.len(), 16, "{doc:#}");
    assert!(rows.iter().all(|r| r["status"] == "clear"), "{doc:#}");
    // Each question answered once: the decoys did not make any query be sent again or given up.
    let asked = dns
        .seen()
        .iter()
        .filter(|s| s.name.ends_with(".2.0.192.t.test"))
        .count();
    assert_eq!(asked, 16);
}
