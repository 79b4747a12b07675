//! One row per pass, each list's streak of passes without a definite answer, and each list's
//! health in the last pass.

use serde::Serialize;
use std::collections::{BTreeMap, HashMap};

use super::sql::args;
use super::*;

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

/// A daemon working on the store, as it last said.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Worker {
    /// `host:pid`.
    pub name: String,
    /// Its machine.
    pub host: String,
    /// Its process.
    pub pid: i64,
    /// Its rblwatch version.
    pub version: String,
    /// When it started (Unix seconds).
    pub started: i64,
    /// When it was last seen.
    pub seen: i64,
}

/// Workers not seen for this long are forgotten.
const WORKER_FORGOTTEN: i64 = 7 * 86_400;

impl Store {
    /// Records that `worker` is alive at `worker.seen`, and forgets workers long gone.
    pub fn heartbeat(&mut self, worker: &Worker) -> Result<(), Error> {
        self.conn
            .transaction(|conn| {
                conn.execute(
                    "INSERT INTO workers (name, host, pid, version, started, seen) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                     ON CONFLICT (name) DO UPDATE SET version = excluded.version, started = excluded.started, seen = excluded.seen",
                    args![&worker.name, &worker.host, worker.pid, &worker.version, worker.started, worker.seen],
                )?;
                conn.execute(
                    "DELETE FROM workers WHERE seen < ?1",
                    args![worker.seen - WORKER_FORGOTTEN],
                )?;
                Ok(())
            })
            .map_err(|e| self.error(e))
    }

    /// The workers seen since `since`, most recently seen first.
    pub fn workers(&self, since: i64) -> Result<Vec<Worker>, Error> {
        let rows = self
            .conn
            .query(
                "SELECT name, host, pid, version, started, seen FROM workers WHERE seen >= ?1 ORDER BY seen DESC, name",
                args![since],
            )
            .map_err(|e| self.error(e))?;
        Ok(rows
            .iter()
            .map(|r| Worker {
                name: r.text(0),
                host: r.text(1),
                pid: r.int(2),
                version: r.text(3),
                started: r.int(4),
                seen: r.int(5),
            })
            .collect())
    }

    /// Each list's health in the last pass, by id.
    pub fn list_health(&self) -> Result<Vec<(String, String)>, Error> {
        let rows = self
            .conn
            .query("SELECT list, health FROM list_health ORDER BY list", &[])
            .map_err(|e| self.error(e))?;
        Ok(rows.iter().map(|r| (r.text(0), r.text(1))).collect())
    }

    /// Every list's streak of passes without a definite answer.
    pub fn streaks(&self) -> Result<HashMap<String, Streak>, Error> {
        let rows = self
            .conn
            .query("SELECT list, passes, since, detail FROM list_streaks", &[])
            .map_err(|e| self.error(e))?;
        Ok(rows
            .iter()
            .map(|r| {
                let streak = Streak {
                    list: r.text(0),
                    passes: u32::try_from(r.int(1)).unwrap_or(u32::MAX),
                    since: r.int(2),
                    detail: r.text(3),
                };
                (streak.list.clone(), streak)
            })
            .collect())
    }

    /// The last `limit` runs, newest first.
    pub fn runs(&self, limit: usize) -> Result<Vec<RunRecord>, Error> {
        let rows = self
            .conn
            .query(
                "SELECT id, started, finished, targets, answers, listed, clear, refused, bogus, error, unhealthy, events, unknown, problems
                 FROM runs ORDER BY id DESC LIMIT ?1",
                args![i64::try_from(limit).unwrap_or(i64::MAX)],
            )
            .map_err(|e| self.error(e))?;
        let count = |r: &super::sql::Row, i: usize| usize::try_from(r.int(i)).unwrap_or(0);
        Ok(rows
            .iter()
            .map(|r| {
                let counts = ["listed", "clear", "refused", "bogus", "error", "unhealthy"]
                    .iter()
                    .enumerate()
                    .map(|(i, name)| (name.to_string(), count(r, 5 + i)))
                    .collect();
                RunRecord {
                    id: r.int(0),
                    started: r.int(1),
                    finished: r.int(2),
                    targets: count(r, 3),
                    answers: count(r, 4),
                    counts,
                    events: count(r, 11),
                    unknown: serde_json::from_str(&r.text(12)).unwrap_or_default(),
                    problems: json_list(&r.text(13)),
                }
            })
            .collect())
    }

    /// The run that was made for schedule slot `slot`, if one was.
    pub fn slot_run(&self, slot: i64) -> Result<Option<i64>, Error> {
        self.conn
            .query_one("SELECT id FROM runs WHERE slot = ?1", args![slot])
            .map(|row| row.and_then(|r| r.opt_int(0)))
            .map_err(|e| self.error(e))
    }

    /// The id of the newest run, if any.
    pub fn last_run(&self) -> Result<Option<i64>, Error> {
        self.conn
            .query_one("SELECT max(id) FROM runs", &[])
            .map(|row| row.and_then(|r| r.opt_int(0)))
            .map_err(|e| self.error(e))
    }

    /// When the oldest pass still on record started: before it the store knows nothing.
    pub fn first_run_start(&self) -> Result<Option<i64>, Error> {
        self.conn
            .query_one("SELECT min(started) FROM runs", &[])
            .map(|row| row.and_then(|r| r.opt_int(0)))
            .map_err(|e| self.error(e))
    }
}
