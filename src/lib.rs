//! rblwatch: is a mail server on a DNS blocklist, what does the listing mean, and how does
//! it get off? The binary is a thin shell over this library.
//!
//! - `cli`: the command line (clap), raw flags only
//! - `cmd`: one thin module per subcommand
//! - `config`: rblwatch.toml, raw serde types to a validated `Config`
//! - `target`: IP / CIDR / host name parsing; ranges expand lazily
//! - `lists`: the catalog (`lists.toml`), its validation, and list selection
//! - `dns`: RFC 5782 query names, answer classification, the resolver, the lean UDP client,
//!   recursive mode
//! - `mirror`: local rsync mirrors of lists (rbldnsd data files) answered in-process
//! - `check`: the concurrent engine, targets x lists -> outcomes and list health; the
//!   resolver's fault
//! - `watch`: what a pass means for the store; `pass`: one whole pass, as `run` and the
//!   daemon do it
//! - `store`: SQLite schema, migrations, states, events, runs, outbox, the pass lock
//! - `notify`: templates, mail, webhooks, the outbox; `schedule`, `daemon`, `metrics`: running
//!   it for real
//! - `doctor`: checks a setup point by point; `relay`: the open-relay self-test
//! - `report`: every piece of output, with outside text made safe (`report::safe`)
//! - `files`: bounded, regular-file-only reads of what rblwatch is given
//! - `clock`, `location`, `logging`: the wall clock, file positions, the log
//! - `error`: what stops a command, and its exit status

pub mod check;
pub mod cli;
pub mod clock;
pub mod cmd;
pub mod config;
pub mod daemon;
pub mod dns;
pub mod doctor;
pub mod domain;
pub mod error;
pub mod files;
pub mod fleet;
pub mod lists;
pub mod location;
pub mod logging;
pub mod manpage;
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
pub mod web;
pub mod zone;
