//! Local mirrors: an ip4set file read in-process answers exactly as rbldnsd serving it does.

use crate::support::rbldnsd::{Rbldnsd, SOA};
use crate::support::{CODES, entry, rblwatch, shared_dir, write_file};

const DATA: &str = "\
:127.0.0.2:Default for $
127.0.0.2
192.0.2.0/24 :127.0.0.4:Net listing $
192.0.2.5 :127.0.0.3:Host $
!192.0.2.99
192.0.2.128/25
!192.0.3.0/26
192.0.3.0/24 :127.0.0.3:
198.51.100.10-20
198.51.100.30-198.51.100.40 :127.0.0.4:Range
10.1
!10.1.2.3
10.1.3.0/30 :127.0.0.3:three
# a comment
";

#[test]
fn a_mirror_agrees_with_rbldnsd_on_the_same_file() {
    let dns = Rbldnsd::start(&[("m.test", "ip4set", &format!("{SOA}{DATA}"))]);
    let dir = shared_dir();
    write_file(dir.path(), "m.ip4set", DATA);
    let catalog = write_file(
        dir.path(),
        "lists.toml",
        &[
            entry("dns", "m.test", "\"ipv4\"", CODES),
            // The same data as a local file; the zone is never asked.
            entry(
                "mir",
                "mirror.test",
                "\"ipv4\"",
                &format!("{CODES}mirror = {{ file = \"m.ip4set\", format = \"ip4set\" }}\n"),
            ),
        ]
        .concat(),
    );
    let run = rblwatch(
        &[
            "--lists",
            &catalog.to_string_lossy(),
            "check",
            "192.0.2.0/23",
            "198.51.100.0/24",
            "10.1.0.0/22",
            "--force",
            "--nameserver",
            &dns.addr(),
            "--format",
            "json",
        ],
        &[],
    );
    assert_eq!(run.code, 1, "{}", run.stderr);
    let doc = run.json();
    let health: Vec<(String, String)> = doc["lists"]
        .as_array()
        .expect("lists")
        .iter()
        .map(|l| {
            (
                l["id"].as_str().unwrap_or_default().into(),
                l["health"].as_str().unwrap_or_default().into(),
            )
        })
        .collect();
    assert_eq!(
        health,
        [
            ("dns".to_string(), "ok".to_string()),
            ("mir".to_string(), "ok".to_string())
        ]
    );
    let results = doc["results"].as_array().expect("results");
    let of = |list: &str| -> Vec<(String, String, String, String)> {
        results
            .iter()
            .filter(|r| r["list"] == list)
            .map(|r| {
                (
                    r["address"].to_string(),
                    r["status"].to_string(),
                    r["codes"].to_string(),
                    r["txt"].to_string(),
                )
            })
            .collect()
    };
    let (served, mirrored) = (of("dns"), of("mir"));
    assert_eq!(served.len(), 512 + 256 + 1024);
    let differ: Vec<_> = served
        .iter()
        .zip(&mirrored)
        .filter(|(a, b)| a != b)
        .take(8)
        .collect();
    assert!(
        differ.is_empty(),
        "mirror answers differ from rbldnsd's (served, mirrored): {differ:#?}"
    );
    assert_eq!(mirrored.len(), served.len());
    let listed = served.iter().filter(|r| r.1 == "\"listed\"").count();
    assert!(
        listed > 500,
        "the data lists a good part of the range: {listed}"
    );
}
