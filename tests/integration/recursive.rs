//! `--nameserver recursive`: no resolver; each list zone's servers are found from the root
//! and asked directly. A root, a TLD and the list zones run on loopback addresses of their
//! own, all on one port: two hand-written authoritative servers and a real rbldnsd.

use std::net::Ipv4Addr;

use crate::support::auth_dns::{Auth, AuthDns};
use crate::support::rbldnsd::{Rbldnsd, SOA, free_port};
use crate::support::{CODES, Run, entry, rblwatch, rows, shared_dir, write_file};

const ROOT: Ipv4Addr = Ipv4Addr::new(127, 0, 1, 1);
const TLD: Ipv4Addr = Ipv4Addr::new(127, 0, 1, 2);
const LISTS: Ipv4Addr = Ipv4Addr::new(127, 0, 1, 3);
const DEEP: Ipv4Addr = Ipv4Addr::new(127, 0, 1, 4);

struct Lab {
    root: AuthDns,
    _tld: AuthDns,
    _deep: AuthDns,
    lists: Rbldnsd,
    port: u16,
    catalog: tempfile::TempDir,
}

fn under(name: &str, zone: &str) -> bool {
    name == zone || name.ends_with(&format!(".{zone}"))
}

impl Lab {
    fn start() -> Lab {
        let port = free_port();
        let root = AuthDns::start(ROOT, port, |name, _| {
            if under(name, "test") || under(name, "arpa") {
                let zone = if under(name, "test") { "test" } else { "arpa" };
                Auth::Referral(zone.into(), vec![("ns1.test".into(), Some(TLD))])
            } else {
                Auth::NxDomain
            }
        });
        let tld = AuthDns::start(TLD, port, |name, qtype| match name {
            n if under(n, "bl.test") => {
                Auth::Referral("bl.test".into(), vec![("ns.bl.test".into(), Some(LISTS))])
            }
            // A delegation without glue: the server's name is resolved first.
            n if under(n, "gl.test") => {
                Auth::Referral("gl.test".into(), vec![("ns.host.test".into(), None)])
            }
            // A delegation back to this same server: a referral loop.
            n if under(n, "loop.test") => {
                Auth::Referral("loop.test".into(), vec![("ns1.test".into(), Some(TLD))])
            }
            n if under(n, "deep.test") => Auth::Referral(
                "deep.test".into(),
                vec![("ns.deep.test".into(), Some(DEEP))],
            ),
            "ns.host.test" => Auth::A(vec![LISTS]),
            "mail.host.test" if qtype == 1 => Auth::A(vec![Ipv4Addr::new(192, 0, 2, 5)]),
            "mail.host.test" => Auth::NoData,
            "5.2.0.192.in-addr.arpa" => Auth::Ptr("mail.host.test".into()),
            "test" | "host.test" => Auth::NoData,
            _ => Auth::NxDomain,
        });
        // A zone whose server refers every name below its apex further down: never an answer.
        let deep = AuthDns::start(DEEP, port, |name, _| {
            if name == "deep.test" {
                Auth::NoData
            } else {
                Auth::Referral(
                    "sub.deep.test".into(),
                    vec![("ns.sub.deep.test".into(), Some(Ipv4Addr::new(127, 0, 1, 5)))],
                )
            }
        });
        let data = format!("{SOA}:127.0.0.2:Listed, see https://bl.test/$\n127.0.0.2\n192.0.2.5\n");
        let lists = Rbldnsd::start_on(
            &LISTS.to_string(),
            port,
            &[("bl.test", "ip4set", &data), ("gl.test", "ip4set", &data)],
        );
        let catalog = shared_dir();
        write_file(
            catalog.path(),
            "lists.toml",
            &[
                entry("bl", "bl.test", "\"ipv4\"", CODES),
                entry("gl", "gl.test", "\"ipv4\"", CODES),
                entry("deep", "deep.test", "\"ipv4\"", CODES),
                entry("loop", "loop.test", "\"ipv4\"", CODES),
            ]
            .concat(),
        );
        Lab {
            root,
            _tld: tld,
            _deep: deep,
            lists,
            port,
            catalog,
        }
    }

    fn check(&self, args: &[&str]) -> Run {
        let catalog = self.catalog.path().join("lists.toml");
        let catalog = catalog.to_string_lossy().into_owned();
        let hint = format!("{ROOT}:{}", self.port);
        let mut all = vec![
            "--lists",
            catalog.as_str(),
            "check",
            "--nameserver",
            "recursive",
            "--root-hint",
            hint.as_str(),
            "--timeout",
            "1",
        ];
        all.extend_from_slice(args);
        rblwatch(&all, &[])
    }
}

fn status<'a>(doc: &'a serde_json::Value, list: &str, address: &str) -> &'a serde_json::Value {
    let row = rows(doc, list)
        .into_iter()
        .find(|r| r["address"] == address)
        .unwrap_or_else(|| panic!("no row for {address} on {list}: {doc:#}"));
    &row["status"]
}

#[test]
fn recursive_mode_finds_each_zones_servers_from_the_root_and_asks_them() {
    let lab = Lab::start();
    let run = lab.check(&[
        "192.0.2.5",
        "192.0.2.6",
        "mail.host.test",
        "--format",
        "json",
    ]);
    assert_eq!(run.code, 1, "{run:?}");
    let doc = run.json();
    assert_eq!(doc["resolvers"], serde_json::json!(["recursive"]));
    for list in ["bl", "gl"] {
        assert_eq!(status(&doc, list, "192.0.2.5"), "listed", "{list}");
        assert_eq!(status(&doc, list, "192.0.2.6"), "clear", "{list}");
        let health = doc["lists"]
            .as_array()
            .expect("lists")
            .iter()
            .find(|l| l["id"] == list)
            .expect("health");
        assert_eq!(health["health"], "ok", "{health}");
    }
    // The host name was resolved from the root too.
    assert_eq!(
        doc["targets"][2]["addresses"],
        serde_json::json!(["192.0.2.5"]),
        "{doc:#}"
    );
    let txt = rows(&doc, "bl")
        .into_iter()
        .find(|r| r["address"] == "192.0.2.5")
        .map(|r| r["txt"].clone())
        .expect("row");
    assert_eq!(
        txt,
        serde_json::json!(["Listed, see https://bl.test/192.0.2.5"])
    );
    // The root is asked only to find the zones, not once per query.
    assert!(
        lab.root.asked() <= 12,
        "the root was asked {} times",
        lab.root.asked()
    );
    drop(lab.lists);
}

#[test]
fn a_zone_whose_server_only_refers_further_is_never_clear() {
    let lab = Lab::start();
    let run = lab.check(&["192.0.2.6", "--only", "deep", "--format", "json"]);
    assert_eq!(run.code, 3, "{run:?}");
    let doc = run.json();
    let row = &rows(&doc, "deep")[0];
    assert_ne!(row["status"], "clear", "{row}");
    let health = doc["lists"][0]["detail"].as_str().unwrap_or_default();
    assert!(health.contains("did not answer with authority"), "{doc:#}");
    // The same without the health check: the answer itself is an error.
    let run = lab.check(&[
        "192.0.2.6",
        "--only",
        "deep",
        "--no-verify",
        "--format",
        "json",
    ]);
    let doc = run.json();
    assert_eq!(rows(&doc, "deep")[0]["status"], "error", "{doc:#}");
}

#[test]
fn a_referral_loop_ends_as_unreachable_never_clear() {
    let lab = Lab::start();
    let run = lab.check(&["192.0.2.6", "--only", "loop", "--format", "json"]);
    assert_eq!(run.code, 3, "{run:?}");
    let doc = run.json();
    assert_eq!(doc["lists"][0]["health"], "unreachable", "{doc:#}");
    assert_ne!(rows(&doc, "loop")[0]["status"], "clear", "{doc:#}");
    assert!(
        lab.root.asked() <= 10,
        "the root was asked {} times",
        lab.root.asked()
    );
}

#[test]
fn recursive_mode_is_refused_beside_resolver_addresses() {
    let run = rblwatch(
        &[
            "check",
            "192.0.2.5",
            "--nameserver",
            "recursive",
            "--nameserver",
            "127.0.0.1",
        ],
        &[],
    );
    assert_eq!(run.code, 2, "{run:?}");
    assert!(
        run.stderr.contains("--nameserver recursive"),
        "{}",
        run.stderr
    );
    let run = rblwatch(&["check", "192.0.2.5", "--root-hint", "127.0.0.1"], &[]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(
        run.stderr.contains("is for --nameserver recursive"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_watch_can_run_recursively_from_its_config() {
    let lab = Lab::start();
    let catalog = lab.catalog.path().join("lists.toml");
    let config = write_file(
        lab.catalog.path(),
        "rblwatch.toml",
        &format!(
            "store = \"state.db\"\n[lists]\ncatalogs = [\"{}\"]\nonly = [\"bl\"]\n[resolver]\nnameservers = [\"recursive\"]\nroot_hints = [\"{ROOT}:{}\"]\ntimeout = 1\n[[target]]\naddress = \"192.0.2.5\"\n",
            catalog.display(),
            lab.port
        ),
    );
    let config = config.to_string_lossy().into_owned();
    let check = rblwatch(&["--config", &config, "config", "check"], &[]);
    assert!(
        check
            .stdout
            .contains(&format!("resolver: recursive, from {ROOT}:{}", lab.port)),
        "{check:?}"
    );
    let run = rblwatch(&["--config", &config, "run", "--format", "json"], &[]);
    assert_eq!(run.code, 1, "{run:?}");
    let doc = run.json();
    assert_eq!(doc["events"][0]["address"], "192.0.2.5", "{doc:#}");
    assert_eq!(doc["events"][0]["new_status"], "listed");

    // doctor says how it resolves, and reverse DNS is looked up from the root as well.
    let doctor = rblwatch(&["--config", &config, "doctor"], &[]);
    let has = |start: &str, fragment: &str| {
        doctor.stdout.lines().any(|l| {
            l.split_whitespace().take(3).collect::<Vec<_>>().join(" ") == start
                && l.contains(fragment)
        })
    };
    assert!(
        has(
            "OK resolver recursive",
            "each list zone's own servers are asked"
        ),
        "{doctor:?}"
    );
    assert!(
        has(
            "OK rdns 192.0.2.5",
            "PTR mail.host.test resolves back to it"
        ),
        "{doctor:?}"
    );
    assert!(has("OK list bl", "healthy"), "{doctor:?}");
}
