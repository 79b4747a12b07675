//! The store on PostgreSQL (`store = "postgresql://..."`): where it is, how to log in, and its
//! schema, created and migrated like the SQLite one (the same tables, in the same versions).
//!
//! The client is the `postgres` crate (tokio-postgres behind a blocking interface), so the
//! store keeps one synchronous interface whichever database is behind it. Its calls block on
//! a runtime of their own, which tokio forbids on a thread that drives async tasks: every
//! connection here is made and used on a thread of its own.

use std::path::PathBuf;
use std::time::Duration;

use postgres::{Client, NoTls};

use crate::error::Error;

/// rblwatch's tables are versioned in this table, one row.
const VERSION_TABLE: &str = "rblwatch_schema";
/// How long a connection may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Held while the schema is created or migrated, so workers starting together do it once.
const MIGRATION_LOCK: i64 = 0x5242_4c57;

/// One entry per schema version, as for SQLite: `MIGRATIONS[n]` takes version n to n + 1.
const MIGRATIONS: &[&str] = &[
    // 0 -> 1: state, events, runs, list streaks.
    r#"
    CREATE TABLE state (
        address   TEXT NOT NULL,
        list      TEXT NOT NULL,
        target    TEXT NOT NULL,
        label     TEXT,
        policy    TEXT NOT NULL,
        status    TEXT NOT NULL CHECK (status IN ('listed', 'clear')),
        codes     TEXT NOT NULL,
        meanings  TEXT NOT NULL,
        txt       TEXT NOT NULL,
        since     BIGINT NOT NULL,
        checked   BIGINT NOT NULL,
        PRIMARY KEY (address, list)
    );
    CREATE TABLE events (
        id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        run         BIGINT NOT NULL,
        at          BIGINT NOT NULL,
        target      TEXT NOT NULL,
        label       TEXT,
        address     TEXT NOT NULL,
        list        TEXT NOT NULL,
        policy      TEXT NOT NULL,
        old_status  TEXT,
        new_status  TEXT NOT NULL,
        old_codes   TEXT NOT NULL,
        codes       TEXT NOT NULL,
        meanings    TEXT NOT NULL,
        txt         TEXT NOT NULL,
        delist_url  TEXT
    );
    CREATE INDEX events_at ON events (at);
    CREATE TABLE runs (
        id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        started    BIGINT NOT NULL,
        finished   BIGINT NOT NULL,
        targets    BIGINT NOT NULL,
        answers    BIGINT NOT NULL,
        listed     BIGINT NOT NULL,
        clear      BIGINT NOT NULL,
        refused    BIGINT NOT NULL,
        bogus      BIGINT NOT NULL,
        error      BIGINT NOT NULL,
        unhealthy  BIGINT NOT NULL,
        events     BIGINT NOT NULL,
        unknown    TEXT NOT NULL,
        problems   TEXT NOT NULL
    );
    CREATE TABLE list_streaks (
        list     TEXT PRIMARY KEY,
        passes   BIGINT NOT NULL,
        since    BIGINT NOT NULL,
        detail   TEXT NOT NULL
    );
    "#,
    // 1 -> 2: the notification outbox, removal requests, reminders.
    r#"
    CREATE TABLE outbox (
        id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        run           BIGINT NOT NULL,
        created       BIGINT NOT NULL,
        channel       TEXT NOT NULL CHECK (channel IN ('mail', 'webhook')),
        recipient     TEXT NOT NULL,
        subject       TEXT NOT NULL,
        body_text     TEXT NOT NULL,
        body_html     TEXT NOT NULL,
        attempts      BIGINT NOT NULL DEFAULT 0,
        next_attempt  BIGINT NOT NULL,
        last_error    TEXT,
        sent          BIGINT,
        failed        BIGINT
    );
    CREATE TABLE requests (
        address    TEXT NOT NULL,
        list       TEXT NOT NULL,
        requested  BIGINT NOT NULL,
        PRIMARY KEY (address, list)
    );
    CREATE TABLE reminders (
        address  TEXT NOT NULL,
        list     TEXT NOT NULL,
        at       BIGINT NOT NULL,
        PRIMARY KEY (address, list)
    );
    "#,
    // 2 -> 3: queries sent to each list per UTC day.
    r#"
    CREATE TABLE usage (
        list     TEXT NOT NULL,
        day      BIGINT NOT NULL,
        queries  BIGINT NOT NULL,
        PRIMARY KEY (list, day)
    );
    "#,
    // 3 -> 4: the states of targets no longer in the config.
    r#"
    CREATE TABLE retired_state (
        address   TEXT NOT NULL,
        list      TEXT NOT NULL,
        target    TEXT NOT NULL,
        label     TEXT,
        policy    TEXT NOT NULL,
        status    TEXT NOT NULL,
        codes     TEXT NOT NULL,
        meanings  TEXT NOT NULL,
        txt       TEXT NOT NULL,
        since     BIGINT NOT NULL,
        checked   BIGINT NOT NULL,
        retired   BIGINT NOT NULL,
        PRIMARY KEY (address, list)
    );
    CREATE INDEX state_target ON state (target);
    CREATE INDEX retired_state_target ON retired_state (target);
    "#,
    // 4 -> 5: each list's health in the last pass.
    r#"
    CREATE TABLE list_health (
        list     TEXT PRIMARY KEY,
        health   TEXT NOT NULL,
        checked  BIGINT NOT NULL
    );
    "#,
    // 5 -> 6: what each watched mail domain held at its last whole reading.
    r#"
    CREATE TABLE domain_members (
        domain  TEXT NOT NULL,
        role    TEXT NOT NULL,
        target  TEXT NOT NULL,
        path    TEXT NOT NULL,
        since   BIGINT NOT NULL,
        PRIMARY KEY (domain, role, target)
    );
    "#, // 6 -> 7: the schedule slot a daemon's pass ran for (one pass per slot, whichever worker),
    // who is sending each notification until when (each sent once, whichever worker), and
    // the daemons seen working on the store.
    r#"
    ALTER TABLE runs ADD COLUMN slot BIGINT;
    CREATE UNIQUE INDEX runs_slot ON runs (slot);
    ALTER TABLE outbox ADD COLUMN claimed_until BIGINT;
    CREATE TABLE workers (
        name     TEXT PRIMARY KEY,
        host     TEXT NOT NULL,
        pid      BIGINT NOT NULL,
        version  TEXT NOT NULL,
        started  BIGINT NOT NULL,
        seen     BIGINT NOT NULL
    );
    "#,
    // 7 -> 8: a pass shared by the workers of a fleet: its shards, who holds each until when,
    // and the answers of the shards done, until the pass is evaluated.
    r#"
    CREATE TABLE fleet_passes (
        slot        BIGINT PRIMARY KEY,
        state       TEXT NOT NULL,
        created     BIGINT NOT NULL,
        evaluator   TEXT,
        eval_until  BIGINT
    );
    CREATE TABLE fleet_shards (
        slot         BIGINT NOT NULL,
        n            BIGINT NOT NULL,
        target       TEXT NOT NULL,
        part         TEXT NOT NULL,
        state        TEXT NOT NULL,
        worker       TEXT,
        lease_until  BIGINT,
        health       TEXT,
        sent         TEXT,
        notes        TEXT,
        PRIMARY KEY (slot, n)
    );
    CREATE TABLE fleet_answers (
        slot        BIGINT NOT NULL,
        n           BIGINT NOT NULL,
        seq         BIGINT NOT NULL,
        target      TEXT NOT NULL,
        address     TEXT NOT NULL,
        list        TEXT NOT NULL,
        query       TEXT NOT NULL,
        status      TEXT NOT NULL,
        codes       TEXT NOT NULL,
        meanings    TEXT NOT NULL,
        txt         TEXT NOT NULL,
        detail      TEXT,
        delist_url  TEXT,
        elapsed_ms  BIGINT NOT NULL,
        PRIMARY KEY (slot, n, seq)
    );
    "#,
];

/// The schema version this binary writes (the same number as SQLite's).
pub fn current() -> i64 {
    i64::try_from(MIGRATIONS.len()).unwrap_or(i64::MAX)
}

/// Where the password comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Password {
    /// This environment variable.
    Env(String),
    /// This file (its first line).
    File(PathBuf),
}

/// A PostgreSQL store: the URL as written (no password in it), the password's source, and a
/// CA to trust besides the public ones.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// `postgresql://user@host:port/database[?sslmode=...]`.
    pub url: String,
    /// Where the password is, if one is needed.
    pub password: Option<Password>,
    /// A CA file for the server's certificate (`sslmode=require`).
    pub ca_file: Option<PathBuf>,
}

impl Location {
    /// Whether `text` names a PostgreSQL store rather than a SQLite file.
    pub fn is_url(text: &str) -> bool {
        text.starts_with("postgresql://") || text.starts_with("postgres://")
    }

    /// Checks the URL: it parses, names a user, host and database, and holds no password
    /// (a config file is read by more people than a password should be).
    pub fn check_url(url: &str) -> Result<(), String> {
        let config: postgres::Config = url
            .parse()
            .map_err(|e| format!("not a PostgreSQL URL: {e}"))?;
        if config.get_password().is_some() {
            return Err(
                "holds a password: put it in [postgres] password_env or password_file".into(),
            );
        }
        if config.get_user().is_none() {
            return Err("names no user (postgresql://USER@HOST/DATABASE)".into());
        }
        if config.get_hosts().is_empty() {
            return Err("names no host (postgresql://USER@HOST/DATABASE)".into());
        }
        if config.get_dbname().is_none() {
            return Err("names no database (postgresql://USER@HOST/DATABASE)".into());
        }
        Ok(())
    }

    fn error(&self, message: impl Into<String>) -> Error {
        Error::Store {
            path: self.url.clone(),
            message: message.into(),
        }
    }

    /// Connects, on the calling thread (which must not drive async tasks).
    pub(super) fn client(&self) -> Result<Client, Error> {
        let mut config: postgres::Config = self
            .url
            .parse()
            .map_err(|e| self.error(format!("not a PostgreSQL URL: {e}")))?;
        config.connect_timeout(CONNECT_TIMEOUT);
        // The process behind a session, for "another pass is running as pid N".
        config.application_name(&format!("rblwatch {}", std::process::id()));
        match &self.password {
            Some(Password::Env(var)) => match std::env::var(var) {
                Ok(password) => {
                    config.password(password);
                }
                Err(_) => return Err(self.error(format!("${var} (password_env) is not set"))),
            },
            Some(Password::File(path)) => {
                let text = crate::files::read_text(path, 4096)
                    .map_err(|e| self.error(format!("password_file {}: {e}", path.display())))?;
                config.password(text.lines().next().unwrap_or_default());
            }
            None => {}
        }
        let connected = if config.get_ssl_mode() == postgres::config::SslMode::Disable {
            config.connect(NoTls)
        } else {
            let tls = crate::relay::smtp::client_config(self.ca_file.as_deref())
                .map_err(|e| self.error(format!("ca_file: {e}")))?;
            config.connect(tokio_postgres_rustls::MakeRustlsConnect::new(tls))
        };
        connected.map_err(|e| self.error(describe(&e)))
    }
}

/// What opening found and did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Opened {
    /// The schema version now.
    pub version: i64,
    /// The version it was at before (0: the schema was created).
    pub was: i64,
}

/// Connects and brings the schema up to date (created on an empty database); a database of a
/// newer rblwatch is refused untouched.
pub fn open(location: &Location) -> Result<Opened, Error> {
    on_own_thread(location, |location| {
        let mut client = location.client()?;
        let fail = |e: postgres::Error| location.error(describe(&e));
        let mut tx = client.transaction().map_err(fail)?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
            .map_err(fail)?;
        tx.batch_execute(&format!(
            "CREATE TABLE IF NOT EXISTS {VERSION_TABLE} (
                 id INTEGER PRIMARY KEY CHECK (id = 1),
                 application TEXT NOT NULL,
                 version BIGINT NOT NULL
             )"
        ))
        .map_err(fail)?;
        let row = tx
            .query_opt(
                &format!("SELECT application, version FROM {VERSION_TABLE} WHERE id = 1"),
                &[],
            )
            .map_err(fail)?;
        let was = match row {
            Some(row) => {
                let application: String = row.get(0);
                if application != "rblwatch" {
                    return Err(location.error(format!(
                        "{VERSION_TABLE} names `{application}`: not an rblwatch database; refused"
                    )));
                }
                row.get::<_, i64>(1)
            }
            None => {
                // An empty rblwatch_schema in a database that already has a `state` table is
                // someone else's: never written into.
                let taken = tx
                    .query_one(
                        "SELECT count(*) FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = 'state'",
                        &[],
                    )
                    .map_err(fail)?
                    .get::<_, i64>(0)
                    > 0;
                if taken {
                    return Err(location.error(
                        "the database has a `state` table but no rblwatch schema version: another application's; refused",
                    ));
                }
                tx.execute(
                    &format!("INSERT INTO {VERSION_TABLE} (id, application, version) VALUES (1, 'rblwatch', 0)"),
                    &[],
                )
                .map_err(fail)?;
                0
            }
        };
        if was > current() {
            return Err(location.error(format!(
                "schema version {was}, newer than this rblwatch knows ({}); upgrade rblwatch",
                current()
            )));
        }
        for (from, sql) in MIGRATIONS
            .iter()
            .enumerate()
            .skip(usize::try_from(was).unwrap_or(0))
        {
            tx.batch_execute(sql).map_err(|e| {
                location.error(format!("migrating from version {from}: {}", describe(&e)))
            })?;
        }
        tx.execute(
            &format!("UPDATE {VERSION_TABLE} SET version = $1 WHERE id = 1"),
            &[&current()],
        )
        .map_err(fail)?;
        tx.commit().map_err(fail)?;
        Ok(Opened {
            version: current(),
            was,
        })
    })
}

/// Runs `work` on a thread of its own: the blocking client may not run on an async worker.
fn on_own_thread<T: Send + 'static>(
    location: &Location,
    work: impl FnOnce(&Location) -> Result<T, Error> + Send + 'static,
) -> Result<T, Error> {
    let location = location.clone();
    let url = location.url.clone();
    std::thread::spawn(move || work(&location))
        .join()
        .unwrap_or_else(|_| {
            Err(Error::Store {
                path: url,
                message: "the database connection's thread failed".into(),
            })
        })
}

/// A PostgreSQL error in one line: the server's own message where there is one.
pub(super) fn describe(e: &postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{} ({})", db.message(), db.code().code()),
        None => {
            let text = e.to_string();
            match std::error::Error::source(e) {
                Some(source) => format!("{text}: {source}"),
                None => text,
            }
        }
    }
}
