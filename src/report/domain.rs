//! A mail domain's setup as `check --domain` found it: MX hosts, SPF, reverse DNS, notes.
//! Printed before the result rows (table) or carried whole (JSON `domains`).

use std::io::{self, Write};
use std::net::IpAddr;

use super::safe::clean;
use crate::dns::reverse::Reverse;
use crate::domain::{MailSetup, Mx};

/// A domain's setup and the reverse DNS of its single addresses.
pub struct Found {
    /// What DNS holds for the domain's mail.
    pub setup: MailSetup,
    /// Each single address of the setup and its reverse DNS.
    pub reverse: Vec<(IpAddr, Reverse)>,
}

/// The setup as text.
pub fn write(out: &mut dyn Write, found: &Found) -> io::Result<()> {
    let setup = &found.setup;
    writeln!(out, "Mail domain {}:", clean(&setup.domain))?;
    match &setup.mx {
        Mx::Hosts { hosts } => {
            for host in hosts {
                let addresses: Vec<String> =
                    host.addresses.iter().map(ToString::to_string).collect();
                writeln!(
                    out,
                    "  receives: MX {} {} {}",
                    host.preference,
                    clean(&host.host),
                    if addresses.is_empty() {
                        format!(
                            "(no address: {})",
                            clean(host.error.as_deref().unwrap_or("none"))
                        )
                    } else {
                        addresses.join(", ")
                    }
                )?;
            }
        }
        Mx::Implicit { addresses } => {
            let addresses: Vec<String> = addresses.iter().map(ToString::to_string).collect();
            writeln!(
                out,
                "  receives: no MX, its own address (implicit MX) {}",
                addresses.join(", ")
            )?;
        }
        Mx::Null => writeln!(out, "  receives: no mail (null MX)")?,
        Mx::NoDomain => writeln!(out, "  receives: nothing, the domain does not exist")?,
        Mx::Failed { why } => writeln!(
            out,
            "  receives: unknown, the MX lookup failed: {}",
            clean(why)
        )?,
    }
    for record in &setup.spf.records {
        writeln!(out, "  SPF: {}", clean(record))?;
    }
    writeln!(
        out,
        "  sends: {} address(es) or network(s) authorised, {} of 10 DNS lookups",
        setup.spf.sources.len(),
        setup.spf.lookups
    )?;
    for source in &setup.spf.sources {
        writeln!(
            out,
            "    {}  via {}",
            clean(&source.target),
            clean(&source.path)
        )?;
    }
    for (ip, reverse) in &found.reverse {
        let what = match reverse {
            Reverse::Confirmed(name) => format!("{} (forward-confirmed)", clean(name)),
            Reverse::Unconfirmed(names) => {
                format!("{} (does not resolve back to it)", clean(&names.join(", ")))
            }
            Reverse::Missing => "no PTR record".to_string(),
            Reverse::Failed(why) => format!("unknown: {}", clean(why)),
        };
        writeln!(out, "  reverse DNS: {ip}  {what}")?;
    }
    for note in setup.notes.iter().chain(&setup.spf.notes) {
        writeln!(out, "  note: {}", clean(note))?;
    }
    if !setup.complete {
        writeln!(
            out,
            "  warning: some lookups failed, so the setup above may be missing addresses"
        )?;
    }
    writeln!(out)
}

/// The setup as JSON.
pub fn doc(found: &Found) -> serde_json::Value {
    let reverse: Vec<serde_json::Value> = found
        .reverse
        .iter()
        .map(|(ip, r)| serde_json::json!({ "address": ip.to_string(), "reverse": r }))
        .collect();
    serde_json::json!({
        "domain": found.setup.domain,
        "mx": found.setup.mx,
        "spf": found.setup.spf,
        "members": found.setup.members,
        "reverse_dns": reverse,
        "notes": found.setup.notes,
        "complete": found.setup.complete,
    })
}
