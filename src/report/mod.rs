//! The only place that turns results into text: the table, JSON, the Nagios line, the
//! catalog listing. Also decides the exit status of `check` from what was found.
//!
//! Writers take any `io::Write`, so tests read what a user would see.

pub mod catalog;
pub mod domain;
pub mod json;
pub mod nagios;
pub mod progress;
pub mod relay;
pub mod safe;
pub mod table;
pub mod watch;

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::net::Ipv4Addr;

use serde::Serialize;

use crate::check::{CheckReport, Outcome};
use crate::dns::Status;
use crate::lists::{DelistMethod, List};

/// Exit status of `check` when no blocklist lists any target and every target got an answer.
pub const EXIT_CLEAR: u8 = 0;
/// Exit status when at least one blocklist lists a target.
pub const EXIT_LISTED: u8 = 1;
/// Exit status when some target got no definite answer from any list.
pub const EXIT_UNKNOWN: u8 = 3;

/// Writes `doc` as an indented JSON document and a newline: the `--format json` output of the
/// commands that print one document. A write error keeps its kind, so a reader that closed the
/// pipe early stays a `BrokenPipe` (a quiet end), not a failure.
pub fn write_document(out: &mut dyn Write, doc: &impl Serialize) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, doc).map_err(io::Error::from)?;
    writeln!(out)
}

/// Counts over a whole run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    /// Outcomes per status.
    pub by_status: BTreeMap<Status, usize>,
    /// Listings on blocklists (what counts as listed).
    pub blocklisted: usize,
    /// Listings on allowlists (good news).
    pub allowlisted: usize,
    /// Targets that got no definite answer from any list.
    pub unanswered_targets: Vec<String>,
    /// Targets with at least one definite answer so far.
    answered: std::collections::HashSet<String>,
}

impl Summary {
    /// Counts the outcomes of a run; `targets` are the targets as typed, in order.
    pub fn of(report: &CheckReport, targets: &[String]) -> Summary {
        let mut summary = Summary::default();
        for outcome in &report.outcomes {
            summary.add(outcome);
        }
        summary.finish(targets);
        summary
    }

    /// Counts one outcome (for runs whose outcomes are streamed, not kept).
    pub fn add(&mut self, outcome: &Outcome) {
        *self.by_status.entry(outcome.status).or_default() += 1;
        if outcome.is_block_listing() {
            self.blocklisted += 1;
        } else if outcome.status == Status::Listed {
            self.allowlisted += 1;
        }
        if outcome.status.is_definite() && !self.answered.contains(&*outcome.target) {
            self.answered.insert(outcome.target.to_string());
        }
    }

    /// Counts `n` clear answers about `target`.
    pub fn add_clear(&mut self, target: &str, n: usize) {
        if n == 0 {
            return;
        }
        *self.by_status.entry(Status::Clear).or_default() += n;
        if !self.answered.contains(target) {
            self.answered.insert(target.to_string());
        }
    }

    /// Adds the counts of `other`, a summary of other outcomes of the same run.
    pub fn merge(&mut self, other: Summary) {
        for (status, n) in other.by_status {
            *self.by_status.entry(status).or_default() += n;
        }
        self.blocklisted += other.blocklisted;
        self.allowlisted += other.allowlisted;
        self.answered.extend(other.answered);
    }

    /// Settles which targets got no definite answer at all.
    pub fn finish(&mut self, targets: &[String]) {
        for status in Status::ALL {
            self.by_status.entry(status).or_insert(0);
        }
        self.unanswered_targets = targets
            .iter()
            .filter(|t| !self.answered.contains(*t))
            .cloned()
            .collect();
    }

    /// How many outcomes there were.
    pub fn total(&self) -> usize {
        self.by_status.values().sum()
    }

    /// How many outcomes have this status.
    pub fn count(&self, status: Status) -> usize {
        self.by_status.get(&status).copied().unwrap_or(0)
    }

    /// 1 when a blocklist lists a target, else 3 when a target got no definite answer, else 0.
    pub fn exit_code(&self) -> u8 {
        if self.blocklisted > 0 {
            EXIT_LISTED
        } else if !self.unanswered_targets.is_empty() {
            EXIT_UNKNOWN
        } else {
            EXIT_CLEAR
        }
    }
}

/// How getting off `list` works for a listing with these codes, in one line.
pub fn delist_procedure(list: &List, outcome: &Outcome) -> Option<String> {
    delist_text(list, &outcome.codes)
}

/// The delisting method that applies to a listing with these codes: the strictest of the
/// codes' own methods (Spamhaus SBL is ISP-only, XBL self-service), else the list's.
pub fn delist_method(list: &List, codes: &[Ipv4Addr]) -> Option<DelistMethod> {
    let delist = list.delist.as_ref()?;
    let method = codes
        .iter()
        .filter_map(|&addr| {
            list.codes
                .iter()
                .find(|c| c.listing && c.matcher.matches(addr))
                .and_then(|c| c.delist)
        })
        .min_by_key(|m| match m {
            DelistMethod::IspOnly => 0,
            DelistMethod::Request => 1,
            DelistMethod::SelfService => 2,
            DelistMethod::Automatic => 3,
        })
        .unwrap_or(delist.method);
    Some(method)
}

/// How getting off `list` works for a listing with these codes, in one line.
pub fn delist_text(list: &List, codes: &[Ipv4Addr]) -> Option<String> {
    let delist = list.delist.as_ref()?;
    let method = delist_method(list, codes)?;
    let mut text = match method {
        DelistMethod::SelfService => "self-service removal on the list's page".to_string(),
        DelistMethod::Automatic => match delist.expires_after_days {
            Some(days) => {
                format!("expires by itself {days} day(s) after the abuse stops; no request needed")
            }
            None => "expires by itself once the abuse stops; no request needed".to_string(),
        },
        DelistMethod::IspOnly => "only your ISP or network owner can have it removed".to_string(),
        DelistMethod::Request => "removal on request, reviewed by the list".to_string(),
    };
    if let (true, Some(days)) = (method != DelistMethod::Automatic, delist.expires_after_days) {
        text.push_str(&format!(
            "; also expires {days} day(s) after the abuse stops"
        ));
    }
    if delist.paid_express {
        text.push_str("; paid express removal is offered and never needed");
    }
    if let Some(note) = &delist.note {
        text.push_str(". ");
        text.push_str(note);
    }
    Some(text)
}
