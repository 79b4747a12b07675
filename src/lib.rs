//! rblwatch: is a mail server on a DNS blocklist, what does the listing mean, and how does
//! it get off? The binary is a thin shell over this library.
//!
//! - `cli`: the command line (clap), raw flags only
//! - `cmd`: one thin module per subcommand
//! - `target`: IP / CIDR / host name parsing; ranges expand lazily
//! - `lists`: the catalog (`lists.toml`), its validation, and list selection
//! - `dns`: RFC 5782 query names, answer classification, the resolver
//! - `check`: the concurrent engine, targets x lists -> outcomes and list health
//! - `report`: every piece of output and the exit status of `check`
//! - `error`: what stops a command, and its exit status

pub mod check;
pub mod cli;
pub mod clock;
pub mod cmd;
pub mod config;
pub mod daemon;
pub mod dns;
pub mod doctor;
pub mod error;
pub mod files;
pub mod lists;
pub mod location;
pub mod logging;
pub mod metrics;
pub mod mirror;
pub mod notify;
pub mod pass;
pub mod relay;
pub mod report;
pub mod schedule;
pub mod store;
pub mod target;
pub mod watch;
