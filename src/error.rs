//! What stops a command: bad arguments, a bad catalog, an unusable resolver.
//!
//! DNS outcomes (timeouts, refusals, odd answers) are not errors: they are `Status` values
//! the engine reports and moves past. Every variant names the input at fault.

use std::io;

use crate::location::Problem;

/// An error that stops a command, with the input and place it concerns.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A command-line argument that cannot be used.
    #[error("{arg}: {message}")]
    Usage {
        /// The argument as the user typed it.
        arg: String,
        /// What is wrong with it.
        message: String,
    },

    /// A catalog or config file that does not parse or validate: every problem found, one
    /// per line, each with its file, line and column.
    #[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
    Invalid(Vec<Problem>),

    /// A list id that the catalog does not have.
    #[error("unknown list `{id}` (not in {origin}; `rblwatch lists` shows them all)")]
    UnknownList {
        /// The id as given.
        id: String,
        /// Which catalog was searched.
        origin: String,
    },

    /// A list that is dead and is never queried.
    #[error("list `{id}` ({name}) is defunct{}: {reason}; it is never queried", since.as_deref().map(|s| format!(" since {s}")).unwrap_or_default())]
    DefunctList {
        /// The id as given.
        id: String,
        /// The list's name.
        name: String,
        /// When it stopped, where known.
        since: Option<String>,
        /// What happened to it.
        reason: String,
    },

    /// A file that cannot be read.
    #[error("{path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why it cannot be read.
        source: io::Error,
    },

    /// The output cannot be written (a closed pipe, a full disk).
    #[error("cannot write output: {0}")]
    Output(#[from] io::Error),

    /// The store cannot be opened, read or written.
    #[error("store {path}: {message}")]
    Store {
        /// The store file (or its lock file).
        path: String,
        /// What is wrong, and what to do.
        message: String,
    },

    /// Another pass holds the store's lock.
    #[error("another rblwatch pass is running{} (lock {path}); try again later or use --wait", if holder.is_empty() { String::new() } else { format!(" as pid {holder}") })]
    Busy {
        /// The lock file.
        path: String,
        /// The pid written by the holder, if any.
        holder: String,
    },

    /// The pass of this schedule slot was already run (by another worker of the fleet).
    #[error("the pass of slot {slot} was already run (pass {run})")]
    SlotDone {
        /// The slot (its scheduled time, Unix seconds).
        slot: i64,
        /// The run that did it.
        run: i64,
    },

    /// The async runtime cannot be started.
    #[error("cannot start the runtime: {0}")]
    Runtime(io::Error),

    /// The resolver cannot be set up (no usable `/etc/resolv.conf`, no runtime).
    #[error("resolver: {0}")]
    Resolver(String),

    /// A listener cannot be opened (the port is taken, the address is not this machine's):
    /// the config may be right, the machine cannot do it now.
    #[error("{what} {addr}: cannot listen: {message}")]
    Listen {
        /// What would listen (`metrics listen`).
        what: String,
        /// The address from the config.
        addr: String,
        /// Why it cannot.
        message: String,
    },
}

impl Error {
    /// The process exit status for this error: 2 bad usage, config or catalog; 3 the work
    /// could not be done (store, resolver, output); 4 another pass holds the lock.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Usage { .. }
            | Error::Invalid(_)
            | Error::UnknownList { .. }
            | Error::DefunctList { .. }
            | Error::Read { .. } => 2,
            Error::Busy { .. } | Error::SlotDone { .. } => 4,
            Error::Store { .. }
            | Error::Output(_)
            | Error::Runtime(_)
            | Error::Resolver(_)
            | Error::Listen { .. } => 3,
        }
    }
}
