//! Notifications waiting to be sent, sent or given up on; removal requests and reminders.

use rusqlite::params;
use serde::Serialize;
use std::collections::HashMap;

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

impl Store {
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
}
