//! The store: current state per (address, list), the append-only event log, one row per
//! pass, per-list streaks of passes without a definite answer, the outbox. A SQLite file by
//! default, or a PostgreSQL database (`postgres`): the same tables, written by the same SQL
//! through one small layer (`sql`).
//!
//! One module per concern: `states`, `events` (and mail domain members), `runs` (list streaks
//! and health, the workers seen), `outbox` (and removal requests, reminders), `usage`,
//! `commit` (a whole pass in one transaction), `copy` (one store into another), `lock` (one
//! pass at a time on a SQLite file), `schema` (SQLite's migrations; PostgreSQL's are in
//! `postgres`). This file opens the store and keeps what they share.
//!
//! Blocking calls: a pass makes them off the async runtime's workers, or between awaits. A
//! whole pass is written in one transaction (`commit_pass`), so a pass killed half-way
//! leaves the store as it was. What a pass means (which answers are changes) is decided in
//! `watch`, not here.

mod commit;
mod copy;
mod events;
mod fleet;
mod lock;
mod outbox;
pub mod postgres;
mod runs;
mod schema;
mod sql;
mod states;
mod usage;

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags};
use serde::Serialize;

use sql::Conn;

pub use commit::{Committed, PassWrite};
pub use events::{
    DomainMember, Event, HistoryFilter, Pruned, SETUP_ADDED, SETUP_POLICY, SETUP_REMOVED,
};
pub use fleet::{AnswersAhead, FleetAnswer, Replayed, Shard, ShardSummary};
pub use lock::PassLock;
pub use outbox::OutboxItem;
pub use runs::{RunRecord, Streak, Worker};
pub use states::{StoredState, UNWATCHED};

use states::{STATE_COLUMNS, put_state, retire};

use crate::error::Error;

/// Where a store is: a SQLite file, or a PostgreSQL database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// A SQLite file.
    Sqlite(PathBuf),
    /// A PostgreSQL database.
    Postgres(postgres::Location),
}

impl Location {
    /// The file, or the URL, for messages.
    pub fn describe(&self) -> String {
        match self {
            Location::Sqlite(path) => path.display().to_string(),
            Location::Postgres(pg) => pg.url.clone(),
        }
    }
}

/// An open store.
pub struct Store {
    conn: Conn,
    /// The file (or the PostgreSQL URL), for messages.
    path: PathBuf,
    /// States of the pass under way, not yet in the temporary table (see `stage`).
    staged: Vec<StoredState>,
    /// Whether a pass's staging table exists on this connection.
    staging: bool,
}

/// One pass at a time on a PostgreSQL store: a session advisory lock, released when the
/// connection closes (the pass ends, or its process dies).
const PASS_LOCK: i64 = 0x5242_4c58;

fn to_json<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "[]".into())
}

fn json_list(text: &str) -> Vec<String> {
    serde_json::from_str(text).unwrap_or_default()
}

impl Store {
    /// Opens (creating when missing) the store at `path` and brings its schema up to date.
    /// A file that is not an rblwatch store, or one from a newer rblwatch, is refused untouched.
    pub fn open(path: &Path) -> Result<Store, Error> {
        let err = |message: String| Error::Store {
            path: path.display().to_string(),
            message,
        };
        if let Some(dir) = path
            .parent()
            .filter(|d| !d.as_os_str().is_empty() && !d.exists())
        {
            std::fs::create_dir_all(dir)
                .map_err(|e| err(format!("cannot create {}: {e}", dir.display())))?;
        }
        lock::check_directory(path)?;
        lock::check_store_files(path)?;
        let existed = path.exists();
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX
                | OpenFlags::SQLITE_OPEN_NOFOLLOW,
        )
        .map_err(|e| err(format!("cannot open: {e}")))?;
        conn.busy_timeout(std::time::Duration::from_secs(30))
            .map_err(|e| err(e.to_string()))?;
        // Only a file that is not a database is "not ours"; a file that cannot be read or
        // written (permissions, a full disk, an I/O error) is reported as what it is.
        let not_ours = |e: rusqlite::Error| match e.sqlite_error_code() {
            Some(rusqlite::ErrorCode::NotADatabase) => {
                err(format!("not an rblwatch store ({e}); nothing was changed"))
            }
            Some(rusqlite::ErrorCode::DiskFull) => err(format!("the disk is full: {e}")),
            _ => err(format!("cannot read or write it: {e}")),
        };
        let app: i32 = conn
            .query_row("PRAGMA application_id", [], |r| r.get(0))
            .map_err(not_ours)?;
        let version: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(not_ours)?;
        let tables: i64 = conn
            .query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0))
            .map_err(not_ours)?;
        if existed && (app != schema::APPLICATION_ID && (tables > 0 || version > 0)) {
            return Err(err(format!(
                "not an rblwatch store (a SQLite file of another program, application id {app:#x}); nothing was changed"
            )));
        }
        if version > schema::current() {
            return Err(err(format!(
                "the store has schema version {version}, newer than this rblwatch knows ({}); upgrade rblwatch",
                schema::current()
            )));
        }
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(|e| match e.sqlite_error_code() {
                Some(rusqlite::ErrorCode::DiskFull) => err(format!("the disk is full: {e}")),
                _ => err(format!("cannot write: {e}")),
            })?;
        let mut conn = conn;
        migrate(&mut conn, version).map_err(|e| err(e.to_string()))?;
        Ok(Store {
            conn: Conn::Sqlite(conn),
            path: path.to_path_buf(),
            staged: Vec::new(),
            staging: false,
        })
    }

    /// Opens the store at `location`: a SQLite file (see `open`) or a PostgreSQL database,
    /// whose schema is brought up to date the same way.
    pub fn open_at(location: &Location) -> Result<Store, Error> {
        match location {
            Location::Sqlite(path) => Store::open(path),
            Location::Postgres(pg) => {
                postgres::open(pg)?;
                Ok(Store {
                    conn: Conn::Postgres(sql::PgConn::connect(pg)?),
                    path: PathBuf::from(&pg.url),
                    staged: Vec::new(),
                    staging: false,
                })
            }
        }
    }

    /// Opens the store for a pass, which holds it alone: a SQLite store's lock file is taken
    /// first (it also keeps two first passes from creating the schema at once); a PostgreSQL
    /// store's session lock once connected. With `wait`, waits for a running pass to end;
    /// without, a running pass is `Error::Busy`.
    pub fn open_for_pass(
        location: &Location,
        wait: bool,
    ) -> Result<(Store, Option<PassLock>), Error> {
        match location {
            Location::Sqlite(path) => {
                let lock = PassLock::acquire(path, wait)?;
                Ok((Store::open(path)?, Some(lock)))
            }
            Location::Postgres(pg) => {
                let store = Store::open_at(location)?;
                let taken = store
                    .conn
                    .query_one("SELECT pg_try_advisory_lock(?1)", sql::args![PASS_LOCK])
                    .map_err(|e| store.error(e))?
                    .is_some_and(|r| r.int(0) == 1);
                if !taken {
                    if !wait {
                        // The holder's session is named after its process (`rblwatch PID`).
                        let holder = store
                            .conn
                            .query_one(
                                "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
                                 WHERE l.locktype = 'advisory' AND l.granted AND l.objid::bigint = ?1",
                                sql::args![PASS_LOCK & 0xffff_ffff],
                            )
                            .ok()
                            .flatten()
                            .map(|r| r.text(0))
                            .map(|name| name.trim_start_matches("rblwatch ").to_string())
                            .unwrap_or_default();
                        return Err(Error::Busy {
                            path: pg.url.clone(),
                            holder,
                        });
                    }
                    store
                        .conn
                        .query("SELECT pg_advisory_lock(?1)", sql::args![PASS_LOCK])
                        .map_err(|e| store.error(e))?;
                }
                Ok((store, None))
            }
        }
    }

    fn error(&self, message: String) -> Error {
        Error::Store {
            path: self.path.display().to_string(),
            message,
        }
    }

    /// The store file (or the PostgreSQL URL).
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Brings a SQLite store's schema from version `from` to the current one, in one transaction.
fn migrate(conn: &mut Connection, from: i64) -> rusqlite::Result<()> {
    let start = usize::try_from(from).unwrap_or(0);
    if start >= schema::MIGRATIONS.len() {
        return Ok(());
    }
    let tx = conn.transaction()?;
    for (index, sql) in schema::MIGRATIONS.iter().enumerate().skip(start) {
        tx.execute_batch(sql)?;
        tx.pragma_update(
            None,
            "user_version",
            i64::try_from(index + 1).unwrap_or(i64::MAX),
        )?;
    }
    tx.pragma_update(None, "application_id", schema::APPLICATION_ID)?;
    tx.commit()
}

#[cfg(test)]
mod tests {
    use super::states::STAGE_BATCH;
    use super::*;

    fn state(address: &str, status: &str) -> StoredState {
        StoredState {
            address: address.into(),
            list: "l".into(),
            target: "192.0.2.0/24".into(),
            label: None,
            policy: "block".into(),
            status: status.into(),
            codes: vec!["127.0.0.2".into()],
            meanings: vec![],
            txt: vec![],
            since: 1,
            checked: 2,
        }
    }

    #[test]
    fn staged_states_are_written_by_the_commit_and_an_abandoned_staging_is_forgotten() {
        let dir = tempfile::tempdir().expect("dir");
        let mut store = Store::open(&dir.path().join("s.db")).expect("store");
        // An abandoned pass: staged, never committed.
        store.begin_staging().expect("begin");
        store.stage(state("192.0.2.99", "listed")).expect("stage");
        // The next pass stages more than one batch; nothing is in the store before the commit.
        store.begin_staging().expect("begin");
        for n in 0..(STAGE_BATCH + 10) {
            store
                .stage(state(&format!("10.0.{}.{}", n / 256, n % 256), "clear"))
                .expect("stage");
        }
        store.stage(state("192.0.2.5", "listed")).expect("stage");
        assert_eq!(store.state("10.0.0.1", "l").expect("read"), None);
        store.commit_pass(&PassWrite::default()).expect("commit");
        assert_eq!(store.states().expect("states").len(), STAGE_BATCH + 11);
        assert_eq!(store.state("192.0.2.99", "l").expect("read"), None);
        let listed = store.listed_states().expect("listed");
        assert_eq!(listed, [state("192.0.2.5", "listed")]);
        // A later pass without staging leaves them as they are.
        store.begin_staging().expect("begin");
        store.commit_pass(&PassWrite::default()).expect("commit");
        assert_eq!(store.states().expect("states").len(), STAGE_BATCH + 11);
    }
}
