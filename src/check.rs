//! The concurrent engine: targets x lists -> one outcome each, plus each list's health.
//!
//! All queries of a run (test points, listings, TXT reasons) go out at once under one bound,
//! so a run takes about as long as its slowest list. Knows no terminal and no store: it
//! returns values for `report` (or later a store) to use.

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::dns::{self, Answer, Dns, Health, Status, Verdict, classify, name};
use crate::lists::{ActiveList, List, Policy, QueryKind};
use crate::target::{Target, TargetKind};

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
    pub target: String,
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
    /// Wall time of the whole run.
    pub elapsed: Duration,
}

/// What one query is about.
#[derive(Debug, Clone)]
enum Subject {
    Ip(IpAddr),
    Domain(String),
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

    /// The subject as a list asks for it: IPv4-mapped IPv6 as IPv4 (dnsbl-facts.md 6.8);
    /// the registrable domain for lists that want it.
    fn for_list(&self, list: &List) -> Subject {
        match self {
            Subject::Ip(ip) => Subject::Ip(ip.to_canonical()),
            Subject::Domain(domain) if list.registrable_domain => {
                Subject::Domain(psl::domain_str(domain).unwrap_or(domain).to_string())
            }
            Subject::Domain(_) => self.clone(),
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

/// Runs every query of the request and returns what was found.
pub async fn run(dns: &Dns, request: CheckRequest) -> CheckReport {
    let started = Instant::now();
    let limit = Arc::new(Semaphore::new(request.concurrency.max(1)));

    let resolutions = resolve_names(dns, &request.targets, &limit).await;
    let mut subjects: Vec<(String, Subject)> = Vec::new();
    for target in &request.targets {
        match &target.kind {
            TargetKind::Ip(ip) => subjects.push((target.text.clone(), Subject::Ip(*ip))),
            TargetKind::Net(cidr) => {
                subjects.extend(
                    cidr.addresses()
                        .map(|ip| (target.text.clone(), Subject::Ip(ip))),
                );
            }
            TargetKind::Name(host) => {
                subjects.push((target.text.clone(), Subject::Domain(host.clone())));
                if let Some(res) = resolutions.iter().find(|r| r.target == target.text) {
                    subjects.extend(
                        res.addresses
                            .iter()
                            .map(|ip| (target.text.clone(), Subject::Ip(*ip))),
                    );
                }
            }
        }
    }

    let mut health_tasks = JoinSet::new();
    if request.verify {
        for (index, active) in request.lists.iter().enumerate() {
            let (dns, limit, active) = (dns.clone(), limit.clone(), active.clone());
            health_tasks.spawn(async move { (index, check_health(&dns, &limit, &active).await) });
        }
    }

    let mut query_tasks = JoinSet::new();
    let mut sequence = 0usize;
    for (target, subject) in &subjects {
        for active in &request.lists {
            let subject = subject.for_list(&active.list);
            if !active.list.serves(subject.kind()) {
                continue;
            }
            let (dns, limit, active, target) =
                (dns.clone(), limit.clone(), active.clone(), target.clone());
            let seq = sequence;
            sequence += 1;
            let progress = request.progress.clone();
            query_tasks.spawn(async move {
                let outcome = ask(&dns, &limit, &active, target, subject).await;
                if let Some(p) = progress {
                    p.done.fetch_add(1, Ordering::Relaxed);
                }
                (seq, outcome)
            });
        }
    }

    if let Some(p) = &request.progress {
        p.total.store(
            u64::try_from(sequence).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
    }
    let mut health: Vec<ListHealth> = request
        .lists
        .iter()
        .map(|active| ListHealth {
            list: active.list.clone(),
            health: Health::Unchecked,
            detail: None,
        })
        .collect();
    while let Some(joined) = health_tasks.join_next().await {
        if let Ok((index, (state, detail))) = joined {
            health[index].health = state;
            health[index].detail = detail;
        }
    }
    let mut outcomes: Vec<(usize, Outcome)> = Vec::with_capacity(sequence);
    while let Some(joined) = query_tasks.join_next().await {
        if let Ok(done) = joined {
            outcomes.push(done);
        }
    }
    outcomes.sort_by_key(|(seq, _)| *seq);
    let outcomes = outcomes
        .into_iter()
        .map(|(_, outcome)| distrust_unhealthy(outcome, &health))
        .collect();

    CheckReport {
        outcomes,
        lists: health,
        resolutions,
        elapsed: started.elapsed(),
    }
}

/// A definite answer from a list that failed its health check is not believed.
fn distrust_unhealthy(mut outcome: Outcome, health: &[ListHealth]) -> Outcome {
    let Some(state) = health.iter().find(|h| h.list.id == outcome.list.id) else {
        return outcome;
    };
    if !state.health.is_trusted() && outcome.status.is_definite() {
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

async fn query_a(dns: &Dns, limit: &Semaphore, query: &str) -> (Answer, Duration) {
    let _permit = limit.acquire().await;
    let start = Instant::now();
    let answer = if name::fits(query) {
        dns.a(query).await
    } else {
        Answer::Failure("the query name is longer than DNS allows".into())
    };
    (answer, start.elapsed())
}

async fn ask(
    dns: &Dns,
    limit: &Semaphore,
    active: &ActiveList,
    target: String,
    subject: Subject,
) -> Outcome {
    let list = &active.list;
    let query = subject.query(&active.zone);
    let (answer, elapsed) = query_a(dns, limit, &query).await;
    let verdict: Verdict = classify::classify(list, &answer);
    let txt = if matches!(verdict.status, Status::Listed | Status::Refused)
        && !verdict.codes.is_empty()
    {
        let _permit = limit.acquire().await;
        dns.txt(&query).await
    } else {
        Vec::new()
    };
    let address = subject.label();
    Outcome {
        target,
        delist_url: list.delist.as_ref().and_then(|d| d.url_for(&address)),
        address,
        query: subject.query(&list.zone),
        status: verdict.status,
        codes: verdict.codes,
        meanings: verdict.meanings,
        txt,
        detail: verdict.detail,
        elapsed,
        list: list.clone(),
    }
}

async fn check_health(
    dns: &Dns,
    limit: &Semaphore,
    active: &ActiveList,
) -> (Health, Option<String>) {
    let list = &active.list;
    let positive = Subject::test_point(&list.test.positive).query(&active.zone);
    let negative = Subject::test_point(&list.test.negative).query(&active.zone);
    let ((pos, _), (neg, _)) = tokio::join!(
        query_a(dns, limit, &positive),
        query_a(dns, limit, &negative)
    );
    let (pos, neg) = (
        classify::classify(list, &pos),
        classify::classify(list, &neg),
    );
    dns::classify::health(list, &pos, &neg)
}
