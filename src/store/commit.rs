//! A whole pass written in one transaction: the run, states, events, streaks, outbox, usage,
//! mail domain members and list health.

use super::sql::{Conn, args};
use super::states::update_all;
use super::*;

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
    /// The schedule slot this pass ran for (a daemon's), recorded with its run.
    pub slot: Option<i64>,
    /// The targets of the config, as written: the states of any other target are retired
    /// (kept apart as history, an event each). None: leave every target as it is.
    pub watched: Option<Vec<String>>,
}

/// What a committed pass wrote besides what it was given.
#[derive(Debug, Clone, Default)]
pub struct Committed {
    /// The run's id.
    pub run: i64,
    /// The events recorded for targets no longer in the config.
    pub retired: Vec<Event>,
}

impl Store {
    /// Writes a pass in one transaction: the run row, the states staged during the pass and
    /// those given, the events, streaks, queued notifications, reminders, usage, mail domain
    /// members and list health. A pass killed before this leaves the store as it was.
    pub fn commit_pass(&mut self, pass: &PassWrite) -> Result<Committed, Error> {
        self.flush_staged()?;
        let staging = self.staging;
        let written = self.conn.transaction(|conn| write(conn, pass, staging));
        let committed = written.map_err(|e| self.error(e))?;
        if staging {
            let forget = if self.conn.is_postgres() {
                "TRUNCATE temp.pass_copy"
            } else {
                "DELETE FROM temp.pass_state"
            };
            self.conn.batch(forget).map_err(|e| self.error(e))?;
        }
        Ok(committed)
    }
}

fn write(conn: &Conn, pass: &PassWrite, staging: bool) -> Result<Committed, String> {
    let r = &pass.run;
    let count = |s: &str| i64::try_from(r.counts.get(s).copied().unwrap_or(0)).unwrap_or(i64::MAX);
    let size = |n: usize| i64::try_from(n).unwrap_or(i64::MAX);
    let run = conn
        .query_one(
            "INSERT INTO runs (started, finished, targets, answers, listed, clear, refused, bogus, error, unhealthy, events, unknown, problems, slot)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14) RETURNING id",
            args![
                r.started,
                r.finished,
                size(r.targets),
                size(r.answers),
                count("listed"),
                count("clear"),
                count("refused"),
                count("bogus"),
                count("error"),
                count("unhealthy"),
                size(pass.events.len()),
                to_json(&r.unknown),
                to_json(&r.problems),
                pass.slot,
            ],
        )?
        .map_or(0, |row| row.int(0));
    let retired = match &pass.watched {
        Some(watched) => retire(conn, watched, run, r.finished)?,
        None => Vec::new(),
    };
    for s in &pass.states {
        put_state(conn, "main.state", s)?;
    }
    if staging {
        // PostgreSQL's staging has no key: the last state staged for a pair is the one.
        let staged = if conn.is_postgres() {
            format!(
                "SELECT DISTINCT ON (address, list) {STATE_COLUMNS} FROM temp.pass_copy ORDER BY address, list, seq DESC"
            )
        } else {
            format!("SELECT {STATE_COLUMNS} FROM temp.pass_state WHERE true")
        };
        conn.execute(
            &format!(
                "INSERT INTO main.state ({STATE_COLUMNS}) {staged}
                 ON CONFLICT (address, list) DO UPDATE SET {}",
                update_all()
            ),
            &[],
        )?;
    }
    for ev in &pass.events {
        conn.execute(
            "INSERT INTO events (run, at, target, label, address, list, policy, old_status, new_status, old_codes, codes, meanings, txt, delist_url)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
            args![
                run,
                ev.at,
                &ev.target,
                &ev.label,
                &ev.address,
                &ev.list,
                &ev.policy,
                &ev.old_status,
                &ev.new_status,
                to_json(&ev.old_codes),
                to_json(&ev.codes),
                to_json(&ev.meanings),
                to_json(&ev.txt),
                &ev.delist_url
            ],
        )?;
    }
    for s in &pass.streaks {
        conn.execute(
            "INSERT INTO list_streaks (list, passes, since, detail) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (list) DO UPDATE SET passes = excluded.passes, since = excluded.since, detail = excluded.detail",
            args![&s.list, s.passes, s.since, &s.detail],
        )?;
    }
    if let Some(domains) = &pass.watched_domains {
        let stored = conn.query("SELECT DISTINCT domain FROM domain_members", &[])?;
        for domain in stored
            .iter()
            .map(|r| r.text(0))
            .filter(|d| !domains.contains(d))
        {
            conn.execute(
                "DELETE FROM domain_members WHERE domain = ?1",
                args![domain],
            )?;
        }
    }
    for (domain, members) in &pass.domains {
        conn.execute(
            "DELETE FROM domain_members WHERE domain = ?1",
            args![domain],
        )?;
        for m in members {
            conn.execute(
                "INSERT INTO domain_members (domain, role, target, path, since) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (domain, role, target) DO UPDATE SET path = excluded.path, since = excluded.since",
                args![domain, &m.role, &m.target, &m.path, m.since],
            )?;
        }
    }
    if let Some(health) = &pass.health {
        conn.execute("DELETE FROM list_health", &[])?;
        for (list, state) in health {
            conn.execute(
                "INSERT INTO list_health (list, health, checked) VALUES (?1, ?2, ?3)
                 ON CONFLICT (list) DO UPDATE SET health = excluded.health, checked = excluded.checked",
                args![list, state, r.finished],
            )?;
        }
    }
    for item in &pass.outbox {
        conn.execute(
            "INSERT INTO outbox (run, created, channel, recipient, subject, body_text, body_html, attempts, next_attempt)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 0, ?8)",
            args![
                run,
                item.created,
                &item.channel,
                &item.recipient,
                &item.subject,
                &item.text,
                &item.html,
                item.next_attempt
            ],
        )?;
    }
    for (address, list) in &pass.reminded {
        conn.execute(
            "INSERT INTO reminders (address, list, at) VALUES (?1, ?2, ?3)
             ON CONFLICT (address, list) DO UPDATE SET at = excluded.at",
            args![address, list, r.finished],
        )?;
    }
    for (list, queries) in pass.usage.iter().filter(|(_, q)| *q > 0) {
        conn.execute(
            "INSERT INTO usage (list, day, queries) VALUES (?1, ?2, ?3)
             ON CONFLICT (list, day) DO UPDATE SET queries = usage.queries + excluded.queries",
            args![list, pass.day, i64::try_from(*queries).unwrap_or(i64::MAX)],
        )?;
    }
    for (address, list) in &pass.requests_done {
        conn.execute(
            "DELETE FROM requests WHERE address = ?1 AND list = ?2",
            args![address, list],
        )?;
    }
    Ok(Committed { run, retired })
}
