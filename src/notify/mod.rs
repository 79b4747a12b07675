//! Alerts: which notifications a pass makes (`plan`), how they are rendered (`render`,
//! `context`, `advice`), and how the outbox is sent (`outbox`, over `mail` and `webhook`).
//!
//! Notifications are written to the store in the same transaction as the events that caused
//! them, and marked sent only after their server accepted them; `plan` only decides what to
//! queue and never sends anything.

pub mod advice;
pub mod context;
pub mod mail;
pub mod outbox;
pub mod render;
pub mod webhook;

use std::collections::{BTreeMap, HashMap};

use context::{Context, Item, Kind, RoleInfo, SetupChange};
use render::Templates;

use crate::clock;
use crate::config::{NotifyConfig, WatchTarget, WebhookFormat};
use crate::error::Error;
use crate::lists::Catalog;
use crate::store::{Event, OutboxItem, StoredState};

/// What the store knows that the plan needs.
pub struct Known<'a> {
    /// Every state after the pass, by (address, list).
    pub states: &'a [StoredState],
    /// Removal requests by (address, list).
    pub requests: &'a HashMap<(String, String), i64>,
    /// Last reminders by (address, list).
    pub reminders: &'a HashMap<(String, String), i64>,
}

/// What a pass queues besides its events.
#[derive(Debug, Default)]
pub struct Plan {
    /// Notifications to queue.
    pub outbox: Vec<OutboxItem>,
    /// Pairs reminded of.
    pub reminded: Vec<(String, String)>,
    /// Removal requests that came true.
    pub requests_done: Vec<(String, String)>,
}

/// Decides the notifications of a pass: one mail per recipient for its changes, one per
/// webhook, and reminders of what is still listed after `reminder_days`.
pub fn plan(
    config: &NotifyConfig,
    targets: &[WatchTarget],
    catalog: &Catalog,
    templates: &Templates,
    events: &[Event],
    known: &Known<'_>,
    now: i64,
) -> Result<Plan, Error> {
    let mut plan = Plan::default();
    let roles: HashMap<&str, &[crate::domain::Member]> = targets
        .iter()
        .map(|t| (t.target.text.as_str(), t.member_of.as_slice()))
        .collect();
    let item = |e: &Event| {
        let mut item = Item::from_event(e, catalog.get(&e.list));
        item.roles = roles
            .get(e.target.as_str())
            .map(|members| {
                members
                    .iter()
                    .map(|m| RoleInfo {
                        domain: m.domain.clone(),
                        role: m.role.to_string(),
                        path: m.path.clone(),
                    })
                    .collect()
            })
            .unwrap_or_default();
        if let Some(requested) = known.requests.get(&(e.address.clone(), e.list.clone())) {
            item.requested_at = Some(clock::format(*requested));
            if e.new_status == "clear" {
                item.took = Some(clock::length(e.at - requested));
            }
        }
        item
    };
    for e in events.iter().filter(|e| e.new_status == "clear") {
        if known
            .requests
            .contains_key(&(e.address.clone(), e.list.clone()))
        {
            plan.requests_done.push((e.address.clone(), e.list.clone()));
        }
    }
    // Allowlist changes are good news for reports, not alerts; a watched mail domain's
    // setup changes are told to the same people as its listings.
    let alerts: Vec<&Event> = events
        .iter()
        .filter(|e| e.policy == "block" || e.policy == crate::store::SETUP_POLICY)
        .collect();

    let contacts: HashMap<&str, &[String]> = targets
        .iter()
        .map(|t| (t.target.text.as_str(), t.contacts.as_slice()))
        .collect();
    // A recipient who is also a target's contact gets one mail, with each listing once:
    // addresses are compared without regard to case (their domains are case-insensitive,
    // and no real mail system tells the local parts apart by case either).
    let recipients_of = |target: &str| -> Vec<String> {
        let mut all: Vec<String> = Vec::new();
        let contacts = contacts.get(target).map(|c| c.to_vec()).unwrap_or_default();
        for r in config.recipients.iter().chain(&contacts) {
            if !all.iter().any(|a| a.eq_ignore_ascii_case(r)) {
                all.push(r.clone());
            }
        }
        all
    };

    // By address in lower case, with the first spelling met: one mail per mailbox.
    let mut per_recipient: BTreeMap<String, (String, Vec<&Event>)> = BTreeMap::new();
    if config.smtp.is_some() {
        for e in &alerts {
            for r in recipients_of(&e.target) {
                per_recipient
                    .entry(r.to_ascii_lowercase())
                    .or_insert_with(|| (r.clone(), Vec::new()))
                    .1
                    .push(e);
            }
        }
    }
    let context_for = |recipient: &str, events: &[&Event]| -> Context {
        let listings: Vec<Item> = events
            .iter()
            .filter(|e| e.new_status == "listed" && e.old_status.as_deref() != Some("listed"))
            .map(|e| item(e))
            .collect();
        let changes: Vec<Item> = events
            .iter()
            .filter(|e| e.new_status == "listed" && e.old_status.as_deref() == Some("listed"))
            .map(|e| item(e))
            .collect();
        let delistings: Vec<Item> = events
            .iter()
            .filter(|e| e.new_status == "clear" && e.policy != crate::store::SETUP_POLICY)
            .map(|e| item(e))
            .collect();
        let setup_changes: Vec<SetupChange> = events
            .iter()
            .filter(|e| e.policy == crate::store::SETUP_POLICY)
            .map(|e| SetupChange::from_event(e))
            .collect();
        // A setup change goes in a digest, with whatever listings came with it.
        let kind = if setup_changes.is_empty() {
            Context::kind_of(listings.len(), changes.len(), delistings.len())
        } else {
            Kind::Digest
        };
        Context {
            kind,
            generated_at: clock::format(now),
            hostname: context::hostname(),
            recipient: recipient.to_string(),
            listings,
            changes,
            delistings,
            setup_changes,
        }
    };
    for (recipient, events) in per_recipient.values() {
        let ctx = context_for(recipient, events);
        plan.outbox.push(mail_item(templates, &ctx, now)?);
    }
    if !alerts.is_empty() {
        for hook in &config.webhooks {
            let ctx = context_for(&hook.url, &alerts);
            plan.outbox
                .push(webhook_item(templates, &ctx, hook.format, &hook.url, now)?);
        }
    }

    // Reminders: listed for at least `reminder_days`, not reminded for as long.
    if config.reminder_days > 0 && config.smtp.is_some() {
        let period = i64::from(config.reminder_days) * 86_400;
        let changed: Vec<(&str, &str)> = events
            .iter()
            .map(|e| (e.address.as_str(), e.list.as_str()))
            .collect();
        let mut due: BTreeMap<String, (String, Vec<Item>)> = BTreeMap::new();
        for s in known
            .states
            .iter()
            .filter(|s| s.status == "listed" && s.policy == "block")
        {
            let key = (s.address.clone(), s.list.clone());
            let last = known.reminders.get(&key).copied().unwrap_or(s.since);
            if now - s.since < period
                || now - last < period
                || changed.contains(&(s.address.as_str(), s.list.as_str()))
            {
                continue;
            }
            let list = catalog.get(&s.list);
            let requested = known.requests.get(&key).copied();
            let it = Item::from_state(s, list).with_request(requested, s.since, list, now);
            for r in recipients_of(&s.target) {
                due.entry(r.to_ascii_lowercase())
                    .or_insert_with(|| (r.clone(), Vec::new()))
                    .1
                    .push(it.clone());
            }
            plan.reminded.push(key);
        }
        for (recipient, listings) in due.into_values() {
            let ctx = Context {
                kind: Kind::Reminder,
                generated_at: clock::format(now),
                hostname: context::hostname(),
                recipient: recipient.clone(),
                listings,
                changes: Vec::new(),
                delistings: Vec::new(),
                setup_changes: Vec::new(),
            };
            plan.outbox.push(mail_item(templates, &ctx, now)?);
        }
    }
    Ok(plan)
}

fn mail_item(templates: &Templates, ctx: &Context, now: i64) -> Result<OutboxItem, Error> {
    let body = templates.render(ctx)?;
    Ok(OutboxItem {
        id: 0,
        run: 0,
        created: now,
        channel: "mail".into(),
        recipient: ctx.recipient.clone(),
        subject: ctx.subject(),
        text: body.text,
        html: body.html,
        attempts: 0,
        next_attempt: now,
        last_error: None,
        sent: None,
        failed: None,
    })
}

/// What a hook of `format` is sent about `ctx`: rblwatch's JSON document, or the `text` a
/// Slack or Mattermost incoming webhook takes. `test` marks the sample `notify test` sends.
pub fn webhook_payload(
    templates: &Templates,
    ctx: &Context,
    format: WebhookFormat,
    test: bool,
) -> Result<serde_json::Value, Error> {
    Ok(match format {
        WebhookFormat::Json if test => {
            serde_json::json!({ "version": 1, "source": "rblwatch", "test": true, "event": ctx })
        }
        WebhookFormat::Json => {
            serde_json::json!({ "version": 1, "source": "rblwatch", "event": ctx })
        }
        WebhookFormat::Slack => {
            let body = templates.render(ctx)?;
            let tag = if test { "[rblwatch test] " } else { "" };
            serde_json::json!({ "text": format!("{tag}{}\n{}", ctx.subject(), body.text) })
        }
    })
}

fn webhook_item(
    templates: &Templates,
    ctx: &Context,
    format: WebhookFormat,
    url: &str,
    now: i64,
) -> Result<OutboxItem, Error> {
    let payload = webhook_payload(templates, ctx, format, false)?;
    Ok(OutboxItem {
        id: 0,
        run: 0,
        created: now,
        channel: "webhook".into(),
        recipient: url.to_string(),
        subject: ctx.subject(),
        text: payload.to_string(),
        html: String::new(),
        attempts: 0,
        next_attempt: now,
        last_error: None,
        sent: None,
        failed: None,
    })
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::config::{SmtpConfig, SmtpSecurity};

    fn config() -> NotifyConfig {
        NotifyConfig {
            recipients: vec!["ops@example.com".into()],
            templates: None,
            reminder_days: 3,
            retry_limit: 3,
            smtp: Some(SmtpConfig {
                host: "127.0.0.1".into(),
                port: 25,
                security: SmtpSecurity::None,
                from: "rblwatch@example.com".into(),
                username: None,
                password: None,
                ca_file: None,
                timeout: Duration::from_secs(5),
            }),
            webhooks: vec![],
        }
    }

    fn listed(list: &str, since: i64) -> StoredState {
        StoredState::listed_for_test(list, since)
    }

    #[test]
    fn reminders_come_after_the_period_once_per_period_and_call_out_overdue_requests() {
        let catalog = Catalog::builtin().expect("catalog");
        let templates = Templates::load(None).expect("templates");
        let now = 1_795_824_000;
        let day = 86_400;
        let states = vec![listed("spamcop", now - 10 * day), listed("psbl", now - day)];
        let key = ("192.0.2.5".to_string(), "spamcop".to_string());
        let requests = HashMap::from([(key.clone(), now - 5 * day)]);
        let plan_with = |reminders: &HashMap<(String, String), i64>| {
            let known = Known {
                states: &states,
                requests: &requests,
                reminders,
            };
            plan(&config(), &[], &catalog, &templates, &[], &known, now).expect("plan")
        };
        let first = plan_with(&HashMap::new());
        assert_eq!(first.reminded, vec![key.clone()], "psbl is too recent");
        assert_eq!(first.outbox.len(), 1);
        let mail = &first.outbox[0];
        assert_eq!(mail.subject, "[rblwatch] still listed: 192.0.2.5");
        assert!(
            mail.text.contains("OVERDUE"),
            "SpamCop expires after 1 day: {}",
            mail.text
        );
        assert!(
            mail.text.contains("removal requested 2026-11-23T00:00:00Z"),
            "{}",
            mail.text
        );

        let again = plan_with(&HashMap::from([(key, now - day)]));
        assert!(again.outbox.is_empty(), "reminded a day ago");
    }
}
