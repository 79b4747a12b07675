//! Local mirrors: a list's rbldnsd `ip4set` data file (as rsync feeds deliver them) read and
//! looked up in-process, without DNS, answering as rbldnsd serving the same file would.
//!
//! Entries are single addresses, CIDR ranges, `a.b.c.d-e` ranges and `a.b.c` / `a.b` / `a`
//! prefixes, each with an optional `:A:TXT` value (a line starting with `:` sets the default);
//! `!entry` excludes; `$` in a TXT is the queried address. As in rbldnsd's ip4set, ranges are
//! kept at /32, /24, /16 and /8 and the most specific level holding the address decides.
//! Files are re-read when their modification time changes.

use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::SystemTime;

use crate::dns::Answer;

/// One value an address is listed with.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Value {
    a: Ipv4Addr,
    txt: Option<String>,
}

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

fn mask(ip: u32, prefix: u8) -> u32 {
    ip & u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0)
}

/// A range written as `a.b.c.d`, `a.b.c.d/n`, `a.b.c.d-e`, `a.b.c.d-a.b.c.e`, `a.b.c`, `a.b`, `a`.
fn parse_range(text: &str) -> Option<(u32, u32)> {
    if let Some((addr, prefix)) = text.split_once('/') {
        let prefix: u8 = prefix.parse().ok().filter(|p| *p <= 32)?;
        let start = mask(u32::from(parse_partial(addr)?.0), prefix);
        let end = start | u32::MAX.checked_shr(u32::from(prefix)).unwrap_or(0);
        return Some((start, end));
    }
    if let Some((first, last)) = text.split_once('-') {
        let start = u32::from(first.parse::<Ipv4Addr>().ok()?);
        let end = match last.parse::<Ipv4Addr>() {
            Ok(ip) => u32::from(ip),
            Err(_) => (start & 0xffff_ff00) | u32::from(last.parse::<u8>().ok()?),
        };
        return (start <= end).then_some((start, end));
    }
    let (ip, octets) = parse_partial(text)?;
    let prefix = 8 * octets;
    let start = mask(u32::from(ip), prefix);
    Some((
        start,
        start | u32::MAX.checked_shr(u32::from(prefix)).unwrap_or(0),
    ))
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

/// `:A:TXT`, `:A`, or a bare TXT, against the default value.
fn parse_value(text: &str, default: &Arc<Value>) -> Option<Arc<Value>> {
    let text = text.trim();
    if text.is_empty() {
        return Some(default.clone());
    }
    let Some(rest) = text.strip_prefix(':') else {
        return Some(Arc::new(Value {
            a: default.a,
            txt: Some(text.to_string()),
        }));
    };
    let (a, txt) = match rest.split_once(':') {
        // An empty TXT means none: rbldnsd then answers TXT queries with nothing.
        Some((a, txt)) => (a, Some(txt.to_string()).filter(|t| !t.is_empty())),
        None => (rest, default.txt.clone()),
    };
    let a = if a.is_empty() {
        default.a
    } else {
        a.parse().ok()?
    };
    Some(Arc::new(Value { a, txt }))
}

impl Ip4Set {
    /// Parses the text of an ip4set file; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Ip4Set, String> {
        let mut set = Ip4Set::default();
        let mut default = Arc::new(Value {
            a: Ipv4Addr::new(127, 0, 0, 2),
            txt: None,
        });
        for (number, raw) in text.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty()
                || line.starts_with('#')
                || line.starts_with(';')
                || line.starts_with('$')
            {
                continue;
            }
            let bad = || format!("{origin}:{}: cannot read `{line}`", number + 1);
            if line.starts_with(':') {
                default = parse_value(line, &default).ok_or_else(bad)?;
                continue;
            }
            let (range, value) = match line.find(|c: char| c.is_whitespace() || c == ':') {
                Some(at) => line.split_at(at),
                None => (line, ""),
            };
            let (excluded, range) = match range.strip_prefix('!') {
                Some(r) => (true, r),
                None => (false, range),
            };
            let (start, end) = parse_range(range).ok_or_else(bad)?;
            let entry = if excluded {
                Entry::Excluded
            } else {
                Entry::Listed(parse_value(value, &default).ok_or_else(bad)?)
            };
            set.insert(start, end, &entry);
        }
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
    pub fn lookup(&self, ip: Ipv4Addr) -> Option<Vec<(Ipv4Addr, Option<String>)>> {
        let ip = u32::from(ip);
        for (level, prefix) in PREFIXES.iter().enumerate() {
            let Some(entries) = self.levels[level].get(&mask(ip, *prefix)) else {
                continue;
            };
            if entries.contains(&Entry::Excluded) {
                return None;
            }
            let mut values: Vec<(Ipv4Addr, Option<String>)> = Vec::new();
            for entry in entries {
                if let Entry::Listed(v) = entry {
                    let value = (v.a, v.txt.clone());
                    if !values.contains(&value) {
                        values.push(value);
                    }
                }
            }
            return Some(values);
        }
        None
    }

    /// The lookup as a DNS answer and TXT strings (with `$` replaced by the address).
    pub fn answer(&self, ip: Ipv4Addr) -> (Answer, Vec<String>) {
        match self.lookup(ip) {
            None => (Answer::NxDomain, Vec::new()),
            Some(values) => {
                let mut codes: Vec<Ipv4Addr> = Vec::new();
                let mut txt = Vec::new();
                for (a, t) in values {
                    if !codes.contains(&a) {
                        codes.push(a);
                    }
                    if let Some(t) = t {
                        txt.push(t.replace('$', &ip.to_string()));
                    }
                }
                (Answer::Addresses(codes), txt)
            }
        }
    }
}

type Cache = Mutex<HashMap<PathBuf, (SystemTime, Arc<Ip4Set>)>>;

/// The parsed file at `path`, read again only when its modification time changed.
pub fn load(path: &Path) -> Result<Arc<Ip4Set>, String> {
    static CACHE: OnceLock<Cache> = OnceLock::new();
    let cache = CACHE.get_or_init(|| Mutex::new(HashMap::new()));
    let shown = path.display().to_string();
    let modified = std::fs::metadata(path)
        .and_then(|m| m.modified())
        .map_err(|e| format!("{shown}: {e}"))?;
    let cached = cache.lock().ok().and_then(|c| c.get(path).cloned());
    if let Some((_, set)) = cached.filter(|(when, _)| *when == modified) {
        return Ok(set);
    }
    let text = std::fs::read_to_string(path).map_err(|e| format!("{shown}: {e}"))?;
    let set = Arc::new(Ip4Set::parse(&text, &shown)?);
    if let Ok(mut c) = cache.lock() {
        c.insert(path.to_path_buf(), (modified, set.clone()));
    }
    Ok(set)
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
            v.into_iter()
                .map(|(a, _)| a.to_string())
                .collect::<Vec<_>>()
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
        let (_, txt) = s.answer("198.51.100.12".parse().expect("ip"));
        assert_eq!(txt, ["default 198.51.100.12"]);
    }
}
