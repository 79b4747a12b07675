//! `rblwatch check TARGET...`: every target against every selected list, once.

use std::io::{IsTerminal, Write};

use std::sync::Arc;

use crate::check::{self, CheckRequest, Progress};
use crate::cli::{CheckArgs, Color, Format};
use crate::dns::Dns;
use crate::error::Error;
use crate::report::progress::Bar;
use crate::report::{Summary, json, nagios, table};
use crate::target::Target;

/// Ranges larger than this, in all, need `--force`: a /24, polite to public lists.
const MAX_ADDRESSES: u128 = 256;

/// Runs `check` and returns the exit status.
pub async fn run(setup: &super::Setup, args: CheckArgs) -> Result<u8, Error> {
    let targets = args
        .targets
        .iter()
        .map(|t| Target::parse(t))
        .collect::<Result<Vec<_>, _>>()?;
    let total: u128 = targets.iter().map(Target::address_count).sum();
    if total > MAX_ADDRESSES && !args.force {
        let biggest = targets
            .iter()
            .max_by_key(|t| t.address_count())
            .map_or_else(String::new, |t| t.text.clone());
        return Err(Error::Usage {
            arg: biggest,
            message: format!(
                "{total} addresses in all is more than {MAX_ADDRESSES}; public lists limit queries, so add --force if you mean it"
            ),
        });
    }
    let selection = setup.select(Some(&args.select))?;
    let (settings, verify) = setup.resolver(Some(&args.dns))?;
    let dns = Dns::new(&settings)?;
    let warnings = super::resolver_warnings(&dns);

    let progress = Arc::new(Progress::default());
    let request = CheckRequest {
        targets,
        lists: selection.lists,
        verify,
        concurrency: settings.concurrency,
        progress: Some(progress.clone()),
    };
    let bar = Bar::start(&progress);
    let found = check::run(&dns, request).await;
    drop(bar);
    let summary = Summary::of(&found, &args.targets);
    let notes: Vec<String> = selection
        .notes
        .iter()
        .chain(&found.notes)
        .cloned()
        .collect();

    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let code = match args.format {
        Format::Table => {
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
            table::write(&mut out, &found, &summary, style, &warnings, &notes)?;
            summary.exit_code()
        }
        Format::Json => {
            let ctx = json::Context {
                resolvers: dns.servers().iter().map(ToString::to_string).collect(),
                warnings: &warnings,
                notes: &notes,
                targets: &args.targets,
            };
            json::write(&mut out, &found, &summary, &ctx)?;
            summary.exit_code()
        }
        Format::Nagios => {
            let mut err = std::io::stderr().lock();
            for line in warnings.iter().chain(&notes) {
                writeln!(err, "rblwatch: {line}")?;
            }
            let limits = nagios::Thresholds {
                warning: args.warning,
                critical: args.critical,
            };
            nagios::write(&mut out, &found, &summary, limits)?
        }
    };
    out.flush()?;
    Ok(code)
}
