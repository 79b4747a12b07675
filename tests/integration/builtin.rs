//! Entries of the built-in catalog asked exactly as shipped, against a real rbldnsd serving
//! their real zone names on loopback: how each is asked, what its answers mean, where its
//! delisting link points, and the lists that are only read from a subscriber's mirror.

use crate::support::rbldnsd::{Rbldnsd, SOA};
use crate::support::{rblwatch, row, shared_dir, write_file};

/// Runs `rblwatch check ARGS... --nameserver DNS --timeout 2 --format json` on the built-in
/// catalog.
fn check(dns: &Rbldnsd, args: &[&str]) -> crate::support::Run {
    let server = dns.addr();
    let mut all = vec!["check"];
    all.extend_from_slice(args);
    all.extend_from_slice(&[
        "--nameserver",
        &server,
        "--timeout",
        "2",
        "--format",
        "json",
    ]);
    rblwatch(&all, &[])
}

#[test]
fn surbl_is_asked_with_the_full_host_name() {
    // SURBL lists a host below a registrable domain; asking the registrable domain misses it.
    let data = format!("{SOA}test.surbl.org :254:test\nmail.example.net :64:abused host\n");
    let dns = Rbldnsd::start(&[("multi.surbl.org", "dnset", &data)]);
    let run = check(&dns, &["mail.example.net", "--only", "surbl-multi"]);
    assert_eq!(run.code, 1, "{run:?}");
    let doc = run.json();
    let r = row(&doc, "surbl-multi");
    assert_eq!(r["status"], "listed");
    assert_eq!(r["query"], "mail.example.net.multi.surbl.org.");
    assert_eq!(
        r["meanings"],
        serde_json::json!(["127.0.0.64: ABUSE: spam and other abuse"])
    );
    // The registrable domain itself is not listed, and is not what was asked for the host.
    let run = check(&dns, &["example.net", "--only", "surbl-multi"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(row(&run.json(), "surbl-multi")["status"], "clear");
}

#[test]
fn delisting_links_carry_the_address_where_the_list_page_takes_it() {
    let data = format!("{SOA}127.0.0.2\n192.0.2.9\n");
    let dns = Rbldnsd::start(&[
        ("bl.spamcop.net", "ip4set", &data),
        ("psbl.surriel.com", "ip4set", &data),
    ]);
    let run = check(&dns, &["192.0.2.9", "--only", "spamcop,psbl"]);
    assert_eq!(run.code, 1, "{run:?}");
    let doc = run.json();
    assert_eq!(
        row(&doc, "spamcop")["delist_url"],
        "https://www.spamcop.net/bl.shtml?192.0.2.9"
    );
    assert_eq!(
        row(&doc, "psbl")["delist_url"],
        "https://psbl.org/listing?ip=192.0.2.9"
    );
}

#[test]
fn blocklist_de_codes_name_the_attacked_service_and_unknown_ones_are_not_believed() {
    let data = format!("{SOA}127.0.0.2 :15:w00tw00t\n192.0.2.9 :14:ssh\n192.0.2.10 :99:new code\n");
    let dns = Rbldnsd::start(&[("bl.blocklist.de", "ip4set", &data)]);
    let run = check(&dns, &["192.0.2.9", "--only", "blocklist-de"]);
    assert_eq!(run.code, 1, "{run:?}");
    let doc = run.json();
    assert_eq!(
        row(&doc, "blocklist-de")["meanings"],
        serde_json::json!(["127.0.0.14: attacked SSH"])
    );
    let run = check(&dns, &["192.0.2.10", "--only", "blocklist-de"]);
    let doc = run.json();
    assert_ne!(row(&doc, "blocklist-de")["status"], "listed", "{doc:#}");
    assert_ne!(run.code, 1, "{run:?}");
}

#[test]
fn a_subscription_list_is_read_from_the_mirror_the_config_names_and_never_by_dns() {
    let dir = shared_dir();
    write_file(dir.path(), "ivmsip.ip4set", "127.0.0.2\n192.0.2.44\n");
    let config = write_file(
        dir.path(),
        "rblwatch.toml",
        "store = \"state.db\"\n[lists]\nonly = [\"invaluement-sip\"]\n\
         mirror.invaluement-sip = { file = \"ivmsip.ip4set\", format = \"ip4set\" }\n\
         [[target]]\naddress = \"192.0.2.44\"\n",
    );
    let config = config.to_string_lossy().into_owned();
    // A closed port as the resolver: any DNS query would time out into an error.
    let nowhere = format!("127.0.0.1:{}", crate::support::servers::free_tcp_port());
    let args = |target: &'static str| {
        vec![
            "--config",
            config.as_str(),
            "check",
            target,
            "--nameserver",
            nowhere.as_str(),
            "--timeout",
            "1",
            "--format",
            "json",
        ]
    };
    let run = rblwatch(&args("192.0.2.44"), &[]);
    assert_eq!(run.code, 1, "{run:?}");
    assert_eq!(row(&run.json(), "invaluement-sip")["status"], "listed");
    let run = rblwatch(&args("192.0.2.45"), &[]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(row(&run.json(), "invaluement-sip")["status"], "clear");

    // Without a mirror it is skipped with the line that says how to name one.
    let run = rblwatch(
        &[
            "check",
            "192.0.2.44",
            "--only",
            "invaluement-sip",
            "--nameserver",
            nowhere.as_str(),
        ],
        &[],
    );
    assert!(
        run.stdout
            .contains("invaluement-sip skipped: its data is sold by rsync only")
            && run.stdout.contains("[lists] mirror.invaluement-sip"),
        "{run:?}"
    );
    assert_eq!(run.code, 3, "nothing was checked: {run:?}");

    // A mirror for an unknown list, or in a format the list cannot use, is named in the config.
    let bad = write_file(
        dir.path(),
        "bad.toml",
        "[lists]\nmirror.nosuch = { file = \"x\", format = \"ip4set\" }\n\
         mirror.invaluement-uri = { file = \"x\", format = \"ip4set\" }\n\
         [[target]]\naddress = \"192.0.2.1\"\n",
    );
    let bad = bad.to_string_lossy().into_owned();
    let run = rblwatch(&["--config", &bad, "config", "check"], &[]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(
        run.stderr.contains("mirror for unknown list `nosuch`"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("an ip4set mirror answers ipv4 queries, and the list serves none"),
        "{}",
        run.stderr
    );
}
