//! The append-only event log (listing changes, targets no longer watched, mail setup changes),
//! the members of watched mail domains, and pruning old records.

use rusqlite::params;
use serde::Serialize;

use super::*;

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

impl Store {
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
}
