//! Integration tests: the real `rblwatch` binary against real DNS servers on loopback.

mod support;

mod builtin;
mod catalog;
mod check;
mod config;
mod daemon;
mod doctor;
mod domain;
mod fault;
mod health;
mod hostile;
mod mirror;
mod notify;
mod output;
mod page;
mod pg_store;
mod recursive;
mod relay;
mod scale;
mod silent;
mod start;
mod store;
mod store_api;
mod strict;
mod watch;
// The watch tests again, on a PostgreSQL store (`watch.rs` tells the two apart); the helpers
// other modules use come from `watch`.
#[allow(clippy::duplicate_mod, dead_code)]
#[path = "watch.rs"]
mod watch_pg;
