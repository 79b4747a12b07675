//! Catalog files: every problem is refused with file, line, column and what is wrong.

use crate::support::{rblwatch, shared_dir, write_file};

const GOOD: &str = r#"[[list]]
id = "a"
name = "A"
zone = "a.test"
query = ["ipv4"]
sources = ["test"]
delist = { method = "automatic" }
codes = [ { code = "127.0.0.2", meaning = "m" } ]
"#;

/// Runs `rblwatch --lists FILE lists` on `text` and returns (exit code, stderr).
fn load(text: &str) -> (i32, String, String) {
    let dir = shared_dir();
    let path = write_file(dir.path(), "bad.toml", text);
    let path = path.to_string_lossy().into_owned();
    let run = rblwatch(&["--lists", &path, "lists"], &[]);
    (run.code, run.stderr, path)
}

#[track_caller]
fn refused(text: &str, place: &str, fragment: &str) {
    let (code, stderr, path) = load(text);
    assert_eq!(code, 2, "{stderr}");
    let expected = format!("rblwatch: {path}:{place}: ");
    assert!(
        stderr.starts_with(&expected),
        "want `{expected}`, got: {stderr}"
    );
    assert!(stderr.contains(fragment), "want `{fragment}` in: {stderr}");
}

#[test]
fn a_good_catalog_is_read() {
    let (code, stderr, _) = load(GOOD);
    assert_eq!(code, 0, "{stderr}");
}

#[test]
fn broken_toml_names_line_and_column() {
    refused("[[list]\nid = \"a\"\n", "1:8", "expected `]`");
    refused(
        &GOOD.replace("name = \"A\"", "name = \"A"),
        "3:10",
        "invalid basic string",
    );
}

#[test]
fn unknown_keys_are_refused() {
    refused(
        &format!("{GOOD}colour = \"red\"\n"),
        "9:1",
        "unknown field `colour`",
    );
    refused(
        &GOOD.replace("meaning = \"m\"", "meaning = \"m\", colour = 1"),
        "8:48",
        "unknown field `colour`",
    );
}

#[test]
fn bad_values_are_refused_where_they_stand() {
    refused(
        &GOOD.replace("127.0.0.2", "127.0.0.300"),
        "8:20",
        "`300` is not an octet",
    );
    refused(
        &GOOD.replace("127.0.0.2", "10.0.0.2"),
        "8:20",
        "outside 127.0.0.0/8",
    );
    refused(
        &GOOD.replace("[\"ipv4\"]", "[\"ipv5\"]"),
        "5:10",
        "unknown variant `ipv5`",
    );
    refused(
        &GOOD.replace("id = \"a\"", "id = \"Bad Id\""),
        "2:6",
        "lowercase letters",
    );
    refused(
        &GOOD.replace("sources = [\"test\"]\n", ""),
        "2:6",
        "no `sources`",
    );
    refused(
        &GOOD.replace("delist = { method = \"automatic\" }\n", ""),
        "2:6",
        "without `delist`",
    );
    // A delist link is put in mails and on the status page: only web addresses.
    for url in [
        "javascript:alert(1)",
        "data:text/html,x",
        "https://",
        "//evil.test/",
        "https://a.test/\\u0007",
    ] {
        refused(
            &GOOD.replace(
                "{ method = \"automatic\" }",
                &format!("{{ method = \"automatic\", url = \"{url}\" }}"),
            ),
            "7:10",
            "is not an http:// or https:// address",
        );
    }
    refused(
        &GOOD.replace(
            "zone = \"a.test\"",
            "zone = \"a.test\"\ndefault = true\naccess = \"key\"",
        ),
        "4:8",
        "needs a key",
    );
}

#[test]
fn duplicate_ids_and_zones_are_refused() {
    let twice = format!("{GOOD}{}", GOOD.replace("id = \"a\"", "id = \"b\""));
    refused(&twice, "12:8", "zone `a.test` is used by another list");
    let same_id = format!("{GOOD}{}", GOOD.replace("a.test", "b.test"));
    refused(&same_id, "10:6", "list id `a` is used twice");
}

#[test]
fn a_user_catalog_may_not_query_a_dead_zone() {
    refused(
        &GOOD.replace("a.test", "dnsbl.sorbs.net"),
        "4:9",
        "is dead (since 2024-06-05",
    );
}

#[test]
fn an_unreadable_catalog_names_the_file() {
    let run = rblwatch(&["--lists", "/nonexistent/lists.toml", "lists"], &[]);
    assert_eq!(run.code, 2);
    assert_eq!(
        run.stderr.trim(),
        "rblwatch: /nonexistent/lists.toml: No such file or directory (os error 2)"
    );
}

#[test]
fn defunct_and_unknown_lists_are_refused_by_id() {
    let run = rblwatch(&["check", "192.0.2.1", "--only", "sorbs"], &[]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.starts_with("rblwatch: list `sorbs` (SORBS) is defunct since 2024-06-05: Proofpoint decommissioned SORBS"),
        "{}",
        run.stderr
    );
    let run = rblwatch(&["check", "192.0.2.1", "--enable", "nixspam"], &[]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("defunct since 2025-01-16"),
        "{}",
        run.stderr
    );
    let run = rblwatch(&["check", "192.0.2.1", "--disable", "no-such-list"], &[]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("unknown list `no-such-list`"),
        "{}",
        run.stderr
    );
}

#[test]
fn the_built_in_catalog_is_printed_with_its_dead_lists() {
    let run = rblwatch(&["lists"], &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let zen = run
        .stdout
        .lines()
        .find(|l| l.starts_with("spamhaus-zen "))
        .expect("zen row");
    assert!(
        zen.contains(" on ") && zen.contains("zen.spamhaus.org"),
        "{zen}"
    );
    let dead = run
        .stdout
        .split("Defunct lists")
        .nth(1)
        .expect("defunct section");
    assert!(
        dead.contains("sorbs") && dead.contains("since 2024-06-05"),
        "{dead}"
    );

    let run = rblwatch(&["lists", "--format", "json"], &[]);
    let doc: serde_json::Value = serde_json::from_str(&run.stdout).expect("json");
    let ahbl = doc
        .as_array()
        .expect("array")
        .iter()
        .find(|l| l["id"] == "ahbl")
        .expect("ahbl");
    assert!(
        ahbl["defunct"]
            .as_str()
            .expect("defunct")
            .contains("listing the world"),
        "{ahbl}"
    );
    assert_eq!(ahbl["default"], false);
}
