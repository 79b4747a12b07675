//! What one pass means for the store: which answers are changes, which are not, and which
//! lists have been silent for too long.
//!
//! Pure: takes the engine's report and what the store holds, returns what to write. Only a
//! definite answer (listed or clear) can change a stored state; anything else is counted on
//! the run and never touches a state.

use std::collections::{BTreeMap, HashMap};

use crate::check::{CheckReport, Outcome};
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
    /// How many configured targets there are.
    pub targets: usize,
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
}

fn words(codes: &[std::net::Ipv4Addr]) -> Vec<String> {
    codes.iter().map(ToString::to_string).collect()
}

fn policy_word(policy: Policy) -> String {
    policy.to_string()
}

/// Evaluates a pass against the store.
pub fn evaluate(
    report: &CheckReport,
    before: &Before<'_>,
    settings: &PassSettings<'_>,
) -> PassResult {
    let now = settings.finished;
    let mut write = PassWrite::default();
    let mut counts: BTreeMap<String, usize> =
        Status::ALL.iter().map(|s| (s.to_string(), 0)).collect();
    let mut unknown: BTreeMap<String, usize> = BTreeMap::new();
    let mut listed = Vec::new();

    for o in &report.outcomes {
        *counts.entry(o.status.to_string()).or_default() += 1;
        let key = (o.address.clone(), o.list.id.clone());
        let stored = before.states.get(&key);
        if !o.status.is_definite() {
            *unknown
                .entry(format!("{} from {}", o.status, o.list.id))
                .or_default() += 1;
            // Unknown never flips a stored state: a stored listing stays a listing.
            if let Some(s) = stored.filter(|s| s.status == "listed" && s.policy == "block") {
                listed.push(s.clone());
            }
            continue;
        }
        let state = next_state(o, stored, settings, now);
        if let Some(event) = change(o, stored, &state, now) {
            write.events.push(event);
        }
        if state.status == "listed" && state.policy == "block" {
            listed.push(state.clone());
        }
        write.states.push(state);
    }

    // A list that gave no definite answer at all this pass extends its streak.
    let mut problems = Vec::new();
    for health in &report.lists {
        let id = &health.list.id;
        let answered: Vec<&Outcome> = report
            .outcomes
            .iter()
            .filter(|o| &o.list.id == id)
            .collect();
        let definite = answered.iter().any(|o| o.status.is_definite());
        if definite || (answered.is_empty() && health.health.is_trusted()) {
            if before.streaks.get(id).is_some_and(|s| s.passes > 0) {
                write.streaks.push(Streak {
                    list: id.clone(),
                    passes: 0,
                    since: now,
                    detail: String::new(),
                });
            }
            continue;
        }
        let detail = silent_detail(health, &answered);
        let previous = before.streaks.get(id).filter(|s| s.passes > 0);
        let streak = Streak {
            list: id.clone(),
            passes: previous.map_or(1, |s| s.passes + 1),
            since: previous.map_or(settings.started, |s| s.since),
            detail,
        };
        if streak.passes >= settings.problem_after {
            problems.push(format!(
                "list `{id}` has given no definite answer for {} passes in a row (since {}): {}",
                streak.passes,
                clock::format(streak.since),
                streak.detail
            ));
        }
        write.streaks.push(streak);
    }

    write.run = RunRecord {
        id: 0,
        started: settings.started,
        finished: settings.finished,
        targets: settings.targets,
        answers: report.outcomes.len(),
        counts,
        events: write.events.len(),
        unknown,
        problems,
    };
    PassResult { write, listed }
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

fn silent_detail(health: &crate::check::ListHealth, answered: &[&Outcome]) -> String {
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
    let mut by_status: BTreeMap<&str, usize> = BTreeMap::new();
    for o in answered {
        *by_status.entry(o.status.as_str()).or_default() += 1;
    }
    let parts: Vec<String> = by_status.iter().map(|(s, n)| format!("{n} {s}")).collect();
    let example = answered
        .iter()
        .find_map(|o| o.detail.clone())
        .unwrap_or_default();
    format!(
        "{}{}",
        parts.join(", "),
        if example.is_empty() {
            String::new()
        } else {
            format!(" ({example})")
        }
    )
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
        evaluate(
            &report(outcomes),
            &Before { states, streaks },
            &PassSettings {
                labels: &labels,
                targets: 1,
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
            assert_eq!(!r.write.run.problems.is_empty(), expect_problem, "pass {n}");
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
    }
}
