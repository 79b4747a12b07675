//! `rblwatch store copy --from FILE`: a SQLite store copied into the config's store.

use std::io::Write;

use super::Setup;
use crate::cli::{StoreAction, StoreArgs};
use crate::error::Error;
use crate::store::{Location, Store};

/// Copies, and says how many rows of what.
pub fn run(setup: &Setup, args: &StoreArgs) -> Result<u8, Error> {
    let config = setup.config()?;
    match &args.action {
        StoreAction::Copy { from } => {
            let target = config.store_location();
            if target == Location::Sqlite(from.clone()) {
                return Err(Error::Usage {
                    arg: format!("--from {}", from.display()),
                    message: "is the config's store itself".into(),
                });
            }
            if !from.is_file() {
                return Err(Error::Usage {
                    arg: format!("--from {}", from.display()),
                    message: "is not a store file".into(),
                });
            }
            let source = Store::open(from)?;
            let mut destination = Store::open_at(&target)?;
            let copied = destination.copy_from(&source)?;
            let mut out = std::io::stdout().lock();
            let rows: Vec<String> = copied
                .iter()
                .filter(|(_, n)| *n > 0)
                .map(|(table, n)| format!("{n} {table}"))
                .collect();
            writeln!(
                out,
                "copied {} into {}: {}",
                from.display(),
                target.describe(),
                if rows.is_empty() {
                    "nothing (the source is empty)".to_string()
                } else {
                    rows.join(", ")
                }
            )?;
            Ok(0)
        }
    }
}
