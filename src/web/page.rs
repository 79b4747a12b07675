//! The status page at `/`: what the store says, for people. Built here as one context and
//! drawn by the `status.html` template (built in, overridable like the mail templates).
//!
//! Every field is always present (null or empty when unknown), so a template can test them
//! under strict undefined handling. A target the last pass did not see is marked so: the page
//! never shows "nothing listed" for what was not checked.

use std::collections::HashMap;

use serde::Serialize;

use super::timeline::{self, Axis, Lane};
use crate::clock;
use crate::cmd::Setup;
use crate::error::Error;
use crate::lists::Catalog;
use crate::notify::context::Item;
use crate::notify::render::Templates;
use crate::store::{HistoryFilter, OutboxItem, RunRecord, Store, StoredState};

/// The template the page is drawn with.
pub const TEMPLATE: &str = "status.html";
/// The window of the timeline when the request names none, in days.
pub const DEFAULT_DAYS: u32 = 30;
/// The longest window a request may ask for.
pub const MAX_DAYS: u32 = 3660;
/// At most this many listings per target, and failed mails, are shown: a range can have
/// thousands (the API has them all).
const MAX_ROWS: usize = 200;

/// Everything the status page shows.
#[derive(Debug, Clone, Serialize)]
pub struct Page {
    /// When it was made, RFC 3339 UTC.
    pub generated_at: String,
    /// This machine's host name.
    pub hostname: String,
    /// rblwatch's version.
    pub version: String,
    /// Listings on blocklists, over all targets.
    pub listed: usize,
    /// Targets the last pass did not check.
    pub unchecked: usize,
    /// Lists whose last health check failed.
    pub unhealthy: usize,
    /// Every watched target.
    pub targets: Vec<TargetView>,
    /// The lists of the last pass, unhealthy first.
    pub lists: Vec<ListView>,
    /// The last pass, if there was one.
    pub last_pass: Option<PassView>,
    /// Notifications waiting to be sent.
    pub queued: Vec<MailView>,
    /// Notifications given up on (at most a page of them).
    pub failed: Vec<MailView>,
    /// How many failed notifications there are in all.
    pub failed_total: usize,
    /// The timeline's window.
    pub axis: Axis,
}

/// One watched target.
#[derive(Debug, Clone, Serialize)]
pub struct TargetView {
    /// As written in the config.
    pub target: String,
    /// Its label.
    pub label: Option<String>,
    /// When a list last gave a definite answer about it.
    pub checked: Option<String>,
    /// Whether the last pass did.
    pub current: bool,
    /// What blocklists list now, with how to get off them.
    pub listings: Vec<Item>,
    /// Listings not shown (over `MAX_ROWS`).
    pub more_listings: usize,
    /// Allowlists that list it.
    pub allowed: Vec<Item>,
    /// Its pairs' periods over the window.
    pub lanes: Vec<Lane>,
    /// Lanes not drawn.
    pub more_lanes: usize,
}

/// One list's health in the last pass.
#[derive(Debug, Clone, Serialize)]
pub struct ListView {
    /// Catalog id.
    pub id: String,
    /// Name.
    pub name: String,
    /// DNS zone.
    pub zone: String,
    /// `ok`, `unchecked` (no test points) or what was wrong.
    pub health: String,
    /// Whether its answers were believed.
    pub healthy: bool,
    /// Passes in a row without a definite answer from it (0: it answers).
    pub silent_passes: u32,
    /// Since when, RFC 3339 UTC.
    pub silent_since: Option<String>,
    /// The last reason.
    pub silent_why: Option<String>,
}

/// The last pass.
#[derive(Debug, Clone, Serialize)]
pub struct PassView {
    /// Start, RFC 3339 UTC.
    pub started: String,
    /// End.
    pub finished: String,
    /// How long it took: `12 s`.
    pub took: String,
    /// Targets it had.
    pub targets: usize,
    /// Answers it got.
    pub answers: usize,
    /// Answers per status (`listed`, `clear`, `refused`, ...).
    pub counts: Vec<(String, usize)>,
    /// Changes it recorded.
    pub events: usize,
    /// Answers that were not definite, by status and why.
    pub unknown: Vec<(String, usize)>,
    /// What needs a human.
    pub problems: Vec<String>,
}

/// A notification in the outbox.
#[derive(Debug, Clone, Serialize)]
pub struct MailView {
    /// `mail` or `webhook`.
    pub channel: String,
    /// The address or URL.
    pub recipient: String,
    /// The subject.
    pub subject: String,
    /// When it was made, RFC 3339 UTC.
    pub created: String,
    /// Tries so far.
    pub attempts: u32,
    /// The next try (queued ones).
    pub next_attempt: Option<String>,
    /// Why the last try failed.
    pub last_error: Option<String>,
    /// When it was given up on (failed ones).
    pub failed: Option<String>,
}

/// Builds the page from the store at `now`, with a timeline of `days`.
pub fn build(setup: &Setup, days: u32, now: i64) -> Result<Page, Error> {
    let config = setup.config()?;
    let store = Store::open_at(&config.store_location())?;
    let (targets, last) = crate::cmd::status::target_checks(config, &store)?;
    let listings = store.listings()?;
    let requests = store.requests()?;
    let recorded = store.first_run_start()?.unwrap_or(now);
    let axis = timeline::axis(days, now);
    let from = now - i64::from(days) * 86_400;
    let events = store.history(&HistoryFilter {
        since: Some(from),
        ..HistoryFilter::default()
    })?;
    // Each target's listings and events, found once: a target no longer watched is not
    // looked up.
    let mut listed: HashMap<&str, Vec<&StoredState>> = HashMap::new();
    for s in &listings {
        listed.entry(s.target.as_str()).or_default().push(s);
    }
    let mut changes: HashMap<&str, Vec<&crate::store::Event>> = HashMap::new();
    for e in events
        .iter()
        .filter(|e| e.policy != crate::store::SETUP_POLICY)
    {
        changes.entry(e.target.as_str()).or_default().push(e);
    }
    let catalog = &setup.catalog;
    let name = |id: &str| {
        catalog
            .get(id)
            .map_or_else(|| id.to_string(), |l| l.name.to_string())
    };

    let mut views = Vec::with_capacity(targets.len());
    for t in &targets {
        let mut mine = listed.get(t.target.as_str()).cloned().unwrap_or_default();
        mine.sort_by(|a, b| (&a.address, &a.list).cmp(&(&b.address, &b.list)));
        let item = |s: &StoredState| {
            let list = catalog.get(&s.list);
            let requested = requests.get(&(s.address.clone(), s.list.clone())).copied();
            Item::from_state(s, list).with_request(requested, s.since, list, now)
        };
        let blocking: Vec<&&StoredState> = mine.iter().filter(|s| s.policy == "block").collect();
        let target_events = changes
            .get(t.target.as_str())
            .map_or(&[][..], Vec::as_slice);
        let (lanes, more_lanes) =
            timeline::lanes(target_events, &mine, (from, now), recorded, name);
        views.push(TargetView {
            target: t.target.clone(),
            label: t.label.clone(),
            checked: t.checked.map(clock::format),
            current: t.current,
            more_listings: blocking.len().saturating_sub(MAX_ROWS),
            listings: blocking.iter().take(MAX_ROWS).map(|s| item(s)).collect(),
            allowed: mine
                .iter()
                .filter(|s| s.policy != "block")
                .take(MAX_ROWS)
                .map(|s| item(s))
                .collect(),
            lanes,
            more_lanes,
        });
    }

    let lists = list_views(&store, catalog)?;
    let queued: Vec<MailView> = store.outbox_pending(None)?.iter().map(mail).collect();
    let failed = store.outbox_failed()?;
    Ok(Page {
        generated_at: clock::format(now),
        hostname: crate::notify::context::hostname(),
        version: env!("CARGO_PKG_VERSION").to_string(),
        listed: views
            .iter()
            .map(|v| v.listings.len() + v.more_listings)
            .sum(),
        unchecked: views.iter().filter(|v| !v.current).count(),
        unhealthy: lists.iter().filter(|l| !l.healthy).count(),
        targets: views,
        lists,
        last_pass: last.as_ref().map(pass),
        queued,
        failed_total: failed.len(),
        failed: failed.iter().take(MAX_ROWS).map(mail).collect(),
        axis,
    })
}

/// The lists of the last pass with their health and silent streaks, unhealthy first.
fn list_views(store: &Store, catalog: &Catalog) -> Result<Vec<ListView>, Error> {
    let streaks = store.streaks()?;
    let mut lists: Vec<ListView> = store
        .list_health()?
        .into_iter()
        .map(|(id, health)| {
            let list = catalog.get(&id);
            let streak = streaks.get(&id);
            ListView {
                name: list.map_or_else(|| id.clone(), |l| l.name.to_string()),
                zone: list.map_or_else(String::new, |l| l.zone.clone()),
                healthy: crate::dns::Health::is_trusted_word(&health),
                health,
                silent_passes: streak.map_or(0, |s| s.passes),
                silent_since: streak.map(|s| clock::format(s.since)),
                silent_why: streak.map(|s| s.detail.clone()),
                id,
            }
        })
        .collect();
    lists.sort_by(|a, b| {
        (a.healthy, a.silent_passes == 0, &a.id).cmp(&(b.healthy, b.silent_passes == 0, &b.id))
    });
    Ok(lists)
}

fn pass(run: &RunRecord) -> PassView {
    PassView {
        started: clock::format(run.started),
        finished: clock::format(run.finished),
        took: took(run.finished - run.started),
        targets: run.targets,
        answers: run.answers,
        counts: run
            .counts
            .iter()
            .filter(|(_, n)| **n > 0)
            .map(|(k, v)| (k.clone(), *v))
            .collect(),
        events: run.events,
        unknown: run.unknown.iter().map(|(k, v)| (k.clone(), *v)).collect(),
        problems: run.problems.clone(),
    }
}

/// A duration as `45 s`, `12 min 5 s`, `2 h 3 min`.
fn took(secs: i64) -> String {
    let secs = secs.max(0);
    match secs {
        s if s < 60 => format!("{s} s"),
        s if s < 3600 => format!("{} min {} s", s / 60, s % 60),
        s => format!("{} h {} min", s / 3600, s % 3600 / 60),
    }
}

fn mail(item: &OutboxItem) -> MailView {
    MailView {
        channel: item.channel.clone(),
        recipient: item.recipient.clone(),
        subject: item.subject.clone(),
        created: clock::format(item.created),
        attempts: item.attempts,
        next_attempt: item
            .failed
            .is_none()
            .then(|| clock::format(item.next_attempt)),
        last_error: item.last_error.clone(),
        failed: item.failed.map(clock::format),
    }
}

/// Renders the page with the configured templates.
pub fn render(templates: &Templates, page: &Page) -> Result<String, Error> {
    templates.render_named(TEMPLATE, page)
}

/// Renders the template against a page with every part filled, so a broken override is found
/// by `rblwatch config check`, not by the first visitor.
pub fn check(templates: &Templates) -> Result<(), Error> {
    render(templates, &sample()).map(|_| ())
}

/// A page with every field filled.
pub fn sample() -> Page {
    let ctx = crate::notify::context::Context::sample(crate::notify::context::Kind::Reminder);
    let now = clock::parse(&ctx.generated_at).unwrap_or(0);
    let since = now - 12 * 86_400;
    let event = |at: i64, old: Option<&str>, new: &str| crate::store::Event {
        id: at,
        run: 1,
        at,
        target: "mail.example.com".into(),
        label: Some("mx1".into()),
        address: "192.0.2.25".into(),
        list: "spamhaus-zen".into(),
        policy: "block".into(),
        old_status: old.map(Into::into),
        new_status: new.into(),
        old_codes: Vec::new(),
        codes: Vec::new(),
        meanings: Vec::new(),
        txt: Vec::new(),
        delist_url: None,
    };
    let events = [
        event(since - 3 * 86_400, None, "listed"),
        event(since - 86_400, Some("listed"), "clear"),
        event(since, Some("clear"), "listed"),
    ];
    let refs: Vec<_> = events.iter().collect();
    let (lanes, _) = timeline::lanes(&refs, &[], (now - 30 * 86_400, now), 0, |_| {
        "Spamhaus ZEN".to_string()
    });
    let mail = MailView {
        channel: "mail".into(),
        recipient: "postmaster@example.com".into(),
        subject: "[rblwatch] 192.0.2.25 (mx1) listed on Spamhaus ZEN".into(),
        created: ctx.generated_at.clone(),
        attempts: 2,
        next_attempt: Some(ctx.generated_at.clone()),
        last_error: Some("connecting to 127.0.0.1:25: connection refused".into()),
        failed: Some(ctx.generated_at.clone()),
    };
    Page {
        generated_at: ctx.generated_at.clone(),
        hostname: ctx.hostname.clone(),
        version: env!("CARGO_PKG_VERSION").to_string(),
        listed: ctx.listings.len(),
        unchecked: 1,
        unhealthy: 1,
        targets: vec![
            TargetView {
                target: "mail.example.com".into(),
                label: Some("mx1".into()),
                checked: Some(ctx.generated_at.clone()),
                current: true,
                listings: ctx.listings.clone(),
                more_listings: 1,
                allowed: ctx.listings.clone(),
                lanes,
                more_lanes: 1,
            },
            TargetView {
                target: "198.51.100.0/24".into(),
                label: None,
                checked: None,
                current: false,
                listings: Vec::new(),
                more_listings: 0,
                allowed: Vec::new(),
                lanes: Vec::new(),
                more_lanes: 0,
            },
        ],
        lists: vec![
            ListView {
                id: "spamcop".into(),
                name: "SpamCop".into(),
                zone: "bl.spamcop.net".into(),
                health: "127.0.0.1 listed".into(),
                healthy: false,
                silent_passes: 3,
                silent_since: Some(ctx.generated_at.clone()),
                silent_why: Some("timeout".into()),
            },
            ListView {
                id: "spamhaus-zen".into(),
                name: "Spamhaus ZEN".into(),
                zone: "zen.spamhaus.org".into(),
                health: "ok".into(),
                healthy: true,
                silent_passes: 0,
                silent_since: None,
                silent_why: None,
            },
        ],
        last_pass: Some(PassView {
            started: ctx.generated_at.clone(),
            finished: ctx.generated_at.clone(),
            took: took(75),
            targets: 2,
            answers: 60,
            counts: vec![
                ("clear".into(), 57),
                ("listed".into(), 2),
                ("error".into(), 1),
            ],
            events: 1,
            unknown: vec![("error: timeout".into(), 1)],
            problems: vec!["spamcop: no definite answer for 3 passes".into()],
        }),
        queued: vec![mail.clone()],
        failed: vec![mail],
        failed_total: 1,
        axis: timeline::axis(30, now),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_built_in_page_draws_every_part_of_the_sample() {
        let templates = Templates::load(None).expect("templates");
        let html = render(&templates, &sample()).expect("renders");
        for part in [
            "LISTED: 2 listings on blocklists",
            "192.0.2.25</strong> is listed on <strong>Spamhaus ZEN",
            // Slashes are escaped too (`&#x2f;`).
            "check.spamhaus.org&#x2f;results&#x2f;?query=192.0.2.25",
            "removal requested 2026-11-28T01:00:00Z",
            "Overdue</strong>: the list's own period",
            "overdue",
            "On the allowlist",
            "<rect class=\"listed\"",
            "Not checked by the last pass</strong>",
            "unhealthy</span> 127.0.0.1 listed",
            "no definite answer for 3 passes",
            "spamcop: no definite answer for 3 passes",
            "connecting to 127.0.0.1:25: connection refused",
            "and 1 more listings",
        ] {
            assert!(html.contains(part), "{part:?} missing from\n{html}");
        }
        assert!(!html.contains("{{") && !html.contains("{%"));
        assert!(!html.contains("<script"), "the page runs no script");
    }

    #[test]
    fn values_from_outside_are_escaped() {
        let templates = Templates::load(None).expect("templates");
        let mut page = sample();
        page.targets[0].listings[0].txt = vec!["<script>alert(1)</script>".into()];
        page.targets[0].lanes[0].name = "\"><svg onload=alert(1)>".into();
        page.failed[0].last_error = Some("<img src=x onerror=alert(1)>".into());
        let html = render(&templates, &page).expect("renders");
        assert!(
            html.contains("&lt;script&gt;alert(1)&lt;&#x2f;script&gt;"),
            "{html}"
        );
        assert!(!html.contains("<script>alert"));
        assert!(!html.contains("<svg onload"));
        assert!(!html.contains("<img src=x"));
    }
}
