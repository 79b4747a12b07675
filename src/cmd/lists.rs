//! `rblwatch lists` prints the catalog; `rblwatch lists verify` checks each list's health.

use std::io::Write;

use crate::check::{self, CheckRequest};
use crate::cli::{ListFormat, ListsAction, ListsArgs};
use crate::dns::Dns;
use crate::error::Error;
use crate::report::catalog;

/// Runs `lists` and returns the exit status: for `verify`, 1 when any list is not ok.
pub async fn run(setup: &super::Setup, args: ListsArgs) -> Result<u8, Error> {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let json = args.format == ListFormat::Json;
    let Some(ListsAction::Verify { select, dns }) = args.action else {
        if json {
            catalog::write_json(&mut out, &setup.catalog)?;
        } else {
            catalog::write_table(&mut out, &setup.catalog)?;
        }
        return Ok(0);
    };
    let selection = setup.select(Some(&select))?;
    let (settings, _) = setup.resolver(Some(&dns))?;
    let resolver = Dns::new(&settings)?;
    let mut err = std::io::stderr().lock();
    for line in super::resolver_warnings(&resolver)
        .iter()
        .chain(&selection.notes)
    {
        writeln!(err, "rblwatch: {}", crate::report::safe::clean(line))?;
    }
    let request = CheckRequest {
        targets: Vec::new(),
        lists: selection.lists,
        verify: true,
        concurrency: settings.concurrency,
        progress: None,
        used_today: std::collections::HashMap::new(),
        resolutions: None,
    };
    let found = check::run(&resolver, request).await;
    catalog::write_health(&mut out, &found.lists, json)?;
    out.flush()?;
    let all_ok = found
        .lists
        .iter()
        .all(|h| h.health == crate::dns::Health::Ok);
    Ok(if all_ok { 0 } else { 1 })
}
