//! One thin file per subcommand: validate the arguments, call the core, call `report`.
//!
//! The helpers here turn raw flags (`cli`) into the validated values the core takes.

pub mod check;
pub mod lists;

use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::time::Duration;

use crate::cli::{Cli, Command, DnsArgs, SelectArgs};
use crate::dns::{Dns, ResolverSettings, public};
use crate::error::Error;
use crate::lists::{Catalog, Selection, SelectionRequest};

/// Runs the parsed command line and returns the process exit status.
pub async fn run(cli: Cli) -> Result<u8, Error> {
    let catalog = load_catalog(cli.lists.as_deref())?;
    match cli.command {
        Command::Check(args) => check::run(&catalog, args).await,
        Command::Lists(args) => lists::run(&catalog, args).await,
    }
}

/// The built-in catalog, or the one in `path`.
pub fn load_catalog(path: Option<&Path>) -> Result<Catalog, Error> {
    match path {
        Some(path) => Catalog::from_file(path),
        None => Catalog::builtin(),
    }
}

/// The lists chosen by `--only`, `--enable` and `--disable`, keys from the environment.
pub fn select(catalog: &Catalog, args: &SelectArgs) -> Result<Selection, Error> {
    let request = SelectionRequest {
        only: args.only.clone(),
        enable: args.enable.clone(),
        disable: args.disable.clone(),
    };
    Selection::resolve(catalog, &request, |var| std::env::var(var).ok())
}

/// Validated resolver settings from the DNS flags.
pub fn resolver_settings(args: &DnsArgs) -> Result<ResolverSettings, Error> {
    let timeout = args
        .timeout
        .parse::<f64>()
        .ok()
        .filter(|s| s.is_finite() && *s > 0.0 && *s <= 60.0)
        .map(Duration::from_secs_f64)
        .ok_or_else(|| Error::Usage {
            arg: format!("--timeout {}", args.timeout),
            message: "must be a number of seconds above 0 and at most 60".into(),
        })?;
    let usage = |arg: String, message: &str| Error::Usage {
        arg,
        message: message.into(),
    };
    if args.attempts == 0 || args.attempts > 10 {
        return Err(usage(
            format!("--attempts {}", args.attempts),
            "must be 1 to 10",
        ));
    }
    if args.concurrency == 0 {
        return Err(usage("--concurrency 0".into(), "must be at least 1"));
    }
    let nameservers = args
        .nameserver
        .iter()
        .map(|text| {
            parse_server(text).ok_or_else(|| {
                usage(
                    format!("--nameserver {text}"),
                    "must be an IP address, IP:PORT or [IPv6]:PORT",
                )
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(ResolverSettings {
        nameservers,
        timeout,
        tries: args.attempts,
        concurrency: args.concurrency,
    })
}

fn parse_server(text: &str) -> Option<SocketAddr> {
    text.parse::<SocketAddr>().ok().or_else(|| {
        text.parse::<IpAddr>()
            .ok()
            .map(|ip| SocketAddr::new(ip, 53))
    })
}

/// A warning per public resolver in use (Spamhaus and others refuse them).
pub fn resolver_warnings(dns: &Dns) -> Vec<String> {
    dns.servers()
        .iter()
        .filter_map(|s| public::public_resolver(s.ip()).map(|op| public::warning(s.ip(), op)))
        .collect()
}
