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

/// ip4set data with every feature: variables, values, exclusions, ranges, prefixes.
const IP4SET_DATA: &str = "\
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

#[test]
fn an_ip4set_mirror_agrees_with_rbldnsd() {
    let data = IP4SET_DATA;
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

/// Runs `check` twice on a catalog of mirrored lists, answered from the mirrors alone (the
/// scan) and through the general engine (`RBLWATCH_NO_SCAN`); returns (scan, general) with
/// the timings taken out, and whether the first run said it was a scan.
fn scan_and_general(catalog: &str, args: &[&str]) -> ((i32, String), (i32, String), bool) {
    let mut all = vec![
        "--lists",
        catalog,
        "check",
        "--force",
        "--nameserver",
        "127.0.0.1:9",
    ];
    all.extend_from_slice(args);
    let debug = [("RUST_LOG", "rblwatch=debug")];
    let scan = rblwatch(&all, &debug);
    let general = rblwatch(&all, &[debug[0], ("RBLWATCH_NO_SCAN", "1")]);
    assert!(
        !general.stderr.contains("answered from local mirrors alone"),
        "{general:?}"
    );
    let scanned = scan.stderr.contains("answered from local mirrors alone");
    let timeless = |text: &str| -> String {
        let mut out = String::new();
        for line in text.lines() {
            let line = match line.find("\"elapsed_ms\":") {
                Some(_) if line.starts_with("\"summary\"") => line
                    .split(',')
                    .filter(|f| !f.starts_with("\"elapsed_ms\""))
                    .collect::<Vec<_>>()
                    .join(","),
                _ => line.to_string(),
            };
            // Nagios perfdata `time=...s`, the table's `in 0.03 s`.
            let line = match (line.find(" time="), line.rfind(" in ")) {
                (Some(at), _) => line[..at].to_string(),
                (None, Some(at)) if line.ends_with(" s") => line[..at].to_string(),
                _ => line,
            };
            out.push_str(&line);
            out.push('\n');
        }
        out
    };
    (
        (scan.code, timeless(&scan.stdout)),
        (general.code, timeless(&general.stdout)),
        scanned,
    )
}

#[test]
fn mirror_only_work_answers_as_the_general_engine_does() {
    let dir = shared_dir();
    write_file(dir.path(), "a.data", IP4SET_DATA);
    write_file(
        dir.path(),
        "b.data",
        ":127.0.0.2:trie $\n127.0.0.2/32\n192.0.2.0/25\n!192.0.2.7/32\n198.51.100.64/26 :127.0.0.3:\n",
    );
    write_file(
        dir.path(),
        "w.data",
        "127.0.0.2\n192.0.2.200 :127.0.0.2:known good\n",
    );
    let mirror = |file: &str, format: &str| {
        format!("mirror = {{ file = \"{file}\", format = \"{format}\" }}\n")
    };
    let allow =
        "policy = \"allow\"\ncodes = [ { code = \"127.0.0.2\", meaning = \"test allow\" } ]\n";
    let catalog = write_file(
        dir.path(),
        "lists.toml",
        &[
            entry(
                "a",
                "a.test",
                "\"ipv4\"",
                &format!("{CODES}{}", mirror("a.data", "ip4set")),
            ),
            entry(
                "b",
                "b.test",
                "\"ipv4\"",
                &format!("{CODES}{}", mirror("b.data", "ip4trie")),
            ),
            entry(
                "w",
                "w.test",
                "\"ipv4\"",
                &format!("{allow}{}", mirror("w.data", "ip4set")),
            ),
        ]
        .concat(),
    );
    let catalog = catalog.to_string_lossy();
    // A range, an address inside it (its own target), and ranges the data lists in part.
    let targets = [
        "192.0.2.0/23",
        "192.0.2.5",
        "198.51.100.0/24",
        "10.1.0.0/22",
    ];
    for format in [
        vec!["--format", "json"],
        vec!["--format", "nagios"],
        vec!["--format", "table"],
        vec!["--format", "table", "--verbose"],
    ] {
        let args: Vec<&str> = targets
            .iter()
            .copied()
            .chain(format.iter().copied())
            .collect();
        let (scan, general, scanned) = scan_and_general(&catalog, &args);
        assert!(scanned, "{format:?}: mirror-only work is scanned");
        // Listed: 1, or the Nagios CRITICAL.
        let listed = if format[1] == "nagios" { 2 } else { 1 };
        assert_eq!(scan.0, listed, "{format:?}");
        assert_eq!(scan.0, general.0, "{format:?}");
        let differ = scan.1.lines().zip(general.1.lines()).find(|(a, b)| a != b);
        assert_eq!(differ, None, "{format:?}: (scan, general)");
        assert_eq!(scan.1.len(), general.1.len(), "{format:?}");
    }
    // The JSON holds every pair, listings with their TXT, and the allowlist hit.
    let run = rblwatch(
        &[
            &[
                "--lists",
                &catalog,
                "check",
                "--force",
                "--nameserver",
                "127.0.0.1:9",
                "--format",
                "json",
            ][..],
            &targets[..],
        ]
        .concat(),
        &[],
    );
    let doc = run.json();
    let results = doc["results"].as_array().expect("results");
    assert_eq!(results.len(), (512 + 256 + 1024) * 3);
    let row = |address: &str, list: &str| {
        results
            .iter()
            .find(|r| r["address"] == address && r["list"] == list)
            .unwrap_or_else(|| panic!("{address} on {list}"))
            .clone()
    };
    assert_eq!(row("192.0.2.5", "a")["target"], "192.0.2.5");
    assert_eq!(row("192.0.2.5", "a")["txt"][0], "Host $ 192.0.2.5");
    assert_eq!(row("192.0.2.7", "b")["status"], "clear");
    assert_eq!(row("192.0.2.6", "b")["txt"][0], "trie 192.0.2.6");
    assert_eq!(row("192.0.2.200", "w")["status"], "listed");
    assert_eq!(
        row("10.1.2.4", "a")["delist_url"],
        "https://a.test/lookup?ip=10.1.2.4"
    );
}

#[test]
fn an_unhealthy_mirror_is_shown_as_the_general_engine_shows_it() {
    let dir = shared_dir();
    // No 127.0.0.2: the list fails its test point and is not believed.
    write_file(dir.path(), "a.data", "192.0.2.0/24\n");
    let catalog = write_file(
        dir.path(),
        "lists.toml",
        &entry(
            "a",
            "a.test",
            "\"ipv4\"",
            &format!("{CODES}mirror = {{ file = \"a.data\", format = \"ip4set\" }}\n"),
        ),
    );
    let catalog = catalog.to_string_lossy();
    let (scan, general, scanned) =
        scan_and_general(&catalog, &["192.0.2.0/25", "--format", "json"]);
    assert!(!scanned, "an unhealthy list takes the general way");
    assert_eq!(scan, general);
    assert!(scan.1.contains("\"status\":\"unhealthy\""), "{}", scan.1);
}
