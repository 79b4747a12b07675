//! The template context: what a mail says, built from events and the catalog. Every field is
//! always present (null when unknown), so templates can test them under strict undefined
//! handling. The README documents each field.

use std::net::Ipv4Addr;

use serde::Serialize;

use super::advice;
use crate::clock;
use crate::lists::{Catalog, DelistMethod, List};
use crate::report::{delist_method, delist_text};
use crate::store::{Event, StoredState};

/// Which message this is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// Only new listings.
    Listed,
    /// Only delistings.
    Delisted,
    /// A mix of changes from one pass.
    Digest,
    /// What is still listed after some days.
    Reminder,
}

impl Kind {
    /// The template name without extension.
    pub fn template(self) -> &'static str {
        match self {
            Kind::Listed => "listed",
            Kind::Delisted => "delisted",
            Kind::Digest => "digest",
            Kind::Reminder => "reminder",
        }
    }

    /// Parses `listed`, `delisted`, `digest` or `reminder`.
    pub fn parse(text: &str) -> Option<Kind> {
        [Kind::Listed, Kind::Delisted, Kind::Digest, Kind::Reminder]
            .into_iter()
            .find(|k| k.template() == text)
    }
}

/// The list of an item.
#[derive(Debug, Clone, Serialize)]
pub struct ListInfo {
    /// Catalog id.
    pub id: String,
    /// Human name.
    pub name: String,
    /// DNS zone (a key shown as `{key}`).
    pub zone: String,
    /// `block` or `allow`.
    pub policy: String,
}

/// How to get off the list, for this listing.
#[derive(Debug, Clone, Serialize)]
pub struct DelistInfo {
    /// The lookup or removal page, with the address filled in where the page takes it.
    pub url: Option<String>,
    /// `self-service`, `automatic`, `isp-only` or `request`.
    pub method: String,
    /// The whole procedure in one paragraph.
    pub procedure: String,
    /// The list's stated expiry period, in days.
    pub expires_after_days: Option<u32>,
    /// When an automatic listing should be gone, from the first sighting and that period.
    pub expected_expiry: Option<String>,
    /// The list sells express delisting (never needed).
    pub paid_express: bool,
}

/// A part the listed address plays in a watched mail domain.
#[derive(Debug, Clone, Serialize)]
pub struct RoleInfo {
    /// The domain.
    pub domain: String,
    /// `sending`, `receiving` or `domain`.
    pub role: String,
    /// How it belongs to the domain: `spf: include:_spf.example.net ip4:198.51.100.0/28`.
    pub path: String,
}

/// An address or name that joined or left a watched domain's mail setup.
#[derive(Debug, Clone, Serialize)]
pub struct SetupChange {
    /// The domain.
    pub domain: String,
    /// The address, network or name.
    pub address: String,
    /// `sending`, `receiving` or `domain`.
    pub role: String,
    /// How it belongs (or belonged) to the domain.
    pub path: String,
    /// `added` or `removed`.
    pub change: String,
}

impl SetupChange {
    /// The change recorded by a pass as a setup event.
    pub fn from_event(e: &Event) -> SetupChange {
        SetupChange {
            domain: e.target.clone(),
            address: e.address.clone(),
            role: e.list.clone(),
            path: e.meanings.join("; "),
            change: e.new_status.clone(),
        }
    }
}

/// One listing, delisting or change.
#[derive(Debug, Clone, Serialize)]
pub struct Item {
    /// The configured target.
    pub target: String,
    /// Its label.
    pub label: Option<String>,
    /// The address or name that is listed.
    pub address: String,
    /// The list.
    pub list: ListInfo,
    /// The codes now.
    pub codes: Vec<String>,
    /// The codes before (changes).
    pub old_codes: Vec<String>,
    /// What the codes mean.
    pub meanings: Vec<String>,
    /// The list's TXT reason.
    pub txt: Vec<String>,
    /// Listed (or clear) since, RFC 3339 UTC.
    pub since: String,
    /// How to get off it.
    pub delist: Option<DelistInfo>,
    /// The likely cause and what to fix before asking for removal.
    pub fix_first: Option<String>,
    /// When a removal was requested (`rblwatch delist --requested`).
    pub requested_at: Option<String>,
    /// How long the list took after the request (delistings).
    pub took: Option<String>,
    /// Still listed after the list's own stated period (reminders).
    pub overdue: bool,
    /// The parts it plays in watched mail domains (empty for a plain target).
    pub roles: Vec<RoleInfo>,
}

/// Everything a template sees.
#[derive(Debug, Clone, Serialize)]
pub struct Context {
    /// Which message.
    pub kind: Kind,
    /// When it was made, RFC 3339 UTC.
    pub generated_at: String,
    /// This machine's host name.
    pub hostname: String,
    /// Who it is for (an address, or a webhook URL).
    pub recipient: String,
    /// New listings (and, for reminders, what is still listed).
    pub listings: Vec<Item>,
    /// Listings whose codes changed.
    pub changes: Vec<Item>,
    /// Listings that went away.
    pub delistings: Vec<Item>,
    /// Addresses and names that joined or left a watched mail domain's setup.
    pub setup_changes: Vec<SetupChange>,
}

impl Context {
    /// The kind of a message holding these groups.
    pub fn kind_of(listings: usize, changes: usize, delistings: usize) -> Kind {
        match (listings, changes, delistings) {
            (_, 0, 0) => Kind::Listed,
            (0, 0, _) => Kind::Delisted,
            _ => Kind::Digest,
        }
    }

    /// The subject line.
    pub fn subject(&self) -> String {
        let first = self
            .listings
            .first()
            .or(self.changes.first())
            .or(self.delistings.first());
        let about = first.map_or_else(String::new, |i| {
            format!(
                "{}{}",
                i.address,
                i.label
                    .as_deref()
                    .map(|l| format!(" ({l})"))
                    .unwrap_or_default()
            )
        });
        let more = self.listings.len() + self.changes.len() + self.delistings.len();
        let more = if more > 1 {
            format!(" and {} more", more - 1)
        } else {
            String::new()
        };
        match self.kind {
            Kind::Listed => format!(
                "[rblwatch] {about} listed on {}{more}",
                first.map_or("a blocklist", |i| i.list.name.as_str())
            ),
            Kind::Delisted => format!(
                "[rblwatch] {about} no longer listed on {}{more}",
                first.map_or("a blocklist", |i| i.list.name.as_str())
            ),
            Kind::Digest if first.is_none() => match self.setup_changes.first() {
                Some(c) => format!("[rblwatch] mail setup of {} changed", c.domain),
                None => "[rblwatch] blocklist changes".into(),
            },
            Kind::Digest => format!("[rblwatch] blocklist changes: {about}{more}"),
            Kind::Reminder => format!("[rblwatch] still listed: {about}{more}"),
        }
    }

    /// A context with every field filled, for `notify render` and template checks.
    pub fn sample(kind: Kind) -> Context {
        let catalog = Catalog::builtin().ok();
        let zen = catalog.as_ref().and_then(|c| c.get("spamhaus-zen"));
        let spamcop = catalog.as_ref().and_then(|c| c.get("spamcop"));
        let state = |list: &str, codes: &[&str], meanings: &[&str], txt: &str| StoredState {
            address: "192.0.2.25".into(),
            list: list.into(),
            target: "mail.example.com".into(),
            label: Some("mx1".into()),
            policy: "block".into(),
            status: "listed".into(),
            codes: codes.iter().map(ToString::to_string).collect(),
            meanings: meanings.iter().map(ToString::to_string).collect(),
            txt: vec![txt.into()],
            since: 1_795_824_000,
            checked: 1_795_824_000,
        };
        let mut sbl = Item::from_state(
            &state(
                "spamhaus-zen",
                &["127.0.0.2", "127.0.0.4"],
                &[
                    "127.0.0.2: SBL: verified spam source",
                    "127.0.0.4: XBL: exploited host",
                ],
                "(the TXT reason the list gives)",
            ),
            zen,
        );
        sbl.old_codes = vec!["127.0.0.2".into()];
        sbl.requested_at = Some(clock::format(1_795_827_600));
        sbl.took = Some("2 days".into());
        sbl.overdue = true;
        let mut scbl = Item::from_state(
            &state(
                "spamcop",
                &["127.0.0.2"],
                &["127.0.0.2: listed: spam reports"],
                "(the TXT reason the list gives)",
            ),
            spamcop,
        );
        scbl.old_codes = vec![];
        scbl.requested_at = Some(clock::format(1_795_827_600));
        scbl.took = Some("1 day".into());
        scbl.roles = vec![RoleInfo {
            domain: "example.com".into(),
            role: "sending".into(),
            path: "spf: include:_spf.provider.example ip4:192.0.2.0/28".into(),
        }];
        let items = vec![sbl, scbl];
        Context {
            kind,
            generated_at: clock::format(1_795_860_227),
            hostname: "monitor.example.com".into(),
            recipient: "postmaster@example.com".into(),
            listings: items.clone(),
            changes: items.clone(),
            delistings: items,
            setup_changes: vec![SetupChange {
                domain: "example.com".into(),
                address: "198.51.100.9".into(),
                role: "sending".into(),
                path: "spf: ip4:198.51.100.9".into(),
                change: "added".into(),
            }],
        }
    }
}

impl Item {
    /// An item from a change in the log.
    pub fn from_event(event: &Event, list: Option<&List>) -> Item {
        Item::build(
            &event.target,
            event.label.clone(),
            &event.address,
            &event.list,
            &event.policy,
            &event.codes,
            &event.meanings,
            &event.txt,
            event.at,
            list,
        )
        .with_old_codes(event.old_codes.clone())
    }

    /// An item from a stored state (reminders).
    pub fn from_state(state: &StoredState, list: Option<&List>) -> Item {
        Item::build(
            &state.target,
            state.label.clone(),
            &state.address,
            &state.list,
            &state.policy,
            &state.codes,
            &state.meanings,
            &state.txt,
            state.since,
            list,
        )
    }

    /// Records the removal request, if any, and whether the listing is overdue at `now`:
    /// still there after the list's own stated period since the request (or, for lists that
    /// expire by themselves, since the listing was first seen at `since`).
    pub fn with_request(
        mut self,
        requested: Option<i64>,
        since: i64,
        list: Option<&List>,
        now: i64,
    ) -> Item {
        self.requested_at = requested.map(clock::format);
        self.overdue = list
            .and_then(|l| l.delist.as_ref())
            .and_then(|d| d.expires_after_days)
            .is_some_and(|days| now > requested.unwrap_or(since) + i64::from(days) * 86_400);
        self
    }

    fn with_old_codes(mut self, old: Vec<String>) -> Item {
        self.old_codes = old;
        self
    }

    #[allow(clippy::too_many_arguments)]
    fn build(
        target: &str,
        label: Option<String>,
        address: &str,
        list_id: &str,
        policy: &str,
        codes: &[String],
        meanings: &[String],
        txt: &[String],
        since: i64,
        list: Option<&List>,
    ) -> Item {
        let addrs: Vec<Ipv4Addr> = codes.iter().filter_map(|c| c.parse().ok()).collect();
        let delist = list.and_then(|l| {
            let d = l.delist.as_ref()?;
            let method = delist_method(l, &addrs)?;
            let expected_expiry = match (method, d.expires_after_days) {
                (DelistMethod::Automatic, Some(days)) => {
                    Some(clock::format(since + i64::from(days) * 86_400))
                }
                _ => None,
            };
            Some(DelistInfo {
                url: d.url_for(address),
                method: method.to_string(),
                procedure: delist_text(l, &addrs).unwrap_or_default(),
                expires_after_days: d.expires_after_days,
                expected_expiry,
                paid_express: d.paid_express,
            })
        });
        Item {
            target: target.to_string(),
            label,
            address: address.to_string(),
            list: ListInfo {
                id: list_id.to_string(),
                name: list.map_or_else(|| list_id.to_string(), |l| l.name.to_string()),
                zone: list.map_or_else(String::new, |l| l.zone.clone()),
                policy: policy.to_string(),
            },
            codes: codes.to_vec(),
            old_codes: Vec::new(),
            meanings: meanings.to_vec(),
            txt: txt.to_vec(),
            since: clock::format(since),
            delist,
            fix_first: advice::fix_first(meanings, address),
            requested_at: None,
            took: None,
            overdue: false,
            roles: Vec::new(),
        }
    }
}

/// This machine's host name, for the signature of mails.
pub fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for its length; gethostname NUL-terminates within it or
    // truncates, and the result is read only up to the first NUL.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return "localhost".into();
    }
    let end = buf.iter().position(|b| *b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}
