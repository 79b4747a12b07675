//! `rblwatch daemon`: passes on the config's schedule until told to stop.
//!
//! Signals arrive as values on a channel (`main` forwards SIGTERM, SIGINT and SIGHUP), so the
//! loop is driven the same way in tests. SIGTERM/SIGINT: no new pass; a pass under way is
//! abandoned before its commit (the store stays as it was) or, if it is committing, finishes
//! it. SIGHUP: the config is reloaded and validated; a bad one is reported and the old stays.

use std::hash::{BuildHasher, Hasher};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tracing::{debug, error, info, warn};

use crate::clock;
use crate::cmd::Setup;
use crate::error::Error;
use crate::metrics::{Metrics, StoredPicture};
use crate::notify::outbox;
use crate::pass::PassOutcome;
use crate::report::safe::clean;
use crate::store::Store;

/// What the daemon is told from outside.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// SIGTERM or SIGINT: stop.
    Stop,
    /// SIGHUP: reload the config.
    Reload,
}

/// How often queued notifications are retried between passes.
const FLUSH_EVERY: Duration = Duration::from_secs(60);

/// Runs passes on schedule until `Stop`; `load` reads and validates the config.
pub async fn run(
    load: impl Fn() -> Result<Setup, Error>,
    mut signals: mpsc::Receiver<Signal>,
) -> Result<(), Error> {
    let mut setup = Arc::new(load()?);
    let schedule_of = |setup: &Setup| -> Result<crate::config::ScheduleConfig, Error> {
        let config = setup.config()?;
        config.schedule.clone().ok_or_else(|| Error::Usage {
            arg: config.path.display().to_string(),
            message: "the daemon needs a [schedule] with a cron expression".into(),
        })
    };
    let mut schedule = schedule_of(&setup)?;
    // Seen by `status` while it runs: the fleet on one store, one line per worker.
    let host = crate::notify::context::hostname();
    let worker = crate::store::Worker {
        name: format!("{host}:{}", std::process::id()),
        host,
        pid: i64::from(std::process::id()),
        version: env!("CARGO_PKG_VERSION").into(),
        started: clock::now(),
        seen: clock::now(),
    };
    heartbeat(&setup, &worker);
    let metrics = Arc::new(Metrics::started_at(clock::now()));
    metrics.restore(store_picture(&setup));
    // The listener answers from the setup in force: a reload replaces it there too.
    let served_setup = tokio::sync::watch::Sender::new(setup.clone());
    let _server = match setup.config()?.metrics_listen {
        Some(addr) => {
            let listener =
                tokio::net::TcpListener::bind(addr)
                    .await
                    .map_err(|e| Error::Listen {
                        what: "metrics listen".into(),
                        addr: addr.to_string(),
                        message: e.to_string(),
                    })?;
            info!(%addr, "serving metrics on /metrics and the API on /api/v1/");
            if !addr.ip().is_loopback() && setup.config()?.listen_auth.is_none() {
                warn!(
                    %addr,
                    "the listener is reachable from other machines and has no user: set [metrics] user and password_file, with tls_cert and tls_key"
                );
            }
            let served = crate::web::Served {
                metrics: metrics.clone(),
                setup: served_setup.subscribe(),
                probing: tokio::sync::Semaphore::new(1),
            };
            let tls = match &setup.config()?.listen_tls {
                Some((cert, key)) => {
                    Some(crate::web::tls(cert, key).map_err(|message| Error::Listen {
                        what: "metrics TLS".into(),
                        addr: addr.to_string(),
                        message,
                    })?)
                }
                None => None,
            };
            Some(AbortOnDrop(tokio::spawn(crate::web::serve(
                listener, served, tls,
            ))))
        }
        None => None,
    };
    info!(schedule = %schedule.schedule.text, "rblwatch daemon started");
    let mut flush = tokio::time::interval(FLUSH_EVERY);
    flush.tick().await;

    // Runs are counted from `after`, which moves only when a slot is taken: a signal that
    // wakes the loop does not skip the slot that was due.
    let mut after = clock::now();
    // The loop wakes for the outbox every minute; the next pass is logged once per slot.
    let mut announced: Option<i64> = None;
    loop {
        let now = clock::now();
        let Some(next) = schedule.schedule.next_after(after) else {
            return Err(Error::Usage {
                arg: schedule.schedule.text.clone(),
                message: "the schedule has no future run".into(),
            });
        };
        let delay =
            Duration::from_secs(u64::try_from(next - now).unwrap_or(0)) + jitter(schedule.jitter);
        if announced != Some(next) {
            info!(next = %schedule.schedule.show(next), "next pass");
            announced = Some(next);
        }
        let sleep = tokio::time::sleep(delay);
        tokio::pin!(sleep);
        let mut reload = false;
        tokio::select! {
            () = &mut sleep => {
                after = next.max(clock::now());
                // With [fleet], the pass is shared with the other workers of the store.
                let pass = crate::fleet::run(&setup, next, &worker.name, &metrics.fleet);
                match until_stopped(pass, &mut signals, &mut reload).await {
                    None => {
                        info!("stopping: the pass under way was abandoned before its commit");
                        return Ok(());
                    }
                    Some(Ok(None)) => info!(
                        slot = %clock::format(next),
                        "this worker's shards are in; another worker evaluated the pass"
                    ),
                    Some(Ok(Some(done))) => report(&setup, &metrics, Ok(done)),
                    Some(Err(err)) => report(&setup, &metrics, Err(err)),
                }
            }
            // A server that never answers must not keep the daemon from stopping: an item
            // abandoned mid-send stays queued (it is marked sent only once accepted).
            _ = flush.tick() => {
                heartbeat(&setup, &worker);
                let flushing = flush_outbox(&setup, &metrics);
                if until_stopped(flushing, &mut signals, &mut reload).await.is_none() {
                    info!("stopping");
                    return Ok(());
                }
            }
            signal = signals.recv() => match signal {
                Some(Signal::Reload) => reload = true,
                Some(Signal::Stop) | None => {
                    info!("stopping");
                    return Ok(());
                }
            },
        }
        if reload {
            match load().and_then(|new| schedule_of(&new).map(|s| (new, s))) {
                Ok((new, new_schedule)) => {
                    let listen = |s: &Setup| s.config().ok().and_then(|c| c.metrics_listen);
                    if listen(&setup) != listen(&new) {
                        let shown = |a: Option<std::net::SocketAddr>| {
                            a.map_or_else(|| "nothing".to_string(), |a| a.to_string())
                        };
                        warn!(
                            "[metrics] listen changed to {}: it takes effect at the next start; {} is still served",
                            shown(listen(&new)),
                            shown(listen(&setup))
                        );
                    }
                    setup = Arc::new(new);
                    served_setup.send_replace(setup.clone());
                    schedule = new_schedule;
                    after = clock::now();
                    info!(schedule = %schedule.schedule.text, "config reloaded");
                    metrics.record_reload(true, clock::now());
                }
                Err(err) => {
                    for line in err.to_string().lines() {
                        error!("config not reloaded, the old one stays: {}", clean(line));
                    }
                    metrics.record_reload(false, clock::now());
                }
            }
        }
    }
}

/// Logs a pass and updates the metrics.
fn report(setup: &Setup, metrics: &Metrics, result: Result<PassOutcome, Error>) {
    match result {
        Ok(done) => {
            for note in &done.notes {
                warn!("{}", clean(note));
            }
            for e in done
                .events
                .iter()
                .filter(|e| e.policy == crate::store::SETUP_POLICY)
            {
                info!(
                    domain = %clean(&e.target),
                    member = %clean(&e.address),
                    role = %clean(&e.list),
                    change = %e.new_status,
                    path = %clean(&e.meanings.join("; ")),
                    "mail setup changed"
                );
            }
            for e in done
                .events
                .iter()
                .filter(|e| e.policy != crate::store::SETUP_POLICY)
            {
                info!(
                    target_name = %e.target,
                    address = %e.address,
                    list = %e.list,
                    old = e.old_status.as_deref().unwrap_or("none"),
                    new = %e.new_status,
                    codes = %e.codes.join(","),
                    "listing changed"
                );
            }
            for problem in &done.run.problems {
                warn!("{}", clean(problem));
            }
            for line in done
                .notifications
                .queued
                .iter()
                .chain(&done.notifications.failed)
            {
                warn!("notification not sent: {}", clean(line));
            }
            // -v: each list's answers and how long they took.
            for health in &done.health {
                let id = &health.list.id;
                let answers: Vec<String> = done
                    .answers
                    .iter()
                    .filter(|((list, _), _)| list == id)
                    .map(|((_, status), n)| format!("{status}={n}"))
                    .collect();
                let timing = done.list_timing.get(id).copied().unwrap_or_default();
                debug!(
                    list = %id,
                    health = %health.health,
                    answers = %answers.join(","),
                    mean_ms = timing.mean.as_millis(),
                    slowest_ms = timing.slowest.as_millis(),
                    "list answered"
                );
            }
            let unknown: usize = done.run.unknown.values().sum();
            info!(
                run = done.run.id,
                answers = done.run.answers,
                events = done.events.len(),
                listed = done.listed.len(),
                unknown,
                sent = done.notifications.sent.len(),
                duration_ms = u64::try_from((done.timing.dns + done.timing.store).as_millis())
                    .unwrap_or(u64::MAX),
                "pass finished"
            );
            metrics.record_pass(&done, store_picture(setup));
        }
        Err(Error::SlotDone { slot, run }) => {
            info!(
                slot = %clock::format(slot),
                run,
                "this slot's pass was already run by another worker; nothing to do"
            )
        }
        Err(Error::Busy { holder, .. }) => {
            warn!(
                holder = %clean(&holder),
                "another pass is running (a cron `rblwatch run`?); this one is skipped"
            )
        }
        Err(err) => {
            metrics.record_failure();
            for line in err.to_string().lines() {
                error!("pass failed: {}", clean(line));
            }
        }
    }
}

/// A worker seen within this many seconds counts as working (it heartbeats every minute).
const WORKERS_RECENT: i64 = 300;

/// Tells the store this worker is alive; a store that cannot be written is logged, not fatal
/// (the next pass reports it).
fn heartbeat(setup: &Setup, worker: &crate::store::Worker) {
    let Ok(config) = setup.config() else { return };
    let mut worker = worker.clone();
    worker.seen = clock::now();
    match Store::open_at(&config.store_location()).and_then(|mut s| s.heartbeat(&worker)) {
        Ok(()) => debug!(worker = %worker.name, "heartbeat"),
        Err(err) => warn!("heartbeat: {}", clean(&err.to_string())),
    }
}

/// What the store holds now; empty when there is no store yet (nothing has run).
fn store_picture(setup: &Setup) -> StoredPicture {
    let Ok(config) = setup.config() else {
        return StoredPicture::default();
    };
    if config.postgres.is_none() && !config.store.exists() {
        return StoredPicture::default();
    }
    let Ok(store) = Store::open_at(&config.store_location()) else {
        return StoredPicture::default();
    };
    StoredPicture {
        states: store.watched_states().unwrap_or_default(),
        health: store.list_health().unwrap_or_default(),
        last: store
            .runs(1)
            .ok()
            .and_then(|runs| runs.first().map(|r| (r.started, r.finished))),
        outbox: (
            store.outbox_pending(None).map(|v| v.len()).unwrap_or(0),
            store.outbox_failed().map(|v| v.len()).unwrap_or(0),
        ),
        workers: store
            .workers(clock::now() - WORKERS_RECENT)
            .map(|w| w.len())
            .unwrap_or(0),
    }
}

async fn flush_outbox(setup: &Setup, metrics: &Metrics) {
    let Ok(config) = setup.config() else { return };
    let Ok(mut store) = Store::open_at(&config.store_location()) else {
        return;
    };
    match outbox::flush(&mut store, &config.notify, clock::now(), false).await {
        Ok(report) => {
            for line in &report.sent {
                info!("notification sent: {}", clean(line));
            }
            for line in report.queued.iter().chain(&report.failed) {
                warn!("notification not sent: {}", clean(line));
            }
            let waiting = store.outbox_pending(None).map(|v| v.len()).unwrap_or(0);
            let failed = store.outbox_failed().map(|v| v.len()).unwrap_or(0);
            metrics.record_outbox(waiting, failed, report.sent.len());
        }
        Err(err) => error!("outbox: {}", clean(&err.to_string())),
    }
}

/// Runs `work` while listening for signals: a reload is noted for after it, a stop abandons
/// it (None).
async fn until_stopped<T>(
    work: impl Future<Output = T>,
    signals: &mut mpsc::Receiver<Signal>,
    reload: &mut bool,
) -> Option<T> {
    tokio::pin!(work);
    loop {
        tokio::select! {
            result = &mut work => return Some(result),
            signal = signals.recv() => match signal {
                Some(Signal::Reload) => *reload = true,
                Some(Signal::Stop) | None => return None,
            },
        }
    }
}

/// A random delay up to `max`, so a fleet of daemons does not query the lists at once.
fn jitter(max: Duration) -> Duration {
    if max.is_zero() {
        return Duration::ZERO;
    }
    let random = std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish();
    Duration::from_millis(random % u64::try_from(max.as_millis()).unwrap_or(1).max(1))
}

/// Stops a spawned task when dropped.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
