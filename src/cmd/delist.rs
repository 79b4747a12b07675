//! `rblwatch delist [TARGET]`: for each current listing, what to do, in the order that works;
//! `--list ID --requested` records that removal was asked for.

use std::io::Write;

use super::Setup;
use crate::cli::{DelistArgs, ListFormat};
use crate::clock;
use crate::error::Error;
use crate::notify::context::Item;
use crate::report::safe::clean;
use crate::store::Store;

/// Which listings need what first: ISP-only removals gate the rest (Spamhaus: SBL first),
/// then reviewed requests, then self-service; automatic expiry needs nothing.
fn rank(item: &Item) -> u8 {
    match item.delist.as_ref().map(|d| d.method.as_str()) {
        Some("isp-only") => 0,
        Some("request") => 1,
        Some("self-service") => 2,
        Some("automatic") => 3,
        _ => 4,
    }
}

/// Prints the steps, or records a request.
pub fn run(setup: &Setup, args: &DelistArgs) -> Result<u8, Error> {
    let config = setup.config()?;
    let mut store = Store::open_at(&config.store_location())?;
    let matches = |s: &crate::store::StoredState| {
        args.target
            .as_deref()
            .is_none_or(|t| s.target == t || s.address == t || s.label.as_deref() == Some(t))
    };
    let listed: Vec<_> = store
        .listed_states()?
        .into_iter()
        .filter(|s| matches(s))
        .collect();
    let mut out = std::io::stdout().lock();

    if args.requested {
        let list = args.list.as_deref().unwrap_or_default();
        let target = args.target.as_deref().unwrap_or_default();
        let hits: Vec<_> = listed.iter().filter(|s| s.list == list).collect();
        if hits.is_empty() {
            return Err(Error::Usage {
                arg: format!("{target} --list {list}"),
                message: "is not listed there according to the last pass (`rblwatch status`)"
                    .into(),
            });
        }
        let now = clock::now();
        for s in hits {
            store.add_request(&s.address, &s.list, now)?;
            writeln!(
                out,
                "recorded: removal of {} from {list} requested at {}; the next passes re-check it and the delisting mail says how long it took",
                s.address,
                clock::format(now)
            )?;
        }
        return Ok(0);
    }

    let requests = store.requests()?;
    let mut items: Vec<Item> = listed
        .iter()
        .map(|s| {
            let mut item = Item::from_state(s, setup.catalog.get(&s.list));
            item.requested_at = requests
                .get(&(s.address.clone(), s.list.clone()))
                .map(|t| clock::format(*t));
            item
        })
        .collect();
    items.sort_by_key(|i| (i.address.clone(), rank(i)));

    if args.format == ListFormat::Json {
        crate::report::write_document(
            &mut out,
            &serde_json::json!({ "version": 1, "listings": items }),
        )?;
        return Ok(u8::from(!items.is_empty()));
    }
    if items.is_empty() {
        writeln!(
            out,
            "nothing is listed according to the last pass; nothing to do"
        )?;
        return Ok(0);
    }
    let mut step = 0;
    for item in &items {
        step += 1;
        writeln!(
            out,
            "{step}. {} on {} ({})",
            clean(&item.address),
            clean(&item.list.name),
            clean(&item.list.id)
        )?;
        for m in &item.meanings {
            writeln!(out, "   code {}", clean(m))?;
        }
        if let Some(fix) = &item.fix_first {
            writeln!(out, "   fix first: {fix}")?;
        }
        if let Some(d) = &item.delist {
            let need = match d.method.as_str() {
                "automatic" => match &d.expected_expiry {
                    Some(when) => format!("no request needed: it expires by itself around {when}"),
                    None => "no request needed: it expires by itself once the abuse stops".to_string(),
                },
                "isp-only" => "only your ISP or network owner can have it removed: ask them, with the listing's reason".to_string(),
                _ => "a request is needed once the cause is fixed".to_string(),
            };
            writeln!(out, "   {need}")?;
            writeln!(out, "   how: {}", clean(&d.procedure))?;
            if let Some(url) = &d.url {
                writeln!(out, "   link: {}", clean(url))?;
            }
            if d.paid_express {
                writeln!(
                    out,
                    "   warning: this list sells \"express\" delisting; never pay, the listing expires for free"
                )?;
            }
        }
        match &item.requested_at {
            Some(at) => writeln!(out, "   removal requested {at}")?,
            None => writeln!(
                out,
                "   when requested: rblwatch delist {} --list {} --requested",
                item.address, item.list.id
            )?,
        }
    }
    Ok(1)
}
