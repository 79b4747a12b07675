//! SPF (RFC 7208): the addresses a domain says send its mail, found by following its record
//! the way a receiver does: `ip4`/`ip6` as they are, `a` and `mx` resolved, `include:` and
//! `redirect=` followed, within the limit of 10 DNS-querying terms (section 4.6.4).
//!
//! What cannot be expanded without a message to evaluate (`exists`, `ptr`, macros) is
//! reported, never guessed. The record comes from a DNS zone someone else controls: terms,
//! lengths and the names followed are bounded, and a loop of includes ends.

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::pin::Pin;

use serde::Serialize;

use crate::dns::{Dns, Records};

/// RFC 7208 4.6.4: at most 10 terms that cause DNS queries.
pub const LOOKUP_LIMIT: u32 = 10;
/// RFC 7208 4.6.4: an `mx` term may name at most 10 MX hosts.
const MX_LIMIT: usize = 10;
/// Terms read from one record; a longer record is cut with a note (real ones hold a few).
const TERM_LIMIT: usize = 64;

/// One address or network the SPF record authorises, and how it was reached.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Source {
    /// The address or network (`198.51.100.0/28`).
    pub target: String,
    /// The terms that led to it: `include:_spf.example.net ip4:198.51.100.0/28`.
    pub path: String,
}

/// What following a domain's SPF record found.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Spf {
    /// The domain's own SPF record(s), as published.
    pub records: Vec<String>,
    /// Every authorised address or network, once, in the order found.
    pub sources: Vec<Source>,
    /// DNS-querying terms followed (RFC 7208 allows 10).
    pub lookups: u32,
    /// What is wrong or could not be followed, each said once.
    pub notes: Vec<String>,
    /// False when a lookup failed (timeout, SERVFAIL): the sources may be missing some.
    pub complete: bool,
    /// The qualifier of the top record's `all` (`+`, `-`, `~`, `?`), when it has one.
    pub all: Option<char>,
}

/// One term of a record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Term {
    /// A mechanism with its qualifier.
    Mechanism(char, Mechanism),
    /// `redirect=domain`.
    Redirect(String),
    /// Any other modifier (`exp=`, unknown ones): ignored, as section 6 says.
    Modifier,
}

/// The mechanisms of section 5.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mechanism {
    /// `all`.
    All,
    /// `include:domain`.
    Include(String),
    /// `a[:domain][/v4][//v6]`.
    A(Option<String>, u8, u8),
    /// `mx[:domain][/v4][//v6]`.
    Mx(Option<String>, u8, u8),
    /// `ptr[:domain]` (deprecated).
    Ptr,
    /// `ip4:address[/len]`.
    Ip4(Ipv4Addr, u8),
    /// `ip6:address[/len]`.
    Ip6(Ipv6Addr, u8),
    /// `exists:domain`.
    Exists,
}

/// Whether a TXT record is an SPF record (`v=spf1`, then a space or the end).
pub fn is_spf(record: &str) -> bool {
    let lower = record.get(..6).map(str::to_ascii_lowercase);
    lower.as_deref() == Some("v=spf1") && record[6..].chars().next().is_none_or(|c| c == ' ')
}

/// Parses an SPF record into its terms, or says what is wrong with the first bad one.
pub fn parse(record: &str) -> Result<Vec<Term>, String> {
    if !is_spf(record) {
        return Err("does not start with v=spf1".into());
    }
    record[6..]
        .split(' ')
        .filter(|t| !t.is_empty())
        .map(term)
        .collect()
}

fn term(text: &str) -> Result<Term, String> {
    let bad = |why: &str| Err(format!("`{text}`: {why}"));
    let lower = text.to_ascii_lowercase();
    if let Some((name, value)) = lower.split_once('=')
        && !name.contains(':')
        && !name.contains('/')
    {
        return match name {
            "redirect" if value.is_empty() => bad("redirect needs a domain"),
            "redirect" => Ok(Term::Redirect(value.to_string())),
            _ if name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)) =>
            {
                Ok(Term::Modifier)
            }
            _ => bad("not a valid modifier name"),
        };
    }
    let (qualifier, rest) = match lower.chars().next() {
        Some(q @ ('+' | '-' | '~' | '?')) => (q, &lower[1..]),
        _ => ('+', lower.as_str()),
    };
    let (name, arg) = match rest.find([':', '/']) {
        Some(at) => (&rest[..at], Some(&rest[at..])),
        None => (rest, None),
    };
    let spec = |arg: Option<&str>| -> Option<String> {
        arg.and_then(|a| a.strip_prefix(':'))
            .map(|a| a.split('/').next().unwrap_or_default().to_string())
            .filter(|a| !a.is_empty())
    };
    let mechanism = match name {
        "all" if arg.is_none() => Mechanism::All,
        "include" => match spec(arg) {
            Some(domain) => Mechanism::Include(domain),
            None => return bad("include needs a domain"),
        },
        "a" | "mx" => {
            let (v4, v6) =
                dual_cidr(arg.unwrap_or_default()).ok_or(format!("`{text}`: bad CIDR length"))?;
            let domain = spec(arg);
            if name == "a" {
                Mechanism::A(domain, v4, v6)
            } else {
                Mechanism::Mx(domain, v4, v6)
            }
        }
        "ptr" => Mechanism::Ptr,
        "exists" if spec(arg).is_some() => Mechanism::Exists,
        "ip4" => {
            let (addr, len) =
                address(arg, 32).ok_or(format!("`{text}`: not an IPv4 address or network"))?;
            match addr {
                IpAddr::V4(v4) => Mechanism::Ip4(v4, len),
                IpAddr::V6(_) => return bad("ip4 with an IPv6 address"),
            }
        }
        "ip6" => {
            let (addr, len) =
                address(arg, 128).ok_or(format!("`{text}`: not an IPv6 address or network"))?;
            match addr {
                IpAddr::V6(v6) => Mechanism::Ip6(v6, len),
                IpAddr::V4(_) => return bad("ip6 with an IPv4 address"),
            }
        }
        _ => return bad("unknown mechanism"),
    };
    Ok(Term::Mechanism(qualifier, mechanism))
}

/// `:addr[/len]` of ip4/ip6, with `max` the family's full length.
fn address(arg: Option<&str>, max: u8) -> Option<(IpAddr, u8)> {
    let arg = arg?.strip_prefix(':')?;
    let (addr, len) = match arg.split_once('/') {
        Some((addr, len)) => (addr, len.parse::<u8>().ok().filter(|l| *l <= max)?),
        None => (arg, max),
    };
    Some((addr.parse().ok()?, len))
}

/// The `/v4` and `//v6` lengths after an `a` or `mx` (32 and 128 when absent).
fn dual_cidr(arg: &str) -> Option<(u8, u8)> {
    let tail = match arg.find('/') {
        Some(at) => &arg[at..],
        None => return Some((32, 128)),
    };
    let (v4, v6) = match tail.split_once("//") {
        Some((v4, v6)) => (v4, Some(v6)),
        None => (tail, None),
    };
    let v4 = match v4.strip_prefix('/') {
        Some(n) => n.parse().ok().filter(|n| *n <= 32)?,
        None if v4.is_empty() => 32,
        None => return None,
    };
    let v6 = match v6 {
        Some(n) => n.parse().ok().filter(|n| *n <= 128)?,
        None => 128,
    };
    Some((v4, v6))
}

/// Follows `domain`'s SPF record with `dns`.
pub async fn walk(dns: &Dns, domain: &str) -> Spf {
    let mut walker = Walker {
        dns,
        spf: Spf {
            complete: true,
            ..Spf::default()
        },
        limit_said: false,
    };
    walker
        .record(domain.to_string(), String::new(), Vec::new())
        .await;
    walker.spf
}

struct Walker<'a> {
    dns: &'a Dns,
    spf: Spf,
    limit_said: bool,
}

type Step<'b> = Pin<Box<dyn Future<Output = ()> + Send + 'b>>;

impl Walker<'_> {
    fn note(&mut self, note: String) {
        if !self.spf.notes.contains(&note) {
            self.spf.notes.push(note);
        }
    }

    /// Counts one DNS-querying term; false once past the limit (said once).
    fn lookup(&mut self, term: &str) -> bool {
        self.spf.lookups += 1;
        if self.spf.lookups <= LOOKUP_LIMIT {
            return true;
        }
        if !self.limit_said {
            self.limit_said = true;
            self.note(format!(
                "more than {LOOKUP_LIMIT} DNS lookups (RFC 7208 4.6.4): receivers fail SPF with a permerror; `{term}` and the terms after it that need DNS were not followed"
            ));
        }
        false
    }

    fn add(&mut self, target: String, path: String) {
        if !self.spf.sources.iter().any(|s| s.target == target) {
            self.spf.sources.push(Source { target, path });
        }
    }

    /// The SPF record(s) of `domain`, reached through `path`; `chain` holds the domains being
    /// followed above it (a loop ends there).
    fn record(&mut self, domain: String, path: String, chain: Vec<String>) -> Step<'_> {
        Box::pin(async move {
            let top = chain.is_empty();
            let records = match self.dns.txt_records(&domain).await {
                Ok(Records::Found(all)) => all.into_iter().filter(|r| is_spf(r)).collect(),
                Ok(_) => Vec::new(),
                Err(why) => {
                    self.spf.complete = false;
                    self.note(format!(
                        "the SPF record of {domain} could not be looked up: {why}"
                    ));
                    return;
                }
            };
            if records.is_empty() {
                self.note(if top {
                    format!("{domain} has no SPF record: receivers cannot tell its mail from forgeries")
                } else {
                    format!("{domain} (from `{}`) has no SPF record: receivers fail SPF with a permerror", path.trim())
                });
                return;
            }
            if records.len() > 1 {
                self.note(format!(
                    "{domain} has {} SPF records: receivers fail SPF with a permerror (RFC 7208 4.5); publish one",
                    records.len()
                ));
            }
            if top {
                self.spf.records.clone_from(&records);
            }
            let mut chain = chain;
            chain.push(domain.clone());
            for record in records {
                self.terms(&domain, &record, &path, &chain, top).await;
            }
        })
    }

    async fn terms(&mut self, domain: &str, record: &str, path: &str, chain: &[String], top: bool) {
        let mut terms = Vec::new();
        for (n, text) in record[6..].split(' ').filter(|t| !t.is_empty()).enumerate() {
            if n == TERM_LIMIT {
                self.note(format!("{domain}: SPF record cut after {TERM_LIMIT} terms"));
                break;
            }
            match term(text) {
                Ok(term) => terms.push((text.to_string(), term)),
                Err(why) => {
                    self.note(format!(
                        "{domain}: SPF syntax error, {why}: receivers fail SPF with a permerror"
                    ));
                    return;
                }
            }
        }
        let mut redirect = None;
        let mut has_all = false;
        for (text, term) in terms {
            let here = format!("{path} {text}");
            let here = here.trim();
            match term {
                Term::Modifier => {}
                Term::Redirect(target) => redirect = Some((text, target)),
                Term::Mechanism(q, mechanism) => {
                    if q == '-' || q == '~' || q == '?' {
                        // Not an authorisation: a fail, softfail or neutral match sends nothing.
                        if matches!(mechanism, Mechanism::All) {
                            has_all = true;
                            if top {
                                self.spf.all = Some(q);
                            }
                        } else if needs_dns(&mechanism) {
                            self.lookup(&text);
                        }
                        continue;
                    }
                    self.mechanism(domain, &text, mechanism, here, chain, top, &mut has_all)
                        .await;
                }
            }
        }
        // RFC 7208 6.1: redirect applies only when no `all` matched first.
        if let Some((text, target)) = redirect.filter(|_| !has_all) {
            if !self.lookup(&text) {
                return;
            }
            if target.contains('%') {
                self.note(format!(
                    "`{text}` uses a macro: not expandable without a message"
                ));
                return;
            }
            if chain.contains(&target) {
                self.note(format!(
                    "`{text}` loops back to {target}: receivers fail SPF with a permerror"
                ));
                return;
            }
            let here = format!("{path} {text}");
            self.record(target, here.trim().to_string(), chain.to_vec())
                .await;
        }
    }

    #[allow(clippy::too_many_arguments)]
    async fn mechanism(
        &mut self,
        domain: &str,
        text: &str,
        mechanism: Mechanism,
        here: &str,
        chain: &[String],
        top: bool,
        has_all: &mut bool,
    ) {
        match mechanism {
            Mechanism::All => {
                *has_all = true;
                if top {
                    self.spf.all = Some('+');
                }
                self.note(format!(
                    "{domain}: `{text}` lets any host on the internet send as this domain"
                ));
            }
            Mechanism::Ip4(addr, len) => self.add(net(IpAddr::V4(addr), len, 32), here.to_string()),
            Mechanism::Ip6(addr, len) => {
                self.add(net(IpAddr::V6(addr), len, 128), here.to_string())
            }
            Mechanism::Include(target) => {
                if !self.lookup(text) {
                    return;
                }
                if target.contains('%') {
                    self.note(format!(
                        "`{text}` uses a macro: not expandable without a message"
                    ));
                } else if chain.contains(&target) {
                    self.note(format!(
                        "`{text}` loops back to {target}: receivers fail SPF with a permerror"
                    ));
                } else {
                    self.record(target, here.to_string(), chain.to_vec()).await;
                }
            }
            Mechanism::A(name, v4, v6) => {
                if !self.lookup(text) {
                    return;
                }
                let host = name.unwrap_or_else(|| domain.to_string());
                self.hosts(&[host], v4, v6, here).await;
            }
            Mechanism::Mx(name, v4, v6) => {
                if !self.lookup(text) {
                    return;
                }
                let host = name.unwrap_or_else(|| domain.to_string());
                if host.contains('%') {
                    self.note(format!(
                        "`{text}` uses a macro: not expandable without a message"
                    ));
                    return;
                }
                match self.dns.mx(&host).await {
                    Ok(Records::Found(mx)) => {
                        if mx.len() > MX_LIMIT {
                            self.note(format!(
                                "`{text}`: {host} has {} MX hosts, more than the {MX_LIMIT} RFC 7208 4.6.4 allows (permerror)",
                                mx.len()
                            ));
                        }
                        let names: Vec<String> = mx
                            .into_iter()
                            .map(|(_, name)| name)
                            .filter(|n| n != ".")
                            .take(MX_LIMIT)
                            .collect();
                        self.hosts(&names, v4, v6, here).await;
                    }
                    Ok(_) => self.note(format!(
                        "`{text}`: {host} has no MX record, so it authorises nothing"
                    )),
                    Err(why) => {
                        self.spf.complete = false;
                        self.note(format!(
                            "`{text}`: the MX of {host} could not be looked up: {why}"
                        ));
                    }
                }
            }
            Mechanism::Ptr => {
                self.lookup(text);
                self.note(format!(
                    "`{text}` is not expandable (it depends on the connecting address) and is deprecated (RFC 7208 5.5)"
                ));
            }
            Mechanism::Exists => {
                self.lookup(text);
                self.note(format!(
                    "`{text}` is not expandable: it depends on the message being checked"
                ));
            }
        }
    }

    /// The addresses of `hosts`, with the term's CIDR lengths applied.
    async fn hosts(&mut self, hosts: &[String], v4: u8, v6: u8, here: &str) {
        for host in hosts {
            if host.contains('%') {
                self.note(format!(
                    "`{here}` uses a macro: not expandable without a message"
                ));
                continue;
            }
            match self.dns.addresses(host).await {
                Ok(addresses) => {
                    for ip in addresses {
                        let len = if ip.is_ipv4() { v4 } else { v6 };
                        // `a:host` names its host already; `a` and `mx` say which one.
                        let via = if here.ends_with(host.as_str()) {
                            here.to_string()
                        } else {
                            format!("{here} ({host})")
                        };
                        self.add(net(ip, len, if ip.is_ipv4() { 32 } else { 128 }), via);
                    }
                }
                Err(why) if why.contains("NXDOMAIN") || why.contains("no A or AAAA") => {
                    self.note(format!("`{here}`: {host} has no address ({why})"));
                }
                Err(why) => {
                    self.spf.complete = false;
                    self.note(format!("`{here}`: {host} could not be resolved: {why}"));
                }
            }
        }
    }
}

fn needs_dns(mechanism: &Mechanism) -> bool {
    matches!(
        mechanism,
        Mechanism::Include(_)
            | Mechanism::A(..)
            | Mechanism::Mx(..)
            | Mechanism::Ptr
            | Mechanism::Exists
    )
}

/// `addr/len` as a target's text (host bits cleared): the bare address for a full length.
fn net(addr: IpAddr, len: u8, full: u8) -> String {
    if len == full {
        addr.to_string()
    } else {
        format!("{}/{len}", crate::target::mask(addr, len))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_are_recognised_and_terms_parsed() {
        assert!(is_spf("v=spf1 -all"));
        assert!(is_spf("V=SPF1"));
        assert!(!is_spf("v=spf10 -all"));
        assert!(!is_spf("v=DMARC1; p=none"));
        let terms = parse("v=spf1 ip4:198.51.100.0/28 ip6:2001:db8::/32 a mx:mail.example.com/24 include:_spf.example.net ~all redirect=other.example exp=x.example").expect("parse");
        assert_eq!(
            terms,
            vec![
                Term::Mechanism(
                    '+',
                    Mechanism::Ip4("198.51.100.0".parse().expect("address"), 28)
                ),
                Term::Mechanism(
                    '+',
                    Mechanism::Ip6("2001:db8::".parse().expect("address"), 32)
                ),
                Term::Mechanism('+', Mechanism::A(None, 32, 128)),
                Term::Mechanism('+', Mechanism::Mx(Some("mail.example.com".into()), 24, 128)),
                Term::Mechanism('+', Mechanism::Include("_spf.example.net".into())),
                Term::Mechanism('~', Mechanism::All),
                Term::Redirect("other.example".into()),
                Term::Modifier,
            ]
        );
        assert_eq!(
            parse("v=spf1 a//64 a:x.example/24//48").expect("dual cidr"),
            vec![
                Term::Mechanism('+', Mechanism::A(None, 32, 64)),
                Term::Mechanism('+', Mechanism::A(Some("x.example".into()), 24, 48)),
            ]
        );
    }

    #[test]
    fn bad_terms_are_named() {
        for (record, part) in [
            ("v=spf1 ip4:300.1.1.1", "ip4:300.1.1.1"),
            ("v=spf1 ip4:192.0.2.0/33", "ip4:192.0.2.0/33"),
            ("v=spf1 ip6:192.0.2.1", "ip6:192.0.2.1"),
            ("v=spf1 frobnicate", "frobnicate"),
            ("v=spf1 include", "include"),
            ("v=spf1 a/99", "a/99"),
        ] {
            let err = parse(record).expect_err(record);
            assert!(err.contains(part), "{record}: {err}");
        }
    }

    #[test]
    fn networks_are_written_as_targets() {
        assert_eq!(
            net("198.51.100.7".parse().expect("address"), 28, 32),
            "198.51.100.0/28"
        );
        assert_eq!(
            net("198.51.100.7".parse().expect("address"), 32, 32),
            "198.51.100.7"
        );
        assert_eq!(
            net("2001:db8::1".parse().expect("address"), 64, 128),
            "2001:db8::/64"
        );
    }
}
