//! The store's interface, the same cases on a SQLite file and on a PostgreSQL cluster: what
//! a pass writes is read back as written (text with tabs, line breaks, backslashes and
//! quotes included), the last state staged for a pair wins, an abandoned pass leaves
//! nothing, daily usage adds up across passes, and a queued notification is claimed by one
//! connection of two.

use std::collections::BTreeMap;

use rblwatch::store::postgres::{Location as PgLocation, Password};
use rblwatch::store::{
    Event, HistoryFilter, Location, OutboxItem, PassWrite, RunRecord, Store, StoredState,
};

use crate::support::pg::{PASSWORD, Postgres};

/// Runs `case` on a SQLite file, then on a PostgreSQL database.
fn on_both(case: impl Fn(&Location)) {
    let dir = tempfile::tempdir().expect("dir");
    case(&Location::Sqlite(dir.path().join("state.db")));
    let pg = Postgres::start();
    let password = dir.path().join("pg-password");
    std::fs::write(&password, PASSWORD).expect("password file");
    case(&Location::Postgres(PgLocation {
        url: pg.url("rblwatch"),
        password: Some(Password::File(password)),
        ca_file: None,
    }));
}

/// Text a list or a peer controls, with everything COPY and SQL quoting must carry.
const HOSTILE: &str = "tab\there, line\nbreak\r\n, back\\slash \\N \\t, 'single' \"double\", ünï ✉";

fn state(address: &str, list: &str, status: &str, checked: i64) -> StoredState {
    StoredState {
        address: address.into(),
        list: list.into(),
        target: "10.0.0.0/16".into(),
        label: Some(format!("label {HOSTILE}")),
        policy: "block".into(),
        status: status.into(),
        codes: vec!["127.0.0.2".into()],
        meanings: vec![format!("meaning {HOSTILE}")],
        txt: vec![HOSTILE.into(), "second\tstring".into()],
        since: 1_000,
        checked,
    }
}

fn run(at: i64) -> RunRecord {
    RunRecord {
        id: 0,
        started: at,
        finished: at + 5,
        targets: 1,
        answers: 2,
        counts: BTreeMap::from([("listed".to_string(), 1), ("clear".to_string(), 1)]),
        events: 1,
        unknown: BTreeMap::new(),
        problems: vec![format!("problem {HOSTILE}")],
    }
}

fn event(at: i64) -> Event {
    Event {
        id: 0,
        run: 0,
        at,
        target: "10.0.0.0/16".into(),
        label: Some(HOSTILE.into()),
        address: "10.0.0.7".into(),
        list: "l1".into(),
        policy: "block".into(),
        old_status: None,
        new_status: "listed".into(),
        old_codes: Vec::new(),
        codes: vec!["127.0.0.2".into()],
        meanings: vec![HOSTILE.into()],
        txt: vec![HOSTILE.into()],
        delist_url: Some("https://example.org/?ip=10.0.0.7&a=b".into()),
    }
}

fn mail(at: i64) -> OutboxItem {
    OutboxItem {
        id: 0,
        run: 0,
        created: at,
        channel: "mail".into(),
        recipient: "postmaster@example.org".into(),
        subject: "10.0.0.7 listed".into(),
        text: HOSTILE.into(),
        html: format!("<p>{HOSTILE}</p>"),
        attempts: 0,
        next_attempt: at,
        last_error: None,
        sent: None,
        failed: None,
    }
}

/// More than one staging batch (4096 states), so staged states are written in several goes.
const PAIRS: usize = 5_000;

#[test]
fn a_pass_is_read_back_as_written_and_the_last_staged_state_of_a_pair_wins() {
    on_both(|location| {
        let what = location.describe();
        let (mut store, _lock) = Store::open_for_pass(location, false).expect("open");
        store.begin_staging().expect("begin");
        // 10.0.0.7 on l1 is staged clear first and listed last: the last one is the state.
        store
            .stage(state("10.0.0.7", "l1", "clear", 10))
            .expect("stage");
        for n in 0..PAIRS {
            let address = format!("10.0.{}.{}", n / 256, n % 256);
            store
                .stage(state(&address, "l2", "clear", 10))
                .expect("stage");
        }
        store
            .stage(state("10.0.0.7", "l1", "listed", 11))
            .expect("stage");
        // Nothing is in the store before the commit.
        assert_eq!(store.state("10.0.0.7", "l1").expect("read"), None, "{what}");
        let committed = store
            .commit_pass(&PassWrite {
                run: run(100),
                events: vec![event(105)],
                outbox: vec![mail(105)],
                usage: vec![("l1".into(), 3), ("l2".into(), 5_000)],
                day: 7,
                ..PassWrite::default()
            })
            .expect("commit");
        drop(store);

        // Read back by another connection.
        let store = Store::open_at(location).expect("open");
        assert_eq!(store.states().expect("states").len(), PAIRS + 1, "{what}");
        assert_eq!(
            store.state("10.0.0.7", "l1").expect("read"),
            Some(state("10.0.0.7", "l1", "listed", 11)),
            "{what}"
        );
        assert_eq!(
            store.state("10.0.19.135", "l2").expect("read"),
            Some(state("10.0.19.135", "l2", "clear", 10)),
            "{what}"
        );
        assert_eq!(
            store.listed_states().expect("listed"),
            [state("10.0.0.7", "l1", "listed", 11)],
            "{what}"
        );
        let history = store.history(&HistoryFilter::default()).expect("history");
        let mut expected = event(105);
        expected.id = history.first().map_or(0, |e| e.id);
        expected.run = committed.run;
        assert_eq!(history, [expected], "{what}");
        let runs = store.runs(5).expect("runs");
        assert_eq!(runs.len(), 1, "{what}");
        assert_eq!(runs[0].problems, run(100).problems, "{what}");
        // Every status is counted, the ones no answer had as 0.
        let counted: BTreeMap<String, usize> = runs[0]
            .counts
            .iter()
            .filter(|(_, n)| **n > 0)
            .map(|(s, n)| (s.clone(), *n))
            .collect();
        assert_eq!(counted, run(100).counts, "{what}");
        let queued = store.outbox_pending(None).expect("outbox");
        assert_eq!(queued.len(), 1, "{what}");
        assert_eq!(
            (&queued[0].text, &queued[0].html),
            (&mail(0).text, &mail(0).html),
            "{what}"
        );
        let usage = store.usage(7).expect("usage");
        assert_eq!(
            (usage.get("l1"), usage.get("l2")),
            (Some(&3), Some(&5_000)),
            "{what}"
        );
    });
}

#[test]
fn an_abandoned_pass_leaves_nothing_and_usage_adds_up_across_passes() {
    on_both(|location| {
        let what = location.describe();
        // A pass that stages and ends without a commit (its process died).
        {
            let (mut store, _lock) = Store::open_for_pass(location, false).expect("open");
            store.begin_staging().expect("begin");
            for n in 0..PAIRS {
                store
                    .stage(state(
                        &format!("10.1.{}.{}", n / 256, n % 256),
                        "l",
                        "listed",
                        1,
                    ))
                    .expect("stage");
            }
        }
        // Two passes on one connection: the first abandons its staging, the second commits.
        let (mut store, _lock) = Store::open_for_pass(location, false).expect("open");
        store.begin_staging().expect("begin");
        store
            .stage(state("10.2.0.1", "l", "listed", 1))
            .expect("stage");
        store.begin_staging().expect("begin");
        store
            .stage(state("10.2.0.2", "l", "clear", 2))
            .expect("stage");
        for _ in 0..2 {
            store
                .commit_pass(&PassWrite {
                    run: run(200),
                    usage: vec![("l".into(), 40)],
                    day: 9,
                    ..PassWrite::default()
                })
                .expect("commit");
        }
        let states = store.states().expect("states");
        assert_eq!(
            states.keys().collect::<Vec<_>>(),
            [&("10.2.0.2".to_string(), "l".to_string())],
            "{what}"
        );
        assert_eq!(store.usage(9).expect("usage").get("l"), Some(&80), "{what}");
        assert_eq!(store.runs(5).expect("runs").len(), 2, "{what}");
    });
}

#[test]
fn a_queued_notification_is_claimed_by_one_connection_of_two() {
    on_both(|location| {
        let what = location.describe();
        let (mut store, lock) = Store::open_for_pass(location, false).expect("open");
        store
            .commit_pass(&PassWrite {
                run: run(300),
                outbox: vec![mail(300)],
                ..PassWrite::default()
            })
            .expect("commit");
        drop(lock);
        let mut other = Store::open_at(location).expect("open");
        let id = store.outbox_pending(None).expect("pending")[0].id;
        let first = store.outbox_claim(id, 310, 370).expect("claim");
        let second = other.outbox_claim(id, 311, 371).expect("claim");
        assert_eq!((first, second), (true, false), "{what}");
        // Past the claim, a sender that died is replaced.
        assert!(other.outbox_claim(id, 380, 440).expect("claim"), "{what}");
        store.outbox_sent(id, 381).expect("sent");
        assert!(
            store.outbox_pending(None).expect("pending").is_empty(),
            "{what}"
        );
    });
}
