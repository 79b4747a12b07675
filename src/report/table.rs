//! `check` for people: listed rows first with meaning, reason and delisting link, then what
//! did not answer, then a one-line summary. Colour only when asked or on a terminal.

use std::io::{self, Write};

use super::safe::{clean, join};
use super::{Summary, delist_procedure};
use crate::check::{CheckReport, Outcome};
use crate::dns::Status;
use crate::domain::{Member, Role};
use crate::lists::Policy;

/// How the table is drawn.
#[derive(Debug, Clone, Copy)]
pub struct Style {
    /// Use ANSI colours.
    pub color: bool,
    /// Show clear rows too.
    pub verbose: bool,
}

fn paint(style: Style, code: &str, text: &str) -> String {
    if style.color {
        format!("\x1b[{code}m{text}\x1b[0m")
    } else {
        text.to_string()
    }
}

fn status_word(style: Style, outcome: &Outcome) -> String {
    // An allowlist hit is good news, never shown as a listing.
    let word = match (outcome.status, outcome.list.policy) {
        (Status::Listed, Policy::Allow) => "ALLOWLISTED".to_string(),
        (status, _) => status.as_str().to_uppercase(),
    };
    let word = format!("{word:<11}");
    match (outcome.status, outcome.list.policy) {
        (Status::Listed, Policy::Block) => paint(style, "1;31", &word),
        (Status::Listed, Policy::Allow) | (Status::Clear, _) => paint(style, "32", &word),
        _ => paint(style, "33", &word),
    }
}

/// Whether the table has a row for this outcome: everything but plain clears, unless verbose.
pub fn shown(outcome: &Outcome, verbose: bool) -> bool {
    verbose || outcome.status != Status::Clear || !outcome.meanings.is_empty()
}

/// Sort order: block listings, allow listings, then what gave no answer, then clear.
fn rank(outcome: &Outcome) -> u8 {
    match (outcome.status, outcome.list.policy) {
        (Status::Listed, Policy::Block) => 0,
        (Status::Listed, Policy::Allow) => 1,
        (Status::Clear, _) => 3,
        _ => 2,
    }
}

/// How the rows line up.
struct Row {
    style: Style,
    width: usize,
    list_width: usize,
    indent: String,
}

impl Row {
    /// One result row, with its reason, delisting link and procedure under it.
    fn write(&self, out: &mut dyn Write, o: &Outcome) -> io::Result<()> {
        let (style, width, list_width, indent) =
            (self.style, self.width, self.list_width, &self.indent);
        // Code meanings only for a definite answer: an answer not believed (unhealthy, bogus,
        // refused) says why instead, not what a listing would mean.
        let answer = if !o.meanings.is_empty() && (o.status.is_definite() || o.detail.is_none()) {
            join(&o.meanings, "; ")
        } else if let Some(detail) = &o.detail {
            clean(detail).into_owned()
        } else {
            format!("not listed ({})", o.list.zone)
        };
        writeln!(
            out,
            "{}  {:<width$}  {:<list_width$}  {answer}",
            status_word(style, o),
            o.address,
            o.list.id
        )?;
        if o.status == Status::Listed || o.status == Status::Refused {
            if o.status == Status::Listed && o.detail.is_some() {
                writeln!(
                    out,
                    "{indent}{}",
                    clean(o.detail.as_deref().unwrap_or_default())
                )?;
            }
            for txt in &o.txt {
                writeln!(out, "{indent}reason: {}", clean(txt))?;
            }
        }
        if o.is_block_listing() {
            if let Some(url) = &o.delist_url {
                writeln!(out, "{indent}delist: {}", clean(url))?;
            }
            if let Some(how) = delist_procedure(&o.list, o) {
                writeln!(out, "{indent}how:    {how}")?;
            }
        }
        Ok(())
    }
}

/// The heading of a mail domain's rows of one role.
fn role_heading(role: Role) -> &'static str {
    match role {
        Role::Sending => "Sending (addresses the SPF record authorises):",
        Role::Receiving => "Receiving (MX hosts):",
        Role::Domain => "Domain:",
    }
}

/// Writes the table for a run, with the setup warnings and notes first; the rows of a mail
/// domain's `members` come by role, each with how it belongs to the domain.
pub fn write(
    out: &mut dyn Write,
    report: &CheckReport,
    summary: &Summary,
    style: Style,
    warnings: &[String],
    notes: &[String],
    members: &[Member],
) -> io::Result<()> {
    // Said once, up front: when the resolver is at fault, the rows below are its doing.
    if let Some(fault) = &report.fault {
        writeln!(out, "{} {}", paint(style, "1;31", "error:"), fault.what())?;
        writeln!(out, "       {}", fault.advice())?;
    }
    for warning in warnings {
        writeln!(
            out,
            "{} {}",
            paint(style, "1;33", "warning:"),
            clean(warning)
        )?;
    }
    for note in notes {
        writeln!(out, "note: {}", clean(note))?;
    }
    // A mail domain's names were resolved by its setup, which is shown on its own.
    let setup_names = |target: &str| members.iter().any(|m| m.target == target);
    for resolution in report
        .resolutions
        .iter()
        .filter(|r| !setup_names(&r.target))
    {
        match &resolution.error {
            Some(why) => writeln!(
                out,
                "{}: cannot resolve: {}",
                clean(&resolution.target),
                clean(why)
            )?,
            None => {
                let addrs: Vec<String> = resolution
                    .addresses
                    .iter()
                    .map(ToString::to_string)
                    .collect();
                writeln!(
                    out,
                    "{} resolves to {}",
                    resolution.target,
                    addrs.join(", ")
                )?;
            }
        }
    }

    // The lists the resolver fault explains are not repeated row by row: one line per address.
    let faulted = |o: &Outcome| {
        report
            .fault
            .as_ref()
            .is_some_and(|f| f.covers(&o.list.id) && !o.status.is_definite())
    };
    let mut rows: Vec<&Outcome> = report
        .outcomes
        .iter()
        .filter(|o| shown(o, style.verbose) && !faulted(o))
        .collect();
    rows.sort_by_key(|o| rank(o));
    let width = rows.iter().map(|o| o.address.len()).max().unwrap_or(0);
    let list_width = rows.iter().map(|o| o.list.id.len()).max().unwrap_or(0);
    let row = Row {
        style,
        width,
        list_width,
        indent: " ".repeat(11 + 2 + width + 2 + list_width + 2),
    };
    // A mail domain's rows by role, each with the path that made it part of the domain;
    // the other targets' rows first, as always.
    let roles = |o: &Outcome| -> Vec<&Member> {
        members
            .iter()
            .filter(|m| m.covers(&o.target, &o.address))
            .collect()
    };
    for o in rows.iter().filter(|o| roles(o).is_empty()) {
        row.write(out, o)?;
    }
    for role in [Role::Sending, Role::Receiving, Role::Domain] {
        let mut header = false;
        for o in &rows {
            let paths: Vec<&Member> = roles(o).into_iter().filter(|m| m.role == role).collect();
            if paths.is_empty() {
                continue;
            }
            if !header {
                writeln!(out, "{}", role_heading(role))?;
                header = true;
            }
            row.write(out, o)?;
            for m in paths {
                writeln!(
                    out,
                    "{}of {}: {}",
                    row.indent,
                    clean(&m.domain),
                    clean(&m.path)
                )?;
            }
        }
    }

    if let Some(fault) = &report.fault {
        let mut by_address: Vec<(&str, usize)> = Vec::new();
        for o in report.outcomes.iter().filter(|o| faulted(o)) {
            match by_address.iter_mut().find(|(a, _)| *a == o.address) {
                Some((_, n)) => *n += 1,
                None => by_address.push((&o.address, 1)),
            }
        }
        let word = paint(style, "33", &format!("{:<11}", "NO ANSWER"));
        for (address, n) in by_address {
            writeln!(
                out,
                "{word}  {address}  {n} list(s) not believed: the resolver's fault above"
            )?;
        }
        let ids = fault.lists.join(", ");
        writeln!(
            out,
            "lists not believed this run, by the resolver's fault ({}): {ids}",
            fault.lists.len()
        )?;
    }
    let untrusted: Vec<String> = report
        .lists
        .iter()
        .filter(|h| !h.health.is_trusted())
        .filter(|h| !report.fault.as_ref().is_some_and(|f| f.covers(&h.list.id)))
        .map(|h| {
            format!(
                "{} ({}{})",
                h.list.id,
                h.health,
                h.detail
                    .as_deref()
                    .map(|d| format!(": {}", clean(d)))
                    .unwrap_or_default()
            )
        })
        .collect();
    if !untrusted.is_empty() {
        let other = if report.fault.is_some() { "other " } else { "" };
        writeln!(out, "{other}lists not believed this run:")?;
        for line in untrusted {
            writeln!(out, "  {line}")?;
        }
    }

    let verdict = if summary.blocklisted > 0 {
        paint(
            style,
            "1;31",
            &format!("LISTED ({} blocklisting(s))", summary.blocklisted),
        )
    } else if !summary.unanswered_targets.is_empty() {
        paint(
            style,
            "1;33",
            &format!("NO ANSWER for {}", summary.unanswered_targets.join(", ")),
        )
    } else {
        paint(style, "1;32", "not listed")
    };
    let mut counts: Vec<String> = Status::ALL
        .iter()
        .filter(|s| summary.count(**s) > 0)
        .map(|s| format!("{} {s}", summary.count(*s)))
        .collect();
    if summary.allowlisted > 0 {
        counts.push(format!("{} on allowlists", summary.allowlisted));
    }
    if report.lists.is_empty() {
        return writeln!(out, "{verdict}: no list was asked");
    }
    writeln!(
        out,
        "{verdict}: {} answers from {} lists ({}) in {:.2} s",
        summary.total(),
        report.lists.len(),
        counts.join(", "),
        report.elapsed.as_secs_f64()
    )
}
