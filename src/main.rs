//! The `rblwatch` binary: parse, run, map the result to an exit code.

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
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
            return ExitCode::from(rblwatch::report::EXIT_UNKNOWN);
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
        Ok(code) => ExitCode::from(code),
        Err(rblwatch::error::Error::Output(err))
            if err.kind() == std::io::ErrorKind::BrokenPipe =>
        {
            ExitCode::SUCCESS
        }
        Err(err) if nagios => {
            let _ = writeln!(
                std::io::stdout(),
                "{}",
                rblwatch::report::nagios::unknown_line(&err.to_string())
            );
            fail(&err);
            ExitCode::from(rblwatch::report::EXIT_UNKNOWN)
        }
        Err(err) => fail(&err),
    }
}

fn fail(err: &rblwatch::error::Error) -> ExitCode {
    let mut stderr = std::io::stderr().lock();
    for line in err.to_string().lines() {
        let _ = writeln!(stderr, "rblwatch: {}", rblwatch::report::safe::clean(line));
    }
    ExitCode::from(err.exit_code())
}
