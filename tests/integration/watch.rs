//! The daily watch: `run` against a real rbldnsd whose data changes between passes, the store,
//! the lock, `status`, `history` and `prune`.
//!
//! These tests run twice: as `watch`, on a SQLite store, and as `watch_pg` (this same file),
//! on a PostgreSQL cluster started for each test.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::support::dns_server::{FakeDns, Reply};
use crate::support::rbldnsd::{Rbldnsd, SOA};
use crate::support::{CODES, Run, entry, rblwatch, shared_dir, write_file};

const CLEAN: &str = ":127.0.0.2:Listed by w.test: $\n127.0.0.2\n";

/// Whether these tests run on PostgreSQL (the `watch_pg` copy of this module).
fn on_postgres() -> bool {
    module_path!().ends_with("watch_pg")
}

/// The variable the PostgreSQL password is read from.
const PG_PASSWORD_ENV: &str = "RBLWATCH_TEST_PG_PASSWORD";

/// The store of a test: a SQLite file in its directory, or a PostgreSQL cluster of its own.
struct TestStore {
    pg: Option<crate::support::pg::Postgres>,
}

impl TestStore {
    fn start() -> TestStore {
        TestStore {
            pg: on_postgres().then(crate::support::pg::Postgres::start),
        }
    }

    /// The config's `store` line, and its `[postgres]` section.
    fn config(&self) -> String {
        match &self.pg {
            None => "store = \"state.db\"\n".into(),
            Some(pg) => format!(
                "store = \"{}\"\n[postgres]\npassword_env = \"{PG_PASSWORD_ENV}\"\n",
                pg.url("rblwatch")
            ),
        }
    }

    /// What every run needs in its environment.
    fn env(&self) -> Vec<(&'static str, &'static str)> {
        if self.pg.is_some() {
            vec![(PG_PASSWORD_ENV, crate::support::pg::PASSWORD)]
        } else {
            Vec::new()
        }
    }
}

/// rbldnsd serving `w.test`, a catalog with list `w`, and a config watching 192.0.2.5 (mx1)
/// and 192.0.2.6, with the store in a temporary directory (or on PostgreSQL).
pub(crate) struct Watch {
    dns: Rbldnsd,
    dir: tempfile::TempDir,
    config: PathBuf,
    store: TestStore,
}

impl Watch {
    pub(crate) fn start() -> Watch {
        let dns = Rbldnsd::start(&[("w.test", "ip4set", &format!("{SOA}{CLEAN}"))]);
        let dir = shared_dir();
        let catalog = write_file(
            dir.path(),
            "lists.toml",
            &entry("w", "w.test", "\"ipv4\"", CODES),
        );
        let store = TestStore::start();
        let config = write_file(
            dir.path(),
            "rblwatch.toml",
            &config_text(&catalog, &dns.addr(), &store),
        );
        Watch {
            dns,
            dir,
            config,
            store,
        }
    }

    /// Sets the data of w.test and waits until 192.0.2.5 answers as `listed` says.
    pub(crate) fn data(&self, lines: &str, listed: bool) {
        self.dns.rewrite(
            0,
            &format!("{SOA}{CLEAN}{lines}"),
            "5.2.0.192.w.test",
            listed,
        );
    }

    pub(crate) fn rblwatch(&self, args: &[&str]) -> Run {
        self.at(args, None)
    }

    /// Runs with the clock set to `now` (Unix seconds).
    pub(crate) fn at(&self, args: &[&str], now: Option<i64>) -> Run {
        let config = self.config.to_string_lossy().into_owned();
        let mut all = vec!["--config", config.as_str()];
        all.extend_from_slice(args);
        let now = now.map(|n| n.to_string());
        let mut env: Vec<(&str, &str)> = now.iter().map(|n| ("RBLWATCH_NOW", n.as_str())).collect();
        env.extend(self.store.env());
        rblwatch(&all, &env)
    }

    pub(crate) fn pass(&self) -> serde_json::Value {
        let run = self.rblwatch(&["run", "--format", "json"]);
        assert!(run.code == 0 || run.code == 1, "{run:?}");
        run.json()
    }

    pub(crate) fn store(&self) -> PathBuf {
        self.dir.path().join("state.db")
    }

    pub(crate) fn config(&self) -> &std::path::Path {
        &self.config
    }

    /// Replaces `from` with `to` in the config; `from` must be there, so that an edit that
    /// finds nothing to change fails the test instead of leaving the config as it was.
    pub(crate) fn edit_config(&self, from: &str, to: &str) {
        let config = std::fs::read_to_string(&self.config).expect("config");
        assert!(
            config.contains(from),
            "`{from}` is not in the config:\n{config}"
        );
        std::fs::write(&self.config, config.replace(from, to)).expect("config");
    }

    /// What a process run on this watch's config needs in its environment.
    pub(crate) fn env(&self) -> Vec<(&'static str, &'static str)> {
        self.store.env()
    }

    /// A client of the PostgreSQL store, when the watch is on one.
    #[allow(dead_code)] // used through the `watch_pg` copy only
    pub(crate) fn database(&self) -> Option<postgres::Client> {
        self.store.pg.as_ref().map(|pg| pg.client("rblwatch"))
    }
}

fn config_text(catalog: &std::path::Path, server: &str, store: &TestStore) -> String {
    format!(
        r#"{}[lists]
catalogs = ["{}"]
only = ["w"]
[resolver]
nameservers = ["{server}"]
timeout = 0.5
attempts = 1
[run]
problem_after = 2
[[target]]
address = "192.0.2.5"
label = "mx1"
contacts = ["postmaster@example.com"]
[[target]]
address = "192.0.2.6"
"#,
        store.config(),
        catalog.display()
    )
}

fn events(doc: &serde_json::Value) -> &Vec<serde_json::Value> {
    doc["events"].as_array().expect("events")
}

#[test]
fn a_listing_is_one_event_when_it_appears_and_one_when_it_goes() {
    let w = Watch::start();
    // First pass: both clear, nothing to report as a change.
    let doc = w.pass();
    assert!(events(&doc).is_empty(), "{doc:#}");
    assert_eq!(doc["run"]["counts"]["clear"], 2);

    w.data("192.0.2.5\n", true);
    let run = w.rblwatch(&["run", "--format", "json"]);
    assert_eq!(run.code, 1, "{run:?}");
    let doc = run.json();
    let evs = events(&doc);
    assert_eq!(evs.len(), 1, "{doc:#}");
    assert_eq!(evs[0]["address"], "192.0.2.5");
    assert_eq!(evs[0]["label"], "mx1");
    assert_eq!(evs[0]["old_status"], "clear");
    assert_eq!(evs[0]["new_status"], "listed");
    assert_eq!(evs[0]["codes"], serde_json::json!(["127.0.0.2"]));
    assert_eq!(
        evs[0]["txt"],
        serde_json::json!(["Listed by w.test: 192.0.2.5"])
    );
    assert_eq!(evs[0]["delist_url"], "https://w.test/lookup?ip=192.0.2.5");

    // Nothing changed: no event, still listed.
    let doc = w.pass();
    assert!(events(&doc).is_empty(), "{doc:#}");
    assert_eq!(doc["listed"].as_array().expect("listed").len(), 1);

    // A new code on the listed pair is an event too.
    w.data("192.0.2.5\n192.0.2.5 :127.0.0.4:Exploited\n", true);
    let doc = w.pass();
    let evs = events(&doc);
    assert_eq!(evs.len(), 1, "{doc:#}");
    assert_eq!(evs[0]["old_status"], "listed");
    assert_eq!(evs[0]["old_codes"], serde_json::json!(["127.0.0.2"]));

    // Gone: one event listed -> clear, exit 0.
    w.data("", false);
    let run = w.rblwatch(&["run", "--format", "json"]);
    assert_eq!(run.code, 0, "{run:?}");
    let doc = run.json();
    assert_eq!(events(&doc).len(), 1);
    assert_eq!(events(&doc)[0]["new_status"], "clear");

    // The log, newest first.
    let history = w.rblwatch(&["history", "--format", "json"]).json();
    let statuses: Vec<(String, String)> = events(&history)
        .iter()
        .map(|e| (e["old_status"].to_string(), e["new_status"].to_string()))
        .collect();
    assert_eq!(
        statuses,
        [
            ("\"listed\"".to_string(), "\"clear\"".to_string()),
            ("\"listed\"".to_string(), "\"listed\"".to_string()),
            ("\"clear\"".to_string(), "\"listed\"".to_string()),
        ]
    );
}

#[test]
fn refusals_and_timeouts_never_change_a_state_and_a_silent_list_is_a_problem() {
    let w = Watch::start();
    w.data("192.0.2.5\n", true);
    assert_eq!(events(&w.pass()).len(), 1);

    // The list now refuses queries for our addresses (its test points are still fine).
    w.data("192.0.2.0/24 :127.255.255.254:refused\n", true);
    let run = w.rblwatch(&["run", "--format", "json"]);
    assert_eq!(run.code, 1, "a stored listing stays a listing: {run:?}");
    let doc = run.json();
    assert!(events(&doc).is_empty(), "{doc:#}");
    assert_eq!(doc["run"]["unknown"]["refused from w"], 2);
    // Both targets were blind this pass (a problem at once); the list is not yet a problem.
    let problems = doc["run"]["problems"].to_string();
    assert!(
        problems.contains("target `192.0.2.6` could not be checked"),
        "{problems}"
    );
    assert!(!problems.contains("list `w`"), "{problems}");

    // Second pass without a definite answer: the list is reported as a problem.
    let doc = w.pass();
    assert!(events(&doc).is_empty());
    let problems = doc["problems"].to_string();
    assert!(
        problems.contains("list `w` has given no definite answer for 2 passes in a row"),
        "{problems}"
    );

    // The server goes silent: timeouts, still no event.
    let dead = crate::support::rbldnsd::free_port();
    let catalog = w.dir.path().join("lists.toml");
    std::fs::write(
        &w.config,
        config_text(&catalog, &format!("127.0.0.1:{dead}"), &w.store),
    )
    .expect("config");
    let doc = w.pass();
    assert!(events(&doc).is_empty(), "{doc:#}");
    assert_eq!(
        doc["run"]["counts"]["unhealthy"].as_u64().unwrap_or(0)
            + doc["run"]["counts"]["error"].as_u64().unwrap_or(0),
        2
    );
    assert!(doc["problems"].to_string().contains("3 passes"), "{doc:#}");

    let status = w.rblwatch(&["status", "--format", "json"]);
    assert_eq!(status.code, 1);
    let states = status.json()["states"].as_array().expect("states").clone();
    assert_eq!(states.len(), 1);
    assert_eq!(states[0]["status"], "listed");
    assert_eq!(
        states[0]["delist_url"],
        "https://w.test/lookup?ip=192.0.2.5"
    );
}

#[test]
fn quiet_prints_only_changes_and_status_tells_since_when() {
    let w = Watch::start();
    let day = 1_795_824_000; // 2026-11-28T00:00:00Z
    let run = w.at(&["run", "--quiet"], Some(day));
    assert_eq!((run.code, run.stdout.as_str()), (0, ""), "{run:?}");
    w.data("192.0.2.5\n", true);
    let run = w.at(&["run", "--quiet"], Some(day + 3600));
    assert_eq!(run.code, 1);
    assert!(
        run.stdout
            .starts_with("LISTED   192.0.2.5 (mx1)  w  was clear: 127.0.0.2: test listing"),
        "{}",
        run.stdout
    );
    let run = w.at(&["run", "--quiet"], Some(day + 7200));
    assert_eq!((run.code, run.stdout.as_str()), (1, ""));

    let status = w.rblwatch(&["status"]);
    assert!(
        status.stdout.starts_with(
            "LISTED   192.0.2.5 (mx1)  w  since 2026-11-28T01:00:00Z  127.0.0.2: test listing"
        ),
        "{}",
        status.stdout
    );
    assert!(
        status
            .stdout
            .contains("delist: https://w.test/lookup?ip=192.0.2.5")
    );
    let all = w.rblwatch(&["status", "--all"]);
    assert!(
        all.stdout
            .contains("CLEAR    192.0.2.6  w  since 2026-11-28T00:00:00Z"),
        "{}",
        all.stdout
    );

    // History filters.
    let only = |args: &[&str]| -> usize {
        let mut all = vec!["history", "--format", "json"];
        all.extend_from_slice(args);
        events(&w.rblwatch(&all).json()).len()
    };
    assert_eq!(only(&[]), 1);
    assert_eq!(only(&["--target", "mx1"]), 1);
    assert_eq!(only(&["--target", "192.0.2.6"]), 0);
    assert_eq!(only(&["--list", "w"]), 1);
    assert_eq!(only(&["--since", "2026-11-29"]), 0);
    assert_eq!(only(&["--since", "2026-11-28T00:30:00Z"]), 1);
    let bad = w.rblwatch(&["history", "--since", "last week"]);
    assert_eq!(bad.code, 2);
    assert!(
        bad.stderr
            .starts_with("rblwatch: --since last week: must be YYYY-MM-DD"),
        "{}",
        bad.stderr
    );

    // Prune: old pass rows go, events stay unless asked.
    let later = day + 100 * 86_400;
    let run = w.at(&["prune", "--older-than", "30d"], Some(later));
    assert_eq!(run.code, 0, "{run:?}");
    assert!(
        run.stdout
            .starts_with("deleted 3 pass record(s) older than"),
        "{}",
        run.stdout
    );
    assert_eq!(only(&[]), 1);
    let run = w.at(&["prune", "--older-than", "30", "--events"], Some(later));
    assert!(
        run.stdout
            .starts_with("deleted 0 pass record(s) and 1 event(s)"),
        "{}",
        run.stdout
    );
    assert_eq!(only(&[]), 0);
}

/// A FakeDns-backed watch whose answers can be slowed and flipped while passes run.
pub(crate) struct Slow {
    _server: FakeDns,
    pub(crate) delay_ms: Arc<AtomicU64>,
    pub(crate) listed: Arc<AtomicBool>,
    dir: tempfile::TempDir,
    pub(crate) config: PathBuf,
    store: TestStore,
}

impl Slow {
    pub(crate) fn start() -> Slow {
        let delay_ms = Arc::new(AtomicU64::new(0));
        let listed = Arc::new(AtomicBool::new(false));
        let (d, l) = (delay_ms.clone(), listed.clone());
        let server = FakeDns::start(move |name| {
            let hit = name.starts_with("2.0.0.127.")
                || (name.starts_with("5.2.0.192.") && l.load(Ordering::SeqCst));
            let reply = if hit {
                Reply::A(vec!["127.0.0.2".parse().expect("ip")])
            } else {
                Reply::NxDomain
            };
            Reply::Delayed(
                Duration::from_millis(d.load(Ordering::SeqCst)),
                Box::new(reply),
            )
        });
        let dir = shared_dir();
        let catalog = write_file(
            dir.path(),
            "lists.toml",
            &entry("w", "w.test", "\"ipv4\"", CODES),
        );
        let store = TestStore::start();
        let text =
            config_text(&catalog, &server.addr(), &store).replace("timeout = 0.5", "timeout = 10");
        let config = write_file(dir.path(), "rblwatch.toml", &text);
        Slow {
            _server: server,
            delay_ms,
            listed,
            dir,
            config,
            store,
        }
    }

    pub(crate) fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_rblwatch"));
        cmd.arg("--config")
            .arg(&self.config)
            .args(args)
            .env_remove("RBLWATCH_NOW")
            .envs(self.store.env());
        cmd
    }

    /// What a process run on this config needs in its environment.
    pub(crate) fn env(&self) -> Vec<(&'static str, &'static str)> {
        self.store.env()
    }

    pub(crate) fn run(&self, args: &[&str]) -> Run {
        let out = self.command(args).output().expect("run rblwatch");
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

#[test]
fn a_pass_killed_half_way_leaves_the_store_as_it_was() {
    let s = Slow::start();
    assert_eq!(s.run(&["run"]).code, 0);
    s.listed.store(true, Ordering::SeqCst);
    s.delay_ms.store(3000, Ordering::SeqCst);
    let mut child = s
        .command(&["run"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn a pass");
    std::thread::sleep(Duration::from_millis(800));
    child.kill().expect("SIGKILL the pass");
    let _ = child.wait();

    // Nothing of the killed pass is in the store.
    let history = s.run(&["history", "--format", "json"]);
    assert!(events(&history.json()).is_empty(), "{}", history.stdout);
    let states = s.run(&["status", "--all", "--format", "json"]).json();
    let listed = states["states"]
        .as_array()
        .expect("states")
        .iter()
        .filter(|st| st["status"] == "listed")
        .count();
    assert_eq!(listed, 0);

    // The next pass is not blocked by a stale lock and records the change once.
    s.delay_ms.store(0, Ordering::SeqCst);
    let run = s.run(&["run", "--format", "json"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert_eq!(events(&run.json()).len(), 1);
    assert_eq!(
        events(&s.run(&["history", "--format", "json"]).json()).len(),
        1
    );
    let _ = s.dir.path();
}

#[test]
fn two_passes_never_run_at_once() {
    let s = Slow::start();
    s.delay_ms.store(1500, Ordering::SeqCst);
    let first = s
        .command(&["run"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("first pass");
    std::thread::sleep(Duration::from_millis(400));

    let second = s.run(&["run"]);
    assert_eq!(second.code, 4, "{second:?}");
    assert!(
        second
            .stderr
            .starts_with("rblwatch: another rblwatch pass is running as pid "),
        "{}",
        second.stderr
    );
    assert!(second.stderr.contains("--wait"), "{}", second.stderr);

    let started = Instant::now();
    let waiting = s.run(&["run", "--wait"]);
    assert_eq!(waiting.code, 0, "{waiting:?}");
    // It waited for the first pass, then ran its own (1.5 s of answers or more).
    assert!(
        started.elapsed() >= Duration::from_millis(2000),
        "{:?}",
        started.elapsed()
    );
    let mut first = first;
    assert!(first.wait().expect("first pass").success());
}

#[test]
fn a_daily_limit_counts_every_pass_of_the_day() {
    let w = Watch::start();
    w.edit_config("only = [\"w\"]", "only = [\"w\"]\nlimits.w = { daily = 5 }");
    let day = 1_795_824_000; // 2026-11-28T00:00:00Z
    // Pass 1: two test points and two addresses, 4 of the 5.
    let first = w.at(&["run", "--format", "json"], Some(day + 60)).json();
    assert_eq!(first["run"]["counts"]["clear"], 2, "{first:#}");
    // Pass 2, same day: one query left, not enough for the test points; nothing is asked.
    let run = w.at(&["run", "--format", "json"], Some(day + 3600));
    assert!(run.stderr.contains("w: 4 queries would pass its limit of 5 a day (4 already sent today); only the first 1 are asked"), "{}", run.stderr);
    let second = run.json();
    assert_eq!(second["run"]["counts"]["clear"], 0, "{second:#}");
    assert_eq!(second["run"]["unknown"]["error from w"], 2, "{second:#}");
    // The next day the limit starts again.
    let third = w
        .at(&["run", "--format", "json"], Some(day + 86_400 + 60))
        .json();
    assert_eq!(third["run"]["counts"]["clear"], 2, "{third:#}");
}

#[test]
fn a_pass_that_could_not_see_is_not_a_clean_pass() {
    let w = Watch::start();
    let catalog = w.dir.path().join("lists.toml");
    // A resolver that is not there, and a host name that does not resolve.
    let dead = crate::support::rbldnsd::free_port();
    let blind = format!(
        "{}[[target]]\naddress = \"nowhere.invalid\"\n",
        config_text(&catalog, &format!("127.0.0.1:{dead}"), &w.store)
    );
    std::fs::write(&w.config, &blind).expect("config");
    let run = w.rblwatch(&["run", "--quiet"]);
    assert_eq!(run.code, 3, "{run:?}");
    for target in ["192.0.2.5", "192.0.2.6", "nowhere.invalid"] {
        assert!(
            run.stdout.contains(&format!(
                "problem: target `{target}` could not be checked: no list gave a definite answer this pass"
            )),
            "{target}: {}",
            run.stdout
        );
    }
    let doc = w.rblwatch(&["run", "--format", "json"]);
    assert_eq!(doc.code, 3);
    let problems = doc.json()["problems"].to_string();
    assert!(
        problems.contains("target `nowhere.invalid` could not be checked"),
        "{problems}"
    );
    assert!(problems.contains("it does not resolve"), "{problems}");

    let status = w.rblwatch(&["status"]);
    assert_eq!(status.code, 3, "{status:?}");
    assert!(
        status.stdout.contains(
            "UNCHECKED 192.0.2.5 (mx1)  not seen by the last pass; never definitely checked"
        ),
        "{}",
        status.stdout
    );
    assert!(
        !status.stdout.contains("nothing is listed"),
        "{}",
        status.stdout
    );
    assert!(
        status
            .stdout
            .contains("no listing known, but not every target was checked"),
        "{}",
        status.stdout
    );

    // With the resolver back, every address target is seen; the host name still is not.
    let seeing = config_text(&catalog, &w.dns.addr(), &w.store);
    std::fs::write(&w.config, &seeing).expect("config");
    let run = w.rblwatch(&["run", "--quiet"]);
    assert_eq!((run.code, run.stdout.as_str()), (0, ""), "{run:?}");
    let status = w.rblwatch(&["status", "--format", "json"]);
    assert_eq!(status.code, 0, "{status:?}");
    let doc = status.json();
    let targets = doc["targets"].as_array().expect("targets");
    assert_eq!(
        targets.len(),
        2,
        "the removed target is not reported: {doc:#}"
    );
    assert!(
        targets
            .iter()
            .all(|t| t["checked_by_last_pass"] == true && t["last_checked"].is_string())
    );
    let text = w.rblwatch(&["status"]);
    assert!(
        text.stdout.starts_with("nothing is listed"),
        "{}",
        text.stdout
    );
}

#[test]
fn a_target_removed_from_the_config_is_history_and_comes_back_as_it_was() {
    let w = Watch::start();
    let day = 1_795_824_000; // 2026-11-28T00:00:00Z
    let catalog = w.dir.path().join("lists.toml");
    let both = config_text(&catalog, &w.dns.addr(), &w.store);
    let only_six = both.replace(
        "[[target]]\naddress = \"192.0.2.5\"\nlabel = \"mx1\"\ncontacts = [\"postmaster@example.com\"]\n",
        "",
    );
    assert_ne!(both, only_six);
    w.data("192.0.2.5\n", true);
    assert_eq!(w.at(&["run", "--quiet"], Some(day)).code, 1);

    // 192.0.2.5 leaves the config: one event, and it is no longer reported anywhere.
    std::fs::write(&w.config, &only_six).expect("config");
    let run = w.at(&["run"], Some(day + 3600));
    assert_eq!(run.code, 0, "{run:?}");
    assert!(
        run.stdout.starts_with(
            "UNWATCHED 192.0.2.5 (mx1)  no longer in the config; its 1 stored state(s) are kept until `rblwatch prune`"
        ),
        "{}",
        run.stdout
    );
    let status = w.rblwatch(&["status"]);
    assert_eq!(status.code, 0, "{status:?}");
    assert!(
        status.stdout.starts_with("nothing is listed"),
        "{}",
        status.stdout
    );
    let history = w.rblwatch(&["history"]);
    assert!(
        history.stdout.contains("UNWATCHED 192.0.2.5 (mx1)"),
        "{}",
        history.stdout
    );
    let quiet = w.at(&["run", "--quiet"], Some(day + 7200));
    assert_eq!(
        (quiet.code, quiet.stdout.as_str()),
        (0, ""),
        "said once: {quiet:?}"
    );

    // Back in the config while still listed: its state comes back, no new alert.
    std::fs::write(&w.config, &both).expect("config");
    let run = w.at(&["run", "--format", "json"], Some(day + 10_800));
    assert_eq!(run.code, 1, "{run:?}");
    let doc = run.json();
    assert!(events(&doc).is_empty(), "{doc:#}");
    let status = w.rblwatch(&["status"]);
    assert!(
        status
            .stdout
            .starts_with("LISTED   192.0.2.5 (mx1)  w  since 2026-11-28T00:00:00Z"),
        "{}",
        status.stdout
    );

    // Removed again, then pruned: its kept states go.
    std::fs::write(&w.config, &only_six).expect("config");
    assert_eq!(w.at(&["run", "--quiet"], Some(day + 14_400)).code, 0);
    let prune = w.at(&["prune", "--older-than", "1d"], Some(day + 3 * 86_400));
    assert!(
        prune
            .stdout
            .contains("1 stored state(s) of targets no longer watched"),
        "{prune:?}"
    );
}

#[test]
fn a_server_inside_a_watched_range_keeps_its_own_label() {
    let w = Watch::start();
    let catalog = w.dir.path().join("lists.toml");
    // The range comes first in the config; the server inside it is watched on its own too.
    let config = config_text(&catalog, &w.dns.addr(), &w.store).replace(
        "[[target]]\naddress = \"192.0.2.5\"",
        "[[target]]\naddress = \"192.0.2.4/30\"\nlabel = \"office\"\n[[target]]\naddress = \"192.0.2.5\"",
    );
    std::fs::write(&w.config, &config).expect("config");
    w.data("192.0.2.5\n192.0.2.7\n", true);
    let run = w.rblwatch(&["run", "--format", "json"]);
    assert_eq!(run.code, 1, "{run:?}");
    let doc = run.json();
    let by_address = |a: &str| {
        events(&doc)
            .iter()
            .find(|e| e["address"] == a)
            .unwrap_or_else(|| panic!("no event for {a}: {doc:#}"))
            .clone()
    };
    let server = by_address("192.0.2.5");
    assert_eq!(server["target"], "192.0.2.5");
    assert_eq!(server["label"], "mx1");
    let other = by_address("192.0.2.7");
    assert_eq!(other["target"], "192.0.2.4/30");
    assert_eq!(other["label"], "office");
}
