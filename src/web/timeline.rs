//! The status page's history timeline: each pair's listed and clear periods over a window,
//! rebuilt from the event log, as bars placed in percent of the window's width (the template
//! draws them as SVG).
//!
//! The log holds changes only: a pair first seen clear has no event, and an event's old status
//! says what the pair was before it. So the start of a lane is the old status of its first
//! event in the window, or "unrecorded" when that event was its first sighting; a pair with no
//! event in the window is drawn from its stored state.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::clock;
use crate::store::{Event, StoredState};

/// At most this many lanes per target: a range can have thousands of pairs, and a page of
/// them helps nobody (the API has them all).
pub const MAX_LANES: usize = 24;

/// One pair's periods.
#[derive(Debug, Clone, Serialize)]
pub struct Lane {
    /// The address or name.
    pub address: String,
    /// The list's catalog id.
    pub list: String,
    /// The list's name.
    pub name: String,
    /// `block` or `allow`.
    pub policy: String,
    /// Listed at the end of the window.
    pub listed_now: bool,
    /// The periods, left to right, covering the window.
    pub segments: Vec<Segment>,
}

/// One period of a lane.
#[derive(Debug, Clone, Serialize)]
pub struct Segment {
    /// `listed`, `clear`, `unwatched` (the target left the config) or `unrecorded`.
    pub status: String,
    /// Where it starts, in percent of the window's width.
    pub x: f64,
    /// How wide it is, in percent.
    pub width: f64,
    /// When it starts and ends, RFC 3339 UTC.
    pub from: String,
    /// When it ends.
    pub to: String,
    /// Its length in words: `3 days`, `5 hours`.
    pub length: String,
}

/// The window and the dates marked under it.
#[derive(Debug, Clone, Serialize)]
pub struct Axis {
    /// The window's days.
    pub days: u32,
    /// Its start, RFC 3339 UTC.
    pub from: String,
    /// Its end (now).
    pub to: String,
    /// Dates along it.
    pub ticks: Vec<Tick>,
}

/// A date on the axis.
#[derive(Debug, Clone, Serialize)]
pub struct Tick {
    /// Where, in percent.
    pub x: f64,
    /// `2026-11-28`.
    pub label: String,
}

/// The axis of a window of `days` ending at `to`, with five dates on it.
pub fn axis(days: u32, to: i64) -> Axis {
    let from = to - i64::from(days) * 86_400;
    let ticks = (0..5)
        .map(|i| {
            let at = from + (to - from) * i / 4;
            Tick {
                x: percent(at - from, to - from),
                label: clock::format(at)[..10].to_string(),
            }
        })
        .collect();
    Axis {
        days,
        from: clock::format(from),
        to: clock::format(to),
        ticks,
    }
}

/// The lanes of one target over `[from, to]`: `events` are its events since `from` (any
/// order), `states` its stored listings, `recorded` when the store's record begins (its oldest
/// pass): before it nothing is known. Pairs listed now come first, then those that changed
/// most recently; at most `MAX_LANES`, and how many more there were.
pub fn lanes(
    events: &[&Event],
    states: &[&StoredState],
    (from, to): (i64, i64),
    recorded: i64,
    name: impl Fn(&str) -> String,
) -> (Vec<Lane>, usize) {
    // The status a pair had before its first change in the window holds back to the start of
    // the record, no further.
    let start = |status: String, since: i64| -> Vec<(i64, String)> {
        let known = since.max(from);
        let mut marks = Vec::with_capacity(2);
        if known > from {
            marks.push((from, "unrecorded".to_string()));
        }
        marks.push((known, status));
        marks
    };
    // Per pair: its changes in time order, and its policy.
    let mut pairs: BTreeMap<(&str, &str), (&str, Vec<&Event>)> = BTreeMap::new();
    for e in events.iter().filter(|e| e.at >= from && e.at <= to) {
        pairs
            .entry((e.address.as_str(), e.list.as_str()))
            .or_insert_with(|| (e.policy.as_str(), Vec::new()))
            .1
            .push(e);
    }
    // Listed through the whole window: no event in it.
    let mut lanes: Vec<(i64, Lane)> = states
        .iter()
        .filter(|s| {
            s.status == "listed" && !pairs.contains_key(&(s.address.as_str(), s.list.as_str()))
        })
        .map(|s| {
            let marks = start("listed".to_string(), s.since);
            (
                s.since,
                lane(&s.address, &s.list, &s.policy, &marks, to, &name),
            )
        })
        .collect();
    for ((address, list), (policy, mut changes)) in pairs {
        changes.sort_by_key(|e| (e.at, e.id));
        let first = changes[0];
        let mut marks = match &first.old_status {
            Some(old) => start(old.clone(), recorded.min(first.at)),
            None => vec![(from, "unrecorded".to_string())],
        };
        marks.extend(changes.iter().map(|e| (e.at, e.new_status.clone())));
        let last = changes.last().map_or(from, |e| e.at);
        lanes.push((last, lane(address, list, policy, &marks, to, &name)));
    }
    lanes.sort_by(|(a_at, a), (b_at, b)| {
        (!a.listed_now, std::cmp::Reverse(*a_at), &a.address, &a.list).cmp(&(
            !b.listed_now,
            std::cmp::Reverse(*b_at),
            &b.address,
            &b.list,
        ))
    });
    let more = lanes.len().saturating_sub(MAX_LANES);
    lanes.truncate(MAX_LANES);
    (lanes.into_iter().map(|(_, l)| l).collect(), more)
}

/// A lane from its status changes (`marks`, in time order, the first at the window's start).
fn lane(
    address: &str,
    list: &str,
    policy: &str,
    marks: &[(i64, String)],
    to: i64,
    name: &impl Fn(&str) -> String,
) -> Lane {
    // Two changes at one instant: the later holds; then a repeated status is one period.
    let mut runs: Vec<(i64, &str)> = Vec::with_capacity(marks.len());
    for (at, status) in marks {
        match runs.last_mut() {
            Some(last) if last.0 == *at => last.1 = status,
            _ => runs.push((*at, status)),
        }
    }
    runs.dedup_by(|later, earlier| later.1 == earlier.1);
    let from = runs.first().map_or(to, |(at, _)| *at);
    let span = to - from;
    let segments = runs
        .iter()
        .enumerate()
        .map(|(i, (start, status))| {
            let end = runs.get(i + 1).map_or(to, |(at, _)| *at);
            let x = percent(start - from, span);
            Segment {
                status: (*status).to_string(),
                x,
                width: ((percent(end - from, span) - x) * 100.0).round() / 100.0,
                from: clock::format(*start),
                to: clock::format(end),
                length: clock::length(end - start),
            }
        })
        .collect();
    Lane {
        address: address.to_string(),
        list: list.to_string(),
        name: name(list),
        policy: policy.to_string(),
        listed_now: marks.last().is_some_and(|(_, s)| s == "listed"),
        segments,
    }
}

/// `part` of `whole` in percent, to two decimals.
fn percent(part: i64, whole: i64) -> f64 {
    if whole <= 0 {
        return 0.0;
    }
    // Window lengths are days to years in seconds: far inside f64's exact integers.
    #[allow(clippy::cast_precision_loss)]
    let p = part as f64 * 100.0 / whole as f64;
    (p.clamp(0.0, 100.0) * 100.0).round() / 100.0
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 86_400;

    fn event(at: i64, list: &str, old: Option<&str>, new: &str) -> Event {
        Event {
            id: at,
            run: 1,
            at,
            target: "192.0.2.5".into(),
            label: None,
            address: "192.0.2.5".into(),
            list: list.into(),
            policy: "block".into(),
            old_status: old.map(Into::into),
            new_status: new.into(),
            old_codes: vec![],
            codes: vec![],
            meanings: vec![],
            txt: vec![],
            delist_url: None,
        }
    }

    fn state(list: &str, since: i64) -> StoredState {
        StoredState::listed_for_test(list, since)
    }

    #[test]
    fn periods_follow_the_changes_and_cover_the_window() {
        let to = 100 * DAY;
        let from = to - 10 * DAY;
        // First seen listed 2 days into the window, clear 5 days later, listed again.
        let events = [
            event(from + 2 * DAY, "a", None, "listed"),
            event(from + 7 * DAY, "a", Some("listed"), "clear"),
            event(from + 9 * DAY, "a", Some("clear"), "listed"),
        ];
        let refs: Vec<&Event> = events.iter().rev().collect();
        let (lanes, more) = lanes(&refs, &[], (from, to), 0, |id| id.to_uppercase());
        assert_eq!(more, 0);
        let lane = &lanes[0];
        assert_eq!((lane.name.as_str(), lane.listed_now), ("A", true));
        let got: Vec<(&str, f64, f64, &str)> = lane
            .segments
            .iter()
            .map(|s| (s.status.as_str(), s.x, s.width, s.length.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                ("unrecorded", 0.0, 20.0, "2 days"),
                ("listed", 20.0, 50.0, "5 days"),
                ("clear", 70.0, 20.0, "2 days"),
                ("listed", 90.0, 10.0, "24 hours"),
            ]
        );
        let total: f64 = lane.segments.iter().map(|s| s.width).sum();
        assert!((total - 100.0).abs() < 0.01, "{total}");
    }

    #[test]
    fn a_listing_older_than_the_window_fills_it_and_comes_first() {
        let to = 100 * DAY;
        let from = to - 30 * DAY;
        let events = [event(from + DAY, "b", Some("listed"), "clear")];
        let refs: Vec<&Event> = events.iter().collect();
        let old = state("a", from - 40 * DAY);
        let (lanes, _) = lanes(&refs, &[&old], (from, to), 0, str::to_string);
        assert_eq!(lanes.len(), 2);
        assert_eq!(lanes[0].list, "a");
        assert_eq!(lanes[0].segments.len(), 1);
        assert_eq!(
            (lanes[0].segments[0].x, lanes[0].segments[0].width),
            (0.0, 100.0)
        );
        assert_eq!(lanes[1].segments[0].status, "listed");
        assert_eq!(lanes[1].segments[1].status, "clear");
        assert!(!lanes[1].listed_now);
    }

    #[test]
    fn nothing_is_drawn_as_known_before_the_record_begins() {
        let to = 100 * DAY;
        let from = to - 30 * DAY;
        let recorded = from + 10 * DAY;
        // Seen clear from the first pass (no event), listed later.
        let events = [event(from + 20 * DAY, "a", Some("clear"), "listed")];
        let refs: Vec<&Event> = events.iter().collect();
        // Listed since a day the window holds, with its event pruned away.
        let young = state("b", from + 15 * DAY);
        let (lanes, _) = lanes(&refs, &[&young], (from, to), recorded, str::to_string);
        let spans = |lane: &Lane| -> Vec<(String, f64)> {
            lane.segments
                .iter()
                .map(|s| (s.status.clone(), s.width))
                .collect()
        };
        let a = lanes.iter().find(|l| l.list == "a").expect("lane a");
        assert_eq!(
            spans(a),
            [
                ("unrecorded".to_string(), 33.33),
                ("clear".to_string(), 33.34),
                ("listed".to_string(), 33.33)
            ]
        );
        let b = lanes.iter().find(|l| l.list == "b").expect("lane b");
        assert_eq!(
            spans(b),
            [
                ("unrecorded".to_string(), 50.0),
                ("listed".to_string(), 50.0)
            ]
        );
    }

    #[test]
    fn lanes_are_capped_and_the_rest_counted() {
        let to = 100 * DAY;
        let events: Vec<Event> = (0..30)
            .map(|i| event(to - DAY + i, &format!("l{i:02}"), None, "listed"))
            .collect();
        let refs: Vec<&Event> = events.iter().collect();
        let (lanes, more) = lanes(&refs, &[], (to - 7 * DAY, to), 0, str::to_string);
        assert_eq!((lanes.len(), more), (MAX_LANES, 6));
        // The most recent change first.
        assert_eq!(lanes[0].list, "l29");
    }

    #[test]
    fn axis_marks_five_dates_from_start_to_now() {
        let a = axis(30, clock::parse("2026-12-01").expect("date"));
        let labels: Vec<&str> = a.ticks.iter().map(|t| t.label.as_str()).collect();
        assert_eq!(
            labels,
            [
                "2026-11-01",
                "2026-11-08",
                "2026-11-16",
                "2026-11-23",
                "2026-12-01"
            ]
        );
        assert_eq!(a.ticks[4].x, 100.0);
    }
}
