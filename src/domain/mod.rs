//! A mail domain as a target: the machines that receive its mail (MX), the addresses that
//! send it (SPF), and the domain name itself, each with the role it plays and the path that
//! led to it. Built fresh from DNS each time (`resolve`); what it holds is then checked like
//! any other target.

pub mod dmarc;
pub mod doctor;
pub mod spf;
pub mod watch;

use std::net::IpAddr;

use serde::Serialize;

use crate::check::Resolution;
use crate::dns::{Dns, Records};
use crate::target::{Target, TargetKind};

pub use spf::Spf;

/// MX hosts followed for one domain; more is not a real setup.
const MX_HOSTS: usize = 16;

/// The part something plays in a domain's mail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Sends the domain's mail (its SPF record authorises it).
    Sending,
    /// Receives the domain's mail (an MX host, or the implicit MX).
    Receiving,
    /// The domain name itself, on the domain lists.
    Domain,
}

impl Role {
    /// The word used in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Sending => "sending",
            Role::Receiving => "receiving",
            Role::Domain => "domain",
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One thing a domain's mail setup holds: a name, an address or a network.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Member {
    /// The domain it belongs to.
    pub domain: String,
    /// Its role.
    pub role: Role,
    /// The name, address or network (`198.51.100.0/28`), as a target's text.
    pub target: String,
    /// How it was reached: `mx 10 mx1.example.com`, `spf: include:_spf.example.net ip4:...`.
    pub path: String,
}

impl Member {
    /// Whether a result about `address` (asked as part of `target`) concerns this member.
    pub fn covers(&self, target: &str, address: &str) -> bool {
        if self.target == target || self.target == address {
            return true;
        }
        match (Target::parse(&self.target), address.parse::<IpAddr>()) {
            (
                Ok(Target {
                    kind: TargetKind::Net(cidr),
                    ..
                }),
                Ok(ip),
            ) => cidr.contains(ip),
            _ => false,
        }
    }
}

/// Where a domain's mail is received.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Mx {
    /// MX hosts, by preference, each with its addresses or why it has none.
    Hosts {
        /// (preference, host, addresses, error).
        hosts: Vec<MxHost>,
    },
    /// No MX record: the domain's own A/AAAA receive its mail (RFC 5321 5.1).
    Implicit {
        /// The domain's addresses.
        addresses: Vec<IpAddr>,
    },
    /// A null MX (`0 .`, RFC 7505): the domain accepts no mail.
    Null,
    /// The domain does not exist (NXDOMAIN).
    NoDomain,
    /// The MX lookup failed: nothing is known.
    Failed {
        /// Why.
        why: String,
    },
}

/// One MX host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MxHost {
    /// Its preference (lower first).
    pub preference: u16,
    /// Its name.
    pub host: String,
    /// Its A and AAAA addresses.
    pub addresses: Vec<IpAddr>,
    /// Why it has none, when it has none.
    pub error: Option<String>,
}

/// What a domain's mail setup holds now.
#[derive(Debug, Clone, Serialize)]
pub struct MailSetup {
    /// The domain, in ASCII.
    pub domain: String,
    /// Where its mail is received.
    pub mx: Mx,
    /// What its SPF record authorises.
    pub spf: Spf,
    /// Everything to check, with its role and path.
    pub members: Vec<Member>,
    /// What is wrong or could not be followed.
    pub notes: Vec<String>,
    /// False when a lookup failed: members may be missing, so none may be taken as gone.
    pub complete: bool,
}

impl MailSetup {
    /// The targets to check: the domain and its MX hosts as names (their addresses come in
    /// `resolutions`), the SPF networks and addresses; each once.
    pub fn targets(&self) -> Vec<Target> {
        let mut out: Vec<Target> = Vec::new();
        for member in &self.members {
            if out.iter().any(|t| t.text == member.target) {
                continue;
            }
            if let Ok(target) = Target::parse(&member.target) {
                out.push(target);
            }
        }
        out
    }

    /// The addresses the check engine gives each name: an MX host's own; the domain's only
    /// when it receives its own mail (implicit MX), so a web server's A record is not taken
    /// for a mail server.
    pub fn resolutions(&self) -> Vec<Resolution> {
        let mut out = vec![Resolution {
            target: self.domain.clone(),
            addresses: match &self.mx {
                Mx::Implicit { addresses } => addresses.clone(),
                Mx::Hosts { hosts } => hosts
                    .iter()
                    .filter(|h| h.host == self.domain)
                    .flat_map(|h| h.addresses.clone())
                    .collect(),
                _ => Vec::new(),
            },
            error: None,
        }];
        if let Mx::Hosts { hosts } = &self.mx {
            for host in hosts.iter().filter(|h| h.host != self.domain) {
                if out.iter().any(|r| r.target == host.host) {
                    continue;
                }
                out.push(Resolution {
                    target: host.host.clone(),
                    addresses: host.addresses.clone(),
                    error: host.error.clone(),
                });
            }
        }
        out
    }
}

/// Looks up `domain`'s MX hosts and their addresses and follows its SPF record.
pub async fn resolve(dns: &Dns, domain: &str) -> MailSetup {
    let domain = domain.trim_end_matches('.').to_ascii_lowercase();
    let (mx, spf) = tokio::join!(mx(dns, &domain), spf::walk(dns, &domain));
    let mut members = vec![Member {
        domain: domain.clone(),
        role: Role::Domain,
        target: domain.clone(),
        path: "domain".into(),
    }];
    let mut notes = Vec::new();
    let mut complete = spf.complete;
    match &mx {
        Mx::Hosts { hosts } => {
            for host in hosts {
                members.push(Member {
                    domain: domain.clone(),
                    role: Role::Receiving,
                    target: host.host.clone(),
                    path: format!("mx {} {}", host.preference, host.host),
                });
                if let Some(why) = &host.error {
                    notes.push(format!("MX host {} has no address: {why}", host.host));
                    complete &= why.contains("NXDOMAIN") || why.contains("no A or AAAA");
                }
            }
        }
        Mx::Implicit { addresses } if addresses.is_empty() => notes.push(format!(
            "{domain} has no MX record and no address: it receives no mail"
        )),
        Mx::Implicit { addresses } => {
            notes.push(format!(
                "{domain} has no MX record: mail to it goes to its own address{} (implicit MX, RFC 5321 5.1)",
                if addresses.len() == 1 { "" } else { "es" }
            ));
            members.push(Member {
                domain: domain.clone(),
                role: Role::Receiving,
                target: domain.clone(),
                path: "implicit mx (no MX record: the domain's own A/AAAA)".into(),
            });
        }
        Mx::Null => notes.push(format!(
            "{domain} has a null MX (RFC 7505): it accepts no mail"
        )),
        Mx::NoDomain => notes.push(format!("{domain} does not exist (NXDOMAIN)")),
        Mx::Failed { why } => {
            complete = false;
            notes.push(format!("the MX of {domain} could not be looked up: {why}"));
        }
    }
    for source in &spf.sources {
        members.push(Member {
            domain: domain.clone(),
            role: Role::Sending,
            target: source.target.clone(),
            path: format!("spf: {}", source.path),
        });
    }
    MailSetup {
        domain,
        mx,
        spf,
        members,
        notes,
        complete,
    }
}

async fn mx(dns: &Dns, domain: &str) -> Mx {
    match dns.mx(domain).await {
        Err(why) => Mx::Failed { why },
        Ok(Records::NxDomain) => Mx::NoDomain,
        Ok(Records::NoData) => match dns.addresses(domain).await {
            Ok(addresses) => Mx::Implicit { addresses },
            Err(_) => Mx::Implicit {
                addresses: Vec::new(),
            },
        },
        Ok(Records::Found(records)) => {
            if records.iter().all(|(_, host)| host == ".") {
                return Mx::Null;
            }
            let mut hosts = Vec::new();
            for (preference, host) in records.into_iter().filter(|(_, h)| h != ".").take(MX_HOSTS) {
                let (addresses, error) = match dns.addresses(&host).await {
                    Ok(found) => (found, None),
                    Err(why) => (Vec::new(), Some(why)),
                };
                hosts.push(MxHost {
                    preference,
                    host,
                    addresses,
                    error,
                });
            }
            Mx::Hosts { hosts }
        }
    }
}
