//! Well-known public resolvers, which Spamhaus, URIBL and others refuse to answer.
//!
//! Queries through them come back as refusal codes (Spamhaus 127.255.255.254, URIBL
//! 127.0.0.1) or REFUSED (dnsbl-facts.md 6.2); the fix is a local recursive resolver.

use std::net::IpAddr;

/// Public resolver addresses as their operators publish them, with the operator's name.
const PUBLIC: &[(&str, &str)] = &[
    ("8.8.8.8", "Google Public DNS"),
    ("8.8.4.4", "Google Public DNS"),
    ("2001:4860:4860::8888", "Google Public DNS"),
    ("2001:4860:4860::8844", "Google Public DNS"),
    ("1.1.1.1", "Cloudflare"),
    ("1.0.0.1", "Cloudflare"),
    ("2606:4700:4700::1111", "Cloudflare"),
    ("2606:4700:4700::1001", "Cloudflare"),
    ("9.9.9.9", "Quad9"),
    ("149.112.112.112", "Quad9"),
    ("2620:fe::fe", "Quad9"),
    ("2620:fe::9", "Quad9"),
    ("208.67.222.222", "OpenDNS"),
    ("208.67.220.220", "OpenDNS"),
    ("2620:119:35::35", "OpenDNS"),
    ("2620:119:53::53", "OpenDNS"),
];

/// The operator's name when `ip` is a well-known public resolver.
pub fn public_resolver(ip: IpAddr) -> Option<&'static str> {
    PUBLIC
        .iter()
        .find(|(addr, _)| addr.parse::<IpAddr>().is_ok_and(|a| a == ip))
        .map(|(_, name)| *name)
}

/// The warning shown when queries go through a public resolver.
pub fn warning(ip: IpAddr, operator: &str) -> String {
    format!(
        "the resolver {ip} is {operator}, a public resolver: Spamhaus, URIBL, SURBL and others refuse \
         such resolvers, so their answers will be `refused`, not a verdict. Run a local recursive \
         resolver (e.g. unbound, not forwarding to a public one) and use it with --nameserver 127.0.0.1, \
         or let rblwatch ask the lists' own servers: --nameserver recursive"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_public_resolvers_are_recognised() {
        for ip in [
            "8.8.8.8",
            "1.1.1.1",
            "9.9.9.9",
            "208.67.222.222",
            "2606:4700:4700::1111",
        ] {
            assert!(public_resolver(ip.parse().expect("ip")).is_some(), "{ip}");
        }
        for ip in ["127.0.0.1", "192.0.2.53", "::1"] {
            assert!(public_resolver(ip.parse().expect("ip")).is_none(), "{ip}");
        }
    }
}
