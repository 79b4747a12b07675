//! One pass of the watch, as `rblwatch run` and the daemon both do it: take the lock, ask
//! every target x list, evaluate against the store, queue the notifications, commit it all in
//! one transaction, then send. Knows no terminal: it returns what happened.

use std::collections::{BTreeMap, HashMap};
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
use crate::store::{Event, Replayed, RunRecord, Store, StoredState};
use crate::target::Target;
use crate::watch::{Evaluator, PassSettings};

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
    /// How many answers each list gave with each status.
    pub answers: BTreeMap<(String, Status), u64>,
    /// Setup warnings (public resolver) and notes (skipped lists).
    pub notes: Vec<String>,
    /// Targets the pass could not see (no definite answer about them).
    pub blind: Vec<String>,
    /// How long each list took to answer, by id.
    pub list_timing: BTreeMap<String, crate::watch::ListTiming>,
}

/// What is known of an answer's stored state as it reaches the evaluation.
// Held a batch at a time: the size of a state costs less than an allocation per answer.
#[allow(clippy::large_enum_variant)]
enum Before {
    /// Not read yet: the evaluation reads it.
    Unread,
    /// Read with the answer (None: the pair has no state yet).
    Read(Option<StoredState>),
}

/// Feeds a fleet pass's stored answers to `sink`, in shard then answer order, and sums up
/// what the shards said of the lists as the run's summary.
fn replay(
    stored: &StoredAnswers,
    request: &CheckRequest,
    dns: &Dns,
    sink: &mut dyn FnMut(check::Outcome, Before),
) -> Result<check::RunSummary, Error> {
    let reader = Store::open_at(&stored.location)?;
    let list_of = |id: &str| request.lists.iter().find(|a| a.list.id == id);
    // The next batch is read while this one is evaluated.
    let mut ahead = reader.fleet_answers_ask(stored.slot, (-1, -1), REPLAY_BATCH);
    loop {
        let answers = reader.fleet_answers_take(ahead)?;
        let Some(last) = answers.last() else {
            break;
        };
        ahead = reader.fleet_answers_ask(stored.slot, (last.n, last.seq), REPLAY_BATCH);
        for Replayed {
            answer: a,
            stored: before,
            ..
        } in answers
        {
            // A list no longer selected since the shard was asked is left out.
            let (Some(active), Some(status)) = (list_of(&a.list), Status::parse(&a.status)) else {
                continue;
            };
            sink(
                check::Outcome {
                    target: a.target.into(),
                    address: a.address,
                    list: active.list.clone(),
                    query: a.query,
                    status,
                    codes: a.codes.iter().filter_map(|c| c.parse().ok()).collect(),
                    meanings: a.meanings,
                    txt: a.txt,
                    delist_url: a.delist_url,
                    detail: a.detail,
                    elapsed: std::time::Duration::from_millis(
                        u64::try_from(a.elapsed_ms).unwrap_or(0),
                    ),
                },
                Before::Read(before),
            );
        }
    }
    // A list is as healthy as its worst shard found it.
    let mut lists: Vec<check::ListHealth> = request
        .lists
        .iter()
        .map(|active| check::ListHealth {
            list: active.list.clone(),
            health: crate::dns::Health::Unchecked,
            detail: None,
        })
        .collect();
    let mut notes: Vec<String> = Vec::new();
    for summary in &stored.summaries {
        let health: Vec<(String, String, Option<String>)> =
            serde_json::from_str(&summary.health).unwrap_or_default();
        for (id, word, detail) in health {
            let (Some(entry), Some(found)) = (
                lists.iter_mut().find(|l| l.list.id == id),
                crate::dns::Health::parse(&word),
            ) else {
                continue;
            };
            if entry.health.is_trusted() && (found != crate::dns::Health::Unchecked) {
                entry.health = found;
                entry.detail = detail;
            }
        }
        let said: Vec<String> = serde_json::from_str(&summary.notes).unwrap_or_default();
        for note in said {
            if !notes.contains(&note) {
                notes.push(note);
            }
        }
    }
    // Each shard's queries were counted against the daily limits when it was stored.
    Ok(check::RunSummary {
        sent: Vec::new(),
        fault: check::fault::resolver_fault(&lists, &dns.describe()),
        resolutions: request.resolutions.clone().unwrap_or_default(),
        lists,
        notes,
        elapsed: std::time::Duration::ZERO,
    })
}

/// Answers evaluated together, their stored states read in one query.
const EVALUATE_BATCH: usize = 256;

/// Runs one whole pass: lock, DNS, evaluate, plan notifications, commit, send. `progress`,
/// when given, counts the answers as they come.
///
/// A daemon's pass names its schedule `slot`: a slot already run (by another worker of the
/// fleet, on the same store) is `Error::SlotDone` and nothing is done. The check is made
/// under the pass lock, and the slot is recorded by the pass's commit, so a worker killed
/// mid-pass leaves its slot to the next worker that wakes for it.
pub async fn run(
    setup: &Setup,
    wait: bool,
    progress: Option<Arc<Progress>>,
    slot: Option<i64>,
) -> Result<PassOutcome, Error> {
    run_with(setup, wait, progress, slot, None).await
}

/// The answers of a fleet pass's shards, kept in the store until the pass is evaluated.
pub struct StoredAnswers {
    /// The store holding them.
    pub location: crate::store::Location,
    /// The pass's slot.
    pub slot: i64,
    /// What each shard said of the lists and its queries.
    pub summaries: Vec<crate::store::ShardSummary>,
}

/// Answers read from the store per query when a fleet pass is evaluated.
const REPLAY_BATCH: usize = 2048;

/// A pass: its answers asked now (`stored` None), or those a fleet's workers asked and
/// stored shard by shard, evaluated and committed here as one pass.
pub(crate) async fn run_with(
    setup: &Setup,
    wait: bool,
    progress: Option<Arc<Progress>>,
    slot: Option<i64>,
    stored: Option<StoredAnswers>,
) -> Result<PassOutcome, Error> {
    let config = setup.config()?;
    // A password anyone can replace is not one to send: refused before anything is done.
    if let Some(path) = config.password_file()
        && crate::files::world_writable(path)
    {
        return Err(Error::Read {
            path: path.display().to_string(),
            source: std::io::Error::other(
                "password_file is writable by every user; refused (chmod o-w, and change the password)",
            ),
        });
    }
    let templates = Templates::load(config.notify.templates.as_deref())?;
    // The lock comes first: it also keeps two first passes from creating the schema at once.
    let (store, _lock) = Store::open_for_pass(&config.store_location(), wait)?;
    if let Some(slot) = slot
        && let Some(run) = store.slot_run(slot)?
    {
        return Err(Error::SlotDone { slot, run });
    }
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
    // Mail domains are read again: what their MX and SPF hold now is what this pass watches.
    let expanded = crate::domain::watch::expand(
        &dns,
        &config.targets,
        |domain| store.domain_members(domain),
        started,
    )
    .await?;
    let targets: Vec<Target> = expanded.targets.iter().map(|t| t.target.clone()).collect();
    let mut resolutions = expanded.resolutions;
    let unresolved: Vec<Target> = targets
        .iter()
        .filter(|t| !resolutions.iter().any(|r| r.target == t.text))
        .cloned()
        .collect();
    resolutions.extend(check::resolve(&dns, &unresolved, settings.concurrency).await);
    let request = CheckRequest {
        targets,
        lists: selection.lists,
        verify,
        concurrency: settings.concurrency,
        progress: progress.clone(),
        used_today: used_today.clone(),
        resolutions: Some(resolutions),
    };
    // Each answer is compared with its stored state as it comes and its new state staged in
    // the store, so a pass over a whole range holds only changes, listings and counts.
    let labels: HashMap<String, Option<String>> = expanded
        .targets
        .iter()
        .map(|t| (t.target.text.clone(), t.label.clone()))
        .collect();
    let watched: Vec<String> = expanded
        .targets
        .iter()
        .map(|t| t.target.text.clone())
        .collect();
    let pass_settings = PassSettings {
        labels: &labels,
        watched: &watched,
        started,
        // Answers are stamped with the pass's start; the run record gets its real end.
        finished: started,
        problem_after: config.problem_after,
    };
    let mut store = store;
    store.restore_watched(&watched)?;
    store.begin_staging()?;
    let streaks = store.streaks()?;
    let mut evaluator = Evaluator::new(&pass_settings);
    let mut failed: Option<Error> = None;
    // Answers are evaluated in batches, each batch's stored states read in one query: a
    // round trip per answer would cost more than the answer on a networked store. A fleet's
    // stored answers come with their states, read alongside.
    let mut batch: Vec<(check::Outcome, Before)> = Vec::with_capacity(EVALUATE_BATCH);
    let mut evaluate = |batch: &mut Vec<(check::Outcome, Before)>| -> Result<(), Error> {
        let pairs: Vec<(String, String)> = batch
            .iter()
            .filter(|(_, before)| matches!(before, Before::Unread))
            .map(|(o, _)| (o.address.clone(), o.list.id.clone()))
            .collect();
        let stored = store.states_of(&pairs)?;
        for (o, before) in batch.drain(..) {
            let before = match &before {
                Before::Read(state) => state.as_ref(),
                Before::Unread => stored.get(&(o.address.clone(), o.list.id.clone())),
            };
            if let Some(state) = evaluator.add(&o, before) {
                store.stage(state)?;
            }
        }
        Ok(())
    };
    let mut sink = |o: check::Outcome, before: Before| {
        if failed.is_some() {
            return;
        }
        batch.push((o, before));
        if batch.len() >= EVALUATE_BATCH
            && let Err(err) = evaluate(&mut batch)
        {
            failed = Some(err);
        }
    };
    let found = match stored {
        None => check::stream(&dns, request, &mut |o| sink(o, Before::Unread)).await,
        Some(stored) => replay(&stored, &request, &dns, &mut sink)?,
    };
    if failed.is_none()
        && let Err(err) = evaluate(&mut batch)
    {
        failed = Some(err);
    }
    if let Some(err) = failed {
        return Err(err);
    }
    let dns_time = dns_started.elapsed();
    let health = found.lists.clone();
    let sent = found.sent.clone();
    let notes: Vec<String> = notes
        .into_iter()
        .chain(found.notes.iter().cloned())
        .collect();
    let mut result = evaluator.finish(
        &found.lists,
        &streaks,
        &found.resolutions,
        found.fault.as_ref(),
    );
    result.write.run.finished = clock::now();
    let finished = result.write.run.finished;

    let store_started = Instant::now();
    let notify_config = config.notify.clone();
    let watched_targets = expanded.targets.clone();
    let watched_domains: Vec<String> = config
        .targets
        .iter()
        .filter(|t| t.mail_domain)
        .map(|t| t.target.text.trim_end_matches('.').to_ascii_lowercase())
        .collect();
    // A domain read only in part is a problem of the pass: it could not see all of it.
    result.write.run.problems.extend(expanded.notes);
    result.write.events.extend(expanded.events);
    result.write.slot = slot;
    result.write.domains = expanded.domains;
    result.write.watched_domains = Some(watched_domains);
    let catalog = setup.catalog.clone();
    // SQLite is blocking: plan and commit on a blocking thread.
    let watched_texts = watched.clone();
    let (mut store, result, committed) =
        tokio::task::spawn_blocking(move || -> Result<_, Error> {
            // What is listed after the pass: the stored listings, with this pass's answers
            // replacing the pairs it asked about.
            let mut after: HashMap<(String, String), StoredState> = store
                .listed_states()?
                .into_iter()
                .map(|s| ((s.address.clone(), s.list.clone()), s))
                .collect();
            for e in result
                .write
                .events
                .iter()
                .filter(|e| e.new_status != "listed")
            {
                after.remove(&(e.address.clone(), e.list.clone()));
            }
            for s in &result.listed {
                after.insert((s.address.clone(), s.list.clone()), s.clone());
            }
            // Only what the config still watches: a removed target's listings are history.
            let watching: std::collections::HashSet<&str> =
                watched_texts.iter().map(String::as_str).collect();
            let after: Vec<StoredState> = after
                .into_values()
                .filter(|s| watching.contains(s.target.as_str()))
                .collect();
            result
                .listed
                .retain(|s| watching.contains(s.target.as_str()));
            let (requests, reminders) = (store.requests()?, store.reminders()?);
            let known = Known {
                states: &after,
                requests: &requests,
                reminders: &reminders,
            };
            let events = &result.write.events;
            let plan = notify::plan(
                &notify_config,
                &watched_targets,
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
            result.write.watched = Some(watched_texts);
            let committed = store.commit_pass(&result.write)?;
            Ok((store, result, committed))
        })
        .await
        .map_err(|e| Error::Store {
            path: config.store_location().describe(),
            message: format!("the pass was interrupted: {e}"),
        })??;
    let timing = Timing {
        dns: dns_time,
        store: store_started.elapsed(),
    };
    // Sent only now that the events and their notifications are safely in the store.
    let flushed = outbox::flush(&mut store, &config.notify, clock::now(), false).await?;

    let mut run = result.write.run.clone();
    run.id = committed.run;
    let events = result
        .write
        .events
        .iter()
        .cloned()
        .map(|mut e| {
            e.run = committed.run;
            e
        })
        .chain(committed.retired)
        .collect();
    Ok(PassOutcome {
        run,
        events,
        listed: result.listed,
        timing,
        notifications: flushed,
        health,
        answers: result.answers,
        notes,
        blind: result.blind,
        list_timing: result.timing,
    })
}
