//! `rblwatch run`: one pass over every configured target, changes recorded in the store, and
//! the notifications they cause queued in the same transaction, then sent.

use std::collections::HashMap;
use std::io::Write;
use std::time::Instant;

use super::Setup;
use crate::check::{self, CheckRequest};
use crate::cli::{ListFormat, RunArgs};
use crate::clock;
use crate::dns::Dns;
use crate::error::Error;
use crate::notify::render::Templates;
use crate::notify::{self, Known, outbox};
use crate::report::watch::{self as out, Timing};
use crate::store::{PassLock, Store};
use crate::watch::{self, Before, PassSettings};

/// Runs one pass and returns the exit status: 0 nothing listed, 1 something listed.
pub async fn run(setup: &Setup, args: RunArgs) -> Result<u8, Error> {
    let config = setup.config()?;
    let templates = Templates::load(config.notify.templates.as_deref())?;
    // The lock comes first: it also keeps two first passes from creating the schema at once.
    let _lock = PassLock::acquire(&config.store, args.wait)?;
    let store = Store::open(&config.store)?;
    let started = clock::now();
    let selection = setup.select(None)?;
    let (settings, verify) = setup.resolver(None)?;
    let dns = Dns::new(&settings)?;
    let mut err = std::io::stderr().lock();
    for line in super::resolver_warnings(&dns)
        .iter()
        .chain(&selection.notes)
    {
        writeln!(err, "rblwatch: {line}")?;
    }

    let dns_started = Instant::now();
    let request = CheckRequest {
        targets: config.targets.iter().map(|t| t.target.clone()).collect(),
        lists: selection.lists,
        verify,
        concurrency: settings.concurrency,
    };
    let found = check::run(&dns, request).await;
    let dns_time = dns_started.elapsed();

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
    let events: Vec<_> = result
        .write
        .events
        .iter()
        .cloned()
        .map(|mut e| {
            e.run = run_id;
            e
        })
        .collect();
    let noteworthy = !events.is_empty()
        || !run.problems.is_empty()
        || !flushed.queued.is_empty()
        || !flushed.failed.is_empty();
    if !args.quiet || noteworthy {
        let stdout = std::io::stdout();
        let mut stdout = stdout.lock();
        let pass = out::Pass {
            run: &run,
            events: &events,
            listed: &result.listed,
            timing,
            notifications: &flushed,
        };
        out::write_pass(&mut stdout, &pass, args.format == ListFormat::Json)?;
        stdout.flush()?;
    }
    Ok(u8::from(!result.listed.is_empty()))
}
