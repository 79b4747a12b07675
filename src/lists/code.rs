//! Return-code patterns: how a catalog entry says which A records it means.
//!
//! A pattern is four dotted octets, each a number, a range `a-b` or `*`, with an optional
//! bitmask tested against the last octet (SURBL and URIBL encode sublists as bits).
//! Parsing and matching only; what a match means is up to `dns::classify`.

use std::fmt;
use std::net::Ipv4Addr;

use serde::Deserialize;

use super::Text;

/// One octet of a pattern: an inclusive range (`*` is `0-255`, a number `n` is `n-n`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct OctetRange {
    lo: u8,
    hi: u8,
}

/// A return-code pattern such as `127.0.0.2`, `127.0.2.2-24`, `127.0.*.255` or `127.0.0.*`
/// (the last with a bitmask held by [`CodeMatcher`]).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "Text")]
pub struct CodePattern {
    octets: [OctetRange; 4],
    text: Text,
}

impl CodePattern {
    /// Whether `addr` falls inside the pattern.
    pub fn matches(&self, addr: Ipv4Addr) -> bool {
        self.octets
            .iter()
            .zip(addr.octets())
            .all(|(range, octet)| range.lo <= octet && octet <= range.hi)
    }

    /// Whether every address the pattern matches is inside 127.0.0.0/8, where RFC 5782 lists
    /// put their answers (dnsbl-facts.md 1.4).
    pub fn is_loopback_only(&self) -> bool {
        self.octets[0] == OctetRange { lo: 127, hi: 127 }
    }
}

impl fmt::Display for CodePattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl TryFrom<Text> for CodePattern {
    type Error = String;

    fn try_from(text: Text) -> Result<Self, Self::Error> {
        let mut octets = [OctetRange { lo: 0, hi: 255 }; 4];
        let mut parts = text.split('.');
        for slot in &mut octets {
            let Some(part) = parts.next() else {
                return Err(four_octets(&text));
            };
            *slot = parse_octet(part).ok_or_else(|| {
                format!("code `{text}`: `{part}` is not an octet (0-255), a range (a-b) or `*`")
            })?;
        }
        if parts.next().is_some() {
            return Err(four_octets(&text));
        }
        Ok(CodePattern { octets, text })
    }
}

fn four_octets(text: &str) -> String {
    format!(
        "code `{text}` must have four dotted octets, e.g. 127.0.0.2, 127.0.2.2-24 or 127.0.*.255"
    )
}

fn parse_octet(part: &str) -> Option<OctetRange> {
    if part == "*" {
        return Some(OctetRange { lo: 0, hi: 255 });
    }
    let (lo, hi) = match part.split_once('-') {
        Some((lo, hi)) => (lo.parse().ok()?, hi.parse().ok()?),
        None => {
            let n = part.parse().ok()?;
            (n, n)
        }
    };
    (lo <= hi).then_some(OctetRange { lo, hi })
}

/// A pattern plus an optional bitmask on the last octet: matches when the address is inside
/// the pattern and, if a mask is given, shares at least one bit with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeMatcher {
    /// The octet pattern.
    pub pattern: CodePattern,
    /// Bits tested against the last octet (`None`: the pattern alone decides).
    pub bits: Option<u8>,
}

impl CodeMatcher {
    /// Whether `addr` is one of the codes this matcher stands for.
    pub fn matches(&self, addr: Ipv4Addr) -> bool {
        self.pattern.matches(addr) && self.bits.is_none_or(|bits| addr.octets()[3] & bits != 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matcher(pattern: &str, bits: Option<u8>) -> CodeMatcher {
        CodeMatcher {
            pattern: CodePattern::try_from(Text::from(pattern.to_string())).expect("valid pattern"),
            bits,
        }
    }

    #[track_caller]
    fn case(pattern: &str, bits: Option<u8>, addr: &str, expected: bool) {
        let addr: Ipv4Addr = addr.parse().expect("valid address");
        assert_eq!(
            matcher(pattern, bits).matches(addr),
            expected,
            "{pattern} {bits:?} {addr}"
        );
    }

    #[test]
    fn exact_ranges_and_wildcards() {
        case("127.0.0.2", None, "127.0.0.2", true);
        case("127.0.0.2", None, "127.0.0.3", false);
        case("127.0.2.2-24", None, "127.0.2.2", true);
        case("127.0.2.2-24", None, "127.0.2.24", true);
        case("127.0.2.2-24", None, "127.0.2.25", false);
        case("127.0.2.2-24", None, "127.0.1.10", false);
        case("127.0.*.255", None, "127.0.7.255", true);
        case("127.0.*.255", None, "127.0.7.254", false);
    }

    #[test]
    fn bitmask_on_last_octet() {
        // SURBL: 127.0.0.24 = PH (8) + MW (16)
        case("127.0.0.*", Some(8), "127.0.0.24", true);
        case("127.0.0.*", Some(16), "127.0.0.24", true);
        case("127.0.0.*", Some(64), "127.0.0.24", false);
        case("127.0.0.*", Some(8), "127.0.1.8", false);
    }

    #[test]
    fn bad_patterns_are_refused_with_the_text() {
        for bad in [
            "127.0.0",
            "127.0.0.256",
            "127.0.0.5-2",
            "127.0.0.x",
            "127.0.0.2.1",
        ] {
            let err = CodePattern::try_from(Text::from(bad)).expect_err(bad);
            assert!(err.contains(bad), "{err}");
        }
    }

    #[test]
    fn loopback_only() {
        assert!(matcher("127.0.0.*", None).pattern.is_loopback_only());
        assert!(!matcher("*.0.0.2", None).pattern.is_loopback_only());
        assert!(!matcher("126-127.0.0.2", None).pattern.is_loopback_only());
    }
}
