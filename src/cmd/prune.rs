//! `rblwatch prune --older-than DAYS`: drop old pass records and the states of targets no
//! longer watched; events only with `--events`.

use std::io::Write;

use super::Setup;
use crate::cli::PruneArgs;
use crate::clock;
use crate::error::Error;
use crate::store::Store;

/// Deletes old rows and says how many.
pub fn run(setup: &Setup, args: &PruneArgs) -> Result<u8, Error> {
    let days: i64 = args
        .older_than
        .trim_end_matches('d')
        .parse()
        .ok()
        .filter(|d| *d >= 0)
        .ok_or_else(|| Error::Usage {
            arg: format!("--older-than {}", args.older_than),
            message: "must be a number of days, e.g. 90 or 90d".into(),
        })?;
    let config = setup.config()?;
    let mut store = Store::open_at(&config.store_location())?;
    let now = clock::now();
    let before = now - days * 86_400;
    let pruned = store.prune(before, args.events, now)?;
    let (runs, events) = (pruned.runs, pruned.events);
    let mut out = std::io::stdout().lock();
    let mut retired = String::new();
    if pruned.retired > 0 {
        retired += &format!(
            ", {} stored state(s) of targets no longer watched",
            pruned.retired
        );
    }
    if pruned.fleet_passes > 0 {
        retired += &format!(", {} fleet pass record(s)", pruned.fleet_passes);
    }
    if args.events {
        writeln!(
            out,
            "deleted {runs} pass record(s){retired} and {events} event(s) older than {}",
            clock::format(before)
        )?;
    } else {
        writeln!(
            out,
            "deleted {runs} pass record(s){retired} older than {}; events kept",
            clock::format(before)
        )?;
    }
    Ok(0)
}
