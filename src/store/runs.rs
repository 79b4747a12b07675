//! One row per pass, each list's streak of passes without a definite answer, and each list's
//! health in the last pass.

use rusqlite::{OptionalExtension, params};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};

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

impl Store {
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
