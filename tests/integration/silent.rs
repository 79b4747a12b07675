//! One silent list must not stall a pass: a list that does not answer its health check is
//! not asked, and one that stops answering mid-run is cut off after a few timeouts, while
//! the other lists are asked in full.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::support::raw_dns::{Act, RawDns};
use crate::support::{Run, rows, with_lists};

const LISTED: std::net::Ipv4Addr = std::net::Ipv4Addr::new(127, 0, 0, 2);

/// Lists `t` (t.test, always answers) and `s` (s.test, answers by `s_rule`), both with
/// proper test points on t; `s`'s test points also go through `s_rule`.
fn two_lists(dns: &RawDns, args: &[&str]) -> Run {
    let addr = dns.addr();
    let mut all = vec![
        "check",
        "--nameserver",
        addr.as_str(),
        "--format",
        "json",
        "--timeout",
        "1",
        "--attempts",
        "1",
        "--force",
    ];
    all.extend_from_slice(args);
    with_lists(&[("t", "t.test"), ("s", "s.test")], &all)
}

fn test_points(name: &str, zone: &str) -> Option<Act> {
    if name == format!("2.0.0.127.{zone}") {
        Some(Act::A(vec![LISTED]))
    } else if name == format!("1.0.0.127.{zone}") {
        Some(Act::NxDomain)
    } else {
        None
    }
}

fn asked(dns: &RawDns, zone: &str) -> usize {
    dns.seen()
        .iter()
        .filter(|q| q.name.ends_with(zone) && !q.name.contains(".0.0.127."))
        .count()
}

#[test]
fn a_list_silent_at_its_health_check_is_not_asked() {
    let dns = RawDns::start(|name| {
        if name.ends_with(".s.test") {
            return Act::Silent;
        }
        test_points(name, "t.test").unwrap_or(Act::NxDomain)
    });
    let run = two_lists(&dns, &["10.1.0.0/20", "--concurrency", "32"]);
    // Every address has a definite answer from t: the run is not blind, only s is.
    assert_eq!(run.code, 0, "{}", run.stderr);
    let doc = run.json();
    let t = rows(&doc, "t");
    assert_eq!(t.len(), 4096);
    assert!(t.iter().all(|r| r["status"] == "clear"), "t answered all");
    let s = rows(&doc, "s");
    assert_eq!(s.len(), 4096);
    assert!(
        s.iter()
            .all(|r| r["status"] == "unhealthy" || r["status"] == "error"),
        "{:?}",
        s.iter()
            .find(|r| r["status"] != "unhealthy" && r["status"] != "error")
    );
    let not_asked = s
        .iter()
        .filter(|r| {
            r["detail"]
                .as_str()
                .is_some_and(|d| d.contains("did not answer its health check"))
        })
        .count();
    assert!(not_asked > 3500, "{not_asked} of 4096 pairs skipped");
    // Only what was under way while the health check waited was sent.
    let sent = asked(&dns, "s.test");
    assert!(sent < 600, "{sent} queries sent to the silent list");
    assert_eq!(asked(&dns, "t.test"), 4096);
}

#[test]
fn a_list_that_goes_silent_mid_run_is_cut_off_once() {
    let answered = Arc::new(AtomicUsize::new(0));
    let count = answered.clone();
    let dns = RawDns::start(move |name| {
        if let Some(act) = test_points(name, "t.test").or_else(|| test_points(name, "s.test")) {
            return act;
        }
        if name.ends_with(".s.test") && count.fetch_add(1, Ordering::Relaxed) >= 500 {
            return Act::Silent;
        }
        Act::NxDomain
    });
    let run = two_lists(&dns, &["10.2.0.0/20", "--concurrency", "32"]);
    // Every address has a definite answer from t: the run is not blind, only s is.
    assert_eq!(run.code, 0, "{}", run.stderr);
    let doc = run.json();
    let t = rows(&doc, "t");
    assert!(t.iter().all(|r| r["status"] == "clear"));
    let s = rows(&doc, "s");
    let clear = s.iter().filter(|r| r["status"] == "clear").count();
    assert!(
        (450..=500).contains(&clear),
        "{clear} answered before the silence"
    );
    assert!(
        s.iter()
            .all(|r| r["status"] == "clear" || r["status"] == "error")
    );
    let cut = s
        .iter()
        .filter(|r| {
            r["detail"]
                .as_str()
                .is_some_and(|d| d.contains("s stopped answering"))
        })
        .count();
    assert!(cut > 3000, "{cut} pairs not sent after the cut");
    let sent = asked(&dns, "s.test");
    assert!(
        sent < 1000,
        "{sent} queries sent to the list after it went silent"
    );
    let notes: Vec<&str> = doc["notes"]
        .as_array()
        .expect("notes")
        .iter()
        .filter_map(|n| n.as_str())
        .filter(|n| n.contains("stopped answering"))
        .collect();
    assert_eq!(notes.len(), 1, "said once: {notes:?}");
}
