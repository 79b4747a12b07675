//! `doctor` for a mail domain: SPF, DMARC, the MX hosts, their reverse DNS and, when asked,
//! whether each MX greets with the name its reverse DNS gives. Each point says OK or what to
//! change, with the RFC or the common receiver rule behind it.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use super::dmarc::{self, Dmarc};
use super::{MailSetup, Mx};
use crate::dns::reverse::{Reverse, reverse};
use crate::dns::{Dns, Records};
use crate::doctor::{Finding, Level};
use crate::relay::smtp::{Endpoint, Security, Session};

/// How long the greeting of one MX may take.
const GREETING_WAIT: Duration = Duration::from_secs(10);

fn finding(level: Level, subject: &str, message: String) -> Finding {
    Finding {
        level,
        area: "domain",
        subject: subject.to_string(),
        message,
    }
}

/// Every point for `domain`; with `smtp_port`, each MX address's greeting too.
pub async fn examine(dns: &Dns, domain: &str, smtp_port: Option<u16>) -> Vec<Finding> {
    let setup = super::resolve(dns, domain).await;
    let mut out = spf(&setup);
    out.push(dmarc_finding(dns, &setup.domain).await);
    out.extend(mx(&setup));
    for (host, ip) in mx_addresses(&setup) {
        let subject = format!("{host} ({ip})");
        let rdns = reverse(dns, ip).await;
        out.push(crate::doctor::rdns_finding(
            "domain",
            subject.clone(),
            ip,
            &rdns,
        ));
        if let Some(port) = smtp_port {
            out.push(greeting(&subject, SocketAddr::new(ip, port), &rdns).await);
        }
    }
    out
}

fn spf(setup: &MailSetup) -> Vec<Finding> {
    let domain = setup.domain.as_str();
    let spf = &setup.spf;
    let mut out = Vec::new();
    let errors: Vec<&String> = spf
        .notes
        .iter()
        .filter(|n| n.contains("permerror") || n.contains("lets any host"))
        .collect();
    match spf.records.len() {
        0 if spf.complete => out.push(finding(
            Level::Warning,
            domain,
            "no SPF record: receivers cannot tell its mail from forgeries, and Gmail and Yahoo require SPF or DKIM of every sender (SPF and DKIM of bulk senders, 2024); publish one TXT record `v=spf1 ... -all` (RFC 7208)".into(),
        )),
        0 => out.push(finding(
            Level::Error,
            domain,
            format!("the SPF record could not be read: {}", spf.notes.join("; ")),
        )),
        _ if errors.is_empty() => out.push(finding(
            Level::Ok,
            domain,
            format!(
                "one SPF record, {} of {} DNS lookups, ending in {}",
                spf.lookups,
                super::spf::LOOKUP_LIMIT,
                match spf.all {
                    Some('-') => "-all (others fail)",
                    Some('~') => "~all (others soft-fail)",
                    Some('?') => "?all (others neutral: receivers learn nothing from it)",
                    _ => "no `all` (others neutral)",
                }
            ),
        )),
        _ => {}
    }
    for error in errors {
        out.push(finding(Level::Error, domain, format!("SPF: {error}")));
    }
    for note in spf
        .notes
        .iter()
        .filter(|n| !n.contains("permerror") && !n.contains("lets any host"))
        .filter(|n| !(spf.records.is_empty() && n.contains("has no SPF record")))
    {
        out.push(finding(Level::Warning, domain, format!("SPF: {note}")));
    }
    out
}

async fn dmarc_finding(dns: &Dns, domain: &str) -> Finding {
    let name = format!("_dmarc.{domain}");
    let records = match dns.txt_records(&name).await {
        Ok(Records::Found(records)) => records,
        Ok(_) => Vec::new(),
        Err(why) => {
            return finding(
                Level::Error,
                &name,
                format!("the DMARC record could not be read: {why}"),
            );
        }
    };
    match dmarc::read(&records) {
        Dmarc::Policy(p) => finding(
            Level::Ok,
            &name,
            format!("DMARC record with p={p}"),
        ),
        Dmarc::Missing => finding(
            Level::Warning,
            &name,
            "no DMARC record: Gmail and Yahoo require one (p=none at least) of bulk senders since 2024; publish `v=DMARC1; p=none; rua=mailto:...` and tighten it later (RFC 7489)".into(),
        ),
        Dmarc::Several(n) => finding(
            Level::Error,
            &name,
            format!("{n} DMARC records: receivers ignore them all (RFC 7489 6.6.3); publish one"),
        ),
        Dmarc::Invalid(why) => finding(
            Level::Error,
            &name,
            format!("the DMARC record is not valid: {why} (RFC 7489 6.3)"),
        ),
    }
}

fn mx(setup: &MailSetup) -> Vec<Finding> {
    let domain = setup.domain.as_str();
    match &setup.mx {
        Mx::Hosts { hosts } => hosts
            .iter()
            .map(|h| match &h.error {
                None => finding(
                    Level::Ok,
                    &h.host,
                    format!(
                        "MX {} resolves to {}",
                        h.preference,
                        h.addresses
                            .iter()
                            .map(ToString::to_string)
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                ),
                Some(why) => finding(
                    Level::Error,
                    &h.host,
                    format!(
                        "MX {} does not resolve ({why}): mail sent to {domain} cannot be delivered there (RFC 5321 5.1)",
                        h.preference
                    ),
                ),
            })
            .collect(),
        Mx::Implicit { addresses } if addresses.is_empty() => vec![finding(
            Level::Error,
            domain,
            "no MX record and no address: nobody can send mail to this domain".into(),
        )],
        Mx::Implicit { .. } => vec![finding(
            Level::Warning,
            domain,
            "no MX record: mail goes to the domain's own address (implicit MX, RFC 5321 5.1); publish an MX naming the mail server".into(),
        )],
        Mx::Null => vec![finding(
            Level::Ok,
            domain,
            "null MX: the domain says it accepts no mail (RFC 7505)".into(),
        )],
        Mx::NoDomain => vec![finding(
            Level::Error,
            domain,
            "the domain does not exist (NXDOMAIN)".into(),
        )],
        Mx::Failed { why } => vec![finding(
            Level::Error,
            domain,
            format!("the MX record could not be read: {why}"),
        )],
    }
}

/// Each MX host's addresses, with the host's name.
fn mx_addresses(setup: &MailSetup) -> Vec<(String, IpAddr)> {
    match &setup.mx {
        Mx::Hosts { hosts } => hosts
            .iter()
            .flat_map(|h| h.addresses.iter().map(|ip| (h.host.clone(), *ip)))
            .collect(),
        Mx::Implicit { addresses } => addresses
            .iter()
            .map(|ip| (setup.domain.clone(), *ip))
            .collect(),
        _ => Vec::new(),
    }
}

/// Connects to the MX and compares the name in its greeting with its reverse DNS.
async fn greeting(subject: &str, addr: SocketAddr, rdns: &Reverse) -> Finding {
    let endpoint = Endpoint {
        addr,
        name: String::new(),
        security: Security::None,
        ca_file: None,
        timeout: GREETING_WAIT,
    };
    let (mut session, reply) = match Session::greet(&endpoint).await {
        Ok(greeted) => greeted,
        Err(why) => {
            return finding(
                Level::Warning,
                subject,
                format!("no SMTP greeting on {addr}: {why}"),
            );
        }
    };
    let _ = session.command("QUIT").await;
    // RFC 5321 4.3.1: the greeting starts with the server's name (or an address literal).
    let said = reply
        .text
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .trim_end_matches('.')
        .to_ascii_lowercase();
    let names: Vec<String> = match rdns {
        Reverse::Confirmed(name) => vec![name.clone()],
        Reverse::Unconfirmed(names) => names.clone(),
        _ => Vec::new(),
    };
    if names.contains(&said) {
        finding(
            Level::Ok,
            subject,
            format!("greets as {said}, the name its reverse DNS gives"),
        )
    } else if names.is_empty() {
        finding(
            Level::Warning,
            subject,
            format!("greets as {said}, but the address has no reverse DNS to match it"),
        )
    } else {
        finding(
            Level::Warning,
            subject,
            format!(
                "greets as {said}, but its reverse DNS says {}: receivers compare the two (RFC 5321 4.1.3, 4.3.1); make the greeting name the PTR name",
                names.join(", ")
            ),
        )
    }
}
