//! Politeness per list during a run: a query rate it is never sent more than, a budget of
//! queries, and backing off for the rest of the run once it answers with a refusal.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use tokio::time::Instant;

/// One list's limits and refusal state for one run.
#[derive(Debug)]
pub(crate) struct ListState {
    /// The earliest time the next query may go out (rate limit).
    next_slot: Option<(Duration, tokio::sync::Mutex<Instant>)>,
    /// Queries this run may still send (`u64::MAX`: no budget).
    budget: AtomicU64,
    /// Set once the list refused a query in this run.
    refused: AtomicBool,
    /// Why, for the answers not sent after that.
    refusal: Mutex<Option<String>>,
}

impl ListState {
    /// State for a list limited to `qps` queries a second and `budget` queries in this run.
    pub(crate) fn new(qps: Option<f64>, budget: Option<u64>) -> ListState {
        ListState {
            next_slot: qps.filter(|q| q.is_finite() && *q > 0.0).map(|q| {
                (
                    // 2% under the limit: the send itself follows the slot by a little.
                    Duration::from_secs_f64(1.02 / q),
                    tokio::sync::Mutex::new(Instant::now()),
                )
            }),
            budget: AtomicU64::new(budget.unwrap_or(u64::MAX)),
            refused: AtomicBool::new(false),
            refusal: Mutex::new(None),
        }
    }

    /// Takes one query from the run's budget; `false` when it is spent.
    pub(crate) fn take(&self) -> bool {
        self.budget
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |left| {
                left.checked_sub(1)
            })
            .is_ok()
    }

    /// Waits for this list's next send slot (its rate limit).
    pub(crate) async fn pace(&self) {
        if let Some((interval, next)) = &self.next_slot {
            // The slot is held through the wait and the next one counted from when this one
            // really opened, so a late wake-up never squeezes two sends closer together.
            let mut next = next.lock().await;
            tokio::time::sleep_until(*next).await;
            *next = Instant::now() + *interval;
        }
    }

    /// Why the list refused earlier in this run, if it did.
    pub(crate) fn refused(&self) -> Option<String> {
        if !self.refused.load(Ordering::Relaxed) {
            return None;
        }
        self.refusal.lock().ok().and_then(|r| r.clone())
    }

    /// Records a refusal; true the first time (so it is reported once).
    pub(crate) fn refuse(&self, why: &str) -> bool {
        if let Ok(mut reason) = self.refusal.lock() {
            reason.get_or_insert_with(|| why.to_string());
        }
        !self.refused.swap(true, Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_rate_is_never_exceeded_and_a_budget_is_kept() {
        let state = ListState::new(Some(5.0), Some(12));
        let start = Instant::now();
        let mut admitted = 0;
        for _ in 0..20 {
            if state.take() {
                state.pace().await;
                admitted += 1;
            }
        }
        assert_eq!(admitted, 12);
        // 12 sends at 5 a second: the last one 11 intervals of 200 ms after the first.
        let took = Instant::now() - start;
        assert!(
            took >= Duration::from_millis(2200) && took < Duration::from_millis(2300),
            "{took:?}"
        );
    }

    #[test]
    fn a_refusal_is_reported_once() {
        let state = ListState::new(None, None);
        assert_eq!(state.refused(), None);
        assert!(state.refuse("127.255.255.254"));
        assert!(!state.refuse("again"));
        assert_eq!(state.refused().as_deref(), Some("127.255.255.254"));
    }
}
