//! `rblwatch run`: one pass over every configured target (see `pass`), reported.

use std::io::Write;
use std::sync::Arc;

use super::Setup;
use crate::check::Progress;
use crate::cli::{ListFormat, RunArgs};
use crate::error::Error;
use crate::pass;
use crate::report::progress::Bar;
use crate::report::watch as out;

/// Runs one pass and returns the exit status: 1 something listed; 3 nothing listed but some
/// target could not be checked; 0 every target checked and nothing listed.
pub async fn run(setup: &Setup, args: RunArgs) -> Result<u8, Error> {
    let progress = Arc::new(Progress::default());
    let bar = Bar::start(&progress);
    let done = pass::run(setup, args.wait, Some(progress), None).await;
    drop(bar);
    let done = done?;
    let mut err = std::io::stderr().lock();
    for line in &done.notes {
        writeln!(err, "rblwatch: {}", crate::report::safe::clean(line))?;
    }
    let noteworthy = !done.events.is_empty()
        || !done.run.problems.is_empty()
        || !done.notifications.queued.is_empty()
        || !done.notifications.failed.is_empty();
    if !args.quiet || noteworthy {
        let stdout = std::io::stdout();
        let mut stdout = stdout.lock();
        let report = out::Pass {
            run: &done.run,
            events: &done.events,
            listed: &done.listed,
            timing: done.timing,
            notifications: &done.notifications,
        };
        out::write_pass(&mut stdout, &report, args.format == ListFormat::Json)?;
        stdout.flush()?;
    }
    Ok(if !done.listed.is_empty() {
        crate::report::EXIT_LISTED
    } else if !done.blind.is_empty() {
        crate::report::EXIT_UNKNOWN
    } else {
        crate::report::EXIT_CLEAR
    })
}
