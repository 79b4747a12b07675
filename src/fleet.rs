//! A fleet of daemons sharing each pass (`[fleet]`, on a PostgreSQL store).
//!
//! For a schedule slot, the first worker to wake cuts the configured targets into shards (a
//! target, or a network of `shard` addresses of a range) and every worker then leases shards
//! one at a time, asks them against every list and stores the answers. A worker that dies
//! mid-shard loses nothing: its lease expires and another worker asks the shard again (its
//! answers replace the first ones, so each pair is asked once in the pass's record). When
//! every shard is in, one worker claims the evaluation (itself under a lease) and runs the
//! pass as `run` would, from the stored answers: one run record, each change one event, the
//! notifications queued once.

use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::check::{self, CheckRequest};
use crate::clock;
use crate::cmd::Setup;
use crate::config::WatchTarget;
use crate::dns::Dns;
use crate::error::Error;
use crate::pass::{self, PassOutcome, StoredAnswers};
use crate::store::{FleetAnswer, ShardSummary, Store};
use crate::target::{Target, TargetKind};

/// How often a worker with nothing to lease looks again.
const POLL: Duration = Duration::from_millis(500);
/// Leases a worker waits through, with nothing to lease and the pass not finished, before it
/// gives the slot up (the evaluation keeps failing, say).
const PATIENCE: i64 = 3;

/// A worker's view of the fleet's passes, for its metrics.
#[derive(Debug, Default)]
pub struct Progress {
    /// Shards this worker asked and stored, over all passes.
    pub asked: AtomicU64,
    /// Shards of the pass under way (or the last one).
    pub shards: AtomicU64,
    /// Of them, stored by any worker.
    pub done: AtomicU64,
}

impl Progress {
    fn show(&self, store: &Store, slot: i64) -> Result<(), Error> {
        match store.fleet_progress(slot)? {
            // A closed pass's shards are dropped: all of them were done.
            (0, _) => self.finished(),
            (shards, done) => {
                self.shards.store(shards, Ordering::Relaxed);
                self.done.store(done, Ordering::Relaxed);
            }
        }
        Ok(())
    }

    fn finished(&self) {
        self.done
            .store(self.shards.load(Ordering::Relaxed), Ordering::Relaxed);
    }
}

/// Runs this worker's share of the pass of `slot`: `Some` when it was the one that evaluated
/// and committed the pass, `None` when another worker did. What it sees of the pass's
/// shards is kept in `progress`.
pub async fn run(
    setup: &Setup,
    slot: i64,
    worker: &str,
    progress: &Progress,
) -> Result<Option<PassOutcome>, Error> {
    let config = setup.config()?;
    let Some(fleet) = config.fleet else {
        return pass::run(setup, false, None, Some(slot)).await.map(Some);
    };
    let location = config.store_location();
    let mut store = Store::open_at(&location)?;
    if let Some(run) = store.slot_run(slot)? {
        return Err(Error::SlotDone { slot, run });
    }
    store.fleet_open(slot, &shards(&config.targets, fleet.shard), clock::now())?;
    progress.show(&store, slot)?;
    let selection = setup.select(None)?;
    let (settings, verify) = setup.resolver(None)?;
    let dns = Dns::new(&settings)?;
    let mut waiting_since: Option<i64> = None;
    loop {
        let now = clock::now();
        if let Some(shard) = store.fleet_lease(slot, worker, now, now + fleet.lease)? {
            waiting_since = None;
            tracing::debug!(shard = shard.n, part = %shard.part, "shard leased");
            let target = Target::parse(&shard.part)?;
            let report = check::run(
                &dns,
                CheckRequest {
                    targets: vec![target],
                    lists: selection.lists.clone(),
                    verify,
                    concurrency: settings.concurrency,
                    progress: None,
                    used_today: store.usage(now.div_euclid(86_400))?,
                    resolutions: None,
                },
            )
            .await;
            let answers: Vec<FleetAnswer> = report
                .outcomes
                .iter()
                .map(|o| FleetAnswer {
                    target: shard.target.clone(),
                    address: o.address.clone(),
                    list: o.list.id.clone(),
                    query: o.query.clone(),
                    status: o.status.as_str().into(),
                    codes: o.codes.iter().map(ToString::to_string).collect(),
                    meanings: o.meanings.clone(),
                    txt: o.txt.clone(),
                    detail: o.detail.clone(),
                    delist_url: o.delist_url.clone(),
                    elapsed_ms: i64::try_from(o.elapsed.as_millis()).unwrap_or(i64::MAX),
                })
                .collect();
            let health: Vec<(String, String, Option<String>)> = report
                .lists
                .iter()
                .map(|h| {
                    (
                        h.list.id.clone(),
                        h.health.as_str().into(),
                        h.detail.clone(),
                    )
                })
                .collect();
            let summary = ShardSummary {
                health: serde_json::to_string(&health).unwrap_or_default(),
                sent: serde_json::to_string(&report.sent).unwrap_or_default(),
                notes: serde_json::to_string(&report.notes).unwrap_or_default(),
            };
            let day = now.div_euclid(86_400);
            let kept =
                store.fleet_finish(slot, shard.n, worker, &answers, &summary, &report.sent, day)?;
            tracing::debug!(
                shard = shard.n,
                answers = answers.len(),
                kept,
                "shard asked"
            );
            if kept {
                progress.asked.fetch_add(1, Ordering::Relaxed);
            }
            progress.show(&store, slot)?;
            continue;
        }
        progress.show(&store, slot)?;
        if store.fleet_closed(slot)? {
            return Ok(None);
        }
        if store.fleet_claim(slot, worker, now, now + fleet.lease)? {
            let stored = StoredAnswers {
                location: location.clone(),
                slot,
                summaries: store.fleet_summaries(slot)?,
            };
            let done = pass::run_with(setup, true, None, Some(slot), Some(stored)).await;
            match done {
                Ok(outcome) => {
                    store.fleet_close(slot)?;
                    progress.finished();
                    return Ok(Some(outcome));
                }
                // Committed by an evaluator that died before it could say so.
                Err(Error::SlotDone { .. }) => {
                    store.fleet_close(slot)?;
                    return Ok(None);
                }
                // The claim expires, and this or another worker tries again.
                Err(err) => return Err(err),
            }
        }
        let since = *waiting_since.get_or_insert(now);
        if now - since > PATIENCE * fleet.lease {
            return Err(Error::Store {
                path: location.describe(),
                message: format!(
                    "the fleet pass of slot {} did not finish within {} s of its last shard; given up by this worker",
                    clock::format(slot),
                    PATIENCE * fleet.lease
                ),
            });
        }
        tokio::time::sleep(POLL).await;
    }
}

/// The shards of a pass: (target as configured, part to ask) — each target whole, or a
/// range in networks of `size` addresses.
pub fn shards(targets: &[WatchTarget], size: u32) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for watched in targets {
        let target = &watched.target;
        match &target.kind {
            TargetKind::Net(cidr) if cidr.len() > u128::from(size) => {
                let bits: u8 = if cidr.network.is_ipv4() { 32 } else { 128 };
                // `size` is a power of two: networks of that many addresses.
                let prefix = bits - u8::try_from(size.trailing_zeros()).unwrap_or(0);
                let count = 1u128 << (prefix - cidr.prefix);
                for i in 0..count {
                    let network = match cidr.network {
                        IpAddr::V4(v4) => IpAddr::V4(
                            (u32::from(v4) + u32::try_from(i).unwrap_or(0) * size).into(),
                        ),
                        IpAddr::V6(v6) => {
                            IpAddr::V6((u128::from(v6) + i * u128::from(size)).into())
                        }
                    };
                    out.push((target.text.clone(), format!("{network}/{prefix}")));
                }
            }
            _ => out.push((target.text.clone(), target.text.clone())),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn watched(text: &str) -> WatchTarget {
        WatchTarget {
            target: Target::parse(text).expect("target"),
            label: None,
            contacts: Vec::new(),
            mail_domain: false,
            member_of: Vec::new(),
        }
    }

    #[test]
    fn ranges_are_cut_into_networks_of_the_shard_size() {
        let shards = shards(
            &[
                watched("192.0.2.5"),
                watched("10.0.0.0/22"),
                watched("10.1.0.0/25"),
                watched("2001:db8::/120"),
            ],
            256,
        );
        assert_eq!(
            shards,
            [
                ("192.0.2.5".into(), "192.0.2.5".into()),
                ("10.0.0.0/22".into(), "10.0.0.0/24".into()),
                ("10.0.0.0/22".into(), "10.0.1.0/24".into()),
                ("10.0.0.0/22".into(), "10.0.2.0/24".into()),
                ("10.0.0.0/22".into(), "10.0.3.0/24".into()),
                ("10.1.0.0/25".into(), "10.1.0.0/25".into()),
                ("2001:db8::/120".into(), "2001:db8::/120".into()),
            ]
        );
    }
}
