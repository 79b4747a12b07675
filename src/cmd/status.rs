//! `rblwatch status`: what is listed now, since when, and where to get off it.

use super::Setup;
use crate::cli::{ListFormat, StatusArgs};
use crate::error::Error;
use crate::report::watch;
use crate::store::Store;

/// Prints the stored state; exit 1 when something is listed on a blocklist, else 0.
pub fn run(setup: &Setup, args: &StatusArgs) -> Result<u8, Error> {
    let config = setup.config()?;
    let store = Store::open(&config.store)?;
    // Without --all only listings are read: a watched range's clear pairs stay on disk.
    let mut states: Vec<_> = if args.all {
        store.states()?.into_values().collect()
    } else {
        store.listings()?
    };
    states.sort_by(|a, b| {
        (a.status != "listed", &a.target, &a.address, &a.list).cmp(&(
            b.status != "listed",
            &b.target,
            &b.address,
            &b.list,
        ))
    });
    let last = store.runs(1)?.into_iter().next();
    let mut out = std::io::stdout().lock();
    watch::write_status(
        &mut out,
        &states,
        &setup.catalog,
        last.as_ref(),
        args.format == ListFormat::Json,
    )?;
    let listed = states
        .iter()
        .any(|s| s.status == "listed" && s.policy == "block");
    Ok(u8::from(listed))
}
