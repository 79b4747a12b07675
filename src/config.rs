//! `rblwatch.toml`: the raw serde types (what the file says) -> a validated [`Config`].
//!
//! Found by `--config`, `$RBLWATCH_CONFIG`, the user's config dir (when not root), then
//! `/etc/rblwatch/rblwatch.toml`. Validation collects every problem it finds, each with the
//! file, line and column, so `rblwatch config check` shows them all at once.

use std::net::{IpAddr, SocketAddr};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use crate::error::Error;
use crate::lists::{Catalog, SelectionRequest};
use crate::location::Problem;
use crate::store::postgres::{Location as PgLocation, Password as PgPassword};
use crate::target::{Target, TargetKind};

/// The environment variable naming the config file.
pub const CONFIG_VAR: &str = "RBLWATCH_CONFIG";

/// The commented example that `rblwatch init` writes (also shown in the README).
pub const EXAMPLE: &str = include_str!("config.example.toml");

/// The largest range one target may hold: a /16.
pub(crate) const MAX_TARGET_ADDRESSES: u128 = 65_536;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    store: Option<Spanned<String>>,
    postgres: Option<Spanned<RawPostgres>>,
    #[serde(default)]
    lists: RawLists,
    #[serde(default)]
    resolver: RawResolver,
    #[serde(default)]
    run: RawRun,
    #[serde(default, rename = "target")]
    targets: Vec<Spanned<RawTarget>>,
    #[serde(default)]
    notify: RawNotify,
    schedule: Option<RawSchedule>,
    metrics: Option<RawMetrics>,
    fleet: Option<Spanned<RawFleet>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPostgres {
    password_env: Option<String>,
    password_file: Option<String>,
    ca_file: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSchedule {
    cron: Spanned<String>,
    timezone: Option<Spanned<String>>,
    jitter: Option<Spanned<i64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFleet {
    shard: Option<Spanned<i64>>,
    lease: Option<Spanned<i64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMetrics {
    listen: Spanned<String>,
    #[serde(default)]
    probe_allow: Vec<Spanned<String>>,
    user: Option<Spanned<String>>,
    password_file: Option<Spanned<String>>,
    tls_cert: Option<Spanned<String>>,
    tls_key: Option<Spanned<String>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawNotify {
    #[serde(default)]
    recipients: Vec<Spanned<String>>,
    templates: Option<Spanned<String>>,
    reminder_days: Option<Spanned<i64>>,
    retry_limit: Option<Spanned<i64>>,
    smtp: Option<Spanned<RawSmtp>>,
    #[serde(default)]
    webhook: Vec<RawWebhook>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSmtp {
    host: Spanned<String>,
    port: Option<Spanned<i64>>,
    #[serde(default)]
    security: Option<Spanned<SmtpSecurity>>,
    from: Spanned<String>,
    username: Option<String>,
    password_env: Option<Spanned<String>>,
    password_file: Option<Spanned<String>>,
    ca_file: Option<Spanned<String>>,
    timeout: Option<Spanned<f64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWebhook {
    url: Spanned<String>,
    #[serde(default)]
    format: WebhookFormat,
    timeout: Option<Spanned<f64>>,
}

/// How the SMTP connection is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum SmtpSecurity {
    /// Plain connection upgraded with STARTTLS, which must be offered (port 587 or 25).
    #[default]
    Starttls,
    /// TLS from the first byte (port 465).
    Tls,
    /// No encryption: only for a server on loopback.
    None,
}

/// The payload a webhook receives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum WebhookFormat {
    /// rblwatch's own JSON document.
    #[default]
    Json,
    /// `{"text": ...}`, as Slack and Mattermost incoming webhooks take.
    Slack,
}

/// Where the SMTP password comes from; it is never stored in the config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Secret {
    /// An environment variable.
    Env(String),
    /// A file, whose first line is the password.
    File(PathBuf),
}

/// The SMTP server alerts go through.
#[derive(Debug, Clone, PartialEq)]
pub struct SmtpConfig {
    /// Host name or address.
    pub host: String,
    /// Port (587 for STARTTLS, 465 for TLS, 25 otherwise by default).
    pub port: u16,
    /// Connection security.
    pub security: SmtpSecurity,
    /// The From address.
    pub from: String,
    /// Login, if the server wants one.
    pub username: Option<String>,
    /// Where the password is.
    pub password: Option<Secret>,
    /// Extra CA certificate (PEM) to trust, for a private CA.
    pub ca_file: Option<PathBuf>,
    /// How long to wait for the server.
    pub timeout: Duration,
}

/// One webhook.
#[derive(Debug, Clone, PartialEq)]
pub struct WebhookConfig {
    /// The URL posted to.
    pub url: String,
    /// The payload format.
    pub format: WebhookFormat,
    /// How long to wait for the endpoint.
    pub timeout: Duration,
}

/// The `[notify]` section.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct NotifyConfig {
    /// Addresses that hear about every change (targets' contacts hear about their own).
    pub recipients: Vec<String>,
    /// A directory whose files override the built-in templates one by one.
    pub templates: Option<PathBuf>,
    /// Remind of what is still listed every this many days (0: never).
    pub reminder_days: u32,
    /// Attempts before a notification is marked failed (it is kept, and reported).
    pub retry_limit: u32,
    /// The SMTP server, if mail is sent.
    pub smtp: Option<SmtpConfig>,
    /// Webhooks.
    pub webhooks: Vec<WebhookConfig>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawLists {
    #[serde(default)]
    only: Vec<Spanned<String>>,
    #[serde(default)]
    enable: Vec<Spanned<String>>,
    #[serde(default)]
    disable: Vec<Spanned<String>>,
    #[serde(default)]
    catalogs: Vec<Spanned<String>>,
    #[serde(default)]
    limits: std::collections::BTreeMap<String, Spanned<RawListLimits>>,
    #[serde(default)]
    mirror: std::collections::BTreeMap<String, Spanned<RawListMirror>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawListMirror {
    file: String,
    format: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawListLimits {
    qps: Option<f64>,
    daily: Option<u64>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawResolver {
    #[serde(default)]
    nameservers: Vec<Spanned<String>>,
    #[serde(default)]
    root_hints: Vec<Spanned<String>>,
    timeout: Option<Spanned<f64>>,
    attempts: Option<Spanned<i64>>,
    concurrency: Option<Spanned<i64>>,
    verify: Option<bool>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawRun {
    problem_after: Option<Spanned<i64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTarget {
    address: Option<Spanned<String>>,
    domain: Option<Spanned<String>>,
    label: Option<String>,
    #[serde(default)]
    contacts: Vec<Spanned<String>>,
}

/// Resolver settings a config may set; unset ones fall back to the CLI defaults.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ResolverConfig {
    /// `--nameserver`.
    pub nameservers: Vec<SocketAddr>,
    /// `nameservers = ["recursive"]`: ask each list zone's own servers.
    pub recursive: bool,
    /// `--root-hint`: where recursive mode starts (empty: IANA's root servers).
    pub root_hints: Vec<SocketAddr>,
    /// `--timeout`.
    pub timeout: Option<Duration>,
    /// `--attempts`.
    pub attempts: Option<usize>,
    /// `--concurrency`.
    pub concurrency: Option<usize>,
    /// `--no-verify` when false.
    pub verify: Option<bool>,
}

/// One watched target.
#[derive(Debug, Clone)]
pub struct WatchTarget {
    /// The address, range or name.
    pub target: Target,
    /// A short name for reports (`mx1`).
    pub label: Option<String>,
    /// Who hears about this target's changes.
    pub contacts: Vec<String>,
    /// `domain = "..."`: a mail domain, whose MX and SPF are read again each pass.
    pub mail_domain: bool,
    /// For a target a pass found in a watched mail domain: which domains and roles it plays.
    pub member_of: Vec<crate::domain::Member>,
}

/// A validated config.
#[derive(Debug, Clone)]
pub struct Config {
    /// The file it was read from.
    pub path: PathBuf,
    /// The store file (SQLite), when `postgres` is not set.
    pub store: PathBuf,
    /// `store = "postgresql://..."`: the store is on PostgreSQL.
    pub postgres: Option<PgLocation>,
    /// Which lists to use.
    pub selection: SelectionRequest,
    /// The built-in catalog plus the extra catalog files.
    pub catalog: Catalog,
    /// DNS settings.
    pub resolver: ResolverConfig,
    /// After this many passes in a row without a definite answer, a list is a problem.
    pub problem_after: u32,
    /// What to watch.
    pub targets: Vec<WatchTarget>,
    /// Alerts.
    pub notify: NotifyConfig,
    /// When the daemon runs passes.
    pub schedule: Option<ScheduleConfig>,
    /// Where the daemon serves Prometheus metrics.
    pub metrics_listen: Option<SocketAddr>,
    /// Addresses `/probe` may check besides the configured targets' (`[metrics] probe_allow`).
    pub probe_allow: Vec<crate::target::Cidr>,
    /// HTTP basic authentication on the listener: the user, and the file holding the password
    /// (read at each request, so a new password needs no reload).
    pub listen_auth: Option<(String, PathBuf)>,
    /// TLS on the listener: the certificate chain and the private key (PEM files), read at
    /// start.
    pub listen_tls: Option<(PathBuf, PathBuf)>,
    /// `[fleet]`: daemons on one PostgreSQL store share each pass's work.
    pub fleet: Option<FleetConfig>,
}

/// How a fleet of daemons shares a pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FleetConfig {
    /// At most this many addresses per shard (a range is cut into networks of this size).
    pub shard: u32,
    /// How long a worker holds a shard (or the pass's evaluation) before another may take it.
    pub lease: i64,
}

/// The daemon's schedule.
#[derive(Debug, Clone)]
pub struct ScheduleConfig {
    /// When.
    pub schedule: crate::schedule::Schedule,
    /// Up to this much random delay before each pass, so a fleet does not query at once.
    pub jitter: Duration,
}

/// Whether this process runs as root (system paths) or as a user (XDG paths).
pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

fn home_dir(xdg: &str, fallback: &str) -> Option<PathBuf> {
    std::env::var_os(xdg)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(fallback)))
}

/// Where config files are looked for, in order, after `--config` and `$RBLWATCH_CONFIG`.
pub fn search_path() -> Vec<PathBuf> {
    let mut paths = Vec::new();
    if let Some(dir) = home_dir("XDG_CONFIG_HOME", ".config").filter(|_| !is_root()) {
        paths.push(dir.join("rblwatch/rblwatch.toml"));
    }
    paths.push(PathBuf::from("/etc/rblwatch/rblwatch.toml"));
    paths
}

/// The default store file: under /var/lib/rblwatch for root, the user's data dir otherwise.
pub fn default_store() -> PathBuf {
    if let Some(dir) = home_dir("XDG_DATA_HOME", ".local/share").filter(|_| !is_root()) {
        return dir.join("rblwatch/rblwatch.db");
    }
    PathBuf::from("/var/lib/rblwatch/rblwatch.db")
}

/// The config file to use: `explicit`, then `$RBLWATCH_CONFIG`, then the first that exists
/// on the search path. `None` when there is none.
pub fn find(explicit: Option<&Path>) -> Option<PathBuf> {
    if let Some(path) = explicit {
        return Some(path.to_path_buf());
    }
    if let Some(path) = std::env::var_os(CONFIG_VAR).filter(|v| !v.is_empty()) {
        return Some(PathBuf::from(path));
    }
    search_path().into_iter().find(|p| p.exists())
}

/// Finds and loads the config, failing when there is none.
pub fn require(explicit: Option<&Path>) -> Result<Config, Error> {
    match find(explicit) {
        Some(path) => Config::load(&path),
        None => {
            let looked: Vec<String> = search_path()
                .iter()
                .map(|p| p.display().to_string())
                .collect();
            Err(Error::Usage {
                arg: "config".into(),
                message: format!(
                    "no config file: give --config FILE or ${CONFIG_VAR}, or create one of {} (`rblwatch init` writes an example)",
                    looked.join(", ")
                ),
            })
        }
    }
}

impl Config {
    /// The SMTP `password_file`, when the password comes from one.
    pub fn password_file(&self) -> Option<&Path> {
        match self.notify.smtp.as_ref()?.password.as_ref()? {
            Secret::File(path) => Some(path),
            Secret::Env(_) => None,
        }
    }

    /// Reads and validates a config file.
    pub fn load(path: &Path) -> Result<Config, Error> {
        let origin = path.display().to_string();
        let text = crate::files::read_text(path, crate::files::CONFIG_LIMIT).map_err(|source| {
            Error::Read {
                path: origin.clone(),
                source,
            }
        })?;
        Config::parse(&text, path)
    }

    /// Validates config text read from `path`; relative paths in it are relative to `path`'s
    /// directory.
    pub fn parse(text: &str, path: &Path) -> Result<Config, Error> {
        let origin = path.display().to_string();
        let raw: RawConfig = toml::from_str(text)
            .map_err(|err| Error::Invalid(vec![Problem::from_toml(text, &origin, &err)]))?;
        let base = path.parent().unwrap_or(Path::new("."));
        let mut problems = Vec::new();
        let mut nested = Vec::new();
        let mut at = |span: Range<usize>, message: String| {
            problems.push(Problem::at(text, &origin, span, message))
        };

        let mut postgres = None;
        let store = match &raw.store {
            Some(store) if store.get_ref().trim().is_empty() => {
                at(
                    store.span(),
                    "store must be a file path or a postgresql:// URL".into(),
                );
                default_store()
            }
            Some(store) if PgLocation::is_url(store.get_ref()) => {
                let url = store.get_ref();
                match PgLocation::check_url(url) {
                    Err(why) => at(store.span(), format!("store {why}")),
                    Ok(()) => {
                        postgres = Some(pg_location(url, raw.postgres.as_ref(), base, &mut at))
                    }
                }
                default_store()
            }
            Some(store) => base.join(store.get_ref()),
            None => default_store(),
        };
        if postgres.is_none()
            && let Some(section) = &raw.postgres
        {
            at(
                section.span(),
                "[postgres] is for a store = \"postgresql://...\"; this store is a SQLite file"
                    .into(),
            );
        }

        // The catalog: built-in plus extra files, each problem placed in its own file.
        let mut catalog = Catalog::builtin()?;
        for file in &raw.lists.catalogs {
            match Catalog::from_file(&base.join(file.get_ref())) {
                Ok(extra) => {
                    if let Err(why) = catalog.extend(extra) {
                        at(file.span(), why);
                    }
                }
                Err(Error::Read { path, source }) => {
                    at(file.span(), format!("catalog {path}: {source}"))
                }
                // The catalog's own problems name their own file and line.
                Err(Error::Invalid(found)) => nested.extend(found),
                Err(other) => at(file.span(), other.to_string()),
            }
        }
        for id in raw
            .lists
            .only
            .iter()
            .chain(&raw.lists.enable)
            .chain(&raw.lists.disable)
        {
            match catalog.get(id.get_ref()) {
                None => at(id.span(), format!("unknown list `{}`", id.get_ref())),
                Some(list) => {
                    if let Some(defunct) = &list.defunct {
                        at(
                            id.span(),
                            format!(
                                "list `{}` is defunct{}: {}",
                                list.id,
                                defunct
                                    .since
                                    .as_deref()
                                    .map(|s| format!(" since {s}"))
                                    .unwrap_or_default(),
                                defunct.reason
                            ),
                        );
                    }
                }
            }
        }
        let names =
            |ids: &[Spanned<String>]| ids.iter().map(|i| i.get_ref().clone()).collect::<Vec<_>>();
        let mut limits = Vec::new();
        for (id, value) in &raw.lists.limits {
            let given = value.get_ref();
            match catalog.get(id) {
                None => at(value.span(), format!("limits for unknown list `{id}`")),
                Some(list) => {
                    if given.qps.is_some_and(|q| !(q.is_finite() && q > 0.0))
                        || given.daily == Some(0)
                    {
                        at(value.span(), format!("limits for `{id}` must be above 0"));
                    } else {
                        limits.push((
                            id.clone(),
                            crate::lists::Limits {
                                qps: given.qps.or(list.limits.qps),
                                daily: given.daily.or(list.limits.daily),
                            },
                        ));
                    }
                }
            }
        }
        let mut mirrors = Vec::new();
        for (id, value) in &raw.lists.mirror {
            let given = value.get_ref();
            let Some(list) = catalog.get(id) else {
                at(value.span(), format!("mirror for unknown list `{id}`"));
                continue;
            };
            let file = base.join(&given.file);
            match crate::mirror::Source::new(id, file, &given.format, &list.query) {
                Ok(source) => mirrors.push((id.clone(), source)),
                Err(why) => at(value.span(), why),
            }
        }
        let selection = SelectionRequest {
            only: names(&raw.lists.only),
            enable: names(&raw.lists.enable),
            disable: names(&raw.lists.disable),
            limits,
            mirrors,
        };

        let resolver = resolver(&raw.resolver, &mut at);
        let problem_after = match &raw.run.problem_after {
            Some(n) => match u32::try_from(*n.get_ref()).ok().filter(|n| *n >= 1) {
                Some(n) => n,
                None => {
                    at(
                        n.span(),
                        "problem_after must be a whole number of passes, at least 1".into(),
                    );
                    3
                }
            },
            None => 3,
        };

        let mut targets = Vec::new();
        for spanned in &raw.targets {
            let raw_target = spanned.get_ref();
            let (given, mail_domain) = match (&raw_target.address, &raw_target.domain) {
                (Some(address), None) => (address, false),
                (None, Some(domain)) => (domain, true),
                (Some(address), Some(_)) => {
                    at(
                        address.span(),
                        "a [[target]] has either `address` or `domain` (a mail domain), not both"
                            .into(),
                    );
                    continue;
                }
                (None, None) => {
                    at(
                        spanned.span(),
                        "a [[target]] needs `address` (an address, range or host name) or `domain` (a mail domain)".into(),
                    );
                    continue;
                }
            };
            let text_value = given.get_ref();
            match Target::parse(text_value) {
                Ok(target) if mail_domain && !matches!(target.kind, TargetKind::Name(_)) => at(
                    given.span(),
                    format!(
                        "`{text_value}` is not a domain name: a mail domain is a name such as example.com"
                    ),
                ),
                Ok(target) if target.address_count() > MAX_TARGET_ADDRESSES => at(
                    given.span(),
                    format!(
                        "`{text_value}` holds {} addresses; at most {MAX_TARGET_ADDRESSES} (a /16) per target",
                        target.address_count()
                    ),
                ),
                Ok(target) => {
                    for contact in &raw_target.contacts {
                        let c = contact.get_ref();
                        if !looks_like_mail(c) {
                            at(
                                contact.span(),
                                format!("contact `{c}` is not a mail address"),
                            );
                        }
                    }
                    targets.push(WatchTarget {
                        target,
                        label: raw_target.label.clone(),
                        contacts: raw_target
                            .contacts
                            .iter()
                            .map(|c| c.get_ref().clone())
                            .collect(),
                        mail_domain,
                        member_of: Vec::new(),
                    });
                }
                Err(err) => at(given.span(), err.to_string()),
            }
        }
        if raw.targets.is_empty() {
            at(0..0, "no [[target]] to watch".into());
        }
        let notify = notify(&raw.notify, base, &mut at);
        let schedule = raw.schedule.as_ref().and_then(|raw| {
            let zone = match &raw.timezone {
                Some(tz) => match crate::schedule::Zone::parse(Some(tz.get_ref())) {
                    Ok(zone) => zone,
                    Err(why) => {
                        at(tz.span(), why);
                        return None;
                    }
                },
                None => crate::schedule::Zone::Local,
            };
            let jitter = match &raw.jitter {
                Some(j) if (0..=86_400).contains(j.get_ref()) => {
                    Duration::from_secs(j.get_ref().unsigned_abs())
                }
                Some(j) => {
                    at(j.span(), "jitter must be 0 to 86400 seconds".into());
                    Duration::ZERO
                }
                None => Duration::ZERO,
            };
            match crate::schedule::Schedule::parse(raw.cron.get_ref(), zone) {
                Ok(schedule) => Some(ScheduleConfig { schedule, jitter }),
                Err(why) => {
                    at(raw.cron.span(), why);
                    None
                }
            }
        });
        let fleet = raw.fleet.as_ref().and_then(|section| {
            let given = section.get_ref();
            let shard = given.shard.as_ref().map_or(256, |s| *s.get_ref());
            let lease = given.lease.as_ref().map_or(60, |s| *s.get_ref());
            let bad = if postgres.is_none() {
                Some("[fleet] needs a PostgreSQL store (store = \"postgresql://...\"): workers on several machines share it".to_string())
            } else if raw.targets.iter().any(|t| t.get_ref().domain.is_some()) {
                Some("[fleet] does not take mail domain targets yet: their setup is read by the pass that evaluates".to_string())
            } else if let Some((inner, outer)) = overlap(&targets) {
                Some(format!("[fleet] does not take a target inside another yet: {inner} is inside {outer}"))
            } else if !(1..=65_536).contains(&shard) || shard.count_ones() != 1 {
                Some(format!("[fleet] shard = {shard}: a power of two from 1 to 65536 (a network's size)"))
            } else if !(5..=3600).contains(&lease) {
                Some(format!("[fleet] lease = {lease}: seconds, from 5 to 3600"))
            } else {
                None
            };
            match bad {
                Some(why) => {
                    at(section.span(), why);
                    None
                }
                None => Some(FleetConfig {
                    shard: u32::try_from(shard).unwrap_or(256),
                    lease,
                }),
            }
        });
        let metrics_listen =
            raw.metrics
                .as_ref()
                .and_then(|m| match listen_address(m.listen.get_ref()) {
                    Some(addr) => Some(addr),
                    None => {
                        at(
                            m.listen.span(),
                            format!(
                                "metrics listen `{}` must be IP:PORT, or a port (on loopback)",
                                m.listen.get_ref()
                            ),
                        );
                        None
                    }
                });
        let mut probe_allow = Vec::new();
        for allowed in raw.metrics.iter().flat_map(|m| &m.probe_allow) {
            match Target::parse(allowed.get_ref()).map(|t| t.kind) {
                Ok(TargetKind::Net(cidr)) => probe_allow.push(cidr),
                Ok(TargetKind::Ip(ip)) => probe_allow.push(crate::target::Cidr {
                    network: ip,
                    prefix: if ip.is_ipv4() { 32 } else { 128 },
                }),
                _ => at(
                    allowed.span(),
                    format!(
                        "metrics probe_allow `{}` must be an address or a network (CIDR)",
                        allowed.get_ref()
                    ),
                ),
            }
        }
        let metrics = raw.metrics.as_ref();
        let listen_auth = metrics
            .and_then(|m| {
                together(
                    ("user", &m.user),
                    ("password_file", &m.password_file),
                    &mut at,
                )
            })
            .and_then(|(user, file)| {
                let name = user.get_ref();
                if name.is_empty() || name.contains(':') {
                    at(
                        user.span(),
                        format!("metrics user `{name}` must be non-empty, without `:`"),
                    );
                    return None;
                }
                Some((name.clone(), base.join(file.get_ref())))
            });
        let listen_tls = metrics
            .and_then(|m| together(("tls_cert", &m.tls_cert), ("tls_key", &m.tls_key), &mut at))
            .map(|(cert, key)| (base.join(cert.get_ref()), base.join(key.get_ref())));
        // Overriding templates are rendered against a full sample now, not at 3 a.m.
        if let Some(dir) = &notify.templates {
            let checked = crate::notify::render::Templates::load(Some(dir))
                .and_then(|t| t.check().and_then(|()| crate::web::page::check(&t)));
            match checked {
                Ok(()) => {}
                Err(Error::Invalid(found)) => nested.extend(found),
                Err(other) => at(0..0, other.to_string()),
            }
        }
        problems.extend(nested);

        if !problems.is_empty() {
            return Err(Error::Invalid(problems));
        }
        Ok(Config {
            path: path.to_path_buf(),
            store,
            postgres,
            selection,
            catalog,
            resolver,
            problem_after,
            targets,
            notify,
            schedule,
            metrics_listen,
            probe_allow,
            listen_auth,
            listen_tls,
            fleet,
        })
    }
}

/// The first target that lies inside another (an address in a range, a range in a range).
fn overlap(targets: &[WatchTarget]) -> Option<(String, String)> {
    for outer in targets {
        let TargetKind::Net(net) = &outer.target.kind else {
            continue;
        };
        for inner in targets
            .iter()
            .filter(|t| t.target.text != outer.target.text)
        {
            let inside = match &inner.target.kind {
                TargetKind::Ip(ip) => net.contains(*ip),
                TargetKind::Net(other) => other.prefix >= net.prefix && net.contains(other.network),
                TargetKind::Name(_) => false,
            };
            if inside {
                return Some((inner.target.text.clone(), outer.target.text.clone()));
            }
        }
    }
    None
}

/// The PostgreSQL store of `url`, with the password's source and CA from `[postgres]`.
fn pg_location(
    url: &str,
    section: Option<&Spanned<RawPostgres>>,
    base: &Path,
    at: &mut impl FnMut(Range<usize>, String),
) -> PgLocation {
    let mut location = PgLocation {
        url: url.to_string(),
        password: None,
        ca_file: None,
    };
    let Some(section) = section else {
        return location;
    };
    let raw = section.get_ref();
    location.password = match (&raw.password_env, &raw.password_file) {
        (Some(_), Some(_)) => {
            at(
                section.span(),
                "[postgres] takes password_env or password_file, not both".into(),
            );
            None
        }
        (Some(var), None) => Some(PgPassword::Env(var.clone())),
        (None, Some(file)) => Some(PgPassword::File(base.join(file))),
        (None, None) => None,
    };
    location.ca_file = raw.ca_file.as_ref().map(|f| base.join(f));
    location
}

impl Config {
    /// Where the store is: the SQLite file, or the PostgreSQL database.
    pub fn store_location(&self) -> crate::store::Location {
        match &self.postgres {
            Some(pg) => crate::store::Location::Postgres(pg.clone()),
            None => crate::store::Location::Sqlite(self.store.clone()),
        }
    }
}

/// Where the daemon listens: `IP:PORT`, or a bare port on loopback (127.0.0.1), so nothing is
/// reachable from elsewhere unless an address says so.
fn listen_address(text: &str) -> Option<SocketAddr> {
    match text.parse::<u16>() {
        Ok(port) => Some(SocketAddr::from(([127, 0, 0, 1], port))),
        Err(_) => text.parse().ok(),
    }
}

/// Two `[metrics]` keys that go together (named with their values): both, or neither; one
/// alone is an error at its place.
fn together<'a>(
    (first, a): (&str, &'a Option<Spanned<String>>),
    (second, b): (&str, &'a Option<Spanned<String>>),
    at: &mut impl FnMut(Range<usize>, String),
) -> Option<(&'a Spanned<String>, &'a Spanned<String>)> {
    match (a, b) {
        (Some(a), Some(b)) => Some((a, b)),
        (Some(a), None) => {
            at(a.span(), format!("metrics {first} needs a {second}"));
            None
        }
        (None, Some(b)) => {
            at(b.span(), format!("metrics {second} needs a {first}"));
            None
        }
        (None, None) => None,
    }
}

fn resolver(raw: &RawResolver, at: &mut impl FnMut(Range<usize>, String)) -> ResolverConfig {
    let mut config = ResolverConfig {
        verify: raw.verify,
        ..ResolverConfig::default()
    };
    for server in &raw.nameservers {
        let text = server.get_ref();
        if text == "recursive" {
            config.recursive = true;
            continue;
        }
        match parse_server(text) {
            Some(addr) => config.nameservers.push(addr),
            None => at(
                server.span(),
                format!(
                    "nameserver `{text}` must be an IP address, IP:PORT, [IPv6]:PORT or \"recursive\""
                ),
            ),
        }
    }
    if config.recursive
        && !config.nameservers.is_empty()
        && let Some(first) = raw.nameservers.first()
    {
        at(
            first.span(),
            "nameservers: \"recursive\" asks the lists' own servers and cannot go with resolver addresses".into(),
        );
    }
    for hint in &raw.root_hints {
        match parse_server(hint.get_ref()) {
            Some(addr) => config.root_hints.push(addr),
            None => at(
                hint.span(),
                format!(
                    "root hint `{}` must be an IP address, IP:PORT or [IPv6]:PORT",
                    hint.get_ref()
                ),
            ),
        }
    }
    if let Some(timeout) = &raw.timeout {
        let secs = *timeout.get_ref();
        if secs.is_finite() && secs > 0.0 && secs <= 60.0 {
            config.timeout = Some(Duration::from_secs_f64(secs));
        } else {
            at(
                timeout.span(),
                "timeout must be a number of seconds above 0 and at most 60".into(),
            );
        }
    }
    let count =
        |value: &Spanned<i64>, max: i64, name: &str, at: &mut dyn FnMut(Range<usize>, String)| {
            let n = *value.get_ref();
            if (1..=max).contains(&n) {
                usize::try_from(n).ok()
            } else {
                at(value.span(), format!("{name} must be 1 to {max}"));
                None
            }
        };
    if let Some(attempts) = &raw.attempts {
        config.attempts = count(attempts, 10, "attempts", at);
    }
    if let Some(concurrency) = &raw.concurrency {
        config.concurrency = count(concurrency, 100_000, "concurrency", at);
    }
    config
}

/// A server as `IP`, `IP:PORT` or `[IPv6]:PORT` (port 53 when none is given).
pub fn parse_server(text: &str) -> Option<SocketAddr> {
    text.parse::<SocketAddr>().ok().or_else(|| {
        text.parse::<IpAddr>()
            .ok()
            .map(|ip| SocketAddr::new(ip, 53))
    })
}

fn notify(raw: &RawNotify, base: &Path, at: &mut impl FnMut(Range<usize>, String)) -> NotifyConfig {
    let mut config = NotifyConfig {
        reminder_days: 7,
        retry_limit: 10,
        ..NotifyConfig::default()
    };
    for r in &raw.recipients {
        if looks_like_mail(r.get_ref()) {
            config.recipients.push(r.get_ref().clone());
        } else {
            at(
                r.span(),
                format!("recipient `{}` is not a mail address", r.get_ref()),
            );
        }
    }
    if let Some(dir) = &raw.templates {
        let path = base.join(dir.get_ref());
        if path.is_dir() {
            config.templates = Some(path);
        } else {
            at(
                dir.span(),
                format!("templates directory {} does not exist", path.display()),
            );
        }
    }
    let whole =
        |value: &Spanned<i64>, min: i64, name: &str, at: &mut dyn FnMut(Range<usize>, String)| {
            let n = *value.get_ref();
            match u32::try_from(n).ok().filter(|n| i64::from(*n) >= min) {
                Some(n) => Some(n),
                None => {
                    at(
                        value.span(),
                        format!("{name} must be a whole number, at least {min}"),
                    );
                    None
                }
            }
        };
    if let Some(days) = raw
        .reminder_days
        .as_ref()
        .and_then(|d| whole(d, 0, "reminder_days", at))
    {
        config.reminder_days = days;
    }
    if let Some(limit) = raw
        .retry_limit
        .as_ref()
        .and_then(|d| whole(d, 1, "retry_limit", at))
    {
        config.retry_limit = limit;
    }
    let seconds = |value: &Option<Spanned<f64>>,
                   default: u64,
                   at: &mut dyn FnMut(Range<usize>, String)| match value {
        Some(t) if t.get_ref().is_finite() && *t.get_ref() > 0.0 && *t.get_ref() <= 600.0 => {
            Duration::from_secs_f64(*t.get_ref())
        }
        Some(t) => {
            at(
                t.span(),
                "timeout must be a number of seconds above 0 and at most 600".into(),
            );
            Duration::from_secs(default)
        }
        None => Duration::from_secs(default),
    };
    if let Some(smtp) = &raw.smtp {
        let span = smtp.span();
        let smtp = smtp.get_ref();
        let security = smtp
            .security
            .as_ref()
            .map_or(SmtpSecurity::Starttls, |s| *s.get_ref());
        let host = smtp.host.get_ref().trim().to_string();
        let loopback =
            host == "localhost" || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback());
        if security == SmtpSecurity::None && !loopback {
            let place = smtp.security.as_ref().map_or(span.clone(), |s| s.span());
            at(
                place,
                format!(
                    "security = \"none\" sends mail unencrypted; it is only allowed for a server on loopback, not `{host}`"
                ),
            );
        }
        let port = match &smtp.port {
            Some(p) => match u16::try_from(*p.get_ref()).ok().filter(|p| *p > 0) {
                Some(p) => p,
                None => {
                    at(p.span(), "port must be 1 to 65535".into());
                    25
                }
            },
            None => match security {
                SmtpSecurity::Tls => 465,
                SmtpSecurity::Starttls => 587,
                SmtpSecurity::None => 25,
            },
        };
        if !looks_like_mail(smtp.from.get_ref()) {
            at(
                smtp.from.span(),
                format!("from `{}` is not a mail address", smtp.from.get_ref()),
            );
        }
        let password = match (&smtp.password_env, &smtp.password_file) {
            (Some(env), None) => Some(Secret::Env(env.get_ref().clone())),
            (None, Some(file)) => {
                let path = base.join(file.get_ref());
                if crate::files::open_regular(&path).is_err() {
                    at(
                        file.span(),
                        format!("password_file {} cannot be read", path.display()),
                    );
                }
                Some(Secret::File(path))
            }
            (Some(env), Some(_)) => {
                at(
                    env.span(),
                    "give password_env or password_file, not both".into(),
                );
                None
            }
            (None, None) => None,
        };
        if password.is_some() && smtp.username.is_none() {
            at(span.clone(), "a password needs a username".into());
        }
        let ca_file = smtp.ca_file.as_ref().map(|f| {
            let path = base.join(f.get_ref());
            if crate::files::open_regular(&path).is_err() {
                at(
                    f.span(),
                    format!("ca_file {} cannot be read", path.display()),
                );
            }
            path
        });
        config.smtp = Some(SmtpConfig {
            host,
            port,
            security,
            from: smtp.from.get_ref().clone(),
            username: smtp.username.clone(),
            password,
            ca_file,
            timeout: seconds(&smtp.timeout, 30, at),
        });
    } else if let Some(first) = raw.recipients.first() {
        at(
            first.span(),
            "recipients are given but there is no [notify.smtp] to send through".into(),
        );
    }
    for hook in &raw.webhook {
        let url = hook.url.get_ref();
        // What a notification is posted to: refused here, not found wrong at the first change.
        if !crate::lists::is_web_address(url) {
            at(
                hook.url.span(),
                format!(
                    "webhook url `{url}` must be an https:// or http:// address with a host, without spaces"
                ),
            );
        }
        config.webhooks.push(WebhookConfig {
            url: url.clone(),
            format: hook.format,
            timeout: seconds(&hook.timeout, 10, at),
        });
    }
    config
}

fn looks_like_mail(text: &str) -> bool {
    match text.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && domain.contains('.')
                && !text
                    .chars()
                    .any(|c| c.is_whitespace() || c == '<' || c == '>')
        }
        None => false,
    }
}
