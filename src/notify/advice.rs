//! What usually causes a listing and what to fix first, from what the list says its code
//! means. A delisting without the fix is relisted within hours (dnsbl-facts.md 6.11).

/// Rules: words in a code's meaning -> the likely cause and the fix.
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

/// When the meaning gives no hint: the usual causes, in the order worth checking.
const GENERAL: &str = "find out why the list lists it (its TXT reason and lookup page); the usual causes are an open relay (`rblwatch relay-test {address}` tests it), a compromised host or account, a dynamic or residential address, and missing reverse DNS";

/// The likely cause and fix for a listing of `address` with these meanings (none without
/// meanings); where relaying may be the cause, it names the relay test for the address.
pub fn fix_first(meanings: &[String], address: &str) -> Option<String> {
    if meanings.is_empty() {
        return None;
    }
    let text = meanings.join(" ").to_ascii_lowercase();
    let fix = RULES
        .iter()
        .find(|(words, _)| words.iter().any(|w| text.contains(w)))
        .map_or(GENERAL, |(_, fix)| *fix);
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
}
