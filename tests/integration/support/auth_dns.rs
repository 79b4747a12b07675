//! A hand-written authoritative DNS server on a loopback address of its own (127.0.1.x) and a
//! given port: answers with authority, refers to child zones (with or without glue), or says
//! NXDOMAIN. Several of them on one port make a root, a TLD and list zones for recursive mode.

use std::net::{Ipv4Addr, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

/// What the server says to one question.
#[derive(Debug, Clone)]
pub(crate) enum Auth {
    /// With authority: these A records for the name asked (NODATA for other types).
    A(Vec<Ipv4Addr>),
    /// With authority: this PTR name.
    Ptr(String),
    /// With authority: the name exists, no record of that type.
    NoData,
    /// With authority: no such name.
    NxDomain,
    /// Without authority: `zone` is served by these name servers, with glue where given.
    Referral(String, Vec<(String, Option<Ipv4Addr>)>),
}

type Rule = dyn Fn(&str, u16) -> Auth + Send + Sync;

/// A running server, stopped on Drop.
pub(crate) struct AuthDns {
    asked: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
}

fn wire(name: &str) -> Vec<u8> {
    let mut out = Vec::new();
    for label in name
        .trim_end_matches('.')
        .split('.')
        .filter(|l| !l.is_empty())
    {
        out.push(u8::try_from(label.len()).expect("label"));
        out.extend_from_slice(label.as_bytes());
    }
    out.push(0);
    out
}

fn record(out: &mut Vec<u8>, owner: &str, rtype: u16, rdata: &[u8]) {
    out.extend_from_slice(&wire(owner));
    out.extend_from_slice(&rtype.to_be_bytes());
    out.extend_from_slice(&[0, 1]);
    out.extend_from_slice(&300u32.to_be_bytes());
    out.extend_from_slice(&u16::try_from(rdata.len()).expect("rdata").to_be_bytes());
    out.extend_from_slice(rdata);
}

/// The reply to `query` (already known to hold one question of `name` and `qtype`).
fn reply(query: &[u8], question_end: usize, name: &str, qtype: u16, auth: &Auth) -> Vec<u8> {
    let (aa, rcode) = match auth {
        Auth::NxDomain => (true, 3u8),
        Auth::Referral(..) => (false, 0),
        _ => (true, 0),
    };
    let mut answers = Vec::new();
    let mut authority = Vec::new();
    let mut additional = Vec::new();
    let (mut an, mut ns, mut ar) = (0u16, 0u16, 0u16);
    match auth {
        Auth::A(addrs) if qtype == 1 => {
            for a in addrs {
                record(&mut answers, name, 1, &a.octets());
                an += 1;
            }
        }
        Auth::Ptr(target) if qtype == 12 => {
            record(&mut answers, name, 12, &wire(target));
            an += 1;
        }
        Auth::Referral(zone, servers) => {
            for (server, glue) in servers {
                record(&mut authority, zone, 2, &wire(server));
                ns += 1;
                if let Some(ip) = glue {
                    record(&mut additional, server, 1, &ip.octets());
                    ar += 1;
                }
            }
        }
        _ => {}
    }
    let mut out = Vec::new();
    out.extend_from_slice(&query[..2]);
    out.push(0x80 | if aa { 0x04 } else { 0 });
    out.push(rcode);
    out.extend_from_slice(&[0, 1]);
    for n in [an, ns, ar] {
        out.extend_from_slice(&n.to_be_bytes());
    }
    out.extend_from_slice(&query[12..question_end]);
    out.extend(answers);
    out.extend(authority);
    out.extend(additional);
    out
}

impl AuthDns {
    /// Serves `rule(name, qtype)` (name lowercase, no final dot) on `ip:port`.
    pub(crate) fn start(
        ip: Ipv4Addr,
        port: u16,
        rule: impl Fn(&str, u16) -> Auth + Send + Sync + 'static,
    ) -> AuthDns {
        let socket = UdpSocket::bind((ip, port)).expect("bind the authoritative server");
        socket
            .set_read_timeout(Some(Duration::from_millis(50)))
            .expect("timeout");
        let rule: Arc<Rule> = Arc::new(rule);
        let asked = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (count, halt) = (asked.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while !halt.load(Ordering::Relaxed) {
                let Ok((n, from)) = socket.recv_from(&mut buf) else {
                    continue;
                };
                let query = &buf[..n];
                let mut at = 12;
                let mut labels = Vec::new();
                while let Some(&len) = query.get(at) {
                    at += 1;
                    if len == 0 {
                        break;
                    }
                    let end = at + usize::from(len);
                    let Some(label) = query.get(at..end) else {
                        break;
                    };
                    labels.push(String::from_utf8_lossy(label).to_ascii_lowercase());
                    at = end;
                }
                let Some(qtype) = query
                    .get(at..at + 2)
                    .map(|t| u16::from_be_bytes([t[0], t[1]]))
                else {
                    continue;
                };
                count.fetch_add(1, Ordering::Relaxed);
                let name = labels.join(".");
                let out = reply(query, at + 4, &name, qtype, &rule(&name, qtype));
                let _ = socket.send_to(&out, from);
            }
        });
        AuthDns { asked, stop }
    }

    /// How many questions it has received.
    pub(crate) fn asked(&self) -> usize {
        self.asked.load(Ordering::Relaxed)
    }
}

impl Drop for AuthDns {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}
