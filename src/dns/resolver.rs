//! The one place that talks to hickory-resolver: A, TXT and address lookups, decoded into
//! this crate's own types so nothing else depends on hickory's API.
//!
//! Settings: the system's resolv.conf or `--nameserver`, per-query timeout and tries, no
//! cache (a monitor must see the list's current answer), no hosts file, no search domains.
//! In recursive mode there is no resolver: each list zone's own servers are found from the
//! root (`recursive`) and asked directly.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use tokio::sync::OnceCell;

use hickory_resolver::config::{ConnectionConfig, NameServerConfig, ResolveHosts, ResolverConfig};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::net::{DnsError, NetError};
use hickory_resolver::proto::op::ResponseCode;
use hickory_resolver::proto::rr::{RData, RecordType};
use hickory_resolver::{TokioResolver, system_conf};

use std::sync::Arc;

use super::classify::Answer;
use super::recursive::Recursive;
use super::udp::UdpClient;
use crate::error::Error;

/// How to reach DNS.
#[derive(Debug, Clone)]
pub struct ResolverSettings {
    /// Send every query to these servers; empty: the system's resolv.conf.
    pub nameservers: Vec<SocketAddr>,
    /// Recursive mode, from these root hints (empty: IANA's); `nameservers` is then unused.
    pub recursive: Option<Vec<SocketAddr>>,
    /// How long to wait for one answer.
    pub timeout: Duration,
    /// How many times to send a query before giving up (at least 1).
    pub tries: usize,
    /// How many queries may be in flight at once.
    pub concurrency: usize,
}

/// A configured resolver: A lookups over the lean UDP client, the rest over hickory; or, in
/// recursive mode, each zone's own servers.
#[derive(Clone)]
pub struct Dns {
    upstream: Upstream,
    timeout: Duration,
    tries: usize,
}

/// hickory-resolver, for the lookups that are not a list's A or TXT question (a host name's
/// addresses, MX, SPF, PTR). Built on first use: a check of addresses never needs it, and
/// building and dropping it cost such a check about 0.15 ms of its 4 (A/B on the bench rig).
struct Hickory {
    config: ResolverConfig,
    settings: ResolverSettings,
    built: OnceLock<Result<TokioResolver, String>>,
}

impl Hickory {
    fn get(&self) -> Result<&TokioResolver, String> {
        self.built
            .get_or_init(|| {
                let mut builder = TokioResolver::builder_with_config(
                    self.config.clone(),
                    TokioRuntimeProvider::default(),
                );
                let opts = builder.options_mut();
                opts.timeout = self.settings.timeout;
                opts.attempts = self.settings.tries.max(1) - 1;
                opts.cache_size = 0;
                opts.use_hosts_file = ResolveHosts::Never;
                opts.ndots = 0;
                // hickory answers "busy" past this many requests on one connection; the
                // engine's own limit is the one that should bind.
                opts.max_active_requests = self.settings.concurrency.max(1);
                builder
                    .build()
                    .map_err(|e| format!("cannot build the resolver: {e}"))
            })
            .as_ref()
            .map_err(Clone::clone)
    }
}

/// A client per list zone, made once its servers are found (or why they cannot be).
type ZoneClients = Mutex<HashMap<String, Arc<OnceCell<Result<Arc<UdpClient>, String>>>>>;

#[derive(Clone)]
enum Upstream {
    Resolver {
        inner: Arc<Hickory>,
        udp: Arc<UdpClient>,
        servers: Vec<SocketAddr>,
    },
    Recursive {
        walk: Arc<Recursive>,
        zones: Arc<ZoneClients>,
        concurrency: usize,
    },
}

impl Dns {
    /// Builds a resolver from the settings.
    pub fn new(settings: &ResolverSettings) -> Result<Dns, Error> {
        if let Some(roots) = &settings.recursive {
            return Ok(Dns {
                upstream: Upstream::Recursive {
                    walk: Arc::new(Recursive::new(roots, settings.timeout)),
                    zones: Arc::new(Mutex::new(HashMap::new())),
                    concurrency: settings.concurrency,
                },
                timeout: settings.timeout,
                tries: settings.tries.max(1),
            });
        }
        let config = if settings.nameservers.is_empty() {
            let (config, _) = system_conf::read_system_conf()
                .map_err(|e| Error::Resolver(format!("/etc/resolv.conf: {e}")))?;
            // Search domains are never wanted: every name asked is absolute.
            ResolverConfig::from_name_servers(config.name_servers().to_vec())
        } else {
            let servers = settings
                .nameservers
                .iter()
                .map(|addr| {
                    let mut udp = ConnectionConfig::udp();
                    udp.port = addr.port();
                    let mut tcp = ConnectionConfig::tcp();
                    tcp.port = addr.port();
                    let mut server = NameServerConfig::udp_and_tcp(addr.ip());
                    server.connections = vec![udp, tcp];
                    server
                })
                .collect();
            ResolverConfig::from_name_servers(servers)
        };
        let servers: Vec<SocketAddr> = config
            .name_servers()
            .iter()
            .map(|ns| SocketAddr::new(ns.ip, ns.connections.first().map_or(53, |c| c.port)))
            .collect();
        if servers.is_empty() {
            return Err(Error::Resolver(
                "no name server configured (/etc/resolv.conf is empty; give --nameserver)".into(),
            ));
        }
        let udp = UdpClient::new(&servers, settings.concurrency)
            .map_err(|e| Error::Resolver(format!("cannot open UDP sockets: {e}")))?;
        Ok(Dns {
            upstream: Upstream::Resolver {
                inner: Arc::new(Hickory {
                    config,
                    settings: settings.clone(),
                    built: OnceLock::new(),
                }),
                udp: Arc::new(udp),
                servers,
            },
            timeout: settings.timeout,
            tries: settings.tries.max(1),
        })
    }

    /// The resolvers queries go to (none in recursive mode).
    pub fn servers(&self) -> &[SocketAddr] {
        match &self.upstream {
            Upstream::Resolver { servers, .. } => servers,
            Upstream::Recursive { .. } => &[],
        }
    }

    /// A client for a run of many A lookups, to the resolvers, with at most `concurrency`
    /// in flight; none in recursive mode, where each zone has servers of its own.
    pub fn ring(&self, concurrency: usize) -> Option<std::io::Result<super::ring::Ring>> {
        match &self.upstream {
            Upstream::Resolver { servers, .. } => Some(super::ring::Ring::new(
                servers,
                concurrency,
                self.timeout,
                self.tries,
            )),
            Upstream::Recursive { .. } => None,
        }
    }

    /// Whether each list zone's own servers are asked (recursive mode).
    pub fn is_recursive(&self) -> bool {
        matches!(self.upstream, Upstream::Recursive { .. })
    }

    /// What answers the queries, for people: the resolvers, or recursive resolution.
    pub fn describe(&self) -> String {
        match &self.upstream {
            Upstream::Resolver { servers, .. } => {
                let servers: Vec<String> = servers.iter().map(ToString::to_string).collect();
                format!("the resolver {}", servers.join(", "))
            }
            Upstream::Recursive { walk, .. } => format!(
                "recursive resolution (from {} root server(s), {} first)",
                walk.roots().len(),
                walk.roots()
                    .first()
                    .map(ToString::to_string)
                    .unwrap_or_default()
            ),
        }
    }

    /// The client that asks `zone`'s questions: the resolvers', or in recursive mode one to
    /// the zone's own servers, found on first use. The search is boxed: every query's future
    /// holds this one, and it stays small for the common case.
    async fn client(&self, zone: &str) -> Result<Arc<UdpClient>, String> {
        match &self.upstream {
            Upstream::Resolver { udp, .. } => Ok(udp.clone()),
            Upstream::Recursive { .. } => Box::pin(self.zone_client(zone)).await,
        }
    }

    /// The client to a zone's own servers (recursive mode), made on first use.
    async fn zone_client(&self, zone: &str) -> Result<Arc<UdpClient>, String> {
        let Upstream::Recursive {
            walk,
            zones,
            concurrency,
        } = &self.upstream
        else {
            return Err("not in recursive mode".into());
        };
        let concurrency = *concurrency;
        let key = zone.trim_end_matches('.').to_ascii_lowercase();
        let cell = zones
            .lock()
            .map_err(|_| "internal lock poisoned".to_string())?
            .entry(key.clone())
            .or_default()
            .clone();
        cell.get_or_init(|| async {
            let servers = walk
                .zone_servers(&key)
                .await
                .map_err(|why| format!("cannot find the servers of {key}: {why}"))?;
            UdpClient::authoritative(&servers, concurrency)
                .map(Arc::new)
                .map_err(|e| format!("cannot open UDP sockets for {key}: {e}"))
        })
        .await
        .clone()
    }

    /// Asks for the A records of an absolute name in a list's `zone`.
    pub async fn a(&self, zone: &str, name: &str) -> Answer {
        self.ask_a(zone, name, true).await
    }

    /// Asks for the A records of a list's test point, without waiting for a place among the
    /// queries in flight: the run's answers wait on these, so they must never queue behind
    /// them.
    pub async fn a_first(&self, zone: &str, name: &str) -> Answer {
        self.ask_a(zone, name, false).await
    }

    async fn ask_a(&self, zone: &str, name: &str, windowed: bool) -> Answer {
        match self.client(zone).await {
            Ok(udp) => udp.a(name, self.timeout, self.tries, windowed).await,
            Err(why) => Answer::Failure(why),
        }
    }

    /// The TXT strings of an absolute name in a list's `zone`; empty when there are none or
    /// the lookup fails (TXT is for people, never part of a verdict: dnsbl-facts.md 1.8).
    pub async fn txt(&self, zone: &str, name: &str) -> Vec<String> {
        match self.client(zone).await {
            Ok(udp) => udp.txt(name, self.timeout, self.tries).await,
            Err(_) => Vec::new(),
        }
    }

    /// The records of `rtype` for `name`: through the resolver, or recursively.
    async fn lookup(&self, name: &str, rtype: RecordType) -> Result<Vec<RData>, Answer> {
        match &self.upstream {
            Upstream::Resolver { inner, .. } => {
                let resolver = inner.get().map_err(Answer::Failure)?;
                match resolver.lookup(name, rtype).await {
                    Ok(lookup) => Ok(lookup.answers().iter().map(|r| r.data.clone()).collect()),
                    Err(err) => Err(failure(&err)),
                }
            }
            Upstream::Recursive { walk, .. } => {
                let message = walk.lookup(name, rtype).await.map_err(Answer::Failure)?;
                match message.metadata.response_code {
                    ResponseCode::NXDomain => Err(Answer::NxDomain),
                    ResponseCode::NoError => {
                        let found: Vec<RData> = message
                            .answers
                            .iter()
                            .filter(|r| r.record_type() == rtype)
                            .map(|r| r.data.clone())
                            .collect();
                        if found.is_empty() {
                            Err(Answer::NoData)
                        } else {
                            Ok(found)
                        }
                    }
                    ResponseCode::Refused => Err(Answer::Refused),
                    code => Err(Answer::Failure(format!("the DNS server answered {code}"))),
                }
            }
        }
    }

    /// The names in the PTR records of an address (reverse DNS); empty when there are none.
    pub async fn ptr(&self, ip: IpAddr) -> Result<Vec<String>, String> {
        let name = match ip.to_canonical() {
            IpAddr::V4(v4) => super::name::ipv4(v4, "in-addr.arpa"),
            IpAddr::V6(v6) => super::name::ipv6(v6, "ip6.arpa"),
        };
        match self.lookup(name.as_str(), RecordType::PTR).await {
            Ok(records) => Ok(records
                .iter()
                .filter_map(|r| match r {
                    RData::PTR(ptr) => {
                        Some(ptr.0.to_string().trim_end_matches('.').to_ascii_lowercase())
                    }
                    _ => None,
                })
                .collect()),
            Err(answer) => match answer {
                Answer::NxDomain | Answer::NoData => Ok(Vec::new()),
                Answer::Refused => Err("the DNS server answered REFUSED".into()),
                Answer::Failure(why) => Err(why),
                Answer::Addresses(_) => Ok(Vec::new()),
            },
        }
    }

    /// The MX records of a domain, by preference then name (`.` for a null MX, RFC 7505).
    pub async fn mx(&self, domain: &str) -> Result<Records<(u16, String)>, String> {
        let name = format!("{}.", domain.trim_end_matches('.'));
        let found = self.lookup(name.as_str(), RecordType::MX).await;
        records(found, |r| match r {
            RData::MX(mx) => {
                let host = mx.exchange.to_ascii().to_ascii_lowercase();
                let host = host.trim_end_matches('.');
                Some((
                    mx.preference,
                    if host.is_empty() {
                        ".".into()
                    } else {
                        host.into()
                    },
                ))
            }
            _ => None,
        })
        .map(|mut found| {
            if let Records::Found(list) = &mut found {
                list.sort();
                list.dedup();
            }
            found
        })
    }

    /// The TXT records of a name, each one's strings joined as RFC 7208 section 3.3 says
    /// (no separator), as text (invalid UTF-8 replaced).
    pub async fn txt_records(&self, name: &str) -> Result<Records<String>, String> {
        let name = format!("{}.", name.trim_end_matches('.'));
        let found = self.lookup(name.as_str(), RecordType::TXT).await;
        records(found, |r| match r {
            RData::TXT(txt) => {
                let bytes: Vec<u8> = txt
                    .txt_data
                    .iter()
                    .flat_map(|s| s.iter().copied())
                    .collect();
                Some(String::from_utf8_lossy(&bytes).into_owned())
            }
            _ => None,
        })
    }

    /// The A and AAAA addresses of a host name.
    pub async fn addresses(&self, host: &str) -> Result<Vec<IpAddr>, String> {
        let name = format!("{}.", host.trim_end_matches('.'));
        let (v4, v6) = tokio::join!(
            self.lookup(name.as_str(), RecordType::A),
            self.lookup(name.as_str(), RecordType::AAAA)
        );
        let mut found = Vec::new();
        let mut errors = Vec::new();
        for result in [v4, v6] {
            match result {
                Ok(records) => found.extend(records.iter().filter_map(|r| match r {
                    RData::A(a) => Some(IpAddr::V4(a.0)),
                    RData::AAAA(aaaa) => Some(IpAddr::V6(aaaa.0)),
                    _ => None,
                })),
                Err(answer) => match answer {
                    Answer::NxDomain => errors.push("no such name (NXDOMAIN)".to_string()),
                    Answer::NoData => {}
                    Answer::Failure(why) => errors.push(why),
                    Answer::Refused => errors.push("the DNS server answered REFUSED".into()),
                    Answer::Addresses(_) => {}
                },
            }
        }
        if found.is_empty() {
            errors.dedup();
            return Err(if errors.is_empty() {
                "the name has no A or AAAA record".into()
            } else {
                errors.join("; ")
            });
        }
        Ok(found)
    }
}

/// What a lookup of one record type found: the records, or which negative answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Records<T> {
    /// These records (at least one).
    Found(Vec<T>),
    /// The name exists without records of the type (NODATA).
    NoData,
    /// The name does not exist (NXDOMAIN).
    NxDomain,
}

/// Decodes a lookup's records with `pick`; a failure (timeout, SERVFAIL, REFUSED) is an error
/// with why, never an empty answer.
fn records<T>(
    found: Result<Vec<RData>, Answer>,
    pick: impl Fn(&RData) -> Option<T>,
) -> Result<Records<T>, String> {
    match found {
        Ok(data) => {
            let list: Vec<T> = data.iter().filter_map(pick).collect();
            Ok(if list.is_empty() {
                Records::NoData
            } else {
                Records::Found(list)
            })
        }
        Err(Answer::NxDomain) => Ok(Records::NxDomain),
        Err(Answer::NoData | Answer::Addresses(_)) => Ok(Records::NoData),
        Err(Answer::Refused) => Err("the DNS server answered REFUSED".into()),
        Err(Answer::Failure(why)) => Err(why),
    }
}

/// Maps a hickory error onto an answer: the negative answers, REFUSED, or a failure.
fn failure(err: &NetError) -> Answer {
    match err {
        NetError::Dns(DnsError::NoRecordsFound(no))
            if no.response_code == ResponseCode::NXDomain =>
        {
            Answer::NxDomain
        }
        NetError::Dns(DnsError::NoRecordsFound(_)) => Answer::NoData,
        NetError::Dns(DnsError::ResponseCode(ResponseCode::Refused)) => Answer::Refused,
        NetError::Dns(DnsError::ResponseCode(code)) => {
            Answer::Failure(format!("the DNS server answered {code}"))
        }
        NetError::Timeout => Answer::Failure("timed out".into()),
        other => Answer::Failure(other.to_string()),
    }
}
