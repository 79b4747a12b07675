//! What one pass means for the store: which answers are changes, which are not, and which
//! lists have been silent for too long.
//!
//! Pure: takes the engine's answers (all at once, or one at a time through `Evaluator`) and
//! what the store holds, returns what to write. Only a definite answer (listed or clear) can
//! change a stored state; anything else is counted on the run and never touches a state.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use crate::check::{CheckReport, Outcome, Resolution, ResolverFault};
use crate::clock;
use crate::dns::Status;
use crate::lists::Policy;
use crate::store::{Event, PassWrite, RunRecord, StoredState, Streak};

/// What the store holds before the pass.
pub struct Before<'a> {
    /// States by (address, list).
    pub states: &'a HashMap<(String, String), StoredState>,
    /// Streaks by list id.
    pub streaks: &'a HashMap<String, Streak>,
}

/// Settings of the evaluation.
pub struct PassSettings<'a> {
    /// Label of each configured target, by the target as written.
    pub labels: &'a HashMap<String, Option<String>>,
    /// The configured targets as written, in config order.
    pub watched: &'a [String],
    /// When the pass started and ended.
    pub started: i64,
    /// When the pass ended.
    pub finished: i64,
    /// Passes in a row without a definite answer before a list is a problem.
    pub problem_after: u32,
}

/// What a pass found and will write.
pub struct PassResult {
    /// Everything to write in one transaction.
    pub write: PassWrite,
    /// Pairs of this pass currently listed on a blocklist (after the pass).
    pub listed: Vec<StoredState>,
    /// How many answers each list gave with each status.
    pub answers: BTreeMap<(String, Status), u64>,
    /// Targets no list gave a definite answer about in this pass: the pass could not see
    /// them, so it says nothing about whether they are listed.
    pub blind: Vec<String>,
    /// How long each list took to answer, by id.
    pub timing: BTreeMap<String, ListTiming>,
}

fn words(codes: &[std::net::Ipv4Addr]) -> Vec<String> {
    codes.iter().map(ToString::to_string).collect()
}

fn policy_word(policy: Policy) -> String {
    policy.to_string()
}

/// What a pass has seen of one list so far.
#[derive(Default)]
struct Tally {
    /// Answers by status.
    statuses: BTreeMap<Status, usize>,
    /// Whether any answer was definite.
    definite: bool,
    /// The first answer's detail, as an example of why the list said nothing definite.
    example: Option<String>,
    /// Time spent waiting for its DNS answers, in all and the longest one.
    waited: Duration,
    slowest: Duration,
}

/// How long one list took to answer in a pass (for the daemon's debug log).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ListTiming {
    /// Answers received.
    pub answers: usize,
    /// Their mean wait.
    pub mean: Duration,
    /// The longest wait.
    pub slowest: Duration,
}

/// A pass evaluated one answer at a time, so a pass over a large range never holds its
/// answers: each is compared with its stored state as it comes, and only changes, listings
/// and per-list counts are kept.
pub struct Evaluator<'a> {
    settings: &'a PassSettings<'a>,
    /// Per list: the run's counts are summed from these at the end.
    tallies: HashMap<String, Tally>,
    events: Vec<Event>,
    listed: Vec<StoredState>,
    answers: usize,
    /// Per target: whether any answer about it was definite, and the first reason one was
    /// not (an example for the problem line).
    targets: HashMap<Arc<str>, (bool, Option<String>)>,
}

impl<'a> Evaluator<'a> {
    /// Starts a pass.
    pub fn new(settings: &'a PassSettings<'a>) -> Evaluator<'a> {
        Evaluator {
            settings,
            tallies: HashMap::new(),
            events: Vec::new(),
            listed: Vec::new(),
            answers: 0,
            targets: HashMap::new(),
        }
    }

    /// Takes one answer and the pair's stored state; returns the state to write, if the
    /// answer is definite (only a definite answer changes a state).
    pub fn add(&mut self, o: &Outcome, stored: Option<&StoredState>) -> Option<StoredState> {
        self.answers += 1;
        // The list's id is copied once per list, not once per answer.
        if !self.tallies.contains_key(&o.list.id) {
            self.tallies.insert(o.list.id.clone(), Tally::default());
        }
        if let Some(tally) = self.tallies.get_mut(&o.list.id) {
            *tally.statuses.entry(o.status).or_default() += 1;
            tally.definite |= o.status.is_definite();
            tally.waited += o.elapsed;
            tally.slowest = tally.slowest.max(o.elapsed);
            if tally.example.is_none() {
                tally.example.clone_from(&o.detail);
            }
        }
        match self.targets.get_mut(&o.target) {
            Some((definite, example)) => {
                *definite |= o.status.is_definite();
                if example.is_none() && !o.status.is_definite() {
                    *example = Some(not_definite(o));
                }
            }
            None => {
                let example = (!o.status.is_definite()).then(|| not_definite(o));
                self.targets
                    .insert(o.target.clone(), (o.status.is_definite(), example));
            }
        }
        if !o.status.is_definite() {
            // Unknown never flips a stored state: a stored listing stays a listing.
            if let Some(s) = stored.filter(|s| s.status == "listed" && s.policy == "block") {
                self.listed.push(s.clone());
            }
            return None;
        }
        let now = self.settings.finished;
        let state = next_state(o, stored, self.settings, now);
        if let Some(event) = change(o, stored, &state, now) {
            self.events.push(event);
        }
        if state.status == "listed" && state.policy == "block" {
            self.listed.push(state.clone());
        }
        Some(state)
    }

    /// Ends the pass: the targets it could not see, the lists' streaks of silence and the
    /// run record. The returned write holds no states: they were handed out by `add`.
    pub fn finish(
        self,
        lists: &[crate::check::ListHealth],
        streaks: &HashMap<String, Streak>,
        resolutions: &[Resolution],
        fault: Option<&ResolverFault>,
    ) -> PassResult {
        let settings = self.settings;
        let now = settings.finished;
        let mut write = PassWrite {
            health: Some(
                lists
                    .iter()
                    .map(|h| (h.list.id.clone(), h.health.to_string()))
                    .collect(),
            ),
            ..PassWrite::default()
        };
        // The resolver's fault comes first: it is why the rest could not be seen, and the
        // lists it explains are not reported one by one.
        let mut problems: Vec<String> = fault.iter().map(ToString::to_string).collect();
        // A target without one definite answer is a problem of this pass at once: a pass
        // that could not see it must not read as a clean one.
        let mut blind = Vec::new();
        for target in settings.watched {
            let why = match self.targets.get(target.as_str()) {
                Some((true, _)) => continue,
                Some((false, example)) => example.clone().unwrap_or_default(),
                None => resolutions
                    .iter()
                    .find(|r| &r.target == target)
                    .and_then(|r| r.error.clone())
                    .map_or_else(
                        || "no list was asked about it".to_string(),
                        |e| format!("it does not resolve: {e}"),
                    ),
            };
            problems.push(format!(
                "target `{target}` could not be checked: no list gave a definite answer this pass ({why})"
            ));
            blind.push(target.clone());
        }
        let none = Tally::default();
        for health in lists {
            let id = &health.list.id;
            let tally = self.tallies.get(id).unwrap_or(&none);
            let asked = !tally.statuses.is_empty();
            // A list that gave no definite answer at all this pass extends its streak.
            if tally.definite || (!asked && health.health.is_trusted()) {
                if streaks.get(id).is_some_and(|s| s.passes > 0) {
                    write.streaks.push(Streak {
                        list: id.clone(),
                        passes: 0,
                        since: now,
                        detail: String::new(),
                    });
                }
                continue;
            }
            let previous = streaks.get(id).filter(|s| s.passes > 0);
            let streak = Streak {
                list: id.clone(),
                passes: previous.map_or(1, |s| s.passes + 1),
                since: previous.map_or(settings.started, |s| s.since),
                detail: silent_detail(health, tally),
            };
            if streak.passes >= settings.problem_after && !fault.is_some_and(|f| f.covers(id)) {
                problems.push(format!(
                    "list `{id}` has given no definite answer for {} passes in a row (since {}): {}",
                    streak.passes,
                    clock::format(streak.since),
                    streak.detail
                ));
            }
            write.streaks.push(streak);
        }
        let answers: BTreeMap<(String, Status), u64> = self
            .tallies
            .iter()
            .flat_map(|(list, tally)| {
                tally
                    .statuses
                    .iter()
                    .map(move |(status, n)| ((list.clone(), *status), *n as u64))
            })
            .collect();
        let mut counts: BTreeMap<String, usize> =
            Status::ALL.iter().map(|s| (s.to_string(), 0)).collect();
        let mut unknown: BTreeMap<String, usize> = BTreeMap::new();
        for ((list, status), n) in &answers {
            let n = usize::try_from(*n).unwrap_or(usize::MAX);
            *counts.entry(status.to_string()).or_default() += n;
            if !status.is_definite() {
                *unknown.entry(format!("{status} from {list}")).or_default() += n;
            }
        }
        write.run = RunRecord {
            id: 0,
            started: settings.started,
            finished: settings.finished,
            targets: settings.watched.len(),
            answers: self.answers,
            events: self.events.len(),
            counts,
            unknown,
            problems,
        };
        write.events = self.events;
        let timing = self
            .tallies
            .iter()
            .map(|(list, tally)| {
                let answers: usize = tally.statuses.values().sum();
                let mean = u32::try_from(answers)
                    .ok()
                    .filter(|n| *n > 0)
                    .map_or(Duration::ZERO, |n| tally.waited / n);
                let slowest = tally.slowest;
                (
                    list.clone(),
                    ListTiming {
                        answers,
                        mean,
                        slowest,
                    },
                )
            })
            .collect();
        PassResult {
            write,
            listed: self.listed,
            answers,
            blind,
            timing,
        }
    }
}

/// Evaluates a whole pass against the store at once (the states to write included).
pub fn evaluate(
    report: &CheckReport,
    before: &Before<'_>,
    settings: &PassSettings<'_>,
) -> PassResult {
    let mut evaluator = Evaluator::new(settings);
    let mut states = Vec::new();
    for o in &report.outcomes {
        let key = (o.address.clone(), o.list.id.clone());
        if let Some(state) = evaluator.add(o, before.states.get(&key)) {
            states.push(state);
        }
    }
    let mut result = evaluator.finish(
        &report.lists,
        before.streaks,
        &report.resolutions,
        report.fault.as_ref(),
    );
    result.write.states = states;
    result
}

fn next_state(
    o: &Outcome,
    stored: Option<&StoredState>,
    settings: &PassSettings<'_>,
    now: i64,
) -> StoredState {
    let status = if o.status == Status::Listed {
        "listed"
    } else {
        "clear"
    };
    let since = match stored {
        Some(s) if s.status == status => s.since,
        _ => now,
    };
    StoredState {
        address: o.address.clone(),
        list: o.list.id.clone(),
        target: o.target.to_string(),
        label: settings.labels.get(&*o.target).cloned().flatten(),
        policy: policy_word(o.list.policy),
        status: status.to_string(),
        codes: words(&o.codes),
        meanings: o.meanings.clone(),
        txt: o.txt.clone(),
        since,
        checked: now,
    }
}

/// The event a definite answer makes, if it is a change: first seen listed, listed <-> clear,
/// or a listing whose codes changed (ZEN adding XBL to SBL).
fn change(
    o: &Outcome,
    stored: Option<&StoredState>,
    state: &StoredState,
    now: i64,
) -> Option<Event> {
    let (old_status, old_codes) = match stored {
        None if state.status == "clear" => return None,
        None => (None, Vec::new()),
        Some(s) if s.status != state.status => (Some(s.status.clone()), s.codes.clone()),
        Some(s) if s.status == "listed" && sorted(&s.codes) != sorted(&state.codes) => {
            (Some(s.status.clone()), s.codes.clone())
        }
        Some(_) => return None,
    };
    Some(Event {
        id: 0,
        run: 0,
        at: now,
        target: state.target.clone(),
        label: state.label.clone(),
        address: state.address.clone(),
        list: state.list.clone(),
        policy: state.policy.clone(),
        old_status,
        new_status: state.status.clone(),
        old_codes,
        codes: state.codes.clone(),
        meanings: state.meanings.clone(),
        txt: state.txt.clone(),
        delist_url: o.delist_url.clone(),
    })
}

fn sorted(codes: &[String]) -> Vec<String> {
    let mut v = codes.to_vec();
    v.sort();
    v
}

/// Why an answer was not definite, in a few words: its status and detail.
fn not_definite(o: &Outcome) -> String {
    match &o.detail {
        Some(detail) => format!("{} from {}: {detail}", o.status, o.list.id),
        None => format!("{} from {}", o.status, o.list.id),
    }
}

fn silent_detail(health: &crate::check::ListHealth, tally: &Tally) -> String {
    if !health.health.is_trusted() {
        return format!(
            "health {}{}",
            health.health,
            health
                .detail
                .as_deref()
                .map(|d| format!(" ({d})"))
                .unwrap_or_default()
        );
    }
    let parts: Vec<String> = tally
        .statuses
        .iter()
        .map(|(s, n)| format!("{n} {s}"))
        .collect();
    match &tally.example {
        Some(example) if !example.is_empty() => format!("{} ({example})", parts.join(", ")),
        _ => parts.join(", "),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;
    use crate::check::ListHealth;
    use crate::dns::Health;
    use crate::lists::Catalog;

    fn outcome(list: &str, status: Status, codes: &[&str]) -> Outcome {
        let list = Arc::new(
            Catalog::builtin()
                .expect("catalog")
                .get(list)
                .expect("list")
                .clone(),
        );
        Outcome {
            target: "192.0.2.5".into(),
            address: "192.0.2.5".into(),
            list,
            query: String::new(),
            status,
            codes: codes.iter().map(|c| c.parse().expect("ip")).collect(),
            meanings: vec![],
            txt: vec![],
            delist_url: None,
            detail: None,
            elapsed: Duration::ZERO,
        }
    }

    fn report(outcomes: Vec<Outcome>) -> CheckReport {
        let lists = outcomes
            .iter()
            .map(|o| ListHealth {
                list: o.list.clone(),
                health: Health::Ok,
                detail: None,
            })
            .collect();
        CheckReport {
            outcomes,
            lists,
            resolutions: vec![],
            notes: vec![],
            sent: vec![],
            fault: None,
            elapsed: Duration::ZERO,
        }
    }

    fn pass(
        outcomes: Vec<Outcome>,
        states: &HashMap<(String, String), StoredState>,
        streaks: &HashMap<String, Streak>,
        now: i64,
    ) -> PassResult {
        let labels = HashMap::new();
        let watched = ["192.0.2.5".to_string()];
        evaluate(
            &report(outcomes),
            &Before { states, streaks },
            &PassSettings {
                labels: &labels,
                watched: &watched,
                started: now,
                finished: now,
                problem_after: 2,
            },
        )
    }

    fn apply(states: &mut HashMap<(String, String), StoredState>, result: &PassResult) {
        for s in &result.write.states {
            states.insert((s.address.clone(), s.list.clone()), s.clone());
        }
    }

    #[test]
    fn only_definite_changes_are_events() {
        let mut states = HashMap::new();
        let streaks = HashMap::new();
        // First sight, clear: state but no event.
        let r = pass(
            vec![outcome("spamcop", Status::Clear, &[])],
            &states,
            &streaks,
            100,
        );
        assert!(r.write.events.is_empty());
        apply(&mut states, &r);
        // Timeout: no event, no state written.
        let r = pass(
            vec![outcome("spamcop", Status::Error, &[])],
            &states,
            &streaks,
            200,
        );
        assert!(r.write.events.is_empty() && r.write.states.is_empty());
        assert_eq!(r.write.run.unknown.get("error from spamcop"), Some(&1));
        // Listed: one event clear -> listed.
        let r = pass(
            vec![outcome("spamcop", Status::Listed, &["127.0.0.2"])],
            &states,
            &streaks,
            300,
        );
        assert_eq!(r.write.events.len(), 1);
        assert_eq!(r.write.events[0].old_status.as_deref(), Some("clear"));
        assert_eq!(r.listed.len(), 1);
        apply(&mut states, &r);
        // Same again: nothing; since stays.
        let r = pass(
            vec![outcome("spamcop", Status::Listed, &["127.0.0.2"])],
            &states,
            &streaks,
            400,
        );
        assert!(r.write.events.is_empty());
        assert_eq!(r.write.states[0].since, 300);
        // Refused while listed: still listed, no event.
        let r = pass(
            vec![outcome("spamcop", Status::Refused, &[])],
            &states,
            &streaks,
            450,
        );
        assert!(r.write.events.is_empty());
        assert_eq!(r.listed.len(), 1);
        // Clear: one event listed -> clear.
        let r = pass(
            vec![outcome("spamcop", Status::Clear, &[])],
            &states,
            &streaks,
            500,
        );
        assert_eq!(r.write.events.len(), 1);
        assert_eq!(r.write.events[0].new_status, "clear");
        assert!(r.listed.is_empty());
    }

    #[test]
    fn a_new_code_on_a_listing_is_an_event_and_first_sight_listed_too() {
        let mut states = HashMap::new();
        let streaks = HashMap::new();
        let r = pass(
            vec![outcome("spamhaus-zen", Status::Listed, &["127.0.0.2"])],
            &states,
            &streaks,
            100,
        );
        assert_eq!(r.write.events.len(), 1);
        assert_eq!(r.write.events[0].old_status, None);
        apply(&mut states, &r);
        let r = pass(
            vec![outcome(
                "spamhaus-zen",
                Status::Listed,
                &["127.0.0.4", "127.0.0.2"],
            )],
            &states,
            &streaks,
            200,
        );
        assert_eq!(r.write.events.len(), 1);
        assert_eq!(r.write.events[0].old_codes, ["127.0.0.2"]);
        assert_eq!(
            r.write.states[0].since, 100,
            "still listed since the first sighting"
        );
    }

    #[test]
    fn a_silent_list_becomes_a_problem_after_n_passes() {
        let states = HashMap::new();
        let mut streaks = HashMap::new();
        for (n, expect_problem) in [(1, false), (2, true), (3, true)] {
            let r = pass(
                vec![outcome("spamcop", Status::Refused, &[])],
                &states,
                &streaks,
                n * 100,
            );
            assert_eq!(r.write.streaks[0].passes, u32::try_from(n).expect("n"));
            let list_problem = r
                .write
                .run
                .problems
                .iter()
                .any(|p| p.contains("list `spamcop`"));
            assert_eq!(list_problem, expect_problem, "pass {n}");
            // The one target got no definite answer: a problem of every such pass at once.
            assert_eq!(r.blind, ["192.0.2.5"], "pass {n}");
            streaks.insert("spamcop".into(), r.write.streaks[0].clone());
        }
        let r = pass(
            vec![outcome("spamcop", Status::Clear, &[])],
            &states,
            &streaks,
            400,
        );
        assert_eq!(r.write.streaks[0].passes, 0);
        assert!(r.write.run.problems.is_empty());
        assert!(r.blind.is_empty());
    }
}
