//! The current state of each (address, list) pair: reading it, staging a pass's new states in
//! a temporary table as answers come, and setting aside the states of targets no longer watched.

use rusqlite::{OptionalExtension, params};
use serde::Serialize;
use std::collections::HashMap;

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

/// The columns of a state row, in the order `state_row` reads them.
pub(super) const STATE_COLUMNS: &str =
    "address, list, target, label, policy, status, codes, meanings, txt, since, checked";

/// States staged per write to the temporary table.
pub(super) const STAGE_BATCH: usize = 4096;

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
pub(super) fn retire(
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

pub(super) fn put_state(
    stmt: &mut rusqlite::CachedStatement<'_>,
    s: &StoredState,
) -> rusqlite::Result<usize> {
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

    pub(super) fn flush_staged(&mut self) -> Result<(), Error> {
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
}
