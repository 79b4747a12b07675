//! `check --format nagios`: one status line with perfdata, exit 0/1/2/3 as Nagios plugins do.

use std::io::{self, Write};

use super::Summary;
use crate::check::CheckReport;
use crate::dns::Status;

/// Nagios thresholds: WARNING and CRITICAL from this many blocklistings.
#[derive(Debug, Clone, Copy)]
pub struct Thresholds {
    /// WARNING from this many.
    pub warning: usize,
    /// CRITICAL from this many.
    pub critical: usize,
}

/// The plugin state for a run: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.
///
/// A listing is definite, so the thresholds decide first. Without one, the run is UNKNOWN
/// when a target got no definite answer, or when most answers were not usable: "OK" on the
/// word of a few lists while the rest timed out or refused would be a guess (Monitoring
/// Plugins guidelines: UNKNOWN when the plugin cannot determine the state).
pub fn state(summary: &Summary, limits: Thresholds) -> u8 {
    let listed = summary.blocklisted;
    if listed > 0 && listed >= limits.critical {
        2
    } else if listed > 0 && listed >= limits.warning {
        1
    } else if !summary.unanswered_targets.is_empty() || mostly_unusable(summary) {
        3
    } else {
        0
    }
}

/// Answers that were neither listed nor clear.
fn unusable(summary: &Summary) -> usize {
    summary.count(Status::Refused)
        + summary.count(Status::Bogus)
        + summary.count(Status::Error)
        + summary.count(Status::Unhealthy)
}

/// Whether more than half of the answers were not usable.
fn mostly_unusable(summary: &Summary) -> bool {
    unusable(summary) * 2 > summary.total()
}

/// A threshold as a Nagios range: "alert when the value is N or more" is the range `0..N-1`,
/// written `N-1` (Monitoring Plugins guidelines, "Threshold and ranges").
fn range(from: usize) -> usize {
    from.max(1) - 1
}

/// The one line a Nagios plugin prints when it cannot run: `RBL UNKNOWN - why`, exit 3.
pub fn unknown_line(why: &str) -> String {
    let first = why.lines().next().unwrap_or("error");
    format!("RBL UNKNOWN - {}", super::safe::clean(first))
}

/// Writes the status line and returns the plugin's exit status.
pub fn write(
    out: &mut dyn Write,
    report: &CheckReport,
    summary: &Summary,
    limits: Thresholds,
) -> io::Result<u8> {
    let state = state(summary, limits);
    let word = ["OK", "WARNING", "CRITICAL", "UNKNOWN"][usize::from(state)];
    let listings: Vec<String> = report
        .outcomes
        .iter()
        .filter(|o| o.is_block_listing())
        .map(|o| format!("{} on {}", o.address, o.list.id))
        .collect();
    let unanswered = unusable(summary);
    // A status line stays one readable line: the first few listings, then how many more.
    const SHOWN: usize = 10;
    let text = if !listings.is_empty() {
        let more = listings.len().saturating_sub(SHOWN);
        let tail = if more > 0 {
            format!(" and {more} more")
        } else {
            String::new()
        };
        format!(
            "{} listing(s): {}{tail}",
            listings.len(),
            listings[..listings.len().min(SHOWN)].join(", ")
        )
    } else if let Some(fault) = report.fault.as_ref().filter(|_| state == 3) {
        fault.what()
    } else if state == 3 && !summary.unanswered_targets.is_empty() {
        format!(
            "no definite answer for {}",
            summary.unanswered_targets.join(", ")
        )
    } else if state == 3 {
        format!(
            "{unanswered} of {} answers not usable, {} clear: too few to call it clear",
            summary.total(),
            summary.count(Status::Clear)
        )
    } else {
        format!("not listed ({} lists clear)", summary.count(Status::Clear))
    };
    let tail = if unanswered > 0 && !(state == 3 && summary.unanswered_targets.is_empty()) {
        format!("; {unanswered} answer(s) not usable")
    } else {
        String::new()
    };
    // One line, whatever the text holds: a CR or LF from outside must not start another.
    let text = super::safe::clean(&text);
    writeln!(
        out,
        "RBL {word} - {text}{tail} | listed={};{};{};0;{} clear={} refused={} bogus={} error={} unhealthy={} time={:.3}s",
        summary.blocklisted,
        range(limits.warning),
        range(limits.critical),
        summary.total(),
        summary.count(Status::Clear),
        summary.count(Status::Refused),
        summary.count(Status::Bogus),
        summary.count(Status::Error),
        summary.count(Status::Unhealthy),
        report.elapsed.as_secs_f64()
    )?;
    Ok(state)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(blocklisted: usize, unanswered: bool) -> Summary {
        Summary {
            blocklisted,
            unanswered_targets: if unanswered { vec!["x".into()] } else { vec![] },
            ..Summary::default()
        }
    }

    fn counts(clear: usize, error: usize) -> Summary {
        let mut s = summary(0, false);
        s.by_status.insert(Status::Clear, clear);
        s.by_status.insert(Status::Error, error);
        s
    }

    #[test]
    fn most_answers_unusable_is_unknown_not_ok() {
        let limits = Thresholds {
            warning: 1,
            critical: 1,
        };
        assert_eq!(state(&counts(8, 22), limits), 3);
        assert_eq!(state(&counts(15, 15), limits), 0, "half is not most");
        assert_eq!(state(&counts(29, 1), limits), 0);
        let mut listed = counts(8, 22);
        listed.blocklisted = 1;
        assert_eq!(state(&listed, limits), 2, "a listing is definite");
    }

    #[test]
    fn perfdata_thresholds_are_nagios_ranges() {
        // "CRITICAL from 1 listing" is the range 0: alert above 0.
        assert_eq!(range(1), 0);
        assert_eq!(range(3), 2);
        assert_eq!(range(0), 0);
    }

    #[test]
    fn states_follow_the_thresholds() {
        let limits = Thresholds {
            warning: 1,
            critical: 3,
        };
        assert_eq!(state(&summary(0, false), limits), 0);
        assert_eq!(state(&summary(0, true), limits), 3);
        assert_eq!(state(&summary(1, false), limits), 1);
        assert_eq!(state(&summary(2, true), limits), 1);
        assert_eq!(state(&summary(3, false), limits), 2);
    }
}
