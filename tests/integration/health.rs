//! `rblwatch lists verify`: every enabled list's RFC 5782 health, exit 1 when any is not ok.

use crate::support::{Lab, rblwatch};

fn verify(lab: &Lab, only: &str, extra: &[&str]) -> crate::support::Run {
    let mut args = vec!["--only", only];
    args.extend_from_slice(extra);
    lab.run(&["lists", "verify"], &args, &[])
}

#[test]
fn healthy_lists_verify_ok() {
    let lab = Lab::start();
    let run = verify(&lab, "bl,bl6,dom,wl,ref", &[]);
    assert_eq!(run.code, 0, "{run:?}");
    for id in ["bl", "bl6", "dom", "wl", "ref"] {
        let line = run
            .stdout
            .lines()
            .find(|l| l.split_whitespace().next() == Some(id))
            .expect(id);
        assert_eq!(line.split_whitespace().nth(1), Some("ok"), "{line}");
    }
    assert!(
        run.stdout.ends_with("5 lists checked, 5 ok, 0 not ok\n"),
        "{}",
        run.stdout
    );
}

#[test]
fn every_health_outcome_is_named() {
    let lab = Lab::start();
    let run = verify(&lab, "bl,dead,world,missing,bogus", &["--format", "json"]);
    assert_eq!(run.code, 1, "{run:?}");
    let doc = run.json();
    let health = |id: &str| -> String {
        doc.as_array()
            .expect("array")
            .iter()
            .find(|l| l["id"] == id)
            .and_then(|l| l["health"].as_str())
            .unwrap_or_default()
            .to_string()
    };
    assert_eq!(health("bl"), "ok");
    assert_eq!(health("dead"), "dead");
    assert_eq!(health("world"), "wildcard");
    assert_eq!(health("missing"), "refused");
    assert_eq!(health("bogus"), "bogus");
    let dead = doc
        .as_array()
        .expect("array")
        .iter()
        .find(|l| l["id"] == "dead")
        .expect("dead");
    assert!(
        dead["detail"]
            .as_str()
            .expect("detail")
            .contains("positive test point 127.0.0.2 is not listed"),
        "{dead}"
    );
}

#[test]
fn an_unreachable_list_is_named() {
    // Nothing listens on this port: every query times out.
    let port = crate::support::rbldnsd::free_port();
    let run = rblwatch(
        &[
            "lists",
            "verify",
            "--only",
            "spamcop",
            "--nameserver",
            &format!("127.0.0.1:{port}"),
            "--timeout",
            "0.3",
            "--attempts",
            "1",
        ],
        &[],
    );
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        run.stdout
            .starts_with("spamcop  unreachable  test point 127.0.0.2: "),
        "{}",
        run.stdout
    );
}

/// A list that serves none of the kinds a run asks about is neither asked nor health-checked:
/// an address sends nothing to a domain list, and the report's lists are the ones asked.
/// A run with nothing to ask (`lists verify`) still checks every list.
#[test]
fn a_list_asked_nothing_is_not_health_checked() {
    use crate::support::raw_dns::{Act, RawDns};
    use crate::support::{CODES, entry, shared_dir, write_file};

    let dns = RawDns::start(|name| {
        // The negative test points (127.0.0.1, ::ffff:7f00:1, `invalid`) are not listed.
        if ["1.0.0.127.", "1.0.0.0.0.0.f.7.f.f.f.f.", "invalid."]
            .iter()
            .any(|negative| name.starts_with(negative))
        {
            Act::NxDomain
        } else {
            Act::A(vec![std::net::Ipv4Addr::new(127, 0, 0, 2)])
        }
    });
    let dir = shared_dir();
    let catalog = [
        entry("ip", "ip.test", "\"ipv4\"", CODES),
        entry("six", "six.test", "\"ipv6\"", CODES),
        entry("dom", "dom.test", "\"domain\"", CODES),
    ]
    .concat();
    let catalog = write_file(dir.path(), "lists.toml", &catalog);
    let catalog = catalog.to_string_lossy().into_owned();
    let addr = dns.addr();
    let asked_of = |zone: &str| {
        dns.seen()
            .iter()
            .filter(|q| q.name.trim_end_matches('.').ends_with(zone))
            .count()
    };

    let check = |targets: &[&str]| {
        let mut args = vec!["--lists", &catalog, "check", "--nameserver", &addr];
        args.extend_from_slice(&["--format", "json"]);
        args.extend_from_slice(targets);
        rblwatch(&args, &[]).json()
    };

    let doc = check(&["192.0.2.5"]);
    let ids = crate::support::list_ids(&doc);
    assert_eq!(ids, ["ip"], "{doc:#}");
    assert_eq!(crate::support::health(&doc, "ip"), "ok");
    assert_eq!(doc["summary"]["listed"], 1, "{doc:#}");
    // The address and both test points of `ip`; nothing of the others.
    assert!(asked_of("ip.test") >= 3, "{:?}", dns.seen());
    assert_eq!(
        asked_of("six.test") + asked_of("dom.test"),
        0,
        "{:?}",
        dns.seen()
    );

    // An IPv4 and an IPv6 address: both address lists are checked, the domain list is not.
    let doc = check(&["192.0.2.5", "2001:db8::5"]);
    assert_eq!(doc["lists"].as_array().map(Vec::len), Some(2), "{doc:#}");
    assert_eq!(crate::support::health(&doc, "six"), "ok");
    assert_eq!(asked_of("dom.test"), 0, "{:?}", dns.seen());

    let run = rblwatch(
        &[
            "--lists",
            &catalog,
            "lists",
            "verify",
            "--nameserver",
            &addr,
        ],
        &[],
    );
    assert_eq!(run.code, 0, "{run:?}");
    assert!(asked_of("dom.test") >= 2, "{:?}", dns.seen());
}
