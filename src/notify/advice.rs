//! What usually causes a listing and what to fix first, from what the list says its code
//! means. A delisting without the fix is relisted within hours (dnsbl-facts.md 6.11).

/// Rules: words in a code's meaning -> the likely cause and the fix. For one meaning the
/// first rule whose words it holds applies.
const RULES: &[(&[&str], &str)] = &[
    (
        &[
            "exploit",
            "botnet",
            "infected",
            "compromised",
            "drone",
            "proxy",
            "spambot",
            "worm",
            "stolen",
        ],
        "a compromised host or account: find and clean the infected machine, open proxy or stolen login sending through this address (outgoing mail logs, running processes), then change the passwords",
    ),
    (
        &["reverse dns", "rdns", "ptr"],
        "missing or generic reverse DNS: give this address a PTR record naming the mail server, and make that name resolve back to the address",
    ),
    (
        &["policy", "pbl", "dynamic", "residential"],
        "an address not meant to send mail directly: send through your provider's smarthost, or get a static address with proper reverse DNS for the server",
    ),
    (
        &["backscatter", "bounce"],
        "bounces to forged senders: reject unknown recipients during the SMTP session instead of accepting and bouncing",
    ),
    (
        &["relay", "spam", "trap", "listed", "reputation", "abuse"],
        "spam sent through this server: make sure it is not an open relay (`rblwatch relay-test {address}` tests it; relay only for your own networks and authenticated users) and that no account, form or script is sending spam",
    ),
];

/// Across several meanings (ZEN answering SBL and PBL at once), the rule that comes first
/// in the order the listings are cleared: a spam source (SBL, cleared through the network
/// owner first), then a compromised host (XBL/CSS), bounces, reverse DNS, and a policy
/// listing (PBL) last (dnsbl-facts.md 6.11). Indexes into `RULES`.
const DELISTING_ORDER: [usize; 5] = [4, 0, 3, 1, 2];

/// When the meaning gives no hint: the usual causes, in the order worth checking.
const GENERAL: &str = "find out why the list lists it (its TXT reason and lookup page); the usual causes are an open relay (`rblwatch relay-test {address}` tests it), a compromised host or account, a dynamic or residential address, and missing reverse DNS";

/// A domain is listed for what mail says about it, not for how a server relays: no relay
/// test for it.
const DOMAIN: &str = "the domain appears in spam (in links or as a sender): find what mentions it in mail you did not mean to send (a compromised website or form, an affiliate, a hijacked account) and stop it, then ask for removal";

/// The likely cause and fix for a listing of `address` (an IP address or a domain) with
/// these meanings (none without meanings); where relaying may be the cause of an address's
/// listing, it names the relay test for the address.
pub fn fix_first(meanings: &[String], address: &str) -> Option<String> {
    if meanings.is_empty() {
        return None;
    }
    if address.parse::<std::net::IpAddr>().is_err() {
        return Some(DOMAIN.to_string());
    }
    let rule_of = |meaning: &String| {
        let text = meaning.to_ascii_lowercase();
        RULES
            .iter()
            .position(|(words, _)| words.iter().any(|w| text.contains(w)))
    };
    let found: Vec<usize> = meanings.iter().filter_map(rule_of).collect();
    let fix = DELISTING_ORDER
        .iter()
        .find(|rule| found.contains(rule))
        .map_or(GENERAL, |&rule| RULES[rule].1);
    Some(fix.replace("{address}", address))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn case(meaning: &str, fragment: &str) {
        let fix = fix_first(&[meaning.to_string()], "192.0.2.1").expect(meaning);
        assert!(fix.contains(fragment), "{meaning}: {fix}");
    }

    #[test]
    fn causes_from_meanings() {
        case(
            "127.0.0.4: XBL: exploited host (botnet, infected or hijacked machine)",
            "compromised",
        );
        case(
            "127.0.0.10: PBL: ISP-maintained policy listing",
            "smarthost",
        );
        case(
            "127.0.0.37: RATS-NoPtr: no reverse DNS (PTR) for this address",
            "PTR record",
        );
        case("127.0.0.2: listed: sent backscatter", "bounces");
        case(
            "127.0.0.2: SBL: Spamhaus Block List, a verified spam source",
            "rblwatch relay-test 192.0.2.1",
        );
        case("127.0.0.2: open relay", "rblwatch relay-test 192.0.2.1");
        case("127.0.0.2: test listing", "usual causes are an open relay");
        assert_eq!(fix_first(&[], "192.0.2.1"), None);
    }

    #[test]
    fn several_codes_follow_the_delisting_order() {
        let zen = [
            "127.0.0.10: PBL: ISP-maintained policy listing".to_string(),
            "127.0.0.2: SBL: Spamhaus Block List, a verified spam source".to_string(),
        ];
        let fix = fix_first(&zen, "192.0.2.1").expect("fix");
        assert!(
            fix.contains("rblwatch relay-test 192.0.2.1"),
            "SBL first: {fix}"
        );
        let xbl_pbl = [
            "127.0.0.11: PBL: Spamhaus-maintained policy listing".to_string(),
            "127.0.0.4: XBL: exploited host (botnet, infected or hijacked machine)".to_string(),
        ];
        assert!(fix_first(&xbl_pbl, "192.0.2.1").is_some_and(|f| f.contains("compromised")));
    }

    #[test]
    fn a_domain_listing_never_suggests_the_relay_test() {
        let fix =
            fix_first(&["127.0.1.2: DBL: spam domain".to_string()], "example.com").expect("fix");
        assert!(!fix.contains("relay-test"), "{fix}");
        assert!(fix.contains("domain appears in spam"), "{fix}");
    }
}
