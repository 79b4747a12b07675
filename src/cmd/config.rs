//! `rblwatch config check`: validate the config and say what a pass will do.

use std::io::Write;

use super::Setup;
use crate::cli::{ConfigAction, ConfigArgs};
use crate::error::Error;

/// The example's placeholders (`rblwatch init`) still in the config: its mail server
/// 192.0.2.25 (a documentation address) and postmaster@example.com.
fn placeholders(config: &crate::config::Config) -> Vec<String> {
    let mut found = Vec::new();
    for t in &config.targets {
        if t.target.text == "192.0.2.25" {
            found.push(format!("target {}", t.target.text));
        }
        for c in t.contacts.iter().filter(|c| c.ends_with("@example.com")) {
            found.push(format!("contact {c}"));
        }
    }
    for r in config
        .notify
        .recipients
        .iter()
        .filter(|r| r.ends_with("@example.com"))
    {
        found.push(format!("recipient {r}"));
    }
    found
}

/// Validation already happened when the config was loaded; this reports the result.
pub fn run(setup: &Setup, args: &ConfigArgs) -> Result<u8, Error> {
    let ConfigAction::Check = args.action;
    let config = setup.config()?;
    let selection = setup.select(None)?;
    let (settings, verify) = setup.resolver(None)?;
    let addresses: u128 = config
        .targets
        .iter()
        .map(|t| t.target.address_count())
        .sum();
    let mut out = std::io::stdout().lock();
    writeln!(out, "{}: ok", config.path.display())?;
    for (path, why) in super::exposed_files(config) {
        writeln!(out, "  warning: {} {why}", path.display())?;
    }
    for placeholder in placeholders(config) {
        writeln!(
            out,
            "  warning: {placeholder} is the example's placeholder: replace it with your own"
        )?;
    }
    writeln!(
        out,
        "  targets: {} ({addresses} address(es) or name(s))",
        config.targets.len()
    )?;
    let ids: Vec<&str> = selection.lists.iter().map(|l| l.list.id.as_str()).collect();
    writeln!(out, "  lists:   {} ({})", ids.len(), ids.join(", "))?;
    for note in &selection.notes {
        writeln!(out, "  note:    {note}")?;
    }
    let servers = if let Some(roots) = &settings.recursive {
        if roots.is_empty() {
            "recursive, from IANA's root servers".to_string()
        } else {
            let roots: Vec<String> = roots.iter().map(ToString::to_string).collect();
            format!("recursive, from {}", roots.join(", "))
        }
    } else if settings.nameservers.is_empty() {
        "/etc/resolv.conf".to_string()
    } else {
        settings
            .nameservers
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    };
    writeln!(
        out,
        "  resolver: {servers}; timeout {:?}, {} tries, {} in flight, health check {}",
        settings.timeout,
        settings.tries,
        settings.concurrency,
        if verify { "on" } else { "off" }
    )?;
    match &config.postgres {
        // Connecting is part of the check: the schema is created or brought up to date.
        Some(location) => {
            let found = crate::doctor::postgres_store(location);
            writeln!(out, "  store:   {}: {}", location.url, found.message)?;
            if found.level == crate::doctor::Level::Error {
                return Err(Error::Store {
                    path: location.url.clone(),
                    message: found.message,
                });
            }
        }
        None => writeln!(out, "  store:   {}", config.store.display())?,
    }
    if let Some(schedule) = &config.schedule {
        writeln!(
            out,
            "  schedule: `{}`; the next five passes:",
            schedule.schedule.text
        )?;
        for when in schedule.schedule.upcoming(crate::clock::now(), 5) {
            writeln!(out, "    {when}")?;
        }
        if !schedule.jitter.is_zero() {
            writeln!(
                out,
                "    (each up to {} s later, at random)",
                schedule.jitter.as_secs()
            )?;
        }
    }
    if let Some(listen) = &config.metrics_listen {
        writeln!(out, "  metrics: http://{listen}/metrics")?;
    }
    Ok(0)
}
