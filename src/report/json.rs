//! `check --format json`: one document, stable for scripts, described in the README.

use std::io::{self, Write};

use serde::Serialize;

use super::{Summary, delist_procedure};
use crate::check::CheckReport;
use crate::dns::{Health, Status};
use crate::lists::Policy;

/// Everything besides the report that the document carries.
pub struct Context<'a> {
    /// The DNS servers used.
    pub resolvers: Vec<String>,
    /// Problems with the setup (a public resolver).
    pub warnings: &'a [String],
    /// Lists that were asked for and skipped (a missing key).
    pub notes: &'a [String],
    /// Targets as typed.
    pub targets: &'a [String],
}

#[derive(Serialize)]
struct Document<'a> {
    version: u32,
    resolvers: &'a [String],
    warnings: &'a [String],
    notes: &'a [String],
    targets: Vec<TargetDoc<'a>>,
    results: Vec<ResultDoc<'a>>,
    lists: Vec<ListDoc<'a>>,
    summary: SummaryDoc<'a>,
}

#[derive(Serialize)]
struct TargetDoc<'a> {
    target: &'a str,
    addresses: Vec<String>,
    error: Option<&'a str>,
}

#[derive(Serialize)]
struct ResultDoc<'a> {
    target: &'a str,
    address: &'a str,
    list: &'a str,
    zone: &'a str,
    query: &'a str,
    policy: Policy,
    status: Status,
    codes: Vec<String>,
    meanings: &'a [String],
    txt: &'a [String],
    delist_url: Option<&'a str>,
    delist: Option<String>,
    detail: Option<&'a str>,
    elapsed_ms: u64,
}

#[derive(Serialize)]
struct ListDoc<'a> {
    id: &'a str,
    name: &'a str,
    zone: &'a str,
    policy: Policy,
    health: Health,
    detail: Option<&'a str>,
}

#[derive(Serialize)]
struct SummaryDoc<'a> {
    listed: usize,
    clear: usize,
    refused: usize,
    bogus: usize,
    error: usize,
    unhealthy: usize,
    blocklisted: usize,
    allowlisted: usize,
    unanswered_targets: &'a [String],
    elapsed_ms: u64,
    exit_code: u8,
}

/// Writes the JSON document for a run.
pub fn write(
    out: &mut dyn Write,
    report: &CheckReport,
    summary: &Summary,
    ctx: &Context<'_>,
) -> io::Result<()> {
    let doc = Document {
        version: 1,
        resolvers: &ctx.resolvers,
        warnings: ctx.warnings,
        notes: ctx.notes,
        targets: ctx
            .targets
            .iter()
            .map(|t| {
                let resolved = report.resolutions.iter().find(|r| &r.target == t);
                TargetDoc {
                    target: t,
                    addresses: resolved
                        .map(|r| r.addresses.iter().map(ToString::to_string).collect())
                        .unwrap_or_default(),
                    error: resolved.and_then(|r| r.error.as_deref()),
                }
            })
            .collect(),
        results: report
            .outcomes
            .iter()
            .map(|o| ResultDoc {
                target: &o.target,
                address: &o.address,
                list: &o.list.id,
                zone: &o.list.zone,
                query: &o.query,
                policy: o.list.policy,
                status: o.status,
                codes: o.codes.iter().map(ToString::to_string).collect(),
                meanings: &o.meanings,
                txt: &o.txt,
                delist_url: o.delist_url.as_deref(),
                delist: (o.status == Status::Listed && o.list.policy == Policy::Block)
                    .then(|| delist_procedure(&o.list, o))
                    .flatten(),
                detail: o.detail.as_deref(),
                elapsed_ms: millis(o.elapsed),
            })
            .collect(),
        lists: report
            .lists
            .iter()
            .map(|h| ListDoc {
                id: &h.list.id,
                name: &h.list.name,
                zone: &h.list.zone,
                policy: h.list.policy,
                health: h.health,
                detail: h.detail.as_deref(),
            })
            .collect(),
        summary: SummaryDoc {
            listed: summary.count(Status::Listed),
            clear: summary.count(Status::Clear),
            refused: summary.count(Status::Refused),
            bogus: summary.count(Status::Bogus),
            error: summary.count(Status::Error),
            unhealthy: summary.count(Status::Unhealthy),
            blocklisted: summary.blocklisted,
            allowlisted: summary.allowlisted,
            unanswered_targets: &summary.unanswered_targets,
            elapsed_ms: millis(report.elapsed),
            exit_code: summary.exit_code(),
        },
    };
    serde_json::to_writer_pretty(&mut *out, &doc).map_err(io::Error::other)?;
    writeln!(out)
}

fn millis(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}
