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
pub fn state(summary: &Summary, limits: Thresholds) -> u8 {
    let listed = summary.blocklisted;
    if listed > 0 && listed >= limits.critical {
        2
    } else if listed > 0 && listed >= limits.warning {
        1
    } else if !summary.unanswered_targets.is_empty() {
        3
    } else {
        0
    }
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
    let unanswered = summary.count(Status::Refused)
        + summary.count(Status::Bogus)
        + summary.count(Status::Error)
        + summary.count(Status::Unhealthy);
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
    } else if state == 3 {
        format!(
            "no definite answer for {}",
            summary.unanswered_targets.join(", ")
        )
    } else {
        format!("not listed ({} lists clear)", summary.count(Status::Clear))
    };
    let tail = if unanswered > 0 {
        format!("; {unanswered} answer(s) not usable")
    } else {
        String::new()
    };
    writeln!(
        out,
        "RBL {word} - {text}{tail} | listed={};{};{};0;{} clear={} refused={} bogus={} error={} unhealthy={} time={:.3}s",
        summary.blocklisted,
        limits.warning,
        limits.critical,
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
