//! `rblwatch daemon` as a real child process: passes on schedule, signals, reload, the lock
//! shared with cron's `run`, `/metrics` and the JSON API.

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use crate::support::servers::free_tcp_port;
use crate::watch::{Slow, Watch};

/// A running daemon with its log in a file; killed on Drop if still running.
pub(crate) struct Daemon {
    child: Child,
    log: tempfile::NamedTempFile,
}

impl Daemon {
    fn start(config: &Path) -> Daemon {
        Daemon::start_with(config, None, &[])
    }

    /// Starts the daemon with these environment additions (a store's password).
    pub(crate) fn start_env(config: &Path, env: &[(&str, &str)]) -> Daemon {
        Daemon::start_with_env(config, None, &[], env)
    }

    /// Starts the daemon with these flags, and at most `files` open file descriptors when
    /// given.
    fn start_with(config: &Path, files: Option<u64>, flags: &[&str]) -> Daemon {
        Daemon::start_with_env(config, files, flags, &[])
    }

    fn start_with_env(
        config: &Path,
        files: Option<u64>,
        flags: &[&str],
        env: &[(&str, &str)],
    ) -> Daemon {
        let log = tempfile::NamedTempFile::new().expect("log file");
        let mut command = Command::new(env!("CARGO_BIN_EXE_rblwatch"));
        if let Some(files) = files {
            use std::os::unix::process::CommandExt;
            // SAFETY: setrlimit is async-signal-safe; nothing else runs in the child here.
            unsafe {
                command.pre_exec(move || {
                    let limit = libc::rlimit {
                        rlim_cur: files,
                        rlim_max: files,
                    };
                    if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) == 0 {
                        Ok(())
                    } else {
                        Err(std::io::Error::last_os_error())
                    }
                });
            }
        }
        let child = command
            .arg("--config")
            .arg(config)
            .arg("daemon")
            .args(flags)
            .env_remove("RBLWATCH_NOW")
            .env_remove("RUST_LOG")
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(log.reopen().expect("log"))
            .spawn()
            .expect("start the daemon");
        Daemon { child, log }
    }

    pub(crate) fn log(&self) -> String {
        std::fs::read_to_string(self.log.path()).unwrap_or_default()
    }

    fn passes(&self) -> usize {
        self.log().matches("pass finished").count()
    }

    /// Waits until `check` holds on the log, or panics with the log.
    pub(crate) fn wait_for(&self, what: &str, check: impl FnMut(&str) -> bool) {
        self.wait_up_to(Duration::from_secs(15), what, check);
    }

    /// As `wait_for`, for up to `limit`.
    fn wait_up_to(&self, limit: Duration, what: &str, mut check: impl FnMut(&str) -> bool) {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if check(&self.log()) {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("daemon: {what} did not happen:\n{}", self.log());
    }

    fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .args([&format!("-{name}"), &self.child.id().to_string()])
            .status()
            .expect("kill");
        assert!(status.success());
    }

    /// Waits for the daemon to exit and returns its status code.
    fn exit(&mut self, within: Duration) -> i32 {
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status.code().unwrap_or(-1);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("the daemon did not exit within {within:?}:\n{}", self.log());
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One `GET /metrics` on the daemon's listener: the whole response.
fn scrape(port: u16) -> String {
    request(port, "GET /metrics HTTP/1.1\r\nHost: localhost\r\n\r\n")
}

/// Sends `raw` to the daemon's listener and reads the whole response.
pub(crate) fn request(port: u16, raw: &str) -> String {
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream.write_all(raw.as_bytes()).expect("request");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("response");
    response
}

/// The value of the sample `name` (without labels) in a scrape.
#[track_caller]
fn sample(metrics: &str, name: &str) -> f64 {
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("no {name} in:\n{metrics}"))
}

fn add(config: &Path, text: &str) {
    let mut old = std::fs::read_to_string(config).expect("config");
    old.push_str(text);
    std::fs::write(config, old).expect("config");
}

const EVERY_SECOND: &str = "\n[schedule]\ncron = \"* * * * * *\"\ntimezone = \"UTC\"\n";

#[test]
fn passes_run_on_schedule_and_sigterm_stops_the_daemon() {
    let w = Watch::start();
    add(w.config(), EVERY_SECOND);
    let mut d = Daemon::start(w.config());
    d.wait_for("two passes", |log| {
        log.matches("pass finished").count() >= 2
    });
    assert!(
        d.log()
            .contains("rblwatch daemon started schedule=* * * * * *"),
        "{}",
        d.log()
    );
    d.signal("TERM");
    assert_eq!(d.exit(Duration::from_secs(3)), 0, "{}", d.log());
    assert!(d.log().contains("stopping"), "{}", d.log());
}

#[test]
fn sigterm_during_a_pass_leaves_the_store_as_it_was_and_exits_0() {
    let s = Slow::start();
    add(&s.config, EVERY_SECOND);
    s.listed.store(true, Ordering::SeqCst);
    s.delay_ms.store(5000, Ordering::SeqCst);
    let mut d = Daemon::start(&s.config);
    d.wait_for("a pass to start", |log| log.contains("next pass"));
    std::thread::sleep(Duration::from_millis(2000));
    let stopped = Instant::now();
    d.signal("TERM");
    assert_eq!(d.exit(Duration::from_secs(3)), 0, "{}", d.log());
    assert!(
        stopped.elapsed() < Duration::from_secs(2),
        "bounded: {:?}",
        stopped.elapsed()
    );
    assert!(
        d.log().contains("abandoned before its commit"),
        "{}",
        d.log()
    );
    // Nothing of the pass is in the store, and the lock is free.
    let states = s.run(&["status", "--all", "--format", "json"]).json();
    assert!(
        states["states"].as_array().expect("states").is_empty(),
        "{states:#}"
    );
    s.delay_ms.store(0, Ordering::SeqCst);
    let run = s.run(&["run"]);
    assert_eq!(run.code, 1, "{run:?}");
}

#[test]
fn sighup_with_a_bad_config_keeps_the_old_one() {
    let w = Watch::start();
    let port = free_tcp_port();
    add(
        w.config(),
        &format!("{EVERY_SECOND}[metrics]\nlisten = \"127.0.0.1:{port}\"\n"),
    );
    let scrape = || scrape(port);
    let d = Daemon::start(w.config());
    d.wait_for("a pass", |log| log.contains("pass finished"));
    let loaded = sample(
        &scrape(),
        "rblwatch_config_last_reload_success_timestamp_seconds",
    );
    std::thread::sleep(Duration::from_millis(1100));
    let good = std::fs::read_to_string(w.config()).expect("config");
    std::fs::write(w.config(), format!("{good}colour = \"red\"\n")).expect("break the config");
    d.signal("HUP");
    d.wait_for("the reload to be refused", |log| {
        log.contains("config not reloaded, the old one stays")
    });
    assert!(d.log().contains("unknown field `colour`"), "{}", d.log());
    let metrics = scrape();
    assert!(
        metrics
            .lines()
            .any(|l| l == "rblwatch_config_last_reload_successful 0"),
        "{metrics}"
    );
    // The last success is still the start's load.
    assert_eq!(
        sample(
            &metrics,
            "rblwatch_config_last_reload_success_timestamp_seconds"
        ),
        loaded
    );
    let before = d.passes();
    d.wait_for("passes to go on", |log| {
        log.matches("pass finished").count() > before
    });

    // A good config is taken.
    std::fs::write(w.config(), good.replace("* * * * * *", "*/2 * * * * *"))
        .expect("fix the config");
    d.signal("HUP");
    d.wait_for("the reload", |log| {
        log.contains("config reloaded schedule=*/2 * * * * *")
    });
    assert!(
        scrape()
            .lines()
            .any(|l| l == "rblwatch_config_last_reload_successful 1"),
        "the good reload is recorded"
    );

    // A changed listen address cannot move the running listener: the daemon says so.
    let moved = free_tcp_port();
    w.edit_config(&format!("127.0.0.1:{port}"), &format!("127.0.0.1:{moved}"));
    d.signal("HUP");
    d.wait_for("the warning about the listener", |log| {
        log.contains(&format!(
            "[metrics] listen changed to 127.0.0.1:{moved}: it takes effect at the next start"
        ))
    });
}

#[test]
fn verbose_logs_each_list_with_its_answers_and_timing() {
    let w = Watch::start();
    w.data("192.0.2.5\n", true);
    add(w.config(), EVERY_SECOND);
    let d = Daemon::start_with(w.config(), None, &["-v"]);
    d.wait_for("a pass", |log| log.contains("pass finished"));
    let log = d.log();
    let line = log
        .lines()
        .find(|l| l.contains("list answered"))
        .unwrap_or_else(|| panic!("no per-list event:\n{log}"));
    for field in [
        "list=w",
        "health=ok",
        "answers=listed=1",
        "mean_ms=",
        "slowest_ms=",
    ] {
        assert!(line.contains(field), "want {field} in `{line}`");
    }
    drop(d);
    // Without -v the same daemon says nothing per list.
    let quiet = Daemon::start(w.config());
    quiet.wait_for("a pass", |log| log.contains("pass finished"));
    assert!(!quiet.log().contains("list answered"), "{}", quiet.log());
}

#[test]
fn two_daemons_on_one_postgresql_store_run_one_pass_per_slot() {
    let w = crate::watch_pg::Watch::start();
    w.data("192.0.2.5\n", true);
    add(
        w.config(),
        "\n[schedule]\ncron = \"*/2 * * * * *\"\ntimezone = \"UTC\"\n",
    );
    let env = w.env();
    // The second worker wakes up to a second later: sometimes during the first one's pass
    // (it is skipped as busy), sometimes after it (the slot is already done).
    let late = w.config().with_file_name("late.toml");
    let text = std::fs::read_to_string(w.config()).expect("config");
    std::fs::write(&late, format!("{text}jitter = 1\n")).expect("late config");
    let a = Daemon::start_env(w.config(), &env);
    let b = Daemon::start_env(&late, &env);
    let passes = |d: &Daemon| d.passes();
    a.wait_for("passes", |_| passes(&a) + passes(&b) >= 4);
    // `status` shows both workers.
    let status = w.rblwatch(&["status"]);
    let workers = status
        .stdout
        .lines()
        .filter(|l| l.starts_with("WORKER "))
        .count();
    assert_eq!(workers, 2, "{status:?}");
    drop(a);
    drop(b);
    let mut db = w.database().expect("a PostgreSQL store");
    let twice: i64 = db
        .query_one(
            "SELECT count(*) FROM (SELECT slot FROM runs GROUP BY slot HAVING count(*) > 1) AS d",
            &[],
        )
        .expect("slots")
        .get(0);
    assert_eq!(twice, 0, "a slot was run twice");
    let runs: i64 = db
        .query_one("SELECT count(*) FROM runs WHERE slot IS NOT NULL", &[])
        .expect("runs")
        .get(0);
    assert!(runs >= 4, "{runs}");
    // The listing was found once: one event, however many workers.
    let events: i64 = db
        .query_one(
            "SELECT count(*) FROM events WHERE new_status = 'listed'",
            &[],
        )
        .expect("events")
        .get(0);
    assert_eq!(events, 1);
}

#[test]
fn a_cron_run_during_a_daemon_pass_does_not_overlap_it() {
    let s = Slow::start();
    add(&s.config, EVERY_SECOND);
    s.delay_ms.store(3000, Ordering::SeqCst);
    let d = Daemon::start(&s.config);
    d.wait_for("a pass to start", |log| log.contains("next pass"));
    std::thread::sleep(Duration::from_millis(1800));
    let run = s.run(&["run"]);
    assert_eq!(run.code, 4, "the daemon's pass holds the lock: {run:?}");
    drop(d);
}

#[test]
fn metrics_show_a_listing_after_a_pass() {
    let w = Watch::start();
    w.data("192.0.2.5\n198.51.100.1\n", true);
    let port = free_tcp_port();
    add(
        w.config(),
        &format!(
            "[[target]]\naddress = \"198.51.100.0/30\"\n{EVERY_SECOND}[metrics]\nlisten = \"127.0.0.1:{port}\"\n"
        ),
    );
    let d = Daemon::start(w.config());
    d.wait_for("a pass", |log| log.contains("pass finished"));
    let mut stream =
        std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect to /metrics");
    stream
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .expect("request");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("response");
    assert!(response.starts_with("HTTP/1.1 200 OK\r\n"), "{response}");
    assert!(
        response.contains("Content-Type: text/plain; version=0.0.4"),
        "{response}"
    );
    for line in [
        "rblwatch_listed{target=\"192.0.2.5\",address=\"192.0.2.5\",list=\"w\",policy=\"block\"} 1",
        "rblwatch_listed{target=\"192.0.2.6\",address=\"192.0.2.6\",list=\"w\",policy=\"block\"} 0",
        "rblwatch_list_healthy{list=\"w\",health=\"ok\"} 1",
        "# TYPE rblwatch_answers_total counter",
        "rblwatch_outbox_queued 0",
    ] {
        assert!(
            response.lines().any(|l| l == line),
            "want `{line}` in:\n{response}"
        );
    }
    assert!(response.contains("rblwatch_passes_total "), "{response}");
    for line in [
        &format!(
            "rblwatch_build_info{{version=\"{}\"}} 1",
            env!("CARGO_PKG_VERSION")
        ),
        "rblwatch_config_last_reload_successful 1",
    ] {
        assert!(
            response.lines().any(|l| l == line),
            "want `{line}` in:\n{response}"
        );
    }
    // Of a range, only the listed addresses are a series.
    assert!(
        response.contains("rblwatch_listed{target=\"198.51.100.0/30\",address=\"198.51.100.1\",list=\"w\",policy=\"block\"} 1"),
        "{response}"
    );
    assert!(!response.contains("address=\"198.51.100.2\""), "{response}");
    drop(d);
}

#[test]
fn a_restarted_daemon_serves_the_stored_state_before_its_first_pass() {
    let w = Watch::start();
    w.data("192.0.2.5\n", true);
    // A pass by cron's `run` fills the store.
    let unix = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_secs_f64()
    };
    let before = unix().floor();
    w.pass();
    let after = unix().ceil();
    let port = free_tcp_port();
    // The next scheduled pass is far away: whatever /metrics shows now comes from the store.
    add(
        w.config(),
        &format!(
            "\n[schedule]\ncron = \"0 0 1 1 *\"\ntimezone = \"UTC\"\n[metrics]\nlisten = \"127.0.0.1:{port}\"\n"
        ),
    );
    let d = Daemon::start(w.config());
    d.wait_for("the listener", |log| log.contains("serving metrics"));
    let metrics = scrape(port);
    for line in [
        "rblwatch_listed{target=\"192.0.2.5\",address=\"192.0.2.5\",list=\"w\",policy=\"block\"} 1",
        "rblwatch_list_healthy{list=\"w\",health=\"ok\"} 1",
        "rblwatch_outbox_queued 0",
        "rblwatch_passes_total 0",
        "rblwatch_workers 1",
    ] {
        assert!(
            metrics.lines().any(|l| l == line),
            "want `{line}` in:\n{metrics}"
        );
    }
    let end = sample(&metrics, "rblwatch_last_pass_end_timestamp_seconds");
    assert!(
        (before..=after).contains(&end),
        "{before} <= {end} <= {after}"
    );
    assert_eq!(d.passes(), 0, "{}", d.log());
}

/// Runs `promtool ARGS...` (Debian's `prometheus` package) with `input` on stdin.
fn promtool(args: &[&str], input: &str) -> (bool, String) {
    let mut child = Command::new("promtool")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool must be installed (apt-get install prometheus): the tests check what is shipped to Prometheus with it");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes())
        .expect("write to promtool");
    let out = child.wait_with_output().expect("promtool");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// The metric names (`rblwatch_...`) a text mentions.
fn metric_names(text: &str) -> std::collections::BTreeSet<String> {
    text.match_indices("rblwatch_")
        .map(|(at, _)| {
            text[at..]
                .chars()
                .take_while(|c| c.is_ascii_lowercase() || *c == '_')
                .collect()
        })
        .collect()
}

#[test]
fn the_alert_rules_and_dashboard_read_what_the_daemon_serves() {
    let dist = Path::new(env!("CARGO_MANIFEST_DIR")).join("dist");
    let rules = dist.join("prometheus/rblwatch.rules.yml");
    let rules = rules.to_string_lossy().into_owned();
    let (ok, out) = promtool(&["check", "rules", &rules], "");
    assert!(ok, "{out}");
    // The rules' own unit tests, shipped beside them.
    let tests = dist.join("prometheus/rblwatch.rules.test.yml");
    let (ok, out) = promtool(&["test", "rules", &tests.to_string_lossy()], "");
    assert!(ok, "{out}");

    // A real scrape of a daemon that has seen one listing.
    let w = Watch::start();
    w.data("192.0.2.5\n", true);
    let port = free_tcp_port();
    add(
        w.config(),
        &format!("{EVERY_SECOND}[metrics]\nlisten = \"127.0.0.1:{port}\"\n"),
    );
    let d = Daemon::start(w.config());
    d.wait_for("a pass", |log| log.contains("pass finished"));
    let response = scrape(port);
    drop(d);
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, body)| body)
        .expect("an HTTP body");
    let (ok, out) = promtool(&["check", "metrics"], body);
    assert!(ok, "promtool check metrics: {out}\n{body}");

    // Fed to the rules as it is, the scrape fires exactly one alert: the listing.
    let series: String = body
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| {
            let (name, value) = l.rsplit_once(' ').expect("a sample");
            format!("      - series: '{name}'\n        values: '{value}x10'\n")
        })
        .collect();
    let test = format!(
        "rule_files:\n  - {rules}\nevaluation_interval: 1m\ntests:\n  - interval: 1m\n    input_series:\n{series}\
         \x20   promql_expr_test:\n      - expr: ALERTS{{alertstate=\"firing\"}}\n        eval_time: 5m\n\
         \x20       exp_samples:\n          - labels: 'ALERTS{{alertname=\"RblwatchListed\",alertstate=\"firing\",severity=\"critical\",target=\"192.0.2.5\",address=\"192.0.2.5\",list=\"w\",policy=\"block\"}}'\n            value: 1\n"
    );
    let dir = crate::support::shared_dir();
    let file = crate::support::write_file(dir.path(), "scrape.test.yml", &test);
    let (ok, out) = promtool(&["test", "rules", &file.to_string_lossy()], "");
    assert!(ok, "{out}\n{test}");

    // Every metric the rules and the dashboard use is one the daemon serves.
    let served: std::collections::BTreeSet<String> = body
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.split(' ').next())
        .map(str::to_string)
        .collect();
    let dashboard =
        std::fs::read_to_string(dist.join("grafana/rblwatch.json")).expect("the dashboard");
    let parsed: serde_json::Value = serde_json::from_str(&dashboard).expect("dashboard JSON");
    assert!(
        parsed["panels"].as_array().is_some_and(|p| !p.is_empty()),
        "no panels"
    );
    let used = metric_names(&std::fs::read_to_string(&rules).expect("rules"))
        .into_iter()
        .chain(metric_names(&dashboard))
        .collect::<std::collections::BTreeSet<_>>();
    assert!(used.len() >= 8, "{used:?}");
    let unknown: Vec<&String> = used.difference(&served).collect();
    assert!(
        unknown.is_empty(),
        "not served: {unknown:?}; served: {served:?}"
    );
}

#[test]
fn idle_scrapers_cannot_starve_the_passes() {
    let w = Watch::start();
    w.data("192.0.2.5\n", true);
    let port = free_tcp_port();
    add(
        w.config(),
        &format!("{EVERY_SECOND}[metrics]\nlisten = \"127.0.0.1:{port}\"\n"),
    );
    // 128 descriptors for the daemon, 400 connections that never send a request.
    let d = Daemon::start_with(w.config(), Some(128), &[]);
    d.wait_for("a pass", |log| log.contains("pass finished"));
    let idle: Vec<std::net::TcpStream> = (0..400)
        .filter_map(|_| std::net::TcpStream::connect(("127.0.0.1", port)).ok())
        .collect();
    assert!(idle.len() > 100, "only {} connections", idle.len());
    let before = d.passes();
    d.wait_for("two more passes while the scrapers hold on", |log| {
        log.matches("pass finished").count() >= before + 2
    });
    assert!(!d.log().contains("pass failed"), "{}", d.log());
    // Idle scrapers are dropped after their deadline; a real one is answered.
    std::thread::sleep(Duration::from_secs(6));
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .expect("request");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("response");
    assert!(response.starts_with("HTTP/1.1 200 OK\r\n"), "{response}");
    drop(idle);
}

#[test]
fn a_metrics_port_already_taken_is_exit_3_not_a_bad_config() {
    let w = Watch::start();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = taken.local_addr().expect("addr").port();
    add(
        w.config(),
        &format!("{EVERY_SECOND}[metrics]\nlisten = \"127.0.0.1:{port}\"\n"),
    );
    let mut d = Daemon::start(w.config());
    assert_eq!(d.exit(Duration::from_secs(10)), 3, "{}", d.log());
    assert!(
        d.log()
            .contains(&format!("metrics listen 127.0.0.1:{port}: cannot listen")),
        "{}",
        d.log()
    );
    drop(taken);
}

#[test]
fn the_next_pass_is_logged_once_per_slot() {
    let w = Watch::start();
    add(
        w.config(),
        "\n[schedule]\ncron = \"15 6 * * *\"\ntimezone = \"UTC\"\n",
    );
    let d = Daemon::start(w.config());
    d.wait_for("the next pass", |log| log.contains("next pass"));
    // Each reload wakes the loop; the slot is the same, so it is not announced again.
    for n in 1..=2 {
        d.signal("HUP");
        d.wait_for("a reload", |log| {
            log.matches("config reloaded").count() >= n
        });
    }
    assert_eq!(d.log().matches("next pass").count(), 1, "{}", d.log());
}

#[test]
fn sigterm_stops_the_daemon_at_once_while_mail_waits_on_a_silent_server() {
    use std::sync::atomic::AtomicBool;
    // An SMTP server that takes connections and never says a word.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = silent.local_addr().expect("addr").port();
    let called = std::sync::Arc::new(AtomicBool::new(false));
    let flag = called.clone();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in silent.incoming().flatten() {
            flag.store(true, Ordering::Relaxed);
            held.push(stream);
        }
    });
    let w = Watch::start();
    w.data("192.0.2.5\n", true);
    add(
        w.config(),
        &format!(
            "{EVERY_SECOND}[notify]\nrecipients = [\"ops@example.com\"]\n[notify.smtp]\nhost = \"127.0.0.1\"\nport = {port}\nsecurity = \"none\"\nfrom = \"rblwatch@example.com\"\ntimeout = 30\n"
        ),
    );
    let mut d = Daemon::start(w.config());
    let deadline = Instant::now() + Duration::from_secs(15);
    while !called.load(Ordering::Relaxed) {
        assert!(Instant::now() < deadline, "no mail was tried:\n{}", d.log());
        std::thread::sleep(Duration::from_millis(50));
    }
    d.signal("TERM");
    assert_eq!(d.exit(Duration::from_secs(2)), 0, "{}", d.log());
}

/// A store on PostgreSQL, lists on rbldnsd (or a slow server), and a config for a fleet.
struct Fleet {
    pg: crate::support::pg::Postgres,
    config: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

impl Fleet {
    /// `lists` zones served at `server`, the target `range`, every `every` seconds.
    fn start(server: &str, lists: &[&str], range: &str, every: u32, lease: u32) -> Fleet {
        let pg = crate::support::pg::Postgres::start();
        let dir = crate::support::shared_dir();
        let catalog: String = lists
            .iter()
            .map(|id| {
                crate::support::entry(id, &format!("{id}.test"), "\"ipv4\"", crate::support::CODES)
            })
            .collect();
        let catalog = crate::support::write_file(dir.path(), "lists.toml", &catalog);
        let only: Vec<String> = lists.iter().map(|l| format!("\"{l}\"")).collect();
        let config = crate::support::write_file(
            dir.path(),
            "rblwatch.toml",
            &format!(
                "store = \"{}\"\n[postgres]\npassword_env = \"PG_PASSWORD\"\n[lists]\ncatalogs = [\"{}\"]\nonly = [{}]\n\
                 [resolver]\nnameservers = [\"{server}\"]\ntimeout = 2\n[fleet]\nshard = 256\nlease = {lease}\n\
                 [schedule]\ncron = \"*/{every} * * * * *\"\ntimezone = \"UTC\"\n[[target]]\naddress = \"{range}\"\n",
                pg.url("rblwatch"),
                catalog.display(),
                only.join(", ")
            ),
        );
        Fleet {
            pg,
            config,
            _dir: dir,
        }
    }

    fn worker(&self) -> Daemon {
        Daemon::start_with_env(
            &self.config,
            None,
            &["-v"],
            &[("PG_PASSWORD", crate::support::pg::PASSWORD)],
        )
    }

    fn count(&self, sql: &str) -> i64 {
        self.pg
            .client("rblwatch")
            .query_one(sql, &[])
            .expect(sql)
            .get(0)
    }
}

#[test]
fn three_workers_share_one_pass_and_every_pair_is_asked_once() {
    use crate::support::rbldnsd::{Rbldnsd, SOA};
    let lists = ["l1", "l2", "l3", "l4", "l5"];
    let data = format!("{SOA}127.0.0.2\n10.0.3.7\n10.0.9.200\n");
    let zones: Vec<(String, String)> = lists
        .iter()
        .map(|l| (format!("{l}.test"), data.clone()))
        .collect();
    let borrowed: Vec<(&str, &str, &str)> = zones
        .iter()
        .map(|(z, d)| (z.as_str(), "ip4set", d.as_str()))
        .collect();
    let dns = Rbldnsd::start(&borrowed);
    let fleet = Fleet::start(&dns.addr(), &lists, "10.0.0.0/20", 10, 10);
    // Two queries in flight: a shard then takes a worker tens of milliseconds, not a few, so
    // one woken a little late (a busy machine) still finds shards left to ask.
    let text = std::fs::read_to_string(&fleet.config).expect("config");
    let text = text.replace("timeout = 2\n", "timeout = 2\nconcurrency = 2\n");
    assert!(text.contains("concurrency = 2"), "{text}");
    std::fs::write(&fleet.config, &text).expect("config");
    // The first worker serves its metrics.
    let port = free_tcp_port();
    let first = fleet.config.with_file_name("first.toml");
    std::fs::write(
        &first,
        format!("{text}[metrics]\nlisten = \"127.0.0.1:{port}\"\n"),
    )
    .expect("config");
    let mut workers = vec![Daemon::start_with_env(
        &first,
        None,
        &["-v"],
        &[("PG_PASSWORD", crate::support::pg::PASSWORD)],
    )];
    workers.extend((0..2).map(|_| fleet.worker()));
    // The pass looked at is one all three waited for: a slot that comes while a worker is
    // still starting is asked by the others alone. Each log is read once per look, and where
    // it ended then is where the pass's lines begin.
    let waiting = |log: &str| {
        let (_, last) = log.rsplit_once("next pass")?;
        (!last.contains("shard")).then(|| last.lines().next().unwrap_or("").to_string())
    };
    let mut starts = vec![0; workers.len()];
    workers[0].wait_up_to(
        Duration::from_secs(40),
        "all three workers waiting for the same slot",
        |_| {
            let logs: Vec<String> = workers.iter().map(Daemon::log).collect();
            let slots: Vec<Option<String>> = logs.iter().map(|l| waiting(l)).collect();
            let same = slots[0].is_some() && slots.iter().all(|s| *s == slots[0]);
            if same {
                starts = logs.iter().map(String::len).collect();
            }
            same
        },
    );
    let since = |i: usize| {
        let log = workers[i].log();
        log.get(starts[i]..).unwrap_or_default().to_string()
    };
    workers[0].wait_up_to(
        Duration::from_secs(30),
        "the pass all three waited for",
        |_| (0..workers.len()).any(|i| since(i).contains("pass finished")),
    );
    // Each worker asked some of the 16 shards of that pass.
    let shards: Vec<usize> = (0..workers.len())
        .map(|i| since(i).matches("shard asked").count())
        .collect();
    // The first worker's counter is its shards (counted before its log line was read).
    let counted = sample(&scrape(port), "rblwatch_fleet_shards_total");
    assert!(counted >= shards[0] as f64, "counted {counted}: {shards:?}");
    // The pass's progress as the first worker sees it: 16 shards, all done once it has
    // looked again (it polls twice a second).
    let deadline = Instant::now() + Duration::from_secs(5);
    let progress = loop {
        let page = scrape(port);
        let seen = (
            sample(&page, "rblwatch_fleet_pass_shards"),
            sample(&page, "rblwatch_fleet_pass_shards_done"),
        );
        if seen == (16.0, 16.0) || Instant::now() > deadline {
            break seen;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(progress, (16.0, 16.0));
    drop(workers);
    assert!(shards.iter().sum::<usize>() >= 16, "{shards:?}");
    assert!(
        shards.iter().filter(|n| **n > 0).count() >= 2,
        "shared: {shards:?}"
    );
    let slot_runs = fleet.count("SELECT count(*) FROM runs WHERE slot IS NOT NULL");
    assert!(slot_runs >= 1);
    // One run per slot, and the first one holds every pair once.
    assert_eq!(
        fleet.count(
            "SELECT count(*) FROM (SELECT slot FROM runs GROUP BY slot HAVING count(*) > 1) AS d"
        ),
        0
    );
    assert_eq!(fleet.count("SELECT min(answers) FROM runs"), 4096 * 5);
    assert_eq!(fleet.count("SELECT count(*) FROM state"), 4096 * 5);
    assert_eq!(
        fleet.count("SELECT count(*) FROM events WHERE new_status = 'listed'"),
        2 * 5
    );
    // Nothing of a finished pass is left behind.
    assert_eq!(
        fleet.count(
            "SELECT count(*) FROM fleet_answers a JOIN fleet_passes p ON p.slot = a.slot WHERE p.state = 'done'"
        ),
        0
    );
    // prune takes the records of finished passes with the runs of their time, and leaves a
    // pass still under way (a worker may have opened the next slot's) as it is.
    let open_before = fleet.count("SELECT count(*) FROM fleet_passes WHERE state <> 'done'");
    let config = fleet.config.to_string_lossy().into_owned();
    let pruned = crate::support::rblwatch(
        &["--config", &config, "prune", "--older-than", "0"],
        &[("PG_PASSWORD", crate::support::pg::PASSWORD)],
    );
    assert_eq!(pruned.code, 0, "{pruned:?}");
    assert!(pruned.stdout.contains("fleet pass record(s)"), "{pruned:?}");
    assert_eq!(
        fleet.count("SELECT count(*) FROM fleet_passes WHERE state = 'done'"),
        0
    );
    assert_eq!(
        fleet.count("SELECT count(*) FROM fleet_passes WHERE state <> 'done'"),
        open_before
    );
}

#[test]
fn a_worker_killed_mid_shard_loses_nothing() {
    use crate::support::dns_server::{FakeDns, Reply};
    // Slow answers: a shard (256 addresses x 2 lists) takes most of a second.
    let server = FakeDns::start(|name| {
        let reply = if name.starts_with("2.0.0.127.") || name.starts_with("9.1.0.10.") {
            Reply::A(vec!["127.0.0.2".parse().expect("ip")])
        } else {
            Reply::NxDomain
        };
        Reply::Delayed(Duration::from_millis(150), Box::new(reply))
    });
    let fleet = Fleet::start(&server.addr(), &["s1", "s2"], "10.0.0.0/22", 10, 5);
    let workers: Vec<Daemon> = (0..3).map(|_| fleet.worker()).collect();
    // The first worker to take a shard is killed while it asks it.
    let leased = |d: &Daemon| d.log().matches("shard leased").count();
    let asked = |d: &Daemon| d.log().matches("shard asked").count();
    workers[0].wait_up_to(Duration::from_secs(20), "a shard leased", |_| {
        workers.iter().any(|d| leased(d) > asked(d))
    });
    let victim = workers
        .iter()
        .position(|d| leased(d) > asked(d))
        .expect("a worker holding a shard");
    workers[victim].signal("KILL");
    let others: Vec<&Daemon> = workers
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != victim)
        .map(|(_, d)| d)
        .collect();
    // The others finish the pass, the dead worker's shard asked again after its lease.
    others[0].wait_up_to(Duration::from_secs(40), "the pass evaluated", |_| {
        others.iter().any(|d| d.log().contains("pass finished"))
    });
    assert!(
        leased(&workers[victim]) > asked(&workers[victim]),
        "it died holding a shard"
    );
    drop(workers);
    assert_eq!(fleet.count("SELECT min(answers) FROM runs"), 1024 * 2);
    assert_eq!(fleet.count("SELECT count(*) FROM state"), 1024 * 2);
    assert_eq!(
        fleet.count("SELECT count(*) FROM events WHERE new_status = 'listed'"),
        2
    );
}

/// One `GET path` on the daemon's listener: the status line and the body.
pub(crate) fn get(port: u16, path: &str) -> (String, String) {
    let response = request(
        port,
        &format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n"),
    );
    let (head, body) = response.split_once("\r\n\r\n").expect("a head and a body");
    let status = head.lines().next().unwrap_or_default().to_string();
    (status, body.to_string())
}

#[test]
fn the_api_serves_the_documents_the_cli_prints() {
    let w = Watch::start();
    w.data("192.0.2.5\n", true);
    w.pass();
    let port = free_tcp_port();
    // The next scheduled pass is far away: the store stays as the pass left it.
    add(
        w.config(),
        &format!(
            "\n[schedule]\ncron = \"0 0 1 1 *\"\ntimezone = \"UTC\"\n[metrics]\nlisten = \"127.0.0.1:{port}\"\n"
        ),
    );
    let d = Daemon::start_env(w.config(), &w.env());
    d.wait_for("the listener", |log| log.contains("serving metrics"));
    let json = |text: &str| -> serde_json::Value {
        serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {text}"))
    };
    for (path, cli) in [
        ("/api/v1/status", vec!["status", "--format", "json"]),
        (
            "/api/v1/status?all=1",
            vec!["status", "--all", "--format", "json"],
        ),
        ("/api/v1/history", vec!["history", "--format", "json"]),
        (
            "/api/v1/history?target=192.0.2.5&list=w&since=2000-01-01",
            vec![
                "history",
                "--target",
                "192.0.2.5",
                "--list",
                "w",
                "--since",
                "2000-01-01",
                "--format",
                "json",
            ],
        ),
        ("/api/v1/lists", vec!["lists", "--format", "json"]),
    ] {
        let (status, body) = get(port, path);
        assert_eq!(status, "HTTP/1.1 200 OK", "{path}: {body}");
        let printed = w.rblwatch(&cli);
        assert_eq!(json(&body), json(&printed.stdout), "{path}");
    }
    // The documents hold what the pass found.
    let status = json(&get(port, "/api/v1/status").1);
    assert!(status.to_string().contains("192.0.2.5"), "{status:#}");
    let history = json(&get(port, "/api/v1/history?target=192.0.2.5").1);
    assert!(history.to_string().contains("listed"), "{history:#}");
    // A percent-encoded parameter is decoded; a filter that matches nothing is empty.
    let none = json(&get(port, "/api/v1/history?target=198.51.100.0%2F24").1);
    assert_eq!(
        none,
        json(
            &w.rblwatch(&["history", "--target", "198.51.100.0/24", "--format", "json"])
                .stdout
        )
    );
    // Bad requests are refused, naming what is wrong; the daemon serves on.
    for (path, want, says) in [
        (
            "/api/v1/history?since=yesterday",
            "400",
            "--since yesterday",
        ),
        ("/api/v1/history?target=%zz", "400", "two hex digits"),
        ("/api/v1/status?verbose=1", "400", "verbose"),
        ("/api/v1/status?all=maybe", "400", "all="),
        ("/nothing", "404", "/api/v1/status"),
    ] {
        let (status, body) = get(port, path);
        assert!(
            status.starts_with(&format!("HTTP/1.1 {want}")),
            "{path}: {status}"
        );
        let error = json(&body)["error"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        assert!(error.contains(says), "{path}: {body}");
    }
    let response = request(port, "POST /api/v1/status HTTP/1.1\r\n\r\n");
    assert!(response.starts_with("HTTP/1.1 405"), "{response}");
    // A head that fills the 8 KB the listener reads without ending is refused as too large,
    // not served cut.
    let mut huge = "GET /api/v1/status HTTP/1.1\r\nX-Pad: ".to_string();
    huge.push_str(&"a".repeat(8192 - huge.len()));
    let response = request(port, &huge);
    assert!(response.starts_with("HTTP/1.1 431"), "{response}");
    assert_eq!(get(port, "/api/v1/lists").0, "HTTP/1.1 200 OK");
    drop(d);
}

/// A schedule whose next pass is far away, and the listener on `port`, with `more` lines of
/// `[metrics]`.
fn quiet_with_listener(config: &Path, port: u16, more: &str) {
    add(
        config,
        &format!(
            "\n[schedule]\ncron = \"0 0 1 1 *\"\ntimezone = \"UTC\"\n[metrics]\nlisten = \"127.0.0.1:{port}\"\n{more}"
        ),
    );
}

#[test]
fn a_probe_checks_one_allowed_address_now_as_prometheus_text() {
    let w = Watch::start();
    w.data("192.0.2.5\n", true);
    let port = free_tcp_port();
    quiet_with_listener(w.config(), port, "probe_allow = [\"198.51.100.0/24\"]\n");
    let d = Daemon::start_env(w.config(), &w.env());
    d.wait_for("the listener", |log| log.contains("serving metrics"));
    // A configured target's address: listed on `w`, the list healthy.
    let (status, text) = get(port, "/probe?target=192.0.2.5");
    assert_eq!(status, "HTTP/1.1 200 OK", "{text}");
    for line in [
        "rblwatch_probe_success 1",
        "rblwatch_probe_listed{address=\"192.0.2.5\",list=\"w\",policy=\"block\"} 1",
        "rblwatch_probe_answer{address=\"192.0.2.5\",list=\"w\",status=\"listed\"} 1",
        "rblwatch_probe_list_healthy{list=\"w\",health=\"ok\"} 1",
    ] {
        assert!(text.lines().any(|l| l == line), "want `{line}` in:\n{text}");
    }
    let (ok, lint) = promtool(&["check", "metrics"], &text);
    assert!(ok, "promtool check metrics:\n{lint}\n{text}");
    // An address of an allowed network: clear.
    let (status, text) = get(port, "/probe?target=198.51.100.7");
    assert_eq!(status, "HTTP/1.1 200 OK", "{text}");
    assert!(
        text.lines().any(|l| l
            == "rblwatch_probe_listed{address=\"198.51.100.7\",list=\"w\",policy=\"block\"} 0"),
        "{text}"
    );
    // Anything else is refused before a query is sent.
    for (target, want) in [
        ("203.0.113.9", "403"),
        ("192.0.2.0%2F24", "400"),
        ("mail.example.com", "400"),
    ] {
        let (status, body) = get(port, &format!("/probe?target={target}"));
        assert!(
            status.starts_with(&format!("HTTP/1.1 {want}")),
            "{target}: {status} {body}"
        );
    }
    // A probe stores nothing: no pass, nothing in the status.
    assert_eq!(d.passes(), 0, "{}", d.log());
    let status = w.rblwatch(&["status", "--format", "json"]);
    assert!(
        !status.stdout.contains("192.0.2.5\",\"list"),
        "{}",
        status.stdout
    );
}

#[test]
fn one_probe_at_a_time() {
    let s = Slow::start();
    s.delay_ms.store(1500, Ordering::SeqCst);
    let port = free_tcp_port();
    quiet_with_listener(&s.config, port, "");
    let d = Daemon::start_env(&s.config, &s.env());
    d.wait_for("the listener", |log| log.contains("serving metrics"));
    let first = std::thread::spawn(move || get(port, "/probe?target=192.0.2.5"));
    std::thread::sleep(Duration::from_millis(500));
    let (status, body) = get(port, "/probe?target=192.0.2.6");
    assert!(status.starts_with("HTTP/1.1 429"), "{status} {body}");
    // The daemon still answers everything else meanwhile.
    assert_eq!(get(port, "/api/v1/lists").0, "HTTP/1.1 200 OK");
    let (status, text) = first.join().expect("the first probe");
    assert_eq!(status, "HTTP/1.1 200 OK", "{text}");
    assert!(text.contains("rblwatch_probe_success 1"), "{text}");
    drop(d);
}

#[test]
fn a_user_and_password_file_guard_every_path() {
    let w = Watch::start();
    let port = free_tcp_port();
    let dir = crate::support::shared_dir();
    let password = dir.path().join("web.password");
    std::fs::write(&password, "s3cr3t\n").expect("password file");
    quiet_with_listener(
        w.config(),
        port,
        &format!(
            "user = \"prometheus\"\npassword_file = \"{}\"\n",
            password.display()
        ),
    );
    let d = Daemon::start_env(w.config(), &w.env());
    d.wait_for("the listener", |log| log.contains("serving metrics"));
    let with = |path: &str, credentials: Option<&str>| -> String {
        let auth = credentials.map_or_else(String::new, |c| format!("Authorization: {c}\r\n"));
        request(
            port,
            &format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n{auth}\r\n"),
        )
    };
    // "prometheus:s3cr3t", and the same user with another password.
    let (good, bad) = (
        "Basic cHJvbWV0aGV1czpzM2NyM3Q=",
        "Basic cHJvbWV0aGV1czpzZWNyZXQ=",
    );
    for path in [
        "/",
        "/metrics",
        "/api/v1/status",
        "/api/v1/lists",
        "/probe?target=192.0.2.5",
    ] {
        for credentials in [None, Some(bad), Some("Bearer cHJvbWV0aGV1czpzM2NyM3Q=")] {
            let response = with(path, credentials);
            assert!(
                response.starts_with("HTTP/1.1 401"),
                "{path} {credentials:?}: {response}"
            );
            assert!(
                response.contains("WWW-Authenticate: Basic realm="),
                "{response}"
            );
        }
        let response = with(path, Some(good));
        assert!(response.starts_with("HTTP/1.1 200"), "{path}: {response}");
    }
    // A new password counts at once; an unreadable file refuses everything.
    std::fs::write(&password, "secret").expect("password file");
    assert!(with("/metrics", Some(bad)).starts_with("HTTP/1.1 200"));
    assert!(with("/metrics", Some(good)).starts_with("HTTP/1.1 401"));
    std::fs::remove_file(&password).expect("remove");
    assert!(with("/metrics", Some(bad)).starts_with("HTTP/1.1 503"));
    d.wait_for("the error logged", |log| {
        log.contains("password file cannot be read")
    });
}

/// One `GET path` over TLS to the daemon's listener, trusting `ca`: the whole response.
fn get_tls(port: u16, path: &str, ca: &Path) -> Result<String, String> {
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls::pki_types::CertificateDer::pem_file_iter(ca).expect("ca") {
        roots.add(cert.expect("ca cert")).expect("add ca");
    }
    let config = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("versions")
    .with_root_certificates(roots)
    .with_no_client_auth();
    let name = rustls::pki_types::ServerName::try_from("localhost").expect("name");
    let connection = rustls::ClientConnection::new(std::sync::Arc::new(config), name)
        .map_err(|e| e.to_string())?;
    let tcp = std::net::TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.to_string())?;
    let mut tls = rustls::StreamOwned::new(connection, tcp);
    write!(tls, "GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n").map_err(|e| e.to_string())?;
    let mut response = String::new();
    match tls.read_to_string(&mut response) {
        Ok(_) => Ok(response),
        // The server closes without a TLS close_notify after the response: what came counts.
        Err(_) if !response.is_empty() => Ok(response),
        Err(e) => Err(e.to_string()),
    }
}

/// A daemon whose listener has the test CA's certificate and the key `key` names; the
/// watch, the CA and the port.
fn with_tls(
    key: impl FnOnce(&crate::support::servers::TestCa) -> std::path::PathBuf,
) -> (Watch, crate::support::servers::TestCa, u16, Daemon) {
    let w = Watch::start();
    let ca = crate::support::servers::TestCa::new();
    let port = free_tcp_port();
    quiet_with_listener(
        w.config(),
        port,
        &format!(
            "tls_cert = \"{}\"\ntls_key = \"{}\"\n",
            ca.cert.display(),
            key(&ca).display()
        ),
    );
    let d = Daemon::start_env(w.config(), &w.env());
    (w, ca, port, d)
}

#[test]
fn the_listener_speaks_tls_with_a_certificate_and_key() {
    let (_w, ca, port, d) = with_tls(|ca| ca.key.clone());
    d.wait_for("the listener", |log| log.contains("serving metrics"));
    let response = get_tls(port, "/metrics", &ca.ca).expect("a TLS exchange");
    assert!(response.starts_with("HTTP/1.1 200 OK\r\n"), "{response}");
    assert!(response.contains("rblwatch_build_info"), "{response}");
    let response = get_tls(port, "/api/v1/lists", &ca.ca).expect("a TLS exchange");
    assert!(response.starts_with("HTTP/1.1 200 OK\r\n"), "{response}");
    // Plain HTTP on the TLS port gets no HTTP answer.
    let plain = request(port, "GET /metrics HTTP/1.1\r\nHost: localhost\r\n\r\n");
    assert!(!plain.contains("rblwatch_build_info"), "{plain}");
    drop(d);
}

#[test]
fn a_tls_key_that_cannot_be_read_stops_the_daemon_at_start() {
    let (_w, _ca, _port, mut d) = with_tls(|ca| ca.key.with_extension("missing"));
    assert_eq!(d.exit(Duration::from_secs(10)), 3, "{}", d.log());
    assert!(d.log().contains(".missing"), "{}", d.log());
}

#[test]
fn a_tls_key_that_is_a_fifo_is_refused_at_once_not_waited_on() {
    let (_w, _ca, _port, mut d) = with_tls(|ca| {
        let fifo = ca.key.with_extension("fifo");
        let path = std::ffi::CString::new(fifo.to_string_lossy().as_bytes()).expect("path");
        // SAFETY: a valid NUL-terminated path; mkfifo only creates the node.
        assert_eq!(unsafe { libc::mkfifo(path.as_ptr(), 0o600) }, 0, "mkfifo");
        fifo
    });
    assert_eq!(d.exit(Duration::from_secs(10)), 3, "{}", d.log());
    assert!(d.log().contains("not a regular file"), "{}", d.log());
}
