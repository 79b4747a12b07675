//! A lean UDP client for the bulk of a run's queries (the A lookups), built on hickory-proto's
//! message decoding.
//!
//! Why not hickory-resolver for these: pushed past ~64 queries in flight against a local
//! rbldnsd it loses replies to receive-buffer overruns and then waits out the full timeout for
//! each (test-components.md: 35k/s at 64, 5k/s at 128+). Here a few sockets with large buffers
//! are shared by all queries, replies are matched by id and question, and a lost query is sent
//! again after a short, growing interval instead of the whole timeout, so the rate holds at
//! any window. TXT, PTR and host-name lookups stay on hickory-resolver.

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::atomic::{AtomicU16, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hickory_resolver::proto::op::{Message, ResponseCode};
use hickory_resolver::proto::rr::RData;
use std::os::fd::AsRawFd;

use tokio::io::Interest;
use tokio::net::UdpSocket;

use super::batch;
use tokio::sync::oneshot;

use super::classify::Answer;

/// Sockets per name server: spreads the replies over several receive buffers and ports.
const LANES: usize = 4;
/// Each socket's receive and send buffer.
const BUFFER: usize = 4 << 20;
/// Query types asked here.
const TYPE_A: u16 = 1;
const TYPE_TXT: u16 = 16;
/// The first wait before a query is sent again; it doubles after each loss.
const FIRST_RETRY: Duration = Duration::from_millis(250);

type Reply = Vec<u8>;
/// Queries waiting for their reply, by id: the question asked and where to hand the reply.
type Pending = HashMap<u16, (Vec<u8>, oneshot::Sender<Reply>)>;

struct Lane {
    socket: UdpSocket,
    server: SocketAddr,
    pending: Mutex<Pending>,
    next_id: AtomicU16,
    /// Queries waiting to be sent: the sender sends all that gathered in one call.
    outbox: Mutex<Vec<Vec<u8>>>,
    queued: tokio::sync::Notify,
}

/// The client: lanes to every name server, each with a task reading its replies.
pub struct UdpClient {
    lanes: Vec<Arc<Lane>>,
    window: Window,
    next: AtomicUsize,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for UdpClient {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

fn socket_for(server: SocketAddr) -> io::Result<UdpSocket> {
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
    /// Opens the lanes to `servers`, with at most `most_in_flight` queries outstanding;
    /// must be called inside the runtime.
    pub fn new(servers: &[SocketAddr], most_in_flight: usize) -> io::Result<UdpClient> {
        let mut lanes = Vec::new();
        let mut tasks = Vec::new();
        for &server in servers {
            for n in 0..LANES {
                let lane = Arc::new(Lane {
                    socket: socket_for(server)?,
                    server,
                    pending: Mutex::new(HashMap::new()),
                    next_id: AtomicU16::new(
                        u16::try_from(n * 16_384 + std::process::id() as usize % 977).unwrap_or(0),
                    ),
                    outbox: Mutex::new(Vec::new()),
                    queued: tokio::sync::Notify::new(),
                });
                tasks.push(tokio::spawn(receive(lane.clone())));
                tasks.push(tokio::spawn(send(lane.clone())));
                lanes.push(lane);
            }
        }
        Ok(UdpClient {
            lanes,
            window: Window::new(64, most_in_flight),
            next: AtomicUsize::new(0),
            tasks,
        })
    }

    /// Asks for the A records of `name` (absolute), sending again after losses, for at most
    /// `timeout` x `tries`; `windowed` waits for a place in the in-flight window first.
    pub async fn a(&self, name: &str, timeout: Duration, tries: usize, windowed: bool) -> Answer {
        match self.query(name, TYPE_A, timeout, tries, windowed).await {
            Ok(reply) => decode_a(&reply, self.lanes.first().map(|l| l.server)),
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

    /// Sends a question of type `qtype` and returns the reply.
    async fn query(
        &self,
        name: &str,
        qtype: u16,
        timeout: Duration,
        tries: usize,
        windowed: bool,
    ) -> Result<Reply, String> {
        let lanes_per_server = LANES;
        let servers = self.lanes.len() / lanes_per_server;
        let first = self.next.fetch_add(1, Ordering::Relaxed);
        let _slot = if windowed {
            Some(self.window.enter().await)
        } else {
            None
        };
        // The time allowed counts from the first send, not from the wait for a place.
        let deadline = Instant::now() + timeout * u32::try_from(tries.max(1)).unwrap_or(1);
        let mut wait = self.window.rto().min(timeout);
        let mut attempt = 0usize;
        loop {
            // Each new attempt goes to the next server, as a resolver does.
            let server = (first / lanes_per_server + attempt) % servers.max(1);
            let lane = &self.lanes[server * lanes_per_server + first % lanes_per_server];
            let (id, rx, packet) = register(lane, name, qtype)?;
            let sent = Instant::now();
            lane.queue(packet);
            let left = deadline.saturating_duration_since(Instant::now());
            let outcome = tokio::time::timeout(wait.min(left), rx).await;
            if let Ok(mut pending) = lane.pending.lock() {
                pending.remove(&id);
            }
            match outcome {
                Ok(Ok(reply)) => {
                    if attempt == 0 {
                        self.window.answered(sent.elapsed());
                    }
                    return Ok(reply);
                }
                _ if Instant::now() >= deadline => return Err("timed out".into()),
                _ => {
                    self.window.lost();
                    attempt += 1;
                    wait = (wait * 2).min(timeout);
                }
            }
        }
    }
}

/// How many queries may be in flight to the servers: grows by about one per round trip while
/// answers come back, halves when one is lost (at most once per round trip), so a server
/// that drops queries under load is not flooded and a fast one is kept busy. The wait before
/// sending again follows the measured round trip.
struct Window {
    state: Mutex<WindowState>,
    opened: tokio::sync::Notify,
}

struct WindowState {
    limit: f64,
    /// The user's ceiling (`--concurrency`).
    most: f64,
    in_flight: usize,
    srtt: Option<Duration>,
    last_cut: Option<Instant>,
}

const MIN_WINDOW: f64 = 8.0;
const MAX_WINDOW: f64 = 4096.0;

/// A place in the window, given back on drop.
struct Slot<'a>(&'a Window);

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        if let Ok(mut s) = self.0.state.lock() {
            s.in_flight = s.in_flight.saturating_sub(1);
        }
        self.0.opened.notify_one();
    }
}

impl Window {
    fn new(start: usize, most: usize) -> Window {
        let most = (most.max(1) as f64).min(MAX_WINDOW);
        Window {
            state: Mutex::new(WindowState {
                limit: (start as f64).clamp(MIN_WINDOW.min(most), most),
                most,
                in_flight: 0,
                srtt: None,
                last_cut: None,
            }),
            opened: tokio::sync::Notify::new(),
        }
    }

    async fn enter(&self) -> Slot<'_> {
        loop {
            let notified = self.opened.notified();
            if let Ok(mut s) = self.state.lock()
                && (s.in_flight as f64) < s.limit
            {
                s.in_flight += 1;
                return Slot(self);
            }
            notified.await;
        }
    }

    fn answered(&self, rtt: Duration) {
        if let Ok(mut s) = self.state.lock() {
            s.srtt = Some(match s.srtt {
                Some(old) => (old * 7 + rtt) / 8,
                None => rtt,
            });
            s.limit = (s.limit + 1.0 / s.limit).min(s.most);
        }
        self.opened.notify_one();
    }

    fn lost(&self) {
        if let Ok(mut s) = self.state.lock() {
            let rtt = s.srtt.unwrap_or(FIRST_RETRY);
            if s.last_cut.is_none_or(|t| t.elapsed() > rtt) {
                s.limit = (s.limit / 2.0).max(MIN_WINDOW.min(s.most));
                s.last_cut = Some(Instant::now());
            }
        }
    }

    /// The wait before sending a query again: a few round trips, at least 5 ms (a reply
    /// later than that from a server this close was lost, and asking twice costs little).
    fn rto(&self) -> Duration {
        let srtt = self.state.lock().ok().and_then(|s| s.srtt);
        srtt.map_or(FIRST_RETRY, |rtt| {
            (rtt * 4 + Duration::from_millis(2)).clamp(Duration::from_millis(5), FIRST_RETRY)
        })
    }
}

/// Encodes the question and registers it under a free id of the lane.
fn register(
    lane: &Lane,
    name: &str,
    qtype: u16,
) -> Result<(u16, oneshot::Receiver<Reply>, Vec<u8>), String> {
    let qname = question(name)?;
    let (tx, rx) = oneshot::channel();
    let mut pending = lane
        .pending
        .lock()
        .map_err(|_| "internal lock poisoned".to_string())?;
    if pending.len() >= 60_000 {
        return Err("too many queries in flight on one socket".into());
    }
    let id = loop {
        let id = lane.next_id.fetch_add(1, Ordering::Relaxed);
        if !pending.contains_key(&id) {
            break id;
        }
    };
    let mut packet = Vec::with_capacity(12 + qname.len() + 4);
    packet.extend_from_slice(&id.to_be_bytes());
    // Flags: recursion desired; one question.
    packet.extend_from_slice(&[0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
    packet.extend_from_slice(&qname);
    packet.extend_from_slice(&qtype.to_be_bytes());
    packet.extend_from_slice(&[0, 1]);
    pending.insert(id, (qname, tx));
    Ok((id, rx, packet))
}

/// A name in DNS wire form, lowercased (rbldnsd and resolvers echo the question as asked).
fn question(name: &str) -> Result<Vec<u8>, String> {
    let mut wire = Vec::with_capacity(name.len() + 2);
    for label in name.trim_end_matches('.').split('.') {
        let len = u8::try_from(label.len())
            .ok()
            .filter(|l| (1..=63).contains(l))
            .ok_or("invalid query name")?;
        wire.push(len);
        wire.extend(label.bytes().map(|b| b.to_ascii_lowercase()));
    }
    wire.push(0);
    Ok(wire)
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
}

/// Sends what the lane's queries queued, as many per system call as have gathered. A query
/// whose send fails is not retried here: it counts as lost and is sent again on its timer.
async fn send(lane: Arc<Lane>) {
    let mut batch: Vec<Vec<u8>> = Vec::new();
    loop {
        lane.queued.notified().await;
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
                Err(_) => done += 1,
            }
        }
        batch.clear();
    }
}

/// Reads replies, as many per system call as have arrived, and hands each to the query with
/// its id and question.
async fn receive(lane: Arc<Lane>) {
    let mut buffers = vec![[0u8; batch::REPLY_MAX]; batch::BATCH];
    let mut lengths = vec![0usize; batch::BATCH];
    loop {
        if lane.socket.readable().await.is_err() {
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        }
        let fd = lane.socket.as_raw_fd();
        let read = match lane.socket.try_io(Interest::READABLE, || {
            batch::receive(fd, &mut buffers, &mut lengths)
        }) {
            Ok(read) => read,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
            Err(_) => {
                // An ICMP error (port unreachable) surfaces here; the query times out.
                continue;
            }
        };
        for (buf, &n) in buffers.iter().zip(&lengths).take(read) {
            deliver(&lane, &buf[..n.min(batch::REPLY_MAX)]);
        }
    }
}

/// Hands one reply to the query it answers.
fn deliver(lane: &Lane, reply: &[u8]) {
    if reply.len() < 12 {
        return;
    }
    let id = u16::from_be_bytes([reply[0], reply[1]]);
    // The question must be the one asked: a stray or spoofed reply is ignored.
    let asked = match lane.pending.lock() {
        Ok(mut pending) => match pending.get(&id) {
            Some((qname, _))
                if reply.len() >= 12 + qname.len()
                    && reply[12..12 + qname.len()].eq_ignore_ascii_case(qname) =>
            {
                pending.remove(&id)
            }
            _ => None,
        },
        Err(_) => None,
    };
    if let Some((_, tx)) = asked {
        let _ = tx.send(reply.to_vec());
    }
}

/// A reply to an A question as an answer. Most replies in a scan are NXDOMAIN with nothing
/// in them: those are read from the header alone; the rest are decoded by hickory-proto.
fn decode_a(reply: &[u8], server: Option<SocketAddr>) -> Answer {
    let rcode = reply.get(3).map_or(2, |b| b & 0x0f);
    let answers = match (reply.get(6), reply.get(7)) {
        (Some(hi), Some(lo)) => u16::from_be_bytes([*hi, *lo]),
        _ => 0,
    };
    if answers == 0 {
        match rcode {
            3 => return Answer::NxDomain,
            5 => return Answer::Refused,
            0 if reply.get(2).is_some_and(|b| b & 0x02 == 0) => return Answer::NoData,
            _ => {}
        }
    }
    let message = match Message::from_vec(reply) {
        Ok(message) => message,
        Err(e) => {
            let from = server.map(|s| format!(" from {s}")).unwrap_or_default();
            return Answer::Failure(format!("undecodable answer{from}: {e}"));
        }
    };
    match message.metadata.response_code {
        ResponseCode::NXDomain => Answer::NxDomain,
        ResponseCode::Refused => Answer::Refused,
        ResponseCode::NoError => {
            if message.metadata.truncation && message.answers.is_empty() {
                return Answer::Failure("truncated answer".into());
            }
            let addrs: Vec<Ipv4Addr> = message
                .answers
                .iter()
                .filter_map(|r| match &r.data {
                    RData::A(a) => Some(a.0),
                    _ => None,
                })
                .collect();
            if addrs.is_empty() {
                Answer::NoData
            } else {
                Answer::Addresses(addrs)
            }
        }
        code => Answer::Failure(format!("the DNS server answered {code}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn questions_are_wire_names() {
        assert_eq!(
            question("2.0.0.127.Zen.Example.").expect("name"),
            b"\x012\x010\x010\x03127\x03zen\x07example\x00"
        );
        assert!(question("a..b").is_err());
        assert!(question(&"x".repeat(64)).is_err());
    }
}
