//! A UDP client for runs of many A lookups, driven by one caller rather than one future per
//! query: queries are numbered by the caller, kept in a table reused from query to query, and
//! found again from a reply's id through an index of all 65,536 ids. Sends and reads go many
//! to a system call, one timer serves the whole table, and the clock is read once per round.
//!
//! Why beside `udp::UdpClient`: there each query is a future with its own timer, channel and
//! packet, and at hundreds of thousands of queries a second that bookkeeping costs more than
//! the system calls. The answers are the same: the same checks of each reply
//! (`udp::check_response`), the same decoding, TCP for a truncated reply, a fresh random id
//! for every send (RFC 5452), sockets replaced after `ROTATE_AFTER` sends, the same window
//! and resend schedule (`udp::Control`, `udp::next_wait`).

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use futures_util::stream::{FuturesUnordered, StreamExt};
use tokio::io::Interest;
use tokio::net::UdpSocket;

use super::batch;
use super::classify::{Answer, TIMED_OUT};
use super::udp::{self, Control};

/// A finished query: the caller's number, the answer, and the time from the first send.
pub type Done = (u64, Answer, Duration);

/// The longest query packet: header, a name of at most 255 bytes, type and class.
const PACKET_MAX: usize = 12 + 255 + 4;

/// One query packet, kept inline so that queueing a send allocates nothing.
struct Packet {
    len: usize,
    bytes: [u8; PACKET_MAX],
}

impl AsRef<[u8]> for Packet {
    fn as_ref(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}

/// A socket to one server, with the packets waiting to go out on it.
struct Lane {
    socket: UdpSocket,
    server: usize,
    outbox: Vec<Packet>,
    /// Sends so far; past `ROTATE_AFTER` the lane takes no new ones.
    sent: usize,
    /// Sends on this lane whose query is still waiting.
    waiting: usize,
    retired: bool,
}

/// A query in flight.
struct Flight {
    token: u64,
    /// The name asked, in wire form (its buffer is kept when the flight is reused).
    qname: Vec<u8>,
    /// Every send's id and lane: a late reply to an earlier send answers it too.
    sends: Vec<(u16, usize)>,
    first: Instant,
    deadline: Instant,
    wait: Duration,
    live: bool,
}

/// The client. Must be made and driven inside the runtime.
pub struct Ring {
    servers: Vec<SocketAddr>,
    lanes: Vec<Option<Lane>>,
    /// For each server, the lane new sends go to.
    active: Vec<usize>,
    flights: Vec<Flight>,
    free: Vec<usize>,
    /// For each id, the flight waiting under it, plus one (0: none).
    by_id: Vec<u32>,
    /// When each send's wait ends: (time, flight, its query's number, its sends then).
    due: BinaryHeap<Reverse<(Instant, usize, u64, usize)>>,
    control: Control,
    in_flight: usize,
    timeout: Duration,
    tries: usize,
    over_tcp: FuturesUnordered<Pin<Box<dyn Future<Output = Done> + Send>>>,
    timer: Pin<Box<tokio::time::Sleep>>,
    buffers: Vec<u8>,
    lengths: Vec<usize>,
    /// Queries ended outside a round's `done` (a server unreachable while sending).
    ended: Vec<Done>,
}

impl Ring {
    /// Opens a socket to each of `servers`, with at most `most_in_flight` queries
    /// outstanding, each sent at most `tries` times within `timeout` x `tries`.
    pub fn new(
        servers: &[SocketAddr],
        most_in_flight: usize,
        timeout: Duration,
        tries: usize,
    ) -> io::Result<Ring> {
        if servers.is_empty() {
            return Err(io::Error::other("no DNS server to ask"));
        }
        let mut ring = Ring {
            servers: servers.to_vec(),
            lanes: Vec::new(),
            active: Vec::new(),
            flights: Vec::new(),
            free: Vec::new(),
            by_id: vec![0; 1 << 16],
            due: BinaryHeap::new(),
            control: Control::new(64, most_in_flight),
            in_flight: 0,
            timeout,
            tries: tries.max(1),
            over_tcp: FuturesUnordered::new(),
            timer: Box::pin(tokio::time::sleep(Duration::ZERO)),
            buffers: vec![0; batch::SLOT * batch::BATCH],
            lengths: vec![0; batch::BATCH],
            ended: Vec::new(),
        };
        for server in 0..servers.len() {
            let lane = ring.open(server)?;
            ring.active.push(lane);
        }
        Ok(ring)
    }

    fn open(&mut self, server: usize) -> io::Result<usize> {
        let lane = Lane {
            socket: udp::socket_for(self.servers[server])?,
            server,
            outbox: Vec::new(),
            sent: 0,
            waiting: 0,
            retired: false,
        };
        match self.lanes.iter().position(Option::is_none) {
            Some(free) => {
                self.lanes[free] = Some(lane);
                Ok(free)
            }
            None => {
                self.lanes.push(Some(lane));
                Ok(self.lanes.len() - 1)
            }
        }
    }

    /// Whether the window has room for another query.
    pub fn has_room(&self) -> bool {
        self.control.admits(self.in_flight)
    }

    /// Whether nothing is waiting for an answer.
    pub fn idle(&self) -> bool {
        self.in_flight == 0 && self.over_tcp.is_empty()
    }

    /// Asks for the A records of `name` (absolute) under the caller's number `token`; the
    /// answer comes out of `wait`. A name that cannot be asked is refused at once.
    pub fn ask(&mut self, token: u64, name: &str) -> Result<(), String> {
        let now = Instant::now();
        let index = match self.free.pop() {
            Some(index) => index,
            None => {
                self.flights.push(Flight {
                    token,
                    qname: Vec::new(),
                    sends: Vec::new(),
                    first: now,
                    deadline: now,
                    wait: Duration::ZERO,
                    live: false,
                });
                self.flights.len() - 1
            }
        };
        let flight = &mut self.flights[index];
        if let Err(why) = udp::question_into(name, &mut flight.qname) {
            self.free.push(index);
            return Err(why);
        }
        let tries = u32::try_from(self.tries).unwrap_or(u32::MAX);
        flight.token = token;
        flight.sends.clear();
        flight.first = now;
        flight.deadline = now + self.timeout.saturating_mul(tries);
        flight.wait = self.control.rto().min(self.timeout);
        flight.live = true;
        self.in_flight += 1;
        self.send(index, now);
        Ok(())
    }

    /// Queues one more send of flight `index`, to the next server in turn, under a new id,
    /// and sets when its wait ends.
    fn send(&mut self, index: usize, now: Instant) {
        let attempt = self.flights[index].sends.len();
        let server = (usize::try_from(self.flights[index].token).unwrap_or(0) + attempt)
            % self.servers.len();
        let lane = self.lane_for(server);
        let id = loop {
            let id = rand::random::<u16>();
            if self.by_id[usize::from(id)] == 0 {
                break id;
            }
        };
        self.by_id[usize::from(id)] = u32::try_from(index + 1).unwrap_or(0);
        let flight = &mut self.flights[index];
        flight.sends.push((id, lane));
        let last = attempt + 1 >= self.tries;
        let until = if last {
            flight.deadline
        } else {
            (now + flight.wait).min(flight.deadline)
        };
        let sends = flight.sends.len();
        if let Some(lane) = self.lanes[lane].as_mut() {
            // Written in place: a packet is a few hundred bytes, not worth a copy.
            lane.outbox.push(Packet {
                len: 0,
                bytes: [0; PACKET_MAX],
            });
            if let Some(packet) = lane.outbox.last_mut() {
                packet.len =
                    udp::write_query(&mut packet.bytes, id, &flight.qname, udp::TYPE_A, true);
            }
            lane.sent += 1;
            lane.waiting += 1;
        }
        let token = flight.token;
        self.due.push(Reverse((until, index, token, sends)));
    }

    /// The lane taking sends to `server`: one that has sent its share is retired and
    /// replaced by one on a new port (if no socket can be had, the old one goes on).
    fn lane_for(&mut self, server: usize) -> usize {
        let current = self.active[server];
        let spent = self.lanes[current]
            .as_ref()
            .is_some_and(|lane| lane.sent >= udp::ROTATE_AFTER);
        if !spent {
            return current;
        }
        match self.open(server) {
            Ok(fresh) => {
                if let Some(old) = self.lanes[current].as_mut() {
                    old.retired = true;
                }
                self.active[server] = fresh;
                self.retire_if_done(current);
                fresh
            }
            Err(_) => {
                if let Some(lane) = self.lanes[current].as_mut() {
                    lane.sent = 0;
                }
                current
            }
        }
    }

    /// Closes a retired lane once nothing waits on it and it has nothing left to send.
    fn retire_if_done(&mut self, lane: usize) {
        if self.lanes[lane]
            .as_ref()
            .is_some_and(|l| l.retired && l.waiting == 0 && l.outbox.is_empty())
        {
            self.lanes[lane] = None;
        }
    }

    /// Ends flight `index` with `answer`.
    fn finish(&mut self, index: usize, answer: Answer, now: Instant, done: &mut Vec<Done>) {
        let (token, first) = self.release(index);
        done.push((token, answer, now.saturating_duration_since(first)));
    }

    /// Frees flight `index`, its ids and its place in the window; returns its number and
    /// when it was first sent.
    fn release(&mut self, index: usize) -> (u64, Instant) {
        let flight = &mut self.flights[index];
        flight.live = false;
        let sends = std::mem::take(&mut flight.sends);
        for &(id, lane) in &sends {
            self.by_id[usize::from(id)] = 0;
            if let Some(l) = self.lanes[lane].as_mut() {
                l.waiting = l.waiting.saturating_sub(1);
            }
            self.retire_if_done(lane);
        }
        let flight = &mut self.flights[index];
        flight.sends = sends;
        self.in_flight -= 1;
        self.free.push(index);
        (flight.token, flight.first)
    }

    /// Waits until at least one query is answered or given up, and adds every one that is
    /// to `done`. Returns at once if nothing is in flight. Safe to drop at any point: a
    /// round of work is finished before it yields.
    pub async fn wait(&mut self, done: &mut Vec<Done>) {
        if self.idle() {
            return;
        }
        std::future::poll_fn(|cx| self.poll_round(cx, done)).await;
    }

    fn poll_round(&mut self, cx: &mut Context<'_>, done: &mut Vec<Done>) -> Poll<()> {
        let now = Instant::now();
        self.flush(cx);
        for lane in 0..self.lanes.len() {
            self.read(lane, cx, now, done);
        }
        self.expire(now, done);
        while let Poll::Ready(Some(answered)) = self.over_tcp.poll_next_unpin(cx) {
            done.push(answered);
        }
        // Resends queued by `expire` go out in this round too.
        self.flush(cx);
        done.append(&mut self.ended);
        if !done.is_empty() || self.idle() {
            return Poll::Ready(());
        }
        if let Some(Reverse((at, ..))) = self.due.peek() {
            self.timer.as_mut().reset((*at).into());
            if self.timer.as_mut().poll(cx).is_ready() {
                // Due already: the caller's next round takes it.
                cx.waker().wake_by_ref();
            }
        }
        Poll::Pending
    }

    /// Sends what each lane has queued, as many per system call as the socket takes.
    fn flush(&mut self, cx: &mut Context<'_>) {
        let mut failed: Vec<(usize, io::Error)> = Vec::new();
        for (index, slot) in self.lanes.iter_mut().enumerate() {
            let Some(lane) = slot.as_mut() else { continue };
            let mut sent = 0;
            while sent < lane.outbox.len() {
                match lane.socket.poll_send_ready(cx) {
                    Poll::Ready(Ok(())) => {}
                    Poll::Ready(Err(e)) => {
                        failed.push((index, e));
                        break;
                    }
                    Poll::Pending => break,
                }
                let fd = lane.socket.as_raw_fd();
                let packets = &lane.outbox[sent..];
                match lane
                    .socket
                    .try_io(Interest::WRITABLE, || batch::send(fd, packets))
                {
                    Ok(n) => sent += n.max(1),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    // A query whose send fails counts as lost and is sent again on its timer;
                    // an ICMP error from the server is that server's answer to everything.
                    Err(e) if udp::is_unreachable(&e) => {
                        failed.push((index, e));
                        sent += 1;
                    }
                    Err(_) => sent += 1,
                }
            }
            lane.outbox.drain(..sent);
        }
        for (lane, error) in failed {
            self.unreachable(lane, &error);
        }
        for lane in 0..self.lanes.len() {
            self.retire_if_done(lane);
        }
    }

    /// Reads every reply that has arrived on `lane`.
    fn read(&mut self, lane: usize, cx: &mut Context<'_>, now: Instant, done: &mut Vec<Done>) {
        loop {
            let Some(l) = self.lanes[lane].as_ref() else {
                return;
            };
            match l.socket.poll_recv_ready(cx) {
                Poll::Ready(Ok(())) => {}
                Poll::Ready(Err(_)) | Poll::Pending => return,
            }
            let fd = l.socket.as_raw_fd();
            let (buffers, lengths) = (&mut self.buffers, &mut self.lengths);
            let read = match l
                .socket
                .try_io(Interest::READABLE, || batch::receive(fd, buffers, lengths))
            {
                Ok(read) => read,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                Err(e) if udp::is_unreachable(&e) => {
                    self.unreachable(lane, &e);
                    continue;
                }
                Err(_) => return,
            };
            for slot in 0..read {
                let start = slot * batch::SLOT;
                self.deliver(start, start + self.lengths[slot], now, done);
            }
        }
    }

    /// Hands the reply in `buffers[start..end]` to the flight whose id and name it carries;
    /// anything else is not an answer and is dropped (the socket is connected: it came from
    /// the server's address and port).
    fn deliver(&mut self, start: usize, end: usize, now: Instant, done: &mut Vec<Done>) {
        let reply = &self.buffers[start..end];
        if reply.len() < 12 {
            return;
        }
        let id = u16::from_be_bytes([reply[0], reply[1]]);
        let Some(index) = (self.by_id[usize::from(id)] as usize).checked_sub(1) else {
            return;
        };
        let flight = &self.flights[index];
        let name_end = 12 + flight.qname.len();
        if !flight.live
            || reply.len() < name_end
            || !reply[12..name_end].eq_ignore_ascii_case(&flight.qname)
        {
            return;
        }
        if flight.sends.len() == 1 {
            self.control
                .answered(now.saturating_duration_since(flight.first));
        }
        let answer = match udp::check_response(reply, &flight.qname, udp::TYPE_A) {
            Err(why) => Answer::Failure(why),
            Ok(()) if udp::truncated(reply) => {
                self.ask_over_tcp(index, now);
                return;
            }
            Ok(()) => udp::decode_a(reply),
        };
        self.finish(index, answer, now, done);
    }

    /// Asks flight `index` again over TCP (its UDP answer was truncated), outside the window.
    fn ask_over_tcp(&mut self, index: usize, now: Instant) {
        let flight = &self.flights[index];
        let server = flight
            .sends
            .last()
            .and_then(|&(_, lane)| self.lanes[lane].as_ref())
            .map_or(self.servers[0], |lane| self.servers[lane.server]);
        let left = flight
            .deadline
            .saturating_duration_since(now)
            .max(self.timeout);
        let qname = flight.qname.clone();
        let (token, first) = self.release(index);
        self.over_tcp.push(Box::pin(async move {
            let answer = match udp::over_tcp(server, &qname, udp::TYPE_A, true, left).await {
                Ok(reply) => udp::decode_a(&reply),
                Err(why) => Answer::Failure(why),
            };
            (token, answer, first.elapsed())
        }));
    }

    /// Sends again, or gives up, every flight whose wait has ended.
    fn expire(&mut self, now: Instant, done: &mut Vec<Done>) {
        while let Some(&Reverse((at, index, token, sends))) = self.due.peek() {
            if at > now {
                break;
            }
            self.due.pop();
            let flight = &self.flights[index];
            // A flight answered since (and perhaps reused for another query), or sent again
            // since, has a later wait of its own.
            if !flight.live || flight.token != token || flight.sends.len() != sends {
                continue;
            }
            if sends >= self.tries || now >= flight.deadline {
                self.finish(index, Answer::Failure(TIMED_OUT.into()), now, done);
                continue;
            }
            self.control.lost(now);
            let flight = &mut self.flights[index];
            flight.wait = udp::next_wait(flight.wait, sends, self.tries, self.timeout);
            self.send(index, now);
        }
    }

    /// The kernel reported an ICMP error from `lane`'s server: every query waiting on it
    /// goes to the next server, or, with none left to try, fails with that reason.
    fn unreachable(&mut self, lane: usize, error: &io::Error) {
        let Some(server) = self.lanes[lane].as_ref().map(|l| l.server) else {
            return;
        };
        let why = udp::unreachable_reason(self.servers[server], error);
        let now = Instant::now();
        let waiting: Vec<usize> = (0..self.flights.len())
            .filter(|&i| {
                let f = &self.flights[i];
                f.live && f.sends.last().is_some_and(|&(_, l)| l == lane)
            })
            .collect();
        let mut ended = std::mem::take(&mut self.ended);
        for index in waiting {
            if self.servers.len() > 1 && self.flights[index].sends.len() < self.tries {
                self.send(index, now);
            } else {
                self.finish(index, Answer::Failure(why.clone()), now, &mut ended);
            }
        }
        self.ended = ended;
    }
}
