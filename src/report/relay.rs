//! The relay test's report: a table with the verdict and what to fix, or JSON.

use std::io::{self, Write};

use serde::Serialize;

use super::safe::clean;
use crate::relay::smtp::Security;
use crate::relay::{self, Outcome, Report, Verdict};

fn security(s: Security) -> &'static str {
    match s {
        Security::None => "plain SMTP",
        Security::Starttls => "STARTTLS",
        Security::Tls => "TLS",
    }
}

/// The verdict in one line.
pub fn verdict_line(report: &Report) -> String {
    let count = report.attempts.len();
    match report.verdict {
        Verdict::OpenRelay => {
            let first = report
                .attempts
                .iter()
                .find(|a| a.outcome == Outcome::Accepted);
            let which = first
                .map(|a| format!("attempt `{}` ({})", a.name, a.description))
                .unwrap_or_default();
            format!("OPEN RELAY: the server accepted an outside recipient in {which}")
        }
        Verdict::Closed => format!(
            "CLOSED: all {count} attempts were refused; the server does not relay for outsiders"
        ),
        Verdict::Unknown => {
            let with = |o: Outcome| report.attempts.iter().filter(|a| a.outcome == o).count();
            let (senders, deferred, errors) = (
                with(Outcome::SenderRefused),
                with(Outcome::Deferred),
                with(Outcome::Error),
            );
            match &report.error {
                Some(why) => format!("COULD NOT TEST: {why}"),
                None if deferred > 0 => format!(
                    "DEFERRED: {deferred} of {count} attempts were refused only for now (4xx), none was accepted; a server that greylists may still relay: run again later"
                ),
                None if senders > 0 => format!(
                    "COULD NOT TEST{}: the sender was refused in {senders} of {count} attempts, so their recipients were never asked about; give --from a real address of an outside domain the server accepts",
                    if senders < count { " fully" } else { "" }
                ),
                None => format!(
                    "COULD NOT TEST fully: {errors} of {count} attempts got no answer, none was accepted"
                ),
            }
        }
    }
}

/// Writes the table.
pub fn write(out: &mut dyn Write, report: &Report) -> io::Result<()> {
    writeln!(
        out,
        "Relay test of {}:{} ({}), {}",
        report.host,
        report.port,
        report.address,
        security(report.security)
    )?;
    for warning in &report.warnings {
        writeln!(out, "warning: {warning}")?;
    }
    if let Some(greeting) = &report.greeting {
        writeln!(out, "Greeting: {}", clean(greeting))?;
    }
    if let Some(own) = &report.own_name {
        writeln!(out, "The server's own name in the tricks: {}", clean(own))?;
    }
    if !report.attempts.is_empty() {
        writeln!(out)?;
        let width = |f: &dyn Fn(&relay::Attempt) -> usize, title: &str| {
            report
                .attempts
                .iter()
                .map(f)
                .max()
                .unwrap_or(0)
                .max(title.len())
        };
        let (wn, wf, wt) = (
            width(&|a| a.name.len(), "ATTEMPT"),
            width(&|a| clean(&a.mail_from).len(), "MAIL FROM"),
            width(&|a| clean(&a.rcpt_to).len(), "RCPT TO"),
        );
        writeln!(
            out,
            "{:wn$}  {:wf$}  {:wt$}  {:14}  REPLY",
            "ATTEMPT", "MAIL FROM", "RCPT TO", "VERDICT"
        )?;
        for a in &report.attempts {
            let reply = clean(a.reply.as_deref().or(a.detail.as_deref()).unwrap_or(""));
            writeln!(
                out,
                "{:wn$}  {:wf$}  {:wt$}  {:14}  {reply}",
                a.name,
                clean(&a.mail_from),
                clean(&a.rcpt_to),
                a.outcome.to_string()
            )?;
            // The reply column holds the reply; a word on why goes below it where one helps.
            if let (Some(detail), Some(_), false) =
                (&a.detail, &a.reply, a.outcome == Outcome::Accepted)
            {
                writeln!(out, "{:wn$}  {}", "", clean(detail))?;
            }
        }
    }
    writeln!(out)?;
    writeln!(out, "{}", clean(&verdict_line(report)))?;
    if report.stopped_early {
        writeln!(
            out,
            "Stopped at the first accepted attempt; --all makes the others too."
        )?;
    }
    if report.verdict == Verdict::OpenRelay {
        writeln!(out, "\nWhat to fix before asking any list to delist:")?;
        for line in relay::advice() {
            writeln!(out, "  - {line}")?;
        }
    }
    if !report.attempts.is_empty() {
        writeln!(
            out,
            "No message was sent: every attempt ended with RSET, before DATA."
        )?;
    }
    Ok(())
}

#[derive(Serialize)]
struct Doc<'a> {
    version: u32,
    #[serde(flatten)]
    report: &'a Report,
    summary: String,
    advice: Vec<String>,
    exit_code: u8,
}

/// Writes the JSON document.
pub fn write_json(out: &mut dyn Write, report: &Report) -> io::Result<()> {
    let doc = Doc {
        version: 1,
        report,
        summary: verdict_line(report),
        advice: if report.verdict == Verdict::OpenRelay {
            relay::advice()
        } else {
            Vec::new()
        },
        exit_code: report.verdict.exit_code(),
    };
    super::write_document(out, &doc)
}
