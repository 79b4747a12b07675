//! Watched mail domains in a pass: each `[[target]] domain = "..."` is read again (MX, SPF),
//! becomes the targets it holds now, and its changes since the last reading become events.
//!
//! A domain read only in part (a lookup failed) changes nothing: its last known members are
//! checked as well as what was found, none is taken as gone, and nothing is stored for it.

use std::collections::BTreeSet;

use crate::check::Resolution;
use crate::config::WatchTarget;
use crate::dns::Dns;
use crate::error::Error;
use crate::store::{DomainMember, Event, SETUP_ADDED, SETUP_POLICY, SETUP_REMOVED};
use crate::target::Target;

use super::{Member, Role};

/// What a pass watches once its mail domains are read.
#[derive(Debug, Default)]
pub struct Expanded {
    /// The plain targets and every member of every mail domain, each once.
    pub targets: Vec<WatchTarget>,
    /// The addresses of the domains' names, as read.
    pub resolutions: Vec<Resolution>,
    /// The domains read whole, with their members to store.
    pub domains: Vec<(String, Vec<DomainMember>)>,
    /// Members that joined or left a domain's setup since its last whole reading.
    pub events: Vec<Event>,
    /// Domains that could not be read whole, and why.
    pub notes: Vec<String>,
}

/// Reads every mail domain of `targets`; `stored` gives a domain's members at its last
/// whole reading. Events are stamped `now`.
pub async fn expand(
    dns: &Dns,
    targets: &[WatchTarget],
    stored: impl Fn(&str) -> Result<Vec<DomainMember>, Error>,
    now: i64,
) -> Result<Expanded, Error> {
    let mut out = Expanded::default();
    for watched in targets {
        if !watched.mail_domain {
            add(&mut out.targets, watched.clone());
            continue;
        }
        let domain = watched
            .target
            .text
            .trim_end_matches('.')
            .to_ascii_lowercase();
        let setup = super::resolve(dns, &domain).await;
        let old = stored(&domain)?;
        let label = watched.label.clone().or_else(|| Some(domain.clone()));
        let members: Vec<Member> = if setup.complete {
            let now_members: Vec<DomainMember> = setup
                .members
                .iter()
                .map(|m| DomainMember {
                    role: m.role.to_string(),
                    target: m.target.clone(),
                    path: m.path.clone(),
                    since: old
                        .iter()
                        .find(|o| o.role == m.role.as_str() && o.target == m.target)
                        .map_or(now, |o| o.since),
                })
                .collect();
            // The first whole reading is the baseline: nothing joined, it was found.
            if !old.is_empty() {
                let key = |m: &DomainMember| (m.role.clone(), m.target.clone());
                let before: BTreeSet<_> = old.iter().map(key).collect();
                let after: BTreeSet<_> = now_members.iter().map(key).collect();
                for m in now_members.iter().filter(|m| !before.contains(&key(m))) {
                    out.events
                        .push(change(&domain, &label, m, SETUP_ADDED, now));
                }
                for m in old.iter().filter(|m| !after.contains(&key(m))) {
                    out.events
                        .push(change(&domain, &label, m, SETUP_REMOVED, now));
                }
            }
            out.domains.push((domain.clone(), now_members));
            setup.members.clone()
        } else {
            let why: Vec<String> = setup
                .notes
                .iter()
                .chain(&setup.spf.notes)
                .filter(|n| n.contains("could not be"))
                .cloned()
                .collect();
            out.notes.push(format!(
                "mail domain {domain} could not be read whole ({}): its last known members are checked too, and none is taken as gone",
                why.join("; ")
            ));
            let mut all = setup.members.clone();
            for o in &old {
                let role = role_named(&o.role);
                if !all.iter().any(|m| m.role == role && m.target == o.target) {
                    all.push(Member {
                        domain: domain.clone(),
                        role,
                        target: o.target.clone(),
                        path: o.path.clone(),
                    });
                }
            }
            all
        };
        for resolution in setup.resolutions() {
            if !out
                .resolutions
                .iter()
                .any(|r| r.target == resolution.target)
            {
                out.resolutions.push(resolution);
            }
        }
        for member in members {
            let Ok(target) = Target::parse(&member.target) else {
                continue;
            };
            // An SPF record may authorise any range (even ip4:0.0.0.0/0): a pass checks at
            // most a /16 per target, as for a configured one.
            if target.address_count() > crate::config::MAX_TARGET_ADDRESSES {
                out.notes.push(format!(
                    "{} in {domain}'s mail setup ({}) holds {} addresses, more than a pass checks per target (a /16): not checked",
                    member.target,
                    member.path,
                    target.address_count()
                ));
                continue;
            }
            add(
                &mut out.targets,
                WatchTarget {
                    target,
                    label: label.clone(),
                    contacts: watched.contacts.clone(),
                    mail_domain: false,
                    member_of: vec![member],
                },
            );
        }
    }
    Ok(out)
}

/// The targets the config watches as of the last passes, without DNS: each mail domain as
/// the members stored at its last whole reading (itself, when it was never read whole).
pub fn as_stored(
    targets: &[WatchTarget],
    stored: impl Fn(&str) -> Result<Vec<DomainMember>, Error>,
) -> Result<Vec<WatchTarget>, Error> {
    let mut out = Vec::new();
    for watched in targets {
        if !watched.mail_domain {
            add(&mut out, watched.clone());
            continue;
        }
        let domain = watched
            .target
            .text
            .trim_end_matches('.')
            .to_ascii_lowercase();
        let members = stored(&domain)?;
        if members.is_empty() {
            add(&mut out, watched.clone());
            continue;
        }
        let label = watched.label.clone().or_else(|| Some(domain.clone()));
        for m in members {
            let Ok(target) = Target::parse(&m.target) else {
                continue;
            };
            add(
                &mut out,
                WatchTarget {
                    target,
                    label: label.clone(),
                    contacts: watched.contacts.clone(),
                    mail_domain: false,
                    member_of: vec![Member {
                        domain: domain.clone(),
                        role: role_named(&m.role),
                        target: m.target.clone(),
                        path: m.path.clone(),
                    }],
                },
            );
        }
    }
    Ok(out)
}

fn role_named(word: &str) -> Role {
    match word {
        "sending" => Role::Sending,
        "receiving" => Role::Receiving,
        _ => Role::Domain,
    }
}

/// Adds a target, or merges it into the one with the same text (its roles and contacts).
fn add(targets: &mut Vec<WatchTarget>, target: WatchTarget) {
    match targets
        .iter_mut()
        .find(|t| t.target.text == target.target.text)
    {
        Some(existing) => {
            for contact in target.contacts {
                if !existing
                    .contacts
                    .iter()
                    .any(|c| c.eq_ignore_ascii_case(&contact))
                {
                    existing.contacts.push(contact);
                }
            }
            for member in target.member_of {
                if !existing.member_of.contains(&member) {
                    existing.member_of.push(member);
                }
            }
            if existing.label.is_none() {
                existing.label = target.label;
            }
        }
        None => targets.push(target),
    }
}

/// A member joining or leaving a domain's setup, as an event of the pass.
fn change(domain: &str, label: &Option<String>, m: &DomainMember, status: &str, at: i64) -> Event {
    Event {
        id: 0,
        run: 0,
        at,
        target: domain.to_string(),
        label: label.clone(),
        address: m.target.clone(),
        list: m.role.clone(),
        policy: SETUP_POLICY.into(),
        old_status: None,
        new_status: status.into(),
        old_codes: Vec::new(),
        codes: Vec::new(),
        meanings: vec![m.path.clone()],
        txt: Vec::new(),
        delist_url: None,
    }
}
