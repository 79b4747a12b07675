//! The open-relay self-test: does the admin's own mail server accept mail from an outside
//! sender for an outside recipient?
//!
//! Each classic relay trick is one attempt: MAIL FROM and RCPT TO (after an EHLO of its own
//! for the HELO trick), then RSET. The verdict is read from the RCPT reply; no message is
//! ever sent, as the client has no DATA command. Only the named host is contacted, with a
//! pause between attempts, and the test stops at the first accepted attempt unless asked to
//! try them all.

use std::net::IpAddr;
use std::time::Duration;

use serde::Serialize;

pub mod smtp;

use smtp::{Endpoint, Session};

/// What to test and how.
#[derive(Debug, Clone)]
pub struct Request {
    /// The server as the user named it.
    pub host: String,
    /// Where and how to connect.
    pub endpoint: Endpoint,
    /// The name this side gives in EHLO.
    pub helo: String,
    /// The server's own name for the tricks (default: the name in its greeting).
    pub own_name: Option<String>,
    /// The server's own domain, for the own-domain sender (default: from its name).
    pub own_domain: Option<String>,
    /// An outside sender address.
    pub sender: String,
    /// An outside recipient address.
    pub recipient: String,
    /// The pause between attempts.
    pub wait: Duration,
    /// Try every attempt even after one was accepted.
    pub all: bool,
}

/// The pause between attempts unless told otherwise.
pub const DEFAULT_WAIT: Duration = Duration::from_secs(1);
/// The limit for the connection and for each reply unless told otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(20);

/// The outside sender the attempts use unless told otherwise (a reserved name, RFC 2606).
pub const OUTSIDE_SENDER: &str = "relay-test@sender.example";
/// The outside recipient the attempts use unless told otherwise.
pub const OUTSIDE_RECIPIENT: &str = "relay-test@recipient.example";

impl Request {
    /// A test of `host` at `endpoint` with the defaults: this machine's name in EHLO, the
    /// reserved outside addresses, a second between attempts, stop at the first accepted.
    pub fn new(host: String, endpoint: Endpoint) -> Request {
        Request {
            host,
            endpoint,
            helo: crate::notify::context::hostname(),
            own_name: None,
            own_domain: None,
            sender: OUTSIDE_SENDER.into(),
            recipient: OUTSIDE_RECIPIENT.into(),
            wait: DEFAULT_WAIT,
            all: false,
        }
    }
}

/// What one attempt found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// The server refused the recipient for good (5xx): no relaying.
    Refused,
    /// The server accepted the outside recipient: it would relay.
    Accepted,
    /// The server refused the recipient for now (4xx): it may greylist, and accept later.
    Deferred,
    /// The server refused the sender, so the recipient was never asked about.
    #[serde(rename = "sender-refused")]
    SenderRefused,
    /// No answer to the question: connection, TLS or timeout trouble.
    Error,
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Outcome::Refused => "refused",
            Outcome::Accepted => "accepted",
            Outcome::Deferred => "deferred",
            Outcome::SenderRefused => "sender-refused",
            Outcome::Error => "error",
        })
    }
}

/// One line of a dialogue: what was sent and the reply (or what went wrong).
#[derive(Debug, Clone, Serialize)]
pub struct Exchange {
    /// The command.
    pub sent: String,
    /// The reply's first line, or the error.
    pub reply: String,
}

/// One relay trick and what the server made of it.
#[derive(Debug, Clone, Serialize)]
pub struct Attempt {
    /// Its short name.
    pub name: &'static str,
    /// What it tries.
    pub description: &'static str,
    /// The EHLO name, for the attempt that gives the server's own.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub helo: Option<String>,
    /// The MAIL FROM path.
    pub mail_from: String,
    /// The RCPT TO path.
    pub rcpt_to: String,
    /// Every command and reply.
    pub dialogue: Vec<Exchange>,
    /// The verdict.
    pub outcome: Outcome,
    /// The reply the verdict was read from.
    pub reply: Option<String>,
    /// Why, in words.
    pub detail: Option<String>,
}

/// The overall verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Every attempt was refused.
    Closed,
    /// At least one attempt was accepted.
    OpenRelay,
    /// Some attempts could not be made, and none was accepted.
    Unknown,
}

impl Verdict {
    /// The exit code: 0 closed, 1 open, 3 could not test.
    pub fn exit_code(self) -> u8 {
        match self {
            Verdict::Closed => 0,
            Verdict::OpenRelay => 1,
            Verdict::Unknown => 3,
        }
    }
}

/// Everything a relay test found.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The server as named.
    pub host: String,
    /// The address connected to.
    pub address: String,
    /// The port.
    pub port: u16,
    /// Plain, STARTTLS or TLS.
    pub security: smtp::Security,
    /// The server's greeting.
    pub greeting: Option<String>,
    /// The name used as the server's own in the tricks.
    pub own_name: Option<String>,
    /// The attempts made, in order.
    pub attempts: Vec<Attempt>,
    /// Set when the test stopped at the first accepted attempt.
    pub stopped_early: bool,
    /// Why the test could not start, if it could not.
    pub error: Option<String>,
    /// What limits what the verdict means (a test from a trusted position).
    pub warnings: Vec<String>,
    /// The verdict.
    pub verdict: Verdict,
}

/// An attempt before it is made.
#[derive(Clone)]
struct Planned {
    name: &'static str,
    description: &'static str,
    helo: Option<String>,
    from: String,
    to: String,
}

/// A warning when the test runs from where the server may trust its client: the same
/// machine, a private network, or the server's own subnet (a /24, a /64). An open verdict
/// may then mean only "this client is trusted", and a closed one holds for here alone.
fn trusted_position(server: IpAddr, local: Option<std::net::SocketAddr>) -> Option<String> {
    let server = server.to_canonical();
    let local = local.map(|l| l.ip().to_canonical());
    let why = match server {
        ip if ip.is_loopback() => "the server is this machine (loopback)",
        IpAddr::V4(v4) if v4.is_private() || v4.is_link_local() => {
            "the server has a private address"
        }
        IpAddr::V6(v6) if v6.is_unique_local() || v6.is_unicast_link_local() => {
            "the server has a private address"
        }
        _ => match (server, local) {
            (IpAddr::V4(s), Some(IpAddr::V4(l))) if s.octets()[..3] == l.octets()[..3] => {
                "the server is on this machine's own subnet"
            }
            (IpAddr::V6(s), Some(IpAddr::V6(l))) if s.segments()[..4] == l.segments()[..4] => {
                "the server is on this machine's own subnet"
            }
            _ => return None,
        },
    };
    Some(format!(
        "{why}: it may trust this client (mynetworks), so OPEN may mean only \"you are trusted\" and CLOSED holds for this position alone; test from outside your network too"
    ))
}

/// The verdict of the attempts: open on one accepted; closed only when every recipient was
/// refused for good; anything else (a sender refused, a 4xx, no answer) tested nothing.
fn verdict(attempts: &[Attempt]) -> Verdict {
    if attempts.iter().any(|a| a.outcome == Outcome::Accepted) {
        Verdict::OpenRelay
    } else if !attempts.is_empty() && attempts.iter().all(|a| a.outcome == Outcome::Refused) {
        Verdict::Closed
    } else {
        Verdict::Unknown
    }
}

/// The server's name in its greeting (`220 mx.example.org ESMTP`), when it gives one.
fn greeted_name(greeting: &smtp::Reply) -> Option<String> {
    let first = greeting.text.split_whitespace().next()?;
    let name = first.trim_end_matches('.').to_ascii_lowercase();
    (name.contains('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-'))
    .then_some(name)
}

/// A domain from a host name: `mx.example.org` -> `example.org`; an address literal
/// (`[192.0.2.25]`) stays whole, so the own-sender address is `relay-test@[192.0.2.25]`.
fn domain_of(name: &str) -> String {
    if name.starts_with('[') {
        return name.to_string();
    }
    match name.split_once('.') {
        Some((_, rest)) if rest.contains('.') => rest.to_string(),
        _ => name.to_string(),
    }
}

/// The address as an SMTP address literal: `[192.0.2.1]`, `[IPv6:2001:db8::1]`.
fn literal(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => format!("[{v4}]"),
        IpAddr::V6(v6) => format!("[IPv6:{v6}]"),
    }
}

/// The attempts, in order: the classic relay tricks.
fn plan(request: &Request, own: &str, own_domain: &str) -> Vec<Planned> {
    let sender = request.sender.clone();
    let recipient = request.recipient.clone();
    let (user, domain) = recipient
        .rsplit_once('@')
        .map_or((recipient.as_str(), ""), |(u, d)| (u, d));
    let sender_user = sender.rsplit_once('@').map_or(sender.as_str(), |(u, _)| u);
    let ip = literal(request.endpoint.addr.ip());
    let step = |name, description, from: &str, to: String| Planned {
        name,
        description,
        helo: None,
        from: from.to_string(),
        to,
    };
    vec![
        step(
            "plain",
            "outside sender to outside recipient",
            &sender,
            recipient.clone(),
        ),
        step(
            "own-sender",
            "a sender in the server's own domain to an outside recipient",
            &format!("{sender_user}@{own_domain}"),
            recipient.clone(),
        ),
        step(
            "percent-hack",
            "the outside recipient behind a % at the server's name",
            &sender,
            format!("{user}%{domain}@{own}"),
        ),
        step(
            "quoted",
            "the outside address quoted as a local part at the server's name",
            &sender,
            format!("\"{user}@{domain}\"@{own}"),
        ),
        step(
            "double-at",
            "the outside address followed by @ the server's name",
            &sender,
            format!("{user}@{domain}@{own}"),
        ),
        step(
            "bang-path",
            "a UUCP bang path to the outside",
            &sender,
            format!("{domain}!{user}"),
        ),
        step(
            "source-route",
            "a source route through the server to the outside",
            &sender,
            format!("@{own}:{user}@{domain}"),
        ),
        step(
            "ip-literal",
            "the outside recipient behind a % at the server's address literal",
            &sender,
            format!("{user}%{domain}@{ip}"),
        ),
        // The rest of the tricks nmap's smtp-open-relay tries.
        step(
            "sender-at-name",
            "a sender at the server's own name to an outside recipient",
            &format!("{sender_user}@{own}"),
            recipient.clone(),
        ),
        step(
            "sender-at-ip",
            "a sender at the server's address literal to an outside recipient",
            &format!("{sender_user}@{ip}"),
            recipient.clone(),
        ),
        step(
            "quoted-bare",
            "the outside address quoted as a bare local part",
            &sender,
            format!("\"{user}@{domain}\""),
        ),
        step(
            "quoted-percent",
            "the outside recipient behind a % in a bare quoted local part",
            &sender,
            format!("\"{user}%{domain}\""),
        ),
        step(
            "bang-at-name",
            "a UUCP bang path at the server's name",
            &sender,
            format!("{domain}!{user}@{own}"),
        ),
        step(
            "bang-at-ip",
            "a UUCP bang path at the server's address literal",
            &sender,
            format!("{domain}!{user}@{ip}"),
        ),
        step(
            "double-at-ip",
            "the outside address followed by @ the server's address literal",
            &sender,
            format!("{user}@{domain}@{ip}"),
        ),
        step(
            "source-route-ip",
            "a source route through the server's address literal to the outside",
            &sender,
            format!("@{ip}:{user}@{domain}"),
        ),
        step(
            "null-sender",
            "the null sender <> to an outside recipient",
            "",
            recipient.clone(),
        ),
        Planned {
            helo: Some(own.to_string()),
            ..step(
                "helo-as-server",
                "EHLO with the server's own name, then outside to outside",
                &sender,
                recipient,
            )
        },
    ]
}

/// Runs the test.
pub async fn run(request: &Request) -> Report {
    let endpoint = &request.endpoint;
    let mut report = Report {
        host: request.host.clone(),
        address: endpoint.addr.ip().to_string(),
        port: endpoint.addr.port(),
        security: endpoint.security,
        greeting: None,
        own_name: None,
        attempts: Vec::new(),
        stopped_early: false,
        error: None,
        warnings: Vec::new(),
        verdict: Verdict::Unknown,
    };
    let (session, greeting) = match Session::open(endpoint, &request.helo).await {
        Ok(opened) => opened,
        Err(why) => {
            report.error = Some(why);
            return report;
        }
    };
    report
        .warnings
        .extend(trusted_position(endpoint.addr.ip(), session.local_addr()));
    let mut session = Some(session);
    let mut unreachable: Option<String> = None;
    let mut stalled = 0;
    let named = request
        .host
        .parse::<IpAddr>()
        .is_err()
        .then(|| request.host.to_ascii_lowercase());
    let own = request
        .own_name
        .clone()
        .or_else(|| greeted_name(&greeting))
        .or(named)
        .unwrap_or_else(|| literal(endpoint.addr.ip()));
    let own_domain = request
        .own_domain
        .clone()
        .unwrap_or_else(|| domain_of(&own));
    report.greeting = Some(greeting.line());
    report.own_name = Some(own.clone());

    for (index, planned) in plan(request, &own, &own_domain).into_iter().enumerate() {
        if index > 0 && !request.wait.is_zero() {
            tokio::time::sleep(request.wait).await;
        }
        // A server that hung up (many do after a few refused recipients) is called again;
        // one that cannot be reached again is not called for every attempt left.
        if let Some(why) = &unreachable {
            report
                .attempts
                .push(failed(planned, format!("not tried: {why}")));
            continue;
        }
        if session.is_none() {
            match Session::open(endpoint, &request.helo).await {
                Ok((s, _)) => session = Some(s),
                Err(why) => {
                    let why = format!("cannot connect again: {why}");
                    report.attempts.push(failed(planned, why.clone()));
                    unreachable = Some(why);
                    continue;
                }
            }
        }
        let Some(open) = session.as_mut() else {
            continue;
        };
        let (mut made, alive) = attempt(open, planned.clone()).await;
        if !alive {
            session = None;
        }
        // A 421, or a connection found closed, ends the session before the attempt could
        // ask anything: the same attempt once more, on a new connection.
        if made
            .detail
            .as_deref()
            .is_some_and(|d| d == CLOSED_BY_SERVER || d == smtp::CLOSED)
            && let Ok((mut again, _)) = Session::open(endpoint, &request.helo).await
        {
            let (retried, alive) = attempt(&mut again, planned).await;
            made = retried;
            session = alive.then_some(again);
        }
        // A server that stops answering is not waited on for every attempt left.
        if made
            .detail
            .as_deref()
            .is_some_and(|d| d.starts_with(smtp::NO_REPLY))
        {
            stalled += 1;
            if stalled >= STALLED_AFTER {
                unreachable = Some(format!(
                    "the server stopped answering ({stalled} replies in a row timed out)"
                ));
            }
        } else {
            stalled = 0;
        }
        let accepted = made.outcome == Outcome::Accepted;
        report.attempts.push(made);
        if accepted && !request.all {
            report.stopped_early = true;
            break;
        }
    }
    if let Some(mut open) = session {
        let _ = open.command("QUIT").await;
    }
    report.verdict = verdict(&report.attempts);
    report
}

impl Planned {
    /// The attempt before anything is said: no reply yet, so no answer (`error`).
    fn start(self) -> Attempt {
        Attempt {
            name: self.name,
            description: self.description,
            helo: self.helo,
            mail_from: format!("<{}>", self.from),
            rcpt_to: format!("<{}>", self.to),
            dialogue: Vec::new(),
            outcome: Outcome::Error,
            reply: None,
            detail: None,
        }
    }
}

/// An attempt that could not be made, and why.
fn failed(planned: Planned, why: String) -> Attempt {
    Attempt {
        detail: Some(why),
        ..planned.start()
    }
}

/// 421: the server is closing the session (sent unprompted too, e.g. Postfix's
/// `smtpd_hard_error_limit`); the attempt is made again on a new connection.
const CLOSING: u16 = 421;

/// What an attempt whose session the server closed (421) holds: no answer yet.
fn closing(mut attempt: Attempt, reply: &smtp::Reply) -> (Attempt, bool) {
    attempt.outcome = Outcome::Error;
    attempt.reply = Some(reply.line());
    attempt.detail = Some(CLOSED_BY_SERVER.into());
    (attempt, false)
}

const CLOSED_BY_SERVER: &str = "the server closed the session (421)";

/// Replies in a row that timed out before the server counts as stalled.
const STALLED_AFTER: usize = 2;

/// Makes one attempt; also says whether the session is still usable.
async fn attempt(session: &mut Session, planned: Planned) -> (Attempt, bool) {
    let mut attempt = planned.start();
    let mut say = async |attempt: &mut Attempt, line: String| -> Result<smtp::Reply, String> {
        let result = session.command(&line).await;
        attempt.dialogue.push(Exchange {
            sent: line,
            reply: match &result {
                Ok(reply) => reply.line(),
                Err(why) => why.clone(),
            },
        });
        result
    };
    let broke = |mut attempt: Attempt, why: String| {
        attempt.outcome = Outcome::Error;
        attempt.detail = Some(why);
        (attempt, false)
    };
    if let Some(helo) = attempt.helo.clone() {
        match say(&mut attempt, format!("EHLO {helo}")).await {
            Ok(reply) if reply.is_ok() => {}
            Ok(reply) if reply.code == CLOSING => return closing(attempt, &reply),
            Ok(reply) => {
                attempt.outcome = Outcome::Refused;
                attempt.reply = Some(reply.line());
                attempt.detail = Some("the server refused its own name as EHLO".into());
                return (attempt, true);
            }
            Err(why) => return broke(attempt, why),
        }
    }
    let from = format!("MAIL FROM:{}", attempt.mail_from);
    match say(&mut attempt, from).await {
        Ok(reply) if reply.is_ok() => {}
        Ok(reply) if reply.code == CLOSING => return closing(attempt, &reply),
        Ok(reply) => {
            attempt.outcome = Outcome::SenderRefused;
            attempt.reply = Some(reply.line());
            attempt.detail =
                Some("the sender was refused, so the recipient was never asked about".into());
            let alive = say(&mut attempt, "RSET".into())
                .await
                .is_ok_and(|r| r.code != CLOSING);
            return (attempt, alive);
        }
        Err(why) => return broke(attempt, why),
    }
    let to = format!("RCPT TO:{}", attempt.rcpt_to);
    match say(&mut attempt, to).await {
        Ok(reply) => {
            attempt.reply = Some(reply.line());
            (attempt.outcome, attempt.detail) = match reply.code {
                200..=299 => (
                    Outcome::Accepted,
                    Some("the server accepted an outside recipient: it would relay".into()),
                ),
                CLOSING => return closing(attempt, &reply),
                400..=499 => (
                    Outcome::Deferred,
                    Some(
                        "refused for now (4xx): a server that greylists may accept it later".into(),
                    ),
                ),
                500..=599 => (Outcome::Refused, None),
                _ => (Outcome::Error, Some("an unexpected reply to RCPT".into())),
            };
        }
        Err(why) => return broke(attempt, why),
    }
    // A 421 to RSET (a hard error limit reached) ends the session; the next attempt calls
    // again.
    let alive = say(&mut attempt, "RSET".into())
        .await
        .is_ok_and(|r| r.code != CLOSING);
    (attempt, alive)
}

/// What to change when the server relays.
pub fn advice() -> Vec<String> {
    vec![
        "Relay only for your own hosts and for authenticated users; refuse every other recipient outside your own domains. In Postfix: smtpd_relay_restrictions = permit_mynetworks, permit_sasl_authenticated, reject_unauth_destination.".into(),
        "Trust only the addresses you run: mynetworks lists your own hosts, never the provider's whole range or every address of the host's interfaces (Postfix: mynetworks_style = host rather than subnet).".into(),
        "Let your users send through authenticated submission (port 587 with STARTTLS, or 465), not through port 25 unauthenticated.".into(),
        "Run rblwatch relay-test again until it says closed; only then ask the lists to delist, or they list the server again at once.".into(),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_test_from_a_trusted_position_is_flagged() {
        let local = |s: &str| Some(s.parse::<std::net::SocketAddr>().expect("addr"));
        let ip = |s: &str| s.parse::<IpAddr>().expect("ip");
        assert!(trusted_position(ip("127.0.0.1"), local("127.0.0.1:5000")).is_some());
        assert!(trusted_position(ip("192.168.1.25"), local("192.168.1.9:5000")).is_some());
        assert!(trusted_position(ip("fd00::25"), None).is_some());
        assert!(trusted_position(ip("203.0.113.25"), local("203.0.113.9:5000")).is_some());
        assert!(trusted_position(ip("203.0.113.25"), local("198.51.100.9:5000")).is_none());
    }

    #[test]
    fn names_from_greetings() {
        let reply = |text: &str| smtp::Reply {
            code: 220,
            text: text.into(),
        };
        assert_eq!(
            greeted_name(&reply("mx.example.org ESMTP Postfix")).as_deref(),
            Some("mx.example.org")
        );
        assert_eq!(greeted_name(&reply("ESMTP ready")), None);
        assert_eq!(domain_of("mx.example.org"), "example.org");
        assert_eq!(domain_of("example.org"), "example.org");
        assert_eq!(domain_of("[192.0.2.25]"), "[192.0.2.25]");
        assert_eq!(domain_of("[IPv6:2001:db8::1]"), "[IPv6:2001:db8::1]");
        assert_eq!(
            literal("2001:db8::1".parse().expect("ip")),
            "[IPv6:2001:db8::1]"
        );
    }
}
