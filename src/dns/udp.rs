//! A lean UDP client for the bulk of a run's queries (the A lookups), built on hickory-proto's
//! message decoding.
//!
//! Why not hickory-resolver for these: pushed past ~64 queries in flight against a local
//! rbldnsd it loses replies to receive-buffer overruns and then waits out the full timeout for
//! each (test-components.md: 35k/s at 64, 5k/s at 128+). Here a few sockets with large buffers
//! are shared by all queries, replies are matched by id and question, and a lost query is sent
//! again after a short, growing interval instead of the whole timeout, so the rate holds at
//! any window. A list's TXT reasons are asked here too; PTR, MX, SPF and host-name lookups
//! stay on hickory-resolver.

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hickory_resolver::proto::op::{Message, ResponseCode};
use hickory_resolver::proto::rr::{DNSClass, RData, RecordType};
use tokio::io::Interest;
use tokio::net::UdpSocket;
use tokio::sync::oneshot;

use super::batch;
use super::classify::Answer;
use super::tcp;

/// Sockets per name server: spreads the replies over several receive buffers and ports.
const LANES: usize = 4;
/// Queries asked before each further lane of a server opens: a check of one address never
/// pays for sockets, tasks and buffers only bulk work needs.
const SPREAD_AFTER: usize = 512;
/// Queries one socket sends before it is replaced by one on a new random port: an off-path
/// attacker who learns a port has it for a moment only (RFC 5452 section 9.2).
pub(super) const ROTATE_AFTER: usize = 4096;
/// Each socket's receive and send buffer.
const BUFFER: usize = 4 << 20;
/// Query types asked here.
pub(super) const TYPE_A: u16 = 1;
const TYPE_TXT: u16 = 16;
/// The first wait before a query is sent again; it doubles after each loss.
const FIRST_RETRY: Duration = Duration::from_millis(250);

/// What reaches a waiting query: a reply to one of its sends, or word that its server cannot
/// be reached (an ICMP port unreachable on the lane's socket).
enum Delivery {
    Reply(Vec<u8>),
    Unreachable(String),
}

/// A query waiting for its reply: the name asked (wire form), and where its first delivery
/// goes, taken by the first to come.
struct Asked {
    qname: Vec<u8>,
    waiter: Mutex<Option<oneshot::Sender<Delivery>>>,
}

impl Asked {
    fn new(qname: Vec<u8>) -> (Arc<Asked>, oneshot::Receiver<Delivery>) {
        let (tx, rx) = oneshot::channel();
        let asked = Asked {
            qname,
            waiter: Mutex::new(Some(tx)),
        };
        (Arc::new(asked), rx)
    }

    /// Hands `delivery` to the query, if nothing reached it yet.
    fn hand(&self, delivery: Delivery) {
        if let Some(tx) = self.waiter.lock().ok().and_then(|mut w| w.take()) {
            let _ = tx.send(delivery);
        }
    }
}

/// Queries waiting for their reply, by id. One query may wait under several ids, one per
/// send: a late reply to an earlier send answers it as well as the reply to the last.
type Pending = HashMap<u16, Arc<Asked>>;

struct Lane {
    socket: UdpSocket,
    server: SocketAddr,
    pending: Mutex<Pending>,
    /// Queries waiting to be sent: the sender sends all that gathered in one call.
    outbox: Mutex<Vec<Vec<u8>>>,
    queued: tokio::sync::Notify,
    /// Sends so far; past `ROTATE_AFTER` the lane is retired.
    used: AtomicUsize,
    /// Set (under the `pending` lock) when the lane takes no more queries: its tasks end
    /// once the queries already on it are done.
    retired: AtomicBool,
}

/// The client: lanes to every name server, each with a task reading its replies.
pub struct UdpClient {
    /// `per_server` lanes per server, server by server, each opened when first used; a
    /// retired lane is replaced in place.
    lanes: Mutex<Vec<Option<Arc<Lane>>>>,
    /// Lanes per server.
    per_server: usize,
    /// Whether the servers are a zone's authoritative servers (recursive mode): queries go
    /// without RD, and only an authoritative answer (AA) counts.
    authoritative: bool,
    servers: Vec<SocketAddr>,
    window: Window,
    next: AtomicUsize,
    tasks: Mutex<Vec<tokio::task::JoinHandle<()>>>,
}

impl Drop for UdpClient {
    fn drop(&mut self) {
        if let Ok(tasks) = self.tasks.lock() {
            for task in tasks.iter() {
                task.abort();
            }
        }
    }
}

/// A UDP socket connected to `server` (so the kernel drops datagrams from any other address
/// or port), on a port the kernel picks at random from the ephemeral range.
pub(super) fn socket_for(server: SocketAddr) -> io::Result<UdpSocket> {
    let domain = if server.is_ipv4() {
        socket2::Domain::IPV4
    } else {
        socket2::Domain::IPV6
    };
    let socket = socket2::Socket::new(domain, socket2::Type::DGRAM, Some(socket2::Protocol::UDP))?;
    // Best effort: the kernel caps these at net.core.rmem_max / wmem_max.
    let _ = socket.set_recv_buffer_size(BUFFER);
    let _ = socket.set_send_buffer_size(BUFFER);
    let any: IpAddr = if server.is_ipv4() {
        Ipv4Addr::UNSPECIFIED.into()
    } else {
        Ipv6Addr::UNSPECIFIED.into()
    };
    socket.bind(&SocketAddr::new(any, 0).into())?;
    socket.connect(&server.into())?;
    socket.set_nonblocking(true)?;
    UdpSocket::from_std(socket.into())
}

impl UdpClient {
    /// Opens the lanes to `servers` (resolvers), with at most `most_in_flight` queries
    /// outstanding; must be called inside the runtime.
    pub fn new(servers: &[SocketAddr], most_in_flight: usize) -> io::Result<UdpClient> {
        UdpClient::open_all(servers, most_in_flight, LANES, false)
    }

    /// Opens one lane to each of a zone's authoritative `servers`: a run asks dozens of
    /// zones, each with a few servers, so one socket per server keeps the descriptors few.
    pub fn authoritative(servers: &[SocketAddr], most_in_flight: usize) -> io::Result<UdpClient> {
        UdpClient::open_all(servers, most_in_flight, 1, true)
    }

    fn open_all(
        servers: &[SocketAddr],
        most_in_flight: usize,
        per_server: usize,
        authoritative: bool,
    ) -> io::Result<UdpClient> {
        let client = UdpClient {
            lanes: Mutex::new(Vec::new()),
            per_server,
            authoritative,
            servers: servers.to_vec(),
            window: Window::new(64, most_in_flight),
            next: AtomicUsize::new(0),
            tasks: Mutex::new(Vec::new()),
        };
        let mut lanes = Vec::new();
        for &server in servers {
            lanes.push(Some(client.open(server)?));
            lanes.extend((1..per_server).map(|_| None));
        }
        if let Ok(mut slots) = client.lanes.lock() {
            *slots = lanes;
        }
        Ok(client)
    }

    /// A new lane to `server`, with its sending and receiving tasks.
    fn open(&self, server: SocketAddr) -> io::Result<Arc<Lane>> {
        let lane = Arc::new(Lane {
            socket: socket_for(server)?,
            server,
            pending: Mutex::new(HashMap::new()),
            outbox: Mutex::new(Vec::new()),
            queued: tokio::sync::Notify::new(),
            used: AtomicUsize::new(0),
            retired: AtomicBool::new(false),
        });
        if let Ok(mut tasks) = self.tasks.lock() {
            tasks.retain(|t| !t.is_finished());
            tasks.push(tokio::spawn(receive(lane.clone())));
            tasks.push(tokio::spawn(send(lane.clone())));
        }
        Ok(lane)
    }

    /// The lane in `slot` for one more send: a lane that has sent its share is retired and
    /// replaced by one on a new port (if no new socket can be had, the old one goes on).
    fn lane(&self, slot: usize) -> Option<Arc<Lane>> {
        let mut lanes = self.lanes.lock().ok()?;
        let lane = match lanes.get(slot)? {
            Some(lane) => lane.clone(),
            None => {
                let first = slot - slot % self.per_server;
                match self.open(lanes.get(first)?.as_ref()?.server) {
                    Ok(fresh) => {
                        lanes[slot] = Some(fresh.clone());
                        fresh
                    }
                    // No socket to be had: the server's first lane takes the query.
                    Err(_) => return lanes.get(first)?.clone(),
                }
            }
        };
        if lane.used.fetch_add(1, Ordering::Relaxed) + 1 < ROTATE_AFTER {
            return Some(lane);
        }
        match self.open(lane.server) {
            Ok(fresh) => {
                lane.retire();
                lanes[slot] = Some(fresh.clone());
                Some(fresh)
            }
            Err(_) => {
                lane.used.store(0, Ordering::Relaxed);
                Some(lane)
            }
        }
    }

    /// Asks for the A records of `name` (absolute), sending again after losses, at most
    /// `tries` times in `timeout` x `tries`; `windowed` waits for a place in the in-flight
    /// window first.
    pub async fn a(&self, name: &str, timeout: Duration, tries: usize, windowed: bool) -> Answer {
        match self.query(name, TYPE_A, timeout, tries, windowed).await {
            // From a zone's own servers, an alias with nothing behind it points outside the
            // zone: not followed, and not read as "no record".
            Ok(reply) if self.authoritative && reply.get(6..8) != Some(&[0, 0]) => {
                match decode_a(&reply) {
                    Answer::NoData => Answer::Failure(
                        "the answer is an alias (CNAME) out of the zone, not followed".into(),
                    ),
                    answer => answer,
                }
            }
            Ok(reply) => decode_a(&reply),
            Err(why) => Answer::Failure(why),
        }
    }

    /// The TXT strings of `name`; empty when there are none or the lookup fails.
    pub async fn txt(&self, name: &str, timeout: Duration, tries: usize) -> Vec<String> {
        let Some(message) = self
            .query(name, TYPE_TXT, timeout, tries, true)
            .await
            .ok()
            .and_then(|reply| Message::from_vec(&reply).ok())
        else {
            return Vec::new();
        };
        message
            .answers
            .iter()
            .filter_map(|r| match &r.data {
                RData::TXT(txt) => Some(
                    txt.txt_data
                        .iter()
                        .map(|part| String::from_utf8_lossy(part).into_owned())
                        .collect::<String>(),
                ),
                _ => None,
            })
            .collect()
    }

    /// Sends a question of type `qtype` and returns the reply: a response to exactly that
    /// question, read again over TCP when the UDP one was truncated.
    async fn query(
        &self,
        name: &str,
        qtype: u16,
        timeout: Duration,
        tries: usize,
        windowed: bool,
    ) -> Result<Vec<u8>, String> {
        let (mut asked, mut rx) = Asked::new(question(name)?);
        let servers = self.servers.len().max(1);
        let first = self.next.fetch_add(1, Ordering::Relaxed);
        let _slot = if windowed {
            Some(self.window.enter().await)
        } else {
            None
        };
        let tries = tries.max(1);
        // The time allowed counts from the first send, not from the wait for a place.
        let deadline = Instant::now() + timeout * u32::try_from(tries).unwrap_or(1);
        // The sends so far; a second one is rare, so only it allocates.
        let mut sent: Option<(Arc<Lane>, u16)> = None;
        let mut more: Vec<(Arc<Lane>, u16)> = Vec::new();
        let mut wait = self.window.rto().min(timeout);
        let mut failure = super::classify::TIMED_OUT.to_string();
        let mut outcome = Err(String::new());
        for attempt in 0..tries {
            // Each new attempt goes to the next server, as a resolver does.
            let per = self.per_server;
            let spread = per.min(1 + first / SPREAD_AFTER);
            let server = (first / per + attempt) % servers;
            let (lane, id, packet) = loop {
                let Some(lane) = self.lane(server * per + first % spread) else {
                    return Err("internal lock poisoned".into());
                };
                // None: the lane was retired since it was picked; its slot has a new one.
                let rd = !self.authoritative;
                if let Some((id, packet)) = register(&lane, &asked, qtype, rd)? {
                    break (lane, id, packet);
                }
            };
            let at = Instant::now();
            lane.queue(packet);
            if sent.is_none() {
                sent = Some((lane, id));
            } else {
                more.push((lane, id));
            }
            let last = attempt + 1 == tries;
            let left = deadline.saturating_duration_since(at);
            let until = if last { left } else { wait.min(left) };
            match tokio::time::timeout(until, &mut rx).await {
                Ok(Ok(Delivery::Reply(reply))) => {
                    if attempt == 0 {
                        self.window.answered(at.elapsed());
                    }
                    outcome = Ok(reply);
                    break;
                }
                Ok(Ok(Delivery::Unreachable(why))) => {
                    failure = why;
                    // Another server may answer; with one, there is nothing to wait for.
                    if servers == 1 {
                        break;
                    }
                    (asked, rx) = Asked::new(asked.qname.clone());
                }
                Ok(Err(_)) | Err(_) => {
                    self.window.lost();
                    wait = next_wait(wait, attempt + 1, tries, timeout);
                }
            }
            if Instant::now() >= deadline {
                break;
            }
        }
        for (lane, id) in sent.iter().chain(&more) {
            lane.forget(*id);
        }
        let reply = match outcome {
            Ok(reply) => reply,
            Err(_) => return Err(failure),
        };
        let Some(server) = more.last().or(sent.as_ref()).map(|(lane, _)| lane.server) else {
            return Err(failure);
        };
        let qname = &asked.qname;
        check_response(&reply, qname, qtype)?;
        let reply = if truncated(&reply) {
            let left = deadline
                .saturating_duration_since(Instant::now())
                .max(timeout);
            // Boxed: rare, and every query's future would otherwise carry its room.
            Box::pin(over_tcp(server, qname, qtype, !self.authoritative, left)).await?
        } else {
            reply
        };
        if self.authoritative && !is_authoritative(&reply) {
            return Err(format!(
                "{server} did not answer with authority (a referral: the zone is delegated further)"
            ));
        }
        Ok(reply)
    }
}

/// Asks again over TCP for an answer that was truncated over UDP (RFC 7766).
pub(super) async fn over_tcp(
    server: SocketAddr,
    qname: &[u8],
    qtype: u16,
    rd: bool,
    timeout: Duration,
) -> Result<Vec<u8>, String> {
    let id = rand::random::<u16>();
    let reply = tcp::ask(server, &packet_for(id, qname, qtype, rd), timeout).await?;
    if reply.get(..2) != Some(&id.to_be_bytes()[..]) {
        return Err(format!("the TCP answer from {server} has another id"));
    }
    check_response(&reply, qname, qtype)?;
    if truncated(&reply) {
        return Err(format!("the TCP answer from {server} is truncated too"));
    }
    Ok(reply)
}

/// Whether a reply has the AA (authoritative answer) bit.
pub(super) fn is_authoritative(reply: &[u8]) -> bool {
    reply.get(2).is_some_and(|b| b & 0x04 != 0)
}

/// One question to one server, on a socket of its own on a random port with a random id:
/// for the few lookups of recursive resolution (referrals, name-server addresses), not for
/// bulk work. Returns a checked response to exactly that question.
pub(super) async fn exchange(
    server: SocketAddr,
    name: &str,
    qtype: u16,
    rd: bool,
    timeout: Duration,
) -> Result<Vec<u8>, String> {
    let qname = question(name)?;
    let socket =
        socket_for(server).map_err(|e| format!("cannot open a socket to {server}: {e}"))?;
    let id = rand::random::<u16>();
    socket
        .send(&packet_for(id, &qname, qtype, rd))
        .await
        .map_err(|e| format!("cannot send to {server}: {e}"))?;
    let mut buf = vec![0u8; batch::REPLY_MAX];
    let receive = async {
        loop {
            let n = socket.recv(&mut buf).await.map_err(|e| {
                if is_unreachable(&e) {
                    format!("nothing answers DNS at {server} (port unreachable)")
                } else {
                    format!("cannot read from {server}: {e}")
                }
            })?;
            // A datagram with another id is not the answer; keep waiting for it.
            if n >= 12 && buf[..2] == id.to_be_bytes() {
                return Ok::<Vec<u8>, String>(buf[..n].to_vec());
            }
        }
    };
    let reply = tokio::time::timeout(timeout, receive)
        .await
        .map_err(|_| format!("{server}: {}", super::classify::TIMED_OUT))??;
    check_response(&reply, &qname, qtype)?;
    if truncated(&reply) {
        return Box::pin(over_tcp(server, &qname, qtype, rd, timeout)).await;
    }
    Ok(reply)
}

/// The wait after send `sent` (counting from 0) of `tries`: the first resend comes after a
/// few round trips (a reply lost on a fast link costs little), later ones back off, and never
/// faster than would spread the remaining sends over half a `timeout`: with only `tries` sends,
/// a burst of loss (a full queue somewhere) must not take them all at once.
pub(super) fn next_wait(wait: Duration, sent: usize, tries: usize, timeout: Duration) -> Duration {
    let doubled = wait * 2;
    let left = tries.saturating_sub(sent + 1);
    let floor = timeout / 2u32.saturating_pow(u32::try_from(left + 1).unwrap_or(u32::MAX));
    doubled.max(floor).min(timeout)
}

/// Whether a reply has the TC (truncated) bit.
pub(super) fn truncated(reply: &[u8]) -> bool {
    reply.get(2).is_some_and(|b| b & 0x02 != 0)
}

/// Checks that `reply` is a response (QR set, standard query) to exactly the question asked:
/// one question, the same name, type and class IN. A server that echoes the query, answers
/// another type or class, or sends something else is an error, never an answer.
pub(super) fn check_response(reply: &[u8], qname: &[u8], qtype: u16) -> Result<(), String> {
    if reply.len() < 12 + qname.len() + 4 {
        return Err("the answer is too short to be a DNS response".into());
    }
    if reply[2] & 0x80 == 0 {
        return Err("the server sent back a query, not an answer (QR bit unset)".into());
    }
    let opcode = (reply[2] >> 3) & 0x0f;
    if opcode != 0 {
        return Err(format!("the answer has opcode {opcode}, not QUERY"));
    }
    if reply[4..6] != [0, 1] {
        return Err("the answer does not carry exactly one question".into());
    }
    let at = 12 + qname.len();
    if !reply[12..at].eq_ignore_ascii_case(qname) {
        return Err("the answer is for another name".into());
    }
    let asked_type = u16::from_be_bytes([reply[at], reply[at + 1]]);
    let class = u16::from_be_bytes([reply[at + 2], reply[at + 3]]);
    if asked_type != qtype {
        return Err(format!(
            "the answer is for type {}, not {}",
            RecordType::from(asked_type),
            RecordType::from(qtype)
        ));
    }
    if class != 1 {
        return Err(format!(
            "the answer is for class {}, not IN",
            DNSClass::from(class)
        ));
    }
    Ok(())
}

/// A query packet: id, recursion desired (`rd`) or not, one question of `qtype`, class IN.
fn packet_for(id: u16, qname: &[u8], qtype: u16, rd: bool) -> Vec<u8> {
    let mut packet = vec![0; 12 + qname.len() + 4];
    write_query(&mut packet, id, qname, qtype, rd);
    packet
}

/// Writes the query packet of `packet_for` at the start of `out` (which must have room for
/// it, `12 + qname.len() + 4` bytes) and returns its length.
pub(super) fn write_query(out: &mut [u8], id: u16, qname: &[u8], qtype: u16, rd: bool) -> usize {
    let end = 12 + qname.len();
    out[..2].copy_from_slice(&id.to_be_bytes());
    out[2..12].copy_from_slice(&[u8::from(rd), 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
    out[12..end].copy_from_slice(qname);
    out[end..end + 2].copy_from_slice(&qtype.to_be_bytes());
    out[end + 2..end + 4].copy_from_slice(&[0, 1]);
    end + 4
}

/// How many queries may be in flight to the servers: grows by about one per round trip while
/// answers come back, halves when one is lost (at most once per round trip), so a server
/// that drops queries under load is not flooded and a fast one is kept busy. The level a loss
/// happened at is remembered: growth stops short of it and only creeps past it, so a server
/// whose queue holds a few hundred queries (rbldnsd's socket buffer) is not overrun again
/// every few round trips, each loss a wait for a resend. The wait before sending again
/// follows the measured round trip.
pub(super) struct Control {
    limit: f64,
    /// The user's ceiling (`--concurrency`).
    most: f64,
    /// Where growth slows: just under the level of the last loss.
    known: f64,
    srtt: Option<Duration>,
    last_cut: Option<Instant>,
}

const MIN_WINDOW: f64 = 8.0;
const MAX_WINDOW: f64 = 4096.0;

impl Control {
    pub(super) fn new(start: usize, most: usize) -> Control {
        let most = (most.max(1) as f64).min(MAX_WINDOW);
        Control {
            limit: (start as f64).clamp(MIN_WINDOW.min(most), most),
            most,
            known: most,
            srtt: None,
            last_cut: None,
        }
    }

    /// Whether `in_flight` queries leave room for one more.
    pub(super) fn admits(&self, in_flight: usize) -> bool {
        (in_flight as f64) < self.limit
    }

    pub(super) fn answered(&mut self, rtt: Duration) {
        self.srtt = Some(match self.srtt {
            Some(old) => (old * 7 + rtt) / 8,
            None => rtt,
        });
        // About one more per round trip below the last loss's level, one per 32 above it.
        let step = if self.limit < self.known {
            1.0
        } else {
            1.0 / 32.0
        };
        self.limit = (self.limit + step / self.limit).min(self.most);
    }

    pub(super) fn lost(&mut self, now: Instant) {
        let rtt = self.srtt.unwrap_or(FIRST_RETRY);
        if self
            .last_cut
            .is_none_or(|t| now.saturating_duration_since(t) > rtt)
        {
            self.known = (self.limit * 0.9).max(MIN_WINDOW.min(self.most));
            self.limit = (self.limit / 2.0).max(MIN_WINDOW.min(self.most));
            self.last_cut = Some(now);
        }
    }

    /// The wait before sending a query again: a few round trips, at least 5 ms (a reply
    /// later than that from a server this close was lost, and asking twice costs little).
    pub(super) fn rto(&self) -> Duration {
        self.srtt.map_or(FIRST_RETRY, |rtt| {
            (rtt * 4 + Duration::from_millis(2)).clamp(Duration::from_millis(5), FIRST_RETRY)
        })
    }
}

/// The `Control` shared by every query of a client, and the queries in flight under it.
struct Window {
    state: Mutex<(Control, usize)>,
    opened: tokio::sync::Notify,
}

/// A place in the window, given back on drop.
struct Slot<'a>(&'a Window);

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        if let Ok(mut s) = self.0.state.lock() {
            s.1 = s.1.saturating_sub(1);
        }
        self.0.opened.notify_one();
    }
}

impl Window {
    fn new(start: usize, most: usize) -> Window {
        Window {
            state: Mutex::new((Control::new(start, most), 0)),
            opened: tokio::sync::Notify::new(),
        }
    }

    async fn enter(&self) -> Slot<'_> {
        loop {
            let notified = self.opened.notified();
            if let Ok(mut s) = self.state.lock()
                && s.0.admits(s.1)
            {
                s.1 += 1;
                return Slot(self);
            }
            notified.await;
        }
    }

    fn answered(&self, rtt: Duration) {
        if let Ok(mut s) = self.state.lock() {
            s.0.answered(rtt);
        }
        self.opened.notify_one();
    }

    fn lost(&self) {
        if let Ok(mut s) = self.state.lock() {
            s.0.lost(Instant::now());
        }
    }

    fn rto(&self) -> Duration {
        self.state.lock().map_or(FIRST_RETRY, |s| s.0.rto())
    }
}

/// Registers a send of the question under a free random id of the lane (ids come from a
/// CSPRNG, so an off-path attacker must guess them: RFC 5452) and returns the packet.
fn register(
    lane: &Lane,
    asked: &Arc<Asked>,
    qtype: u16,
    rd: bool,
) -> Result<Option<(u16, Vec<u8>)>, String> {
    let mut pending = lane
        .pending
        .lock()
        .map_err(|_| "internal lock poisoned".to_string())?;
    // A retired lane takes no new query: its tasks may be about to end.
    if lane.retired.load(Ordering::SeqCst) {
        return Ok(None);
    }
    if pending.len() >= 30_000 {
        return Err("too many queries in flight on one socket".into());
    }
    let id = loop {
        let id = rand::random::<u16>();
        if !pending.contains_key(&id) {
            break id;
        }
    };
    pending.insert(id, asked.clone());
    Ok(Some((id, packet_for(id, &asked.qname, qtype, rd))))
}

/// A name in DNS wire form, lowercased (rbldnsd and resolvers echo the question as asked).
fn question(name: &str) -> Result<Vec<u8>, String> {
    let mut wire = Vec::with_capacity(name.len() + 2);
    question_into(name, &mut wire)?;
    Ok(wire)
}

/// Writes `name` in wire form, lowercased, into `wire` (emptied first). A name longer than
/// DNS allows (a label over 63 bytes, the whole over 255) or with an empty label is refused.
pub(super) fn question_into(name: &str, wire: &mut Vec<u8>) -> Result<(), String> {
    wire.clear();
    let name = name.strip_suffix('.').unwrap_or(name);
    for label in name.as_bytes().split(|&b| b == b'.') {
        let len = match u8::try_from(label.len()) {
            Ok(0) => return Err("invalid query name (an empty label)".into()),
            Ok(len @ 1..=63) => len,
            _ => return Err(super::name::TOO_LONG.into()),
        };
        wire.push(len);
        wire.extend(label.iter().map(u8::to_ascii_lowercase));
    }
    wire.push(0);
    if wire.len() > 255 {
        return Err(super::name::TOO_LONG.into());
    }
    Ok(())
}

impl Lane {
    /// Hands a query to the sender.
    fn queue(&self, packet: Vec<u8>) {
        let first = match self.outbox.lock() {
            Ok(mut outbox) => {
                outbox.push(packet);
                outbox.len() == 1
            }
            Err(_) => false,
        };
        if first {
            self.queued.notify_one();
        }
    }

    /// Stops waiting for a reply under `id`.
    fn forget(&self, id: u16) {
        if let Ok(mut pending) = self.pending.lock() {
            pending.remove(&id);
        }
    }

    /// Takes the lane out of service: it sends what is queued, hands on replies to what is
    /// pending, and then its tasks end.
    fn retire(&self) {
        self.retired.store(true, Ordering::SeqCst);
        self.queued.notify_one();
    }

    /// Whether a retired lane has nothing left to do.
    fn finished(&self) -> bool {
        self.retired.load(Ordering::SeqCst)
            && self.outbox.lock().is_ok_and(|o| o.is_empty())
            && self.pending.lock().is_ok_and(|p| p.is_empty())
    }

    /// Tells every query waiting on this lane that its server cannot be reached: the kernel
    /// reported an ICMP error (port unreachable) for the connected socket.
    fn unreachable(&self, error: &io::Error) {
        let waiting: Vec<_> = match self.pending.lock() {
            Ok(mut pending) => pending.drain().map(|(_, asked)| asked).collect(),
            Err(_) => return,
        };
        let why = unreachable_reason(self.server, error);
        for asked in waiting {
            asked.hand(Delivery::Unreachable(why.clone()));
        }
    }
}

/// What the queries waiting on `server` are told when the kernel reports `error` (an ICMP
/// error) for its socket.
pub(super) fn unreachable_reason(server: SocketAddr, error: &io::Error) -> String {
    if error.kind() == io::ErrorKind::ConnectionRefused {
        format!("nothing answers DNS at {server} (port unreachable)")
    } else {
        format!("cannot reach {server}: {error}")
    }
}

/// Whether a socket error is the kernel reporting an ICMP error from the server, which on a
/// connected UDP socket surfaces on the next send or receive.
pub(super) fn is_unreachable(error: &io::Error) -> bool {
    matches!(
        error.raw_os_error(),
        Some(libc::ECONNREFUSED | libc::EHOSTUNREACH | libc::ENETUNREACH)
    )
}

/// How often a retired lane's tasks look whether they are done.
const RETIRED_POLL: Duration = Duration::from_millis(50);

/// Sends what the lane's queries queued, as many per system call as have gathered. A query
/// whose send fails is not retried here: it counts as lost and is sent again on its timer.
async fn send(lane: Arc<Lane>) {
    let mut batch: Vec<Vec<u8>> = Vec::new();
    loop {
        if lane.retired.load(Ordering::Relaxed) {
            if lane.finished() {
                return;
            }
            let _ = tokio::time::timeout(RETIRED_POLL, lane.queued.notified()).await;
        } else {
            lane.queued.notified().await;
        }
        if let Ok(mut outbox) = lane.outbox.lock() {
            std::mem::swap(&mut *outbox, &mut batch);
        }
        let mut done = 0;
        while done < batch.len() {
            if lane.socket.writable().await.is_err() {
                break;
            }
            let fd = lane.socket.as_raw_fd();
            match lane
                .socket
                .try_io(Interest::WRITABLE, || batch::send(fd, &batch[done..]))
            {
                Ok(n) => done += n.max(1),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) if is_unreachable(&e) => {
                    lane.unreachable(&e);
                    done += 1;
                }
                Err(_) => done += 1,
            }
        }
        batch.clear();
    }
}

/// Reads replies, as many per system call as have arrived, and hands each to the query with
/// its id and question.
async fn receive(lane: Arc<Lane>) {
    let mut buffers = vec![0u8; batch::SLOT * batch::BATCH];
    let mut lengths = vec![0usize; batch::BATCH];
    loop {
        let ready = if lane.retired.load(Ordering::Relaxed) {
            if lane.finished() {
                return;
            }
            match tokio::time::timeout(RETIRED_POLL, lane.socket.readable()).await {
                Ok(ready) => ready,
                Err(_) => continue,
            }
        } else {
            lane.socket.readable().await
        };
        if ready.is_err() {
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        }
        let fd = lane.socket.as_raw_fd();
        let read = match lane.socket.try_io(Interest::READABLE, || {
            batch::receive(fd, &mut buffers, &mut lengths)
        }) {
            Ok(read) => read,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
            Err(e) if is_unreachable(&e) => {
                lane.unreachable(&e);
                continue;
            }
            Err(_) => continue,
        };
        for (buf, &n) in buffers.chunks_exact(batch::SLOT).zip(&lengths).take(read) {
            deliver(&lane, &buf[..n]);
        }
        // The queries just answered go on before more replies are read: a listing's TXT
        // question is then sent while the server still works through the rest.
        tokio::task::yield_now().await;
    }
}

/// Hands one reply to the query whose id and name it carries. The socket is connected, so
/// it came from the server's address and port; whether it is a proper answer to the question
/// is checked by the query (a reply with the right id and name but anything else wrong is an
/// error of that query, not something to wait past).
fn deliver(lane: &Lane, reply: &[u8]) {
    if reply.len() < 12 {
        return;
    }
    let id = u16::from_be_bytes([reply[0], reply[1]]);
    let asked = match lane.pending.lock() {
        Ok(mut pending) => match pending.get(&id) {
            Some(asked)
                if reply.len() >= 12 + asked.qname.len()
                    && reply[12..12 + asked.qname.len()].eq_ignore_ascii_case(&asked.qname) =>
            {
                pending.remove(&id)
            }
            _ => None,
        },
        Err(_) => None,
    };
    if let Some(asked) = asked {
        asked.hand(Delivery::Reply(reply.to_vec()));
    }
}

/// A response to an A question (already checked to be one) as an answer: NXDOMAIN, or
/// NOERROR with nothing in the answer section, is a negative answer; NOERROR with A records
/// for the name asked (CNAMEs followed) is codes; anything else is a failure. Most replies in
/// a scan are NXDOMAIN with nothing in them: those are read from the header alone; the rest
/// are decoded by hickory-proto.
pub(super) fn decode_a(reply: &[u8]) -> Answer {
    let rcode = reply.get(3).map_or(2, |b| b & 0x0f);
    let answers = match (reply.get(6), reply.get(7)) {
        (Some(hi), Some(lo)) => u16::from_be_bytes([*hi, *lo]),
        _ => 0,
    };
    if answers == 0 {
        match rcode {
            3 => return Answer::NxDomain,
            5 => return Answer::Refused,
            0 => return Answer::NoData,
            _ => {}
        }
    }
    let message = match Message::from_vec(reply) {
        Ok(message) => message,
        Err(e) => return Answer::Failure(format!("undecodable answer: {e}")),
    };
    match message.metadata.response_code {
        ResponseCode::NXDomain => Answer::NxDomain,
        ResponseCode::Refused => Answer::Refused,
        ResponseCode::NoError => answer_records(&message),
        code => Answer::Failure(format!("the DNS server answered {code}")),
    }
}

/// The A records of a NOERROR answer that belong to the name asked, following its CNAME
/// chain (at most 8 links). An answer section with records but none of them an A record for
/// that chain (AAAA for an A question, records for other names, another class) is a failure:
/// a resolver or middlebox that answers something other than what was asked is not saying
/// "not listed".
fn answer_records(message: &Message) -> Answer {
    let Some(asked) = message.queries.first().map(|q| q.name().clone()) else {
        return Answer::Failure("the answer carries no question".into());
    };
    let mut owner = asked;
    for _ in 0..8 {
        let next = message.answers.iter().find_map(|r| match &r.data {
            RData::CNAME(target) if r.dns_class == DNSClass::IN && r.name == owner => {
                Some(target.0.clone())
            }
            _ => None,
        });
        match next {
            Some(target) => owner = target,
            None => break,
        }
    }
    let addrs: Vec<Ipv4Addr> = message
        .answers
        .iter()
        .filter(|r| r.dns_class == DNSClass::IN && r.name == owner)
        .filter_map(|r| match &r.data {
            RData::A(a) => Some(a.0),
            _ => None,
        })
        .collect();
    if !addrs.is_empty() {
        return Answer::Addresses(addrs);
    }
    let only_cnames = message
        .answers
        .iter()
        .all(|r| matches!(r.data, RData::CNAME(_)) && r.dns_class == DNSClass::IN);
    if only_cnames {
        // An alias to a name without A records: NODATA at the end of the chain.
        return Answer::NoData;
    }
    let kinds: Vec<String> = message
        .answers
        .iter()
        .map(|r| format!("{} {}", r.dns_class, r.record_type()))
        .collect();
    Answer::Failure(format!(
        "the answer holds no A record for the name asked ({}): not an answer to the question",
        kinds.join(", ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resends_are_spread_over_the_timeout() {
        let ms = Duration::from_millis;
        let timeout = ms(2000);
        // Six sends: the first resend fast, the rest reaching out to about one timeout.
        let mut wait = ms(5);
        let mut at = vec![Duration::ZERO];
        for sent in 1..6 {
            at.push(*at.last().expect("a send") + wait);
            wait = next_wait(wait, sent, 6, timeout);
        }
        assert_eq!(at[1], ms(5));
        assert_eq!(at[2], ms(5 + 62) + Duration::from_micros(500));
        assert_eq!(
            at[5],
            ms(5 + 62 + 125 + 250 + 500) + Duration::from_micros(500)
        );
        // A lossless fast link never gets here; a slow one backs off by doubling.
        assert_eq!(next_wait(ms(400), 1, 6, timeout), ms(800));
    }

    /// Random and mutated replies: the checks and the decoder never panic, and nothing that
    /// is not a proper answer to the question comes out as a negative answer.
    #[test]
    fn random_replies_never_panic_nor_read_as_clear() {
        use rand::{Rng, RngExt, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(5782);
        let qname = question("2.0.0.127.zen.example.").expect("name");
        let good = {
            let mut reply = packet_for(0x1234, &qname, TYPE_A, true);
            reply[2] |= 0x80;
            reply[7] = 1;
            reply.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 127, 0, 0, 2]);
            reply
        };
        assert_eq!(check_response(&good, &qname, TYPE_A), Ok(()));
        assert_eq!(
            decode_a(&good),
            Answer::Addresses(vec![Ipv4Addr::new(127, 0, 0, 2)])
        );
        for round in 0..50_000 {
            let bytes: Vec<u8> = if round % 2 == 0 {
                let len = rng.random_range(0..600);
                (0..len).map(|_| rng.next_u32() as u8).collect()
            } else {
                let mut bytes = good.clone();
                for _ in 0..rng.random_range(1..6) {
                    let at = rng.random_range(0..bytes.len());
                    bytes[at] = rng.next_u32() as u8;
                }
                bytes.truncate(rng.random_range(0..=bytes.len()));
                bytes
            };
            if check_response(&bytes, &qname, TYPE_A).is_ok() {
                let answer = decode_a(&bytes);
                // Only NXDOMAIN or an empty NOERROR answer is read as negative.
                if matches!(answer, Answer::NxDomain | Answer::NoData) {
                    let rcode = bytes[3] & 0x0f;
                    assert!(rcode == 0 || rcode == 3, "{bytes:?}");
                }
            }
        }
    }

    #[test]
    fn after_a_loss_the_window_grows_back_to_below_its_level_and_creeps_past_it() {
        let mut control = Control::new(64, 1024);
        let rtt = Duration::from_micros(500);
        let mut now = Instant::now();
        // Grown to 200, then a loss: halved, and 180 remembered.
        while control.limit < 200.0 {
            control.answered(rtt);
        }
        control.lost(now);
        assert!((99.0..=101.0).contains(&control.limit), "{}", control.limit);
        // Back to 180 in about 80 windows' worth of answers (one more per window)...
        let mut answers = 0;
        while control.limit < 180.0 {
            control.answered(rtt);
            answers += 1;
        }
        assert!(answers < 15_000, "{answers}");
        // ...and no further than 200 in as many again: 32 times slower past the level.
        for _ in 0..answers {
            control.answered(rtt);
        }
        assert!(control.limit < 200.0, "{}", control.limit);
        // A second loss within the round trip is the same event: one cut.
        now += Duration::from_millis(1);
        control.lost(now);
        let after = control.limit;
        control.lost(now);
        assert_eq!(control.limit, after);
    }

    #[test]
    fn questions_are_wire_names() {
        assert_eq!(
            question("2.0.0.127.Zen.Example.").expect("name"),
            b"\x012\x010\x010\x03127\x03zen\x07example\x00"
        );
        assert!(question("a..b").is_err());
        assert!(question(&"x".repeat(64)).is_err());
        // 253 characters is the longest name: 255 bytes in wire form.
        let longest = [
            "x".repeat(63),
            "x".repeat(63),
            "x".repeat(63),
            "x".repeat(61),
        ]
        .join(".");
        assert_eq!(question(&longest).map(|w| w.len()), Ok(255));
        assert_eq!(
            question(&format!("{longest}x")),
            Err(super::super::name::TOO_LONG.into())
        );
    }
}
