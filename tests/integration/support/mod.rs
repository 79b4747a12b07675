//! Helpers shared by the integration tests: the real binary, a real rbldnsd, an in-process
//! DNS server for answers rbldnsd cannot give, and catalog files.

pub(crate) mod auth_dns;
pub(crate) mod browser;
pub(crate) mod dns_server;
pub(crate) mod pg;
pub(crate) mod postfix;
pub(crate) mod raw_dns;
pub(crate) mod rbldnsd;
pub(crate) mod servers;
pub(crate) mod split_dns;

use std::path::{Path, PathBuf};
use std::process::Command;

/// What one run of the binary did.
#[derive(Debug)]
pub(crate) struct Run {
    pub(crate) code: i32,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

impl Run {
    /// The stdout parsed as JSON.
    #[track_caller]
    pub(crate) fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not JSON ({e}):\n{}\nstderr:\n{}",
                self.stdout, self.stderr
            )
        })
    }
}

/// Runs `rblwatch` with these arguments and environment additions; no key variables leak in.
pub(crate) fn rblwatch(args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_rblwatch"));
    cmd.args(args)
        .env_remove("RBLWATCH_SPAMHAUS_DQS_KEY")
        .env_remove("RBLWATCH_ABUSIX_KEY")
        .env_remove("RBLWATCH_CONFIG")
        .env_remove("RBLWATCH_NOW")
        .env("XDG_CONFIG_HOME", "/nonexistent/rblwatch-test-config")
        .env("XDG_DATA_HOME", "/nonexistent/rblwatch-test-data")
        .env("NO_COLOR", "1");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run the rblwatch binary");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Runs `rblwatch --lists CATALOG ARGS...` with a catalog of ordinary IPv4 test lists, each
/// `(id, zone)` with the usual codes.
pub(crate) fn with_lists(lists: &[(&str, &str)], args: &[&str]) -> Run {
    let dir = shared_dir();
    let text: String = lists
        .iter()
        .map(|(id, zone)| entry(id, zone, "\"ipv4\"", CODES))
        .collect();
    let catalog = write_file(dir.path(), "lists.toml", &text);
    let catalog = catalog.to_string_lossy().into_owned();
    let mut all = vec!["--lists", catalog.as_str()];
    all.extend_from_slice(args);
    rblwatch(&all, &[])
}

/// A temporary directory that other users (rbldnsd drops to `rbldns`) can read.
pub(crate) fn shared_dir() -> tempfile::TempDir {
    let dir = tempfile::Builder::new()
        .prefix("rblwatch-test")
        .tempdir()
        .expect("tempdir");
    set_mode(dir.path(), 0o755);
    dir
}

/// Writes `text` to `dir/name`, readable by everyone, and returns the path.
pub(crate) fn write_file(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write test file");
    set_mode(&path, 0o644);
    path
}

fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

/// One catalog entry for a test zone: id, zone, query kinds and extra TOML lines.
pub(crate) fn entry(id: &str, zone: &str, query: &str, extra: &str) -> String {
    format!(
        "[[list]]\nid = \"{id}\"\nname = \"Test {id}\"\nzone = \"{zone}\"\nquery = [{query}]\ndefault = true\n\
         sources = [\"test\"]\ndelist = {{ url = \"https://{zone}/lookup?ip={{address}}\", method = \"self-service\" }}\n{extra}\n"
    )
}

/// The ordinary codes of a test list: 127.0.0.2-11 listed, Spamhaus-style refusals.
pub(crate) const CODES: &str = r#"codes = [
  { code = "127.0.0.2", meaning = "test listing" },
  { code = "127.0.0.3", meaning = "test snowshoe" },
  { code = "127.0.0.4", meaning = "test exploit" },
]
refusals = [
  { code = "127.255.255.254", meaning = "public resolver refused" },
]
"#;

/// The zones of the standard lab, served by one rbldnsd.
pub(crate) fn lab_zones() -> Vec<(&'static str, &'static str, String)> {
    use rbldnsd::SOA;
    vec![
        // An ordinary list with RFC 5782 test entries; 192.0.2.5 carries two codes.
        (
            "bl.test",
            "ip4set",
            format!(
                "{SOA}:127.0.0.2:Listed in bl.test, see https://bl.test/?ip=$\n127.0.0.2\n192.0.2.5\n192.0.2.7 :127.0.0.3:Snowshoe $\n198.51.100.0/24 :127.0.0.99:Unknown code\n"
            ),
        ),
        (
            "bl.test",
            "ip4set",
            format!("{SOA}:127.0.0.4:Exploited\n192.0.2.5\n"),
        ),
        // IPv6: the RFC's mapped test entry and a /64.
        (
            "bl6.test",
            "ip6trie",
            format!("{SOA}:127.0.0.2:IPv6 listed $\n::ffff:7f00:2\n2001:db8::/64\n"),
        ),
        // Domains: RFC test entry, a listed domain and an IDN.
        (
            "dom.test",
            "dnset",
            format!("{SOA}:127.0.1.2:Domain listed\ntest\nspam.example\nxn--bcher-kva.example\n"),
        ),
        // A list with no test entry: dead.
        (
            "dead.test",
            "ip4set",
            format!("{SOA}:127.0.0.2:listed\n192.0.2.5\n"),
        ),
        // A list that lists the world.
        (
            "world.test",
            "ip4trie",
            format!("{SOA}:127.0.0.2:everything\n0.0.0.0/0\n"),
        ),
        // A list that refuses: test entries fine, real queries get the refusal code.
        (
            "ref.test",
            "ip4set",
            format!(
                "{SOA}:127.0.0.2:ok\n127.0.0.2\n192.0.2.0/24 :127.255.255.254:Query refused: public resolver\n"
            ),
        ),
        // A parked, hijacked zone: answers outside 127/8.
        (
            "bogus.test",
            "ip4trie",
            format!("{SOA}:10.0.0.1:parked\n0.0.0.0/0\n"),
        ),
        // An allowlist.
        (
            "wl.test",
            "ip4set",
            format!("{SOA}:127.0.10.0:good\n127.0.0.2\n192.0.2.5 :127.0.5.3:known good\n"),
        ),
        // A keyed list, served under the key `abc123`.
        (
            "abc123.keyed.test",
            "ip4set",
            format!("{SOA}:127.0.0.2:keyed\n127.0.0.2\n192.0.2.5\n"),
        ),
        // A bitmask list (SURBL-style): 127.0.0.24 = bits 8 and 16.
        (
            "uri.test",
            "dnset",
            format!(
                "{SOA}:127.0.0.2:test\ntest\nphish.example :127.0.0.24:phishing and malware\nblocked.example :127.0.0.1:blocked\n"
            ),
        ),
        // A zone where a name exists without an A record (NODATA).
        (
            "gen.test",
            "generic",
            "test A 127.0.0.2\nnodata.example TXT \"no address here\"\n".to_string(),
        ),
        // Host names.
        ("spam.example", "generic", "mail A 192.0.2.5\n".to_string()),
        (
            "example.test",
            "generic",
            "clean A 192.0.2.200\n".to_string(),
        ),
    ]
}

/// The catalog of the standard lab.
pub(crate) fn lab_catalog() -> String {
    let wl_codes = r#"policy = "allow"
codes = [ { code = "127.0.*.0-3", meaning = "test allow" } ]
refusals = [ { code = "127.0.*.255", meaning = "blocked" } ]"#;
    let dom_codes = r#"registrable_domain = true
codes = [ { code = "127.0.1.2", meaning = "spam domain" } ]
refusals = [ { code = "127.0.1.255", meaning = "IP against a domain list" } ]"#;
    [
        entry("bl", "bl.test", "\"ipv4\"", CODES),
        entry("bl6", "bl6.test", "\"ipv6\"", CODES),
        entry("dom", "dom.test", "\"domain\"", dom_codes),
        entry("dead", "dead.test", "\"ipv4\"", CODES),
        entry("world", "world.test", "\"ipv4\"", CODES),
        entry("ref", "ref.test", "\"ipv4\"", CODES),
        entry("bogus", "bogus.test", "\"ipv4\"", CODES),
        entry("missing", "missing.test", "\"ipv4\"", CODES),
        entry("wl", "wl.test", "\"ipv4\"", wl_codes),
        entry(
            "uri",
            "uri.test",
            "\"domain\"",
            r#"codes = [
  { code = "127.0.0.*", bits = 2, meaning = "black" },
  { code = "127.0.0.*", bits = 8, meaning = "phishing" },
  { code = "127.0.0.*", bits = 16, meaning = "malware" },
]
refusals = [ { code = "127.0.0.*", bits = 1, meaning = "query blocked" } ]"#,
        ),
        entry("gen", "gen.test", "\"domain\"", CODES),
        entry(
            "keyed",
            "{key}.keyed.test",
            "\"ipv4\"",
            &format!("{CODES}access = \"key\"\nkey_env = \"TEST_RBL_KEY\""),
        )
        .replace("default = true\n", ""),
    ]
    .concat()
}

/// A running lab: rbldnsd with the standard zones and the catalog file naming them.
pub(crate) struct Lab {
    pub(crate) dns: rbldnsd::Rbldnsd,
    pub(crate) catalog: PathBuf,
    _dir: tempfile::TempDir,
}

impl Lab {
    pub(crate) fn start() -> Lab {
        let zones = lab_zones();
        let borrowed: Vec<(&str, &str, &str)> =
            zones.iter().map(|(z, k, t)| (*z, *k, t.as_str())).collect();
        let dns = rbldnsd::Rbldnsd::start(&borrowed);
        let dir = shared_dir();
        let catalog = write_file(dir.path(), "lists.toml", &lab_catalog());
        Lab {
            dns,
            catalog,
            _dir: dir,
        }
    }

    /// Runs `rblwatch --lists LAB check --nameserver LAB ARGS...`.
    pub(crate) fn check(&self, args: &[&str]) -> Run {
        self.check_env(args, &[])
    }

    /// As `check`, with environment additions.
    pub(crate) fn check_env(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        self.run(&["check"], args, env)
    }

    /// Runs `rblwatch --lists LAB COMMAND... --nameserver LAB --timeout 2 ARGS...`.
    pub(crate) fn run(&self, command: &[&str], args: &[&str], env: &[(&str, &str)]) -> Run {
        let catalog = self.catalog.to_string_lossy().into_owned();
        let server = self.dns.addr();
        let mut all = vec!["--lists", catalog.as_str()];
        all.extend_from_slice(command);
        all.extend_from_slice(&["--nameserver", server.as_str(), "--timeout", "2"]);
        all.extend_from_slice(args);
        rblwatch(&all, env)
    }
}

/// The result rows of a JSON run for one list.
pub(crate) fn rows<'a>(doc: &'a serde_json::Value, list: &str) -> Vec<&'a serde_json::Value> {
    doc["results"]
        .as_array()
        .expect("results array")
        .iter()
        .filter(|r| r["list"] == list)
        .collect()
}

/// The one result row of a JSON run for one list.
#[track_caller]
pub(crate) fn row<'a>(doc: &'a serde_json::Value, list: &str) -> &'a serde_json::Value {
    let found = rows(doc, list);
    assert_eq!(found.len(), 1, "one row for {list}: {doc:#}");
    found[0]
}

/// The ids of the lists a check's JSON report names, in its order.
pub(crate) fn list_ids(doc: &serde_json::Value) -> Vec<&str> {
    doc["lists"]
        .as_array()
        .expect("lists array")
        .iter()
        .filter_map(|l| l["id"].as_str())
        .collect()
}

/// The health of one list in a JSON run.
#[track_caller]
pub(crate) fn health<'a>(doc: &'a serde_json::Value, list: &str) -> &'a str {
    doc["lists"]
        .as_array()
        .expect("lists array")
        .iter()
        .find(|l| l["id"] == list)
        .and_then(|l| l["health"].as_str())
        .unwrap_or_else(|| panic!("no health for {list}: {doc:#}"))
}
