//! Local mirrors: a list's rbldnsd data file (as rsync feeds deliver them) read and looked up
//! in-process, without DNS, answering as rbldnsd serving the same file would.
//!
//! Formats: `ip4set`, `ip4trie` and `ip6trie` (addresses) and `dnset` (names), with values,
//! exclusions, variables and `$` in TXT as rbldnsd(8) describes them. Files are re-read when
//! their modification time changes.

use std::collections::HashMap;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::SystemTime;

use crate::dns::Answer;
use crate::lists::QueryKind;

mod dnset;
mod ip4set;
mod trie;
mod value;

pub use ip4set::Ip4Set;
use value::Value;

/// The rbldnsd data formats a mirror can be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Addresses, CIDRs, ranges and prefixes, at /32, /24, /16 and /8.
    Ip4Set,
    /// IPv4 CIDRs of any length; the longest prefix decides.
    Ip4Trie,
    /// IPv6 CIDRs; the longest prefix decides.
    Ip6Trie,
    /// Domain names with wildcards.
    Dnset,
}

impl Format {
    /// Every format, by its rbldnsd name.
    pub const ALL: [(&'static str, Format); 4] = [
        ("ip4set", Format::Ip4Set),
        ("ip4trie", Format::Ip4Trie),
        ("ip6trie", Format::Ip6Trie),
        ("dnset", Format::Dnset),
    ];

    /// The format named `name` in a catalog.
    pub fn named(name: &str) -> Option<Format> {
        Format::ALL
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, f)| *f)
    }

    /// Its rbldnsd name.
    pub fn name(self) -> &'static str {
        Format::ALL
            .iter()
            .find(|(_, f)| *f == self)
            .map_or("", |(n, _)| n)
    }

    /// The kind of query it answers.
    pub fn answers(self) -> QueryKind {
        match self {
            Format::Ip4Set | Format::Ip4Trie => QueryKind::Ipv4,
            Format::Ip6Trie => QueryKind::Ipv6,
            Format::Dnset => QueryKind::Domain,
        }
    }
}

/// Where a list's mirror is and what it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    /// The data file.
    pub file: PathBuf,
    /// Its format.
    pub format: Format,
}

impl Source {
    /// A mirror of the list `id`, which serves `query`, read from `file` in the format named
    /// `format`; the message says what is wrong (an unknown format, one the list cannot use).
    pub fn new(
        id: &str,
        file: PathBuf,
        format: &str,
        query: &[QueryKind],
    ) -> Result<Source, String> {
        let Some(format) = Format::named(format) else {
            let known: Vec<&str> = Format::ALL.iter().map(|(n, _)| *n).collect();
            return Err(format!(
                "list `{id}`: mirror format `{format}` is not read; one of {} is",
                known.join(", ")
            ));
        };
        if !query.contains(&format.answers()) {
            return Err(format!(
                "list `{id}`: an {} mirror answers {} queries, and the list serves none",
                format.name(),
                format.answers()
            ));
        }
        Ok(Source { file, format })
    }
}

/// What is asked of a mirror.
#[derive(Debug, Clone, Copy)]
pub enum Asked<'a> {
    /// An IPv4 address.
    V4(Ipv4Addr),
    /// An IPv6 address.
    V6(Ipv6Addr),
    /// A domain name.
    Name(&'a str),
}

#[derive(Debug)]
enum Data {
    Ip4Set(Ip4Set),
    Ip4Trie(trie::Trie<u32>),
    Ip6Trie(trie::Trie<u128>),
    Dnset(dnset::Dnset),
}

/// A parsed data file.
#[derive(Debug)]
pub struct Mirror(Data);

impl Mirror {
    /// Parses the text of a data file; `origin` names it in errors.
    pub fn parse(text: &str, format: Format, origin: &str) -> Result<Mirror, String> {
        Ok(Mirror(match format {
            Format::Ip4Set => Data::Ip4Set(Ip4Set::parse(text, origin)?),
            Format::Ip4Trie => Data::Ip4Trie(trie::Trie::parse(text, origin)?),
            Format::Ip6Trie => Data::Ip6Trie(trie::Trie::parse(text, origin)?),
            Format::Dnset => Data::Dnset(dnset::Dnset::parse(text, origin)?),
        }))
    }

    /// What rbldnsd serving the file would answer: the A records, and the TXT strings with
    /// `$` replaced by what was asked.
    pub fn answer(&self, asked: Asked<'_>) -> (Answer, Vec<String>) {
        // The values, and what `$` stands for when it is not the address asked.
        let found: Option<(Vec<Arc<Value>>, Option<String>)> = match (&self.0, asked) {
            (Data::Ip4Set(set), Asked::V4(ip)) => set.lookup(ip).map(|v| (v, None)),
            (Data::Ip4Trie(t), Asked::V4(ip)) => t.lookup(u32::from(ip)).map(|v| (vec![v], None)),
            (Data::Ip6Trie(t), Asked::V6(ip)) => t.lookup(u128::from(ip)).map(|v| (vec![v], None)),
            (Data::Dnset(set), Asked::Name(name)) => {
                set.lookup(name).map(|(v, entry)| (v, Some(entry)))
            }
            (data, _) => {
                let holds = match data {
                    Data::Ip4Set(_) | Data::Ip4Trie(_) => "IPv4 addresses",
                    Data::Ip6Trie(_) => "IPv6 addresses",
                    Data::Dnset(_) => "domain names",
                };
                return (
                    Answer::Failure(format!("the mirror holds {holds} only")),
                    Vec::new(),
                );
            }
        };
        let Some((values, entry)) = found else {
            return (Answer::NxDomain, Vec::new());
        };
        let entry = entry.unwrap_or_else(|| match asked {
            Asked::V4(ip) => ip.to_string(),
            Asked::V6(ip) => ip.to_string(),
            Asked::Name(name) => name.to_string(),
        });
        let mut codes: Vec<Ipv4Addr> = Vec::new();
        let mut txt = Vec::new();
        let mut seen: Vec<&Value> = Vec::new();
        for value in &values {
            // The same value recorded twice (overlapping ranges) is one record.
            if seen.contains(&&**value) {
                continue;
            }
            seen.push(value);
            if !codes.contains(&value.a) {
                codes.push(value.a);
            }
            if let Some(template) = &value.txt {
                txt.push(value::expand(template, &entry));
            }
        }
        (Answer::Addresses(codes), txt)
    }
}

type Cache = Mutex<HashMap<PathBuf, (SystemTime, Format, Arc<Mirror>)>>;

/// The parsed file of `source`, read again only when its modification time changed.
pub fn load(source: &Source) -> Result<Arc<Mirror>, String> {
    static CACHE: OnceLock<Cache> = OnceLock::new();
    let cache = CACHE.get_or_init(|| Mutex::new(HashMap::new()));
    let path: &Path = &source.file;
    let shown = path.display().to_string();
    let modified = std::fs::metadata(path)
        .and_then(|m| m.modified())
        .map_err(|e| format!("{shown}: {e}"))?;
    let cached = cache.lock().ok().and_then(|c| c.get(path).cloned());
    if let Some((_, _, mirror)) =
        cached.filter(|(when, format, _)| *when == modified && *format == source.format)
    {
        return Ok(mirror);
    }
    let text = crate::files::read_text(path, crate::files::MIRROR_LIMIT)
        .map_err(|e| format!("{shown}: {e}"))?;
    let mirror = Arc::new(Mirror::parse(&text, source.format, &shown)?);
    if let Ok(mut c) = cache.lock() {
        c.insert(
            path.to_path_buf(),
            (modified, source.format, mirror.clone()),
        );
    }
    Ok(mirror)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, RngExt, SeedableRng};

    /// Random data files in every format: parsing and answering never panic, and a line
    /// that cannot be read is an error naming it or is skipped, never a crash.
    #[test]
    fn random_data_files_never_panic() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        let alphabet: Vec<char> = "0123456789abcdef.:/-!$*=:; \t#\u{1b}\r\\x\u{e9}127.0.0.2\n"
            .chars()
            .collect();
        for round in 0..3_000 {
            let len = rng.random_range(0..400);
            let text: String = (0..len)
                .map(|_| alphabet[rng.random_range(0..alphabet.len())])
                .collect();
            let format = [
                Format::Ip4Set,
                Format::Ip4Trie,
                Format::Ip6Trie,
                Format::Dnset,
            ][round % 4];
            if let Ok(mirror) = Mirror::parse(&text, format, "fuzz") {
                let _ = mirror.answer(Asked::V4(Ipv4Addr::from(rng.next_u32())));
                let v6 = std::net::Ipv6Addr::from(u128::from(rng.next_u64()) << 64);
                let _ = mirror.answer(Asked::V6(v6));
                let _ = mirror.answer(Asked::Name("a.b.example"));
            }
        }
    }
}
