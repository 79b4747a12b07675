//! The append-only event log (listing changes, targets no longer watched, mail setup changes),
//! the members of watched mail domains, and pruning old records.

use serde::Serialize;

use super::sql::args;
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

/// What `prune` deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pruned {
    /// Pass records.
    pub runs: usize,
    /// Events.
    pub events: usize,
    /// States of targets no longer watched.
    pub retired: usize,
    /// Records of fleet passes.
    pub fleet_passes: usize,
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

impl Store {
    /// The stored members of a watched mail domain (none: never read whole yet).
    pub fn domain_members(&self, domain: &str) -> Result<Vec<DomainMember>, Error> {
        let rows = self
            .conn
            .query(
                "SELECT role, target, path, since FROM domain_members WHERE domain = ?1 ORDER BY role, target",
                args![domain],
            )
            .map_err(|e| self.error(e))?;
        Ok(rows
            .iter()
            .map(|r| DomainMember {
                role: r.text(0),
                target: r.text(1),
                path: r.text(2),
                since: r.int(3),
            })
            .collect())
    }

    /// The event log, newest first.
    pub fn history(&self, filter: &HistoryFilter) -> Result<Vec<Event>, Error> {
        let rows = self
            .conn
            .query(
                "SELECT id, run, at, target, label, address, list, policy, old_status, new_status, old_codes, codes, meanings, txt, delist_url
                 FROM events
                 WHERE (CAST(?1 AS TEXT) IS NULL OR target = ?1 OR address = ?1 OR label = ?1)
                   AND (CAST(?2 AS TEXT) IS NULL OR list = ?2)
                   AND (CAST(?3 AS BIGINT) IS NULL OR at >= ?3)
                 ORDER BY at DESC, id DESC",
                args![
                    filter.target.as_deref(),
                    filter.list.as_deref(),
                    filter.since
                ],
            )
            .map_err(|e| self.error(e))?;
        Ok(rows
            .iter()
            .map(|r| Event {
                id: r.int(0),
                run: r.int(1),
                at: r.int(2),
                target: r.text(3),
                label: r.opt_text(4),
                address: r.text(5),
                list: r.text(6),
                policy: r.text(7),
                old_status: r.opt_text(8),
                new_status: r.text(9),
                old_codes: json_list(&r.text(10)),
                codes: json_list(&r.text(11)),
                meanings: json_list(&r.text(12)),
                txt: json_list(&r.text(13)),
                delist_url: r.opt_text(14),
            })
            .collect())
    }

    /// Deletes run rows older than `before`, the states of targets retired before then, the
    /// records of fleet passes of then, and events too when `events` is set; says how many.
    /// A fleet pass is pruned once done; one its workers abandoned, once it is also a day
    /// older than `now` (a pass under way is never touched).
    pub fn prune(&mut self, before: i64, events: bool, now: i64) -> Result<Pruned, Error> {
        let count = |n: u64| usize::try_from(n).unwrap_or(usize::MAX);
        self.conn
            .transaction(|conn| {
                let runs = conn.execute("DELETE FROM runs WHERE finished < ?1", args![before])?;
                let gone = if events {
                    conn.execute("DELETE FROM events WHERE at < ?1", args![before])?
                } else {
                    0
                };
                let retired = conn.execute(
                    "DELETE FROM retired_state WHERE retired < ?1",
                    args![before],
                )?;
                let abandoned = before.min(now - 86_400);
                let fleet = conn.execute(
                    "DELETE FROM fleet_passes WHERE (state = 'done' AND slot < ?1) OR slot < ?2",
                    args![before, abandoned],
                )?;
                conn.execute(
                    "DELETE FROM fleet_answers WHERE slot NOT IN (SELECT slot FROM fleet_passes)",
                    &[],
                )?;
                conn.execute(
                    "DELETE FROM fleet_shards WHERE slot NOT IN (SELECT slot FROM fleet_passes)",
                    &[],
                )?;
                Ok(Pruned {
                    runs: count(runs),
                    events: count(gone),
                    retired: count(retired),
                    fleet_passes: count(fleet),
                })
            })
            .map_err(|e| self.error(e))
    }
}
