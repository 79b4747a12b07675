//! Prometheus metrics of the daemon: the last pass's picture, kept in memory and served as
//! text on `GET /metrics` by the daemon's listener (`web::serve`).
//!
//! Names follow Prometheus conventions: `rblwatch_` prefix, `_seconds`, `_total`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;

use crate::pass::PassOutcome;
use crate::store::StoredState;

#[derive(Default)]
struct Snapshot {
    listed: Vec<(String, String, String, String, u8)>,
    health: Vec<(String, String)>,
    answers: BTreeMap<(String, String), u64>,
    last_start: Option<i64>,
    last_end: Option<i64>,
    last_duration: f64,
    passes: u64,
    failures: u64,
    outbox_waiting: usize,
    outbox_failed: usize,
    workers: usize,
    sent: u64,
    /// Whether the last config load (the start, or a reload) applied.
    reload_applied: bool,
    /// When a config load last applied.
    reload_success: i64,
}

/// What the store says after a pass: the states of the watched targets, each list's health
/// in the last pass, that pass's start and end, and the outbox.
#[derive(Default)]
pub struct StoredPicture {
    /// States of the watched targets.
    pub states: Vec<StoredState>,
    /// Each list's health in the last pass, by id.
    pub health: Vec<(String, String)>,
    /// The last pass's start and end (Unix seconds).
    pub last: Option<(i64, i64)>,
    /// Notifications waiting, and given up on.
    pub outbox: (usize, usize),
    /// Daemons seen working on the store in the last few minutes (this one included).
    pub workers: usize,
}

impl Snapshot {
    fn show(&mut self, stored: StoredPicture) {
        self.listed = stored
            .states
            .iter()
            .map(|s| {
                (
                    s.target.clone(),
                    s.address.clone(),
                    s.list.clone(),
                    s.policy.clone(),
                    u8::from(s.status == "listed"),
                )
            })
            .collect();
        self.listed.sort();
        self.health = stored.health;
        if let Some((start, end)) = stored.last {
            self.last_start = Some(start);
            self.last_end = Some(end);
            // Whole seconds: the store keeps no finer times.
            self.last_duration = u32::try_from(end.saturating_sub(start)).map_or(0.0, f64::from);
        }
        (self.outbox_waiting, self.outbox_failed) = stored.outbox;
        self.workers = stored.workers;
    }
}

/// The daemon's metrics. A std `Mutex`: it is held only to copy numbers, never across `.await`.
#[derive(Default)]
pub struct Metrics {
    inner: Mutex<Snapshot>,
    /// What this worker sees of the fleet's passes.
    pub fleet: crate::fleet::Progress,
}

impl Metrics {
    /// Metrics of a daemon that started (and loaded its config) at `at`.
    pub fn started_at(at: i64) -> Metrics {
        let metrics = Metrics::default();
        if let Ok(mut m) = metrics.inner.lock() {
            m.reload_applied = true;
            m.reload_success = at;
        }
        metrics
    }

    /// Records a finished pass and the store's picture after it.
    pub fn record_pass(&self, outcome: &PassOutcome, stored: StoredPicture) {
        let Ok(mut m) = self.inner.lock() else { return };
        m.show(stored);
        m.health = outcome
            .health
            .iter()
            .map(|h| (h.list.id.clone(), h.health.to_string()))
            .collect();
        for ((list, status), n) in &outcome.answers {
            *m.answers
                .entry((list.clone(), status.to_string()))
                .or_default() += n;
        }
        m.last_start = Some(outcome.run.started);
        m.last_end = Some(outcome.run.finished);
        m.last_duration = (outcome.timing.dns + outcome.timing.store).as_secs_f64();
        m.passes += 1;
        m.sent += u64::try_from(outcome.notifications.sent.len()).unwrap_or(0);
    }

    /// Shows what the store holds from earlier passes (a restart, or a cron `run`), so the
    /// gauges are right from the start instead of empty until the next scheduled pass.
    /// Counters start again at 0, as Prometheus expects of a restarted process.
    pub fn restore(&self, stored: StoredPicture) {
        if let Ok(mut m) = self.inner.lock() {
            m.show(stored);
        }
    }

    /// Records a reload of the config (SIGHUP): whether it applied, and when.
    pub fn record_reload(&self, applied: bool, at: i64) {
        if let Ok(mut m) = self.inner.lock() {
            m.reload_applied = applied;
            if applied {
                m.reload_success = at;
            }
        }
    }

    /// Records a pass that could not finish.
    pub fn record_failure(&self) {
        if let Ok(mut m) = self.inner.lock() {
            m.failures += 1;
        }
    }

    /// Records the outbox after a flush between passes.
    pub fn record_outbox(&self, waiting: usize, failed: usize, sent: usize) {
        if let Ok(mut m) = self.inner.lock() {
            m.outbox_waiting = waiting;
            m.outbox_failed = failed;
            m.sent += u64::try_from(sent).unwrap_or(0);
        }
    }

    /// The Prometheus text exposition: each family's HELP and TYPE, then its samples.
    pub fn render(&self) -> String {
        let Ok(m) = self.inner.lock() else {
            return String::new();
        };
        let mut out = String::new();
        head(
            &mut out,
            "rblwatch_listed",
            "gauge",
            "1 when the address is listed on the list, 0 when clear (last definite answer).",
        );
        for (target, address, list, policy, value) in &m.listed {
            let _ = writeln!(
                out,
                "rblwatch_listed{{target=\"{}\",address=\"{}\",list=\"{}\",policy=\"{}\"}} {value}",
                esc(target),
                esc(address),
                esc(list),
                esc(policy)
            );
        }
        head(
            &mut out,
            "rblwatch_list_healthy",
            "gauge",
            "1 when the list passed its RFC 5782 test points in the last pass.",
        );
        for (list, health) in &m.health {
            let ok = u8::from(crate::dns::Health::is_trusted_word(health));
            let _ = writeln!(
                out,
                "rblwatch_list_healthy{{list=\"{}\",health=\"{}\"}} {ok}",
                esc(list),
                esc(health)
            );
        }
        head(
            &mut out,
            "rblwatch_answers_total",
            "counter",
            "Answers received, by list and status.",
        );
        for ((list, status), n) in &m.answers {
            let _ = writeln!(
                out,
                "rblwatch_answers_total{{list=\"{}\",status=\"{}\"}} {n}",
                esc(list),
                esc(status)
            );
        }
        let mut scalar = |name: &str, kind: &str, help: &str, value: String| {
            head(&mut out, name, kind, help);
            let _ = writeln!(out, "{name} {value}");
        };
        if let (Some(start), Some(end)) = (m.last_start, m.last_end) {
            scalar(
                "rblwatch_last_pass_start_timestamp_seconds",
                "gauge",
                "When the last pass started.",
                start.to_string(),
            );
            scalar(
                "rblwatch_last_pass_end_timestamp_seconds",
                "gauge",
                "When the last pass ended.",
                end.to_string(),
            );
            scalar(
                "rblwatch_last_pass_duration_seconds",
                "gauge",
                "How long the last pass took.",
                format!("{:.3}", m.last_duration),
            );
        }
        scalar(
            "rblwatch_passes_total",
            "counter",
            "Passes finished.",
            m.passes.to_string(),
        );
        scalar(
            "rblwatch_pass_failures_total",
            "counter",
            "Passes that could not finish.",
            m.failures.to_string(),
        );
        scalar(
            "rblwatch_fleet_shards_total",
            "counter",
            "Shards of fleet passes this worker asked and stored.",
            self.fleet
                .asked
                .load(std::sync::atomic::Ordering::Relaxed)
                .to_string(),
        );
        scalar(
            "rblwatch_fleet_pass_shards",
            "gauge",
            "Shards of the fleet pass under way, or of the last one.",
            self.fleet
                .shards
                .load(std::sync::atomic::Ordering::Relaxed)
                .to_string(),
        );
        scalar(
            "rblwatch_fleet_pass_shards_done",
            "gauge",
            "Of the fleet pass's shards, those stored by any worker.",
            self.fleet
                .done
                .load(std::sync::atomic::Ordering::Relaxed)
                .to_string(),
        );
        scalar(
            "rblwatch_workers",
            "gauge",
            "Daemons seen working on this store in the last 5 minutes, this one included.",
            m.workers.to_string(),
        );
        scalar(
            "rblwatch_outbox_queued",
            "gauge",
            "Notifications waiting to be sent.",
            m.outbox_waiting.to_string(),
        );
        scalar(
            "rblwatch_outbox_failed",
            "gauge",
            "Notifications given up on (kept in the store).",
            m.outbox_failed.to_string(),
        );
        scalar(
            "rblwatch_notifications_sent_total",
            "counter",
            "Notifications accepted by their server.",
            m.sent.to_string(),
        );
        scalar(
            "rblwatch_config_last_reload_successful",
            "gauge",
            "1 when the last config load (start or SIGHUP) applied, 0 when the old one stays.",
            u8::from(m.reload_applied).to_string(),
        );
        scalar(
            "rblwatch_config_last_reload_success_timestamp_seconds",
            "gauge",
            "When a config load (start or SIGHUP) last applied.",
            m.reload_success.to_string(),
        );
        head(
            &mut out,
            "rblwatch_build_info",
            "gauge",
            "The running rblwatch's version.",
        );
        let _ = writeln!(
            out,
            "rblwatch_build_info{{version=\"{}\"}} 1",
            esc(env!("CARGO_PKG_VERSION"))
        );
        out
    }
}

/// A family's HELP and TYPE lines.
fn head(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

/// The answer to `/probe`: one address against every list, as Prometheus text. Success is a
/// definite answer from every list asked; a list whose answer is not definite (a timeout, a
/// refusal, a list not believed) has no `listed` sample, only its status.
pub fn probe_text(report: &crate::check::CheckReport, took: std::time::Duration) -> String {
    let mut out = String::new();
    let definite = report.outcomes.iter().all(|o| o.status.is_definite());
    head(
        &mut out,
        "rblwatch_probe_success",
        "gauge",
        "1 when every list asked gave a definite answer (listed or clear).",
    );
    let _ = writeln!(
        out,
        "rblwatch_probe_success {}",
        u8::from(definite && !report.outcomes.is_empty())
    );
    head(
        &mut out,
        "rblwatch_probe_duration_seconds",
        "gauge",
        "How long the probe took, health checks included.",
    );
    let _ = writeln!(
        out,
        "rblwatch_probe_duration_seconds {:.6}",
        took.as_secs_f64()
    );
    head(
        &mut out,
        "rblwatch_probe_listed",
        "gauge",
        "1 when the list lists the address, 0 when it does not (definite answers only).",
    );
    for o in report.outcomes.iter().filter(|o| o.status.is_definite()) {
        let _ = writeln!(
            out,
            "rblwatch_probe_listed{{address=\"{}\",list=\"{}\",policy=\"{}\"}} {}",
            esc(&o.address),
            esc(&o.list.id),
            esc(&o.list.policy.to_string()),
            u8::from(o.status == crate::dns::Status::Listed)
        );
    }
    head(
        &mut out,
        "rblwatch_probe_answer",
        "gauge",
        "1 for the status of each list's answer: listed, clear, refused, bogus, error, unhealthy.",
    );
    for o in &report.outcomes {
        let _ = writeln!(
            out,
            "rblwatch_probe_answer{{address=\"{}\",list=\"{}\",status=\"{}\"}} 1",
            esc(&o.address),
            esc(&o.list.id),
            o.status
        );
    }
    head(
        &mut out,
        "rblwatch_probe_list_healthy",
        "gauge",
        "1 when the list passed its RFC 5782 test points in this probe.",
    );
    for h in &report.lists {
        let _ = writeln!(
            out,
            "rblwatch_probe_list_healthy{{list=\"{}\",health=\"{}\"}} {}",
            esc(&h.list.id),
            h.health,
            u8::from(h.health.is_trusted())
        );
    }
    out
}

pub(crate) fn esc(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}
