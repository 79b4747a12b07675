//! `rblwatch status`: what is listed now, since when, and where to get off it.

use std::collections::HashSet;

use super::Setup;
use crate::cli::{ListFormat, StatusArgs};
use crate::config::Config;
use crate::error::Error;
use crate::report::watch;
use crate::store::{RunRecord, Store};

/// Prints the stored state of the configured targets; exit 1 when something is listed on a
/// blocklist, 3 when nothing is but some target was not definitely checked by the last pass,
/// else 0.
pub fn run(setup: &Setup, args: &StatusArgs) -> Result<u8, Error> {
    write(setup, args, &mut std::io::stdout().lock())
}

/// Writes what `run` prints to `out`, and returns its exit status.
pub fn write(setup: &Setup, args: &StatusArgs, out: &mut dyn std::io::Write) -> Result<u8, Error> {
    let config = setup.config()?;
    let store = Store::open_at(&config.store_location())?;
    // Without --all only listings are read: a watched range's clear pairs stay on disk.
    let mut states: Vec<_> = if args.all {
        store.states()?.into_values().collect()
    } else {
        store.listings()?
    };
    let (targets, last) = target_checks(config, &store)?;
    let watched: HashSet<&str> = targets.iter().map(|t| t.target.as_str()).collect();
    states.retain(|s| watched.contains(s.target.as_str()));
    states.sort_by(|a, b| {
        (a.status != "listed", &a.target, &a.address, &a.list).cmp(&(
            b.status != "listed",
            &b.target,
            &b.address,
            &b.list,
        ))
    });
    // The daemons that worked on this store in the last day.
    let workers = store.workers(crate::clock::now() - 86_400)?;
    watch::write_status(
        out,
        &watch::StatusView {
            states: &states,
            targets: &targets,
            catalog: &setup.catalog,
            last_run: last.as_ref(),
            workers: &workers,
        },
        args.format == ListFormat::Json,
    )?;
    let listed = states
        .iter()
        .any(|s| s.status == "listed" && s.policy == "block");
    Ok(if listed {
        crate::report::EXIT_LISTED
    } else if targets.iter().any(|t| !t.current) {
        crate::report::EXIT_UNKNOWN
    } else {
        crate::report::EXIT_CLEAR
    })
}

/// The watched targets as `status` shows them, with when each was last definitely checked and
/// whether by the last pass, and that pass. A target no longer in the config is history, not
/// status; a mail domain stands for what its last reading held.
pub fn target_checks(
    config: &Config,
    store: &Store,
) -> Result<(Vec<watch::TargetCheck>, Option<RunRecord>), Error> {
    let targets = crate::domain::watch::as_stored(&config.targets, |d| store.domain_members(d))?;
    let last = store.runs(1)?.into_iter().next();
    let checked = store.last_checked()?;
    let checks = targets
        .iter()
        .map(|t| {
            let at = checked.get(&t.target.text).copied();
            watch::TargetCheck {
                target: t.target.text.clone(),
                label: t.label.clone(),
                checked: at,
                // Answers are stamped with their pass's start.
                current: last
                    .as_ref()
                    .is_some_and(|run| at.is_some_and(|at| at >= run.started)),
            }
        })
        .collect();
    Ok((checks, last))
}
