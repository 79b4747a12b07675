//! What the user asks about: IP addresses, CIDR ranges and host names, parsed and checked.
//!
//! CIDR ranges expand lazily (an iterator, never a Vec), so a large range costs no memory
//! until it is walked. Host names are turned into their ASCII (punycode) form here.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::error::Error;

/// One target as the user gave it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The argument as typed, for reports.
    pub text: String,
    /// What it is.
    pub kind: TargetKind,
}

/// The three kinds of target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TargetKind {
    /// One address.
    Ip(IpAddr),
    /// Every address of a network.
    Net(Cidr),
    /// A host or domain name in lowercase ASCII (IDNA applied), without a trailing dot.
    Name(String),
}

/// A network in CIDR notation; the host bits of the address are cleared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    /// The first address of the network.
    pub network: IpAddr,
    /// The prefix length.
    pub prefix: u8,
}

impl Cidr {
    /// How many addresses the network holds.
    pub fn len(&self) -> u128 {
        let bits = match self.network {
            IpAddr::V4(_) => 32,
            IpAddr::V6(_) => 128,
        };
        1u128
            .checked_shl(u32::from(bits - self.prefix))
            .unwrap_or(u128::MAX)
    }

    /// Whether the network holds no address (never: even a /32 holds one).
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Every address of the network, in order, computed as it is walked.
    pub fn addresses(&self) -> Box<dyn Iterator<Item = IpAddr> + Send> {
        match (self.network, self.last()) {
            (IpAddr::V4(first), IpAddr::V4(last)) => Box::new(
                (u32::from(first)..=u32::from(last)).map(|n| IpAddr::V4(Ipv4Addr::from(n))),
            ),
            (IpAddr::V6(first), IpAddr::V6(last)) => Box::new(
                (u128::from(first)..=u128::from(last)).map(|n| IpAddr::V6(Ipv6Addr::from(n))),
            ),
            // `last` is of the network's own family: the mixed cases cannot occur.
            _ => Box::new(std::iter::empty()),
        }
    }

    /// Whether `ip` is in the network (an IPv4-mapped address counts as IPv4).
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        ip.is_ipv4() == self.network.is_ipv4() && mask(ip, self.prefix) == self.network
    }

    /// The last address of the network.
    pub fn last(&self) -> IpAddr {
        match self.network {
            IpAddr::V4(net) => IpAddr::V4(Ipv4Addr::from(
                u32::from(net) | u32::MAX.checked_shr(u32::from(self.prefix)).unwrap_or(0),
            )),
            IpAddr::V6(net) => IpAddr::V6(Ipv6Addr::from(
                u128::from(net) | u128::MAX.checked_shr(u32::from(self.prefix)).unwrap_or(0),
            )),
        }
    }
}

impl Target {
    /// Parses an IP address, a CIDR range or a host name.
    pub fn parse(text: &str) -> Result<Target, Error> {
        let usage = |message: String| Error::Usage {
            arg: text.to_string(),
            message,
        };
        let trimmed = text.trim();
        if trimmed.is_empty() {
            return Err(usage("empty target".into()));
        }
        if let Ok(ip) = trimmed.parse::<IpAddr>() {
            return Ok(Target {
                text: text.to_string(),
                kind: TargetKind::Ip(ip),
            });
        }
        if let Some((addr, prefix)) = trimmed.split_once('/') {
            let ip: IpAddr = addr.parse().map_err(|_| {
                usage(format!(
                    "`{addr}` is not an IP address, so this is not a CIDR range"
                ))
            })?;
            let max = if ip.is_ipv4() { 32 } else { 128 };
            let prefix: u8 = prefix.parse().ok().filter(|p| *p <= max).ok_or_else(|| {
                usage(format!(
                    "prefix `/{prefix}` must be a number from 0 to {max}"
                ))
            })?;
            return Ok(Target {
                text: text.to_string(),
                kind: TargetKind::Net(Cidr {
                    network: mask(ip, prefix),
                    prefix,
                }),
            });
        }
        if looks_like_ipv4(trimmed) {
            return Err(usage(
                "not a valid IPv4 address (each part must be 0-255)".into(),
            ));
        }
        let name = to_ascii_name(trimmed)
            .map_err(|why| usage(format!("not an IP address, CIDR range or host name: {why}")))?;
        Ok(Target {
            text: text.to_string(),
            kind: TargetKind::Name(name),
        })
    }

    /// How many queries' worth of addresses the target stands for (names count as one).
    pub fn address_count(&self) -> u128 {
        match &self.kind {
            TargetKind::Ip(_) | TargetKind::Name(_) => 1,
            TargetKind::Net(cidr) => cidr.len(),
        }
    }
}

/// `ip` with the bits past `prefix` cleared: the network's first address.
pub(crate) fn mask(ip: IpAddr, prefix: u8) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => {
            let keep = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
            IpAddr::V4(Ipv4Addr::from(u32::from(v4) & keep))
        }
        IpAddr::V6(v6) => {
            let keep = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
            IpAddr::V6(Ipv6Addr::from(u128::from(v6) & keep))
        }
    }
}

/// Dotted digits only: meant as an IPv4 address, so never taken for a host name.
fn looks_like_ipv4(text: &str) -> bool {
    text.split('.').count() == 4 && text.chars().all(|c| c.is_ascii_digit() || c == '.')
}

/// Lowercases, applies IDNA (punycode) and drops a trailing dot; checks the result.
pub fn to_ascii_name(text: &str) -> Result<String, String> {
    let without_dot = text.strip_suffix('.').unwrap_or(text);
    let ascii =
        idna::domain_to_ascii(without_dot).map_err(|_| "invalid international name".to_string())?;
    check_host_name(&ascii)?;
    Ok(ascii)
}

/// Checks DNS name syntax: labels of 1-63 letters, digits, `-` or `_`, 253 characters at most.
pub fn check_host_name(name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > 253 {
        return Err("a name must be 1 to 253 characters".into());
    }
    for label in name.split('.') {
        if label.is_empty() || label.len() > 63 {
            return Err(format!("label `{label}` must be 1 to 63 characters"));
        }
        if !label
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(format!(
                "label `{label}` may hold only letters, digits, `-` and `_`"
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn ok(text: &str, expected: TargetKind) {
        assert_eq!(Target::parse(text).expect(text).kind, expected);
    }

    #[track_caller]
    fn bad(text: &str, fragment: &str) {
        let err = Target::parse(text).expect_err(text).to_string();
        assert!(err.starts_with(text), "{err}");
        assert!(err.contains(fragment), "{err}");
    }

    #[test]
    fn addresses_ranges_and_names() {
        ok(
            "203.0.113.5",
            TargetKind::Ip("203.0.113.5".parse().expect("ip")),
        );
        ok(
            "2001:db8::1",
            TargetKind::Ip("2001:db8::1".parse().expect("ip")),
        );
        ok(
            "192.0.2.77/30",
            TargetKind::Net(Cidr {
                network: "192.0.2.76".parse().expect("ip"),
                prefix: 30,
            }),
        );
        ok(
            "Mail.Example.COM.",
            TargetKind::Name("mail.example.com".into()),
        );
        ok(
            "bücher.example",
            TargetKind::Name("xn--bcher-kva.example".into()),
        );
    }

    #[test]
    fn bad_targets_name_the_argument() {
        bad("203.0.113.256", "0-255");
        bad("192.0.2.0/33", "0 to 32");
        bad("nonsense/24", "not an IP address");
        bad("exa mple.com", "host name");
        bad("", "empty");
    }

    #[test]
    fn cidr_walks_every_address_lazily() {
        let cidr = Cidr {
            network: "192.0.2.252".parse().expect("ip"),
            prefix: 30,
        };
        let all: Vec<String> = cidr.addresses().map(|a| a.to_string()).collect();
        assert_eq!(
            all,
            ["192.0.2.252", "192.0.2.253", "192.0.2.254", "192.0.2.255"]
        );
        let v6 = Cidr {
            network: "2001:db8::".parse().expect("ip"),
            prefix: 64,
        };
        assert_eq!(v6.len(), 1u128 << 64);
        assert_eq!(
            v6.addresses().nth(3),
            Some("2001:db8::3".parse().expect("ip"))
        );
        let whole = Cidr {
            network: "0.0.0.0".parse().expect("ip"),
            prefix: 0,
        };
        assert_eq!(whole.len(), 1u128 << 32);
    }
}
