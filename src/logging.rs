//! Logs of the daemon: `tracing` to stderr, one line per event, text or JSON; the level from
//! `-v`/`-q`, overridden by `RUST_LOG`.

use tracing_subscriber::EnvFilter;

/// Installs the subscriber; `verbosity` is the number of `-v` minus the number of `-q`.
pub fn init(json: bool, verbosity: i8) {
    let level = match verbosity {
        i8::MIN..=-2 => "error",
        -1 => "warn",
        0 => "info",
        1 => "debug",
        _ => "trace",
    };
    // Our own events at `level`; other crates' only when RUST_LOG asks for them.
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new(format!("warn,rblwatch={level}")));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(false);
    let _ = if json {
        builder.json().flatten_event(true).try_init()
    } else {
        builder.try_init()
    };
}
