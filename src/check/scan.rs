//! Mirror-only work at the speed of memory. When every selected list answers IPv4 from a
//! healthy local mirror and every target is an IPv4 address or range, nothing is sent and no
//! task is spawned: the addresses are cut into chunks that a thread per core takes in turn,
//! each thread answers its chunk from the mirrors and renders what the output needs (JSON
//! rows, the outcomes a table or the Nagios line keep, the counts), and the chunks are handed
//! on in order, a few at most ahead of the writer, so memory stays flat.
//!
//! The answers are those `stream` gives: the same lookup, classification and rendering. A
//! clear answer's JSON row is the general row of a clear outcome, rendered once per chunk and
//! list with the address left out and filled in per address.

use std::collections::BTreeMap;
use std::io;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Condvar, Mutex, mpsc};
use std::time::Instant;

use super::work::{self, Segment, Subject};
use super::{
    CheckRequest, ListHealth, Outcome, Progress, RunSummary, blank, mirror_answer, settle_mirror,
};
use crate::dns::{Answer, Health, Status, classify};
use crate::lists::{ActiveList, QueryKind};
use crate::mirror::{Asked, Mirror};
use crate::report::Summary;
use crate::target::TargetKind;

/// Pairs per chunk: enough that handing a chunk on costs nothing against it, few enough that
/// the chunks waiting to be written (their JSON rows) stay a few megabytes.
const CHUNK_PAIRS: usize = 5120;

/// What the caller keeps of each answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keep {
    /// Every answer as a JSON row (`report::json::result`); no outcome kept.
    Json,
    /// The outcomes a table shows (`report::table::shown`).
    Table {
        /// Every outcome, clear ones included.
        verbose: bool,
    },
    /// Block listings only (the Nagios line).
    Listings,
}

impl Keep {
    /// Whether the caller keeps `o`.
    pub fn wants(self, o: &Outcome) -> bool {
        match self {
            Keep::Json => false,
            Keep::Table { verbose } => crate::report::table::shown(o, verbose),
            Keep::Listings => o.is_block_listing(),
        }
    }
}

/// One chunk's answers, as the output needs them.
#[derive(Debug, Default)]
pub struct Chunk {
    /// With `Keep::Json`: its rows, each `,\n` then the object.
    pub json: Vec<u8>,
    /// The outcomes kept.
    pub kept: Vec<Outcome>,
    /// Its counts.
    pub summary: Summary,
}

/// A run answered from mirrors alone.
pub struct Scan {
    lists: Vec<(ActiveList, Arc<Mirror>)>,
    health: Vec<ListHealth>,
    segments: Vec<Segment>,
    targets: Vec<Arc<str>>,
    progress: Option<Arc<Progress>>,
    started: Instant,
}

/// The part of the work a thread takes next.
struct Piece {
    n: u64,
    owner: usize,
    first: u32,
    last: u32,
}

/// Hands out the pieces in order, never more than `ahead` past the last one written.
struct Dealer {
    state: Mutex<DealerState>,
    written: Condvar,
    ahead: u64,
    /// Addresses per piece.
    size: u32,
}

struct DealerState {
    segment: usize,
    next_address: Option<u32>,
    next: u64,
    written: u64,
    stop: bool,
}

impl Dealer {
    fn take(&self, segments: &[Segment]) -> Option<Piece> {
        let mut s = self.state.lock().ok()?;
        while !s.stop && s.next >= s.written + self.ahead {
            s = self.written.wait(s).ok()?;
        }
        if s.stop {
            return None;
        }
        let Segment::V4 { start, end, owner } = *segments.get(s.segment)? else {
            return None;
        };
        let first = s.next_address.unwrap_or(start);
        let last = first.saturating_add(self.size - 1).min(end);
        if last == end {
            s.segment += 1;
            s.next_address = None;
        } else {
            s.next_address = Some(last + 1);
        }
        let n = s.next;
        s.next += 1;
        Some(Piece {
            n,
            owner,
            first,
            last,
        })
    }

    fn wrote(&self, n: u64) {
        if let Ok(mut s) = self.state.lock() {
            s.written = n + 1;
        }
        self.written.notify_all();
    }

    fn stop(&self) {
        if let Ok(mut s) = self.state.lock() {
            s.stop = true;
        }
        self.written.notify_all();
    }
}

impl Scan {
    /// The scan of `request`, when it applies: every selected list serves IPv4 and has a
    /// mirror that reads and passes its test points (when they are checked), no daily limit
    /// is in the way, and every target is an IPv4 address or range. None: the run takes the
    /// general way, which says what is wrong.
    pub fn new(request: &CheckRequest) -> Option<Scan> {
        if request.targets.iter().any(|t| match &t.kind {
            TargetKind::Name(_) => true,
            TargetKind::Ip(ip) => !ip.to_canonical().is_ipv4(),
            TargetKind::Net(net) => !net.network.to_canonical().is_ipv4(),
        }) {
            return None;
        }
        let segments = work::segments(&request.targets, &[]);
        if segments.is_empty() || segments.iter().any(|s| !matches!(s, Segment::V4 { .. })) {
            return None;
        }
        let addresses: u128 = segments.iter().map(Segment::len).sum();
        let mut lists = Vec::new();
        let mut health = Vec::new();
        for active in &request.lists {
            let list = &active.list;
            let source = list.mirror.as_ref()?;
            if !list.serves(QueryKind::Ipv4)
                || list.limits.daily.is_some_and(|d| {
                    let used = request.used_today.get(&list.id).copied().unwrap_or(0);
                    u128::from(d.saturating_sub(used)) < addresses + 2
                })
            {
                return None;
            }
            let mirror = crate::mirror::load(source).ok()?;
            let (state, detail) = if request.verify {
                let point = |p: &str| {
                    let subject = Subject::test_point(p);
                    classify::classify(list, &mirror_answer(&Ok(mirror.clone()), &subject).0)
                };
                crate::dns::classify::health(
                    list,
                    &point(&list.test.positive),
                    &point(&list.test.negative),
                )
            } else {
                (Health::Unchecked, None)
            };
            // An unhealthy list's answers are shown as not believed: the general way does it.
            if !state.is_trusted() {
                return None;
            }
            health.push(ListHealth {
                list: list.clone(),
                health: state,
                detail,
            });
            lists.push((active.clone(), mirror));
        }
        if lists.is_empty() {
            return None;
        }
        Some(Scan {
            lists,
            health,
            segments,
            targets: request
                .targets
                .iter()
                .map(|t| Arc::from(t.text.as_str()))
                .collect(),
            progress: request.progress.clone(),
            started: Instant::now(),
        })
    }

    /// Answers every pair, handing `each` the chunks in order (an error from it stops the
    /// run and is returned), and says what the run found besides. `each` takes what it keeps
    /// of a chunk; its JSON buffer is used again for a later chunk.
    pub fn run(
        self,
        keep: Keep,
        resolver: &str,
        each: &mut dyn FnMut(&mut Chunk) -> io::Result<()>,
    ) -> io::Result<RunSummary> {
        let total: u128 =
            self.segments.iter().map(Segment::len).sum::<u128>() * self.lists.len() as u128;
        if let Some(p) = &self.progress {
            p.total
                .store(u64::try_from(total).unwrap_or(u64::MAX), Ordering::Relaxed);
        }
        let threads = std::thread::available_parallelism().map_or(1, usize::from);
        tracing::debug!(
            pairs = u64::try_from(total).unwrap_or(u64::MAX),
            threads,
            "answered from local mirrors alone"
        );
        let dealer = Dealer {
            state: Mutex::new(DealerState {
                segment: 0,
                next_address: None,
                next: 0,
                written: 0,
                stop: false,
            }),
            written: Condvar::new(),
            ahead: 2 * threads as u64 + 2,
            size: u32::try_from((CHUNK_PAIRS / self.lists.len()).max(16)).unwrap_or(16),
        };
        let (done, chunks) = mpsc::channel::<(u64, Chunk)>();
        // Written buffers are used again: a fresh one per chunk would be mapped and faulted
        // in page by page, a cost as large as the rendering.
        let spare: Mutex<Vec<Vec<u8>>> = Mutex::new(Vec::new());
        let mut failed: Option<io::Error> = None;
        std::thread::scope(|scope| {
            for _ in 0..threads {
                let (dealer, done, scan, spare) = (&dealer, done.clone(), &self, &spare);
                scope.spawn(move || {
                    while let Some(piece) = dealer.take(&scan.segments) {
                        let buffer = spare
                            .lock()
                            .ok()
                            .and_then(|mut s| s.pop())
                            .unwrap_or_default();
                        let chunk = scan.answer(&piece, keep, buffer);
                        if done.send((piece.n, chunk)).is_err() {
                            return;
                        }
                    }
                });
            }
            drop(done);
            // Chunks come as they are done; they are handed on in order.
            let mut waiting: BTreeMap<u64, Chunk> = BTreeMap::new();
            let mut next = 0;
            for (n, chunk) in chunks.iter() {
                waiting.insert(n, chunk);
                while let Some(mut chunk) = waiting.remove(&next) {
                    let pairs = chunk.summary.total() as u64;
                    if let Err(err) = each(&mut chunk) {
                        failed = Some(err);
                        dealer.stop();
                        return;
                    }
                    chunk.json.clear();
                    if let Ok(mut spare) = spare.lock() {
                        spare.push(chunk.json);
                    }
                    if let Some(p) = &self.progress {
                        p.done.fetch_add(pairs, Ordering::Relaxed);
                    }
                    dealer.wrote(next);
                    next += 1;
                }
            }
        });
        if let Some(err) = failed {
            return Err(err);
        }
        Ok(RunSummary {
            sent: self
                .lists
                .iter()
                .map(|(active, _)| (active.list.id.clone(), 0))
                .collect(),
            fault: super::fault::resolver_fault(&self.health, resolver),
            lists: self.health,
            resolutions: Vec::new(),
            notes: Vec::new(),
            elapsed: self.started.elapsed(),
        })
    }

    /// Answers one piece's addresses against every list, in address then list order.
    fn answer(&self, piece: &Piece, keep: Keep, json: Vec<u8>) -> Chunk {
        let target = &self.targets[piece.owner];
        let mut chunk = Chunk {
            json,
            ..Chunk::default()
        };
        // Each list's clear row with the address left out, unless a clear outcome is kept.
        let clear: Vec<Option<ClearRow>> = self
            .lists
            .iter()
            .map(|(active, _)| ClearRow::new(target, active, keep))
            .collect();
        let mut cleared = 0;
        for n in piece.first..=piece.last {
            let ip = Ipv4Addr::from(n);
            for ((active, mirror), row) in self.lists.iter().zip(&clear) {
                if let Some(row) = row
                    && matches!(mirror.answer(Asked::V4(ip)).0, Answer::NxDomain)
                {
                    cleared += 1;
                    if keep == Keep::Json {
                        row.write(&mut chunk.json, ip);
                    }
                    continue;
                }
                let subject = Subject::Ip(IpAddr::V4(ip));
                let mut outcome = blank(target.clone(), &subject, active);
                settle_mirror(&mut outcome, &Ok(mirror.clone()), &subject);
                chunk.summary.add(&outcome);
                if keep == Keep::Json {
                    chunk.json.extend_from_slice(b",\n");
                    // Writing to memory cannot fail.
                    let _ = crate::report::json::result(&mut chunk.json, &outcome, &[]);
                } else if keep.wants(&outcome) {
                    chunk.kept.push(outcome);
                }
            }
        }
        chunk.summary.add_clear(target, cleared);
        chunk
    }
}

/// A list's JSON row for a clear answer, cut where the address goes.
struct ClearRow {
    /// The row's pieces; between them, alternately, the address and its reversed octets.
    pieces: Vec<Vec<u8>>,
    marks: Vec<Mark>,
}

#[derive(Clone, Copy)]
enum Mark {
    Address,
    Reversed,
}

/// Stand-ins for the address and its reversed octets, in the rendered template: private-use
/// characters that no zone, list id, target or URL of the template holds (checked).
const ADDRESS: char = '\u{e000}';
const REVERSED: char = '\u{e001}';

impl ClearRow {
    /// The row of a clear answer of `active` about an address of `target`: None when a clear
    /// outcome is kept (a verbose table), or when it is not what a clear answer is for this
    /// list, or when the catalog text holds a stand-in.
    fn new(target: &Arc<str>, active: &ActiveList, keep: Keep) -> Option<ClearRow> {
        let list = &active.list;
        let url = list
            .delist
            .as_ref()
            .and_then(|d| d.url.as_deref())
            .unwrap_or("");
        if [target.as_ref(), list.zone.as_str(), list.id.as_str(), url]
            .iter()
            .any(|t| t.contains([ADDRESS, REVERSED]))
        {
            return None;
        }
        // A clear answer is NXDOMAIN: settled as any answer is, with the stand-ins for address.
        let mut outcome = blank(
            target.clone(),
            &Subject::Ip(IpAddr::V4(Ipv4Addr::UNSPECIFIED)),
            active,
        );
        outcome.address = ADDRESS.to_string();
        outcome.query = format!("{REVERSED}.{}.", list.zone);
        outcome.delist_url = list
            .delist
            .as_ref()
            .and_then(|d| d.url_for(&outcome.address));
        let verdict = classify::classify(list, &Answer::NxDomain);
        super::settle(&mut outcome, verdict, Vec::new(), std::time::Duration::ZERO);
        if outcome.status != Status::Clear || keep.wants(&outcome) {
            return None;
        }
        let mut rendered = Vec::new();
        crate::report::json::result(&mut rendered, &outcome, &[]).ok()?;
        let text = String::from_utf8(rendered).ok()?;
        let mut pieces: Vec<Vec<u8>> = vec![b",\n".to_vec()];
        let mut marks = Vec::new();
        for c in text.chars() {
            let mark = match c {
                ADDRESS => Mark::Address,
                REVERSED => Mark::Reversed,
                c => {
                    if let Some(piece) = pieces.last_mut() {
                        piece.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes());
                    }
                    continue;
                }
            };
            marks.push(mark);
            pieces.push(Vec::new());
        }
        Some(ClearRow { pieces, marks })
    }

    fn write(&self, out: &mut Vec<u8>, ip: Ipv4Addr) {
        let [a, b, c, d] = ip.octets();
        for (i, piece) in self.pieces.iter().enumerate() {
            out.extend_from_slice(piece);
            match self.marks.get(i) {
                Some(Mark::Address) => octets(out, [a, b, c, d]),
                Some(Mark::Reversed) => octets(out, [d, c, b, a]),
                None => {}
            }
        }
    }
}

/// `a.b.c.d`, as `Ipv4Addr`'s Display writes it.
fn octets(out: &mut Vec<u8>, parts: [u8; 4]) {
    for (i, n) in parts.into_iter().enumerate() {
        if i > 0 {
            out.push(b'.');
        }
        if n >= 100 {
            out.push(b'0' + n / 100);
        }
        if n >= 10 {
            out.push(b'0' + (n / 10) % 10);
        }
        out.push(b'0' + n % 10);
    }
}
