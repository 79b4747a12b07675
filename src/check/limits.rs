//! Politeness per list during a run: a query rate it is never sent more than, a budget of
//! queries, and backing off for the rest of the run once it answers with a refusal.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

use crate::dns::Status;
use crate::mirror::Mirror;

/// Timeouts in a row after which a list that answered before counts as gone silent: its
/// remaining queries in the run are not sent (each would wait out the whole timeout).
pub(crate) const SILENT_AFTER: u32 = 8;

/// One list's limits and refusal state for one run.
#[derive(Debug)]
pub(crate) struct ListState {
    /// The rate limit: at most `n` sends in any `window`, and the times of the last sends.
    rate: Option<(usize, Duration, tokio::sync::Mutex<VecDeque<Instant>>)>,
    /// Queries this run may still send (`u64::MAX`: no budget).
    budget: AtomicU64,
    /// Queries this run sent (or reserved for the test points).
    sent: AtomicU64,
    /// The list's local mirror, when it has one (or why it cannot be read).
    mirror: Option<Result<Arc<Mirror>, String>>,
    /// Set once the list is no longer asked in this run, with the status its remaining
    /// pairs get and why: it refused a query, went silent mid-run, or did not answer its
    /// health check.
    cut: Mutex<Option<(Status, String)>>,
    is_cut: AtomicBool,
    /// Queries in a row that timed out.
    silent: AtomicU32,
}

impl ListState {
    /// State for a list limited to `qps` queries a second and `budget` queries in this run.
    pub(crate) fn new(
        qps: Option<f64>,
        budget: Option<u64>,
        mirror: Option<Result<Arc<Mirror>, String>>,
    ) -> ListState {
        ListState {
            // A sliding window of one second (2% longer: the send itself follows the slot by
            // a little): bursts up to the limit go out at once, and no second ever holds more.
            // A sliding window (2% longer: the send itself follows the slot by a little):
            // bursts up to the limit go out at once, and no second ever holds more. Below one
            // a second, one send per 1/qps seconds.
            rate: qps.filter(|q| q.is_finite() && *q > 0.0).map(|q| {
                let n = q.floor().max(1.0);
                let window = Duration::from_secs_f64(n / q * 1.02);
                (
                    n as usize,
                    window,
                    tokio::sync::Mutex::new(VecDeque::with_capacity(n as usize)),
                )
            }),
            budget: AtomicU64::new(budget.unwrap_or(u64::MAX)),
            sent: AtomicU64::new(0),
            mirror,
            cut: Mutex::new(None),
            is_cut: AtomicBool::new(false),
            silent: AtomicU32::new(0),
        }
    }

    /// Takes one query from the run's budget; `false` when it is spent.
    pub(crate) fn take(&self) -> bool {
        let taken = self
            .budget
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |left| {
                left.checked_sub(1)
            })
            .is_ok();
        if taken {
            self.sent.fetch_add(1, Ordering::Relaxed);
        }
        taken
    }

    /// Queries taken from the budget so far (each one is sent, or was a test point).
    pub(crate) fn sent(&self) -> u64 {
        self.sent.load(Ordering::Relaxed)
    }

    /// Waits until a send keeps this list within its rate limit.
    pub(crate) async fn pace(&self) {
        let Some((n, window, sent)) = &self.rate else {
            return;
        };
        // Held through the wait, so the sends are admitted one at a time, in order.
        let mut sent = sent.lock().await;
        if let Some(oldest) = (sent.len() >= *n).then(|| sent.pop_front()).flatten() {
            tokio::time::sleep_until(oldest + *window).await;
        }
        sent.push_back(Instant::now());
    }

    /// The list's local mirror, if it has one: answers come from it, not from DNS.
    pub(crate) fn mirror(&self) -> Option<&Result<Arc<Mirror>, String>> {
        self.mirror.as_ref()
    }

    /// Why the list is no longer asked in this run, and the status its pairs get, if so.
    pub(crate) fn cut(&self) -> Option<(Status, String)> {
        if !self.is_cut.load(Ordering::Relaxed) {
            return None;
        }
        self.cut.lock().ok().and_then(|c| c.clone())
    }

    /// Stops asking the list for the rest of the run; true the first time (reported once).
    /// The health check's word (`Unhealthy`) replaces a reason found mid-run.
    pub(crate) fn cut_off(&self, status: Status, why: &str) -> bool {
        if let Ok(mut cut) = self.cut.lock()
            && (cut.is_none() || status == Status::Unhealthy)
        {
            *cut = Some((status, why.to_string()));
        }
        !self.is_cut.swap(true, Ordering::Relaxed)
    }

    /// Counts an answer (`timed_out`: none came); true when this timeout is the one that
    /// makes `SILENT_AFTER` in a row.
    pub(crate) fn count_timeout(&self, timed_out: bool) -> bool {
        if timed_out {
            self.silent.fetch_add(1, Ordering::Relaxed) + 1 == SILENT_AFTER
        } else {
            self.silent.store(0, Ordering::Relaxed);
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_rate_is_never_exceeded_and_a_budget_is_kept() {
        let state = ListState::new(Some(5.0), Some(12), None);
        let start = Instant::now();
        let mut sends = Vec::new();
        for _ in 0..20 {
            if state.take() {
                state.pace().await;
                sends.push(Instant::now() - start);
            }
        }
        assert_eq!(sends.len(), 12);
        // The first five at once, then five more a second later, and so on.
        assert_eq!(sends[4], Duration::ZERO);
        assert_eq!(sends[5], Duration::from_millis(1020));
        assert_eq!(sends[11], Duration::from_millis(2040));
        for (i, at) in sends.iter().enumerate() {
            let within = sends[i..]
                .iter()
                .take_while(|t| **t - *at < Duration::from_secs(1))
                .count();
            assert!(within <= 5, "{within} sends within a second");
        }
    }

    #[test]
    fn a_list_is_silent_after_timeouts_in_a_row_and_cut_once() {
        let state = ListState::new(None, None, None);
        for _ in 0..SILENT_AFTER - 1 {
            assert!(!state.count_timeout(true));
        }
        assert!(
            !state.count_timeout(false),
            "an answer starts the count again"
        );
        for _ in 0..SILENT_AFTER - 1 {
            assert!(!state.count_timeout(true));
        }
        assert!(state.count_timeout(true));
        assert!(!state.count_timeout(true), "reported once");
        assert_eq!(state.cut(), None);
        assert!(state.cut_off(Status::Error, "silent"));
        assert!(!state.cut_off(Status::Error, "again"));
        assert_eq!(state.cut(), Some((Status::Error, "silent".into())));
        assert!(!state.cut_off(Status::Unhealthy, "health"));
        assert_eq!(state.cut(), Some((Status::Unhealthy, "health".into())));
    }

    #[test]
    fn a_refusal_is_reported_once() {
        let state = ListState::new(None, None, None);
        assert_eq!(state.cut(), None);
        assert!(state.cut_off(Status::Refused, "127.255.255.254"));
        assert!(!state.cut_off(Status::Refused, "again"));
        assert_eq!(
            state.cut(),
            Some((Status::Refused, "127.255.255.254".into()))
        );
    }
}
