//! One thin file per subcommand: validate the arguments, call the core, call `report`.
//!
//! The helpers here turn raw flags (`cli`) into the validated values the core takes.

pub mod check;
pub mod config;
pub mod delist;
pub mod doctor;
pub mod history;
pub mod init;
pub mod lists;
pub mod notify;
pub mod prune;
pub mod relay;
pub mod run;
pub mod status;
pub mod store;

use std::path::Path;
use std::time::Duration;

use crate::cli::{Cli, Command, DnsArgs, SelectArgs};
use crate::config::parse_server;
use crate::config::{Config, ResolverConfig};
use crate::dns::{Dns, ResolverSettings, public};
use crate::error::Error;
use crate::lists::{Catalog, Selection, SelectionRequest};

/// Runs the parsed command line and returns the process exit status.
pub async fn run(cli: Cli) -> Result<u8, Error> {
    let (lists, config) = (cli.lists.as_deref(), cli.config.as_deref());
    // The daemon logs; other commands only when RUST_LOG asks (`RUST_LOG=rblwatch=debug`).
    if !matches!(cli.command, Command::Daemon(_)) && std::env::var_os("RUST_LOG").is_some() {
        crate::logging::init(false, 0);
    }
    match cli.command {
        Command::Check(args) => check::run(&Setup::optional(lists, config)?, args).await,
        Command::Lists(args) => lists::run(&Setup::optional(lists, config)?, args).await,
        Command::Run(args) => run::run(&Setup::required(lists, config)?, args).await,
        Command::Status(args) => status::run(&Setup::required(lists, config)?, &args),
        Command::History(args) => history::run(&Setup::required(lists, config)?, &args),
        Command::Prune(args) => prune::run(&Setup::required(lists, config)?, &args),
        Command::Init(args) => init::run(&args),
        Command::Store(args) => store::run(&Setup::required(lists, config)?, &args),
        Command::Config(args) => config::run(&Setup::required(lists, config)?, &args),
        Command::Notify(args) => notify::run(&Setup::optional(lists, config)?, &args).await,
        Command::Delist(args) => delist::run(&Setup::required(lists, config)?, &args),
        Command::Daemon(args) => daemon(lists, config, &args).await,
        Command::Doctor(args) => doctor::run(lists, config, &args).await,
        Command::RelayTest(args) => relay::run(&args).await,
        Command::Completions { shell } => {
            let mut command = complete_command();
            clap_complete::generate(
                shell,
                &mut command,
                "rblwatch",
                &mut std::io::stdout().lock(),
            );
            Ok(0)
        }
        Command::Man => {
            let command = <Cli as clap::CommandFactory>::command();
            std::io::Write::write_all(
                &mut std::io::stdout().lock(),
                crate::manpage::render(command).as_bytes(),
            )?;
            Ok(0)
        }
    }
}

/// The whole command tree with every subcommand's arguments in place. Subcommands are built
/// only when used (`cli::Command`); a tree built at once would list no nested subcommands
/// under `help` (`rblwatch help notify render`), which completion scripts offer. So the
/// subcommands of a built tree are put into a fresh one, whose `help` then sees them whole.
fn complete_command() -> clap::Command {
    let mut built = <Cli as clap::CommandFactory>::command();
    built.build();
    built
        .get_subcommands()
        .filter(|sub| sub.get_name() != "help")
        .fold(<Cli as clap::CommandFactory>::command(), |tree, sub| {
            tree.mut_subcommand(sub.get_name(), |_| sub.clone())
        })
}

/// `rblwatch daemon`: logging, signal forwarding, then the loop.
async fn daemon(
    lists: Option<&Path>,
    config: Option<&Path>,
    args: &crate::cli::DaemonArgs,
) -> Result<u8, Error> {
    use tokio::signal::unix::{SignalKind, signal};

    use crate::daemon::Signal;

    let verbosity = i8::try_from(i16::from(args.verbose) - i16::from(args.quiet)).unwrap_or(0);
    crate::logging::init(args.log_format == crate::cli::LogFormat::Json, verbosity);
    let (tx, rx) = tokio::sync::mpsc::channel(8);
    let hook = |kind: SignalKind, what: Signal| -> Result<(), Error> {
        let mut stream = signal(kind).map_err(Error::Runtime)?;
        let tx = tx.clone();
        tokio::spawn(async move {
            while stream.recv().await.is_some() {
                if tx.send(what).await.is_err() {
                    break;
                }
            }
        });
        Ok(())
    };
    hook(SignalKind::terminate(), Signal::Stop)?;
    hook(SignalKind::interrupt(), Signal::Stop)?;
    hook(SignalKind::hangup(), Signal::Reload)?;
    let (lists, config) = (lists.map(Path::to_path_buf), config.map(Path::to_path_buf));
    crate::daemon::run(|| Setup::required(lists.as_deref(), config.as_deref()), rx).await?;
    Ok(0)
}

/// The catalog and config a command works with.
pub struct Setup {
    /// The catalog: `--lists FILE`, else the config's (built-in plus extra files), else built-in.
    pub catalog: Catalog,
    /// The validated config, when one was found.
    pub config: Option<Config>,
}

impl Setup {
    /// For commands that work without a config but use one when it is there.
    pub fn optional(lists: Option<&Path>, config: Option<&Path>) -> Result<Setup, Error> {
        let config = crate::config::find(config)
            .map(|path| Config::load(&path))
            .transpose()?;
        Setup::with(lists, config)
    }

    /// For commands that need a config.
    pub fn required(lists: Option<&Path>, config: Option<&Path>) -> Result<Setup, Error> {
        let config = crate::config::require(config)?;
        Setup::with(lists, Some(config))
    }

    /// Without any config, even when one exists (for `doctor` after a config error).
    pub fn bare(lists: Option<&Path>) -> Result<Setup, Error> {
        Setup::with(lists, None)
    }

    fn with(lists: Option<&Path>, config: Option<Config>) -> Result<Setup, Error> {
        let catalog = match (lists, &config) {
            (Some(path), _) => Catalog::from_file(path)?,
            (None, Some(config)) => config.catalog.clone(),
            (None, None) => Catalog::builtin()?,
        };
        Ok(Setup { catalog, config })
    }

    /// The config, known to be there (for commands built with `required`).
    pub fn config(&self) -> Result<&Config, Error> {
        self.config.as_ref().ok_or_else(|| Error::Usage {
            arg: "config".into(),
            message: "no config file".into(),
        })
    }

    /// The lists chosen by the flags, else by the config, else the defaults.
    pub fn select(&self, args: Option<&SelectArgs>) -> Result<Selection, Error> {
        let from_flags =
            args.filter(|a| !(a.only.is_empty() && a.enable.is_empty() && a.disable.is_empty()));
        let request = match (from_flags, &self.config) {
            // The config's limits and mirrors stay in force whichever lists the flags pick.
            (Some(a), config) => SelectionRequest {
                only: a.only.clone(),
                enable: a.enable.clone(),
                disable: a.disable.clone(),
                ..config
                    .as_ref()
                    .map(|c| c.selection.clone())
                    .unwrap_or_default()
            },
            (None, Some(config)) => config.selection.clone(),
            (None, None) => SelectionRequest::default(),
        };
        Selection::resolve(&self.catalog, &request, |var| std::env::var(var).ok())
    }

    /// Resolver settings from the flags over the config over the defaults, and whether to
    /// verify each list's health.
    pub fn resolver(&self, args: Option<&DnsArgs>) -> Result<(ResolverSettings, bool), Error> {
        let file = self
            .config
            .as_ref()
            .map(|c| c.resolver.clone())
            .unwrap_or_default();
        resolver_settings(args, &file)
    }
}

const DEFAULT_TIMEOUT: Duration = Duration::from_secs(3);
// Three: a query is sent at most this often, and two losses in a row on a busy link are not
// rare enough to cost a whole timeout.
const DEFAULT_TRIES: usize = 3;
const DEFAULT_CONCURRENCY: usize = 128;

fn resolver_settings(
    args: Option<&DnsArgs>,
    file: &ResolverConfig,
) -> Result<(ResolverSettings, bool), Error> {
    let usage = |arg: String, message: &str| Error::Usage {
        arg,
        message: message.into(),
    };
    let timeout = match args.and_then(|a| a.timeout.as_deref()) {
        Some(text) => text
            .parse::<f64>()
            .ok()
            .filter(|s| s.is_finite() && *s > 0.0 && *s <= 60.0)
            .map(Duration::from_secs_f64)
            .ok_or_else(|| {
                usage(
                    format!("--timeout {text}"),
                    "must be a number of seconds above 0 and at most 60",
                )
            })?,
        None => file.timeout.unwrap_or(DEFAULT_TIMEOUT),
    };
    let tries = match args.and_then(|a| a.attempts) {
        Some(n) if n == 0 || n > 10 => {
            return Err(usage(format!("--attempts {n}"), "must be 1 to 10"));
        }
        Some(n) => n,
        None => file.attempts.unwrap_or(DEFAULT_TRIES),
    };
    let concurrency = match args.and_then(|a| a.concurrency) {
        Some(0) => return Err(usage("--concurrency 0".into(), "must be at least 1")),
        Some(n) => n,
        None => file.concurrency.unwrap_or(DEFAULT_CONCURRENCY),
    };
    let flags = args.map(|a| a.nameserver.as_slice()).unwrap_or_default();
    let recursive_flag = flags.iter().any(|f| f == "recursive");
    if recursive_flag && flags.len() > 1 {
        return Err(usage(
            "--nameserver recursive".into(),
            "asks the lists' own servers and cannot go with other --nameserver addresses",
        ));
    }
    let (nameservers, recursive) = if flags.is_empty() {
        (file.nameservers.clone(), file.recursive)
    } else if recursive_flag {
        (Vec::new(), true)
    } else {
        let servers = flags
            .iter()
            .map(|text| {
                parse_server(text).ok_or_else(|| {
                    usage(
                        format!("--nameserver {text}"),
                        "must be an IP address, IP:PORT, [IPv6]:PORT or recursive",
                    )
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        (servers, false)
    };
    let hint_flags = args.map(|a| a.root_hint.as_slice()).unwrap_or_default();
    let root_hints = if hint_flags.is_empty() {
        file.root_hints.clone()
    } else {
        hint_flags
            .iter()
            .map(|text| {
                parse_server(text).ok_or_else(|| {
                    usage(
                        format!("--root-hint {text}"),
                        "must be an IP address, IP:PORT or [IPv6]:PORT",
                    )
                })
            })
            .collect::<Result<Vec<_>, _>>()?
    };
    if !hint_flags.is_empty() && !recursive {
        return Err(usage(
            format!("--root-hint {}", hint_flags[0]),
            "is for --nameserver recursive",
        ));
    }
    let verify = !args.is_some_and(|a| a.no_verify) && file.verify.unwrap_or(true);
    let settings = ResolverSettings {
        nameservers,
        recursive: recursive.then_some(root_hints),
        timeout,
        tries,
        concurrency,
    };
    Ok((settings, verify))
}

/// The config file and the SMTP password file, where who may change or read them is too
/// loose: (path, what is wrong).
pub fn exposed_files(config: &crate::config::Config) -> Vec<(std::path::PathBuf, String)> {
    let mut found = Vec::new();
    if let Some(why) = crate::files::exposure(&config.path, false) {
        found.push((config.path.clone(), why));
    }
    if let Some(path) = config.password_file()
        && let Some(why) = crate::files::exposure(path, true)
    {
        found.push((path.to_path_buf(), why));
    }
    if let Some(crate::store::postgres::Password::File(path)) =
        config.postgres.as_ref().and_then(|pg| pg.password.as_ref())
        && let Some(why) = crate::files::exposure(path, true)
    {
        found.push((path.clone(), why));
    }
    found
}

/// A warning per public resolver in use (Spamhaus and others refuse them).
pub fn resolver_warnings(dns: &Dns) -> Vec<String> {
    dns.servers()
        .iter()
        .filter_map(|s| public::public_resolver(s.ip()).map(|op| public::warning(s.ip(), op)))
        .collect()
}
