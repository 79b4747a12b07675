//! `rblwatch notify render | test | flush`: see a template, try the channels, send the queue.

use std::io::Write;

use super::Setup;
use crate::cli::{NotifyAction, NotifyArgs};
use crate::clock;
use crate::error::Error;
use crate::notify::context::{Context, Kind};
use crate::notify::render::Templates;
use crate::notify::{mail, outbox, webhook};
use crate::store::Store;

/// Runs a `notify` subcommand; exit 3 when something could not be sent.
pub async fn run(setup: &Setup, args: &NotifyArgs) -> Result<u8, Error> {
    let overrides = setup
        .config
        .as_ref()
        .and_then(|c| c.notify.templates.clone());
    let mut out = std::io::stdout().lock();
    match &args.action {
        NotifyAction::Render { event, html } => {
            let kind = Kind::parse(event).ok_or_else(|| Error::Usage {
                arg: format!("--event {event}"),
                message: "must be listed, delisted, digest or reminder".into(),
            })?;
            let templates = Templates::load(overrides.as_deref())?;
            let ctx = Context::sample(kind);
            let body = templates.render(&ctx)?;
            writeln!(out, "Subject: {}\n", ctx.subject())?;
            out.write_all(if *html {
                body.html.as_bytes()
            } else {
                body.text.as_bytes()
            })?;
            Ok(0)
        }
        NotifyAction::Test => {
            let config = setup.config()?;
            let notify = &config.notify;
            if notify.smtp.is_none() && notify.webhooks.is_empty() {
                return Err(Error::Usage {
                    arg: config.path.display().to_string(),
                    message: "no [notify.smtp] and no [[notify.webhook]] to test".into(),
                });
            }
            let templates = Templates::load(notify.templates.as_deref())?;
            let mut failed = 0;
            if let Some(smtp) = &notify.smtp {
                let mut recipients: Vec<String> = Vec::new();
                for r in notify
                    .recipients
                    .iter()
                    .chain(config.targets.iter().flat_map(|t| &t.contacts))
                {
                    if !recipients.iter().any(|a| a.eq_ignore_ascii_case(r)) {
                        recipients.push(r.clone());
                    }
                }
                if recipients.is_empty() {
                    writeln!(out, "mail: no recipients configured")?;
                    failed += 1;
                }
                for to in recipients {
                    let mut ctx = Context::sample(Kind::Listed);
                    ctx.recipient = to.clone();
                    let body = templates.render(&ctx)?;
                    let subject = format!("[rblwatch test] {}", ctx.subject());
                    match mail::send(smtp, &to, &subject, &body.text, &body.html).await {
                        Ok(()) => writeln!(out, "mail to {to}: ok")?,
                        Err(why) => {
                            failed += 1;
                            writeln!(out, "mail to {to}: FAILED: {why}")?;
                        }
                    }
                }
            }
            for hook in &notify.webhooks {
                // Each hook gets the format it takes: a Slack or Mattermost hook refuses
                // rblwatch's own JSON document.
                let payload = crate::notify::webhook_payload(
                    &templates,
                    &Context::sample(Kind::Listed),
                    hook.format,
                    true,
                )?;
                match webhook::post(&hook.url, &payload.to_string(), hook.timeout).await {
                    Ok(()) => writeln!(out, "webhook {}: ok", hook.url)?,
                    Err(why) => {
                        failed += 1;
                        writeln!(out, "webhook {}: FAILED: {why}", hook.url)?;
                    }
                }
            }
            Ok(if failed == 0 { 0 } else { 3 })
        }
        NotifyAction::Flush { all } => {
            let config = setup.config()?;
            let mut store = Store::open_at(&config.store_location())?;
            let report = outbox::flush(&mut store, &config.notify, clock::now(), *all).await?;
            for line in &report.sent {
                writeln!(out, "sent: {line}")?;
            }
            for line in &report.queued {
                writeln!(out, "queued, will be retried: {line}")?;
            }
            for line in &report.failed {
                writeln!(out, "failed, kept in the store: {line}")?;
            }
            let waiting = store.outbox_pending(None)?.len();
            let given_up = store.outbox_failed()?.len();
            writeln!(
                out,
                "{} sent; {waiting} waiting; {given_up} failed in all",
                report.sent.len()
            )?;
            Ok(if report.queued.is_empty() && report.failed.is_empty() {
                0
            } else {
                3
            })
        }
    }
}
