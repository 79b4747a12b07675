//! The man page: one page for the whole tool, every subcommand with its options, and the
//! sections an admin looks for (EXIT STATUS, ENVIRONMENT, FILES, SIGNALS).
//!
//! Rendered from the clap definitions, so the options can never drift from the binary; the
//! fixed sections are written here. One page rather than one per subcommand: a page that
//! refers to others must ship them, and `rblwatch man > rblwatch.1` installs only one.

use std::fmt::Write as _;

/// The page, in roff (`man -l`), for the command tree `cmd`.
pub fn render(cmd: clap::Command) -> String {
    let mut cmd = cmd.bin_name("rblwatch");
    cmd.build();
    let mut out = String::new();
    let version = cmd.get_version().unwrap_or_default().to_string();
    let _ = writeln!(
        out,
        ".TH RBLWATCH 1 \"\" \"rblwatch {}\" \"User Commands\"",
        text(&version)
    );
    let about = cmd.get_about().map(ToString::to_string).unwrap_or_default();
    let _ = writeln!(out, ".SH NAME\nrblwatch \\- {}", text(&about));
    out.push_str(
        ".SH SYNOPSIS\n\\fBrblwatch\\fR [\\fB\\-\\-config\\fR \\fIFILE\\fR] [\\fB\\-\\-lists\\fR \\fIFILE\\fR] \\fICOMMAND\\fR [\\fIOPTIONS\\fR] [\\fIARGS\\fR]\n",
    );
    out.push_str(DESCRIPTION);
    out.push_str(".SH \"GLOBAL OPTIONS\"\nThese options are taken by every command.\n");
    for arg in cmd
        .get_arguments()
        .filter(|a| shown(a) && a.is_global_set())
    {
        option(&mut out, arg);
    }
    out.push_str(".SH COMMANDS\n");
    for sub in cmd.get_subcommands() {
        command(&mut out, sub, "rblwatch");
    }
    out.push_str(FIXED);
    out
}

/// One subcommand's section, then its own subcommands'.
fn command(out: &mut String, cmd: &clap::Command, parent: &str) {
    if cmd.is_hide_set() || cmd.get_name() == "help" {
        return;
    }
    let path = format!("{parent} {}", cmd.get_name());
    let _ = writeln!(out, ".SS \"{}\"", text(&path));
    let about = cmd
        .get_long_about()
        .or_else(|| cmd.get_about())
        .map(ToString::to_string)
        .unwrap_or_default();
    let _ = writeln!(out, "{}", text(&about));
    let usage = cmd.clone().bin_name(&path).render_usage().to_string();
    let usage = usage.trim_start_matches("Usage:").trim();
    let _ = writeln!(out, ".PP\n\\fB{}\\fR", text(usage));
    for arg in cmd
        .get_arguments()
        .filter(|a| shown(a) && !a.is_global_set())
    {
        option(out, arg);
    }
    for sub in cmd.get_subcommands() {
        command(out, sub, &path);
    }
}

/// Whether an argument belongs on the page (clap's own --help and --version do not).
fn shown(arg: &clap::Arg) -> bool {
    !arg.is_hide_set() && !matches!(arg.get_id().as_str(), "help" | "version")
}

/// One option or positional argument: its flags and value, then its help.
fn option(out: &mut String, arg: &clap::Arg) {
    let value = arg
        .get_value_names()
        .and_then(|names| names.first())
        .map_or_else(|| arg.get_id().as_str().to_uppercase(), ToString::to_string);
    let takes_value = arg.get_num_args().is_some_and(|n| n.takes_values());
    let mut head = Vec::new();
    if let Some(short) = arg.get_short() {
        head.push(format!("\\fB\\-{}\\fR", text(&short.to_string())));
    }
    if let Some(long) = arg.get_long() {
        head.push(format!("\\fB\\-\\-{}\\fR", text(long)));
    }
    let mut head = head.join(", ");
    if arg.is_positional() {
        head = format!("\\fI{}\\fR", text(&value));
    } else if takes_value {
        let _ = write!(head, " \\fI{}\\fR", text(&value));
    }
    let help = arg
        .get_long_help()
        .or_else(|| arg.get_help())
        .map(ToString::to_string)
        .unwrap_or_default();
    let _ = writeln!(out, ".TP\n{head}\n{}", text(&help));
    let choices: Vec<String> = arg
        .get_possible_values()
        .iter()
        .filter(|v| !v.is_hide_set())
        .map(|v| v.get_name().to_string())
        .collect();
    if takes_value && !choices.is_empty() {
        let _ = writeln!(out, "One of: {}.", text(&choices.join(", ")));
    }
    let defaults: Vec<String> = arg
        .get_default_values()
        .iter()
        .map(|v| v.to_string_lossy().into_owned())
        .collect();
    if takes_value && !defaults.is_empty() {
        let _ = writeln!(out, "Default: {}.", text(&defaults.join(", ")));
    }
}

/// Text made safe for roff: backslashes and hyphens escaped, no line starting with a control
/// character, blank lines as paragraph breaks.
fn text(s: &str) -> String {
    s.lines()
        .map(|line| {
            let line = line.trim_end().replace('\\', "\\e").replace('-', "\\-");
            if line.is_empty() {
                ".PP".to_string()
            } else if line.starts_with('.') || line.starts_with('\'') {
                format!("\\&{line}")
            } else {
                line
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

const DESCRIPTION: &str = r#".SH DESCRIPTION
rblwatch tells whether a mail server's addresses or domains are on DNS blocklists (DNSBLs),
watches for it every day, and says how to get off each list.
.PP
\fBcheck\fR asks every configured list at once about an address, a range or a host name and
shows what each answer means. \fBrun\fR is one pass over the config's targets for cron: changes
(listed, clear) are kept in a local store and mailed to the postmaster; nothing that did not
change is alerted again. \fBdaemon\fR runs passes on the config's own schedule and serves
a status page (\fB/\fR), Prometheus metrics, a read\-only JSON API (\fB/api/v1/status\fR, \fB/api/v1/history\fR,
\fB/api/v1/lists\fR) and a prober (\fB/probe?target=IP\fR). \fBdelist\fR gives the way off each listing; \fBrelay\-test\fR and
\fBdoctor\fR help find the cause first.
.PP
A timeout, a refusal, an answer outside 127.0.0.0/8 or a list that fails its RFC 5782 test
points is never reported as listed or as clear: it is reported as what it is.
"#;

const FIXED: &str = r#".SH "EXIT STATUS"
.TP
.B check
0 no blocklist lists any target; 1 at least one does; 2 bad usage, config or catalog; 3 some
target got no definite answer from any list.
.TP
.BR run " and " status
0 nothing listed; 1 something listed (the stored state after the pass); 2 bad usage or config;
3 nothing listed, but some target got no definite answer, or the pass could not finish
(store, resolver); 4 another pass is running (\fBrun \-\-wait\fR waits for it).
.TP
.B lists verify
0 every list answered its test points; 1 some list did not; 2 bad usage.
.TP
.B doctor
0 all well; 1 warnings; 2 errors.
.TP
.B relay\-test
0 closed; 1 open relay; 2 bad usage; 3 could not test.
.TP
.B daemon
0 when stopped by a signal; 2 bad config at start; 3 cannot run (the store, the metrics
address in use).
.TP
.BR "notify test" " and " "notify flush"
0 all sent; 3 something was not sent (it stays queued, or is kept as failed).
.PP
Every other command: 0 on success, 2 for bad usage or input.
.SH ENVIRONMENT
.TP
.B RBLWATCH_CONFIG
The config file, when \fB\-\-config\fR is not given.
.TP
.B RBLWATCH_SPAMHAUS_DQS_KEY
The Spamhaus Data Query Service key for the \fBspamhaus\-dqs\-*\fR lists.
.TP
.B RBLWATCH_ABUSIX_KEY
The Abusix Mail Intelligence key for the \fBabusix\-*\fR lists.
.TP
.B RBLWATCH_SMTP_PASSWORD
The SMTP password, when the config names it as \fBpassword_env\fR (any variable may be named).
.TP
.B RBLWATCH_PG_PASSWORD
The PostgreSQL store's password, when the config names it as \fB[postgres] password_env\fR.
.TP
.BR XDG_CONFIG_HOME ", " XDG_DATA_HOME ", " HOME
Where the config and the store are looked for when not running as root.
.TP
.B NO_COLOR
When set, no colour in the output.
.TP
.BR TZDIR ", " TZ
Where the tz database is (default \fI/usr/share/zoneinfo\fR) for a \fB[schedule] timezone\fR;
without one the schedule is read in local time, as \fBTZ\fR or \fI/etc/localtime\fR say.
.TP
.B RUST_LOG
The daemon's log filter (tracing's EnvFilter syntax), over \fB\-v\fR and \fB\-q\fR. Other
commands log only when it is set (\fBRUST_LOG=rblwatch=debug\fR).
.TP
.B RBLWATCH_NO_SCAN
When set, \fBcheck\fR answers work that local mirrors alone can answer through the general
engine, as any other (to compare the two; the answers are the same).
.TP
.B RBLWATCH_NOW
Unix seconds to use as the current time (for tests; never set it in production).
.SH FILES
.TP
.I /etc/rblwatch/rblwatch.toml
The config when running as root (\fI~/.config/rblwatch/rblwatch.toml\fR otherwise).
\fBrblwatch init\fR writes a commented example.
.TP
.I /var/lib/rblwatch/rblwatch.db
The store (SQLite) when running as root (\fI~/.local/share/rblwatch/rblwatch.db\fR otherwise;
the config's \fBstore\fR sets it): the state of every address and list, the log of changes,
one row per pass and the notification outbox. Or a PostgreSQL database:
\fBstore = "postgresql://USER@HOST/DATABASE"\fR.
.TP
.I STORE.lock
The lock beside the store: one pass at a time, whether from cron or the daemon.
.TP
.I lists.toml
The catalog of lists, built in; \fB\-\-lists\fR or the config's \fBcatalogs\fR read others of the
same format.
.TP
.I templates/
The notification templates, built in; the config's \fBnotify.templates\fR names a directory whose
files replace them one by one.
.SH SIGNALS
These apply to \fBrblwatch daemon\fR.
.TP
.BR SIGTERM ", " SIGINT
Stop at once: a pass under way is abandoned before it writes anything, and the daemon exits 0.
.TP
.B SIGHUP
Read the config again; a bad one is logged and the old one stays in use. A changed metrics
address takes effect at the next start.
.SH "SEE ALSO"
.BR crontab (5),
.BR rbldnsd (8)
"#;

#[cfg(test)]
mod tests {
    use super::*;

    fn page() -> String {
        render(<crate::cli::Cli as clap::CommandFactory>::command())
    }

    /// Every subcommand (at any depth) has its section, with every one of its options.
    #[test]
    fn every_command_and_option_is_on_the_page() {
        let page = page();
        let mut cmd = <crate::cli::Cli as clap::CommandFactory>::command();
        cmd.build();
        fn walk(cmd: &clap::Command, path: &str, page: &str, seen: &mut usize) {
            for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
                let path = format!("{path} {}", sub.get_name());
                let section = format!(".SS \"{}\"", text(&path));
                let at = page
                    .find(&section)
                    .unwrap_or_else(|| panic!("no section {section}"));
                let rest = &page[at + section.len()..];
                let end = rest
                    .find(".SS ")
                    .or_else(|| rest.find(".SH "))
                    .unwrap_or(rest.len());
                let body = &rest[..end];
                for arg in sub
                    .get_arguments()
                    .filter(|a| shown(a) && !a.is_global_set())
                {
                    if let Some(long) = arg.get_long() {
                        let flag = format!("\\fB\\-\\-{}\\fR", text(long));
                        assert!(body.contains(&flag), "{path}: no {flag}");
                    }
                }
                *seen += 1;
                walk(sub, &path, page, seen);
            }
        }
        let mut seen = 0;
        walk(&cmd, "rblwatch", &page, &mut seen);
        assert!(seen >= 15, "only {seen} commands");
        for section in [
            ".SH \"EXIT STATUS\"",
            ".SH ENVIRONMENT",
            ".SH FILES",
            ".SH SIGNALS",
            ".SH \"GLOBAL OPTIONS\"",
        ] {
            assert!(page.contains(section), "no {section}");
        }
        assert!(page.contains("\\fB\\-\\-config\\fR \\fIFILE\\fR"));
    }

    /// No reference to a page that is not shipped (such as one page per command).
    #[test]
    fn no_page_is_referred_to_that_does_not_exist() {
        let page = page();
        assert!(!page.contains("rblwatch\\-check(1)"), "{page}");
        for line in page.lines().filter(|l| l.starts_with(".BR ")) {
            if let Some(rest) = line.strip_prefix(".BR rblwatch") {
                panic!("refers to rblwatch{rest}");
            }
        }
    }

    #[test]
    fn text_cannot_start_a_roff_request() {
        assert_eq!(
            text(".SH evil\n'x\na-b\\c"),
            "\\&.SH evil\n\\&'x\na\\-b\\ec"
        );
    }
}
