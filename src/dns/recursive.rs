//! Recursive mode (`--nameserver recursive`): rblwatch finds each list zone's authoritative
//! servers itself, from the root down, and asks them directly; no resolver in between.
//!
//! Why: many hosts have only a provider's or a public resolver, which Spamhaus, URIBL and
//! others refuse (dnsbl-facts.md 6.2, 6.5). Only the walk to a zone's servers is done here
//! (referrals, glue, name-server addresses); the bulk of the queries then go to those servers
//! over the lean UDP client, with the same statuses, limits and health checks. Answers are
//! never cached: only where a zone's servers are, for the run and by TTL across the daemon's
//! passes.

use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::pin::Pin;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use hickory_resolver::proto::op::{Message, ResponseCode};
use hickory_resolver::proto::rr::{Name, RData, RecordType};

use super::udp;

/// The root servers' IPv4 addresses, from IANA's root hints (named.root, a.root-servers.net
/// to m.root-servers.net; b changed to 170.247.170.2 in 2023).
pub const ROOTS: [Ipv4Addr; 13] = [
    Ipv4Addr::new(198, 41, 0, 4),
    Ipv4Addr::new(170, 247, 170, 2),
    Ipv4Addr::new(192, 33, 4, 12),
    Ipv4Addr::new(199, 7, 91, 13),
    Ipv4Addr::new(192, 203, 230, 10),
    Ipv4Addr::new(192, 5, 5, 241),
    Ipv4Addr::new(192, 112, 36, 4),
    Ipv4Addr::new(198, 97, 190, 53),
    Ipv4Addr::new(192, 36, 148, 17),
    Ipv4Addr::new(192, 58, 128, 30),
    Ipv4Addr::new(193, 0, 14, 129),
    Ipv4Addr::new(199, 7, 83, 42),
    Ipv4Addr::new(202, 12, 27, 33),
];

/// The root servers on port 53.
pub fn root_hints() -> Vec<SocketAddr> {
    ROOTS
        .iter()
        .map(|ip| SocketAddr::new(IpAddr::V4(*ip), 53))
        .collect()
}

/// Referrals followed for one name before giving up (a loop, or a very deep tree).
const MAX_REFERRALS: usize = 16;
/// Levels of name-server names whose own addresses must be looked up (glue-less referrals).
const MAX_DEPTH: usize = 4;
/// Servers of one zone asked in turn before the step fails.
const SERVERS_TRIED: usize = 3;
/// At most this many servers of a zone are used.
const MAX_SERVERS: usize = 4;
/// How long a zone's servers are kept when the referral's TTL says nothing usable.
const TTL_BOUNDS: (u64, u64) = (60, 86_400);

/// Where a zone's servers are, kept by TTL for the life of the process (a daemon's passes
/// share it), keyed by root hints and zone.
type ServerCache = HashMap<(Vec<SocketAddr>, String), (Vec<SocketAddr>, Instant)>;

fn cache() -> &'static Mutex<ServerCache> {
    static CACHE: OnceLock<Mutex<ServerCache>> = OnceLock::new();
    CACHE.get_or_init(|| Mutex::new(HashMap::new()))
}

/// What an authoritative walk ended with.
pub(super) struct Found {
    /// The servers that answered with authority for the name.
    pub(super) servers: Vec<SocketAddr>,
    /// Their answer.
    pub(super) message: Message,
    /// The smallest TTL of the referrals on the way (how long the servers may be kept).
    pub(super) ttl: u64,
}

/// Recursive resolution from a set of root hints.
#[derive(Debug, Clone)]
pub struct Recursive {
    roots: Vec<SocketAddr>,
    /// The port every server found is asked on: 53, unless the root hints name another (a
    /// lab on loopback, where every level listens on one port).
    port: u16,
    timeout: Duration,
}

impl Recursive {
    /// Resolution from `roots` (IANA's when empty), each step waiting `timeout` per server.
    pub fn new(roots: &[SocketAddr], timeout: Duration) -> Recursive {
        let roots = if roots.is_empty() {
            root_hints()
        } else {
            roots.to_vec()
        };
        let port = roots.first().map_or(53, SocketAddr::port);
        Recursive {
            roots,
            port,
            timeout,
        }
    }

    /// The root hints in use.
    pub fn roots(&self) -> &[SocketAddr] {
        &self.roots
    }

    /// The authoritative servers of the zone that holds `zone` (a list's zone apex), found by
    /// following referrals from the root; kept by TTL.
    pub async fn zone_servers(&self, zone: &str) -> Result<Vec<SocketAddr>, String> {
        let key = (
            self.roots.clone(),
            zone.trim_end_matches('.').to_ascii_lowercase(),
        );
        if let Ok(cache) = cache().lock()
            && let Some((servers, until)) = cache.get(&key)
            && *until > Instant::now()
        {
            return Ok(servers.clone());
        }
        let found = self.walk(&format!("{}.", key.1), RecordType::NS, 0).await?;
        let ttl = found.ttl.clamp(TTL_BOUNDS.0, TTL_BOUNDS.1);
        let mut servers = found.servers;
        servers.truncate(MAX_SERVERS);
        if let Ok(mut cache) = cache().lock() {
            cache.insert(
                key,
                (servers.clone(), Instant::now() + Duration::from_secs(ttl)),
            );
        }
        Ok(servers)
    }

    /// The authoritative answer for `name` and `rtype`, CNAMEs followed (at most 8).
    pub async fn lookup(&self, name: &str, rtype: RecordType) -> Result<Message, String> {
        let mut name = absolute(name);
        for _ in 0..8 {
            let found = self.walk(&name, rtype, 0).await?;
            let alias = found.message.answers.iter().find_map(|r| match &r.data {
                RData::CNAME(target) if rtype != RecordType::CNAME => Some(target.0.to_ascii()),
                _ => None,
            });
            let has_wanted = found
                .message
                .answers
                .iter()
                .any(|r| r.record_type() == rtype);
            match alias {
                Some(target) if !has_wanted => name = absolute(&target),
                _ => return Ok(found.message),
            }
        }
        Err(format!("{name}: too many aliases (CNAME) in a row"))
    }

    /// Follows referrals from the root to the servers that answer `name` with authority.
    fn walk<'a>(
        &'a self,
        name: &'a str,
        rtype: RecordType,
        depth: usize,
    ) -> Pin<Box<dyn Future<Output = Result<Found, String>> + Send + 'a>> {
        Box::pin(async move {
            let target = Name::from_ascii(name).map_err(|e| format!("{name}: {e}"))?;
            let mut servers = self.roots.clone();
            let mut cut = Name::root();
            let mut ttl = u64::MAX;
            for _ in 0..MAX_REFERRALS {
                let (server, message) = self.ask_any(&servers, name, rtype).await?;
                let code = message.metadata.response_code;
                if message.metadata.authoritative
                    && matches!(code, ResponseCode::NoError | ResponseCode::NXDomain)
                {
                    return Ok(Found {
                        servers,
                        message,
                        ttl,
                    });
                }
                let Some((child, names, least)) = referral(&message, &target, &cut) else {
                    return Err(format!(
                        "{server} gave neither an answer with authority nor a referral for {name} ({code})"
                    ));
                };
                ttl = ttl.min(least);
                let mut next = glue(&message, &names, self.port);
                if next.is_empty() {
                    if depth >= MAX_DEPTH {
                        return Err(format!(
                            "{name}: the name servers of {child} have no addresses within {MAX_DEPTH} levels"
                        ));
                    }
                    next = self.addresses_of(&names, depth + 1).await;
                }
                if next.is_empty() {
                    return Err(format!(
                        "{name}: no address found for the name servers of {child} ({})",
                        names.join(", ")
                    ));
                }
                servers = next;
                cut = child;
            }
            Err(format!("{name}: more than {MAX_REFERRALS} referrals"))
        })
    }

    /// The IPv4 addresses of name servers named without glue.
    async fn addresses_of(&self, names: &[String], depth: usize) -> Vec<SocketAddr> {
        let mut found = Vec::new();
        for ns in names.iter().take(SERVERS_TRIED) {
            if let Ok(answer) = self.walk(ns, RecordType::A, depth).await {
                found.extend(answer.message.answers.iter().filter_map(|r| match &r.data {
                    RData::A(a) => Some(SocketAddr::new(IpAddr::V4(a.0), self.port)),
                    _ => None,
                }));
            }
            if !found.is_empty() {
                break;
            }
        }
        found
    }

    /// Asks the servers in turn until one answers; returns which one and its message.
    async fn ask_any(
        &self,
        servers: &[SocketAddr],
        name: &str,
        rtype: RecordType,
    ) -> Result<(SocketAddr, Message), String> {
        let mut errors = Vec::new();
        for &server in servers.iter().take(SERVERS_TRIED) {
            match udp::exchange(server, name, u16::from(rtype), false, self.timeout).await {
                Ok(reply) => match Message::from_vec(&reply) {
                    Ok(message) => return Ok((server, message)),
                    Err(e) => errors.push(format!("{server}: undecodable answer: {e}")),
                },
                Err(why) => errors.push(why),
            }
        }
        Err(format!(
            "no server answered for {name}: {}",
            errors.join("; ")
        ))
    }
}

fn absolute(name: &str) -> String {
    format!("{}.", name.trim_end_matches('.'))
}

/// A referral in `message`: NS records in the authority section for a zone that holds
/// `target` and lies below `cut` (so every step goes down the tree, never round in a loop).
/// Returns the child zone, its name servers and the smallest TTL of the NS records.
fn referral(message: &Message, target: &Name, cut: &Name) -> Option<(Name, Vec<String>, u64)> {
    let mut child: Option<Name> = None;
    let mut names = Vec::new();
    let mut ttl = u64::MAX;
    for record in &message.authorities {
        let RData::NS(ns) = &record.data else {
            continue;
        };
        let owner = &record.name;
        if !owner.zone_of(target) || owner.num_labels() <= cut.num_labels() {
            continue;
        }
        if child.as_ref().is_some_and(|c| c != owner) {
            continue;
        }
        child = Some(owner.clone());
        names.push(ns.0.to_ascii());
        ttl = ttl.min(u64::from(record.ttl));
    }
    child.map(|c| (c, names, ttl))
}

/// The IPv4 glue for `names` in the additional section.
fn glue(message: &Message, names: &[String], port: u16) -> Vec<SocketAddr> {
    message
        .additionals
        .iter()
        .filter(|r| {
            let owner = r.name.to_ascii();
            names.iter().any(|n| n.eq_ignore_ascii_case(&owner))
        })
        .filter_map(|r| match &r.data {
            RData::A(a) => Some(SocketAddr::new(IpAddr::V4(a.0), port)),
            _ => None,
        })
        .collect()
}
