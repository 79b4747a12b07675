//! Sending the outbox: every due notification is tried; one accepted by its server is marked
//! sent at once, one refused is kept with its error and retried later with backoff, and after
//! `retry_limit` attempts it is marked failed and reported, never dropped.

use std::sync::Once;
use std::time::Duration;

use serde::Serialize;

use super::{mail, webhook};
use crate::config::NotifyConfig;
use crate::error::Error;
use crate::store::{OutboxItem, Store};

/// What one flush did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct FlushReport {
    /// Notifications accepted by their server.
    pub sent: Vec<String>,
    /// Notifications that failed this time and stay queued, with why.
    pub queued: Vec<String>,
    /// Notifications given up on this time (kept in the store), with why.
    pub failed: Vec<String>,
}

/// The rustls crypto provider for HTTPS (ring), installed once per process.
pub fn install_crypto() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

/// How long a worker may take to send one notification before another may try it: well
/// beyond any SMTP or webhook timeout. A worker killed after the server accepted a message
/// but before marking it sent leaves it to be sent again after this.
const CLAIM_SECONDS: i64 = 600;

/// The wait before attempt `attempts + 1`: 5 minutes, doubling, at most 6 hours.
pub fn backoff(attempts: u32) -> i64 {
    let minutes = 5i64.saturating_mul(1i64 << attempts.min(10));
    (minutes * 60).min(6 * 3600)
}

/// Tries every pending notification due by `now` (every pending one with `all`).
pub async fn flush(
    store: &mut Store,
    config: &NotifyConfig,
    now: i64,
    all: bool,
) -> Result<FlushReport, Error> {
    let pending = store.outbox_pending(if all { None } else { Some(now) })?;
    let mut report = FlushReport::default();
    for item in pending {
        // Another worker (a daemon, a `notify flush`) may be sending it right now.
        if !store.outbox_claim(item.id, now, now + CLAIM_SECONDS)? {
            continue;
        }
        let label = format!("{} to {}", item.channel, item.recipient);
        match deliver(config, &item).await {
            Ok(()) => {
                store.outbox_sent(item.id, now)?;
                report.sent.push(label);
            }
            Err(why) => {
                let attempts = item.attempts + 1;
                let give_up = (attempts >= config.retry_limit).then_some(now);
                store.outbox_attempt_failed(
                    item.id,
                    &why,
                    now + backoff(item.attempts),
                    give_up,
                )?;
                let line = format!("{label} (attempt {attempts}): {why}");
                if give_up.is_some() {
                    report.failed.push(line);
                } else {
                    report.queued.push(line);
                }
            }
        }
    }
    Ok(report)
}

async fn deliver(config: &NotifyConfig, item: &OutboxItem) -> Result<(), String> {
    match item.channel.as_str() {
        "mail" => {
            let smtp = config
                .smtp
                .as_ref()
                .ok_or_else(|| "no [notify.smtp] is configured any more".to_string())?;
            mail::send(smtp, &item.recipient, &item.subject, &item.text, &item.html).await
        }
        _ => {
            let timeout = config
                .webhooks
                .iter()
                .find(|w| w.url == item.recipient)
                .map_or(Duration::from_secs(10), |w| w.timeout);
            webhook::post(&item.recipient, &item.text, timeout).await
        }
    }
}
