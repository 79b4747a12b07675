//! `rblwatch run`: one pass over every configured target, changes recorded in the store.

use std::collections::HashMap;
use std::io::Write;
use std::time::Instant;

use super::Setup;
use crate::check::{self, CheckRequest};
use crate::cli::{ListFormat, RunArgs};
use crate::clock;
use crate::dns::Dns;
use crate::error::Error;
use crate::report::watch::{self as out, Timing};
use crate::store::{PassLock, Store};
use crate::watch::{self, Before, PassSettings};

/// Runs one pass and returns the exit status: 0 nothing listed, 1 something listed.
pub async fn run(setup: &Setup, args: RunArgs) -> Result<u8, Error> {
    let config = setup.config()?;
    // The lock comes first: it also keeps two first passes from creating the schema at once.
    let _lock = PassLock::acquire(&config.store, args.wait)?;
    let store = Store::open(&config.store)?;
    let started = clock::now();
    let selection = setup.select(None)?;
    let (settings, verify) = setup.resolver(None)?;
    let dns = Dns::new(&settings)?;
    let mut err = std::io::stderr().lock();
    for line in super::resolver_warnings(&dns)
        .iter()
        .chain(&selection.notes)
    {
        writeln!(err, "rblwatch: {line}")?;
    }

    let dns_started = Instant::now();
    let request = CheckRequest {
        targets: config.targets.iter().map(|t| t.target.clone()).collect(),
        lists: selection.lists,
        verify,
        concurrency: settings.concurrency,
    };
    let found = check::run(&dns, request).await;
    let dns_time = dns_started.elapsed();

    let store_started = Instant::now();
    let labels: HashMap<String, Option<String>> = config
        .targets
        .iter()
        .map(|t| (t.target.text.clone(), t.label.clone()))
        .collect();
    let problem_after = config.problem_after;
    let targets = config.targets.len();
    // SQLite is blocking: read, evaluate and commit on a blocking thread.
    let (result, run_id) = tokio::task::spawn_blocking(move || -> Result<_, Error> {
        let mut store = store;
        let states = store.states()?;
        let streaks = store.streaks()?;
        let settings = PassSettings {
            labels: &labels,
            targets,
            started,
            finished: clock::now(),
            problem_after,
        };
        let result = watch::evaluate(
            &found,
            &Before {
                states: &states,
                streaks: &streaks,
            },
            &settings,
        );
        let id = store.commit_pass(&result.write)?;
        Ok((result, id))
    })
    .await
    .map_err(|e| Error::Store {
        path: config.store.display().to_string(),
        message: format!("the pass was interrupted: {e}"),
    })??;
    let timing = Timing {
        dns: dns_time,
        store: store_started.elapsed(),
    };

    let mut run = result.write.run.clone();
    run.id = run_id;
    let events: Vec<_> = result
        .write
        .events
        .iter()
        .cloned()
        .map(|mut e| {
            e.run = run_id;
            e
        })
        .collect();
    let noteworthy = !events.is_empty() || !run.problems.is_empty();
    if !args.quiet || noteworthy {
        let stdout = std::io::stdout();
        let mut stdout = stdout.lock();
        out::write_pass(
            &mut stdout,
            &run,
            &events,
            &result.listed,
            timing,
            args.format == ListFormat::Json,
        )?;
        stdout.flush()?;
    }
    Ok(u8::from(!result.listed.is_empty()))
}
