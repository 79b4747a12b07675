//! The command line as clap sees it: raw flags only, no I/O and no validation beyond types.
//!
//! `cmd::*` turns these into validated requests.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Is my mail server on a DNS blocklist? Checks every list at once, says what each answer
/// means and how to get off it.
#[derive(Debug, Parser)]
#[command(name = "rblwatch", version, about, long_about = None)]
pub struct Cli {
    /// Use this catalog of lists instead of the built-in lists.toml.
    #[arg(long, global = true, value_name = "FILE")]
    pub lists: Option<PathBuf>,

    /// Use this config file (default: $RBLWATCH_CONFIG, ~/.config/rblwatch/rblwatch.toml when
    /// not root, /etc/rblwatch/rblwatch.toml).
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands. Each one's arguments are built only when it is the one given: building
/// them all was most of what parsing a command line cost. The subcommand's own help then
/// comes from its `Args` struct's doc comment, which says the same as the variant's (tested).
#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum Command {
    /// Check IP addresses, CIDR ranges or host names against every list.
    Check(CheckArgs),
    /// Show the catalog of lists, or check their health.
    Lists(ListsArgs),
    /// One pass over every configured target: record and report what changed.
    Run(RunArgs),
    /// What is listed now, since when, and how to get off it.
    Status(StatusArgs),
    /// The log of changes, newest first.
    History(HistoryArgs),
    /// Delete old pass records (and, if asked, old events) from the store.
    Prune(PruneArgs),
    /// Work with the store itself: copy one into another.
    Store(StoreArgs),
    /// Write a commented example config.
    Init(InitArgs),
    /// Work with the config file.
    Config(ConfigArgs),
    /// Alerts: show a template, send a test, send what is queued.
    Notify(NotifyArgs),
    /// How to get off each current listing, in order; record removal requests.
    Delist(DelistArgs),
    /// Run passes on the config's [schedule] until stopped (SIGHUP reloads the config).
    Daemon(DaemonArgs),
    /// Check the setup: resolver, lists, reverse DNS of the targets, store, templates, SMTP.
    Doctor(DoctorArgs),
    /// Test whether your own mail server is an open relay (never sends a message).
    RelayTest(RelayTestArgs),
    /// Print a shell completion script.
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff) to standard output.
    Man,
}

/// Check the setup: resolver, lists, reverse DNS of the targets, store, templates, SMTP.
#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// How to reach DNS.
    #[command(flatten)]
    pub dns: DnsArgs,

    /// Also run the open-relay test against each configured mail server (each target that
    /// is one address or host name).
    #[arg(long)]
    pub relay: bool,

    /// The SMTP port the relay test connects to.
    #[arg(long, value_name = "PORT", default_value_t = 25, requires = "relay")]
    pub relay_port: u16,

    /// Also check this mail domain (SPF, DMARC, MX hosts, their reverse DNS) besides the
    /// config's watched domains; repeatable.
    #[arg(long = "domain", value_name = "DOMAIN")]
    pub domains: Vec<String>,

    /// Connect to each MX host of the checked domains and compare the name in its greeting
    /// with its reverse DNS (no mail is sent).
    #[arg(long)]
    pub smtp: bool,

    /// The port `--smtp` connects to.
    #[arg(long, value_name = "PORT", default_value_t = 25, requires = "smtp")]
    pub smtp_port: u16,

    /// Output format.
    #[arg(long, value_enum, default_value_t = ListFormat::Table)]
    pub format: ListFormat,
}

/// Test whether your own mail server is an open relay (never sends a message).
#[derive(Debug, Args)]
pub struct RelayTestArgs {
    /// Your mail server: HOST, HOST:PORT or [IPv6]:PORT. Only this host is contacted.
    pub server: String,

    /// The port, when not given with the server (25; 587 for submission, 465 for TLS).
    #[arg(long)]
    pub port: Option<u16>,

    /// Connection security [default: tls on port 465, starttls on 587, none otherwise].
    #[arg(long, value_enum)]
    pub security: Option<crate::relay::smtp::Security>,

    /// Extra CA certificates (PEM) to trust for TLS, beside the public roots.
    #[arg(long, value_name = "FILE")]
    pub ca_file: Option<std::path::PathBuf>,

    /// The outside sender of the attempts.
    #[arg(long, value_name = "ADDRESS", default_value = crate::relay::OUTSIDE_SENDER)]
    pub from: String,

    /// The outside recipient of the attempts.
    #[arg(long, value_name = "ADDRESS", default_value = crate::relay::OUTSIDE_RECIPIENT)]
    pub to: String,

    /// The server's own name, used in the tricks [default: the name in its greeting].
    #[arg(long, value_name = "NAME")]
    pub own_name: Option<String>,

    /// The server's own mail domain, for the own-domain sender [default: from its name].
    #[arg(long, value_name = "DOMAIN")]
    pub own_domain: Option<String>,

    /// The name to give in EHLO [default: this machine's host name].
    #[arg(long, value_name = "NAME")]
    pub helo: Option<String>,

    /// Seconds to wait between attempts.
    #[arg(long, value_name = "SECONDS", default_value_t = crate::relay::DEFAULT_WAIT.as_secs_f64())]
    pub wait: f64,

    /// Seconds to wait for the connection and for each reply.
    #[arg(long, value_name = "SECONDS", default_value_t = crate::relay::DEFAULT_TIMEOUT.as_secs_f64())]
    pub timeout: f64,

    /// Make every attempt, not just up to the first accepted one.
    #[arg(long)]
    pub all: bool,

    /// Output format.
    #[arg(long, value_enum, default_value_t = ListFormat::Table)]
    pub format: ListFormat,
}

/// Run passes on the config's [schedule] until stopped (SIGHUP reloads the config).
#[derive(Debug, Args)]
pub struct DaemonArgs {
    /// Log format on stderr.
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    /// More log detail (repeat for more).
    #[arg(short, long, action = clap::ArgAction::Count)]
    pub verbose: u8,

    /// Less log detail (repeat for less).
    #[arg(short, long, action = clap::ArgAction::Count)]
    pub quiet: u8,
}

/// Log formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// One readable line per event.
    Text,
    /// One JSON object per line, for log shippers.
    Json,
}

/// Alerts: show a template, send a test, send what is queued.
#[derive(Debug, Args)]
pub struct NotifyArgs {
    /// What to do.
    #[command(subcommand)]
    pub action: NotifyAction,
}

/// `rblwatch notify` subcommands.
#[derive(Debug, Subcommand)]
pub enum NotifyAction {
    /// Print a sample message rendered with your templates.
    Render {
        /// Which message: listed, delisted, digest or reminder.
        #[arg(long, value_name = "KIND", default_value = "listed")]
        event: String,
        /// Print the HTML part instead of the text part.
        #[arg(long)]
        html: bool,
    },
    /// Send a sample message through every configured channel and say what failed.
    Test,
    /// Send the queued notifications that are due (all of them with --all).
    Flush {
        /// Ignore the retry backoff.
        #[arg(long)]
        all: bool,
    },
}

/// How to get off each current listing, in order; record removal requests.
#[derive(Debug, Args)]
pub struct DelistArgs {
    /// Only this target (as configured), address or label.
    #[arg(value_name = "TARGET")]
    pub target: Option<String>,

    /// With --requested: the list the removal was requested from.
    #[arg(long, value_name = "ID")]
    pub list: Option<String>,

    /// Record that removal from --list was requested for TARGET.
    #[arg(long, requires_all = ["list", "target"])]
    pub requested: bool,

    /// Output format.
    #[arg(long, value_enum, default_value_t = ListFormat::Table)]
    pub format: ListFormat,
}

/// One pass over every configured target: record and report what changed.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Wait for a running pass to end instead of exiting.
    #[arg(long)]
    pub wait: bool,

    /// Print nothing unless something changed or a list has been failing (for cron).
    #[arg(short, long)]
    pub quiet: bool,

    /// Output format.
    #[arg(long, value_enum, default_value_t = ListFormat::Table)]
    pub format: ListFormat,
}

/// What is listed now, since when, and how to get off it.
#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Every stored pair, clear ones included.
    #[arg(long)]
    pub all: bool,

    /// Output format.
    #[arg(long, value_enum, default_value_t = ListFormat::Table)]
    pub format: ListFormat,
}

/// The log of changes, newest first.
#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// Only this target (as configured), address or label.
    #[arg(long, value_name = "T")]
    pub target: Option<String>,

    /// Only this list.
    #[arg(long, value_name = "ID")]
    pub list: Option<String>,

    /// Only events since this date (YYYY-MM-DD, YYYY-MM-DDTHH:MM:SSZ or Unix seconds).
    #[arg(long, value_name = "DATE")]
    pub since: Option<String>,

    /// Output format.
    #[arg(long, value_enum, default_value_t = ListFormat::Table)]
    pub format: ListFormat,
}

/// Delete old pass records (and, if asked, old events) from the store.
#[derive(Debug, Args)]
pub struct PruneArgs {
    /// Age limit, in days (`90` or `90d`).
    #[arg(long, value_name = "DAYS")]
    pub older_than: String,

    /// Delete events older than that too (they are kept otherwise).
    #[arg(long)]
    pub events: bool,
}

/// Work with the store itself: copy one into another.
#[derive(Debug, Args)]
pub struct StoreArgs {
    /// What to do.
    #[command(subcommand)]
    pub action: StoreAction,
}

/// Store actions.
#[derive(Debug, Subcommand)]
pub enum StoreAction {
    /// Copy a SQLite store (states, events, history, the outbox) into the config's store,
    /// which must hold no pass yet: how a watch moves to PostgreSQL.
    Copy {
        /// The SQLite store file to copy from.
        #[arg(long, value_name = "FILE")]
        from: PathBuf,
    },
}

/// Write a commented example config.
#[derive(Debug, Args)]
pub struct InitArgs {
    /// Where to write it (default: the first config path searched).
    #[arg(value_name = "PATH")]
    pub path: Option<PathBuf>,
}

/// Work with the config file.
#[derive(Debug, Args)]
pub struct ConfigArgs {
    /// What to do with the config.
    #[command(subcommand)]
    pub action: ConfigAction,
}

/// `rblwatch config` subcommands.
#[derive(Debug, Subcommand)]
pub enum ConfigAction {
    /// Validate the config and say what it will do.
    Check,
}

/// Check IP addresses, CIDR ranges or host names against every list.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// IPv4/IPv6 addresses, CIDR ranges (every address) or host names.
    #[arg(required_unless_present = "domains", value_name = "TARGET")]
    pub targets: Vec<String>,

    /// A mail domain: its MX hosts and their addresses (receiving), the addresses its SPF
    /// record authorises (sending, includes followed) and the domain itself (domain lists),
    /// each labelled with its role; repeatable.
    #[arg(long = "domain", value_name = "DOMAIN")]
    pub domains: Vec<String>,

    /// Which lists to ask.
    #[command(flatten)]
    pub select: SelectArgs,

    /// How to reach DNS.
    #[command(flatten)]
    pub dns: DnsArgs,

    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,

    /// When to colour the table.
    #[arg(long, value_enum, default_value_t = Color::Auto)]
    pub color: Color,

    /// Show every list, clear ones included.
    #[arg(short, long)]
    pub verbose: bool,

    /// Nagios: WARNING from this many listings.
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub warning: usize,

    /// Nagios: CRITICAL from this many listings.
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub critical: usize,

    /// Allow ranges of more than 256 addresses in all.
    #[arg(long)]
    pub force: bool,
}

/// Flags that choose lists.
#[derive(Debug, Args)]
pub struct SelectArgs {
    /// Ask only these lists (ids, comma-separated or repeated).
    #[arg(long, value_delimiter = ',', value_name = "ID")]
    pub only: Vec<String>,

    /// Also ask these lists, which are off by default.
    #[arg(long, value_delimiter = ',', value_name = "ID")]
    pub enable: Vec<String>,

    /// Do not ask these lists.
    #[arg(long, value_delimiter = ',', value_name = "ID")]
    pub disable: Vec<String>,
}

/// Flags that set up DNS.
#[derive(Debug, Args)]
pub struct DnsArgs {
    /// Send every query to this server (IP or IP:PORT, [IPv6]:PORT); repeatable. `recursive`:
    /// no resolver, ask each list zone's own servers, found from the root.
    #[arg(long, value_name = "IP[:PORT]|recursive")]
    pub nameserver: Vec<String>,

    /// With `--nameserver recursive`: the root servers to start from (default: IANA's). A port
    /// other than 53 is used for every server asked (a lab on loopback).
    #[arg(long, value_name = "IP[:PORT]")]
    pub root_hint: Vec<String>,

    /// Seconds to wait for one answer [default: 3].
    #[arg(long, value_name = "SECONDS")]
    pub timeout: Option<String>,

    /// How many times at most to send a query before giving up [default: 3].
    #[arg(long, value_name = "N")]
    pub attempts: Option<usize>,

    /// How many queries may be in flight at once [default: 128].
    #[arg(long, value_name = "N")]
    pub concurrency: Option<usize>,

    /// Skip the RFC 5782 test-point health check of each list.
    #[arg(long)]
    pub no_verify: bool,
}

/// Show the catalog of lists, or check their health.
#[derive(Debug, Args)]
pub struct ListsArgs {
    /// Check instead of print.
    #[command(subcommand)]
    pub action: Option<ListsAction>,

    /// Output format.
    #[arg(long, value_enum, default_value_t = ListFormat::Table, global = true)]
    pub format: ListFormat,
}

/// What `rblwatch lists` can do besides printing.
#[derive(Debug, Subcommand)]
pub enum ListsAction {
    /// Query every enabled list's test points and print its health; exit 1 if any is not ok.
    Verify {
        /// Which lists to check.
        #[command(flatten)]
        select: SelectArgs,
        /// How to reach DNS.
        #[command(flatten)]
        dns: DnsArgs,
    },
}

/// Output formats of `check`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// A readable table.
    Table,
    /// One JSON document.
    Json,
    /// A Nagios plugin status line with perfdata.
    Nagios,
}

/// Output formats of `lists`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ListFormat {
    /// A readable table.
    Table,
    /// One JSON document.
    Json,
}

/// When to use colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Color {
    /// On a terminal, unless NO_COLOR is set.
    Auto,
    /// Always.
    Always,
    /// Never.
    Never,
}

/// Whether the command line asks for the Nagios format (`--format nagios` or
/// `--format=nagios`), read from the raw arguments: a Nagios plugin must print its one
/// `UNKNOWN` line even when the rest of the line does not parse.
pub fn wants_nagios(args: &[std::ffi::OsString]) -> bool {
    args.iter()
        .zip(args.iter().skip(1))
        .any(|(flag, value)| flag == "--format" && value == "nagios")
        || args.iter().any(|a| a == "--format=nagios")
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::Cli;

    /// Each subcommand's help line is the same in `rblwatch --help` (the variant's doc, before
    /// the deferred arguments are built) and in `rblwatch SUBCOMMAND --help` (after).
    #[test]
    fn a_subcommand_says_the_same_about_itself_before_and_after_it_is_built() {
        let listed: Vec<(String, Option<String>)> = Cli::command()
            .get_subcommands()
            .map(|sub| {
                (
                    sub.get_name().to_string(),
                    sub.get_about().map(|a| a.to_string()),
                )
            })
            .collect();
        let mut built = Cli::command();
        built.build();
        for (name, about) in listed {
            let sub = built
                .find_subcommand(&name)
                .expect("the subcommand is still there");
            assert!(about.is_some(), "`{name}` has a help line");
            assert_eq!(
                sub.get_about().map(|a| a.to_string()),
                about,
                "the help line of `{name}`"
            );
            assert!(
                sub.get_arguments().next().is_some(),
                "`{name}` has its arguments"
            );
        }
    }
}
