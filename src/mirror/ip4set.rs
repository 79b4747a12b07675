//! rbldnsd's `ip4set`: single addresses, CIDR ranges, `a.b.c.d-e` and prefix ranges and
//! `a.b.c` / `a.b` / `a` prefixes, each with an optional value; `!entry` excludes. As in
//! rbldnsd, ranges are kept at /32, /24, /16 and /8 and the most specific level holding the
//! address decides, with every value recorded there.

use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::sync::Arc;

use super::value::{self, Value};

/// An entry at one level: listed with a value, or excluded.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Entry {
    Listed(Arc<Value>),
    Excluded,
}

/// A parsed ip4set file.
#[derive(Debug, Default)]
pub struct Ip4Set {
    /// Entries by masked address, for /32, /24, /16 and /8 (in that order).
    levels: [HashMap<u32, Vec<Entry>>; 4],
}

const PREFIXES: [u8; 4] = [32, 24, 16, 8];

pub(super) fn mask(ip: u32, prefix: u8) -> u32 {
    ip & u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0)
}

fn all_ones_after(prefix: u8) -> u32 {
    u32::MAX.checked_shr(u32::from(prefix)).unwrap_or(0)
}

/// A CIDR range `a.b.c.d/n` (also `a.b/n`), as first and last address.
pub(super) fn parse_cidr(text: &str) -> Option<(u32, u32)> {
    let (addr, prefix) = text.split_once('/')?;
    let prefix: u8 = prefix.parse().ok().filter(|p| *p <= 32)?;
    let start = mask(u32::from(parse_partial(addr)?.0), prefix);
    Some((start, start | all_ones_after(prefix)))
}

/// A range written as `a.b.c.d`, `a.b.c.d/n`, `a.b.c.d-e`, `a.b.c.d-a.b.c.e`, `a.b-c.d`,
/// `a.b-c` (a one-octet end replaces the last octet given at the start), `a.b.c`, `a.b`, `a`.
fn parse_range(text: &str) -> Option<(u32, u32)> {
    if text.contains('/') {
        return parse_cidr(text);
    }
    if let Some((first, last)) = text.split_once('-') {
        let (ip, n) = parse_partial(first)?;
        let start = u32::from(ip);
        let end = match parse_partial(last)? {
            (octet, 1) if n > 1 => {
                let shift = 8 * u32::from(4 - n);
                let kept = mask(start, 8 * (n - 1));
                kept | (u32::from(octet.octets()[0]) << shift) | all_ones_after(8 * n)
            }
            (ip, m) => u32::from(ip) | all_ones_after(8 * m),
        };
        return (start <= end).then_some((start, end));
    }
    let (ip, octets) = parse_partial(text)?;
    let prefix = 8 * octets;
    let start = mask(u32::from(ip), prefix);
    Some((start, start | all_ones_after(prefix)))
}

/// `a.b.c.d` or a prefix of it: the address (missing octets 0) and how many octets were given.
fn parse_partial(text: &str) -> Option<(Ipv4Addr, u8)> {
    let parts: Vec<&str> = text.split('.').collect();
    if parts.is_empty() || parts.len() > 4 {
        return None;
    }
    let mut octets = [0u8; 4];
    for (slot, part) in octets.iter_mut().zip(&parts) {
        *slot = part.parse().ok()?;
    }
    Some((Ipv4Addr::from(octets), u8::try_from(parts.len()).ok()?))
}

impl Ip4Set {
    /// Parses the text of an ip4set file; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Ip4Set, String> {
        let mut set = Ip4Set::default();
        value::read_entries(text, origin, true, |key, value| {
            let (start, end) = parse_range(key)?;
            set.insert(start, end, &value.map_or(Entry::Excluded, Entry::Listed));
            Some(())
        })?;
        Ok(set)
    }

    /// Splits `[start, end]` into /32, /24, /16 and /8 blocks and records the entry for each.
    fn insert(&mut self, start: u32, end: u32, entry: &Entry) {
        let mut at = u64::from(start);
        let end = u64::from(end);
        while at <= end {
            let (level, size) = PREFIXES
                .iter()
                .enumerate()
                .rev()
                .map(|(level, p)| (level, 1u64 << (32 - u32::from(*p))))
                .find(|(_, size)| at % size == 0 && at + size - 1 <= end)
                .unwrap_or((0, 1));
            let key = u32::try_from(at).unwrap_or(u32::MAX);
            self.levels[level]
                .entry(key)
                .or_default()
                .push(entry.clone());
            at += size;
        }
    }

    /// What rbldnsd would answer for `ip`: the values at the most specific level holding it,
    /// or nothing when that level excludes it or no level holds it.
    pub(super) fn lookup(&self, ip: Ipv4Addr) -> Option<Vec<Arc<Value>>> {
        let ip = u32::from(ip);
        for (level, prefix) in PREFIXES.iter().enumerate() {
            let Some(entries) = self.levels[level].get(&mask(ip, *prefix)) else {
                continue;
            };
            if entries.contains(&Entry::Excluded) {
                return None;
            }
            return Some(
                entries
                    .iter()
                    .filter_map(|e| match e {
                        Entry::Listed(v) => Some(v.clone()),
                        Entry::Excluded => None,
                    })
                    .collect(),
            );
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(text: &str) -> Ip4Set {
        Ip4Set::parse(text, "test").expect("parses")
    }

    #[track_caller]
    fn case(set: &Ip4Set, ip: &str, expected: Option<&[&str]>) {
        let got = set.lookup(ip.parse().expect("ip")).map(|v| {
            let mut codes: Vec<String> = v.iter().map(|v| v.a.to_string()).collect();
            codes.dedup();
            codes
        });
        assert_eq!(
            got,
            expected.map(|e| e.iter().map(ToString::to_string).collect::<Vec<_>>()),
            "{ip}"
        );
    }

    #[test]
    fn ranges_values_and_exclusions() {
        let s = set(
            ":127.0.0.2:default $\n192.0.2.0/24 :127.0.0.4:net\n192.0.2.5 :127.0.0.3:host\n!192.0.2.99\n198.51.100.10-20\n10\n203.0.113.0/25\n",
        );
        case(&s, "192.0.2.5", Some(&["127.0.0.3"]));
        case(&s, "192.0.2.6", Some(&["127.0.0.4"]));
        case(&s, "192.0.2.99", None);
        case(&s, "198.51.100.15", Some(&["127.0.0.2"]));
        case(&s, "198.51.100.21", None);
        case(&s, "10.200.1.1", Some(&["127.0.0.2"]));
        case(&s, "203.0.113.127", Some(&["127.0.0.2"]));
        case(&s, "203.0.113.128", None);
        let values = s
            .lookup("198.51.100.12".parse().expect("ip"))
            .expect("listed");
        assert_eq!(values[0].txt.as_deref(), Some("default $"));
        assert_eq!(parse_range("127.16-31"), parse_range("127.16.0.0/12"));
        assert_eq!(parse_range("127.16.0-127.31.255"), parse_range("127.16/12"));
        assert_eq!(parse_range("127-127.0.0"), parse_range("127.0.0"));
        assert_eq!(
            parse_range("127.0.0.1-255"),
            Some((0x7f00_0001, 0x7f00_00ff))
        );
    }
}
