//! What a run asks, computed as it is walked: targets become address segments and names, each
//! address asked once however many targets hold it, ranges never expanded into memory.

use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::target::{Target, TargetKind};

/// A run of consecutive addresses, or one name, owned by the most specific target that holds
/// it (a single address or host name before a range, a smaller range before a larger one;
/// the first of equals).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Segment {
    /// IPv4 addresses `start..=end`.
    V4 { start: u32, end: u32, owner: usize },
    /// IPv6 addresses `start..=end`.
    V6 {
        start: u128,
        end: u128,
        owner: usize,
    },
    /// A domain name.
    Name { name: String, owner: usize },
}

impl Segment {
    /// The target index the segment's answers are reported under.
    pub(crate) fn owner(&self) -> usize {
        match self {
            Segment::V4 { owner, .. } | Segment::V6 { owner, .. } | Segment::Name { owner, .. } => {
                *owner
            }
        }
    }

    /// How many addresses (or names) it holds.
    pub(crate) fn len(&self) -> u128 {
        match self {
            Segment::V4 { start, end, .. } => u128::from(end - start) + 1,
            // ::/0 holds one address more than a u128 can count: saturated.
            Segment::V6 { start, end, .. } => (end - start).saturating_add(1),
            Segment::Name { .. } => 1,
        }
    }
}

/// Subtracts the already covered intervals from `[start, end]`, records it as covered, and
/// returns what is left.
fn uncovered(covered: &mut Vec<(u128, u128)>, start: u128, end: u128) -> Vec<(u128, u128)> {
    let mut left = vec![(start, end)];
    for &(cs, ce) in covered.iter() {
        left = left
            .into_iter()
            .flat_map(|(s, e)| {
                if ce < s || cs > e {
                    vec![(s, e)]
                } else {
                    let mut parts = Vec::new();
                    if cs > s {
                        parts.push((s, cs - 1));
                    }
                    if ce < e {
                        parts.push((ce + 1, e));
                    }
                    parts
                }
            })
            .collect();
    }
    covered.push((start, end));
    left
}

/// How specific a target is: the number of addresses it names (a host name counts as one).
fn breadth(target: &Target) -> u128 {
    match &target.kind {
        TargetKind::Net(_) => target.address_count(),
        TargetKind::Ip(_) | TargetKind::Name(_) => 1,
    }
}

/// The segments of a run, in target order, addresses canonical (IPv4-mapped IPv6 as IPv4),
/// each address and name once; `resolved` holds each host-name target's addresses. An address
/// held by several targets belongs to the most specific: a server watched on its own inside a
/// watched range keeps its own label, contacts and metric series.
pub(crate) fn segments(targets: &[Target], resolved: &[(usize, Vec<IpAddr>)]) -> Vec<Segment> {
    let mut order: Vec<usize> = (0..targets.len()).collect();
    order.sort_by_key(|&i| breadth(&targets[i]));
    let mut claimed = claims(targets, &order, resolved);
    // Back in target order (the sort is stable: each target's segments keep their order).
    claimed.sort_by_key(Segment::owner);
    claimed
}

/// The segments each target claims, walking the targets in `order`.
fn claims(targets: &[Target], order: &[usize], resolved: &[(usize, Vec<IpAddr>)]) -> Vec<Segment> {
    let mut v4: Vec<(u128, u128)> = Vec::new();
    let mut v6: Vec<(u128, u128)> = Vec::new();
    let mut names: HashSet<String> = HashSet::new();
    let mut out = Vec::new();
    let mut add_ip_range =
        |out: &mut Vec<Segment>, owner: usize, first: IpAddr, last: IpAddr| match (first, last) {
            (IpAddr::V4(a), IpAddr::V4(b)) => {
                for (s, e) in uncovered(&mut v4, u128::from(u32::from(a)), u128::from(u32::from(b)))
                {
                    out.push(Segment::V4 {
                        start: u32::try_from(s).unwrap_or(u32::MAX),
                        end: u32::try_from(e).unwrap_or(u32::MAX),
                        owner,
                    });
                }
            }
            (IpAddr::V6(a), IpAddr::V6(b)) => {
                for (s, e) in uncovered(&mut v6, u128::from(a), u128::from(b)) {
                    out.push(Segment::V6 {
                        start: s,
                        end: e,
                        owner,
                    });
                }
            }
            _ => {}
        };
    for &owner in order {
        let target = &targets[owner];
        match &target.kind {
            TargetKind::Ip(ip) => {
                let ip = ip.to_canonical();
                add_ip_range(&mut out, owner, ip, ip);
            }
            TargetKind::Net(cidr) => {
                add_ip_range(&mut out, owner, cidr.network, cidr.last());
            }
            TargetKind::Name(name) => {
                if names.insert(name.clone()) {
                    out.push(Segment::Name {
                        name: name.clone(),
                        owner,
                    });
                }
                for (_, addrs) in resolved.iter().filter(|(i, _)| *i == owner) {
                    for ip in addrs {
                        let ip = ip.to_canonical();
                        add_ip_range(&mut out, owner, ip, ip);
                    }
                }
            }
        }
    }
    out
}

/// One thing to ask about: an address or a name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Subject {
    Ip(IpAddr),
    Domain(String),
}

/// Every subject of a segment, in order, computed as it is walked.
pub(crate) fn subjects(segment: &Segment) -> Box<dyn Iterator<Item = Subject> + Send + '_> {
    match segment {
        Segment::V4 { start, end, .. } => {
            Box::new((*start..=*end).map(|n| Subject::Ip(IpAddr::V4(Ipv4Addr::from(n)))))
        }
        Segment::V6 { start, end, .. } => {
            Box::new((*start..=*end).map(|n| Subject::Ip(IpAddr::V6(Ipv6Addr::from(n)))))
        }
        Segment::Name { name, .. } => Box::new(std::iter::once(Subject::Domain(name.clone()))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn targets(list: &[&str]) -> Vec<Target> {
        list.iter()
            .map(|t| Target::parse(t).expect("target"))
            .collect()
    }

    fn count(segments: &[Segment]) -> u128 {
        segments.iter().map(Segment::len).sum()
    }

    #[test]
    fn every_address_once_whatever_the_overlap() {
        let s = segments(
            &targets(&[
                "192.0.2.0/24",
                "192.0.2.5",
                "192.0.2.128/25",
                "192.0.2.0/23",
            ]),
            &[],
        );
        assert_eq!(count(&s), 512);
        // Each address belongs to the most specific target that holds it: the single address,
        // then the /25, then the /24, and the /23's other half is its own.
        let owned = |owner: usize| -> u128 {
            s.iter()
                .filter(|x| x.owner() == owner)
                .map(Segment::len)
                .sum()
        };
        assert_eq!([owned(0), owned(1), owned(2), owned(3)], [127, 1, 128, 256]);
        // Reported in target order.
        let owners: Vec<usize> = s.iter().map(Segment::owner).collect();
        assert!(owners.windows(2).all(|w| w[0] <= w[1]), "{owners:?}");
    }

    #[test]
    fn mapped_addresses_are_ipv4_and_names_are_asked_once() {
        let resolved = vec![(
            2,
            vec![
                "192.0.2.9".parse().expect("ip"),
                "2001:db8::1".parse().expect("ip"),
            ],
        )];
        let s = segments(
            &targets(&[
                "::ffff:192.0.2.9",
                "2001:db8::/127",
                "mail.example.com",
                "MAIL.example.com.",
            ]),
            &resolved,
        );
        // 192.0.2.9 once (target 0), 2001:db8::0-1 once (target 1), the name once.
        assert_eq!(count(&s), 4);
        assert_eq!(
            s.iter()
                .filter(|x| matches!(x, Segment::Name { .. }))
                .count(),
            1
        );
        let subjects: Vec<Subject> = s
            .iter()
            .flat_map(|seg| subjects(seg).collect::<Vec<_>>())
            .collect();
        assert_eq!(subjects[0], Subject::Ip("192.0.2.9".parse().expect("ip")));
    }
}
