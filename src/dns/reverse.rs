//! Reverse DNS of an address and whether its name resolves back to it (forward-confirmed
//! reverse DNS), which receivers and lists (SpamRATS NoPtr, Abusix policy) look at.

use std::net::IpAddr;

use serde::Serialize;

use super::Dns;

/// What an address's reverse DNS says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", content = "names", rename_all = "kebab-case")]
pub enum Reverse {
    /// A PTR name that resolves back to the address.
    Confirmed(String),
    /// PTR names, none of which resolves back to the address.
    Unconfirmed(Vec<String>),
    /// No PTR record.
    Missing,
    /// The lookup failed, with why: nothing is known.
    Failed(String),
}

/// At most this many PTR names are followed forward: a hostile zone may hold many.
const NAMES_FOLLOWED: usize = 4;

/// The reverse DNS of `ip`, each PTR name looked up forward until one leads back.
pub async fn reverse(dns: &Dns, ip: IpAddr) -> Reverse {
    let ip = ip.to_canonical();
    let names = match dns.ptr(ip).await {
        Err(why) => return Reverse::Failed(why),
        Ok(names) if names.is_empty() => return Reverse::Missing,
        Ok(names) => names,
    };
    for name in names.iter().take(NAMES_FOLLOWED) {
        if dns
            .addresses(name)
            .await
            .is_ok_and(|back| back.iter().any(|b| b.to_canonical() == ip))
        {
            return Reverse::Confirmed(name.clone());
        }
    }
    Reverse::Unconfirmed(names)
}
