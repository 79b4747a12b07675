//! The engine: targets x lists -> one outcome each, plus each list's health.
//!
//! Work is generated as it is walked (ranges are never expanded into memory), each address is
//! asked once, at most `concurrency` pairs are in flight or waiting to be reported, and the
//! health checks run alongside the first of them. Knows no terminal and no store: outcomes
//! go to a sink (`stream`) or are collected (`run`).

use std::net::IpAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::Poll;
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::dns::{self, Answer, Dns, Health, Status, Verdict, classify, name};
use crate::lists::{ActiveList, List, Policy, QueryKind};

mod bulk;
pub mod fault;
mod limits;
pub mod scan;
mod work;

pub use fault::{ResolverFault, resolver_fault};

use crate::target::{Target, TargetKind};
use futures_util::StreamExt;
use futures_util::stream::FuturesOrdered;
use limits::ListState;
use work::{Segment, Subject};

/// What to check.
#[derive(Debug, Clone)]
pub struct CheckRequest {
    /// The targets as given.
    pub targets: Vec<Target>,
    /// The lists to ask.
    pub lists: Vec<ActiveList>,
    /// Check each list's RFC 5782 test points before believing it.
    pub verify: bool,
    /// How many queries may be in flight at once.
    pub concurrency: usize,
    /// Counts answered (target, list) pairs as they come, for a progress display.
    pub progress: Option<Arc<Progress>>,
    /// Queries already sent today to each list (by list id), counted against daily limits.
    pub used_today: std::collections::HashMap<String, u64>,
    /// The host-name targets already resolved (`resolve`); None: the run resolves them.
    pub resolutions: Option<Vec<Resolution>>,
}

/// Resolves the host-name targets to their addresses, as a run would.
pub async fn resolve(dns: &Dns, targets: &[Target], concurrency: usize) -> Vec<Resolution> {
    resolve_names(dns, targets, &Arc::new(Semaphore::new(concurrency.max(1)))).await
}

/// How many distinct addresses a run over `targets` asks about (host names by the addresses
/// they resolved to, overlaps once); saturates at `u128::MAX`.
pub fn address_count(targets: &[Target], resolutions: &[Resolution]) -> u128 {
    let resolved = resolved_indexes(targets, resolutions);
    work::segments(targets, &resolved)
        .iter()
        .filter(|seg| !matches!(seg, Segment::Name { .. }))
        .fold(0u128, |n, seg| n.saturating_add(seg.len()))
}

/// Each host-name target's addresses, by target index.
fn resolved_indexes(targets: &[Target], resolutions: &[Resolution]) -> Vec<(usize, Vec<IpAddr>)> {
    targets
        .iter()
        .enumerate()
        .filter_map(|(i, t)| {
            resolutions
                .iter()
                .find(|r| r.target == t.text)
                .map(|r| (i, r.addresses.clone()))
        })
        .collect()
}

/// How far a run is: pairs answered of pairs to ask. Updated by the engine, read by whoever
/// shows progress; the engine itself never prints.
#[derive(Debug, Default)]
pub struct Progress {
    /// Pairs answered so far.
    pub done: AtomicU64,
    /// Pairs to ask in all (known once the queries are queued).
    pub total: AtomicU64,
}

/// One answer: one address or name, asked of one list.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The target as the user typed it.
    pub target: Arc<str>,
    /// The IP address or name that was asked about.
    pub address: String,
    /// The list asked.
    pub list: Arc<List>,
    /// The full name queried (a key in it shown as `{key}`).
    pub query: String,
    /// What the answer means.
    pub status: Status,
    /// Every A record of the answer.
    pub codes: Vec<std::net::Ipv4Addr>,
    /// What the codes mean.
    pub meanings: Vec<String>,
    /// The list's TXT reason, for listed and refused answers.
    pub txt: Vec<String>,
    /// Where to go to get off the list, with the address filled in.
    pub delist_url: Option<String>,
    /// Why the status is what it is.
    pub detail: Option<String>,
    /// How long the A query took.
    pub elapsed: Duration,
}

impl Outcome {
    /// Listed on a blocklist: the one thing that counts as listed.
    pub fn is_block_listing(&self) -> bool {
        self.status == Status::Listed && self.list.policy == Policy::Block
    }
}

/// A list's health as found in this run.
#[derive(Debug, Clone)]
pub struct ListHealth {
    /// The list.
    pub list: Arc<List>,
    /// Its health.
    pub health: Health,
    /// What the test points answered, where not ok.
    pub detail: Option<String>,
}

/// How a host-name target was resolved.
#[derive(Debug, Clone)]
pub struct Resolution {
    /// The target as typed.
    pub target: String,
    /// Its A and AAAA addresses.
    pub addresses: Vec<IpAddr>,
    /// Why it has none, when it has none.
    pub error: Option<String>,
}

/// Everything one run found.
#[derive(Debug, Clone)]
pub struct CheckReport {
    /// One per (address or name, list) asked, in target then catalog order.
    pub outcomes: Vec<Outcome>,
    /// One per list queried.
    pub lists: Vec<ListHealth>,
    /// One per host-name target.
    pub resolutions: Vec<Resolution>,
    /// What the run held back and why (a list that refused, a budget spent), one line each.
    pub notes: Vec<String>,
    /// Queries sent to each list (by id).
    pub sent: Vec<(String, u64)>,
    /// When most lists failed their test points the same way: the resolver's fault.
    pub fault: Option<ResolverFault>,
    /// Wall time of the whole run.
    pub elapsed: Duration,
}

/// What a streamed run found besides its outcomes.
#[derive(Debug, Clone)]
pub struct RunSummary {
    /// Queries sent to each list (by id) in this run.
    pub sent: Vec<(String, u64)>,
    /// One per list queried.
    pub lists: Vec<ListHealth>,
    /// One per host-name target.
    pub resolutions: Vec<Resolution>,
    /// What the run held back and why.
    pub notes: Vec<String>,
    /// When most lists failed their test points the same way: the resolver's fault.
    pub fault: Option<ResolverFault>,
    /// Wall time of the whole run.
    pub elapsed: Duration,
}

impl Subject {
    fn kind(&self) -> QueryKind {
        match self {
            Subject::Ip(IpAddr::V4(_)) => QueryKind::Ipv4,
            Subject::Ip(IpAddr::V6(_)) => QueryKind::Ipv6,
            Subject::Domain(_) => QueryKind::Domain,
        }
    }

    fn label(&self) -> String {
        match self {
            Subject::Ip(IpAddr::V4(v4)) => name::ipv4_text(*v4),
            Subject::Ip(ip) => ip.to_string(),
            Subject::Domain(name) => name.clone(),
        }
    }

    fn query(&self, zone: &str) -> String {
        match self {
            Subject::Ip(ip) => name::ip(*ip, zone),
            Subject::Domain(domain) => name::domain(domain, zone),
        }
    }

    /// The subject as a list asks for it: the registrable domain for lists that want it.
    fn for_list(&self, list: &List) -> Subject {
        match self {
            Subject::Domain(domain) if list.registrable_domain => {
                Subject::Domain(psl::domain_str(domain).unwrap_or(domain).to_string())
            }
            _ => self.clone(),
        }
    }

    /// A test point of the catalog: an IP exactly as written (no IPv4 mapping: the RFC's IPv6
    /// test entries are mapped addresses), or a name.
    fn test_point(point: &str) -> Subject {
        match point.parse::<IpAddr>() {
            Ok(ip) => Subject::Ip(ip),
            Err(_) => Subject::Domain(point.to_string()),
        }
    }
}

/// Runs every query of the request and returns everything found.
pub async fn run(dns: &Dns, request: CheckRequest) -> CheckReport {
    let mut outcomes = Vec::new();
    let summary = stream(dns, request, &mut |o| outcomes.push(o)).await;
    CheckReport {
        outcomes,
        lists: summary.lists,
        resolutions: summary.resolutions,
        notes: summary.notes,
        sent: summary.sent,
        fault: summary.fault,
        elapsed: summary.elapsed,
    }
}

/// A timer due before any query's, armed and seen by the runtime before the queries arm theirs.
///
/// tokio writes to its wake-up eventfd for every timer due sooner than the earliest it knew
/// of when it last parked, and before its first park that is every timer: a system call per
/// query, for nothing on this one-thread runtime, whose only thread is the one arming them.
/// Once it has parked (without waiting) with this one pending, later deadlines arm quietly.
/// Kept for the run; when it fires, it only wakes the run once.
async fn early_timer() -> Pin<Box<tokio::time::Sleep>> {
    let mut timer = Box::pin(tokio::time::sleep(Duration::from_millis(1)));
    std::future::poll_fn(|cx| {
        let _ = timer.as_mut().poll(cx);
        Poll::Ready(())
    })
    .await;
    tokio::task::yield_now().await;
    timer
}

/// Runs every query of the request, handing each outcome to `sink` in target then catalog
/// order as soon as it and those before it are known. At most `concurrency` pairs are in
/// flight or waiting to be handed on, so memory does not grow with the size of the range.
pub async fn stream(
    dns: &Dns,
    request: CheckRequest,
    sink: &mut (dyn FnMut(Outcome) + Send),
) -> RunSummary {
    let started = Instant::now();
    let _early = early_timer().await;
    let window = request.concurrency.max(1);
    let health_limit = Arc::new(Semaphore::new(window));
    let resolutions = match &request.resolutions {
        Some(done) => done.clone(),
        None => resolve_names(dns, &request.targets, &health_limit).await,
    };
    let resolved = resolved_indexes(&request.targets, &resolutions);
    let mut segments = work::segments(&request.targets, &resolved);
    // Addresses no selected list serves are not walked at all (`::/0` against IPv4-only
    // lists would otherwise be walked for ever, asking nothing).
    let mut notes = Vec::new();
    let served = |seg: &Segment| request.lists.iter().any(|a| a.list.serves(kind_of(seg)));
    for seg in segments.iter().filter(|seg| !served(seg)) {
        let kind = match kind_of(seg) {
            QueryKind::Ipv4 => "IPv4 addresses",
            QueryKind::Ipv6 => "IPv6 addresses",
            QueryKind::Domain => "domain names",
        };
        let note = format!(
            "{}: no selected list serves {kind}, so {} not asked about",
            request.targets[seg.owner()].text,
            if seg.len() == 1 {
                "it was"
            } else {
                "they were"
            }
        );
        if !notes.contains(&note) {
            notes.push(note);
        }
    }
    segments.retain(served);
    // A list is checked and reported only when it is asked something: one that serves none
    // of the kinds asked about (a domain list, for an address) has no answer to believe or
    // doubt. A run with no targets is a health check of every list (`lists verify`, `doctor`).
    let asked: Vec<bool> = request
        .lists
        .iter()
        .map(|a| {
            request.targets.is_empty() || segments.iter().any(|seg| a.list.serves(kind_of(seg)))
        })
        .collect();

    // Per-list politeness: the rate from the catalog, and the daily budget as this run's cap;
    // a run that would pass the budget says so before it starts and asks what fits.
    let states: Vec<Arc<ListState>> = request
        .lists
        .iter()
        .zip(&asked)
        .map(|(active, &asked)| {
            let list = &active.list;
            let test_points = if request.verify && asked { 2 } else { 0 };
            let wanted: u128 = test_points
                + segments
                    .iter()
                    .filter(|seg| list.serves(kind_of(seg)))
                    .map(Segment::len)
                    .sum::<u128>();
            let used = request.used_today.get(&list.id).copied().unwrap_or(0);
            let budget = list.limits.daily.map(|d| d.saturating_sub(used));
            if let Some(left) = budget.filter(|d| u128::from(*d) < wanted) {
                let daily = list.limits.daily.unwrap_or(0);
                let earlier = if used > 0 {
                    format!(" ({used} already sent today)")
                } else {
                    String::new()
                };
                notes.push(format!(
                    "{}: {wanted} queries would pass its limit of {daily} a day{earlier}; only the first {left} are asked",
                    list.id
                ));
            }
            let mirror = list.mirror.as_ref().map(crate::mirror::load);
            if let Some(Err(why)) = &mirror {
                notes.push(format!("{}: its mirror cannot be read: {why}", list.id));
            }
            Arc::new(ListState::new(list.limits.qps, budget, mirror))
        })
        .collect();
    let notes = Arc::new(std::sync::Mutex::new(notes));

    let mut health_tasks = JoinSet::new();
    if request.verify {
        for (index, active) in request.lists.iter().enumerate() {
            if !asked[index] {
                continue;
            }
            let state = states[index].clone();
            // The test points take their share of the budget before any other query.
            let budgeted = state.mirror().is_some() || (state.take() && state.take());
            let (dns, limit, active) = (dns.clone(), health_limit.clone(), active.clone());
            health_tasks.spawn(async move {
                let health = if budgeted {
                    check_health(&dns, &limit, &active, &state).await
                } else {
                    (
                        Health::Unchecked,
                        Some("not checked: over the list's daily limit".into()),
                    )
                };
                // A list that does not answer its test points is not asked the rest: each
                // query would wait out the whole timeout and hold a place in flight.
                if health.0 == Health::Unreachable {
                    let why = health.1.clone().unwrap_or_else(|| "unreachable".into());
                    state.cut_off(
                        Status::Unhealthy,
                        &format!(
                            "not asked: {} did not answer its health check ({why})",
                            active.list.id
                        ),
                    );
                }
                (index, health)
            });
        }
    }

    let total: u128 = segments
        .iter()
        .map(|seg| {
            seg.len()
                * request
                    .lists
                    .iter()
                    .filter(|a| a.list.serves(kind_of(seg)))
                    .count() as u128
        })
        .sum();
    if let Some(p) = &request.progress {
        p.total
            .store(u64::try_from(total).unwrap_or(u64::MAX), Ordering::Relaxed);
    }
    let shared = Arc::new(Shared {
        dns: dns.clone(),
        lists: request.lists.clone(),
        states: states.clone(),
        targets: request
            .targets
            .iter()
            .map(|t| Arc::from(t.text.as_str()))
            .collect(),
        notes: notes.clone(),
        progress: request.progress.clone(),
    });
    let lists = &request.lists;
    let jobs = segments.iter().flat_map(|seg| {
        let owner = seg.owner();
        work::subjects(seg).flat_map(move |subject| {
            let kind = subject.kind();
            (0..lists.len())
                .filter(move |&i| lists[i].list.serves(kind))
                .map(move |i| (owner, subject.for_list(&lists[i].list), i))
        })
    });
    // More pairs are under way than queries in flight (the resolver's window keeps to
    // `concurrency`), so one lost reply at the head of the order does not idle the rest while
    // it is asked again.
    // About a thousand pairs beyond the window cover a retransmission wait at full rate.
    let reorder = window
        .saturating_add(1024)
        .min(window.saturating_mul(4))
        .max(64);
    // Boxed: the chain of closures, held across the engine's awaits, otherwise defeats the
    // compiler's proof that the run's future may move between threads (the daemon's probe).
    let pairs: Box<dyn Iterator<Item = Pair> + Send + '_> =
        Box::new(jobs.map(|(owner, subject, list)| {
            // Budgets are taken here, in target order, so the first addresses are the ones asked.
            let state = &shared.states[list];
            let admitted = state.mirror().is_some() || state.take();
            (owner, subject, list, admitted)
        }));
    let health: Vec<ListHealth> = request
        .lists
        .iter()
        .map(|active| ListHealth {
            list: active.list.clone(),
            health: Health::Unchecked,
            detail: None,
        })
        .collect();
    // Lists that set no query rate of their own are asked through one client driven here;
    // a rate is kept per query, by the engine of one future per pair.
    let ring = if request.lists.iter().all(|a| a.list.limits.qps.is_none()) {
        dns.ring(window).and_then(Result::ok)
    } else {
        None
    };
    let mut run = Run {
        health_tasks,
        health,
        reorder,
        sink,
    };
    match ring {
        Some(ring) => bulk::drive(&shared, ring, pairs, &mut run).await,
        None => ordered(&shared, pairs, &mut run).await,
    }
    let health: Vec<ListHealth> = run
        .health
        .into_iter()
        .zip(&asked)
        .filter_map(|(health, &asked)| asked.then_some(health))
        .collect();
    let notes = notes.lock().map(|n| n.clone()).unwrap_or_default();
    let sent = request
        .lists
        .iter()
        .zip(&states)
        .map(|(active, state)| (active.list.id.clone(), state.sent()))
        .collect();
    RunSummary {
        sent,
        fault: resolver_fault(&health, &dns.describe()),
        lists: health,
        resolutions,
        notes,
        elapsed: started.elapsed(),
    }
}

/// The health checks still running, each ending with its list's index and health.
type HealthTasks = JoinSet<(usize, (Health, Option<String>))>;

/// What an engine needs besides the pairs: the health checks under way and their results so
/// far, how many pairs may be started beyond the oldest not yet handed on, and where
/// outcomes go.
struct Run<'a> {
    health_tasks: HealthTasks,
    health: Vec<ListHealth>,
    reorder: usize,
    sink: &'a mut (dyn FnMut(Outcome) + Send),
}

impl Run<'_> {
    /// Records a finished health check.
    fn record(
        &mut self,
        joined: Result<(usize, (Health, Option<String>)), tokio::task::JoinError>,
    ) {
        if let Ok((index, (state, detail))) = joined {
            self.health[index].health = state;
            self.health[index].detail = detail;
        }
    }

    /// Hands on an outcome (the lists' health must be known), and counts it done.
    fn hand_on(&mut self, outcome: Outcome, progress: Option<&Progress>) {
        if let Some(p) = progress {
            p.done.fetch_add(1, Ordering::Relaxed);
        }
        (self.sink)(distrust_unhealthy(outcome, &self.health));
    }
}

/// The pair (target, subject, list index, within the daily budget) of each query.
type Pair = (usize, Subject, usize, bool);

/// The engine of one future per pair, for lists with a rate of their own (each query waits
/// for its turn) and for recursive mode.
async fn ordered(shared: &Arc<Shared>, pairs: impl Iterator<Item = Pair>, run: &mut Run<'_>) {
    let mut jobs = pairs.map(|(owner, subject, list, admitted)| {
        let shared = shared.clone();
        async move { shared.ask(owner, subject, list, admitted).await }
    });
    let mut under_way = FuturesOrdered::new();
    let progress = shared.progress.as_deref();
    // The first answers come in while the health checks finish; nothing is handed on before
    // the lists' health is known, so an unhealthy list's answers are never passed as
    // believed. Until then answers wait in `early`, and no new pair starts while `early` and
    // the pairs under way fill the reorder window. The pairs under way are polled all along:
    // a health check may wait on them (for the list's rate, say).
    let mut early: Vec<Outcome> = Vec::new();
    while !run.health_tasks.is_empty() {
        start_more(
            &mut under_way,
            &mut jobs,
            run.reorder.saturating_sub(early.len()),
        );
        tokio::select! {
            Some(joined) = run.health_tasks.join_next() => run.record(joined),
            Some(outcome) = under_way.next(), if !under_way.is_empty() => early.push(outcome),
        }
    }
    for outcome in early {
        run.hand_on(outcome, progress);
    }
    loop {
        start_more(&mut under_way, &mut jobs, run.reorder);
        let Some(outcome) = under_way.next().await else {
            break;
        };
        run.hand_on(outcome, progress);
    }
}

/// Starts pairs until `room` are under way or there are no more.
fn start_more<F: Future>(
    under_way: &mut FuturesOrdered<F>,
    jobs: &mut impl Iterator<Item = F>,
    room: usize,
) {
    while under_way.len() < room {
        match jobs.next() {
            Some(job) => under_way.push_back(job),
            None => return,
        }
    }
}

fn kind_of(segment: &Segment) -> QueryKind {
    match segment {
        Segment::V4 { .. } => QueryKind::Ipv4,
        Segment::V6 { .. } => QueryKind::Ipv6,
        Segment::Name { .. } => QueryKind::Domain,
    }
}

/// A definite answer from a list that failed its health check is not believed.
fn distrust_unhealthy(mut outcome: Outcome, health: &[ListHealth]) -> Outcome {
    if !outcome.status.is_definite() {
        return outcome;
    }
    // The same list is most often the same allocation: compared by address first.
    let Some(state) = health
        .iter()
        .find(|h| Arc::ptr_eq(&h.list, &outcome.list) || h.list.id == outcome.list.id)
    else {
        return outcome;
    };
    if !state.health.is_trusted() {
        let was = outcome.status;
        outcome.status = Status::Unhealthy;
        outcome.detail = Some(format!(
            "answered {was}, not believed: list health {}{}",
            state.health,
            state
                .detail
                .as_deref()
                .map(|d| format!(" ({d})"))
                .unwrap_or_default()
        ));
    }
    outcome
}

async fn resolve_names(dns: &Dns, targets: &[Target], limit: &Arc<Semaphore>) -> Vec<Resolution> {
    let mut tasks = JoinSet::new();
    for (index, target) in targets.iter().enumerate() {
        if let TargetKind::Name(host) = &target.kind {
            let (dns, limit, host, text) = (
                dns.clone(),
                limit.clone(),
                host.clone(),
                target.text.clone(),
            );
            tasks.spawn(async move {
                let _permit = limit.acquire_owned().await;
                let found = dns.addresses(&host).await;
                let (addresses, error) = match found {
                    Ok(addresses) => (addresses, None),
                    Err(why) => (Vec::new(), Some(why)),
                };
                (
                    index,
                    Resolution {
                        target: text,
                        addresses,
                        error,
                    },
                )
            });
        }
    }
    let mut done: Vec<(usize, Resolution)> = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        if let Ok(item) = joined {
            done.push(item);
        }
    }
    done.sort_by_key(|(index, _)| *index);
    done.into_iter().map(|(_, r)| r).collect()
}

async fn query_a(dns: &Dns, zone: &str, query: &str) -> (Answer, Duration) {
    let start = Instant::now();
    let answer = if name::fits(query) {
        dns.a(zone, query).await
    } else {
        Answer::Failure(name::TOO_LONG.into())
    };
    (answer, start.elapsed())
}

/// What every pair of a run shares.
struct Shared {
    dns: Dns,
    lists: Vec<ActiveList>,
    states: Vec<Arc<ListState>>,
    targets: Vec<Arc<str>>,
    notes: Arc<std::sync::Mutex<Vec<String>>>,
    progress: Option<Arc<Progress>>,
}

impl Shared {
    /// Asks list `list` about `subject`, reported under target `owner`.
    async fn ask(&self, owner: usize, subject: Subject, list: usize, admitted: bool) -> Outcome {
        let query = match self.before(owner, &subject, list, admitted) {
            Start::Ask(query) => query,
            Start::Known(outcome) => return outcome,
        };
        let active = &self.lists[list];
        self.states[list].pace().await;
        let (answer, elapsed) = query_a(&self.dns, &active.zone, &query).await;
        let verdict = self.judge(list, &answer);
        let txt = if wants_txt(&verdict) {
            self.dns.txt(&active.zone, &query).await
        } else {
            Vec::new()
        };
        // The outcome is made when it is known, not held through the waits: every pair in
        // flight carries this future, and a smaller one is a cheaper allocation.
        let mut outcome = self.blank(owner, &subject, list);
        settle(&mut outcome, verdict, txt, elapsed);
        outcome
    }

    /// The outcome of a pair, before any answer.
    fn blank(&self, owner: usize, subject: &Subject, list: usize) -> Outcome {
        blank(self.targets[owner].clone(), subject, &self.lists[list])
    }

    /// The outcome of a pair asked about under `query`, before its answer.
    fn blank_asked(&self, owner: usize, subject: &Subject, list: usize, query: String) -> Outcome {
        let active = &self.lists[list];
        let mut outcome = blank_shown(self.targets[owner].clone(), subject, active);
        // The name is shown as asked unless it holds a key: the zone shown is then another.
        outcome.query = if active.zone == active.list.zone {
            query
        } else {
            subject.query(&active.list.zone)
        };
        outcome
    }

    /// The name to ask list `list` about `subject`, or the outcome already known without
    /// asking: answered by the list's mirror, the list cut off in this run, the pair over the
    /// list's daily limit.
    fn before(&self, owner: usize, subject: &Subject, list: usize, admitted: bool) -> Start {
        let (active, state) = (&self.lists[list], &self.states[list]);
        // A list with a local mirror is answered from it, without DNS.
        if let Some(mirror) = state.mirror() {
            let mut outcome = self.blank(owner, subject, list);
            settle_mirror(&mut outcome, mirror, subject);
            return Start::Known(outcome);
        }
        // A list cut off in this run (it refused, it went silent, it failed its health check)
        // is not asked again: a refusing list's answers would be refusals too, and public lists
        // count every query against the querier.
        if let Some((status, why)) = state.cut() {
            let mut outcome = self.blank(owner, subject, list);
            outcome.status = status;
            outcome.detail = Some(why);
            return Start::Known(outcome);
        }
        if !admitted {
            let mut outcome = self.blank(owner, subject, list);
            outcome.detail = Some(format!(
                "not asked: over {}'s daily limit of queries",
                active.list.id
            ));
            return Start::Known(outcome);
        }
        Start::Ask(subject.query(&active.zone))
    }

    /// What list `list`'s `answer` means; a list that has gone silent or refused is cut off
    /// for the rest of the run, with a note saying so.
    fn judge(&self, list: usize, answer: &Answer) -> Verdict {
        let (list, state, notes) = (&self.lists[list].list, &self.states[list], &self.notes);
        if state.count_timeout(answer.is_timeout()) {
            let why = format!(
                "{} stopped answering: {} queries in a row timed out",
                list.id,
                limits::SILENT_AFTER
            );
            if state.cut_off(Status::Error, &format!("not asked: {why}"))
                && let Ok(mut notes) = notes.lock()
            {
                notes.push(format!(
                    "{why}; its remaining queries in this run were not sent"
                ));
            }
        }
        let verdict: Verdict = classify::classify(list, answer);
        if verdict.status == Status::Refused {
            let why = verdict.detail.clone().unwrap_or_else(|| "refused".into());
            let detail = format!("not asked: {} refused earlier in this run ({why})", list.id);
            if let (true, Ok(mut notes)) = (state.cut_off(Status::Refused, &detail), notes.lock()) {
                notes.push(format!(
                    "{} refused a query ({why}); its remaining queries in this run were not sent",
                    list.id
                ));
            }
        }
        verdict
    }
}

/// How a pair goes on: asked about under a name, or known without asking.
enum Start {
    Ask(String),
    Known(Outcome),
}

/// Whether a verdict's TXT record is looked up: for listings and refusals, the reason.
fn wants_txt(verdict: &Verdict) -> bool {
    matches!(verdict.status, Status::Listed | Status::Refused) && !verdict.codes.is_empty()
}

/// The outcome of asking `active` about `subject` (reported under `target`) before any
/// answer: an error until settled.
pub(crate) fn blank(target: Arc<str>, subject: &Subject, active: &ActiveList) -> Outcome {
    Outcome {
        // The name as shown holds `{key}` where the one asked holds the key.
        query: subject.query(&active.list.zone),
        ..blank_shown(target, subject, active)
    }
}

/// `blank` without the name queried.
fn blank_shown(target: Arc<str>, subject: &Subject, active: &ActiveList) -> Outcome {
    let list = &active.list;
    let address = subject.label();
    Outcome {
        target,
        delist_url: list.delist.as_ref().and_then(|d| d.url_for(&address)),
        address,
        query: String::new(),
        status: Status::Error,
        codes: Vec::new(),
        meanings: Vec::new(),
        txt: Vec::new(),
        detail: None,
        elapsed: Duration::ZERO,
        list: list.clone(),
    }
}

/// Settles `outcome` with what `mirror` answers about `subject`.
pub(crate) fn settle_mirror(
    outcome: &mut Outcome,
    mirror: &Result<Arc<crate::mirror::Mirror>, String>,
    subject: &Subject,
) {
    let (answer, txt) = mirror_answer(mirror, subject);
    let verdict = classify::classify(&outcome.list, &answer);
    let txt = if matches!(verdict.status, Status::Listed | Status::Refused) {
        txt
    } else {
        Vec::new()
    };
    settle(outcome, verdict, txt, Duration::ZERO);
}

/// Fills an outcome with what its answer means.
fn settle(outcome: &mut Outcome, verdict: Verdict, txt: Vec<String>, elapsed: Duration) {
    outcome.status = verdict.status;
    outcome.codes = verdict.codes;
    outcome.meanings = verdict.meanings;
    outcome.detail = verdict.detail;
    outcome.txt = txt;
    outcome.elapsed = elapsed;
}

/// A mirror's answer about a subject, with its TXT.
fn mirror_answer(
    mirror: &Result<Arc<crate::mirror::Mirror>, String>,
    subject: &Subject,
) -> (Answer, Vec<String>) {
    use crate::mirror::Asked;
    let asked = match subject {
        Subject::Ip(IpAddr::V4(v4)) => Asked::V4(*v4),
        Subject::Ip(IpAddr::V6(v6)) => Asked::V6(*v6),
        Subject::Domain(name) => Asked::Name(name),
    };
    match mirror {
        Ok(mirror) => mirror.answer(asked),
        Err(why) => (Answer::Failure(format!("mirror: {why}")), Vec::new()),
    }
}

async fn check_health(
    dns: &Dns,
    limit: &Semaphore,
    active: &ActiveList,
    state: &ListState,
) -> (Health, Option<String>) {
    let list = &active.list;
    let positive = Subject::test_point(&list.test.positive).query(&active.zone);
    let negative = Subject::test_point(&list.test.negative).query(&active.zone);
    let _permit = limit.acquire().await;
    let from_mirror = |point: &str| -> Option<Answer> {
        let mirror = state.mirror()?;
        Some(mirror_answer(mirror, &Subject::test_point(point)).0)
    };
    let (pos, neg) = match (
        from_mirror(&list.test.positive),
        from_mirror(&list.test.negative),
    ) {
        (Some(pos), Some(neg)) => (pos, neg),
        _ => {
            // The test points keep to the list's rate like any other query.
            state.pace().await;
            state.pace().await;
            tokio::join!(
                dns.a_first(&active.zone, &positive),
                dns.a_first(&active.zone, &negative)
            )
        }
    };
    let (pos, neg) = (
        classify::classify(list, &pos),
        classify::classify(list, &neg),
    );
    dns::classify::health(list, &pos, &neg)
}
