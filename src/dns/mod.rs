//! Everything DNS: query names, answer classification, the resolver, public-resolver checks.

mod batch;
pub mod classify;
pub mod name;
pub mod public;
pub mod recursive;
pub mod resolver;
pub mod reverse;
pub mod ring;
mod tcp;
pub mod udp;

pub use classify::{Answer, Health, Status, Verdict};
pub use resolver::{Dns, Records, ResolverSettings};
