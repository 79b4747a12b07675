//! A hand-written DNS server on loopback (UDP and TCP on one port) for replies no real server
//! sends: a query echoed back, an AAAA answer to an A question, a reply without the QR bit or
//! of another class, TC set over UDP, a reply from another port. It records every query it
//! receives (name, transport, id, the client's port) so tests can count sends.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What the server does with one question.
#[derive(Debug, Clone)]
pub(crate) enum Act {
    /// NOERROR with these A records (for any question type).
    A(Vec<Ipv4Addr>),
    /// NXDOMAIN.
    NxDomain,
    /// Nothing at all.
    Silent,
    /// The query itself sent back, unchanged (QR unset, nothing answered).
    Echo,
    /// NOERROR with one AAAA record for the asked name.
    AaaaOnly,
    /// These A records, but with the QR bit unset.
    NotResponse(Vec<Ipv4Addr>),
    /// These A records, with the question and records in class CH.
    WrongClass(Vec<Ipv4Addr>),
    /// Over UDP: TC set and no records; over TCP: these A records.
    Truncated(Vec<Ipv4Addr>),
    /// These A records, sent from another socket (another source port).
    WrongPort(Vec<Ipv4Addr>),
    /// A CNAME to `alias.invalid.` and these A records for the alias.
    Cname(Vec<Ipv4Addr>),
    /// Over UDP: 300 A records in 127.0.0.0/8 (4.9 KB) without TC; over TCP: these A records.
    Oversized(Vec<Ipv4Addr>),
    /// NXDOMAIN, after `DECOYS` replies saying 127.0.0.2 that are not answers to the query:
    /// half with other ids and the question asked, half with its id and another name.
    NxDomainAfterDecoys,
}

/// Decoy replies sent before the answer by `Act::NxDomainAfterDecoys`.
pub(crate) const DECOYS: usize = 64;

/// Replies that look like answers to `q` but are not: other ids, or another name.
fn decoys(q: &Question) -> Vec<Vec<u8>> {
    let listed = a_records(&[Ipv4Addr::new(127, 0, 0, 2)], 1);
    (0..DECOYS)
        .map(|i| {
            let mut fake = Question {
                id: q.id,
                flags: q.flags,
                section: q.section.clone(),
                name: q.name.clone(),
            };
            if i % 2 == 0 {
                fake.id = q.id.wrapping_add(1 + u16::try_from(i).unwrap_or(0));
            } else if let Some(first) = fake.section.get_mut(13) {
                // The first label's first character: another name of the same shape.
                *first = if *first == b'x' { b'y' } else { b'x' };
            }
            reply(&fake, true, false, 0, &listed)
        })
        .collect()
}

/// One query as received.
#[derive(Debug, Clone)]
pub(crate) struct Seen {
    pub(crate) name: String,
    pub(crate) tcp: bool,
    pub(crate) id: u16,
    pub(crate) port: u16,
}

type Rule = dyn Fn(&str) -> Act + Send + Sync;

/// A running hand-written server, stopped on Drop.
pub(crate) struct RawDns {
    pub(crate) port: u16,
    seen: Arc<Mutex<Vec<Seen>>>,
    stop: Arc<AtomicBool>,
}

struct Question {
    id: u16,
    flags: u8,
    /// The question section as sent (name, type, class).
    section: Vec<u8>,
    name: String,
}

fn parse(packet: &[u8]) -> Option<Question> {
    if packet.len() < 12 {
        return None;
    }
    let mut at = 12;
    let mut labels = Vec::new();
    loop {
        let len = usize::from(*packet.get(at)?);
        at += 1;
        if len == 0 {
            break;
        }
        labels.push(String::from_utf8_lossy(packet.get(at..at + len)?).to_ascii_lowercase());
        at += len;
    }
    let section = packet.get(12..at + 4)?.to_vec();
    Some(Question {
        id: u16::from_be_bytes([packet[0], packet[1]]),
        flags: packet[2],
        section,
        name: labels.join("."),
    })
}

/// A reply: header with `rcode` and `flags` (QR, RD copied, RA), the question, and records
/// of (type, class, rdata) owned by the question's name (or by `alias.invalid.` after a CNAME).
fn reply(q: &Question, qr: bool, tc: bool, rcode: u8, records: &[(u16, u16, Vec<u8>)]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&q.id.to_be_bytes());
    let mut flags = q.flags & 0x01;
    if qr {
        flags |= 0x80;
    }
    if tc {
        flags |= 0x02;
    }
    out.push(flags);
    out.push(0x80 | rcode);
    out.extend_from_slice(&[0, 1]);
    out.extend_from_slice(&u16::try_from(records.len()).expect("count").to_be_bytes());
    out.extend_from_slice(&[0, 0, 0, 0]);
    out.extend_from_slice(&q.section);
    let alias = b"\x05alias\x07invalid\x00";
    for (rtype, class, rdata) in records {
        // A records after a CNAME belong to its target; everything else to the question.
        if *rtype != 5 && records.iter().any(|(t, _, _)| *t == 5) {
            out.extend_from_slice(alias);
        } else {
            out.extend_from_slice(&[0xc0, 12]);
        }
        out.extend_from_slice(&rtype.to_be_bytes());
        out.extend_from_slice(&class.to_be_bytes());
        out.extend_from_slice(&60u32.to_be_bytes());
        out.extend_from_slice(&u16::try_from(rdata.len()).expect("len").to_be_bytes());
        out.extend_from_slice(rdata);
    }
    out
}

fn a_records(addrs: &[Ipv4Addr], class: u16) -> Vec<(u16, u16, Vec<u8>)> {
    addrs
        .iter()
        .map(|a| (1, class, a.octets().to_vec()))
        .collect()
}

/// The bytes to send for `act`, or None for silence.
fn answer(q: &Question, act: &Act, packet: &[u8], tcp: bool) -> Option<Vec<u8>> {
    Some(match act {
        Act::A(addrs) | Act::WrongPort(addrs) => reply(q, true, false, 0, &a_records(addrs, 1)),
        Act::NxDomain => reply(q, true, false, 3, &[]),
        Act::Silent => return None,
        Act::Echo => packet.to_vec(),
        Act::AaaaOnly => {
            let mut v6 = [0u8; 16];
            v6[15] = 2;
            reply(q, true, false, 0, &[(28, 1, v6.to_vec())])
        }
        Act::NotResponse(addrs) => reply(q, false, false, 0, &a_records(addrs, 1)),
        Act::WrongClass(addrs) => {
            let mut out = reply(q, true, false, 0, &a_records(addrs, 3));
            let class_at = 12 + q.section.len() - 2;
            out[class_at..class_at + 2].copy_from_slice(&3u16.to_be_bytes());
            out
        }
        Act::Truncated(addrs) if tcp => reply(q, true, false, 0, &a_records(addrs, 1)),
        Act::Truncated(_) => reply(q, true, true, 0, &[]),
        Act::Oversized(addrs) if tcp => reply(q, true, false, 0, &a_records(addrs, 1)),
        Act::Oversized(_) => {
            let many: Vec<Ipv4Addr> = (0..300u16)
                .map(|i| Ipv4Addr::from(0x7f00_0000 | u32::from(i)))
                .collect();
            reply(q, true, false, 0, &a_records(&many, 1))
        }
        Act::NxDomainAfterDecoys => reply(q, true, false, 3, &[]),
        Act::Cname(addrs) => {
            let mut records = vec![(5, 1, b"\x05alias\x07invalid\x00".to_vec())];
            records.extend(a_records(addrs, 1));
            reply(q, true, false, 0, &records)
        }
    })
}

impl RawDns {
    /// Starts the server: every question gets `rule(name)` (name lowercase, no final dot).
    pub(crate) fn start(rule: impl Fn(&str) -> Act + Send + Sync + 'static) -> RawDns {
        // The kernel picks the UDP port; the same TCP port may be taken by another test's
        // listener, so a few pairs are tried.
        let (udp, port, tcp) = (0..50)
            .find_map(|_| {
                let udp = UdpSocket::bind("127.0.0.1:0").expect("bind udp");
                let port = udp.local_addr().expect("addr").port();
                let tcp = TcpListener::bind(("127.0.0.1", port)).ok()?;
                Some((udp, port, tcp))
            })
            .expect("a UDP and TCP port pair");
        udp.set_read_timeout(Some(Duration::from_millis(50)))
            .expect("timeout");
        tcp.set_nonblocking(true).expect("nonblocking");
        let rule: Arc<Rule> = Arc::new(rule);
        let seen = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (r, s, halt) = (rule.clone(), seen.clone(), stop.clone());
        std::thread::spawn(move || {
            let other = UdpSocket::bind("127.0.0.1:0").expect("bind other");
            let mut buf = [0u8; 4096];
            while !halt.load(Ordering::Relaxed) {
                let Ok((n, from)) = udp.recv_from(&mut buf) else {
                    continue;
                };
                let Some(q) = parse(&buf[..n]) else { continue };
                record(&s, &q, false, from);
                let act = r(&q.name);
                if matches!(act, Act::NxDomainAfterDecoys) {
                    for decoy in decoys(&q) {
                        let _ = udp.send_to(&decoy, from);
                    }
                }
                if let Some(out) = answer(&q, &act, &buf[..n], false) {
                    let socket = if matches!(act, Act::WrongPort(_)) {
                        &other
                    } else {
                        &udp
                    };
                    let _ = socket.send_to(&out, from);
                }
            }
        });
        let (r, s, halt) = (rule, seen.clone(), stop.clone());
        std::thread::spawn(move || {
            while !halt.load(Ordering::Relaxed) {
                let Ok((mut stream, from)) = tcp.accept() else {
                    std::thread::sleep(Duration::from_millis(10));
                    continue;
                };
                let _ = stream.set_nonblocking(false);
                let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
                let mut prefix = [0u8; 2];
                if stream.read_exact(&mut prefix).is_err() {
                    continue;
                }
                let mut packet = vec![0u8; usize::from(u16::from_be_bytes(prefix))];
                if stream.read_exact(&mut packet).is_err() {
                    continue;
                }
                let Some(q) = parse(&packet) else { continue };
                record(&s, &q, true, from);
                if let Some(out) = answer(&q, &r(&q.name), &packet, true) {
                    let len = u16::try_from(out.len()).expect("len").to_be_bytes();
                    let _ = stream.write_all(&[&len[..], &out].concat());
                }
            }
        });
        RawDns { port, seen, stop }
    }

    /// `127.0.0.1:PORT`, for `--nameserver`.
    pub(crate) fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Every query received so far.
    pub(crate) fn seen(&self) -> Vec<Seen> {
        self.seen.lock().expect("seen").clone()
    }
}

fn record(seen: &Mutex<Vec<Seen>>, q: &Question, tcp: bool, from: SocketAddr) {
    if let Ok(mut seen) = seen.lock() {
        seen.push(Seen {
            name: q.name.clone(),
            tcp,
            id: q.id,
            port: from.port(),
        });
    }
}

impl Drop for RawDns {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}
