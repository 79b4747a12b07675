//! `rblwatch check` against a real rbldnsd: every status, codes, TXT, IPv6, names, keys.

use crate::support::dns_server::{FakeDns, Reply};
use crate::support::{CODES, Lab, entry, health, rblwatch, row, rows, shared_dir, write_file};

#[test]
fn listed_address_shows_every_code_its_meaning_txt_and_delist_link() {
    let lab = Lab::start();
    let run = lab.check(&["192.0.2.5", "--only", "bl", "--format", "json"]);
    assert_eq!(run.code, 1, "{run:?}");
    let doc = run.json();
    let r = row(&doc, "bl");
    assert_eq!(r["status"], "listed");
    assert_eq!(r["codes"], serde_json::json!(["127.0.0.2", "127.0.0.4"]));
    assert_eq!(
        r["meanings"],
        serde_json::json!(["127.0.0.2: test listing", "127.0.0.4: test exploit"])
    );
    let txt = r["txt"].as_array().expect("txt");
    assert!(
        txt.iter()
            .any(|t| t == "Listed in bl.test, see https://bl.test/?ip=192.0.2.5"),
        "{txt:?}"
    );
    assert!(txt.iter().any(|t| t == "Exploited"), "{txt:?}");
    assert_eq!(r["delist_url"], "https://bl.test/lookup?ip=192.0.2.5");
    assert_eq!(r["query"], "5.2.0.192.bl.test.");
    assert_eq!(r["policy"], "block");
    assert_eq!(health(&doc, "bl"), "ok");
}

#[test]
fn address_not_listed_is_clear_and_exits_zero() {
    let lab = Lab::start();
    let run = lab.check(&["192.0.2.200", "--only", "bl", "--format", "json"]);
    assert_eq!(run.code, 0, "{run:?}");
    let doc = run.json();
    assert_eq!(row(&doc, "bl")["status"], "clear");
    assert_eq!(doc["summary"]["clear"], 1);
    assert_eq!(doc["summary"]["listed"], 0);
}

#[test]
fn a_refusal_code_is_refused_never_listed_and_the_target_is_unknown() {
    let lab = Lab::start();
    let run = lab.check(&["192.0.2.5", "--only", "ref", "--format", "json"]);
    assert_eq!(run.code, 3, "no definite answer: {run:?}");
    let doc = run.json();
    let r = row(&doc, "ref");
    assert_eq!(r["status"], "refused");
    assert_eq!(r["codes"], serde_json::json!(["127.255.255.254"]));
    assert!(
        r["detail"]
            .as_str()
            .expect("detail")
            .contains("public resolver refused"),
        "{r}"
    );
    assert_eq!(health(&doc, "ref"), "ok");
    assert_eq!(
        doc["summary"]["unanswered_targets"],
        serde_json::json!(["192.0.2.5"])
    );
}

#[test]
fn dns_refused_is_refused_and_the_list_is_unhealthy() {
    // rbldnsd answers REFUSED for a zone it does not serve.
    let lab = Lab::start();
    let run = lab.check(&["192.0.2.5", "--only", "missing", "--format", "json"]);
    assert_eq!(run.code, 3, "{run:?}");
    let doc = run.json();
    assert_eq!(row(&doc, "missing")["status"], "refused");
    assert_eq!(health(&doc, "missing"), "refused");
}

#[test]
fn answers_outside_loopback_and_unknown_codes_are_bogus() {
    let lab = Lab::start();
    let doc = lab
        .check(&[
            "192.0.2.5",
            "--only",
            "bogus",
            "--format",
            "json",
            "--no-verify",
        ])
        .json();
    let r = row(&doc, "bogus");
    assert_eq!(r["status"], "bogus");
    assert!(
        r["detail"]
            .as_str()
            .expect("detail")
            .contains("outside 127.0.0.0/8"),
        "{r}"
    );

    let run = lab.check(&["198.51.100.9", "--only", "bl", "--format", "json"]);
    assert_eq!(run.code, 3, "{run:?}");
    let r = row(&run.json(), "bl").clone();
    assert_eq!(r["status"], "bogus");
    assert!(
        r["detail"].as_str().expect("detail").contains("127.0.0.99"),
        "{r}"
    );
}

#[test]
fn a_list_that_fails_its_test_points_is_not_believed() {
    let lab = Lab::start();
    let doc = lab
        .check(&["192.0.2.5", "--only", "dead,world", "--format", "json"])
        .json();
    assert_eq!(health(&doc, "dead"), "dead");
    assert_eq!(health(&doc, "world"), "wildcard");
    for list in ["dead", "world"] {
        let r = row(&doc, list);
        assert_eq!(r["status"], "unhealthy", "{r}");
        assert!(
            r["detail"]
                .as_str()
                .expect("detail")
                .contains("not believed"),
            "{r}"
        );
    }
    assert_eq!(doc["summary"]["exit_code"], 3);

    // Without the health check the answers are taken as they come.
    let run = lab.check(&[
        "192.0.2.5",
        "--only",
        "dead,world",
        "--format",
        "json",
        "--no-verify",
    ]);
    assert_eq!(run.code, 1, "{run:?}");
    let doc = run.json();
    assert_eq!(row(&doc, "dead")["status"], "listed");
    assert_eq!(health(&doc, "dead"), "unchecked");
}

#[test]
fn servfail_and_silence_are_errors_and_the_lists_unreachable() {
    let server = FakeDns::start(|name| {
        if name.ends_with("sf.test") {
            Reply::ServFail
        } else {
            Reply::Silent
        }
    });
    let dir = shared_dir();
    let catalog = write_file(
        dir.path(),
        "lists.toml",
        &[
            entry("sf", "sf.test", "\"ipv4\"", CODES),
            entry("quiet", "quiet.test", "\"ipv4\"", CODES),
        ]
        .concat(),
    );
    let run = rblwatch(
        &[
            "--lists",
            &catalog.to_string_lossy(),
            "check",
            "192.0.2.5",
            "--nameserver",
            &server.addr(),
            "--timeout",
            "0.3",
            "--attempts",
            "1",
            "--format",
            "json",
        ],
        &[],
    );
    assert_eq!(run.code, 3, "{run:?}");
    let doc = run.json();
    let sf = row(&doc, "sf");
    assert_eq!(sf["status"], "error");
    assert!(
        sf["detail"].as_str().expect("detail").contains("SERVFAIL")
            || sf["detail"]
                .as_str()
                .expect("detail")
                .contains("Server Failure"),
        "{sf}"
    );
    let quiet = row(&doc, "quiet");
    assert_eq!(quiet["status"], "error");
    assert_eq!(quiet["detail"], "timed out");
    assert_eq!(health(&doc, "sf"), "unreachable");
    assert_eq!(health(&doc, "quiet"), "unreachable");
}

#[test]
fn ipv6_addresses_are_asked_as_nibbles_and_mapped_addresses_as_ipv4() {
    let lab = Lab::start();
    let run = lab.check(&["2001:db8::1", "--only", "bl,bl6", "--format", "json"]);
    assert_eq!(run.code, 1, "{run:?}");
    let doc = run.json();
    // The IPv4-only list is not asked about an IPv6 address.
    assert!(rows(&doc, "bl").is_empty(), "{doc:#}");
    let r = row(&doc, "bl6");
    assert_eq!(r["status"], "listed");
    assert_eq!(
        r["query"],
        "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.bl6.test."
    );
    assert_eq!(r["txt"], serde_json::json!(["IPv6 listed 2001:db8::1"]));
    // The IPv6 list is healthy: its test entry is the raw mapped address ::ffff:7f00:2.
    assert_eq!(health(&doc, "bl6"), "ok");

    let doc = lab
        .check(&["::ffff:192.0.2.5", "--only", "bl,bl6", "--format", "json"])
        .json();
    let r = row(&doc, "bl");
    assert_eq!(r["address"], "192.0.2.5");
    assert_eq!(r["status"], "listed");
    assert!(
        rows(&doc, "bl6").is_empty(),
        "mapped address asked as IPv4 only: {doc:#}"
    );
}

#[test]
fn host_names_are_resolved_for_ip_lists_and_asked_of_domain_lists() {
    let lab = Lab::start();
    let run = lab.check(&["mail.spam.example", "--only", "bl,dom", "--format", "json"]);
    assert_eq!(run.code, 1, "{run:?}");
    let doc = run.json();
    assert_eq!(
        doc["targets"][0]["addresses"],
        serde_json::json!(["192.0.2.5"])
    );
    let bl = row(&doc, "bl");
    assert_eq!(bl["target"], "mail.spam.example");
    assert_eq!(bl["address"], "192.0.2.5");
    assert_eq!(bl["status"], "listed");
    let dom = row(&doc, "dom");
    // The list wants the registrable domain.
    assert_eq!(dom["query"], "spam.example.dom.test.");
    assert_eq!(dom["status"], "listed");
    assert_eq!(health(&doc, "dom"), "ok");

    // International names go out as punycode.
    let doc = lab
        .check(&["Bücher.example", "--only", "dom", "--format", "json"])
        .json();
    let dom = row(&doc, "dom");
    assert_eq!(dom["query"], "xn--bcher-kva.example.dom.test.");
    assert_eq!(dom["status"], "listed");

    // A name that does not resolve still gets its domain answers, and says why it has no address.
    let doc = lab
        .check(&[
            "nowhere.example.test",
            "--only",
            "bl,dom",
            "--format",
            "json",
        ])
        .json();
    assert!(rows(&doc, "bl").is_empty());
    assert_eq!(row(&doc, "dom")["status"], "clear");
    assert!(
        doc["targets"][0]["error"]
            .as_str()
            .expect("error")
            .contains("NXDOMAIN"),
        "{doc:#}"
    );
}

#[test]
fn an_allowlist_hit_is_good_news_not_a_listing() {
    let lab = Lab::start();
    let run = lab.check(&["192.0.2.5", "--only", "wl", "--format", "json"]);
    assert_eq!(run.code, 0, "{run:?}");
    let doc = run.json();
    let r = row(&doc, "wl");
    assert_eq!(r["status"], "listed");
    assert_eq!(r["policy"], "allow");
    assert_eq!(doc["summary"]["allowlisted"], 1);
    assert_eq!(doc["summary"]["blocklisted"], 0);
    // The table calls it what it is.
    let table = lab.check(&["192.0.2.5", "--only", "wl"]);
    assert!(
        table
            .stdout
            .starts_with("ALLOWLISTED  192.0.2.5  wl  127.0.5.3: test allow"),
        "{}",
        table.stdout
    );
    assert!(
        !table.stdout.lines().any(|l| l.starts_with("LISTED")),
        "{}",
        table.stdout
    );
}

#[test]
fn an_unhealthy_list_row_says_why_not_what_a_listing_would_mean() {
    // world.test lists everything, its negative test point too: nothing it says is believed.
    let lab = Lab::start();
    let table = lab.check(&["192.0.2.5", "--only", "world"]);
    let row = table
        .stdout
        .lines()
        .find(|l| l.starts_with("UNHEALTHY"))
        .unwrap_or_else(|| panic!("{}", table.stdout));
    assert!(row.contains("not believed: list health wildcard"), "{row}");
    assert!(!row.contains("test listing"), "{row}");
}

#[test]
fn a_keyed_list_is_skipped_without_its_key_and_never_shows_the_key() {
    let lab = Lab::start();
    let run = lab.check(&["192.0.2.5", "--only", "keyed", "--format", "json"]);
    assert_eq!(run.code, 3, "{run:?}");
    let doc = run.json();
    assert!(rows(&doc, "keyed").is_empty());
    let notes = doc["notes"].to_string();
    assert!(
        notes.contains("keyed skipped") && notes.contains("$TEST_RBL_KEY"),
        "{notes}"
    );

    let run = lab.check_env(
        &["192.0.2.5", "--only", "keyed", "--format", "json"],
        &[("TEST_RBL_KEY", "abc123")],
    );
    assert_eq!(run.code, 1, "{run:?}");
    let doc = run.json();
    let r = row(&doc, "keyed");
    assert_eq!(r["status"], "listed");
    assert_eq!(r["query"], "5.2.0.192.{key}.keyed.test.");
    assert!(
        !run.stdout.contains("abc123"),
        "the key must not be printed: {}",
        run.stdout
    );
}

#[test]
fn every_address_of_a_range_is_checked_and_large_ranges_need_force() {
    let lab = Lab::start();
    let doc = lab
        .check(&["192.0.2.4/30", "--only", "bl", "--format", "json"])
        .json();
    let statuses: Vec<(String, String)> = rows(&doc, "bl")
        .iter()
        .map(|r| {
            (
                r["address"].as_str().unwrap_or("").to_string(),
                r["status"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    let expected: Vec<(String, String)> = [
        ("192.0.2.4", "clear"),
        ("192.0.2.5", "listed"),
        ("192.0.2.6", "clear"),
        ("192.0.2.7", "listed"),
    ]
    .iter()
    .map(|(a, s)| (a.to_string(), s.to_string()))
    .collect();
    assert_eq!(statuses, expected);

    let run = lab.check(&["192.0.2.0/23", "--only", "bl"]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(
        run.stderr.contains("192.0.2.0/23") && run.stderr.contains("--force"),
        "{}",
        run.stderr
    );
    let run = lab.check(&[
        "192.0.2.0/23",
        "--only",
        "bl",
        "--force",
        "--format",
        "json",
    ]);
    assert_eq!(run.code, 1, "{run:?}");
    assert_eq!(rows(&run.json(), "bl").len(), 512);
}

#[test]
fn all_queries_go_out_at_once_so_a_run_takes_as_long_as_the_slowest_list() {
    // Six lists, each answering after 400 ms: one after another would take 2.4 s or more.
    let server = FakeDns::start(|name| {
        let answer = if name.starts_with("2.0.0.127.") {
            Reply::A(vec!["127.0.0.2".parse().expect("ip")])
        } else {
            Reply::NxDomain
        };
        Reply::Delayed(std::time::Duration::from_millis(400), Box::new(answer))
    });
    let dir = shared_dir();
    let lists: Vec<String> = (1..=6)
        .map(|n| {
            entry(
                &format!("slow{n}"),
                &format!("slow{n}.test"),
                "\"ipv4\"",
                CODES,
            )
        })
        .collect();
    let catalog = write_file(dir.path(), "lists.toml", &lists.concat());
    let run = rblwatch(
        &[
            "--lists",
            &catalog.to_string_lossy(),
            "check",
            "192.0.2.1",
            "--nameserver",
            &server.addr(),
            "--format",
            "json",
        ],
        &[],
    );
    assert_eq!(run.code, 0, "{run:?}");
    let doc = run.json();
    assert_eq!(doc["summary"]["clear"], 6);
    let elapsed = doc["summary"]["elapsed_ms"].as_u64().expect("elapsed");
    assert!(
        (400..1600).contains(&elapsed),
        "took {elapsed} ms for 18 queries of 400 ms each"
    );
}

#[test]
fn bitmask_codes_are_decoded_bit_by_bit_and_bit_one_is_a_refusal() {
    let lab = Lab::start();
    let run = lab.check(&[
        "phish.example",
        "blocked.example",
        "--only",
        "uri",
        "--format",
        "json",
    ]);
    let doc = run.json();
    let results = rows(&doc, "uri");
    let phish = results
        .iter()
        .find(|r| r["address"] == "phish.example")
        .expect("phish row");
    assert_eq!(phish["status"], "listed");
    assert_eq!(phish["codes"], serde_json::json!(["127.0.0.24"]));
    assert_eq!(
        phish["meanings"],
        serde_json::json!(["127.0.0.24: phishing", "127.0.0.24: malware"])
    );
    let blocked = results
        .iter()
        .find(|r| r["address"] == "blocked.example")
        .expect("blocked row");
    assert_eq!(blocked["status"], "refused");
    assert_eq!(health(&doc, "uri"), "ok");
}

#[test]
fn a_name_without_an_a_record_is_clear() {
    let lab = Lab::start();
    let run = lab.check(&["nodata.example", "--only", "gen", "--format", "json"]);
    assert_eq!(run.code, 0, "{run:?}");
    let doc = run.json();
    let r = row(&doc, "gen");
    assert_eq!(r["status"], "clear");
    assert_eq!(r["query"], "nodata.example.gen.test.");
}
