//! `store = "postgresql://..."` against a real PostgreSQL: the schema created and migrated like
//! SQLite's, a newer or foreign database refused, the password taken from where the config
//! says, TLS verified, and every command running on it. (The watch tests run on it too:
//! `watch_pg`.)

use crate::support::pg::{PASSWORD, Postgres};
use crate::support::{Run, rblwatch, shared_dir, write_file};

/// A config with this store and `[postgres]` section, and one target.
fn config(dir: &std::path::Path, store: &str, section: &str) -> String {
    write_file(
        dir,
        "rblwatch.toml",
        &format!("store = \"{store}\"\n{section}\n[[target]]\naddress = \"192.0.2.1\"\n"),
    )
    .to_string_lossy()
    .into_owned()
}

fn with_env(config: &str, args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut all = vec!["--config", config];
    all.extend_from_slice(args);
    rblwatch(&all, env)
}

const FROM_ENV: &str = "[postgres]\npassword_env = \"TEST_PG_PASSWORD\"\n";

#[test]
fn config_check_creates_the_schema_once_and_says_so() {
    let pg = Postgres::start();
    let dir = shared_dir();
    let cfg = config(dir.path(), &pg.url("rblwatch"), FROM_ENV);
    let env = [("TEST_PG_PASSWORD", PASSWORD)];
    let run = with_env(&cfg, &["config", "check"], &env);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stdout.contains("schema created (version 8)"), "{run:?}");
    let mut db = pg.client("rblwatch");
    let tables: Vec<String> = db
        .query(
            "SELECT table_name::text FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 1",
            &[],
        )
        .expect("tables")
        .iter()
        .map(|r| r.get(0))
        .collect();
    for want in [
        "domain_members",
        "events",
        "list_health",
        "outbox",
        "rblwatch_schema",
        "state",
        "usage",
    ] {
        assert!(tables.iter().any(|t| t == want), "no {want} in {tables:?}");
    }
    let version: i64 = db
        .query_one("SELECT version FROM rblwatch_schema", &[])
        .expect("version")
        .get(0);
    assert_eq!(version, 8);
    // Again: nothing to do. Two at once (workers starting together): one creates, both fine.
    let run = with_env(&cfg, &["config", "check"], &env);
    assert!(run.stdout.contains("schema current (version 8)"), "{run:?}");
    let other = config(dir.path(), &pg.url("other"), FROM_ENV);
    let both: Vec<std::thread::JoinHandle<Run>> = (0..2)
        .map(|_| {
            let other = other.clone();
            std::thread::spawn(move || {
                with_env(
                    &other,
                    &["config", "check"],
                    &[("TEST_PG_PASSWORD", PASSWORD)],
                )
            })
        })
        .collect();
    for run in both.into_iter().map(|h| h.join().expect("thread")) {
        assert_eq!(run.code, 0, "{run:?}");
    }
    // doctor says the same.
    let run = with_env(
        &cfg,
        &["doctor", "--format", "json", "--nameserver", "127.0.0.1:9"],
        &env,
    );
    let doc = run.json();
    let store = doc["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .find(|f| f["area"] == "store")
        .cloned()
        .expect("a store finding");
    assert_eq!(store["level"], "ok", "{store:#}");
    assert!(
        store["message"]
            .as_str()
            .unwrap_or("")
            .contains("schema current"),
        "{store:#}"
    );
}

#[test]
fn a_newer_or_foreign_database_and_a_wrong_login_are_refused_with_why() {
    let pg = Postgres::start();
    let dir = shared_dir();
    let env = [("TEST_PG_PASSWORD", PASSWORD)];
    let cfg = config(dir.path(), &pg.url("rblwatch"), FROM_ENV);
    assert_eq!(with_env(&cfg, &["config", "check"], &env).code, 0);
    pg.client("rblwatch")
        .execute("UPDATE rblwatch_schema SET version = 99", &[])
        .expect("bump");
    let run = with_env(&cfg, &["config", "check"], &env);
    assert_ne!(run.code, 0, "{run:?}");
    assert!(
        run.stderr.contains("newer than this rblwatch knows (8)"),
        "{run:?}"
    );

    // Another application's `state` table: never written into.
    pg.client("other")
        .batch_execute("CREATE TABLE state (x int)")
        .expect("foreign table");
    let cfg = config(dir.path(), &pg.url("other"), FROM_ENV);
    let run = with_env(&cfg, &["config", "check"], &env);
    assert!(
        run.stderr.contains("another application's; refused"),
        "{run:?}"
    );

    // A wrong password, an unset variable, a password in the URL.
    let run = with_env(&cfg, &["config", "check"], &[("TEST_PG_PASSWORD", "nope")]);
    assert!(
        run.stderr.contains("password authentication failed"),
        "{run:?}"
    );
    let run = with_env(&cfg, &["config", "check"], &[]);
    assert!(
        run.stderr
            .contains("$TEST_PG_PASSWORD (password_env) is not set"),
        "{run:?}"
    );
    let with_password = pg.url("rblwatch").replace("rblwatch@", "rblwatch:secret@");
    let cfg = config(dir.path(), &with_password, FROM_ENV);
    let run = with_env(&cfg, &["config", "check"], &env);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains("holds a password"), "{run:?}");

    // From a file instead.
    let file = write_file(dir.path(), "pgpass", &format!("{PASSWORD}\n"));
    let cfg = config(
        dir.path(),
        &pg.url("postgres"),
        &format!("[postgres]\npassword_file = \"{}\"\n", file.display()),
    );
    let run = with_env(&cfg, &["config", "check"], &[]);
    assert_eq!(run.code, 0, "{run:?}");
    // It is readable by everyone (the test made it so): said.
    assert!(
        run.stdout.contains("pgpass") && run.stdout.contains("every user"),
        "{run:?}"
    );
}

#[test]
fn every_command_runs_on_postgresql_and_no_sqlite_file_is_made() {
    let pg = Postgres::start();
    let dir = shared_dir();
    // A resolver that answers nothing: the pass cannot see, and says so, but it is recorded.
    let cfg = config(
        dir.path(),
        &pg.url("rblwatch"),
        &format!(
            "{FROM_ENV}[resolver]\nnameservers = [\"127.0.0.1:9\"]\ntimeout = 0.3\nattempts = 1\n"
        ),
    );
    let env = [("TEST_PG_PASSWORD", PASSWORD)];
    let run = with_env(&cfg, &["run", "--format", "json"], &env);
    assert_eq!(run.code, 3, "{run:?}");
    let runs: i64 = pg
        .client("rblwatch")
        .query_one("SELECT count(*) FROM runs", &[])
        .expect("runs")
        .get(0);
    assert_eq!(runs, 1);
    for (args, code) in [
        (vec!["status"], 3),
        (vec!["history"], 0),
        (vec!["delist"], 0),
        (vec!["notify", "flush"], 0),
        (vec!["prune", "--older-than", "1"], 0),
    ] {
        let run = with_env(&cfg, &args, &env);
        assert_eq!(run.code, code, "{args:?}: {run:?}");
    }
    assert!(!dir.path().join("state.db").exists());
}

#[test]
fn tls_is_verified_against_the_configured_ca() {
    let ca = crate::support::servers::TestCa::new();
    let pg = Postgres::start_tls(&ca.cert, &ca.key);
    let dir = shared_dir();
    let env = [("TEST_PG_PASSWORD", PASSWORD)];
    let url = pg
        .url("rblwatch")
        .replace("sslmode=disable", "sslmode=require");
    // The server's certificate is signed by a CA the public roots do not hold: refused.
    let cfg = config(dir.path(), &url, FROM_ENV);
    let run = with_env(&cfg, &["config", "check"], &env);
    assert_ne!(run.code, 0, "{run:?}");
    assert!(run.stderr.to_lowercase().contains("certificate"), "{run:?}");
    // With the CA named, it is verified and used.
    let section = format!("{FROM_ENV}ca_file = \"{}\"\n", ca.ca.display());
    let cfg = config(dir.path(), &url, &section);
    let run = with_env(&cfg, &["config", "check"], &env);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stdout.contains("schema created"), "{run:?}");
}

#[test]
fn a_sqlite_store_copied_to_postgresql_keeps_its_states_events_and_history() {
    let w = crate::watch::Watch::start();
    w.data("192.0.2.5\n", true);
    assert_eq!(w.rblwatch(&["run"]).code, 1);
    w.data("", false);
    assert_eq!(w.rblwatch(&["run"]).code, 0);
    w.data("192.0.2.5\n", true);
    assert_eq!(w.rblwatch(&["run"]).code, 1);
    let history = w.rblwatch(&["history"]).stdout;
    let status = w.rblwatch(&["status"]).stdout;

    // The same config, with its store moved to PostgreSQL.
    let pg = Postgres::start();
    let text = std::fs::read_to_string(w.config()).expect("config");
    let moved = w.config().with_file_name("moved.toml");
    std::fs::write(
        &moved,
        text.replace(
            "store = \"state.db\"\n",
            &format!("store = \"{}\"\n{FROM_ENV}", pg.url("rblwatch")),
        ),
    )
    .expect("config");
    let moved = moved.to_string_lossy().into_owned();
    let env = [("TEST_PG_PASSWORD", PASSWORD)];
    let from = w.store().to_string_lossy().into_owned();
    let run = with_env(&moved, &["store", "copy", "--from", &from], &env);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(
        run.stdout.contains("3 runs") && run.stdout.contains("3 events"),
        "{run:?}"
    );
    assert_eq!(with_env(&moved, &["history"], &env).stdout, history);
    let on_pg = with_env(&moved, &["status"], &env).stdout;
    assert_eq!(on_pg, status);

    // The watch goes on there: the next change is one more event, numbered after the others.
    w.data("", false);
    let run = with_env(&moved, &["run", "--format", "json"], &env);
    assert_eq!(run.code, 0, "{run:?}");
    let doc = run.json();
    assert_eq!(doc["events"].as_array().map(Vec::len), Some(1), "{doc:#}");
    assert_eq!(doc["run"]["id"], 4, "{doc:#}");
    // A second copy into a store that already has passes is refused.
    let run = with_env(&moved, &["store", "copy", "--from", &from], &env);
    assert_ne!(run.code, 0, "{run:?}");
    assert!(run.stderr.contains("already holds 4 pass(es)"), "{run:?}");
}

#[test]
fn a_fleet_is_refused_where_it_cannot_work_with_why() {
    let dir = shared_dir();
    let pg_url = "postgresql://rblwatch@127.0.0.1:5/rblwatch";
    for (store, extra, want) in [
        ("state.db", "", "[fleet] needs a PostgreSQL store"),
        (
            pg_url,
            "[[target]]\ndomain = \"example.com\"\n",
            "does not take mail domain targets",
        ),
        (
            pg_url,
            "[[target]]\naddress = \"192.0.2.0/24\"\n",
            "192.0.2.1 is inside 192.0.2.0/24",
        ),
        (pg_url, "", "shard = 100"),
    ] {
        let shard = if want == "shard = 100" { 100 } else { 256 };
        let path = write_file(
            dir.path(),
            "fleet.toml",
            &format!(
                "store = \"{store}\"\n[fleet]\nshard = {shard}\n[[target]]\naddress = \"192.0.2.1\"\n{extra}"
            ),
        );
        let run = rblwatch(
            &["--config", &path.to_string_lossy(), "config", "check"],
            &[],
        );
        assert_eq!(run.code, 2, "{want}: {run:?}");
        assert!(run.stderr.contains(want), "{want}: {}", run.stderr);
    }
}
