//! rbldnsd's `ip4trie` and `ip6trie`: CIDR ranges of any length, each with its own value;
//! the longest matching prefix decides, and an exclusion there means not listed.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use super::value::{self, Value};

/// The entries of one prefix length by masked address: a value, or `None` for an exclusion.
type Level<K> = HashMap<K, Option<Arc<Value>>>;

/// A CIDR set keyed by the masked address at each prefix length in use.
#[derive(Debug)]
pub(super) struct Trie<K> {
    /// Longest prefix first.
    lengths: Vec<(u8, Level<K>)>,
}

/// An address family a trie holds.
pub(super) trait Bits: Copy + Eq + Hash {
    const WIDTH: u8;
    fn mask(self, prefix: u8) -> Self;
    /// An entry (`addr`, `addr/len`, or for IPv6 leading groups) as address and prefix.
    fn parse_entry(text: &str) -> Option<(Self, u8)>;
}

impl Bits for u32 {
    const WIDTH: u8 = 32;
    fn mask(self, prefix: u8) -> u32 {
        super::ip4set::mask(self, prefix)
    }
    fn parse_entry(text: &str) -> Option<(u32, u8)> {
        let (addr, prefix) = match text.split_once('/') {
            Some((a, p)) => (a, p.parse().ok().filter(|p| *p <= 32)?),
            None => (text, 8 * u8::try_from(text.split('.').count()).ok()?),
        };
        let mut octets = [0u8; 4];
        let parts: Vec<&str> = addr.split('.').collect();
        if parts.len() > 4 {
            return None;
        }
        for (slot, part) in octets.iter_mut().zip(parts) {
            *slot = part.parse().ok()?;
        }
        Some((u32::from(Ipv4Addr::from(octets)), prefix))
    }
}

impl Bits for u128 {
    const WIDTH: u8 = 128;
    fn mask(self, prefix: u8) -> u128 {
        self & u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0)
    }
    fn parse_entry(text: &str) -> Option<(u128, u8)> {
        let (addr, prefix) = match text.split_once('/') {
            Some((a, p)) => (a, Some(p.parse().ok().filter(|p| *p <= 128)?)),
            None => (text, None),
        };
        if addr.contains("::") {
            return Some((
                u128::from(addr.parse::<Ipv6Addr>().ok()?),
                prefix.unwrap_or(128),
            ));
        }
        // Leading groups only, trailing zero groups left out: `2001:db8:c000/36`; without a
        // length, the groups given are the prefix (`2001:db8:1:2` is a /64).
        let groups: Vec<&str> = addr.split(':').collect();
        if groups.is_empty() || groups.len() > 8 {
            return None;
        }
        let mut value: u128 = 0;
        for (i, group) in groups.iter().enumerate() {
            let g = u16::from_str_radix(group, 16)
                .ok()
                .filter(|_| group.len() <= 4)?;
            value |= u128::from(g) << (112 - 16 * i);
        }
        let given = 16 * u8::try_from(groups.len()).ok()?;
        Some((value, prefix.unwrap_or(given)))
    }
}

impl<K: Bits> Trie<K> {
    /// Parses the text of a trie data file; `origin` names it in errors.
    pub(super) fn parse(text: &str, origin: &str) -> Result<Trie<K>, String> {
        let mut by_length: HashMap<u8, Level<K>> = HashMap::new();
        value::read_entries(text, origin, K::WIDTH == 32, |key, value| {
            let (addr, prefix) = K::parse_entry(key)?;
            // The first entry for a range stands, as in rbldnsd.
            by_length
                .entry(prefix)
                .or_default()
                .entry(addr.mask(prefix))
                .or_insert(value);
            Some(())
        })?;
        let mut lengths: Vec<_> = by_length.into_iter().collect();
        lengths.sort_by_key(|(prefix, _)| std::cmp::Reverse(*prefix));
        Ok(Trie { lengths })
    }

    /// The value of the longest prefix holding `addr`; `None` when none does or it is an
    /// exclusion.
    pub(super) fn lookup(&self, addr: K) -> Option<Arc<Value>> {
        self.lengths
            .iter()
            .find_map(|(prefix, entries)| entries.get(&addr.mask(*prefix)))
            .cloned()
            .flatten()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_longest_prefix_decides() {
        let t: Trie<u32> = Trie::parse(
            ":127.0.0.2:default\n10.0.0.0/8\n10.1.0.0/20 :127.0.0.3:narrow\n!10.1.2.3\n10.1.2.0/23 :4\n",
            "t",
        )
        .expect("parses");
        let a = |ip: &str| {
            t.lookup(u32::from(ip.parse::<Ipv4Addr>().expect("ip")))
                .map(|v| v.a.to_string())
        };
        assert_eq!(a("10.9.9.9").as_deref(), Some("127.0.0.2"));
        assert_eq!(a("10.1.15.1").as_deref(), Some("127.0.0.3"));
        assert_eq!(a("10.1.16.1").as_deref(), Some("127.0.0.2"));
        assert_eq!(a("10.1.3.1").as_deref(), Some("127.0.0.4"));
        assert_eq!(a("10.1.2.3"), None);
        assert_eq!(a("11.0.0.1"), None);
    }

    #[test]
    fn ipv6_entries_as_rbldnsd_writes_them() {
        let t: Trie<u128> = Trie::parse(
            ":127.0.1.2: Listed $\n2001:21ab:c000/36\n2001:21ab:def7:4242 :127.0.1.3: smells\n2605:6001:42::/52\n!2605:6001:42::bead\n::1\n",
            "t",
        )
        .expect("parses");
        let a = |ip: &str| {
            t.lookup(u128::from(ip.parse::<Ipv6Addr>().expect("ip")))
                .map(|v| v.a.to_string())
        };
        assert_eq!(a("2001:21ab:c123::1").as_deref(), Some("127.0.1.2"));
        assert_eq!(a("2001:21ab:d000::1"), None);
        assert_eq!(a("2001:21ab:def7:4242:1::").as_deref(), Some("127.0.1.3"));
        assert_eq!(a("2605:6001:42::beef").as_deref(), Some("127.0.1.2"));
        assert_eq!(a("2605:6001:42::bead"), None);
        assert_eq!(a("::1").as_deref(), Some("127.0.1.2"));
    }
}
