//! One DNS answer -> exactly one status; two test-point answers -> a list's health.
//!
//! Pure: it takes an already decoded answer and the list's catalog entry. Only documented
//! listing codes in 127.0.0.0/8 make `listed`; only NXDOMAIN/NODATA makes `clear`. Anything
//! else is reported as what it is, never as either (dnsbl-facts.md sections 4 and 6).

use std::fmt;
use std::net::Ipv4Addr;

use serde::Serialize;

use crate::lists::List;

/// A decoded DNS answer to an A query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// One or more A records.
    Addresses(Vec<Ipv4Addr>),
    /// NXDOMAIN: the name does not exist.
    NxDomain,
    /// NOERROR with no A record.
    NoData,
    /// The server answered REFUSED.
    Refused,
    /// No usable answer: timeout, SERVFAIL, network error; the text says which.
    Failure(String),
}

/// What a failure says when no reply came at all.
pub const TIMED_OUT: &str = "timed out";

impl fmt::Display for Answer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Answer::Addresses(addrs) => {
                let addrs: Vec<String> = addrs.iter().map(ToString::to_string).collect();
                write!(f, "the addresses {}", addrs.join(", "))
            }
            Answer::NxDomain => f.write_str("NXDOMAIN"),
            Answer::NoData => f.write_str("an empty answer (NODATA)"),
            Answer::Refused => f.write_str("REFUSED"),
            Answer::Failure(why) => f.write_str(why),
        }
    }
}

impl Answer {
    /// Whether no reply came in the time allowed.
    pub fn is_timeout(&self) -> bool {
        matches!(self, Answer::Failure(why) if why == TIMED_OUT)
    }
}

/// The status of one answer. Only `Listed` and `Clear` are definite.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// One or more documented listing codes.
    Listed,
    /// NXDOMAIN or NODATA (or only informational codes).
    Clear,
    /// The list's own refusal code, or DNS REFUSED.
    Refused,
    /// An answer outside 127.0.0.0/8, or a code the catalog does not know for the list.
    Bogus,
    /// Timeout, SERVFAIL or network error.
    Error,
    /// The list failed its health check, so its answer is not believed.
    Unhealthy,
}

impl Status {
    /// Every status, in the order reports show them.
    pub const ALL: [Status; 6] = [
        Status::Listed,
        Status::Clear,
        Status::Refused,
        Status::Bogus,
        Status::Error,
        Status::Unhealthy,
    ];

    /// The status as the word used in reports and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Listed => "listed",
            Status::Clear => "clear",
            Status::Refused => "refused",
            Status::Bogus => "bogus",
            Status::Error => "error",
            Status::Unhealthy => "unhealthy",
        }
    }

    /// The status named by its word (`as_str`).
    pub fn parse(word: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|s| s.as_str() == word)
    }

    /// Whether the answer says something about the address (listed or clear).
    pub fn is_definite(self) -> bool {
        matches!(self, Status::Listed | Status::Clear)
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What one answer means for one list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// The status.
    pub status: Status,
    /// Every A record of the answer.
    pub codes: Vec<Ipv4Addr>,
    /// What the codes mean, one line per matching catalog entry.
    pub meanings: Vec<String>,
    /// Why the status is what it is, where that is not obvious.
    pub detail: Option<String>,
}

impl Verdict {
    fn new(
        status: Status,
        codes: &[Ipv4Addr],
        meanings: Vec<String>,
        detail: Option<String>,
    ) -> Self {
        Verdict {
            status,
            codes: codes.to_vec(),
            meanings,
            detail,
        }
    }
}

/// Classifies one answer from `list`.
pub fn classify(list: &List, answer: &Answer) -> Verdict {
    let codes = match answer {
        Answer::NxDomain | Answer::NoData => return Verdict::new(Status::Clear, &[], vec![], None),
        Answer::Addresses(codes) if codes.is_empty() => {
            return Verdict::new(Status::Clear, &[], vec![], None);
        }
        Answer::Refused => {
            let detail = "the DNS server answered REFUSED".to_string();
            return Verdict::new(Status::Refused, &[], vec![], Some(detail));
        }
        Answer::Failure(why) => return Verdict::new(Status::Error, &[], vec![], Some(why.clone())),
        Answer::Addresses(codes) => codes,
    };

    // dnsbl-facts.md 1.4 and 6.1: lists answer inside 127/8; anything else is a resolver
    // rewriting NXDOMAIN or a parked, expired zone, never a listing.
    if let Some(outside) = codes.iter().find(|a| a.octets()[0] != 127) {
        let detail = format!(
            "answer {outside} is outside 127.0.0.0/8: a resolver that rewrites answers, or a dead zone parked on a wildcard"
        );
        return Verdict::new(Status::Bogus, codes, vec![], Some(detail));
    }

    let refusals: Vec<String> = codes
        .iter()
        .filter_map(|&a| list.refusal_for(a).map(|r| format!("{a}: {}", r.meaning)))
        .collect();
    if !refusals.is_empty() {
        let detail = format!("{} refused the query: {}", list.name, refusals.join("; "));
        return Verdict::new(Status::Refused, codes, refusals, Some(detail));
    }

    let mut meanings = Vec::new();
    let mut unknown = Vec::new();
    let mut listing = false;
    for &addr in codes {
        let mut known = false;
        for code in list.codes.iter().filter(|c| c.matcher.matches(addr)) {
            known = true;
            listing |= code.listing;
            meanings.push(format!("{addr}: {}", code.meaning));
        }
        if !known {
            unknown.push(addr.to_string());
        }
    }
    if !unknown.is_empty() {
        let detail = format!(
            "code {} is not one {} documents: not believed",
            unknown.join(", "),
            list.name
        );
        return Verdict::new(Status::Bogus, codes, meanings, Some(detail));
    }
    let status = if listing {
        Status::Listed
    } else {
        Status::Clear
    };
    Verdict::new(status, codes, meanings, None)
}

/// A list's health from its RFC 5782 test points (sections 5 and 7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Health {
    /// The positive test point is listed and the negative one is not.
    Ok,
    /// The positive test point is not listed: the list is dead or emptied.
    Dead,
    /// The negative test point is listed: the zone lists the world.
    Wildcard,
    /// The list refused the test queries (public resolver, quota, key).
    Refused,
    /// The test answers were outside 127/8 or unknown codes.
    Bogus,
    /// The test queries got no answer (timeout, SERVFAIL, network).
    Unreachable,
    /// Not checked (`--no-verify`).
    Unchecked,
}

impl Health {
    /// The word used in reports and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Health::Ok => "ok",
            Health::Dead => "dead",
            Health::Wildcard => "wildcard",
            Health::Refused => "refused",
            Health::Bogus => "bogus",
            Health::Unreachable => "unreachable",
            Health::Unchecked => "unchecked",
        }
    }

    /// The health named by its word (`as_str`).
    pub fn parse(word: &str) -> Option<Health> {
        [
            Health::Ok,
            Health::Dead,
            Health::Wildcard,
            Health::Refused,
            Health::Bogus,
            Health::Unreachable,
            Health::Unchecked,
        ]
        .into_iter()
        .find(|h| h.as_str() == word)
    }

    /// Whether answers from a list in this state may be believed.
    pub fn is_trusted(self) -> bool {
        matches!(self, Health::Ok | Health::Unchecked)
    }

    /// Whether a stored health word (`as_str`) is a trusted one; an unknown word is not.
    pub fn is_trusted_word(word: &str) -> bool {
        Health::parse(word).is_some_and(Health::is_trusted)
    }
}

impl fmt::Display for Health {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Judges a list from the verdicts on its positive and negative test points.
pub fn health(list: &List, positive: &Verdict, negative: &Verdict) -> (Health, Option<String>) {
    let (pos, neg) = (&list.test.positive, &list.test.negative);
    let why = |v: &Verdict| v.detail.clone().unwrap_or_else(|| v.status.to_string());
    if negative.status == Status::Listed {
        let codes = join(&negative.codes);
        return (
            Health::Wildcard,
            Some(format!(
                "negative test point {neg} is listed ({codes}): the zone lists the world"
            )),
        );
    }
    for (health, status) in [
        (Health::Refused, Status::Refused),
        (Health::Bogus, Status::Bogus),
        (Health::Unreachable, Status::Error),
    ] {
        if let Some((point, v)) = [(pos, positive), (neg, negative)]
            .into_iter()
            .find(|(_, v)| v.status == status)
        {
            return (health, Some(format!("test point {point}: {}", why(v))));
        }
    }
    if positive.status != Status::Listed {
        return (
            Health::Dead,
            Some(format!(
                "positive test point {pos} is not listed: the list is dead, emptied or has no test entry"
            )),
        );
    }
    (Health::Ok, None)
}

fn join(codes: &[Ipv4Addr]) -> String {
    codes
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lists::Catalog;

    fn list(id: &str) -> List {
        Catalog::builtin()
            .expect("built-in catalog")
            .get(id)
            .expect("list in catalog")
            .clone()
    }

    fn addrs(codes: &[&str]) -> Answer {
        Answer::Addresses(codes.iter().map(|c| c.parse().expect("ip")).collect())
    }

    #[track_caller]
    fn case(id: &str, answer: Answer, expected: Status) -> Verdict {
        let verdict = classify(&list(id), &answer);
        assert_eq!(verdict.status, expected, "{id} {answer:?}: {verdict:?}");
        verdict
    }

    #[test]
    fn nothing_found_is_clear() {
        case("spamhaus-zen", Answer::NxDomain, Status::Clear);
        case("spamhaus-zen", Answer::NoData, Status::Clear);
    }

    #[test]
    fn zen_answers_several_codes_at_once() {
        let v = case(
            "spamhaus-zen",
            addrs(&["127.0.0.2", "127.0.0.4", "127.0.0.10"]),
            Status::Listed,
        );
        assert_eq!(v.meanings.len(), 3);
        assert!(
            v.meanings[0].starts_with("127.0.0.2: SBL"),
            "{:?}",
            v.meanings
        );
        assert!(
            v.meanings[1].starts_with("127.0.0.4: XBL"),
            "{:?}",
            v.meanings
        );
    }

    #[test]
    fn refusal_codes_are_never_listings() {
        // Spamhaus: 127.255.255.254 = public/open resolver (dnsbl-facts.md 4)
        let v = case("spamhaus-zen", addrs(&["127.255.255.254"]), Status::Refused);
        assert!(v.detail.expect("detail").contains("resolver"));
        case("spamhaus-zen", addrs(&["127.255.255.255"]), Status::Refused);
        case("spamhaus-dbl", addrs(&["127.0.1.255"]), Status::Refused);
        // URIBL and SURBL: bit 1 = refused, even when other bits are set
        case("uribl-multi", addrs(&["127.0.0.1"]), Status::Refused);
        case("surbl-multi", addrs(&["127.0.0.9"]), Status::Refused);
        // dnswl: 127.0.x.255 = blocked, not "whitelisted"
        case("dnswl", addrs(&["127.0.0.255"]), Status::Refused);
        case("dnswl", addrs(&["127.0.5.255"]), Status::Refused);
        case("spamhaus-zen", Answer::Refused, Status::Refused);
    }

    #[test]
    fn answers_outside_loopback_or_unknown_codes_are_bogus() {
        let v = case("spamcop", addrs(&["198.51.100.1"]), Status::Bogus);
        assert!(v.detail.expect("detail").contains("outside 127.0.0.0/8"));
        case(
            "spamhaus-zen",
            addrs(&["127.0.0.2", "203.0.113.9"]),
            Status::Bogus,
        );
        let v = case("spamcop", addrs(&["127.0.0.77"]), Status::Bogus);
        assert!(v.detail.expect("detail").contains("127.0.0.77"));
    }

    #[test]
    fn bitmasks_decode_every_set_bit() {
        // SURBL 127.0.0.24 = PH (8) + MW (16)
        let v = case("surbl-multi", addrs(&["127.0.0.24"]), Status::Listed);
        assert_eq!(v.meanings.len(), 2, "{:?}", v.meanings);
        assert!(
            v.meanings.iter().any(|m| m.contains("phishing")),
            "{:?}",
            v.meanings
        );
        assert!(
            v.meanings.iter().any(|m| m.contains("malware")),
            "{:?}",
            v.meanings
        );
        let v = case("uribl-multi", addrs(&["127.0.0.14"]), Status::Listed);
        assert_eq!(v.meanings.len(), 3, "{:?}", v.meanings);
    }

    #[test]
    fn informational_codes_are_not_listings() {
        // Hostkarma 127.0.0.1 = whitelisted (dnsbl-facts.md 3.1)
        let v = case("hostkarma", addrs(&["127.0.0.1"]), Status::Clear);
        assert_eq!(v.meanings.len(), 1);
        case(
            "hostkarma",
            addrs(&["127.0.0.2", "127.0.2.1"]),
            Status::Listed,
        );
    }

    #[test]
    fn allowlist_codes_decode_category_and_trust() {
        let v = case("dnswl", addrs(&["127.0.2.3"]), Status::Listed);
        assert_eq!(v.meanings.len(), 2, "{:?}", v.meanings);
    }

    #[test]
    fn failures_are_errors() {
        let v = case(
            "spamcop",
            Answer::Failure("timed out".into()),
            Status::Error,
        );
        assert_eq!(v.detail.as_deref(), Some("timed out"));
    }

    fn verdict(status: Status, codes: &[&str]) -> Verdict {
        Verdict {
            status,
            codes: codes.iter().map(|c| c.parse().expect("ip")).collect(),
            meanings: vec![],
            detail: None,
        }
    }

    #[track_caller]
    fn health_case(pos: Status, neg: Status, expected: Health) {
        let l = list("spamcop");
        let (h, detail) = health(
            &l,
            &verdict(pos, &["127.0.0.2"]),
            &verdict(neg, &["127.0.0.2"]),
        );
        assert_eq!(h, expected, "{pos} {neg}");
        assert_eq!(detail.is_none(), expected == Health::Ok);
    }

    #[test]
    fn health_outcomes() {
        use Status::*;
        health_case(Listed, Clear, Health::Ok);
        health_case(Clear, Clear, Health::Dead);
        health_case(Listed, Listed, Health::Wildcard);
        health_case(Refused, Clear, Health::Refused);
        health_case(Listed, Refused, Health::Refused);
        health_case(Bogus, Bogus, Health::Bogus);
        health_case(Error, Clear, Health::Unreachable);
        health_case(Error, Error, Health::Unreachable);
    }
}
