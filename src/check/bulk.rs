//! The engine for lists that set no query rate of their own: every query goes through one
//! `Ring` client driven from here, and pairs wait for their answer in a queue kept in run
//! order, found again by their sequence number. No future, timer or channel per pair: at the
//! pace of a local DNS server that bookkeeping would cost more than the queries.
//!
//! Each pair is judged exactly as in the engine of one future per pair (`Shared::before`,
//! `Shared::judge`, the same TXT lookup for listings), and nothing is handed on before the
//! lists' health is known.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;

use super::work::Subject;
use super::{Outcome, Pair, Run, Shared, Start, settle, wants_txt};
use crate::dns::Answer;
use crate::dns::ring::Ring;

/// A pair of the run, from when it is started until it is handed on.
enum Waiting {
    /// Its query is in the ring.
    Asked {
        owner: usize,
        subject: Subject,
        list: usize,
        query: String,
    },
    /// Listed or refused: its outcome waits for the list's TXT reason.
    Reason(Outcome),
    Done(Outcome),
    /// Taken out for a moment while it moves on.
    Moving,
}

/// A TXT lookup under way, for the pair with that sequence number.
type Reason<'a> = Pin<Box<dyn Future<Output = (u64, Vec<String>)> + Send + 'a>>;

/// Runs every pair through `ring`, handing outcomes on in run order.
pub(super) async fn drive(
    shared: &Shared,
    mut ring: Ring,
    mut pairs: impl Iterator<Item = Pair>,
    run: &mut Run<'_>,
) {
    let progress = shared.progress.as_deref();
    // The pairs not yet handed on, in run order; the first has sequence number `oldest`.
    let mut queue: VecDeque<Waiting> = VecDeque::new();
    let mut oldest: u64 = 0;
    let mut more = true;
    let mut answered = Vec::new();
    let mut reasons: FuturesUnordered<Reason<'_>> = FuturesUnordered::new();
    loop {
        // Pairs are started and finished ones handed on until neither can go on without
        // waiting: a pair answered at once (from a mirror, say) frees its room at once.
        loop {
            let mut moved = false;
            // Nothing is handed on before the lists' health is known.
            while run.health_tasks.is_empty() && matches!(queue.front(), Some(Waiting::Done(_))) {
                if let Some(Waiting::Done(outcome)) = queue.pop_front() {
                    oldest += 1;
                    moved = true;
                    run.hand_on(outcome, progress);
                }
            }
            while more && queue.len() < run.reorder && ring.has_room() {
                let Some((owner, subject, list, admitted)) = pairs.next() else {
                    more = false;
                    break;
                };
                let seq = oldest + queue.len() as u64;
                queue.push_back(start(
                    shared, &mut ring, seq, owner, subject, list, admitted,
                ));
                moved = true;
            }
            if !moved {
                break;
            }
        }
        if !more && queue.is_empty() && run.health_tasks.is_empty() {
            break;
        }
        tokio::select! {
            () = ring.wait(&mut answered), if !ring.idle() => {}
            Some(joined) = run.health_tasks.join_next(), if !run.health_tasks.is_empty() => {
                run.record(joined);
            }
            Some((seq, txt)) = reasons.next(), if !reasons.is_empty() => {
                if let Some(waiting) = slot(&mut queue, oldest, seq)
                    && let Waiting::Reason(mut outcome) = std::mem::replace(waiting, Waiting::Moving)
                {
                    outcome.txt = txt;
                    *waiting = Waiting::Done(outcome);
                }
            }
            // Whatever is in the queue waits on one of the above: a pair asked is in the
            // ring, one listed on its TXT lookup, one done (at the front) on the health
            // checks; with the queue empty, more pairs would have been started.
            else => unreachable!("the bulk engine has pairs waiting on nothing"),
        }
        for (seq, answer, elapsed) in answered.drain(..) {
            let Some(waiting) = slot(&mut queue, oldest, seq) else {
                continue;
            };
            let Waiting::Asked {
                owner,
                subject,
                list,
                query,
            } = std::mem::replace(waiting, Waiting::Moving)
            else {
                continue;
            };
            let verdict = shared.judge(list, &answer);
            // A listing's TXT reason is asked under the same name.
            let reason = wants_txt(&verdict).then(|| query.clone());
            let mut outcome = shared.blank_asked(owner, &subject, list, query);
            settle(&mut outcome, verdict, Vec::new(), elapsed);
            *waiting = match reason {
                Some(query) => {
                    let (dns, zone) = (&shared.dns, shared.lists[list].zone.clone());
                    reasons.push(Box::pin(async move { (seq, dns.txt(&zone, &query).await) }));
                    Waiting::Reason(outcome)
                }
                None => Waiting::Done(outcome),
            };
        }
    }
}

/// Starts one pair under sequence number `seq`: its query goes into the ring, or its
/// outcome is known at once.
fn start(
    shared: &Shared,
    ring: &mut Ring,
    seq: u64,
    owner: usize,
    subject: Subject,
    list: usize,
    admitted: bool,
) -> Waiting {
    let query = match shared.before(owner, &subject, list, admitted) {
        Start::Ask(query) => query,
        Start::Known(outcome) => return Waiting::Done(outcome),
    };
    // The ring refuses a name longer than DNS allows, as `name::fits` would.
    match ring.ask(seq, &query) {
        Ok(()) => Waiting::Asked {
            owner,
            subject,
            list,
            query,
        },
        Err(why) => {
            let verdict = shared.judge(list, &Answer::Failure(why));
            let mut outcome = shared.blank(owner, &subject, list);
            settle(&mut outcome, verdict, Vec::new(), Duration::ZERO);
            Waiting::Done(outcome)
        }
    }
}

/// The queue's place for sequence number `seq`.
fn slot(queue: &mut VecDeque<Waiting>, oldest: u64, seq: u64) -> Option<&mut Waiting> {
    let at = usize::try_from(seq.checked_sub(oldest)?).ok()?;
    queue.get_mut(at)
}
