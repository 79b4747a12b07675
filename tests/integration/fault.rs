//! A resolver that fails every list the same way is named once, up front, in `check`'s
//! table, JSON and Nagios line and in `run`'s problems; the per-list rows are grouped.

use crate::support::raw_dns::{Act, RawDns};
use crate::support::{CODES, Run, entry, rblwatch, shared_dir, with_lists, write_file};

/// Three lists (a, b, c); returns the run of `rblwatch --lists CATALOG ARGS`.
fn with_three_lists(args: &[&str]) -> Run {
    with_lists(&[("a", "a.test"), ("b", "b.test"), ("c", "c.test")], args)
}

#[test]
fn a_resolver_answering_nxdomain_to_everything_is_named_once() {
    let dns = RawDns::start(|_| Act::NxDomain);
    let addr = dns.addr();
    let base = ["check", "192.0.2.5", "192.0.2.6", "--nameserver", &addr];

    let run = with_three_lists(&base);
    assert_eq!(run.code, 3, "{run:?}");
    let first = run.stdout.lines().next().unwrap_or_default();
    assert!(
        first.starts_with(&format!(
            "error: the resolver {addr} finds nothing (NXDOMAIN or an empty answer) at the RFC 5782 test point that every working list lists, for 3 of 3 lists"
        )),
        "{}",
        run.stdout
    );
    assert_eq!(
        run.stdout.matches("the resolver ").count(),
        1,
        "{}",
        run.stdout
    );
    for address in ["192.0.2.5", "192.0.2.6"] {
        let line =
            format!("NO ANSWER    {address}  3 list(s) not believed: the resolver's fault above");
        assert_eq!(run.stdout.matches(&line).count(), 1, "{}", run.stdout);
    }
    assert!(
        !run.stdout.lines().any(|l| l.starts_with("UNHEALTHY")),
        "rows are grouped, not repeated: {}",
        run.stdout
    );
    assert!(run.stdout.contains("rblwatch doctor"), "{}", run.stdout);

    let mut json = base.to_vec();
    json.extend(["--format", "json"]);
    let doc = with_three_lists(&json).json();
    assert_eq!(doc["resolver_fault"]["kind"], "no-listings", "{doc:#}");
    assert_eq!(
        doc["resolver_fault"]["lists"],
        serde_json::json!(["a", "b", "c"])
    );
    assert_eq!(
        doc["resolver_fault"]["resolver"],
        format!("the resolver {addr}")
    );

    let mut nagios = base.to_vec();
    nagios.extend(["--format", "nagios"]);
    let run = with_three_lists(&nagios);
    assert_eq!(run.code, 3);
    assert!(
        run.stdout
            .starts_with(&format!("RBL UNKNOWN - the resolver {addr} finds nothing")),
        "{}",
        run.stdout
    );
}

#[test]
fn a_silent_resolver_is_named_in_the_pass_problems() {
    let dns = RawDns::start(|_| Act::Silent);
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
    let config = write_file(
        dir.path(),
        "rblwatch.toml",
        &format!(
            "store = \"state.db\"\n[lists]\ncatalogs = [\"{}\"]\nonly = [\"a\", \"b\"]\n[resolver]\nnameservers = [\"{}\"]\ntimeout = 0.5\nattempts = 1\n[[target]]\naddress = \"192.0.2.5\"\n",
            catalog.display(),
            dns.addr()
        ),
    );
    let run = rblwatch(
        &[
            "--config",
            &config.to_string_lossy(),
            "run",
            "--format",
            "json",
        ],
        &[],
    );
    assert_eq!(run.code, 3, "{run:?}");
    let doc = run.json();
    let first = doc["problems"][0].as_str().unwrap_or_default();
    assert!(
        first.starts_with(&format!(
            "the resolver {} gives no answer for the test points of 2 of 2 lists",
            dns.addr()
        )),
        "{doc:#}"
    );
}
