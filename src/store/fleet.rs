//! A pass shared by the workers of a fleet (PostgreSQL): its work in shards that workers
//! lease with `FOR UPDATE SKIP LOCKED` until an expiry, the answers of each shard kept until
//! all are in, and one worker's claim to evaluate and commit the pass.
//!
//! A lease that expires (its worker died, or is too slow) makes the shard free again; a
//! worker finishing a shard it no longer holds writes nothing. Answers are replaced whole per
//! shard, so a shard done twice is still asked once in the pass's record.

use super::sql::args;
use super::states::state_row_at;
use super::*;

/// One shard as leased: its number, the configured target it belongs to, and the part of it
/// to ask (the target itself, or a piece of its range).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shard {
    /// Its number in the pass.
    pub n: i64,
    /// The target as configured.
    pub target: String,
    /// What to ask: the target, or a network inside it.
    pub part: String,
}

/// A stored answer read back for the evaluation, with the pair's stored state.
pub struct Replayed {
    /// Its shard.
    pub n: i64,
    /// Its place in the shard.
    pub seq: i64,
    /// The answer.
    pub answer: FleetAnswer,
    /// The pair's state before this pass (None: it has none).
    pub stored: Option<StoredState>,
}

/// Answers asked for and not yet taken (`Store::fleet_answers_ask`).
pub struct AnswersAhead(super::sql::Pending);

/// One answer of a shard, as kept until the pass is evaluated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FleetAnswer {
    /// The target as configured.
    pub target: String,
    /// The address or name asked.
    pub address: String,
    /// The list id.
    pub list: String,
    /// The name queried.
    pub query: String,
    /// The status word.
    pub status: String,
    /// The A records.
    pub codes: Vec<String>,
    /// Their meanings.
    pub meanings: Vec<String>,
    /// The TXT reasons.
    pub txt: Vec<String>,
    /// Why, for answers that are not a plain listing or clear.
    pub detail: Option<String>,
    /// The delisting link.
    pub delist_url: Option<String>,
    /// How long the query took.
    pub elapsed_ms: i64,
}

/// What a done shard says of the lists and the queries it sent, as JSON texts.
#[derive(Debug, Clone, Default)]
pub struct ShardSummary {
    /// The lists' health as the shard's worker found it.
    pub health: String,
    /// Queries sent per list.
    pub sent: String,
    /// Notes of its run.
    pub notes: String,
}

impl Store {
    /// Makes the fleet pass of `slot` with these shards, unless a worker already did;
    /// returns whether this call made it.
    pub fn fleet_open(
        &mut self,
        slot: i64,
        shards: &[(String, String)],
        now: i64,
    ) -> Result<bool, Error> {
        self.conn
            .transaction(|conn| {
                let made = conn.execute(
                    "INSERT INTO fleet_passes (slot, state, created) VALUES (?1, 'open', ?2) ON CONFLICT DO NOTHING",
                    args![slot, now],
                )? == 1;
                if made {
                    for (n, (target, part)) in shards.iter().enumerate() {
                        conn.execute(
                            "INSERT INTO fleet_shards (slot, n, target, part, state) VALUES (?1, ?2, ?3, ?4, 'todo')",
                            args![slot, i64::try_from(n).unwrap_or(i64::MAX), target, part],
                        )?;
                    }
                }
                Ok(made)
            })
            .map_err(|e| self.error(e))
    }

    /// Takes the next free shard of `slot` (never taken, or whose lease expired) until
    /// `until`. Rows another worker is taking are skipped, not waited for.
    pub fn fleet_lease(
        &mut self,
        slot: i64,
        worker: &str,
        now: i64,
        until: i64,
    ) -> Result<Option<Shard>, Error> {
        self.conn
            .query_one(
                "UPDATE fleet_shards SET state = 'leased', worker = ?2, lease_until = ?4
                 WHERE (slot, n) IN (
                     SELECT slot, n FROM fleet_shards
                     WHERE slot = ?1 AND (state = 'todo' OR (state = 'leased' AND lease_until < ?3))
                     ORDER BY n LIMIT 1 FOR UPDATE SKIP LOCKED)
                 RETURNING n, target, part",
                args![slot, worker, now, until],
            )
            .map(|row| {
                row.map(|r| Shard {
                    n: r.int(0),
                    target: r.text(1),
                    part: r.text(2),
                })
            })
            .map_err(|e| self.error(e))
    }

    /// Stores a shard's answers and marks it done, if `worker` still holds it; returns whether
    /// it did (false: the lease was lost, nothing is written).
    /// The queries it sent (`sent`, per list) count against the lists' daily limits of `day`
    /// at once, so the other workers' shards see them.
    #[allow(clippy::too_many_arguments)]
    pub fn fleet_finish(
        &mut self,
        slot: i64,
        n: i64,
        worker: &str,
        answers: &[FleetAnswer],
        summary: &ShardSummary,
        sent: &[(String, u64)],
        day: i64,
    ) -> Result<bool, Error> {
        self.conn
            .transaction(|conn| {
                let held = conn.execute(
                    "UPDATE fleet_shards SET state = 'done', health = ?4, sent = ?5, notes = ?6
                     WHERE slot = ?1 AND n = ?2 AND worker = ?3 AND state = 'leased'",
                    args![slot, n, worker, &summary.health, &summary.sent, &summary.notes],
                )? == 1;
                if !held {
                    return Err(LOST.into());
                }
                conn.execute(
                    "DELETE FROM fleet_answers WHERE slot = ?1 AND n = ?2",
                    args![slot, n],
                )?;
                // Loaded while the usage rows below are sent; their answer says it worked.
                conn.copy_later(
                    &format!("COPY fleet_answers ({ANSWER_COLUMNS}) FROM STDIN"),
                    copy_answers(slot, n, answers),
                )?;
                // Last, and in list order: every worker's shard adds to the same rows, and
                // holds their locks until it commits.
                let mut sent: Vec<&(String, u64)> = sent.iter().filter(|(_, q)| *q > 0).collect();
                sent.sort();
                for (list, queries) in sent {
                    conn.execute(
                        "INSERT INTO usage (list, day, queries) VALUES (?1, ?2, ?3)
                         ON CONFLICT (list, day) DO UPDATE SET queries = usage.queries + excluded.queries",
                        args![list, day, i64::try_from(*queries).unwrap_or(i64::MAX)],
                    )?;
                }
                Ok(true)
            })
            .or_else(|e| if e == LOST { Ok(false) } else { Err(e) })
            .map_err(|e| self.error(e))
    }

    /// The shards of the pass of `slot`: how many, and how many are done.
    pub fn fleet_progress(&self, slot: i64) -> Result<(u64, u64), Error> {
        let row = self
            .conn
            .query_one(
                "SELECT count(*), COALESCE(sum(CASE WHEN state = 'done' THEN 1 ELSE 0 END), 0)
                 FROM fleet_shards WHERE slot = ?1",
                args![slot],
            )
            .map_err(|e| self.error(e))?;
        let count = |i: usize| {
            row.as_ref()
                .map_or(0, |r| u64::try_from(r.int(i)).unwrap_or(0))
        };
        Ok((count(0), count(1)))
    }

    /// Whether every shard of `slot` is done.
    pub fn fleet_all_done(&self, slot: i64) -> Result<bool, Error> {
        self.conn
            .query_one(
                "SELECT count(*) FROM fleet_shards WHERE slot = ?1 AND state <> 'done'",
                args![slot],
            )
            .map(|r| r.is_some_and(|r| r.int(0) == 0))
            .map_err(|e| self.error(e))
    }

    /// Claims the evaluation of `slot` until `until`, once every shard is done: true for the
    /// one worker that gets it (or gets it back after the claimant's claim expired).
    pub fn fleet_claim(
        &mut self,
        slot: i64,
        worker: &str,
        now: i64,
        until: i64,
    ) -> Result<bool, Error> {
        self.conn
            .execute(
                "UPDATE fleet_passes SET state = 'evaluating', evaluator = ?2, eval_until = ?4
                 WHERE slot = ?1 AND (state = 'open' OR (state = 'evaluating' AND eval_until < ?3))
                   AND NOT EXISTS (SELECT 1 FROM fleet_shards WHERE slot = ?1 AND state <> 'done')",
                args![slot, worker, now, until],
            )
            .map(|n| n == 1)
            .map_err(|e| self.error(e))
    }

    /// Whether the pass of `slot` is finished (committed and cleared), or has no fleet pass.
    pub fn fleet_closed(&self, slot: i64) -> Result<bool, Error> {
        self.conn
            .query_one(
                "SELECT state FROM fleet_passes WHERE slot = ?1",
                args![slot],
            )
            .map(|r| r.is_none_or(|r| r.text(0) == "done"))
            .map_err(|e| self.error(e))
    }

    /// The summaries of the done shards of `slot`.
    pub fn fleet_summaries(&self, slot: i64) -> Result<Vec<ShardSummary>, Error> {
        let rows = self
            .conn
            .query(
                "SELECT health, sent, notes FROM fleet_shards WHERE slot = ?1 ORDER BY n",
                args![slot],
            )
            .map_err(|e| self.error(e))?;
        Ok(rows
            .iter()
            .map(|r| ShardSummary {
                health: r.text(0),
                sent: r.text(1),
                notes: r.text(2),
            })
            .collect())
    }

    /// Asks for up to `limit` answers of `slot` after (shard, seq) `after`, in order, each
    /// with the pair's stored state; they are taken with `fleet_answers_take`, and the
    /// database reads them meanwhile.
    pub fn fleet_answers_ask(&self, slot: i64, after: (i64, i64), limit: usize) -> AnswersAhead {
        let state_columns: Vec<String> = STATE_COLUMNS
            .split(", ")
            .map(|c| format!("s.{c}"))
            .collect();
        AnswersAhead(self.conn.query_ahead(
            &format!(
                "SELECT a.n, a.seq, a.target, a.address, a.list, a.query, a.status, a.codes, a.meanings, a.txt,
                        a.detail, a.delist_url, a.elapsed_ms, {}
                 FROM fleet_answers a LEFT JOIN state s ON s.address = a.address AND s.list = a.list
                 WHERE a.slot = ?1 AND (a.n, a.seq) > (?2, ?3)
                 ORDER BY a.n, a.seq LIMIT ?4",
                state_columns.join(", ")
            ),
            args![slot, after.0, after.1, i64::try_from(limit).unwrap_or(i64::MAX)],
        ))
    }

    /// The answers asked for: (shard, seq, answer, the pair's stored state).
    pub fn fleet_answers_take(&self, ahead: AnswersAhead) -> Result<Vec<Replayed>, Error> {
        let rows = ahead.0.wait().map_err(|e| self.error(e))?;
        Ok(rows
            .iter()
            .map(|r| Replayed {
                n: r.int(0),
                seq: r.int(1),
                answer: FleetAnswer {
                    target: r.text(2),
                    address: r.text(3),
                    list: r.text(4),
                    query: r.text(5),
                    status: r.text(6),
                    codes: json_list(&r.text(7)),
                    meanings: json_list(&r.text(8)),
                    txt: json_list(&r.text(9)),
                    detail: r.opt_text(10),
                    delist_url: r.opt_text(11),
                    elapsed_ms: r.int(12),
                },
                stored: r.opt_text(13).map(|_| state_row_at(r, 13)),
            })
            .collect())
    }

    /// Marks the pass of `slot` finished and drops its shards and answers.
    pub fn fleet_close(&mut self, slot: i64) -> Result<(), Error> {
        self.conn
            .transaction(|conn| {
                conn.execute(
                    "UPDATE fleet_passes SET state = 'done' WHERE slot = ?1",
                    args![slot],
                )?;
                conn.execute("DELETE FROM fleet_answers WHERE slot = ?1", args![slot])?;
                conn.execute("DELETE FROM fleet_shards WHERE slot = ?1", args![slot])?;
                Ok(())
            })
            .map_err(|e| self.error(e))
    }
}

/// The columns of a stored answer.
const ANSWER_COLUMNS: &str = "slot, n, seq, target, address, list, query, status, codes, meanings, txt, detail, delist_url, elapsed_ms";

/// A shard's answers in COPY's text format, numbered in order.
fn copy_answers(slot: i64, n: i64, answers: &[FleetAnswer]) -> String {
    let mut out = String::with_capacity(answers.len() * 160);
    let (slot, n) = (slot.to_string(), n.to_string());
    for (seq, a) in answers.iter().enumerate() {
        let (seq, elapsed) = (seq.to_string(), a.elapsed_ms.to_string());
        let (codes, meanings, txt) = (to_json(&a.codes), to_json(&a.meanings), to_json(&a.txt));
        super::sql::copy_row(
            &mut out,
            &[
                Some(&slot),
                Some(&n),
                Some(&seq),
                Some(&a.target),
                Some(&a.address),
                Some(&a.list),
                Some(&a.query),
                Some(&a.status),
                Some(&codes),
                Some(&meanings),
                Some(&txt),
                a.detail.as_deref(),
                a.delist_url.as_deref(),
                Some(&elapsed),
            ],
        );
    }
    out
}

/// The marker of a lost lease inside `fleet_finish`'s transaction (rolled back, not an error).
const LOST: &str = "the shard's lease was lost";
