//! One pass of the watch, as `rblwatch run` and the daemon both do it: take the lock, ask
//! every target x list, evaluate against the store, queue the notifications, commit it all in
//! one transaction, then send. Knows no terminal: it returns what happened.

use std::collections::HashMap;
use std::time::Instant;

use std::sync::Arc;

use crate::check::{self, CheckRequest, ListHealth, Progress};
use crate::clock;
use crate::cmd::Setup;
use crate::dns::{Dns, Status};
use crate::error::Error;
use crate::notify::outbox::FlushReport;
use crate::notify::render::Templates;
use crate::notify::{self, Known, outbox};
use crate::report::watch::Timing;
use crate::store::{Event, PassLock, RunRecord, Store, StoredState};
use crate::watch::{self, Before, PassSettings};

/// What one pass did.
pub struct PassOutcome {
    /// The run row, with its id.
    pub run: RunRecord,
    /// The changes, with their run id.
    pub events: Vec<Event>,
    /// What is listed on blocklists after the pass.
    pub listed: Vec<StoredState>,
    /// How long the parts took.
    pub timing: Timing,
    /// What sending the notifications did.
    pub notifications: FlushReport,
    /// Each list's health this pass.
    pub health: Vec<ListHealth>,
    /// Every answer's list and status.
    pub answers: Vec<(String, Status)>,
    /// Setup warnings (public resolver) and notes (skipped lists).
    pub notes: Vec<String>,
}

/// Runs one whole pass: lock, DNS, evaluate, plan notifications, commit, send. `progress`,
/// when given, counts the answers as they come.
pub async fn run(
    setup: &Setup,
    wait: bool,
    progress: Option<Arc<Progress>>,
) -> Result<PassOutcome, Error> {
    let config = setup.config()?;
    let templates = Templates::load(config.notify.templates.as_deref())?;
    // The lock comes first: it also keeps two first passes from creating the schema at once.
    let _lock = PassLock::acquire(&config.store, wait)?;
    let store = Store::open(&config.store)?;
    let started = clock::now();
    // Daily limits count the queries of every pass of the UTC day, not only this one.
    let day = started.div_euclid(86_400);
    let used_today = store.usage(day)?;
    let selection = setup.select(None)?;
    let (settings, verify) = setup.resolver(None)?;
    let dns = Dns::new(&settings)?;
    let notes: Vec<String> = crate::cmd::resolver_warnings(&dns)
        .into_iter()
        .chain(selection.notes.iter().cloned())
        .collect();

    let dns_started = Instant::now();
    let request = CheckRequest {
        targets: config.targets.iter().map(|t| t.target.clone()).collect(),
        lists: selection.lists,
        verify,
        concurrency: settings.concurrency,
        progress: progress.clone(),
        used_today: used_today.clone(),
    };
    let found = check::run(&dns, request).await;
    let dns_time = dns_started.elapsed();
    let health = found.lists.clone();
    let sent = found.sent.clone();
    let notes: Vec<String> = notes
        .into_iter()
        .chain(found.notes.iter().cloned())
        .collect();
    let answers = found
        .outcomes
        .iter()
        .map(|o| (o.list.id.clone(), o.status))
        .collect();

    let store_started = Instant::now();
    let labels: HashMap<String, Option<String>> = config
        .targets
        .iter()
        .map(|t| (t.target.text.clone(), t.label.clone()))
        .collect();
    let problem_after = config.problem_after;
    let targets = config.targets.len();
    let notify_config = config.notify.clone();
    let watched = config.targets.clone();
    let catalog = setup.catalog.clone();
    // SQLite is blocking: read, evaluate, plan and commit on a blocking thread.
    let (mut store, result, run_id) = tokio::task::spawn_blocking(move || -> Result<_, Error> {
        let mut store = store;
        let mut states = store.states()?;
        let streaks = store.streaks()?;
        let finished = clock::now();
        let settings = PassSettings {
            labels: &labels,
            targets,
            started,
            finished,
            problem_after,
        };
        let before = Before {
            states: &states,
            streaks: &streaks,
        };
        let mut result = watch::evaluate(&found, &before, &settings);
        for s in &result.write.states {
            states.insert((s.address.clone(), s.list.clone()), s.clone());
        }
        let after: Vec<_> = states.into_values().collect();
        let (requests, reminders) = (store.requests()?, store.reminders()?);
        let known = Known {
            states: &after,
            requests: &requests,
            reminders: &reminders,
        };
        let events = &result.write.events;
        let plan = notify::plan(
            &notify_config,
            &watched,
            &catalog,
            &templates,
            events,
            &known,
            finished,
        )?;
        result.write.outbox = plan.outbox;
        result.write.reminded = plan.reminded;
        result.write.requests_done = plan.requests_done;
        result.write.usage = sent;
        result.write.day = day;
        let id = store.commit_pass(&result.write)?;
        Ok((store, result, id))
    })
    .await
    .map_err(|e| Error::Store {
        path: config.store.display().to_string(),
        message: format!("the pass was interrupted: {e}"),
    })??;
    let timing = Timing {
        dns: dns_time,
        store: store_started.elapsed(),
    };
    // Sent only now that the events and their notifications are safely in the store.
    let flushed = outbox::flush(&mut store, &config.notify, clock::now(), false).await?;

    let mut run = result.write.run.clone();
    run.id = run_id;
    let events = result
        .write
        .events
        .iter()
        .cloned()
        .map(|mut e| {
            e.run = run_id;
            e
        })
        .collect();
    Ok(PassOutcome {
        run,
        events,
        listed: result.listed,
        timing,
        notifications: flushed,
        health,
        answers,
        notes,
    })
}
