//! The current state of each (address, list) pair: reading it, staging a pass's new states in
//! a temporary table as answers come, and setting aside the states of targets no longer watched.

use serde::Serialize;
use std::collections::HashMap;

use super::sql::{Conn, Row, args};
use super::*;

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

#[cfg(test)]
impl StoredState {
    /// 192.0.2.5 listed on `list` with 127.0.0.2 since `since`, for unit tests.
    pub(crate) fn listed_for_test(list: &str, since: i64) -> StoredState {
        StoredState {
            address: "192.0.2.5".into(),
            list: list.into(),
            target: "192.0.2.5".into(),
            label: None,
            policy: "block".into(),
            status: "listed".into(),
            codes: vec!["127.0.0.2".into()],
            meanings: vec!["127.0.0.2: listed".into()],
            txt: vec![],
            since,
            checked: since,
        }
    }
}

/// The columns of a state row, in the order `state_row` reads them.
pub(super) const STATE_COLUMNS: &str =
    "address, list, target, label, policy, status, codes, meanings, txt, since, checked";

/// States staged per write to the temporary table.
pub(super) const STAGE_BATCH: usize = 4096;

fn state_row(r: &Row) -> StoredState {
    state_row_at(r, 0)
}

/// The state whose columns (`STATE_COLUMNS`) start at column `at` of a row.
pub(super) fn state_row_at(r: &Row, at: usize) -> StoredState {
    StoredState {
        address: r.text(at),
        list: r.text(at + 1),
        target: r.text(at + 2),
        label: r.opt_text(at + 3),
        policy: r.text(at + 4),
        status: r.text(at + 5),
        codes: json_list(&r.text(at + 6)),
        meanings: json_list(&r.text(at + 7)),
        txt: json_list(&r.text(at + 8)),
        since: r.int(at + 9),
        checked: r.int(at + 10),
    }
}

/// The new status of the event that records a target leaving the config.
pub const UNWATCHED: &str = "unwatched";

/// Fills `temp.watched` with the config's targets.
fn fill_watched(conn: &Conn, watched: &[String]) -> Result<(), String> {
    conn.batch("CREATE TEMP TABLE IF NOT EXISTS watched (target TEXT PRIMARY KEY); DELETE FROM temp.watched;")?;
    for target in watched {
        conn.execute(
            "INSERT INTO temp.watched (target) VALUES (?1) ON CONFLICT DO NOTHING",
            args![target],
        )?;
    }
    Ok(())
}

/// Moves the states of targets not in `watched` to `retired_state` and records an event
/// for each such target; returns the events. Runs inside the caller's transaction.
pub(super) fn retire(
    conn: &Conn,
    watched: &[String],
    run: i64,
    at: i64,
) -> Result<Vec<Event>, String> {
    fill_watched(conn, watched)?;
    let gone: Vec<(String, Option<String>, i64)> = conn
        .query(
            "SELECT target, MAX(label), count(*) FROM main.state
             WHERE target NOT IN (SELECT target FROM temp.watched) GROUP BY target ORDER BY target",
            &[],
        )?
        .iter()
        .map(|r| (r.text(0), r.opt_text(1), r.int(2)))
        .collect();
    if gone.is_empty() {
        return Ok(Vec::new());
    }
    conn.execute(
        &format!(
            "INSERT INTO main.retired_state ({STATE_COLUMNS}, retired)
               SELECT {STATE_COLUMNS}, ?1 FROM main.state WHERE target NOT IN (SELECT target FROM temp.watched)
             ON CONFLICT (address, list) DO UPDATE SET {}, retired = excluded.retired",
            update_all()
        ),
        args![at],
    )?;
    conn.execute(
        "DELETE FROM main.state WHERE target NOT IN (SELECT target FROM temp.watched)",
        &[],
    )?;
    let mut events = Vec::new();
    for (target, label, pairs) in gone {
        let meanings = vec![format!(
            "no longer in the config; its {pairs} stored state(s) are kept until `rblwatch prune`"
        )];
        let id = conn
            .query_one(
                "INSERT INTO events (run, at, target, label, address, list, policy, old_status, new_status, old_codes, codes, meanings, txt, delist_url)
                 VALUES (?1, ?2, ?3, ?4, ?3, '-', '-', 'watched', ?5, '[]', '[]', ?6, '[]', NULL) RETURNING id",
                args![run, at, &target, &label, UNWATCHED, to_json(&meanings)],
            )?
            .map_or(0, |r| r.int(0));
        events.push(Event {
            id,
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

/// `col = excluded.col` for every state column but the key: an upsert that replaces a row.
pub(super) fn update_all() -> String {
    STATE_COLUMNS
        .split(", ")
        .filter(|c| *c != "address" && *c != "list")
        .map(|c| format!("{c} = excluded.{c}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// State rows written by one INSERT (11 parameters each).
const ROWS_PER_INSERT: usize = 256;

/// Writes state rows into `table` in one statement (replacing the pairs' rows, if any).
fn put_states(conn: &Conn, table: &str, states: &[StoredState]) -> Result<u64, String> {
    let slots: Vec<String> = (0..states.len())
        .map(|row| {
            let cells: Vec<String> = (1..=11).map(|c| format!("?{}", row * 11 + c)).collect();
            format!("({})", cells.join(", "))
        })
        .collect();
    let params: Vec<super::sql::Param> = states
        .iter()
        .flat_map(|s| {
            [
                (&s.address).into(),
                (&s.list).into(),
                (&s.target).into(),
                (&s.label).into(),
                (&s.policy).into(),
                (&s.status).into(),
                to_json(&s.codes).into(),
                to_json(&s.meanings).into(),
                to_json(&s.txt).into(),
                s.since.into(),
                s.checked.into(),
            ]
        })
        .collect();
    conn.execute(
        &format!(
            "INSERT INTO {table} ({STATE_COLUMNS}) VALUES {}
             ON CONFLICT (address, list) DO UPDATE SET {}",
            slots.join(", "),
            update_all()
        ),
        &params,
    )
}

/// States in COPY's text format. The database loads them while the pass goes on.
fn copy_rows(states: &[StoredState]) -> String {
    let mut out = String::with_capacity(states.len() * 96);
    for s in states {
        let (codes, meanings, txt) = (to_json(&s.codes), to_json(&s.meanings), to_json(&s.txt));
        let (since, checked) = (s.since.to_string(), s.checked.to_string());
        super::sql::copy_row(
            &mut out,
            &[
                Some(&s.address),
                Some(&s.list),
                Some(&s.target),
                s.label.as_deref(),
                Some(&s.policy),
                Some(&s.status),
                Some(&codes),
                Some(&meanings),
                Some(&txt),
                Some(&since),
                Some(&checked),
            ],
        );
    }
    out
}

/// Writes one state row into `table` (replacing the pair's row, if any).
pub(super) fn put_state(conn: &Conn, table: &str, s: &StoredState) -> Result<u64, String> {
    conn.execute(
        &format!(
            "INSERT INTO {table} ({STATE_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
             ON CONFLICT (address, list) DO UPDATE SET {}",
            update_all()
        ),
        args![
            &s.address,
            &s.list,
            &s.target,
            &s.label,
            &s.policy,
            &s.status,
            to_json(&s.codes),
            to_json(&s.meanings),
            to_json(&s.txt),
            s.since,
            s.checked
        ],
    )
}

impl Store {
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
        self.select_states("WHERE status = 'listed' OR target NOT LIKE '%/%'")
    }

    /// When each target (as written in the config) last got a definite answer from any list.
    pub fn last_checked(&self) -> Result<HashMap<String, i64>, Error> {
        let rows = self
            .conn
            .query(
                "SELECT target, MAX(checked) FROM state GROUP BY target",
                &[],
            )
            .map_err(|e| self.error(e))?;
        Ok(rows.iter().map(|r| (r.text(0), r.int(1))).collect())
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
        let rows = self
            .conn
            .query(&format!("SELECT {STATE_COLUMNS} FROM state {filter}"), &[])
            .map_err(|e| self.error(e))?;
        Ok(rows.iter().map(state_row).collect())
    }

    /// The stored state of one pair.
    pub fn state(&self, address: &str, list: &str) -> Result<Option<StoredState>, Error> {
        self.conn
            .query_one(
                &format!("SELECT {STATE_COLUMNS} FROM state WHERE address = ?1 AND list = ?2"),
                args![address, list],
            )
            .map(|row| row.as_ref().map(state_row))
            .map_err(|e| self.error(e))
    }

    /// The stored states of these pairs (those that have one), in one query.
    pub fn states_of(
        &self,
        pairs: &[(String, String)],
    ) -> Result<HashMap<(String, String), StoredState>, Error> {
        if pairs.is_empty() {
            return Ok(HashMap::new());
        }
        let slots: Vec<String> = (0..pairs.len())
            .map(|i| format!("(?{}, ?{})", 2 * i + 1, 2 * i + 2))
            .collect();
        let params: Vec<super::sql::Param> = pairs
            .iter()
            .flat_map(|(address, list)| [address.into(), list.into()])
            .collect();
        let rows = self
            .conn
            .query(
                &format!(
                    "SELECT {STATE_COLUMNS} FROM state WHERE (address, list) IN (VALUES {})",
                    slots.join(", ")
                ),
                &params,
            )
            .map_err(|e| self.error(e))?;
        Ok(rows
            .iter()
            .map(state_row)
            .map(|s| ((s.address.clone(), s.list.clone()), s))
            .collect())
    }

    /// Starts a pass's staging: forgets whatever an abandoned pass staged.
    pub fn begin_staging(&mut self) -> Result<(), Error> {
        self.staged.clear();
        // PostgreSQL loads the staged states with COPY, into a table without a key (`seq`
        // keeps their order: the last of a pair wins at the commit); SQLite upserts them
        // into a keyed one.
        let tables = if self.conn.is_postgres() {
            "CREATE TEMP TABLE IF NOT EXISTS pass_copy (LIKE state, seq BIGSERIAL);
             TRUNCATE pg_temp.pass_copy"
        } else {
            "CREATE TEMP TABLE IF NOT EXISTS pass_state AS SELECT * FROM main.state WHERE false;
             DELETE FROM temp.pass_state;
             CREATE UNIQUE INDEX IF NOT EXISTS temp.pass_state_key ON pass_state (address, list)"
        };
        self.conn.batch(tables).map_err(|e| self.error(e))?;
        self.staging = true;
        Ok(())
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

    pub(super) fn flush_staged(&mut self) -> Result<(), Error> {
        if self.staged.is_empty() {
            return Ok(());
        }
        // Only the connection's temporary table is written here: the store is not locked.
        let staged = std::mem::take(&mut self.staged);
        if self.conn.is_postgres() {
            return self
                .conn
                .copy_later(
                    &format!("COPY temp.pass_copy ({STATE_COLUMNS}) FROM STDIN"),
                    copy_rows(&staged),
                )
                .map_err(|e| self.error(e));
        }
        // Many rows per statement: one round trip per row would dominate on a networked store.
        self.conn
            .transaction(|conn| {
                for chunk in staged.chunks(ROWS_PER_INSERT) {
                    put_states(conn, "temp.pass_state", chunk)?;
                }
                Ok(())
            })
            .map_err(|e| self.error(e))
    }

    /// Puts back the retired states of targets that are in the config again, so a target
    /// removed and added back keeps its history (and is not alerted as newly listed).
    pub fn restore_watched(&mut self, watched: &[String]) -> Result<(), Error> {
        self.conn
            .transaction(|conn| {
                fill_watched(conn, watched)?;
                conn.execute(
                    &format!(
                        "INSERT INTO main.state ({STATE_COLUMNS})
                           SELECT {STATE_COLUMNS} FROM main.retired_state WHERE target IN (SELECT target FROM temp.watched)
                         ON CONFLICT (address, list) DO NOTHING"
                    ),
                    &[],
                )?;
                conn.execute(
                    "DELETE FROM main.retired_state WHERE target IN (SELECT target FROM temp.watched)",
                    &[],
                )?;
                Ok(())
            })
            .map_err(|e| self.error(e))
    }
}
