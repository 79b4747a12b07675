//! Output of the watch commands: a pass's changes (`run`), what is listed now (`status`),
//! and the event log (`history`), as tables or JSON. Times are shown as RFC 3339 UTC.

use std::io::{self, Write};

use serde_json::{Value, json};

use super::safe::{clean, join};
use crate::clock;
use crate::lists::Catalog;
use crate::notify::outbox::FlushReport;
use crate::store::{Event, RunRecord, StoredState};

fn who(target: &str, address: &str, label: Option<&str>) -> String {
    let mut text = clean(address).into_owned();
    if target != address {
        text.push_str(&format!(" [{}]", clean(target)));
    }
    if let Some(label) = label {
        text.push_str(&format!(" ({})", clean(label)));
    }
    text
}

/// A JSON value with the named Unix-time fields turned into RFC 3339 strings.
fn with_times(mut value: Value, fields: &[&str]) -> Value {
    if let Value::Object(map) = &mut value {
        for field in fields {
            if let Some(ts) = map.get(*field).and_then(Value::as_i64) {
                map.insert((*field).to_string(), Value::String(clock::format(ts)));
            }
        }
    }
    value
}

fn event_json(event: &Event) -> Value {
    with_times(serde_json::to_value(event).unwrap_or(Value::Null), &["at"])
}

fn state_json(state: &StoredState, catalog: &Catalog) -> Value {
    let mut value = with_times(
        serde_json::to_value(state).unwrap_or(Value::Null),
        &["since", "checked"],
    );
    if let Value::Object(map) = &mut value {
        map.insert(
            "delist_url".into(),
            json!(delist_url(catalog, &state.list, &state.address)),
        );
    }
    value
}

fn delist_url(catalog: &Catalog, list: &str, address: &str) -> Option<String> {
    catalog
        .get(list)
        .and_then(|l| l.delist.as_ref())
        .and_then(|d| d.url_for(address))
}

fn event_line(out: &mut dyn Write, e: &Event, with_time: bool) -> io::Result<()> {
    let time = if with_time {
        format!("{}  ", clock::format(e.at))
    } else {
        String::new()
    };
    if e.policy == crate::store::SETUP_POLICY {
        let word = if e.new_status == crate::store::SETUP_ADDED {
            "ADDED"
        } else {
            "REMOVED"
        };
        let to = if word == "ADDED" { "to" } else { "from" };
        return writeln!(
            out,
            "{time}{word:<8} {} {to} {}'s mail setup as {}: {}",
            clean(&e.address),
            clean(&e.target),
            clean(&e.list),
            clean(&join(&e.meanings, "; "))
        );
    }
    if e.new_status == crate::store::UNWATCHED {
        return writeln!(
            out,
            "{time}UNWATCHED {}  {}",
            who(&e.target, &e.address, e.label.as_deref()),
            join(&e.meanings, "; ")
        );
    }
    let word = match (e.old_status.as_deref(), e.new_status.as_str()) {
        (Some("listed"), "listed") => "CODES",
        (_, "listed") if e.policy == "allow" => "ALLOWED",
        (_, "listed") => "LISTED",
        _ => "CLEAR",
    };
    let change = match (e.old_status.as_deref(), e.new_status.as_str()) {
        (None, _) => "first seen".to_string(),
        (Some("listed"), "listed") => {
            format!(
                "codes {} -> {}",
                join(&e.old_codes, ", "),
                join(&e.codes, ", ")
            )
        }
        (Some(old), _) => format!("was {old}"),
    };
    let meaning = if e.meanings.is_empty() {
        String::new()
    } else {
        format!(": {}", join(&e.meanings, "; "))
    };
    writeln!(
        out,
        "{time}{word:<8} {}  {}  {change}{meaning}",
        who(&e.target, &e.address, e.label.as_deref()),
        e.list
    )
}

/// How long the parts of a pass took.
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    /// The DNS phase: health checks and every query.
    pub dns: std::time::Duration,
    /// Reading the store, evaluating and committing.
    pub store: std::time::Duration,
}

/// What one pass did, for its report.
pub struct Pass<'a> {
    /// The run row.
    pub run: &'a RunRecord,
    /// The changes.
    pub events: &'a [Event],
    /// What is listed after the pass.
    pub listed: &'a [StoredState],
    /// How long it took.
    pub timing: Timing,
    /// What sending the notifications did.
    pub notifications: &'a FlushReport,
}

/// Writes the result of one pass: changes first, then problems, then one summary line.
pub fn write_pass(out: &mut dyn Write, pass: &Pass<'_>, json: bool) -> io::Result<()> {
    let Pass {
        run,
        events,
        listed,
        timing,
        notifications,
    } = *pass;
    if json {
        let doc = json!({
            "version": 1,
            "timing": { "dns_ms": timing.dns.as_millis(), "store_ms": timing.store.as_millis() },
            "run": with_times(serde_json::to_value(run).unwrap_or(Value::Null), &["started", "finished"]),
            "events": events.iter().map(event_json).collect::<Vec<_>>(),
            "problems": run.problems,
            "notifications": notifications,
            "listed": listed.iter().map(|s| with_times(serde_json::to_value(s).unwrap_or(Value::Null), &["since", "checked"])).collect::<Vec<_>>(),
        });
        return super::write_document(out, &doc);
    }
    for event in events {
        event_line(out, event, false)?;
        if event.new_status == "listed" && event.policy == "block" {
            for txt in &event.txt {
                writeln!(out, "         reason: {}", clean(txt))?;
            }
            if let Some(url) = &event.delist_url {
                writeln!(out, "         delist: {}", clean(url))?;
            }
        }
    }
    for problem in &run.problems {
        writeln!(out, "problem: {}", clean(problem))?;
    }
    for line in &notifications.queued {
        writeln!(out, "notification queued, will be retried: {}", clean(line))?;
    }
    for line in &notifications.failed {
        writeln!(
            out,
            "notification failed, kept in the store: {}",
            clean(line)
        )?;
    }
    if !notifications.sent.is_empty() {
        writeln!(out, "notifications sent: {}", notifications.sent.join(", "))?;
    }
    let unknown: usize = run.unknown.values().sum();
    let why = if unknown > 0 {
        let parts: Vec<String> = run
            .unknown
            .iter()
            .map(|(k, n)| format!("{n} {}", clean(k)))
            .collect();
        format!("; {unknown} answers not definite ({})", parts.join(", "))
    } else {
        String::new()
    };
    writeln!(
        out,
        "pass {} at {}: {} target(s), {} answers, {} change(s); {} pair(s) listed now{why}; {:.2} s",
        run.id,
        clock::format(run.started),
        run.targets,
        run.answers,
        events.len(),
        listed.len(),
        (timing.dns + timing.store).as_secs_f64()
    )
}

/// One configured target as `status` shows it: when any list last gave a definite answer
/// about it.
#[derive(Debug, Clone)]
pub struct TargetCheck {
    /// The target as written in the config.
    pub target: String,
    /// Its label, if any.
    pub label: Option<String>,
    /// When it last got a definite answer (never: None).
    pub checked: Option<i64>,
    /// Whether that was in the last pass.
    pub current: bool,
}

/// What `status` shows.
pub struct StatusView<'a> {
    /// The states to show (listings, or every pair with --all).
    pub states: &'a [StoredState],
    /// Every configured target.
    pub targets: &'a [TargetCheck],
    /// The catalog, for delisting links.
    pub catalog: &'a Catalog,
    /// The last pass, if any.
    pub last_run: Option<&'a RunRecord>,
    /// The daemons seen working on the store lately.
    pub workers: &'a [crate::store::Worker],
}

/// Writes `status`: what is listed now (or every stored pair), and when each target was last
/// definitely checked. "Nothing is listed" is said only when the last pass saw every target.
pub fn write_status(out: &mut dyn Write, view: &StatusView<'_>, json: bool) -> io::Result<()> {
    let StatusView {
        states,
        targets,
        catalog,
        last_run,
        workers,
    } = *view;
    let unseen: Vec<&TargetCheck> = targets.iter().filter(|t| !t.current).collect();
    if json {
        let doc = json!({
            "version": 1,
            "last_run": last_run.map(|r| clock::format(r.finished)),
            "targets": targets.iter().map(|t| json!({
                "target": t.target,
                "label": t.label,
                "last_checked": t.checked.map(clock::format),
                "checked_by_last_pass": t.current,
            })).collect::<Vec<_>>(),
            "states": states.iter().map(|s| state_json(s, catalog)).collect::<Vec<_>>(),
            "workers": workers.iter().map(|w| json!({
                "name": w.name,
                "host": w.host,
                "pid": w.pid,
                "version": w.version,
                "started": clock::format(w.started),
                "last_seen": clock::format(w.seen),
            })).collect::<Vec<_>>(),
        });
        return super::write_document(out, &doc);
    }
    for s in states {
        let word = match (s.status.as_str(), s.policy.as_str()) {
            ("listed", "allow") => "ALLOWED",
            ("listed", _) => "LISTED",
            _ => "CLEAR",
        };
        let meaning = if s.meanings.is_empty() {
            String::new()
        } else {
            format!("  {}", join(&s.meanings, "; "))
        };
        writeln!(
            out,
            "{word:<8} {}  {}  since {}{meaning}",
            who(&s.target, &s.address, s.label.as_deref()),
            clean(&s.list),
            clock::format(s.since)
        )?;
        if let Some(url) = delist_url(catalog, &s.list, &s.address).filter(|_| word == "LISTED") {
            writeln!(out, "         delist: {}", clean(&url))?;
        }
    }
    for t in &unseen {
        let when = t.checked.map_or_else(
            || "never definitely checked".to_string(),
            |at| format!("last definitely checked {}", clock::format(at)),
        );
        writeln!(
            out,
            "UNCHECKED {}  not seen by the last pass; {when}",
            who(&t.target, &t.target, t.label.as_deref())
        )?;
    }
    for w in workers {
        writeln!(
            out,
            "WORKER   {}  rblwatch {}, running since {}, last seen {}",
            clean(&w.name),
            clean(&w.version),
            clock::format(w.started),
            clock::format(w.seen)
        )?;
    }
    let listed = states
        .iter()
        .filter(|s| s.status == "listed" && s.policy == "block")
        .count();
    let last = last_run.map_or_else(
        || "no pass yet".to_string(),
        |r| format!("last pass {}", clock::format(r.finished)),
    );
    let blind = if unseen.is_empty() {
        String::new()
    } else {
        format!(
            "; {} of {} target(s) could not be checked",
            unseen.len(),
            targets.len()
        )
    };
    if listed > 0 {
        writeln!(out, "{listed} listing(s) on blocklists ({last}{blind})")
    } else if unseen.is_empty() {
        writeln!(out, "nothing is listed ({last})")
    } else {
        writeln!(
            out,
            "no listing known, but not every target was checked ({last}{blind})"
        )
    }
}

/// Writes `history`: the event log, newest first.
pub fn write_history(out: &mut dyn Write, events: &[Event], json: bool) -> io::Result<()> {
    if json {
        let doc =
            json!({ "version": 1, "events": events.iter().map(event_json).collect::<Vec<_>>() });
        return super::write_document(out, &doc);
    }
    for event in events {
        event_line(out, event, true)?;
    }
    writeln!(out, "{} event(s)", events.len())
}
