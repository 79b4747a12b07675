//! `rblwatch doctor`: checks a setup point by point and says, for each, OK or what to change.
//!
//! The resolver (public, rewriting NXDOMAIN, stripping 127.0.0.0/8 answers), every enabled
//! list's health, each target's reverse DNS, the store, the templates and the SMTP server
//! (EHLO and STARTTLS, no mail sent); when asked, the open-relay test of each configured mail
//! server. Returns findings; printing is `cmd::doctor`'s.

use std::hash::{BuildHasher, Hasher};
use std::net::IpAddr;

use serde::Serialize;

use crate::check::fault::FaultKind;
use crate::check::{self, CheckRequest, ListHealth, ResolverFault};
use crate::config::Config;
use crate::dns::reverse::{Reverse, reverse};
use crate::dns::{Answer, Dns, Health, public};
use crate::lists::ActiveList;
use crate::notify::mail;
use crate::notify::render::Templates;
use crate::store::Store;
use crate::target::TargetKind;

/// How serious a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// Fine.
    Ok,
    /// Works, but something should change.
    Warning,
    /// Broken: answers or alerts cannot be trusted until it is fixed.
    Error,
}

/// One point checked.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    /// How serious.
    pub level: Level,
    /// What part of the setup: `config`, `resolver`, `list`, `rdns`, `store`, `templates`,
    /// `smtp`, `relay`.
    pub area: &'static str,
    /// What exactly (a server, a list id, an address).
    pub subject: String,
    /// What was found and what to change.
    pub message: String,
}

fn finding(
    level: Level,
    area: &'static str,
    subject: impl Into<String>,
    message: impl Into<String>,
) -> Finding {
    Finding {
        level,
        area,
        subject: subject.into(),
        message: message.into(),
    }
}

/// The open-relay test against each configured mail server: every target that is one
/// address, or a host name (its addresses); a range is not one server and is left out.
pub async fn relay(dns: &Dns, config: &Config, port: u16) -> Vec<Finding> {
    use crate::relay::{self, Request, Verdict, smtp};
    let mut servers: Vec<(String, IpAddr)> = Vec::new();
    for watched in config.targets.iter().filter(|t| !t.mail_domain) {
        let target = &watched.target;
        match &target.kind {
            TargetKind::Ip(ip) => servers.push((target.text.clone(), *ip)),
            TargetKind::Name(host) => {
                for ip in dns.addresses(host).await.unwrap_or_default() {
                    servers.push((target.text.clone(), ip));
                }
            }
            TargetKind::Net(_) => {}
        }
    }
    if servers.is_empty() {
        return vec![finding(
            Level::Warning,
            "relay",
            "-",
            "no target is a single mail server (an address or a host name) to test",
        )];
    }
    let mut found = Vec::new();
    for (name, ip) in servers {
        let endpoint = smtp::Endpoint {
            addr: std::net::SocketAddr::new(ip, port),
            name: name.clone(),
            security: smtp::Security::None,
            ca_file: None,
            timeout: relay::DEFAULT_TIMEOUT,
        };
        let report = relay::run(&Request::new(name, endpoint)).await;
        let level = match report.verdict {
            Verdict::Closed => Level::Ok,
            Verdict::OpenRelay => Level::Error,
            Verdict::Unknown => Level::Warning,
        };
        let mut message = crate::report::relay::verdict_line(&report);
        if report.verdict != Verdict::Closed {
            message.push_str(&format!(
                "; rblwatch relay-test {ip}:{port} shows the dialogue"
            ));
        }
        found.push(finding(level, "relay", format!("{ip}:{port}"), message));
    }
    found
}

/// At most this many addresses of a range get their reverse DNS checked.
const RDNS_LIMIT: usize = 16;

/// Checks the resolver and the lists, then (with a config) targets, store, templates, SMTP.
pub async fn examine(dns: &Dns, lists: &[ActiveList], config: Option<&Config>) -> Vec<Finding> {
    let (mut out, apex) = resolver(dns, lists).await;
    let found = check::run(
        dns,
        CheckRequest {
            targets: Vec::new(),
            lists: lists.to_vec(),
            verify: true,
            concurrency: 128,
            progress: None,
            used_today: std::collections::HashMap::new(),
            resolutions: None,
        },
    )
    .await;
    out.extend(list_findings(&found.lists, found.fault.as_ref(), &apex));
    if let Some(config) = config {
        out.extend(reverse_dns(dns, config).await);
        out.push(store(config));
        out.push(templates(config));
        if let Some(smtp) = &config.notify.smtp {
            let subject = format!("{}:{}", smtp.host, smtp.port);
            out.push(match mail::transport(smtp) {
                Err(why) => finding(Level::Error, "smtp", subject, why),
                Ok(transport) => match transport.test_connection().await {
                    Ok(true) => finding(
                        Level::Ok,
                        "smtp",
                        subject,
                        "answers EHLO (with STARTTLS or TLS where configured); no mail was sent",
                    ),
                    Ok(false) => finding(
                        Level::Error,
                        "smtp",
                        subject,
                        "did not complete the EHLO exchange",
                    ),
                    Err(err) => finding(Level::Error, "smtp", subject, mail::describe(smtp, &err)),
                },
            });
        }
    }
    out
}

/// How the zones of a few lists answered for themselves (their apex must exist): a resolver
/// that answers NXDOMAIN even there cannot see the internet's DNS at all.
struct Apex {
    /// The zones asked that came back NXDOMAIN.
    missing: Vec<String>,
    /// How many zones were asked.
    asked: usize,
}

/// Zones asked for their apex.
const APEX_PROBES: usize = 3;

async fn resolver(dns: &Dns, lists: &[ActiveList]) -> (Vec<Finding>, Apex) {
    let mut out = Vec::new();
    let mut apex = Apex {
        missing: Vec::new(),
        asked: 0,
    };
    // Keyed zones are left out: their apex is the key's, not the list's.
    for list in lists
        .iter()
        .filter(|l| l.zone == l.list.zone)
        .take(APEX_PROBES)
    {
        apex.asked += 1;
        if dns.a(&list.zone, &format!("{}.", list.zone)).await == Answer::NxDomain {
            apex.missing.push(list.zone.clone());
        }
    }
    if dns.is_recursive() {
        out.push(finding(
            Level::Ok,
            "resolver",
            "recursive",
            format!(
                "{}: each list zone's own servers are asked, no resolver in between",
                dns.describe()
            ),
        ));
    }
    for server in dns.servers() {
        out.push(match public::public_resolver(server.ip()) {
            Some(operator) => finding(
                Level::Warning,
                "resolver",
                server.to_string(),
                public::warning(server.ip(), operator),
            ),
            None => finding(
                Level::Ok,
                "resolver",
                server.to_string(),
                "not a well-known public resolver",
            ),
        });
    }
    // A name that cannot exist under a list's zone: any address back means the resolver (or
    // something between) rewrites NXDOMAIN, which makes every lookup look listed.
    if let Some(list) = lists.first() {
        let label = format!(
            "rblwatch-doctor-{:016x}",
            std::collections::hash_map::RandomState::new()
                .build_hasher()
                .finish()
        );
        let name = format!("{label}.{}.", list.zone);
        out.push(match dns.a(&list.zone, &name).await {
            Answer::Addresses(addrs) if addrs.iter().any(|a| a.octets()[0] != 127) => finding(
                Level::Error,
                "resolver",
                "NXDOMAIN",
                format!(
                    "a name that cannot exist ({label}.{}) got the answer {}: the resolver rewrites NXDOMAIN (hijacking); every list would look like it lists you. Use a resolver that does not (a local unbound)",
                    list.list.zone,
                    addrs.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
                ),
            ),
            Answer::NxDomain | Answer::NoData => finding(Level::Ok, "resolver", "NXDOMAIN", "names that do not exist are answered NXDOMAIN, not rewritten"),
            other => finding(Level::Warning, "resolver", "NXDOMAIN", format!("could not tell whether NXDOMAIN is rewritten: the answer was {other}")),
        });
    }
    (out, apex)
}

/// The resolver's fault as a finding: what it does, told apart from the lists' own failures.
fn fault_finding(fault: &ResolverFault, apex: &Apex) -> Finding {
    let (n, of) = (fault.lists.len(), fault.checked);
    let subject = fault
        .resolver
        .trim_start_matches("the resolver ")
        .to_string();
    let fix = "the lists are not at fault: do not disable them";
    let (what, message) = match fault.kind {
        FaultKind::NoListings if apex.asked > 0 && apex.missing.len() == apex.asked => (
            "NXDOMAIN for everything",
            format!(
                "answers NXDOMAIN even for names that exist (the zones {} themselves) and finds nothing at the RFC 5782 test points of {n} of {of} lists: it cannot see the internet's DNS (no outside access, a resolver that only knows local names, or a filter). Use one that reaches the lists: a local unbound, or `--nameserver recursive`; {fix}",
                apex.missing.join(", ")
            ),
        ),
        FaultKind::NoListings => (
            "127.0.0.0/8 stripped",
            format!(
                "the lists' zones exist, but {n} of {of} lists show nothing at their RFC 5782 positive test point (127.0.0.2): the resolver strips 127.0.0.0/8 answers (unbound `private-address: 127.0.0.0/8`, pfSense/OPNsense DNS rebinding protection). Allow 127.0.0.0/8 answers for the list zones; {fix}"
            ),
        ),
        FaultKind::NoAnswer => (
            "no answer",
            format!(
                "gives no answer for the test points of {n} of {of} lists (timeouts, SERVFAIL): it is down, unreachable, or cannot reach the lists' servers. Check that it runs and answers on port 53, or use a local unbound or `--nameserver recursive`; {fix}"
            ),
        ),
        FaultKind::Refuses => (
            "refused",
            format!(
                "is refused for the test points of {n} of {of} lists: it refuses recursion to this host, or the lists refuse it (public or shared resolvers). Use your own recursive resolver (a local unbound) or `--nameserver recursive`; {fix}"
            ),
        ),
        FaultKind::Rewrites => (
            "rewrites answers",
            format!(
                "answers the test points of {n} of {of} lists with addresses the lists never give: it rewrites answers (NXDOMAIN hijacking, a filtering resolver). Use one that does not (a local unbound) or `--nameserver recursive`; {fix}"
            ),
        ),
    };
    finding(
        Level::Error,
        "resolver",
        format!("{subject} ({what})"),
        message,
    )
}

fn list_findings(
    health: &[ListHealth],
    fault: Option<&ResolverFault>,
    apex: &Apex,
) -> Vec<Finding> {
    let mut out = Vec::new();
    // Most lists failing alike is the resolver, not the lists: one finding, and no advice to
    // disable lists that are fine (unbound's `private-address: 127.0.0.0/8` strips every
    // DNSBL answer: dnsbl-facts.md 6.5).
    if let Some(fault) = fault {
        out.push(fault_finding(fault, apex));
    }
    for h in health
        .iter()
        .filter(|h| !fault.is_some_and(|f| f.covers(&h.list.id)))
    {
        let why = h.detail.clone().unwrap_or_default();
        let (level, message) = match h.health {
            Health::Ok => (
                Level::Ok,
                "healthy: its test points answer as RFC 5782 says".to_string(),
            ),
            Health::Unchecked => continue,
            Health::Dead => (
                Level::Warning,
                format!("dead: {why}; it tells nothing, disable it"),
            ),
            Health::Wildcard => (
                Level::Error,
                format!("lists the world: {why}; disable it now, every address would look listed"),
            ),
            Health::Refused => (
                Level::Warning,
                format!(
                    "refuses your resolver: {why}; query through your own recursive resolver with attributable rDNS, or use the list's key (Spamhaus DQS)"
                ),
            ),
            Health::Bogus => (
                Level::Error,
                format!(
                    "answers outside what it documents: {why}; the resolver may rewrite answers"
                ),
            ),
            Health::Unreachable => (
                Level::Warning,
                format!("no answer: {why}; check the network path to the list's servers"),
            ),
        };
        out.push(finding(level, "list", h.list.id.clone(), message));
    }
    out
}

async fn reverse_dns(dns: &Dns, config: &Config) -> Vec<Finding> {
    let mut out = Vec::new();
    let mut addresses: Vec<IpAddr> = Vec::new();
    // A mail domain's own address is not its mail server: its MX hosts are checked with it.
    for target in config.targets.iter().filter(|t| !t.mail_domain) {
        match &target.target.kind {
            TargetKind::Ip(ip) => addresses.push(ip.to_canonical()),
            TargetKind::Net(cidr) => {
                let all: Vec<IpAddr> = cidr.addresses().take(RDNS_LIMIT + 1).collect();
                if all.len() > RDNS_LIMIT {
                    out.push(finding(
                        Level::Ok,
                        "rdns",
                        target.target.text.clone(),
                        format!(
                            "range: reverse DNS checked for its first {RDNS_LIMIT} addresses only"
                        ),
                    ));
                }
                addresses.extend(all.into_iter().take(RDNS_LIMIT));
            }
            TargetKind::Name(host) => match dns.addresses(host).await {
                Ok(found) => addresses.extend(found),
                Err(why) => out.push(finding(
                    Level::Error,
                    "rdns",
                    host.clone(),
                    format!("does not resolve: {why}"),
                )),
            },
        }
    }
    for ip in addresses {
        out.push(rdns_finding(
            "rdns",
            ip.to_string(),
            ip,
            &reverse(dns, ip).await,
        ));
    }
    out
}

/// What an address's reverse DNS means for its mail, as a finding about `subject`.
pub(crate) fn rdns_finding(
    area: &'static str,
    subject: String,
    ip: IpAddr,
    found: &Reverse,
) -> Finding {
    match found {
        Reverse::Failed(why) => finding(
            Level::Warning,
            area,
            subject,
            format!("reverse DNS lookup failed: {why}"),
        ),
        Reverse::Missing => finding(
            Level::Warning,
            area,
            subject,
            format!(
                "{ip} has no reverse DNS (PTR): many receivers refuse such mail, and lists such as SpamRATS NoPtr list it; ask whoever owns the address block to set a PTR naming the server"
            ),
        ),
        Reverse::Confirmed(name) => finding(
            Level::Ok,
            area,
            subject,
            format!("PTR {name} resolves back to it (forward-confirmed)"),
        ),
        Reverse::Unconfirmed(names) => finding(
            Level::Warning,
            area,
            subject,
            format!(
                "PTR {} does not resolve back to {ip}: make the name's A/AAAA record point to this address",
                names.join(", ")
            ),
        ),
    }
}

/// What opening a PostgreSQL store says, as a finding (it creates or migrates the schema).
pub fn postgres_store(location: &crate::store::postgres::Location) -> Finding {
    match crate::store::postgres::open(location) {
        Ok(opened) if opened.was == 0 => finding(
            Level::Ok,
            "store",
            location.url.clone(),
            format!("connected; schema created (version {})", opened.version),
        ),
        Ok(opened) if opened.was < opened.version => finding(
            Level::Ok,
            "store",
            location.url.clone(),
            format!(
                "connected; schema migrated from version {} to {}",
                opened.was, opened.version
            ),
        ),
        Ok(opened) => finding(
            Level::Ok,
            "store",
            location.url.clone(),
            format!("connected; schema current (version {})", opened.version),
        ),
        Err(err) => finding(Level::Error, "store", location.url.clone(), err.to_string()),
    }
}

fn store(config: &Config) -> Finding {
    if let Some(location) = &config.postgres {
        return postgres_store(location);
    }
    let subject = config.store.display().to_string();
    if !config.store.exists() {
        let dir = config
            .store
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .map(std::path::Path::to_path_buf);
        let writable = dir.as_ref().is_none_or(|d| {
            let mut probe = d.clone();
            while !probe.exists() {
                if !probe.pop() {
                    return false;
                }
            }
            let file = probe.join(".rblwatch-doctor-probe");
            let made = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&file)
                .is_ok();
            let _ = std::fs::remove_file(&file);
            made
        });
        return if writable {
            finding(
                Level::Ok,
                "store",
                subject,
                "does not exist yet; the first pass creates it",
            )
        } else {
            finding(
                Level::Error,
                "store",
                subject,
                "cannot be created: its directory is not writable",
            )
        };
    }
    match Store::open(&config.store) {
        Ok(_) => finding(
            Level::Ok,
            "store",
            subject,
            "opens for writing; schema current",
        ),
        Err(err) => finding(Level::Error, "store", subject, err.to_string()),
    }
}

fn templates(config: &Config) -> Finding {
    let subject = config
        .notify
        .templates
        .as_ref()
        .map_or_else(|| "built-in".to_string(), |d| d.display().to_string());
    match Templates::load(config.notify.templates.as_deref()).and_then(|t| t.check()) {
        Ok(()) => finding(Level::Ok, "templates", subject, "every template renders"),
        Err(err) => finding(Level::Error, "templates", subject, err.to_string()),
    }
}
