//! RFC 5782 query names: reversed IPv4 octets, reversed IPv6 nibbles, domain names as given.
//!
//! Pure functions. Names are absolute (trailing dot) so no resolv.conf search domain is ever
//! appended. Callers decide whether an IPv4-mapped IPv6 address is asked as IPv4; these
//! functions use the octets they are given, as the RFC's IPv6 test entries need.

use std::fmt::Write;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// `192.0.2.99` in `dnsbl.example` -> `99.2.0.192.dnsbl.example.` (RFC 5782 section 2.1).
pub fn ipv4(addr: Ipv4Addr, zone: &str) -> String {
    let mut name = String::with_capacity(16 + zone.len() + 1);
    // Written digit by digit: a bulk run makes one of these per query.
    for octet in addr.octets().iter().rev() {
        push_decimal(&mut name, *octet);
        name.push('.');
    }
    name.push_str(zone);
    name.push('.');
    name
}

/// Appends `n` in decimal.
pub(crate) fn push_decimal(out: &mut String, n: u8) {
    if n >= 100 {
        out.push(char::from(b'0' + n / 100));
    }
    if n >= 10 {
        out.push(char::from(b'0' + n / 10 % 10));
    }
    out.push(char::from(b'0' + n % 10));
}

/// `192.0.2.99`, as `Ipv4Addr`'s `Display` writes it.
pub fn ipv4_text(addr: Ipv4Addr) -> String {
    let mut text = String::with_capacity(15);
    for (i, octet) in addr.octets().iter().enumerate() {
        if i > 0 {
            text.push('.');
        }
        push_decimal(&mut text, *octet);
    }
    text
}

/// `2001:db8::1` -> 32 nibbles, least significant first (RFC 5782 section 2.4), from the raw
/// 16 octets: `::ffff:7f00:2` stays an IPv6 name, as the RFC's IPv6 test entry requires.
pub fn ipv6(addr: Ipv6Addr, zone: &str) -> String {
    let mut name = String::with_capacity(64 + zone.len() + 1);
    for byte in addr.octets().iter().rev() {
        let _ = write!(name, "{:x}.{:x}.", byte & 0x0f, byte >> 4);
    }
    name.push_str(zone);
    name.push('.');
    name
}

/// The query name of an address in a zone, by its family as given.
pub fn ip(addr: IpAddr, zone: &str) -> String {
    match addr {
        IpAddr::V4(v4) => ipv4(v4, zone),
        IpAddr::V6(v6) => ipv6(v6, zone),
    }
}

/// `Example.COM` in `dbl.example` -> `example.com.dbl.example.` (RFC 5782 section 3). The
/// name must already be ASCII (see `target::to_ascii_name`); it is lowercased here.
pub fn domain(name: &str, zone: &str) -> String {
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    format!("{name}.{zone}.")
}

/// Why a query name cannot be asked.
pub const TOO_LONG: &str = "the query name is longer than DNS allows";

/// Whether a full query name fits DNS limits: 253 characters, labels of at most 63.
pub fn fits(query: &str) -> bool {
    let name = query.trim_end_matches('.');
    name.len() <= 253
        && name
            .split('.')
            .all(|label| !label.is_empty() && label.len() <= 63)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn case(actual: String, expected: &str) {
        assert_eq!(actual, expected);
    }

    #[test]
    fn ipv4_text_is_what_display_writes() {
        for n in (0..=u32::MAX)
            .step_by(9_973)
            .chain([0, 1, 10, 99, 100, 255, u32::MAX])
        {
            let addr = Ipv4Addr::from(n);
            assert_eq!(ipv4_text(addr), addr.to_string());
            let [a, b, c, d] = addr.octets();
            assert_eq!(ipv4(addr, "z.test"), format!("{d}.{c}.{b}.{a}.z.test."));
        }
    }

    #[test]
    fn ipv4_names_reverse_the_octets() {
        case(
            ipv4("192.0.2.99".parse().expect("ip"), "dnsbl.example"),
            "99.2.0.192.dnsbl.example.",
        );
        case(
            ipv4("127.0.0.2".parse().expect("ip"), "zen.spamhaus.org"),
            "2.0.0.127.zen.spamhaus.org.",
        );
    }

    #[test]
    fn ipv6_names_are_32_reversed_nibbles() {
        // RFC 5782 section 2.4 example, via dnsbl-facts.md 1.5
        case(
            ipv6("2001:db8::1".parse().expect("ip"), "zone"),
            "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.zone.",
        );
        // The RFC's IPv6 test entry stays an IPv6 name: no mapping to 127.0.0.2.
        case(
            ipv6("::FFFF:7F00:2".parse().expect("ip"), "zone"),
            "2.0.0.0.0.0.f.7.f.f.f.f.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.zone.",
        );
        let name = ipv6("2001:db8:abcd:12::ff".parse().expect("ip"), "z");
        assert_eq!(name.split('.').count(), 32 + 2);
    }

    #[test]
    fn domain_names_are_prepended_lowercase() {
        case(
            domain("Example.COM.", "dbl.spamhaus.org"),
            "example.com.dbl.spamhaus.org.",
        );
        case(
            domain("xn--bcher-kva.example", "z.test"),
            "xn--bcher-kva.example.z.test.",
        );
    }

    #[test]
    fn over_long_names_do_not_fit() {
        assert!(fits("2.0.0.127.zen.spamhaus.org."));
        assert!(!fits(&format!("{}.zone.", "a".repeat(64))));
        assert!(!fits(&format!("{}zone.", "abcdefghi.".repeat(26))));
    }
}
