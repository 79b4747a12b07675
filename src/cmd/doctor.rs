//! `rblwatch doctor`: load what can be loaded, examine it, print each point; exit 0 when all
//! is well, 1 with warnings, 2 with errors.

use std::io::Write;
use std::path::Path;

use super::Setup;
use crate::cli::{DoctorArgs, ListFormat};
use crate::dns::Dns;
use crate::doctor::{self, Finding, Level};
use crate::error::Error;

/// Runs the checks and prints them.
pub async fn run(
    lists: Option<&Path>,
    config: Option<&Path>,
    args: &DoctorArgs,
) -> Result<u8, Error> {
    let mut findings = Vec::new();
    let setup = match Setup::optional(lists, config) {
        Ok(setup) => {
            if let Some(c) = &setup.config {
                for (path, why) in super::exposed_files(c) {
                    findings.push(Finding {
                        level: if why.contains("every user") {
                            Level::Error
                        } else {
                            Level::Warning
                        },
                        area: "config",
                        subject: path.display().to_string(),
                        message: why,
                    });
                }
            }
            findings.push(match &setup.config {
                Some(c) => Finding {
                    level: Level::Ok,
                    area: "config",
                    subject: c.path.display().to_string(),
                    message: "valid".into(),
                },
                None => Finding {
                    level: Level::Ok,
                    area: "config",
                    subject: "-".into(),
                    message: "no config file: only the resolver and the lists are checked".into(),
                },
            });
            setup
        }
        // A broken config is a finding, not the end: the rest is checked without it.
        Err(err) => {
            for line in err.to_string().lines() {
                findings.push(Finding {
                    level: Level::Error,
                    area: "config",
                    subject: "-".into(),
                    message: line.to_string(),
                });
            }
            Setup::bare(lists)?
        }
    };
    let selection = setup.select(None)?;
    for note in &selection.notes {
        findings.push(Finding {
            level: Level::Ok,
            area: "list",
            subject: "-".into(),
            message: note.clone(),
        });
    }
    let (settings, _) = setup.resolver(Some(&args.dns))?;
    let dns = Dns::new(&settings)?;
    findings.extend(doctor::examine(&dns, &selection.lists, setup.config.as_ref()).await);
    // Mail domains: the config's watched ones, then those named on the command line.
    let mut domains: Vec<String> = setup
        .config
        .iter()
        .flat_map(|c| c.targets.iter().filter(|t| t.mail_domain))
        .map(|t| t.target.text.trim_end_matches('.').to_ascii_lowercase())
        .collect();
    for given in &args.domains {
        let domain = crate::target::to_ascii_name(given).map_err(|why| Error::Usage {
            arg: given.clone(),
            message: format!("not a mail domain: {why}"),
        })?;
        if !domains.contains(&domain) {
            domains.push(domain);
        }
    }
    let smtp_port = args.smtp.then_some(args.smtp_port);
    for domain in &domains {
        findings.extend(crate::domain::doctor::examine(&dns, domain, smtp_port).await);
    }
    if args.relay {
        match &setup.config {
            Some(config) => findings.extend(doctor::relay(&dns, config, args.relay_port).await),
            None => findings.push(Finding {
                level: Level::Warning,
                area: "relay",
                subject: "-".into(),
                message: "no config, so no mail server to test; use rblwatch relay-test HOST"
                    .into(),
            }),
        }
    }

    let mut out = std::io::stdout().lock();
    if args.format == ListFormat::Json {
        crate::report::write_document(
            &mut out,
            &serde_json::json!({ "version": 1, "findings": findings }),
        )?;
    } else {
        let width = findings
            .iter()
            .map(|f| f.subject.len())
            .max()
            .unwrap_or(1)
            .min(40);
        for f in &findings {
            let level = match f.level {
                Level::Ok => "OK",
                Level::Warning => "WARN",
                Level::Error => "ERROR",
            };
            writeln!(
                out,
                "{level:<5}  {:<9}  {:<width$}  {}",
                f.area,
                crate::report::safe::clean(&f.subject),
                crate::report::safe::clean(&f.message)
            )?;
        }
        let errors = findings.iter().filter(|f| f.level == Level::Error).count();
        let warnings = findings
            .iter()
            .filter(|f| f.level == Level::Warning)
            .count();
        writeln!(
            out,
            "{} checks: {errors} error(s), {warnings} warning(s)",
            findings.len()
        )?;
    }
    let worst = findings.iter().map(|f| f.level).max().unwrap_or(Level::Ok);
    Ok(match worst {
        Level::Ok => 0,
        Level::Warning => 1,
        Level::Error => 2,
    })
}
