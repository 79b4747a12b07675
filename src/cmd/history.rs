//! `rblwatch history`: the event log, newest first, optionally filtered.

use super::Setup;
use crate::cli::{HistoryArgs, ListFormat};
use crate::clock;
use crate::error::Error;
use crate::report::watch;
use crate::store::{HistoryFilter, Store};

/// Prints the matching events.
pub fn run(setup: &Setup, args: &HistoryArgs) -> Result<u8, Error> {
    write(setup, args, &mut std::io::stdout().lock())
}

/// Writes what `run` prints to `out`.
pub fn write(setup: &Setup, args: &HistoryArgs, out: &mut dyn std::io::Write) -> Result<u8, Error> {
    let since = args
        .since
        .as_deref()
        .map(|text| {
            clock::parse(text).ok_or_else(|| Error::Usage {
                arg: format!("--since {text}"),
                message: "must be YYYY-MM-DD, YYYY-MM-DDTHH:MM:SSZ or Unix seconds".into(),
            })
        })
        .transpose()?;
    let config = setup.config()?;
    let store = Store::open_at(&config.store_location())?;
    let filter = HistoryFilter {
        target: args.target.clone(),
        list: args.list.clone(),
        since,
    };
    let events = store.history(&filter)?;
    watch::write_history(out, &events, args.format == ListFormat::Json)?;
    Ok(0)
}
