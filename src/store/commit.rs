//! A whole pass written in one transaction: the run, states, events, streaks, outbox, usage,
//! mail domain members and list health.

use rusqlite::params;

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
    /// Writes a whole pass in one transaction; returns the run's id and what it retired.
    pub fn commit_pass(&mut self, pass: &PassWrite) -> Result<Committed, Error> {
        self.flush_staged()?;
        let staging = self
            .conn
            .query_row(
                "SELECT count(*) FROM temp.sqlite_master WHERE name = 'pass_state'",
                [],
                |r| r.get::<_, i64>(0),
            )
            .map_err(|e| self.error(e))?
            > 0;
        let path = self.path.clone();
        let e = |err: rusqlite::Error| store_err(&path, err);
        let tx = self.conn.transaction().map_err(e)?;
        let r = &pass.run;
        let count =
            |s: &str| i64::try_from(r.counts.get(s).copied().unwrap_or(0)).unwrap_or(i64::MAX);
        tx.execute(
            "INSERT INTO runs (started, finished, targets, answers, listed, clear, refused, bogus, error, unhealthy, events, unknown, problems)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
            params![
                r.started,
                r.finished,
                i64::try_from(r.targets).unwrap_or(i64::MAX),
                i64::try_from(r.answers).unwrap_or(i64::MAX),
                count("listed"),
                count("clear"),
                count("refused"),
                count("bogus"),
                count("error"),
                count("unhealthy"),
                i64::try_from(pass.events.len()).unwrap_or(i64::MAX),
                to_json(&r.unknown),
                to_json(&r.problems),
            ],
        )
        .map_err(e)?;
        let run = tx.last_insert_rowid();
        let retired = match &pass.watched {
            Some(watched) => retire(&tx, watched, run, r.finished).map_err(e)?,
            None => Vec::new(),
        };
        {
            let mut put = tx
                .prepare_cached(
                    "INSERT OR REPLACE INTO state (address, list, target, label, policy, status, codes, meanings, txt, since, checked)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
                )
                .map_err(e)?;
            for s in &pass.states {
                put_state(&mut put, s).map_err(e)?;
            }
            if staging {
                tx.execute_batch(&format!(
                    "INSERT OR REPLACE INTO main.state ({STATE_COLUMNS}) SELECT {STATE_COLUMNS} FROM temp.pass_state;
                     DELETE FROM temp.pass_state;"
                ))
                .map_err(e)?;
            }
            let mut add = tx
                .prepare_cached(
                    "INSERT INTO events (run, at, target, label, address, list, policy, old_status, new_status, old_codes, codes, meanings, txt, delist_url)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
                )
                .map_err(e)?;
            for ev in &pass.events {
                add.execute(params![
                    run,
                    ev.at,
                    ev.target,
                    ev.label,
                    ev.address,
                    ev.list,
                    ev.policy,
                    ev.old_status,
                    ev.new_status,
                    to_json(&ev.old_codes),
                    to_json(&ev.codes),
                    to_json(&ev.meanings),
                    to_json(&ev.txt),
                    ev.delist_url
                ])
                .map_err(e)?;
            }
            let mut streak = tx
                .prepare_cached("INSERT OR REPLACE INTO list_streaks (list, passes, since, detail) VALUES (?1, ?2, ?3, ?4)")
                .map_err(e)?;
            for s in &pass.streaks {
                streak
                    .execute(params![s.list, s.passes, s.since, s.detail])
                    .map_err(e)?;
            }
            if let Some(domains) = &pass.watched_domains {
                let mut stored = tx
                    .prepare("SELECT DISTINCT domain FROM domain_members")
                    .map_err(e)?;
                let gone: Vec<String> = stored
                    .query_map([], |row| row.get::<_, String>(0))
                    .map_err(e)?
                    .filter_map(Result::ok)
                    .filter(|d| !domains.contains(d))
                    .collect();
                for domain in gone {
                    tx.execute("DELETE FROM domain_members WHERE domain = ?1", [&domain])
                        .map_err(e)?;
                }
            }
            for (domain, members) in &pass.domains {
                tx.execute("DELETE FROM domain_members WHERE domain = ?1", [domain])
                    .map_err(e)?;
                let mut put = tx
                    .prepare_cached(
                        "INSERT OR REPLACE INTO domain_members (domain, role, target, path, since) VALUES (?1, ?2, ?3, ?4, ?5)",
                    )
                    .map_err(e)?;
                for m in members {
                    put.execute(params![domain, m.role, m.target, m.path, m.since])
                        .map_err(e)?;
                }
            }
            if let Some(health) = &pass.health {
                tx.execute("DELETE FROM list_health", []).map_err(e)?;
                let mut put = tx
                    .prepare_cached(
                        "INSERT OR REPLACE INTO list_health (list, health, checked) VALUES (?1, ?2, ?3)",
                    )
                    .map_err(e)?;
                for (list, state) in health {
                    put.execute(params![list, state, r.finished]).map_err(e)?;
                }
            }
            let mut queue = tx
                .prepare_cached(
                    "INSERT INTO outbox (run, created, channel, recipient, subject, body_text, body_html, attempts, next_attempt)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 0, ?8)",
                )
                .map_err(e)?;
            for item in &pass.outbox {
                queue
                    .execute(params![
                        run,
                        item.created,
                        item.channel,
                        item.recipient,
                        item.subject,
                        item.text,
                        item.html,
                        item.next_attempt
                    ])
                    .map_err(e)?;
            }
            let mut remind = tx
                .prepare_cached(
                    "INSERT OR REPLACE INTO reminders (address, list, at) VALUES (?1, ?2, ?3)",
                )
                .map_err(e)?;
            for (address, list) in &pass.reminded {
                remind
                    .execute(params![address, list, r.finished])
                    .map_err(e)?;
            }
            let mut used = tx
                .prepare_cached(
                    "INSERT INTO usage (list, day, queries) VALUES (?1, ?2, ?3)
                     ON CONFLICT (list, day) DO UPDATE SET queries = queries + excluded.queries",
                )
                .map_err(e)?;
            for (list, queries) in pass.usage.iter().filter(|(_, q)| *q > 0) {
                used.execute(params![
                    list,
                    pass.day,
                    i64::try_from(*queries).unwrap_or(i64::MAX)
                ])
                .map_err(e)?;
            }
            let mut done = tx
                .prepare_cached("DELETE FROM requests WHERE address = ?1 AND list = ?2")
                .map_err(e)?;
            for (address, list) in &pass.requests_done {
                done.execute(params![address, list]).map_err(e)?;
            }
        }
        tx.commit().map_err(e)?;
        Ok(Committed { run, retired })
    }
}
