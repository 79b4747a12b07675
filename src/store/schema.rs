//! The store's schema and its forward migrations.
//!
//! `PRAGMA user_version` holds the schema version; `PRAGMA application_id` marks the file as
//! rblwatch's, so a foreign SQLite file is refused instead of being written into.

/// `RBLW` as a 32-bit big-endian integer: rblwatch's SQLite application id.
pub(crate) const APPLICATION_ID: i32 = 0x5242_4c57;

/// One entry per schema version: `MIGRATIONS[n]` takes version n to n + 1.
pub(crate) const MIGRATIONS: &[&str] = &[
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
        since     INTEGER NOT NULL,
        checked   INTEGER NOT NULL,
        PRIMARY KEY (address, list)
    );
    CREATE TABLE events (
        id          INTEGER PRIMARY KEY,
        run         INTEGER NOT NULL,
        at          INTEGER NOT NULL,
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
        id         INTEGER PRIMARY KEY,
        started    INTEGER NOT NULL,
        finished   INTEGER NOT NULL,
        targets    INTEGER NOT NULL,
        answers    INTEGER NOT NULL,
        listed     INTEGER NOT NULL,
        clear      INTEGER NOT NULL,
        refused    INTEGER NOT NULL,
        bogus      INTEGER NOT NULL,
        error      INTEGER NOT NULL,
        unhealthy  INTEGER NOT NULL,
        events     INTEGER NOT NULL,
        unknown    TEXT NOT NULL,
        problems   TEXT NOT NULL
    );
    CREATE TABLE list_streaks (
        list     TEXT PRIMARY KEY,
        passes   INTEGER NOT NULL,
        since    INTEGER NOT NULL,
        detail   TEXT NOT NULL
    );
    "#,
    // 1 -> 2: the notification outbox, removal requests, reminders.
    r#"
    CREATE TABLE outbox (
        id            INTEGER PRIMARY KEY,
        run           INTEGER NOT NULL,
        created       INTEGER NOT NULL,
        channel       TEXT NOT NULL CHECK (channel IN ('mail', 'webhook')),
        recipient     TEXT NOT NULL,
        subject       TEXT NOT NULL,
        body_text     TEXT NOT NULL,
        body_html     TEXT NOT NULL,
        attempts      INTEGER NOT NULL DEFAULT 0,
        next_attempt  INTEGER NOT NULL,
        last_error    TEXT,
        sent          INTEGER,
        failed        INTEGER
    );
    CREATE TABLE requests (
        address    TEXT NOT NULL,
        list       TEXT NOT NULL,
        requested  INTEGER NOT NULL,
        PRIMARY KEY (address, list)
    );
    CREATE TABLE reminders (
        address  TEXT NOT NULL,
        list     TEXT NOT NULL,
        at       INTEGER NOT NULL,
        PRIMARY KEY (address, list)
    );
    "#,
    // 2 -> 3: queries sent to each list per UTC day, for daily limits across passes.
    r#"
    CREATE TABLE usage (
        list     TEXT NOT NULL,
        day      INTEGER NOT NULL,
        queries  INTEGER NOT NULL,
        PRIMARY KEY (list, day)
    );
    "#,
    // 3 -> 4: the states of targets no longer in the config, kept as history until pruned.
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
        since     INTEGER NOT NULL,
        checked   INTEGER NOT NULL,
        retired   INTEGER NOT NULL,
        PRIMARY KEY (address, list)
    );
    CREATE INDEX state_target ON state (target);
    CREATE INDEX retired_state_target ON retired_state (target);
    "#,
    // 4 -> 5: each list's health in the last pass, so a restarted daemon serves it at once.
    r#"
    CREATE TABLE list_health (
        list     TEXT PRIMARY KEY,
        health   TEXT NOT NULL,
        checked  INTEGER NOT NULL
    );
    "#,
    // 5 -> 6: what each watched mail domain's MX and SPF held at its last complete reading.
    r#"
    CREATE TABLE domain_members (
        domain  TEXT NOT NULL,
        role    TEXT NOT NULL,
        target  TEXT NOT NULL,
        path    TEXT NOT NULL,
        since   INTEGER NOT NULL,
        PRIMARY KEY (domain, role, target)
    );
    "#, // 6 -> 7: the schedule slot a daemon's pass ran for (one pass per slot, whichever worker),
    // who is sending each notification until when (each sent once, whichever worker), and
    // the daemons seen working on the store.
    r#"
    ALTER TABLE runs ADD COLUMN slot INTEGER;
    CREATE UNIQUE INDEX runs_slot ON runs (slot);
    ALTER TABLE outbox ADD COLUMN claimed_until INTEGER;
    CREATE TABLE workers (
        name     TEXT PRIMARY KEY,
        host     TEXT NOT NULL,
        pid      INTEGER NOT NULL,
        version  TEXT NOT NULL,
        started  INTEGER NOT NULL,
        seen     INTEGER NOT NULL
    );
    "#,
    // 7 -> 8: a pass shared by the workers of a fleet: its shards, who holds each until when,
    // and the answers of the shards done, until the pass is evaluated.
    r#"
    CREATE TABLE fleet_passes (
        slot        INTEGER PRIMARY KEY,
        state       TEXT NOT NULL,
        created     INTEGER NOT NULL,
        evaluator   TEXT,
        eval_until  INTEGER
    );
    CREATE TABLE fleet_shards (
        slot         INTEGER NOT NULL,
        n            INTEGER NOT NULL,
        target       TEXT NOT NULL,
        part         TEXT NOT NULL,
        state        TEXT NOT NULL,
        worker       TEXT,
        lease_until  INTEGER,
        health       TEXT,
        sent         TEXT,
        notes        TEXT,
        PRIMARY KEY (slot, n)
    );
    CREATE TABLE fleet_answers (
        slot        INTEGER NOT NULL,
        n           INTEGER NOT NULL,
        seq         INTEGER NOT NULL,
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
        elapsed_ms  INTEGER NOT NULL,
        PRIMARY KEY (slot, n, seq)
    );
    "#,
];

/// The schema version this binary writes.
pub(crate) fn current() -> i64 {
    i64::try_from(MIGRATIONS.len()).unwrap_or(i64::MAX)
}
