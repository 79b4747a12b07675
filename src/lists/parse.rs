//! `lists.toml` as written (the raw serde types) and its validation into [`Catalog`].
//!
//! Every problem is reported with the file, line and column of the value at fault: serde
//! errors carry toml's span, and the checks that span several fields use `Spanned` values.

use std::collections::HashMap;
use std::net::IpAddr;
use std::ops::Range;

use serde::Deserialize;
use toml::Spanned;

use super::{
    Access, Catalog, Code, CodeMatcher, CodePattern, Defunct, Delist, DelistMethod, Limits, List,
    Policy, QueryKind, TestPoints, Text,
};
use crate::error::Error;
use crate::location::Problem;
use crate::target;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCatalog {
    #[serde(default, rename = "list")]
    lists: Vec<RawList>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawList {
    id: Spanned<String>,
    name: Text,
    zone: Spanned<String>,
    #[serde(default)]
    query: Option<Spanned<Vec<QueryKind>>>,
    #[serde(default)]
    policy: Option<Policy>,
    #[serde(default)]
    access: Option<Spanned<Access>>,
    #[serde(default)]
    key_env: Option<Spanned<String>>,
    #[serde(default)]
    default: Option<Spanned<bool>>,
    #[serde(default)]
    registrable_domain: bool,
    #[serde(default)]
    codes: Option<Spanned<Vec<RawCode>>>,
    #[serde(default)]
    refusals: Vec<RawCode>,
    #[serde(default)]
    test: Option<RawTest>,
    #[serde(default)]
    delist: Option<Spanned<RawDelist>>,
    #[serde(default)]
    defunct: Option<RawDefunct>,
    #[serde(default)]
    info: Option<Text>,
    #[serde(default)]
    sources: Option<Spanned<Vec<Text>>>,
    #[serde(default)]
    note: Option<Text>,
    #[serde(default)]
    limits: Option<Spanned<RawLimits>>,
    #[serde(default)]
    mirror: Option<Spanned<RawMirror>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMirror {
    file: String,
    format: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLimits {
    qps: Option<f64>,
    daily: Option<u64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCode {
    code: Spanned<CodePattern>,
    #[serde(default)]
    bits: Option<u8>,
    meaning: Text,
    #[serde(default = "yes")]
    listing: bool,
    #[serde(default)]
    delist: Option<DelistMethod>,
}

fn yes() -> bool {
    true
}

/// An absolute http or https URL with a host, and no whitespace or control characters.
pub(crate) fn is_web_address(url: &str) -> bool {
    let lower = url.to_ascii_lowercase();
    let rest = lower
        .strip_prefix("https://")
        .or_else(|| lower.strip_prefix("http://"));
    rest.is_some_and(|r| !r.is_empty() && !r.starts_with('/'))
        && !url.chars().any(|c| c.is_whitespace() || c.is_control())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTest {
    positive: Option<Spanned<String>>,
    negative: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDelist {
    url: Option<Text>,
    method: DelistMethod,
    expires_after_days: Option<u32>,
    #[serde(default)]
    paid_express: bool,
    note: Option<Text>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDefunct {
    since: Option<Text>,
    reason: Text,
}

/// Parses and validates a catalog; `origin` names it in errors.
pub(super) fn parse(text: &str, origin: &str) -> Result<Catalog, Error> {
    let raw: RawCatalog = toml::from_str(text)
        .map_err(|err| Error::Invalid(vec![Problem::from_toml(text, origin, &err)]))?;
    build(raw, text, origin)
}

/// Reads the image of the built-in catalog. Its errors carry no position: on any, the caller
/// reads the TOML text instead.
pub(super) fn parse_image(image: &'static str, origin: &str) -> Result<Catalog, Error> {
    let raw: RawCatalog =
        super::image::read(image).map_err(|why| located("", origin, 0..0, why))?;
    build(raw, "", origin)
}

/// Validates every entry; `text` is what the spans point into.
fn build(raw: RawCatalog, text: &str, origin: &str) -> Result<Catalog, Error> {
    let at = |span: Range<usize>, message: String| located(text, origin, span, message);
    if raw.lists.is_empty() {
        return Err(at(0..0, "the catalog has no [[list]] entries".into()));
    }
    let mut ids: HashMap<String, Range<usize>> = HashMap::new();
    let mut zones: HashMap<String, Range<usize>> = HashMap::new();
    let mut lists = Vec::with_capacity(raw.lists.len());
    for entry in raw.lists {
        let list = validate(entry, &at, &mut ids, &mut zones)?;
        lists.push(std::sync::Arc::new(list));
    }
    Ok(Catalog {
        lists,
        origin: origin.to_string(),
    })
}

/// An active entry of a user catalog must not use a zone the built-in catalog marks dead.
pub(super) fn refuse_dead_zones(
    catalog: &Catalog,
    text: &str,
    builtin: &Catalog,
) -> Result<(), Error> {
    for list in catalog.lists.iter().filter(|list| list.defunct.is_none()) {
        let dead = builtin.lists.iter().find_map(|known| {
            known
                .defunct
                .as_ref()
                .filter(|_| known.zone.eq_ignore_ascii_case(&list.zone))
        });
        if let Some(defunct) = dead {
            let span = find_zone_span(text, &list.zone);
            return Err(located(
                text,
                &catalog.origin,
                span,
                format!(
                    "list `{}` uses zone `{}`, which is dead ({}{}): it is never queried",
                    list.id,
                    list.zone,
                    defunct
                        .since
                        .as_deref()
                        .map(|s| format!("since {s}: "))
                        .unwrap_or_default(),
                    defunct.reason
                ),
            ));
        }
    }
    Ok(())
}

fn find_zone_span(text: &str, zone: &str) -> Range<usize> {
    let quoted = format!("\"{zone}\"");
    text.find(&quoted)
        .map(|start| start + 1..start + 1 + zone.len())
        .unwrap_or(0..0)
}

type At<'a> = dyn Fn(Range<usize>, String) -> Error + 'a;

fn validate(
    raw: RawList,
    at: &At<'_>,
    ids: &mut HashMap<String, Range<usize>>,
    zones: &mut HashMap<String, Range<usize>>,
) -> Result<List, Error> {
    let id_span = raw.id.span();
    let id = raw.id.into_inner();
    if id.is_empty()
        || !id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    {
        return Err(at(
            id_span,
            format!("list id `{id}` must be lowercase letters, digits and `-`"),
        ));
    }
    if ids.insert(id.clone(), id_span.clone()).is_some() {
        return Err(at(id_span, format!("list id `{id}` is used twice")));
    }

    let zone_span = raw.zone.span();
    let mut zone = raw.zone.into_inner();
    if zone.ends_with('.') || zone.bytes().any(|b| b.is_ascii_uppercase()) {
        zone = zone.trim_end_matches('.').to_ascii_lowercase();
    }
    check_zone(&zone).map_err(|why| {
        at(
            zone_span.clone(),
            format!("list `{id}`: zone `{zone}` {why}"),
        )
    })?;
    if zones.insert(zone.clone(), zone_span.clone()).is_some() {
        return Err(at(
            zone_span,
            format!("list `{id}`: zone `{zone}` is used by another list"),
        ));
    }

    let defunct = raw.defunct.map(|d| Defunct {
        since: d.since,
        reason: d.reason,
    });
    let (sources_span, sources) = spanned_or(raw.sources, &id_span);
    if sources.is_empty() {
        return Err(at(
            sources_span,
            format!(
                "list `{id}` has no `sources`: every fact in the catalog must name where it comes from"
            ),
        ));
    }

    let key_env = raw.key_env.as_ref().map(|k| k.get_ref().clone());
    let access = match (&raw.access, &raw.key_env) {
        (Some(access), _) => *access.get_ref(),
        (None, Some(_)) => Access::Key,
        (None, None) => Access::Public,
    };
    let has_placeholder = zone.contains("{key}");
    match (access, &raw.key_env, has_placeholder) {
        (Access::Key, Some(_), true) => {}
        (Access::Key, _, _) => {
            return Err(at(
                zone_span,
                format!("list `{id}` needs a key: give `key_env` and put `{{key}}` in the zone"),
            ));
        }
        (_, Some(key), _) => {
            return Err(at(
                key.span(),
                format!("list `{id}`: `key_env` is only for access = \"key\""),
            ));
        }
        (_, None, true) => {
            return Err(at(
                zone_span,
                format!("list `{id}`: zone has `{{key}}` but no `key_env`"),
            ));
        }
        _ => {}
    }

    let default = raw.default.as_ref().is_some_and(|d| *d.get_ref());
    if default {
        let span = raw
            .default
            .as_ref()
            .map(|d| d.span())
            .unwrap_or(id_span.clone());
        if defunct.is_some() {
            return Err(at(
                span,
                format!("list `{id}` is defunct and cannot be on by default"),
            ));
        }
        if access != Access::Public {
            return Err(at(
                span,
                format!("list `{id}` needs registration or a key and cannot be on by default"),
            ));
        }
    }

    let (query_span, query) = spanned_or(raw.query, &id_span);
    let (codes_span, raw_codes) = spanned_or(raw.codes, &id_span);
    let codes = raw_codes
        .into_iter()
        .map(|c| code(c, &id, at))
        .collect::<Result<Vec<_>, _>>()?;
    let refusals = raw
        .refusals
        .into_iter()
        .map(|c| code(c, &id, at))
        .collect::<Result<Vec<_>, _>>()?;

    if defunct.is_none() {
        if query.is_empty() {
            return Err(at(
                query_span,
                format!("list `{id}` has no `query` kinds (ipv4, ipv6, domain)"),
            ));
        }
        if !codes.iter().any(|c| c.listing) {
            return Err(at(
                codes_span,
                format!("list `{id}` has no listing `codes`"),
            ));
        }
        if raw.delist.is_none() && raw.policy != Some(Policy::Allow) {
            return Err(at(
                id_span.clone(),
                format!("list `{id}` is a blocklist without `delist`"),
            ));
        }
    }
    if raw.registrable_domain && !query.contains(&QueryKind::Domain) {
        return Err(at(
            id_span,
            format!("list `{id}`: registrable_domain is only for domain lists"),
        ));
    }

    let test = test_points(raw.test, &query, &id, at)?;
    let delist = match raw.delist {
        Some(d) => {
            let span = d.span();
            let d = d.into_inner();
            // The link goes into mails and the status page: only a web address, never a
            // `javascript:` or `data:` one a page would run.
            if let Some(url) = d.url.as_deref().filter(|u| !is_web_address(u)) {
                return Err(at(
                    span,
                    format!(
                        "list `{id}`: delist url {url:?} is not an http:// or https:// address"
                    ),
                ));
            }
            Some(Delist {
                url: d.url,
                method: d.method,
                expires_after_days: d.expires_after_days,
                paid_express: d.paid_express,
                note: d.note,
            })
        }
        None => None,
    };

    let limits = match raw.limits {
        Some(l) => {
            let span = l.span();
            let l = l.into_inner();
            if l.qps.is_some_and(|q| !(q.is_finite() && q > 0.0)) || l.daily == Some(0) {
                return Err(at(
                    span,
                    format!(
                        "list `{id}`: limits must be above 0 (qps a rate per second, daily a count)"
                    ),
                ));
            }
            Limits {
                qps: l.qps,
                daily: l.daily,
            }
        }
        None => Limits::default(),
    };
    let mirror = match raw.mirror {
        Some(m) => {
            let span = m.span();
            let m = m.into_inner();
            let source = crate::mirror::Source::new(
                &id,
                std::path::PathBuf::from(m.file),
                &m.format,
                &query,
            );
            Some(source.map_err(|message| at(span, message))?)
        }
        None => None,
    };
    Ok(List {
        mirror,
        limits,
        id,
        name: raw.name,
        zone,
        query,
        policy: raw.policy.unwrap_or(Policy::Block),
        access,
        key_env,
        default,
        registrable_domain: raw.registrable_domain,
        codes,
        refusals,
        test,
        delist,
        defunct,
        info: raw.info,
        sources,
        note: raw.note,
    })
}

/// The value and its span, or an empty value placed at `fallback` (the entry's id).
fn spanned_or<T: Default>(value: Option<Spanned<T>>, fallback: &Range<usize>) -> (Range<usize>, T) {
    match value {
        Some(v) => (v.span(), v.into_inner()),
        None => (fallback.clone(), T::default()),
    }
}

fn code(raw: RawCode, id: &str, at: &At<'_>) -> Result<Code, Error> {
    let span = raw.code.span();
    let pattern = raw.code.into_inner();
    if !pattern.is_loopback_only() {
        return Err(at(
            span,
            format!(
                "list `{id}`: code `{pattern}` is outside 127.0.0.0/8, where list answers must be"
            ),
        ));
    }
    if raw.bits == Some(0) {
        return Err(at(
            span,
            format!("list `{id}`: code `{pattern}` has bits = 0, which matches nothing"),
        ));
    }
    Ok(Code {
        matcher: CodeMatcher {
            pattern,
            bits: raw.bits,
        },
        meaning: raw.meaning,
        listing: raw.listing,
        delist: raw.delist,
    })
}

fn test_points(
    raw: Option<RawTest>,
    query: &[QueryKind],
    id: &str,
    at: &At<'_>,
) -> Result<TestPoints, Error> {
    // RFC 5782 section 5: 127.0.0.2 / 127.0.0.1, ::FFFF:7F00:2 / ::FFFF:7F00:1, TEST / INVALID.
    let (positive, negative) = if query.contains(&QueryKind::Ipv4) {
        ("127.0.0.2", "127.0.0.1")
    } else if query.contains(&QueryKind::Domain) {
        ("test", "invalid")
    } else {
        ("::ffff:7f00:2", "::ffff:7f00:1")
    };
    let (raw_pos, raw_neg) = raw
        .map(|t| (t.positive, t.negative))
        .unwrap_or((None, None));
    let pick = |given: Option<Spanned<String>>, default: &'static str| -> Result<Text, Error> {
        let Some(given) = given else {
            return Ok(default.into());
        };
        let value = given.get_ref().trim_end_matches('.').to_ascii_lowercase();
        let fits = match value.parse::<IpAddr>() {
            Ok(IpAddr::V4(_)) => query.contains(&QueryKind::Ipv4),
            Ok(IpAddr::V6(_)) => query.contains(&QueryKind::Ipv6),
            Err(_) => query.contains(&QueryKind::Domain) && target::check_host_name(&value).is_ok(),
        };
        if !fits {
            return Err(at(
                given.span(),
                format!(
                    "list `{id}`: test point `{value}` is not something the list serves ({query:?})"
                ),
            ));
        }
        Ok(value.into())
    };
    Ok(TestPoints {
        positive: pick(raw_pos, positive)?,
        negative: pick(raw_neg, negative)?,
    })
}

fn check_zone(zone: &str) -> Result<(), &'static str> {
    let without_key = if zone.contains("{key}") {
        std::borrow::Cow::Owned(zone.replace("{key}", "key"))
    } else {
        std::borrow::Cow::Borrowed(zone)
    };
    if without_key.split('.').count() < 2 {
        return Err("must have at least two labels");
    }
    target::check_host_name(&without_key).map_err(|_| "is not a valid DNS name")
}

/// Turns a byte span of `text` into an error naming `origin:line:column`.
fn located(text: &str, origin: &str, span: Range<usize>, message: String) -> Error {
    Error::Invalid(vec![Problem::at(text, origin, span, message)])
}
