//! Which lists one run queries: the catalog's defaults, or the ids the user named.
//!
//! Defunct lists are refused by id with the reason they are gone; key-needing lists get their
//! key from the environment here, and are skipped with a note when it is unset.

use std::sync::Arc;

use super::{Catalog, List, Text};
use crate::error::Error;

/// The user's choice of lists, as given on the command line or in a config.
#[derive(Debug, Clone, Default)]
pub struct SelectionRequest {
    /// Query exactly these lists (the defaults are ignored when this is not empty).
    pub only: Vec<String>,
    /// Add these to the defaults.
    pub enable: Vec<String>,
    /// Remove these from the defaults.
    pub disable: Vec<String>,
    /// Query limits that replace the catalog's for these lists (from the config).
    pub limits: Vec<(String, super::Limits)>,
    /// Local mirror files that answer for these lists instead of DNS (from the config).
    pub mirrors: Vec<(String, crate::mirror::Source)>,
}

/// A list ready to be queried: its entry and the zone with any key filled in.
#[derive(Debug, Clone)]
pub struct ActiveList {
    /// The catalog entry.
    pub list: Arc<List>,
    /// The zone to query (with the key, for key-needing lists: never print it).
    pub zone: String,
}

impl ActiveList {
    /// The zone as it may be shown: a key in it is replaced by `{key}`.
    pub fn display_zone(&self) -> &str {
        &self.list.zone
    }
}

/// The lists of one run, and what was left out and why.
#[derive(Debug, Clone)]
pub struct Selection {
    /// The lists to query, in catalog order.
    pub lists: Vec<ActiveList>,
    /// One line per list that was asked for but cannot be queried (a missing key).
    pub notes: Vec<String>,
}

impl Selection {
    /// Picks the lists of a run from `catalog`; `env` reads an environment variable.
    pub fn resolve(
        catalog: &Catalog,
        request: &SelectionRequest,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Selection, Error> {
        for id in request
            .only
            .iter()
            .chain(&request.enable)
            .chain(&request.disable)
        {
            let list = catalog.get(id).ok_or_else(|| Error::UnknownList {
                id: id.clone(),
                origin: catalog.origin.clone(),
            })?;
            if let Some(defunct) = &list.defunct {
                return Err(Error::DefunctList {
                    id: id.clone(),
                    name: list.name.to_string(),
                    since: defunct.since.as_ref().map(Text::to_string),
                    reason: defunct.reason.to_string(),
                });
            }
        }
        let wanted = |list: &List| -> bool {
            let named = |ids: &[String]| ids.contains(&list.id);
            if !request.only.is_empty() {
                return named(&request.only);
            }
            (list.default || named(&request.enable)) && !named(&request.disable)
        };
        let mut lists = Vec::new();
        let mut notes = Vec::new();
        for list in catalog
            .lists
            .iter()
            .filter(|l| l.defunct.is_none() && wanted(l))
        {
            // A mirror named in the config takes the place of the catalog's.
            let config_mirror = request
                .mirrors
                .iter()
                .find(|(id, _)| *id == list.id)
                .map(|(_, source)| source);
            // A list sold only by rsync has no DNS zone anyone may ask.
            if list.access == super::Access::Subscription
                && config_mirror.is_none()
                && list.mirror.is_none()
            {
                notes.push(format!(
                    "{} skipped: its data is sold by rsync only; name your copy with `[lists] mirror.{} = {{ file = \"...\", format = \"{}\" }}` in the config",
                    list.id,
                    list.id,
                    if list.serves(super::QueryKind::Domain) { "dnset" } else { "ip4set" }
                ));
                continue;
            }
            let zone = match &list.key_env {
                None => list.zone.clone(),
                Some(var) => match env(var).filter(|key| !key.trim().is_empty()) {
                    Some(key) => {
                        let key = key.trim();
                        if !key.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
                            return Err(Error::Usage {
                                arg: format!("${var}"),
                                message: format!(
                                    "the key for list `{}` must be letters, digits and `-` only",
                                    list.id
                                ),
                            });
                        }
                        list.zone.replace("{key}", key)
                    }
                    None => {
                        notes.push(format!(
                            "{} skipped: it needs a key in ${var}{}",
                            list.id,
                            list.info
                                .as_deref()
                                .map(|url| format!(" (see {url})"))
                                .unwrap_or_default()
                        ));
                        continue;
                    }
                },
            };
            // The catalog's entry is shared, and copied only where the config changes it.
            let mut list = Arc::clone(list);
            if let Some((_, limits)) = request.limits.iter().find(|(id, _)| *id == list.id) {
                Arc::make_mut(&mut list).limits = *limits;
            }
            if let Some(mirror) = config_mirror {
                Arc::make_mut(&mut list).mirror = Some(mirror.clone());
            }
            lists.push(ActiveList { list, zone });
        }
        Ok(Selection { lists, notes })
    }
}
