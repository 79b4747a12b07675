//! The `rblwatch` binary: parse, run, map the result to an exit code.
//!
//! It starts from C's `main` rather than Rust's: Rust's start-up finds the main thread's stack
//! bounds by reading and parsing /proc/self/maps and sets up an alternate signal stack, which
//! together cost about a tenth of a millisecond of every run (a one-address check takes three).
//! What of that start-up matters here is done below: the standard descriptors are made to exist
//! and SIGPIPE is ignored, both as Rust's own start-up does them. A stack overflow now ends the
//! process with SIGSEGV instead of a message first, and a panic names the thread '<unnamed>'.
#![no_main]

use std::io::Write;
use std::os::unix::ffi::OsStringExt;

use clap::Parser;

#[unsafe(no_mangle)]
extern "C" fn main(argc: libc::c_int, argv: *const *const libc::c_char) -> libc::c_int {
    standard_descriptors();
    // A closed pipe is an error to report (or, for output, to stop quietly), not a signal to die of.
    // SAFETY: at start-up, before any other thread exists.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_IGN) };
    // Read from what C passes, not std::env::args_os(), which only some C libraries fill in
    // without Rust's start-up.
    let args = (0..usize::try_from(argc).unwrap_or(0))
        // SAFETY: the C runtime passes `argc` NUL-terminated strings in `argv`.
        .map(|i| unsafe { std::ffi::CStr::from_ptr(*argv.add(i)) })
        .map(|arg| std::ffi::OsString::from_vec(arg.to_bytes().to_vec()))
        .collect();
    let code = run(args);
    // exit() flushes Rust's stdout buffer, which returning to C would not.
    std::process::exit(code)
}

// glibc keeps its mathematics in a shared library of its own, libm.so.6, and finding, mapping
// and relocating it cost 0.06 ms of every start of a small C program, and 0.3 ms of this
// binary's in an interleaved A/B (600 runs, on a host that pages out library pages no process
// has mapped). Three of its functions are used: `exp` (hickory's server timing),
// `pow` (indicatif's rate, minijinja's `**`) and `log` (SQLite's full-text ranking). They are
// defined here from the `libm` crate (musl's, within an ulp), the linker binds the calls to
// these, and the binary no longer needs the library.
#[unsafe(no_mangle)]
extern "C" fn exp(x: f64) -> f64 {
    libm::exp(x)
}

#[unsafe(no_mangle)]
extern "C" fn pow(x: f64, y: f64) -> f64 {
    libm::pow(x, y)
}

#[unsafe(no_mangle)]
extern "C" fn log(x: f64) -> f64 {
    libm::log(x)
}

/// Opens /dev/null on any of descriptors 0, 1 and 2 that is closed, so that no file opened later
/// takes its number and receives what is meant for standard output or error.
fn standard_descriptors() {
    let mut fds = [0, 1, 2].map(|fd| libc::pollfd {
        fd,
        events: 0,
        revents: 0,
    });
    // SAFETY: three valid pollfd structures, no wait.
    if unsafe { libc::poll(fds.as_mut_ptr(), 3, 0) } < 0 {
        return;
    }
    for fd in fds.iter().filter(|fd| fd.revents & libc::POLLNVAL != 0) {
        // SAFETY: a constant NUL-terminated path. The lowest free number is the closed one.
        let opened = unsafe { libc::open(c"/dev/null".as_ptr(), libc::O_RDWR) };
        if opened != fd.fd {
            // SAFETY: aborting is always sound; running with a standard stream missing is not.
            unsafe { libc::abort() };
        }
    }
}

fn run(args: Vec<std::ffi::OsString>) -> i32 {
    let nagios = rblwatch::cli::wants_nagios(&args);
    let cli = match rblwatch::cli::Cli::try_parse_from(&args) {
        Ok(cli) => cli,
        // Nagios reads exit 2 as CRITICAL: a usage error is UNKNOWN (3), on stdout.
        Err(err) if nagios && err.use_stderr() => {
            let text = err.to_string();
            let why = text.trim_start_matches("error: ");
            let _ = writeln!(
                std::io::stdout(),
                "{}",
                rblwatch::report::nagios::unknown_line(why)
            );
            let _ = write!(std::io::stderr(), "{text}");
            return rblwatch::report::EXIT_UNKNOWN.into();
        }
        Err(err) => err.exit(),
    };
    // One thread: a scan is bound by system calls and the DNS server, and on a small machine
    // the server (a local rbldnsd) needs the other core more than a second worker does.
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => return fail(&rblwatch::error::Error::Runtime(err)),
    };
    match runtime.block_on(rblwatch::cmd::run(cli)) {
        Ok(code) => code.into(),
        Err(rblwatch::error::Error::Output(err))
            if err.kind() == std::io::ErrorKind::BrokenPipe =>
        {
            0
        }
        Err(err) if nagios => {
            let _ = writeln!(
                std::io::stdout(),
                "{}",
                rblwatch::report::nagios::unknown_line(&err.to_string())
            );
            fail(&err);
            rblwatch::report::EXIT_UNKNOWN.into()
        }
        Err(err) => fail(&err),
    }
}

fn fail(err: &rblwatch::error::Error) -> i32 {
    let mut stderr = std::io::stderr().lock();
    for line in err.to_string().lines() {
        let _ = writeln!(stderr, "rblwatch: {}", rblwatch::report::safe::clean(line));
    }
    err.exit_code().into()
}
