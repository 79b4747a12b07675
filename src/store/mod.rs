//! The local store (SQLite): current state per (address, list), the append-only event log,
//! one row per pass, and per-list streaks of passes without a definite answer.
//!
//! Blocking code, called off the async runtime. A whole pass is written in one transaction
//! (`commit_pass`), so a pass killed half-way leaves the store as it was. What a pass means
//! (which answers are changes) is decided in `watch`, not here.

mod lock;
mod schema;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags, OptionalExtension, params};
use serde::Serialize;

pub use lock::PassLock;

use crate::error::Error;

/// The stored state of one (address, list) pair.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StoredState {
    /// The address or name asked about.
    pub address: String,
    /// The list id.
    pub list: String,
    /// The configured target it belongs to.
    pub target: String,
    /// The target's label.
    pub label: Option<String>,
    /// `block` or `allow`.
    pub policy: String,
    /// `listed` or `clear`.
    pub status: String,
    /// The codes of the last definite answer.
    pub codes: Vec<String>,
    /// Their meanings.
    pub meanings: Vec<String>,
    /// The list's TXT reason.
    pub txt: Vec<String>,
    /// When the pair entered this status (Unix seconds).
    pub since: i64,
    /// When it was last answered definitely.
    pub checked: i64,
}

/// One change of state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Event {
    /// Row id (0 before it is written).
    pub id: i64,
    /// The pass that found it.
    pub run: i64,
    /// When (Unix seconds).
    pub at: i64,
    /// The configured target.
    pub target: String,
    /// Its label.
    pub label: Option<String>,
    /// The address or name.
    pub address: String,
    /// The list id.
    pub list: String,
    /// `block` or `allow`.
    pub policy: String,
    /// The status before (`None`: first seen).
    pub old_status: Option<String>,
    /// The status now.
    pub new_status: String,
    /// The codes before.
    pub old_codes: Vec<String>,
    /// The codes now.
    pub codes: Vec<String>,
    /// Their meanings.
    pub meanings: Vec<String>,
    /// The list's TXT reason.
    pub txt: Vec<String>,
    /// Where to go to get off the list.
    pub delist_url: Option<String>,
}

/// A list's run of passes without any definite answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Streak {
    /// The list id.
    pub list: String,
    /// Passes in a row without a definite answer (0: it answered).
    pub passes: u32,
    /// When the streak began.
    pub since: i64,
    /// What the last pass got instead.
    pub detail: String,
}

/// What one pass writes.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RunRecord {
    /// Row id (0 before it is written).
    pub id: i64,
    /// Start and end (Unix seconds).
    pub started: i64,
    /// End.
    pub finished: i64,
    /// Configured targets.
    pub targets: usize,
    /// Answers received.
    pub answers: usize,
    /// Answers per status word.
    pub counts: BTreeMap<String, usize>,
    /// Events written.
    pub events: usize,
    /// Answers that were not definite, by status and why.
    pub unknown: BTreeMap<String, usize>,
    /// Problems worth a human's attention (lists silent for N passes).
    pub problems: Vec<String>,
}

/// One notification waiting to be sent (or sent, or given up on).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OutboxItem {
    /// Row id (0 before it is written).
    pub id: i64,
    /// The pass that made it.
    pub run: i64,
    /// When it was made.
    pub created: i64,
    /// `mail` or `webhook`.
    pub channel: String,
    /// A mail address, or a webhook URL.
    pub recipient: String,
    /// The subject (mail), or the payload format (webhook).
    pub subject: String,
    /// The text part (mail), or the payload (webhook).
    pub text: String,
    /// The HTML part (mail).
    pub html: String,
    /// Attempts so far.
    pub attempts: u32,
    /// Not to be tried again before this time.
    pub next_attempt: i64,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
    /// When it was accepted by the server.
    pub sent: Option<i64>,
    /// When it was given up on (kept, and reported).
    pub failed: Option<i64>,
}

/// Everything a pass changes, written at once.
#[derive(Debug, Clone, Default)]
pub struct PassWrite {
    /// Notifications to queue, in the same transaction as the events that caused them.
    pub outbox: Vec<OutboxItem>,
    /// Pairs reminded of in this pass.
    pub reminded: Vec<(String, String)>,
    /// Removal requests fulfilled (the pair is clear now).
    pub requests_done: Vec<(String, String)>,
    /// Queries sent to each list by this pass, counted on `day` (UTC days since 1970).
    pub usage: Vec<(String, u64)>,
    /// The day the usage counts for.
    pub day: i64,
    /// The run row.
    pub run: RunRecord,
    /// States to insert or replace.
    pub states: Vec<StoredState>,
    /// Events to append.
    pub events: Vec<Event>,
    /// Streaks to insert or replace.
    pub streaks: Vec<Streak>,
    /// Each list's health in this pass, by id: replaces the last pass's (None: keep it).
    pub health: Option<Vec<(String, String)>>,
    /// The members of watched mail domains read whole this pass: each domain's replace its
    /// stored ones (a domain read only in part is not here, and keeps what it had).
    pub domains: Vec<(String, Vec<DomainMember>)>,
    /// The mail domains the config watches: members of any other are dropped (None: keep all).
    pub watched_domains: Option<Vec<String>>,
    /// The targets of the config, as written: the states of any other target are retired
    /// (kept apart as history, an event each). None: leave every target as it is.
    pub watched: Option<Vec<String>>,
}

/// One member of a watched mail domain, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DomainMember {
    /// `sending`, `receiving` or `domain`.
    pub role: String,
    /// The name, address or network.
    pub target: String,
    /// How it was reached.
    pub path: String,
    /// Part of the domain's mail setup since (Unix seconds).
    pub since: i64,
}

/// Event statuses of a mail domain's setup: a member joined or left it.
pub const SETUP_ADDED: &str = "added";
/// A member left the domain's setup.
pub const SETUP_REMOVED: &str = "removed";
/// The policy word of setup events (they are not listings: never alerts about lists).
pub const SETUP_POLICY: &str = "setup";

/// What a committed pass wrote besides what it was given.
#[derive(Debug, Clone, Default)]
pub struct Committed {
    /// The run's id.
    pub run: i64,
    /// The events recorded for targets no longer in the config.
    pub retired: Vec<Event>,
}

/// Filters of `history`.
#[derive(Debug, Clone, Default)]
pub struct HistoryFilter {
    /// Only this target (as configured) or address.
    pub target: Option<String>,
    /// Only this list.
    pub list: Option<String>,
    /// Only events at or after this time.
    pub since: Option<i64>,
}

/// An open store.
pub struct Store {
    conn: Connection,
    path: PathBuf,
    /// States of the pass under way, not yet in the temporary table (see `stage`).
    staged: Vec<StoredState>,
}

/// The columns of a state row, in the order `state_row` reads them.
const STATE_COLUMNS: &str =
    "address, list, target, label, policy, status, codes, meanings, txt, since, checked";

/// States staged per write to the temporary table.
const STAGE_BATCH: usize = 4096;

fn state_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<StoredState> {
    Ok(StoredState {
        address: r.get(0)?,
        list: r.get(1)?,
        target: r.get(2)?,
        label: r.get(3)?,
        policy: r.get(4)?,
        status: r.get(5)?,
        codes: json_list(&r.get::<_, String>(6)?),
        meanings: json_list(&r.get::<_, String>(7)?),
        txt: json_list(&r.get::<_, String>(8)?),
        since: r.get(9)?,
        checked: r.get(10)?,
    })
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
        let mut store = Store {
            conn,
            path: path.to_path_buf(),
            staged: Vec::new(),
        };
        store.migrate(version)?;
        Ok(store)
    }

    fn error(&self, e: rusqlite::Error) -> Error {
        Error::Store {
            path: self.path.display().to_string(),
            message: e.to_string(),
        }
    }

    fn migrate(&mut self, from: i64) -> Result<(), Error> {
        let start = usize::try_from(from).unwrap_or(0);
        if start >= schema::MIGRATIONS.len() {
            return Ok(());
        }
        let tx = self
            .conn
            .transaction()
            .map_err(|e| store_err(&self.path, e))?;
        for (index, sql) in schema::MIGRATIONS.iter().enumerate().skip(start) {
            tx.execute_batch(sql)
                .map_err(|e| store_err(&self.path, e))?;
            tx.pragma_update(
                None,
                "user_version",
                i64::try_from(index + 1).unwrap_or(i64::MAX),
            )
            .map_err(|e| store_err(&self.path, e))?;
        }
        tx.pragma_update(None, "application_id", schema::APPLICATION_ID)
            .map_err(|e| store_err(&self.path, e))?;
        tx.commit().map_err(|e| store_err(&self.path, e))
    }

    /// The store file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Every stored state, by (address, list).
    pub fn states(&self) -> Result<HashMap<(String, String), StoredState>, Error> {
        Ok(self
            .select_states("")?
            .into_iter()
            .map(|s| ((s.address.clone(), s.list.clone()), s))
            .collect())
    }

    /// The states worth a metric series each: every listing, and the clear pairs of targets
    /// that are one address or name (a range's clear addresses would be a series each).
    pub fn watched_states(&self) -> Result<Vec<StoredState>, Error> {
        self.select_states("WHERE status = 'listed' OR instr(target, '/') = 0")
    }

    /// When each target (as written in the config) last got a definite answer from any list.
    pub fn last_checked(&self) -> Result<HashMap<String, i64>, Error> {
        let mut stmt = self
            .conn
            .prepare("SELECT target, MAX(checked) FROM state GROUP BY target")
            .map_err(|e| self.error(e))?;
        let rows = stmt
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))
            .map_err(|e| self.error(e))?;
        rows.map(|row| row.map_err(|e| self.error(e))).collect()
    }

    /// Every stored listing, on blocklists and allowlists.
    pub fn listings(&self) -> Result<Vec<StoredState>, Error> {
        self.select_states("WHERE status = 'listed'")
    }

    /// The stored listings on blocklists.
    pub fn listed_states(&self) -> Result<Vec<StoredState>, Error> {
        self.select_states("WHERE status = 'listed' AND policy = 'block'")
    }

    fn select_states(&self, filter: &str) -> Result<Vec<StoredState>, Error> {
        let mut stmt = self
            .conn
            .prepare(&format!("SELECT {STATE_COLUMNS} FROM state {filter}"))
            .map_err(|e| self.error(e))?;
        let rows = stmt.query_map([], state_row).map_err(|e| self.error(e))?;
        rows.map(|row| row.map_err(|e| self.error(e))).collect()
    }

    /// The stored state of one pair.
    pub fn state(&self, address: &str, list: &str) -> Result<Option<StoredState>, Error> {
        self.conn
            .prepare_cached(&format!(
                "SELECT {STATE_COLUMNS} FROM state WHERE address = ?1 AND list = ?2"
            ))
            .and_then(|mut stmt| stmt.query_row(params![address, list], state_row).optional())
            .map_err(|e| self.error(e))
    }

    /// Starts a pass's staging: forgets whatever an abandoned pass staged.
    pub fn begin_staging(&mut self) -> Result<(), Error> {
        self.staged.clear();
        self.conn
            .execute_batch(
                "CREATE TEMP TABLE IF NOT EXISTS pass_state AS SELECT * FROM main.state WHERE 0;
                 DELETE FROM temp.pass_state;",
            )
            .map_err(|e| self.error(e))
    }

    /// Keeps a state to be written by the next `commit_pass`, in a temporary table rather
    /// than in memory, so a pass over a large range stays small; the store itself is not
    /// touched until the commit.
    pub fn stage(&mut self, state: StoredState) -> Result<(), Error> {
        self.staged.push(state);
        if self.staged.len() >= STAGE_BATCH {
            self.flush_staged()?;
        }
        Ok(())
    }

    fn flush_staged(&mut self) -> Result<(), Error> {
        if self.staged.is_empty() {
            return Ok(());
        }
        let path = self.path.clone();
        let e = |err: rusqlite::Error| store_err(&path, err);
        // Only the temporary database is written here: the store's file is not locked.
        let tx = self.conn.transaction().map_err(e)?;
        {
            let mut put = tx
                .prepare_cached(&format!(
                    "INSERT INTO temp.pass_state ({STATE_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"
                ))
                .map_err(e)?;
            for s in &self.staged {
                put_state(&mut put, s).map_err(e)?;
            }
        }
        tx.commit().map_err(e)?;
        self.staged.clear();
        Ok(())
    }

    /// The stored members of a watched mail domain (none: never read whole yet).
    pub fn domain_members(&self, domain: &str) -> Result<Vec<DomainMember>, Error> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT role, target, path, since FROM domain_members WHERE domain = ?1 ORDER BY role, target",
            )
            .map_err(|e| self.error(e))?;
        let rows = stmt
            .query_map([domain], |r| {
                Ok(DomainMember {
                    role: r.get(0)?,
                    target: r.get(1)?,
                    path: r.get(2)?,
                    since: r.get(3)?,
                })
            })
            .map_err(|e| self.error(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.error(e))
    }

    /// Each list's health in the last pass, by id.
    pub fn list_health(&self) -> Result<Vec<(String, String)>, Error> {
        let mut stmt = self
            .conn
            .prepare("SELECT list, health FROM list_health ORDER BY list")
            .map_err(|e| self.error(e))?;
        let rows = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(|e| self.error(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.error(e))
    }

    /// Every list's streak of passes without a definite answer.
    pub fn streaks(&self) -> Result<HashMap<String, Streak>, Error> {
        let mut stmt = self
            .conn
            .prepare("SELECT list, passes, since, detail FROM list_streaks")
            .map_err(|e| self.error(e))?;
        let rows = stmt
            .query_map([], |r| {
                Ok(Streak {
                    list: r.get(0)?,
                    passes: r.get(1)?,
                    since: r.get(2)?,
                    detail: r.get(3)?,
                })
            })
            .map_err(|e| self.error(e))?;
        let mut out = HashMap::new();
        for row in rows {
            let streak = row.map_err(|e| self.error(e))?;
            out.insert(streak.list.clone(), streak);
        }
        Ok(out)
    }

    /// Puts back the retired states of targets that are in the config again, so a target
    /// removed and added back keeps its history (and is not alerted as newly listed).
    pub fn restore_watched(&mut self, watched: &[String]) -> Result<(), Error> {
        let path = self.path.clone();
        let e = |err: rusqlite::Error| store_err(&path, err);
        let tx = self.conn.transaction().map_err(e)?;
        fill_watched(&tx, watched).map_err(e)?;
        tx.execute_batch(&format!(
            "INSERT OR IGNORE INTO main.state ({STATE_COLUMNS})
               SELECT {STATE_COLUMNS} FROM main.retired_state WHERE target IN (SELECT target FROM temp.watched);
             DELETE FROM main.retired_state WHERE target IN (SELECT target FROM temp.watched);"
        ))
        .map_err(e)?;
        tx.commit().map_err(e)
    }

    /// Writes a whole pass in one transaction; returns the run's id and what it retired.
    pub fn commit_pass(&mut self, pass: &PassWrite) -> Result<Committed, Error> {
        self.flush_staged()?;
        let staging = self
            .conn
            .query_row(
                "SELECT count(*) FROM temp.sqlite_master WHERE name = 'pass_state'",
                [],
                |r| r.get::<_, i64>(0),
            )
            .map_err(|e| self.error(e))?
            > 0;
        let path = self.path.clone();
        let e = |err: rusqlite::Error| store_err(&path, err);
        let tx = self.conn.transaction().map_err(e)?;
        let r = &pass.run;
        let count =
            |s: &str| i64::try_from(r.counts.get(s).copied().unwrap_or(0)).unwrap_or(i64::MAX);
        tx.execute(
            "INSERT INTO runs (started, finished, targets, answers, listed, clear, refused, bogus, error, unhealthy, events, unknown, problems)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
            params![
                r.started,
                r.finished,
                i64::try_from(r.targets).unwrap_or(i64::MAX),
                i64::try_from(r.answers).unwrap_or(i64::MAX),
                count("listed"),
                count("clear"),
                count("refused"),
                count("bogus"),
                count("error"),
                count("unhealthy"),
                i64::try_from(pass.events.len()).unwrap_or(i64::MAX),
                to_json(&r.unknown),
                to_json(&r.problems),
            ],
        )
        .map_err(e)?;
        let run = tx.last_insert_rowid();
        let retired = match &pass.watched {
            Some(watched) => retire(&tx, watched, run, r.finished).map_err(e)?,
            None => Vec::new(),
        };
        {
            let mut put = tx
                .prepare_cached(
                    "INSERT OR REPLACE INTO state (address, list, target, label, policy, status, codes, meanings, txt, since, checked)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
                )
                .map_err(e)?;
            for s in &pass.states {
                put_state(&mut put, s).map_err(e)?;
            }
            if staging {
                tx.execute_batch(&format!(
                    "INSERT OR REPLACE INTO main.state ({STATE_COLUMNS}) SELECT {STATE_COLUMNS} FROM temp.pass_state;
                     DELETE FROM temp.pass_state;"
                ))
                .map_err(e)?;
            }
            let mut add = tx
                .prepare_cached(
                    "INSERT INTO events (run, at, target, label, address, list, policy, old_status, new_status, old_codes, codes, meanings, txt, delist_url)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
                )
                .map_err(e)?;
            for ev in &pass.events {
                add.execute(params![
                    run,
                    ev.at,
                    ev.target,
                    ev.label,
                    ev.address,
                    ev.list,
                    ev.policy,
                    ev.old_status,
                    ev.new_status,
                    to_json(&ev.old_codes),
                    to_json(&ev.codes),
                    to_json(&ev.meanings),
                    to_json(&ev.txt),
                    ev.delist_url
                ])
                .map_err(e)?;
            }
            let mut streak = tx
                .prepare_cached("INSERT OR REPLACE INTO list_streaks (list, passes, since, detail) VALUES (?1, ?2, ?3, ?4)")
                .map_err(e)?;
            for s in &pass.streaks {
                streak
                    .execute(params![s.list, s.passes, s.since, s.detail])
                    .map_err(e)?;
            }
            if let Some(domains) = &pass.watched_domains {
                let mut stored = tx
                    .prepare("SELECT DISTINCT domain FROM domain_members")
                    .map_err(e)?;
                let gone: Vec<String> = stored
                    .query_map([], |row| row.get::<_, String>(0))
                    .map_err(e)?
                    .filter_map(Result::ok)
                    .filter(|d| !domains.contains(d))
                    .collect();
                for domain in gone {
                    tx.execute("DELETE FROM domain_members WHERE domain = ?1", [&domain])
                        .map_err(e)?;
                }
            }
            for (domain, members) in &pass.domains {
                tx.execute("DELETE FROM domain_members WHERE domain = ?1", [domain])
                    .map_err(e)?;
                let mut put = tx
                    .prepare_cached(
                        "INSERT OR REPLACE INTO domain_members (domain, role, target, path, since) VALUES (?1, ?2, ?3, ?4, ?5)",
                    )
                    .map_err(e)?;
                for m in members {
                    put.execute(params![domain, m.role, m.target, m.path, m.since])
                        .map_err(e)?;
                }
            }
            if let Some(health) = &pass.health {
                tx.execute("DELETE FROM list_health", []).map_err(e)?;
                let mut put = tx
                    .prepare_cached(
                        "INSERT OR REPLACE INTO list_health (list, health, checked) VALUES (?1, ?2, ?3)",
                    )
                    .map_err(e)?;
                for (list, state) in health {
                    put.execute(params![list, state, r.finished]).map_err(e)?;
                }
            }
            let mut queue = tx
                .prepare_cached(
                    "INSERT INTO outbox (run, created, channel, recipient, subject, body_text, body_html, attempts, next_attempt)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 0, ?8)",
                )
                .map_err(e)?;
            for item in &pass.outbox {
                queue
                    .execute(params![
                        run,
                        item.created,
                        item.channel,
                        item.recipient,
                        item.subject,
                        item.text,
                        item.html,
                        item.next_attempt
                    ])
                    .map_err(e)?;
            }
            let mut remind = tx
                .prepare_cached(
                    "INSERT OR REPLACE INTO reminders (address, list, at) VALUES (?1, ?2, ?3)",
                )
                .map_err(e)?;
            for (address, list) in &pass.reminded {
                remind
                    .execute(params![address, list, r.finished])
                    .map_err(e)?;
            }
            let mut used = tx
                .prepare_cached(
                    "INSERT INTO usage (list, day, queries) VALUES (?1, ?2, ?3)
                     ON CONFLICT (list, day) DO UPDATE SET queries = queries + excluded.queries",
                )
                .map_err(e)?;
            for (list, queries) in pass.usage.iter().filter(|(_, q)| *q > 0) {
                used.execute(params![
                    list,
                    pass.day,
                    i64::try_from(*queries).unwrap_or(i64::MAX)
                ])
                .map_err(e)?;
            }
            let mut done = tx
                .prepare_cached("DELETE FROM requests WHERE address = ?1 AND list = ?2")
                .map_err(e)?;
            for (address, list) in &pass.requests_done {
                done.execute(params![address, list]).map_err(e)?;
            }
        }
        tx.commit().map_err(e)?;
        Ok(Committed { run, retired })
    }

    /// The event log, newest first.
    pub fn history(&self, filter: &HistoryFilter) -> Result<Vec<Event>, Error> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT id, run, at, target, label, address, list, policy, old_status, new_status, old_codes, codes, meanings, txt, delist_url
                 FROM events
                 WHERE (?1 IS NULL OR target = ?1 OR address = ?1 OR label = ?1)
                   AND (?2 IS NULL OR list = ?2)
                   AND (?3 IS NULL OR at >= ?3)
                 ORDER BY at DESC, id DESC",
            )
            .map_err(|e| self.error(e))?;
        let rows = stmt
            .query_map(params![filter.target, filter.list, filter.since], |r| {
                Ok(Event {
                    id: r.get(0)?,
                    run: r.get(1)?,
                    at: r.get(2)?,
                    target: r.get(3)?,
                    label: r.get(4)?,
                    address: r.get(5)?,
                    list: r.get(6)?,
                    policy: r.get(7)?,
                    old_status: r.get(8)?,
                    new_status: r.get(9)?,
                    old_codes: json_list(&r.get::<_, String>(10)?),
                    codes: json_list(&r.get::<_, String>(11)?),
                    meanings: json_list(&r.get::<_, String>(12)?),
                    txt: json_list(&r.get::<_, String>(13)?),
                    delist_url: r.get(14)?,
                })
            })
            .map_err(|e| self.error(e))?;
        rows.collect::<Result<Vec<_>, _>>()
            .map_err(|e| self.error(e))
    }

    /// The last `limit` runs, newest first.
    pub fn runs(&self, limit: usize) -> Result<Vec<RunRecord>, Error> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT id, started, finished, targets, answers, listed, clear, refused, bogus, error, unhealthy, events, unknown, problems
                 FROM runs ORDER BY id DESC LIMIT ?1",
            )
            .map_err(|e| self.error(e))?;
        let rows = stmt
            .query_map(params![i64::try_from(limit).unwrap_or(i64::MAX)], |r| {
                let mut counts = BTreeMap::new();
                for (i, name) in ["listed", "clear", "refused", "bogus", "error", "unhealthy"]
                    .iter()
                    .enumerate()
                {
                    counts.insert(name.to_string(), count_at(r, 5 + i)?);
                }
                Ok(RunRecord {
                    id: r.get(0)?,
                    started: r.get(1)?,
                    finished: r.get(2)?,
                    targets: count_at(r, 3)?,
                    answers: count_at(r, 4)?,
                    counts,
                    events: count_at(r, 11)?,
                    unknown: serde_json::from_str(&r.get::<_, String>(12)?).unwrap_or_default(),
                    problems: json_list(&r.get::<_, String>(13)?),
                })
            })
            .map_err(|e| self.error(e))?;
        rows.collect::<Result<Vec<_>, _>>()
            .map_err(|e| self.error(e))
    }

    /// Deletes run rows older than `before`, the states of targets retired before then, and
    /// events too when `events` is set. Returns how many runs, events and retired states were
    /// deleted.
    pub fn prune(&mut self, before: i64, events: bool) -> Result<(usize, usize, usize), Error> {
        let path = self.path.clone();
        let e = |err: rusqlite::Error| store_err(&path, err);
        let tx = self.conn.transaction().map_err(e)?;
        let runs = tx
            .execute("DELETE FROM runs WHERE finished < ?1", params![before])
            .map_err(e)?;
        let gone = if events {
            tx.execute("DELETE FROM events WHERE at < ?1", params![before])
                .map_err(e)?
        } else {
            0
        };
        let retired = tx
            .execute(
                "DELETE FROM retired_state WHERE retired < ?1",
                params![before],
            )
            .map_err(e)?;
        tx.commit().map_err(e)?;
        Ok((runs, gone, retired))
    }

    /// Removal requests by (address, list): when each was made.
    pub fn requests(&self) -> Result<HashMap<(String, String), i64>, Error> {
        self.pairs("SELECT address, list, requested FROM requests")
    }

    /// When each (address, list) was last reminded of.
    pub fn reminders(&self) -> Result<HashMap<(String, String), i64>, Error> {
        self.pairs("SELECT address, list, at FROM reminders")
    }

    fn pairs(&self, sql: &str) -> Result<HashMap<(String, String), i64>, Error> {
        let mut stmt = self.conn.prepare(sql).map_err(|e| self.error(e))?;
        let rows = stmt
            .query_map([], |r| Ok(((r.get(0)?, r.get(1)?), r.get(2)?)))
            .map_err(|e| self.error(e))?;
        rows.collect::<Result<HashMap<_, _>, _>>()
            .map_err(|e| self.error(e))
    }

    /// Queries sent to each list on `day` (UTC days since 1970) by earlier passes.
    pub fn usage(&self, day: i64) -> Result<HashMap<String, u64>, Error> {
        let mut stmt = self
            .conn
            .prepare("SELECT list, queries FROM usage WHERE day = ?1")
            .map_err(|e| self.error(e))?;
        let rows = stmt
            .query_map(params![day], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    u64::try_from(r.get::<_, i64>(1)?).unwrap_or(0),
                ))
            })
            .map_err(|e| self.error(e))?;
        rows.collect::<Result<HashMap<_, _>, _>>()
            .map_err(|e| self.error(e))
    }

    /// Records that removal of a listing was requested.
    pub fn add_request(&mut self, address: &str, list: &str, at: i64) -> Result<(), Error> {
        self.conn
            .execute(
                "INSERT OR REPLACE INTO requests (address, list, requested) VALUES (?1, ?2, ?3)",
                params![address, list, at],
            )
            .map(|_| ())
            .map_err(|e| self.error(e))
    }

    /// Notifications not sent and not given up on; only those due by `now` when given.
    pub fn outbox_pending(&self, due_by: Option<i64>) -> Result<Vec<OutboxItem>, Error> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT id, run, created, channel, recipient, subject, body_text, body_html, attempts, next_attempt, last_error, sent, failed
                 FROM outbox WHERE sent IS NULL AND failed IS NULL AND (?1 IS NULL OR next_attempt <= ?1) ORDER BY id",
            )
            .map_err(|e| self.error(e))?;
        let rows = stmt
            .query_map(params![due_by], outbox_row)
            .map_err(|e| self.error(e))?;
        rows.collect::<Result<Vec<_>, _>>()
            .map_err(|e| self.error(e))
    }

    /// Notifications given up on, newest first.
    pub fn outbox_failed(&self) -> Result<Vec<OutboxItem>, Error> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT id, run, created, channel, recipient, subject, body_text, body_html, attempts, next_attempt, last_error, sent, failed
                 FROM outbox WHERE failed IS NOT NULL ORDER BY id DESC",
            )
            .map_err(|e| self.error(e))?;
        let rows = stmt.query_map([], outbox_row).map_err(|e| self.error(e))?;
        rows.collect::<Result<Vec<_>, _>>()
            .map_err(|e| self.error(e))
    }

    /// Marks a notification accepted by its server: it is never sent again.
    pub fn outbox_sent(&mut self, id: i64, at: i64) -> Result<(), Error> {
        self.conn
            .execute("UPDATE outbox SET sent = ?2, attempts = attempts + 1, last_error = NULL WHERE id = ?1", params![id, at])
            .map(|_| ())
            .map_err(|e| self.error(e))
    }

    /// Records a failed attempt; `give_up` marks it failed (kept, never dropped).
    pub fn outbox_attempt_failed(
        &mut self,
        id: i64,
        error: &str,
        next_attempt: i64,
        give_up: Option<i64>,
    ) -> Result<(), Error> {
        self.conn
            .execute(
                "UPDATE outbox SET attempts = attempts + 1, last_error = ?2, next_attempt = ?3, failed = ?4 WHERE id = ?1",
                params![id, error, next_attempt, give_up],
            )
            .map(|_| ())
            .map_err(|e| self.error(e))
    }

    /// The id of the newest run, if any.
    pub fn last_run(&self) -> Result<Option<i64>, Error> {
        self.conn
            .query_row("SELECT max(id) FROM runs", [], |r| {
                r.get::<_, Option<i64>>(0)
            })
            .optional()
            .map(Option::flatten)
            .map_err(|e| self.error(e))
    }
}

fn outbox_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<OutboxItem> {
    Ok(OutboxItem {
        id: r.get(0)?,
        run: r.get(1)?,
        created: r.get(2)?,
        channel: r.get(3)?,
        recipient: r.get(4)?,
        subject: r.get(5)?,
        text: r.get(6)?,
        html: r.get(7)?,
        attempts: r.get(8)?,
        next_attempt: r.get(9)?,
        last_error: r.get(10)?,
        sent: r.get(11)?,
        failed: r.get(12)?,
    })
}

fn count_at(row: &rusqlite::Row<'_>, index: usize) -> rusqlite::Result<usize> {
    row.get::<_, i64>(index)
        .map(|n| usize::try_from(n).unwrap_or(0))
}

fn store_err(path: &Path, e: rusqlite::Error) -> Error {
    Error::Store {
        path: path.display().to_string(),
        message: e.to_string(),
    }
}

/// Writes one state row with `stmt` (an INSERT of `STATE_COLUMNS`).
/// The new status of the event that records a target leaving the config.
pub const UNWATCHED: &str = "unwatched";

/// Fills `temp.watched` with the config's targets.
fn fill_watched(tx: &rusqlite::Transaction<'_>, watched: &[String]) -> rusqlite::Result<()> {
    tx.execute_batch(
        "CREATE TEMP TABLE IF NOT EXISTS watched (target TEXT PRIMARY KEY); DELETE FROM temp.watched;",
    )?;
    let mut put = tx.prepare_cached("INSERT OR IGNORE INTO temp.watched (target) VALUES (?1)")?;
    for target in watched {
        put.execute(params![target])?;
    }
    Ok(())
}

/// Moves the states of targets not in `watched` to `retired_state` and records an event
/// for each such target; returns the events.
fn retire(
    tx: &rusqlite::Transaction<'_>,
    watched: &[String],
    run: i64,
    at: i64,
) -> rusqlite::Result<Vec<Event>> {
    fill_watched(tx, watched)?;
    let gone: Vec<(String, Option<String>, usize)> = {
        let mut stmt = tx.prepare(
            "SELECT target, MAX(label), count(*) FROM main.state
             WHERE target NOT IN (SELECT target FROM temp.watched) GROUP BY target ORDER BY target",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                usize::try_from(r.get::<_, i64>(2)?).unwrap_or(0),
            ))
        })?;
        rows.collect::<rusqlite::Result<_>>()?
    };
    if gone.is_empty() {
        return Ok(Vec::new());
    }
    tx.execute(
        &format!(
            "INSERT OR REPLACE INTO main.retired_state ({STATE_COLUMNS}, retired)
               SELECT {STATE_COLUMNS}, ?1 FROM main.state WHERE target NOT IN (SELECT target FROM temp.watched)"
        ),
        params![at],
    )?;
    tx.execute(
        "DELETE FROM main.state WHERE target NOT IN (SELECT target FROM temp.watched)",
        [],
    )?;
    let mut add = tx.prepare_cached(
        "INSERT INTO events (run, at, target, label, address, list, policy, old_status, new_status, old_codes, codes, meanings, txt, delist_url)
         VALUES (?1, ?2, ?3, ?4, ?3, '-', '-', 'watched', ?5, '[]', '[]', ?6, '[]', NULL)",
    )?;
    let mut events = Vec::new();
    for (target, label, pairs) in gone {
        let meanings = vec![format!(
            "no longer in the config; its {pairs} stored state(s) are kept until `rblwatch prune`"
        )];
        add.execute(params![
            run,
            at,
            target,
            label,
            UNWATCHED,
            to_json(&meanings)
        ])?;
        events.push(Event {
            id: tx.last_insert_rowid(),
            run,
            at,
            target: target.clone(),
            label,
            address: target,
            list: "-".into(),
            policy: "-".into(),
            old_status: Some("watched".into()),
            new_status: UNWATCHED.into(),
            old_codes: Vec::new(),
            codes: Vec::new(),
            meanings,
            txt: Vec::new(),
            delist_url: None,
        });
    }
    Ok(events)
}

fn put_state(stmt: &mut rusqlite::CachedStatement<'_>, s: &StoredState) -> rusqlite::Result<usize> {
    stmt.execute(params![
        s.address,
        s.list,
        s.target,
        s.label,
        s.policy,
        s.status,
        to_json(&s.codes),
        to_json(&s.meanings),
        to_json(&s.txt),
        s.since,
        s.checked
    ])
}

fn to_json<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "[]".into())
}

fn json_list(text: &str) -> Vec<String> {
    serde_json::from_str(text).unwrap_or_default()
}

#[cfg(test)]
mod tests {
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
