//! `rblwatch lists`: the catalog as a table or JSON, and `lists verify`'s health table.

use std::io::{self, Write};

use serde::Serialize;

use super::safe::clean;
use crate::check::ListHealth;
use crate::lists::{Access, Catalog, Code, List, Policy, QueryKind};

#[derive(Serialize)]
struct ListDoc<'a> {
    id: &'a str,
    name: &'a str,
    zone: &'a str,
    query: &'a [QueryKind],
    policy: Policy,
    access: Access,
    key_env: Option<&'a str>,
    default: bool,
    defunct: Option<String>,
    delist_url: Option<&'a str>,
    delist_method: Option<String>,
    info: Option<&'a str>,
    sources: &'a [crate::lists::Text],
    codes: Vec<CodeDoc<'a>>,
    refusals: Vec<CodeDoc<'a>>,
    test: TestDoc<'a>,
}

#[derive(Serialize)]
struct CodeDoc<'a> {
    code: String,
    bits: Option<u8>,
    meaning: &'a str,
    listing: bool,
}

#[derive(Serialize)]
struct TestDoc<'a> {
    positive: &'a str,
    negative: &'a str,
}

fn code_docs(codes: &[Code]) -> Vec<CodeDoc<'_>> {
    codes
        .iter()
        .map(|c| CodeDoc {
            code: c.matcher.pattern.to_string(),
            bits: c.matcher.bits,
            meaning: &c.meaning,
            listing: c.listing,
        })
        .collect()
}

fn defunct_text(list: &List) -> Option<String> {
    list.defunct.as_ref().map(|d| match &d.since {
        Some(since) => format!("since {since}: {}", d.reason),
        None => d.reason.to_string(),
    })
}

/// Writes the whole catalog as a table.
pub fn write_table(out: &mut dyn Write, catalog: &Catalog) -> io::Result<()> {
    let id_w = catalog.lists.iter().map(|l| l.id.len()).max().unwrap_or(2);
    let zone_w = catalog
        .lists
        .iter()
        .map(|l| l.zone.len())
        .max()
        .unwrap_or(4);
    writeln!(
        out,
        "{:<id_w$}  {:<7}  {:<6}  {:<18}  {:<zone_w$}  NAME",
        "ID", "DEFAULT", "POLICY", "QUERIES", "ZONE"
    )?;
    for list in catalog.lists.iter().filter(|l| l.defunct.is_none()) {
        let kinds: Vec<String> = list.query.iter().map(ToString::to_string).collect();
        let on = match (list.default, list.access) {
            (true, _) => "on",
            (false, Access::Key) => "key",
            (false, Access::Registration) => "regist.",
            (false, Access::Public) => "off",
            (false, Access::Subscription) => "mirror",
        };
        writeln!(
            out,
            "{:<id_w$}  {on:<7}  {:<6}  {:<18}  {:<zone_w$}  {}",
            list.id,
            list.policy.to_string(),
            kinds.join(","),
            list.zone,
            clean(&list.name)
        )?;
    }
    writeln!(out)?;
    writeln!(out, "Defunct lists (never queried):")?;
    for list in catalog.lists.iter().filter(|l| l.defunct.is_some()) {
        writeln!(
            out,
            "{:<id_w$}  {:<zone_w$}  {}",
            list.id,
            list.zone,
            clean(&defunct_text(list).unwrap_or_default())
        )?;
    }
    writeln!(
        out,
        "\n{} lists, {} on by default, {} defunct; catalog: {}",
        catalog.lists.len(),
        catalog.lists.iter().filter(|l| l.default).count(),
        catalog.lists.iter().filter(|l| l.defunct.is_some()).count(),
        catalog.origin
    )
}

/// Writes the whole catalog as JSON.
pub fn write_json(out: &mut dyn Write, catalog: &Catalog) -> io::Result<()> {
    let docs: Vec<ListDoc<'_>> = catalog
        .lists
        .iter()
        .map(|l| ListDoc {
            id: &l.id,
            name: &l.name,
            zone: &l.zone,
            query: &l.query,
            policy: l.policy,
            access: l.access,
            key_env: l.key_env.as_deref(),
            default: l.default,
            defunct: defunct_text(l),
            delist_url: l.delist.as_ref().and_then(|d| d.url.as_deref()),
            delist_method: l.delist.as_ref().map(|d| d.method.to_string()),
            info: l.info.as_deref(),
            sources: &l.sources,
            codes: code_docs(&l.codes),
            refusals: code_docs(&l.refusals),
            test: TestDoc {
                positive: &l.test.positive,
                negative: &l.test.negative,
            },
        })
        .collect();
    super::write_document(out, &docs)
}

#[derive(Serialize)]
struct HealthDoc<'a> {
    id: &'a str,
    zone: &'a str,
    health: crate::dns::Health,
    detail: Option<&'a str>,
}

/// Writes the health of each list, as a table or JSON.
pub fn write_health(out: &mut dyn Write, lists: &[ListHealth], json: bool) -> io::Result<()> {
    if json {
        let docs: Vec<HealthDoc<'_>> = lists
            .iter()
            .map(|h| HealthDoc {
                id: &h.list.id,
                zone: &h.list.zone,
                health: h.health,
                detail: h.detail.as_deref(),
            })
            .collect();
        return super::write_document(out, &docs);
    }
    let id_w = lists.iter().map(|h| h.list.id.len()).max().unwrap_or(2);
    for h in lists {
        writeln!(
            out,
            "{:<id_w$}  {:<11}  {}",
            h.list.id,
            h.health.as_str(),
            clean(h.detail.as_deref().unwrap_or(&h.list.zone))
        )?;
    }
    let bad = lists.iter().filter(|h| !h.health.is_trusted()).count();
    writeln!(
        out,
        "{} lists checked, {} ok, {bad} not ok",
        lists.len(),
        lists.len() - bad
    )
}
