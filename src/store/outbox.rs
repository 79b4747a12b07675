//! Notifications waiting to be sent, sent or given up on; removal requests and reminders.

use serde::Serialize;
use std::collections::HashMap;

use super::sql::args;
use super::*;

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

const OUTBOX_COLUMNS: &str = "id, run, created, channel, recipient, subject, body_text, body_html, attempts, next_attempt, last_error, sent, failed";

fn outbox_row(r: &super::sql::Row) -> OutboxItem {
    OutboxItem {
        id: r.int(0),
        run: r.int(1),
        created: r.int(2),
        channel: r.text(3),
        recipient: r.text(4),
        subject: r.text(5),
        text: r.text(6),
        html: r.text(7),
        attempts: u32::try_from(r.int(8)).unwrap_or(u32::MAX),
        next_attempt: r.int(9),
        last_error: r.opt_text(10),
        sent: r.opt_int(11),
        failed: r.opt_int(12),
    }
}

impl Store {
    /// Removal requests recorded with `delist --requested`, by (address, list).
    pub fn requests(&self) -> Result<HashMap<(String, String), i64>, Error> {
        self.pairs("SELECT address, list, requested FROM requests")
    }

    /// When each listed pair was last reminded of.
    pub fn reminders(&self) -> Result<HashMap<(String, String), i64>, Error> {
        self.pairs("SELECT address, list, at FROM reminders")
    }

    fn pairs(&self, sql: &str) -> Result<HashMap<(String, String), i64>, Error> {
        let rows = self.conn.query(sql, &[]).map_err(|e| self.error(e))?;
        Ok(rows
            .iter()
            .map(|r| ((r.text(0), r.text(1)), r.int(2)))
            .collect())
    }

    /// Records that removal of `address` from `list` was requested at `at`.
    pub fn add_request(&mut self, address: &str, list: &str, at: i64) -> Result<(), Error> {
        self.conn
            .execute(
                "INSERT INTO requests (address, list, requested) VALUES (?1, ?2, ?3)
                 ON CONFLICT (address, list) DO UPDATE SET requested = excluded.requested",
                args![address, list, at],
            )
            .map(|_| ())
            .map_err(|e| self.error(e))
    }

    /// Notifications not sent and not given up on; only those due by `now` when given.
    pub fn outbox_pending(&self, due_by: Option<i64>) -> Result<Vec<OutboxItem>, Error> {
        let rows = self
            .conn
            .query(
                &format!(
                    "SELECT {OUTBOX_COLUMNS} FROM outbox
                     WHERE sent IS NULL AND failed IS NULL AND (CAST(?1 AS BIGINT) IS NULL OR next_attempt <= ?1) ORDER BY id"
                ),
                args![due_by],
            )
            .map_err(|e| self.error(e))?;
        Ok(rows.iter().map(outbox_row).collect())
    }

    /// Notifications given up on, newest first.
    pub fn outbox_failed(&self) -> Result<Vec<OutboxItem>, Error> {
        let rows = self
            .conn
            .query(
                &format!(
                    "SELECT {OUTBOX_COLUMNS} FROM outbox WHERE failed IS NOT NULL ORDER BY id DESC"
                ),
                &[],
            )
            .map_err(|e| self.error(e))?;
        Ok(rows.iter().map(outbox_row).collect())
    }

    /// Takes a notification for sending until `until`: false when it is sent, given up on,
    /// or being sent by another worker whose claim has not expired. One conditional UPDATE,
    /// so two workers never both take it.
    pub fn outbox_claim(&mut self, id: i64, now: i64, until: i64) -> Result<bool, Error> {
        self.conn
            .execute(
                "UPDATE outbox SET claimed_until = ?3
                 WHERE id = ?1 AND sent IS NULL AND failed IS NULL AND (claimed_until IS NULL OR claimed_until < ?2)",
                args![id, now, until],
            )
            .map(|n| n == 1)
            .map_err(|e| self.error(e))
    }

    /// Marks a notification sent.
    pub fn outbox_sent(&mut self, id: i64, at: i64) -> Result<(), Error> {
        self.conn
            .execute(
                "UPDATE outbox SET sent = ?2, attempts = attempts + 1, last_error = NULL, claimed_until = NULL WHERE id = ?1",
                args![id, at],
            )
            .map(|_| ())
            .map_err(|e| self.error(e))
    }

    /// Records a failed attempt: the error, when to try again, and (when `give_up` is set)
    /// that no more attempts will be made.
    pub fn outbox_attempt_failed(
        &mut self,
        id: i64,
        error: &str,
        next_attempt: i64,
        give_up: Option<i64>,
    ) -> Result<(), Error> {
        self.conn
            .execute(
                "UPDATE outbox SET attempts = attempts + 1, last_error = ?2, next_attempt = ?3, failed = ?4, claimed_until = NULL WHERE id = ?1",
                args![id, error, next_attempt, give_up],
            )
            .map(|_| ())
            .map_err(|e| self.error(e))
    }
}
