//! Local mirrors: each data format read in-process answers exactly as rbldnsd serving the
//! same file does.

use crate::support::rbldnsd::{Rbldnsd, SOA};
use crate::support::{CODES, entry, rblwatch, shared_dir, write_file};

/// Serves `data` as `format` from rbldnsd and reads it as a mirror, asks both about
/// `targets`, and returns the (served, mirrored) rows and how many the served list listed.
fn both(format: &str, query: &str, data: &str, targets: &[&str]) -> usize {
    let dns = Rbldnsd::start(&[("m.test", format, &format!("{SOA}{data}"))]);
    let dir = shared_dir();
    write_file(dir.path(), "m.data", data);
    let mirror = format!("mirror = {{ file = \"m.data\", format = \"{format}\" }}\n");
    let catalog = write_file(
        dir.path(),
        "lists.toml",
        &[
            entry("dns", "m.test", query, CODES),
            // The same data as a local file; the zone is never asked.
            entry("mir", "mirror.test", query, &format!("{CODES}{mirror}")),
        ]
        .concat(),
    );
    let catalog = catalog.to_string_lossy();
    let addr = dns.addr();
    let mut args = vec!["--lists", &catalog, "check"];
    args.extend_from_slice(targets);
    args.extend_from_slice(&["--force", "--nameserver", &addr, "--format", "json"]);
    let run = rblwatch(&args, &[]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let doc = run.json();
    let health: Vec<String> = doc["lists"]
        .as_array()
        .expect("lists")
        .iter()
        .map(|l| format!("{} {}", l["id"], l["health"]))
        .collect();
    assert_eq!(health, ["\"dns\" \"ok\"", "\"mir\" \"ok\""]);
    let results = doc["results"].as_array().expect("results");
    let of = |list: &str| -> Vec<[String; 4]> {
        results
            .iter()
            .filter(|r| r["list"] == list)
            .map(|r| ["address", "status", "codes", "txt"].map(|field| r[field].to_string()))
            .collect()
    };
    let (served, mirrored) = (of("dns"), of("mir"));
    assert_eq!(mirrored.len(), served.len());
    let differ: Vec<_> = served
        .iter()
        .zip(&mirrored)
        .filter(|(a, b)| a != b)
        .take(8)
        .collect();
    assert!(
        differ.is_empty(),
        "{format}: mirror answers differ from rbldnsd's (served, mirrored): {differ:#?}"
    );
    let listed = served.iter().filter(|r| r[1] == "\"listed\"").count();
    let clear = served.iter().filter(|r| r[1] == "\"clear\"").count();
    assert!(clear > 0, "{format}: some answers are clear");
    listed
}

#[test]
fn an_ip4set_mirror_agrees_with_rbldnsd() {
    let data = "\
$1 see http://bl.test/
:2:Default for $
127.0.0.2
192.0.2.0/24 :127.0.0.4:Net listing $ $1$
192.0.2.5 :3:Host $$ $
!192.0.2.99
192.0.2.128/25
!192.0.3.0/26
192.0.3.0/24 :127.0.0.3:
198.51.100.10-20
198.51.100.30-198.51.100.40 :127.0.0.4:Range
10.1
!10.1.2.3
10.1.3.0/30 :127.0.0.3:three
10.2.1-3 ; a prefix range
# a comment
";
    let targets = [
        "192.0.2.0/23",
        "198.51.100.0/24",
        "10.1.0.0/22",
        "10.2.0.0/22",
    ];
    let listed = both("ip4set", "\"ipv4\"", data, &targets);
    assert!(
        listed > 1200,
        "the data lists a good part of the range: {listed}"
    );
}

#[test]
fn an_ip4trie_mirror_agrees_with_rbldnsd() {
    let data = "\
:127.0.0.2:trie $
127.0.0.2
10.0.0.0/8
10.1.0.0/20 :127.0.0.3:narrow $
!10.1.2.3
10.1.2.0/23 :4
10.1.4.0/22 :127.0.0.3:
10.1.9.64/26 :127.0.0.4:odd length
!10.1.9.96/27
";
    let targets = ["10.1.0.0/20", "10.2.0.0/24", "11.0.0.0/24"];
    let listed = both("ip4trie", "\"ipv4\"", data, &targets);
    assert!(
        listed > 4000,
        "the data lists a good part of the range: {listed}"
    );
}

#[test]
fn an_ip6trie_mirror_agrees_with_rbldnsd() {
    let data = "\
:127.0.0.2: Listed $
::ffff:7f00:2
2001:db8:c000/36
2001:db8:1:2 :127.0.0.3: smells $
2001:db8:1:3::/120 :127.0.0.4:
!2001:db8:1:3::80/122
";
    let targets = [
        "2001:db8:1:2::/120",
        "2001:db8:1:3::/120",
        "2001:db8:c000::/120",
        "2001:db8:d000::/120",
    ];
    let listed = both("ip6trie", "\"ipv6\"", data, &targets);
    assert_eq!(listed, 256 + 192 + 256);
}

#[test]
fn a_dnset_mirror_agrees_with_rbldnsd() {
    let data = "\
:127.0.0.2:Listed $
test
exact.example
www.exact.example :127.0.0.4:www $
*.under.example
.both.example :127.0.0.3:
!keep.both.example
";
    let targets = [
        "exact.example",
        "www.exact.example",
        "a.exact.example",
        "under.example",
        "x.under.example",
        "a.b.under.example",
        "both.example",
        "x.both.example",
        "keep.both.example",
        "y.keep.both.example",
        "other.example",
    ];
    let listed = both("dnset", "\"domain\"", data, &targets);
    assert!(listed >= 6, "{listed}");
}
