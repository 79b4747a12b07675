//! `rblwatch check TARGET...`: every target against every selected list, once.

use std::io::{IsTerminal, Write};

use std::sync::Arc;

use crate::check::scan::Keep;
use crate::check::{self, CheckRequest, Progress};
use crate::cli::{CheckArgs, Color, Format};
use crate::dns::Dns;
use crate::error::Error;
use crate::report::progress::Bar;
use crate::report::{self, Summary, json, nagios, table};
use crate::target::Target;

/// Ranges larger than this, in all, need `--force`: a /24, polite to public lists.
const MAX_ADDRESSES: u128 = 256;
/// How often streamed JSON results are handed on to the reader.
const FLUSH_EVERY: std::time::Duration = std::time::Duration::from_millis(200);

/// The error for a run over more than `MAX_ADDRESSES` addresses without `--force`.
fn too_many(targets: &[Target], total: u128) -> Error {
    let biggest = targets
        .iter()
        .max_by_key(|t| t.address_count())
        .map_or_else(String::new, |t| t.text.clone());
    let total = if total == u128::MAX {
        "2^128".to_string()
    } else {
        total.to_string()
    };
    Error::Usage {
        arg: biggest,
        message: format!(
            "{total} addresses in all is more than {MAX_ADDRESSES}; public lists limit queries, so add --force if you mean it"
        ),
    }
}

/// At most this many single addresses of a mail domain get a reverse DNS check.
const REVERSE_CHECKED: usize = 32;

/// The reverse DNS of a mail domain's single addresses (MX hosts', single SPF addresses).
async fn reverse_dns(
    dns: &Dns,
    setup: &crate::domain::MailSetup,
) -> Vec<(std::net::IpAddr, crate::dns::reverse::Reverse)> {
    let mut addresses: Vec<std::net::IpAddr> = setup
        .resolutions()
        .into_iter()
        .flat_map(|r| r.addresses)
        .chain(
            setup
                .spf
                .sources
                .iter()
                .filter_map(|s| s.target.parse().ok()),
        )
        .collect();
    addresses.sort();
    addresses.dedup();
    let mut out = Vec::new();
    for ip in addresses.into_iter().take(REVERSE_CHECKED) {
        out.push((ip, crate::dns::reverse::reverse(dns, ip).await));
    }
    out
}

/// Runs `check` and returns the exit status.
pub async fn run(setup: &super::Setup, args: CheckArgs) -> Result<u8, Error> {
    let mut targets = args
        .targets
        .iter()
        .map(|t| Target::parse(t))
        .collect::<Result<Vec<_>, _>>()?;
    let domains = args
        .domains
        .iter()
        .map(|d| {
            crate::target::to_ascii_name(d).map_err(|why| Error::Usage {
                arg: d.clone(),
                message: format!("not a mail domain: {why}"),
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    // Ranges are counted before anything is asked; host names once resolved, by the
    // addresses they stand for (one name may hide thousands); overlaps count once.
    let ranges = check::address_count(&targets, &[]);
    if ranges > MAX_ADDRESSES && !args.force {
        return Err(too_many(&targets, ranges));
    }
    let selection = setup.select(Some(&args.select))?;
    let (settings, verify) = setup.resolver(Some(&args.dns))?;
    let dns = Dns::new(&settings)?;
    let warnings = super::resolver_warnings(&dns);
    let mut resolutions = check::resolve(&dns, &targets, settings.concurrency).await;
    // Each mail domain adds what its MX and SPF hold now, with the addresses of its names.
    let mut found = Vec::new();
    for domain in &domains {
        let setup = crate::domain::resolve(&dns, domain).await;
        for target in setup.targets() {
            if !targets.iter().any(|t| t.text == target.text) {
                targets.push(target);
            }
        }
        for resolution in setup.resolutions() {
            if !resolutions.iter().any(|r| r.target == resolution.target) {
                resolutions.push(resolution);
            }
        }
        let reverse = reverse_dns(&dns, &setup).await;
        found.push(report::domain::Found { setup, reverse });
    }
    let members: Vec<crate::domain::Member> =
        found.iter().flat_map(|f| f.setup.members.clone()).collect();
    let target_texts: Vec<String> = targets.iter().map(|t| t.text.clone()).collect();
    // A domain whose MX or SPF could not be read was not seen whole: never all clear.
    let unseen: Vec<String> = found
        .iter()
        .filter(|f| !f.setup.complete)
        .map(|f| f.setup.domain.clone())
        .collect();
    let total = check::address_count(&targets, &resolutions);
    if total > MAX_ADDRESSES && !args.force {
        return Err(too_many(&targets, total));
    }

    let progress = Arc::new(Progress::default());
    let request = CheckRequest {
        targets,
        lists: selection.lists,
        verify,
        concurrency: settings.concurrency,
        progress: Some(progress.clone()),
        used_today: std::collections::HashMap::new(),
        resolutions: Some(resolutions),
    };
    // Work that local mirrors answer alone is walked on every core, without the DNS engine.
    let scan = if members.is_empty() && std::env::var_os("RBLWATCH_NO_SCAN").is_none() {
        check::scan::Scan::new(&request)
    } else {
        None
    };
    let bar = Bar::start(&progress);
    let mut summary = Summary::default();
    let resolvers: Vec<String> = if dns.is_recursive() {
        vec!["recursive".into()]
    } else {
        dns.servers().iter().map(ToString::to_string).collect()
    };

    // JSON is written as results come; the table and the Nagios line keep only the rows they
    // show. Either way memory does not grow with the number of clear answers.
    let code = if args.format == Format::Json {
        let mut ctx = json::Context {
            resolvers,
            warnings: &warnings,
            notes: &selection.notes,
            targets: &target_texts,
            domains: &found.iter().map(report::domain::doc).collect::<Vec<_>>(),
        };
        // Unlocked: the results may be written from another thread. Buffered: a scan writes
        // hundreds of thousands of lines, and a write call per line would cost more than the
        // query behind it. Streamed output is flushed a few times a second.
        let out = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout());
        let mut doc = json::Stream::begin(out, &ctx)?;
        let mut flushed = std::time::Instant::now();
        let run = match scan {
            Some(scan) => scan.run(Keep::Json, &dns.describe(), &mut |chunk| {
                summary.merge(std::mem::take(&mut chunk.summary));
                doc.rendered(&chunk.json)?;
                if flushed.elapsed() >= FLUSH_EVERY {
                    doc.flush()?;
                    flushed = std::time::Instant::now();
                }
                Ok(())
            })?,
            None => {
                doc.flush()?;
                let mut writer = json::Background::start(doc, members.clone(), FLUSH_EVERY)?;
                let run = check::stream(&dns, request, &mut |o| {
                    summary.add(&o);
                    writer.push(o);
                })
                .await;
                doc = writer.finish()?;
                run
            }
        };
        drop(bar);
        summary.finish(&target_texts);
        summary.unanswered_targets.extend(unseen.iter().cloned());
        let notes: Vec<String> = selection.notes.iter().chain(&run.notes).cloned().collect();
        ctx.notes = &notes;
        doc.end(&run, &summary, &ctx)?;
        summary.exit_code()
    } else {
        let mut out = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
        let table = args.format == Format::Table;
        let mut kept = Vec::new();
        let keep = if table {
            Keep::Table {
                verbose: args.verbose,
            }
        } else {
            Keep::Listings
        };
        let run = match scan {
            Some(scan) => scan.run(keep, &dns.describe(), &mut |chunk| {
                summary.merge(std::mem::take(&mut chunk.summary));
                kept.append(&mut chunk.kept);
                Ok(())
            })?,
            None => {
                check::stream(&dns, request, &mut |o| {
                    summary.add(&o);
                    if keep.wants(&o) {
                        kept.push(o);
                    }
                })
                .await
            }
        };
        drop(bar);
        summary.finish(&target_texts);
        summary.unanswered_targets.extend(unseen.iter().cloned());
        let found_domains = std::mem::take(&mut found);
        let found = check::CheckReport {
            outcomes: kept,
            lists: run.lists,
            resolutions: run.resolutions,
            notes: run.notes,
            sent: run.sent,
            fault: run.fault,
            elapsed: run.elapsed,
        };
        let notes: Vec<String> = selection
            .notes
            .iter()
            .chain(&found.notes)
            .cloned()
            .collect();
        let code = if table {
            let color = match args.color {
                Color::Always => true,
                Color::Never => false,
                Color::Auto => {
                    std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none()
                }
            };
            let style = table::Style {
                color,
                verbose: args.verbose,
            };
            for domain in &found_domains {
                report::domain::write(&mut out, domain)?;
            }
            table::write(
                &mut out, &found, &summary, style, &warnings, &notes, &members,
            )?;
            summary.exit_code()
        } else {
            let mut err = std::io::stderr().lock();
            for line in warnings.iter().chain(&notes) {
                writeln!(err, "rblwatch: {}", crate::report::safe::clean(line))?;
            }
            let limits = nagios::Thresholds {
                warning: args.warning,
                critical: args.critical,
            };
            nagios::write(&mut out, &found, &summary, limits)?
        };
        out.flush()?;
        code
    };
    Ok(code)
}
