//! The catalog of blocklists: what each list serves, what its answers mean, how to get off it.
//!
//! `lists.toml` is compiled in as the built-in catalog; `--lists FILE` reads another of the same
//! format. Parsing and validation live in `parse`, the code patterns in `code`, picking the
//! lists of one run in `select`. Nothing here touches the network.

mod code;
mod image;
mod parse;
mod select;
mod text;

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

pub use code::{CodeMatcher, CodePattern};
pub(crate) use parse::is_web_address;
pub use select::{ActiveList, Selection, SelectionRequest};
pub use text::Text;

use crate::error::Error;

/// The built-in catalog's text, as shipped in the repository's `lists.toml`.
pub const BUILTIN_TOML: &str = include_str!("../../lists.toml");
const BUILTIN_ORIGIN: &str = "lists.toml (built-in)";

/// What a list can be asked about (RFC 5782 sections 2.1, 2.4 and 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum QueryKind {
    /// IPv4 addresses, queried as reversed octets.
    Ipv4,
    /// IPv6 addresses, queried as 32 reversed nibbles.
    Ipv6,
    /// Domain names, prepended to the zone.
    Domain,
}

impl fmt::Display for QueryKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            QueryKind::Ipv4 => "ipv4",
            QueryKind::Ipv6 => "ipv6",
            QueryKind::Domain => "domain",
        })
    }
}

/// Whether a hit is bad news (a blocklist) or good news (an allowlist such as dnswl.org).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Policy {
    /// A listing means mail from the address is likely refused or scored down.
    Block,
    /// A listing means the address is known good.
    Allow,
}

impl fmt::Display for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Policy::Block => "block",
            Policy::Allow => "allow",
        })
    }
}

/// Who may query a list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Access {
    /// Anyone, within the list's usage terms.
    Public,
    /// Only from resolvers whose addresses were registered with the list (Barracuda, Validity).
    Registration,
    /// Only with a key in the zone name (Spamhaus DQS, Abusix).
    Key,
    /// The data is sold by rsync only (invaluement): asked only from a local mirror the config
    /// names, never by DNS.
    Subscription,
}

/// How a listing goes away.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DelistMethod {
    /// The address owner asks on the list's web page and it is removed.
    SelfService,
    /// The listing expires by itself once the abuse stops; no request is needed.
    Automatic,
    /// Only the network's owner (ISP, hosting provider) can have it removed.
    IspOnly,
    /// A request (mail or form) reviewed by the list's people.
    Request,
}

impl fmt::Display for DelistMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DelistMethod::SelfService => "self-service",
            DelistMethod::Automatic => "automatic",
            DelistMethod::IspOnly => "isp-only",
            DelistMethod::Request => "request",
        })
    }
}

/// One known return code of a list and what it means.
#[derive(Debug, Clone)]
pub struct Code {
    /// Which A records this entry stands for.
    pub matcher: CodeMatcher,
    /// What the list says the code means.
    pub meaning: Text,
    /// False for a known code that is not a listing (Hostkarma's "white", age buckets).
    pub listing: bool,
    /// How a listing with this code goes away, where it differs from the list's own procedure
    /// (Spamhaus SBL: ISP only, while XBL and PBL are self-service).
    pub delist: Option<DelistMethod>,
}

/// A list's RFC 5782 test points: queries that must and must not be listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestPoints {
    /// Must be listed (127.0.0.2, `::ffff:7f00:2`, `test`, or the list's own).
    pub positive: Text,
    /// Must not be listed (127.0.0.1, `::ffff:7f00:1`, `invalid`, or the list's own).
    pub negative: Text,
}

/// How to get off a list.
#[derive(Debug, Clone)]
pub struct Delist {
    /// Where to look up and request removal; `{address}` is replaced by the listed address.
    pub url: Option<Text>,
    /// How removal works.
    pub method: DelistMethod,
    /// Listings expire by themselves this many days after the abuse stops.
    pub expires_after_days: Option<u32>,
    /// The list sells faster removal, which is never needed (RFC 6471 section 2.2.5).
    pub paid_express: bool,
    /// The steps and caveats in the list's own words, shortened.
    pub note: Option<Text>,
}

impl Delist {
    /// The delisting URL with `address` filled in where the list's page takes it.
    pub fn url_for(&self, address: &str) -> Option<String> {
        self.url
            .as_ref()
            .map(|url| url.replace("{address}", address))
    }
}

/// How much a list may be asked (its operator's usage terms).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Limits {
    /// At most this many queries a second.
    pub qps: Option<f64>,
    /// At most this many queries a day.
    pub daily: Option<u64>,
}

/// Why a list is no longer queried.
#[derive(Debug, Clone)]
pub struct Defunct {
    /// When it stopped (`YYYY-MM-DD`, or a year), where known.
    pub since: Option<Text>,
    /// What happened and what the zone does now.
    pub reason: Text,
}

/// One blocklist or allowlist of the catalog.
#[derive(Debug, Clone)]
pub struct List {
    /// Short, stable identifier (`spamhaus-zen`).
    pub id: String,
    /// Human name.
    pub name: Text,
    /// The DNS zone; may contain `{key}` for lists that take a key in the zone name.
    pub zone: String,
    /// What the list can be asked about.
    pub query: Vec<QueryKind>,
    /// Block or allow.
    pub policy: Policy,
    /// Who may query it.
    pub access: Access,
    /// The environment variable holding the key, for `Access::Key` lists.
    pub key_env: Option<String>,
    /// Queried when no list is named explicitly.
    pub default: bool,
    /// Domain lists that expect the registrable domain (SURBL, URIBL) rather than the name as given.
    pub registrable_domain: bool,
    /// Known listing and informational codes.
    pub codes: Vec<Code>,
    /// Codes that mean the list refused to answer (public resolver, over quota, bad key).
    pub refusals: Vec<Code>,
    /// The RFC 5782 test points used by the health check.
    pub test: TestPoints,
    /// How to get off the list.
    pub delist: Option<Delist>,
    /// Set for lists that are dead and never queried.
    pub defunct: Option<Defunct>,
    /// The list's home page.
    pub info: Option<Text>,
    /// Where the facts of this entry come from.
    pub sources: Vec<Text>,
    /// The operator's query limits.
    pub limits: Limits,
    /// A local rbldnsd data file answered in-process instead of DNS.
    pub mirror: Option<crate::mirror::Source>,
    /// Anything else a user should know (usage terms, caveats).
    pub note: Option<Text>,
}

impl List {
    /// Whether the list answers questions of this kind.
    pub fn serves(&self, kind: QueryKind) -> bool {
        self.query.contains(&kind)
    }

    /// The refusal code matching `addr`, if it is one.
    pub fn refusal_for(&self, addr: std::net::Ipv4Addr) -> Option<&Code> {
        self.refusals.iter().find(|code| code.matcher.matches(addr))
    }
}

/// A whole catalog, with where it came from for error messages.
#[derive(Debug, Clone)]
pub struct Catalog {
    /// Every entry in file order, defunct ones included; shared with the runs that query them.
    pub lists: Vec<Arc<List>>,
    /// `lists.toml (built-in)` or the path of the file read.
    pub origin: String,
}

impl Catalog {
    /// The catalog compiled into the binary.
    pub fn builtin() -> Result<Catalog, Error> {
        parse::parse_image(image::BUILTIN_IMAGE, BUILTIN_ORIGIN)
            .or_else(|_| parse::parse(BUILTIN_TOML, BUILTIN_ORIGIN))
    }

    /// Reads a catalog file of the same format as `lists.toml`.
    ///
    /// Active entries may not use a zone the built-in catalog knows to be dead: a dead zone
    /// often answers every query (dnsbl-facts.md 3.2) and would report the world as listed.
    pub fn from_file(path: &Path) -> Result<Catalog, Error> {
        let origin = path.display().to_string();
        let text =
            crate::files::read_text(path, crate::files::CATALOG_LIMIT).map_err(|source| {
                Error::Read {
                    path: origin.clone(),
                    source,
                }
            })?;
        let mut catalog = parse::parse(&text, &origin)?;
        parse::refuse_dead_zones(&catalog, &text, &Catalog::builtin()?)?;
        // A mirror file named relative to the catalog is found next to it.
        let dir = path.parent().unwrap_or(Path::new("."));
        for list in &mut catalog.lists {
            if list.mirror.as_ref().is_some_and(|m| m.file.is_relative())
                && let Some(mirror) = Arc::make_mut(list).mirror.as_mut()
            {
                mirror.file = dir.join(&mirror.file);
            }
        }
        Ok(catalog)
    }

    /// Adds the entries of another catalog; an id or zone both already have is refused.
    pub fn extend(&mut self, other: Catalog) -> Result<(), String> {
        for list in &other.lists {
            if self.get(&list.id).is_some() {
                return Err(format!(
                    "list `{}` of {} is already defined (ids must be unique across catalogs)",
                    list.id, other.origin
                ));
            }
            if let Some(known) = self.lists.iter().find(|l| l.zone == list.zone) {
                return Err(format!(
                    "zone `{}` of list `{}` ({}) is already used by list `{}`",
                    list.zone, list.id, other.origin, known.id
                ));
            }
        }
        self.lists.extend(other.lists);
        Ok(())
    }

    /// The entry with this id.
    pub fn get(&self, id: &str) -> Option<&List> {
        self.lists
            .iter()
            .find(|list| list.id == id)
            .map(|list| &**list)
    }
}

#[cfg(test)]
mod tests {

    /// The catalog with random characters deleted, replaced and inserted: every version
    /// parses or is refused with a message; none panics.
    #[test]
    fn mangled_catalogs_never_panic() {
        use rand::{RngExt, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(2);
        let base: Vec<char> = BUILTIN_TOML.chars().collect();
        let junk: Vec<char> = "\"'[]{}=,.#\n0123456789abc\u{0}\u{1b}".chars().collect();
        for _ in 0..200 {
            let mut text = base.clone();
            for _ in 0..rng.random_range(1..20) {
                let at = rng.random_range(0..text.len());
                match rng.random_range(0..3) {
                    0 => {
                        text.remove(at);
                    }
                    1 => text[at] = junk[rng.random_range(0..junk.len())],
                    _ => text.insert(at, junk[rng.random_range(0..junk.len())]),
                }
            }
            let text: String = text.into_iter().collect();
            if let Err(err) = parse::parse(&text, "fuzz.toml") {
                assert!(!err.to_string().is_empty());
            }
        }
    }

    use std::collections::HashSet;

    use super::*;

    fn builtin() -> Catalog {
        Catalog::builtin().expect("the built-in catalog parses and validates")
    }

    /// What the binary reads at start (the build's image) is the catalog the TOML says.
    #[test]
    fn the_image_reads_as_the_toml() {
        let from_image = parse::parse_image(image::BUILTIN_IMAGE, BUILTIN_ORIGIN)
            .expect("the image of lists.toml reads and validates");
        let from_toml = parse::parse(BUILTIN_TOML, BUILTIN_ORIGIN).expect("lists.toml");
        assert_eq!(format!("{from_image:?}"), format!("{from_toml:?}"));
        assert!(from_image.lists.len() > 30);
        // An image that does not fit the raw types, or is cut short, is refused, not half read.
        let entry = "m\x01\0\0\0\x04\0\0\0lista\x01\0\0\0m\x01\0\0\0\x02\0\0\0ids\x01\0\0\0x";
        assert!(parse::parse_image(entry, BUILTIN_ORIGIN).is_err());
        let image = image::BUILTIN_IMAGE;
        let end = (0..image.len()).rev().find(|&i| image.is_char_boundary(i));
        let cut = &image[..end.unwrap_or(0)];
        assert!(parse::parse_image(cut, BUILTIN_ORIGIN).is_err());
        let longer = format!("{}t", image::BUILTIN_IMAGE);
        assert!(parse::parse_image(longer.leak(), BUILTIN_ORIGIN).is_err());
        // A length that would end inside a character is refused, not a panic.
        let split = "s\x01\0\0\0é";
        assert!(parse::parse_image(split, BUILTIN_ORIGIN).is_err());
        assert!(parse::parse_image("", BUILTIN_ORIGIN).is_err());
    }

    #[test]
    fn every_built_in_entry_is_complete() {
        let catalog = builtin();
        for list in &catalog.lists {
            assert!(!list.name.is_empty(), "{}", list.id);
            assert!(!list.sources.is_empty(), "{} names no source", list.id);
            if let Some(defunct) = &list.defunct {
                assert!(!defunct.reason.is_empty(), "{}", list.id);
                assert!(!list.default, "{} is defunct and on", list.id);
                continue;
            }
            assert!(!list.query.is_empty(), "{} serves nothing", list.id);
            assert!(
                list.codes.iter().any(|c| c.listing),
                "{} has no listing code",
                list.id
            );
            assert!(
                list.codes.iter().all(|c| !c.meaning.is_empty()),
                "{}",
                list.id
            );
            assert!(
                !list.test.positive.is_empty() && !list.test.negative.is_empty(),
                "{}",
                list.id
            );
            if list.policy == Policy::Block {
                assert!(
                    list.delist.is_some(),
                    "{} has no delisting procedure",
                    list.id
                );
            }
            if list.default {
                assert_eq!(
                    list.access,
                    Access::Public,
                    "{} needs a key or registration",
                    list.id
                );
            }
            assert_eq!(
                list.access == Access::Key,
                list.key_env.is_some(),
                "{}",
                list.id
            );
            assert_eq!(
                list.access == Access::Key,
                list.zone.contains("{key}"),
                "{}",
                list.id
            );
        }
    }

    #[test]
    fn every_zone_and_id_is_unique() {
        let catalog = builtin();
        let mut zones = HashSet::new();
        let mut ids = HashSet::new();
        for list in &catalog.lists {
            assert!(zones.insert(list.zone.clone()), "zone {} twice", list.zone);
            assert!(ids.insert(list.id.clone()), "id {} twice", list.id);
        }
    }

    #[test]
    fn the_reference_lists_are_all_there() {
        let catalog = builtin();
        let active = [
            "spamhaus-zen",
            "spamhaus-dbl",
            "spamhaus-dqs-zen",
            "spamhaus-dqs-dbl",
            "spamhaus-dqs-authbl",
            "spamhaus-dqs-zrd",
            "barracuda",
            "spamcop",
            "uceprotect-1",
            "uceprotect-2",
            "uceprotect-3",
            "psbl",
            "mailspike-bl",
            "mailspike-wl",
            "spamrats-all",
            "surbl-multi",
            "uribl-multi",
            "dronebl",
            "dnswl",
            "hostkarma",
            "backscatterer",
            "abusix-combined",
            "truncate",
            "nordspam-bl",
            "nordspam-dbl",
            "justspam",
            "s5h",
            "0spam-bl",
            "sem-bl",
            "blocklist-de",
            "virusfree-bip",
            "senderscore-bl",
            "iadb",
            "spamrats-auth",
            "suomispam-bl",
            "suomispam-gl",
            "suomispam-dbl",
            "interserver",
            "spfbl",
            "invaluement-sip",
            "invaluement-sip24",
            "invaluement-uri",
            "abusix-dblack",
        ];
        for id in active {
            let list = catalog.get(id).unwrap_or_else(|| panic!("{id} missing"));
            assert!(list.defunct.is_none(), "{id}");
        }
        let dead = [
            "sorbs",
            "nixspam",
            "wpbl",
            "lashback-ubl",
            "ahbl",
            "ordb",
            "dsbl",
            "njabl",
            "megarbl",
            "burnt-tech",
            "emailbasura",
            "msrbl",
            "inps",
            "cbl",
        ];
        for id in dead {
            let list = catalog.get(id).unwrap_or_else(|| panic!("{id} missing"));
            assert!(list.defunct.is_some(), "{id}");
        }
        // Allowlists are allowlists.
        for id in ["dnswl", "dnswl-domains", "mailspike-wl", "iadb"] {
            assert_eq!(
                catalog.get(id).map(|l| l.policy),
                Some(Policy::Allow),
                "{id}"
            );
        }
        // Per-list test points from the reference.
        let test = |id: &str| catalog.get(id).map(|l| l.test.clone()).expect("list");
        assert_eq!(test("spamhaus-dbl").positive, "dbltest.com");
        assert_eq!(test("surbl-multi").positive, "test.surbl.org");
        assert_eq!(test("sem-bl-ipv6").positive, "::ffff:7f00:2");
        assert_eq!(test("nordspam-dbl").positive, "test");
    }

    /// The rows of the 2026-12 catalog audit, as resolved: each assertion is one row.
    #[test]
    fn the_catalog_audit_is_resolved() {
        let catalog = builtin();
        let list = |id: &str| catalog.get(id).unwrap_or_else(|| panic!("{id} missing"));
        let url = |id: &str| {
            let delist = list(id).delist.as_ref().expect("delist");
            delist.url_for("192.0.2.7").unwrap_or_default()
        };
        // SURBL is asked with the full host name; the SEM URI lists with the registrable domain.
        assert!(!list("surbl-multi").registrable_domain);
        for id in ["sem-uribl", "sem-urired", "sem-fresh"] {
            assert!(list(id).registrable_domain, "{id}");
        }
        assert_eq!(list("sem-fresh").zone, "fresh15.spameatingmonkey.net");
        assert_eq!(list("uribl-multi").test.positive, "test.uribl.com");
        // Lists no filter enables, or that list whole networks, are off.
        for id in [
            "uceprotect-2",
            "uceprotect-3",
            "backscatterer",
            "sem-backscatter",
            "sem-netbl",
            "sem-urired",
        ] {
            assert!(!list(id).default, "{id} is on");
            assert!(list(id).note.is_some(), "{id} says no why");
        }
        assert!(list("uceprotect-1").default);
        // Codes the filters test and the catalog lacked.
        let known = |id: &str, code: &str| {
            let addr: std::net::Ipv4Addr = code.parse().expect("address");
            list(id)
                .codes
                .iter()
                .find(|c| c.matcher.matches(addr))
                .map(|c| c.listing)
        };
        assert_eq!(known("mailspike-bl", "127.0.0.13"), Some(true));
        assert_eq!(known("mailspike-rep", "127.0.0.14"), Some(false));
        assert_eq!(known("spamrats-all", "127.0.0.43"), Some(true));
        assert_eq!(known("iadb", "127.3.200.110"), Some(true));
        assert_eq!(known("iadb", "127.0.0.1"), None, "the negative test point");
        assert_eq!(known("blocklist-de", "127.0.0.15"), Some(true));
        assert_eq!(known("blocklist-de", "127.0.0.23"), None);
        // Kept IPv4-only: one source for IPv6, and an NXDOMAIN there would read as clear.
        assert!(!list("spamcop").serves(QueryKind::Ipv6));
        // Expiries the operators state.
        let expires = |id: &str| list(id).delist.as_ref().and_then(|d| d.expires_after_days);
        assert_eq!(expires("blocklist-de"), Some(2));
        assert_eq!(expires("sem-backscatter"), Some(15));
        assert_eq!(expires("interserver"), Some(5));
        assert_eq!(list("nordspam-bl").limits.daily, Some(10_000));
        // Delisting pages that take the address.
        for (id, want) in [
            (
                "spamhaus-zen",
                "https://check.spamhaus.org/results/?query=192.0.2.7",
            ),
            ("spamcop", "https://www.spamcop.net/bl.shtml?192.0.2.7"),
            (
                "uceprotect-1",
                "https://www.uceprotect.net/en/rblcheck.php?ipr=192.0.2.7",
            ),
            ("psbl", "https://psbl.org/listing?ip=192.0.2.7"),
            ("dronebl", "https://dronebl.org/lookup?ip=192.0.2.7"),
            (
                "spamrats-dyna",
                "https://www.spamrats.com/rats-dyna.php?ip=192.0.2.7",
            ),
            (
                "blocklist-de",
                "http://www.blocklist.de/en/view.html?ip=192.0.2.7",
            ),
        ] {
            assert_eq!(url(id), want, "{id}");
        }
        // Sources that named a filter which does not ship the list are gone.
        assert!(
            !list("mailspike-bl")
                .sources
                .iter()
                .any(|s| s.contains("rspamd rbl.conf"))
        );
        assert!(
            !list("sem-urired")
                .sources
                .iter()
                .any(|s| s.contains("rspamd rbl.conf"))
        );
        // Dropped lists are known as dead.
        for id in ["spamhaus-swl", "spamhaus-dwl", "abuse-ch-spam"] {
            assert!(list(id).defunct.is_some(), "{id}");
        }
        // Paid lists are off and never asked by DNS: their zones cannot resolve.
        for id in ["invaluement-sip", "invaluement-sip24", "invaluement-uri"] {
            assert_eq!(list(id).access, Access::Subscription, "{id}");
            assert!(list(id).zone.ends_with(".invalid"), "{id}");
        }
        assert_eq!(list("abusix-dblack").access, Access::Key);
    }

    #[test]
    fn selection_follows_defaults_only_enable_and_disable() {
        let catalog = builtin();
        let ids = |request: SelectionRequest, key: Option<&str>| -> (Vec<String>, Vec<String>) {
            let sel = Selection::resolve(&catalog, &request, |_| key.map(str::to_string))
                .expect("selection");
            (
                sel.lists.iter().map(|l| l.list.id.clone()).collect(),
                sel.notes,
            )
        };
        let (defaults, _) = ids(SelectionRequest::default(), None);
        assert!(defaults.contains(&"spamhaus-zen".to_string()));
        assert!(!defaults.contains(&"barracuda".to_string()));
        let (with, _) = ids(
            SelectionRequest {
                enable: vec!["barracuda".into()],
                disable: vec!["spamcop".into()],
                ..Default::default()
            },
            None,
        );
        assert!(with.contains(&"barracuda".to_string()) && !with.contains(&"spamcop".to_string()));
        let only = SelectionRequest {
            only: vec!["spamhaus-dqs-zen".into()],
            ..Default::default()
        };
        let (none, notes) = ids(only.clone(), None);
        assert!(none.is_empty());
        assert_eq!(notes.len(), 1, "{notes:?}");
        let sel = Selection::resolve(&catalog, &only, |_| {
            Some("abcdefghijklmnopqrstuvwxyz".into())
        })
        .expect("key");
        assert_eq!(
            sel.lists[0].zone,
            "abcdefghijklmnopqrstuvwxyz.zen.dq.spamhaus.net"
        );
        assert_eq!(sel.lists[0].display_zone(), "{key}.zen.dq.spamhaus.net");
        let err =
            Selection::resolve(&catalog, &only, |_| Some("bad key!".into())).expect_err("bad key");
        assert!(
            err.to_string().starts_with("$RBLWATCH_SPAMHAUS_DQS_KEY:"),
            "{err}"
        );
    }
}
