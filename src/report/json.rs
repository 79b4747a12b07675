//! `check --format json`: one document, stable for scripts, described in the README.

use std::io::{self, Write};

use serde::Serialize;

use super::{Summary, delist_procedure};
use crate::check::{Outcome, RunSummary};
use crate::dns::{Health, Status};
use crate::domain::{Member, Role};
use crate::lists::Policy;

/// Everything besides the report that the document carries.
pub struct Context<'a> {
    /// The DNS servers used.
    pub resolvers: Vec<String>,
    /// Problems with the setup (a public resolver).
    pub warnings: &'a [String],
    /// Lists that were asked for and skipped (a missing key).
    pub notes: &'a [String],
    /// Targets as typed.
    pub targets: &'a [String],
    /// The mail domains checked (`check --domain`): their setup as found in DNS.
    pub domains: &'a [serde_json::Value],
}

/// One role a result plays in a mail domain, and how it got there.
#[derive(Serialize)]
struct RoleDoc<'a> {
    domain: &'a str,
    role: Role,
    path: &'a str,
}

#[derive(Serialize)]
struct TargetDoc<'a> {
    target: &'a str,
    addresses: Vec<String>,
    error: Option<&'a str>,
}

#[derive(Serialize)]
struct ResultDoc<'a> {
    target: &'a str,
    address: &'a str,
    list: &'a str,
    zone: &'a str,
    query: &'a str,
    policy: Policy,
    status: Status,
    codes: Vec<String>,
    meanings: &'a [String],
    txt: &'a [String],
    delist_url: Option<&'a str>,
    delist: Option<String>,
    detail: Option<&'a str>,
    elapsed_ms: u64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    roles: Vec<RoleDoc<'a>>,
}

#[derive(Serialize)]
struct ListDoc<'a> {
    id: &'a str,
    name: &'a str,
    zone: &'a str,
    policy: Policy,
    health: Health,
    detail: Option<&'a str>,
}

#[derive(Serialize)]
struct SummaryDoc<'a> {
    listed: usize,
    clear: usize,
    refused: usize,
    bogus: usize,
    error: usize,
    unhealthy: usize,
    blocklisted: usize,
    allowlisted: usize,
    unanswered_targets: &'a [String],
    elapsed_ms: u64,
    exit_code: u8,
}

/// Writes one result object, with the roles it plays in the mail domains checked.
pub fn result(out: &mut dyn Write, o: &Outcome, members: &[Member]) -> io::Result<()> {
    let roles = members
        .iter()
        .filter(|m| m.covers(&o.target, &o.address))
        .map(|m| RoleDoc {
            domain: &m.domain,
            role: m.role,
            path: &m.path,
        })
        .collect();
    let doc = ResultDoc {
        target: &o.target,
        address: &o.address,
        list: &o.list.id,
        zone: &o.list.zone,
        query: &o.query,
        policy: o.list.policy,
        status: o.status,
        codes: o.codes.iter().map(ToString::to_string).collect(),
        meanings: &o.meanings,
        txt: &o.txt,
        delist_url: o.delist_url.as_deref(),
        delist: (o.status == Status::Listed && o.list.policy == Policy::Block)
            .then(|| delist_procedure(&o.list, o))
            .flatten(),
        detail: o.detail.as_deref(),
        elapsed_ms: millis(o.elapsed),
        roles,
    };
    serde_json::to_writer(out, &doc).map_err(io::Error::from)
}

/// Writes the JSON document of a run as its results come: the header first, each result as
/// it is known (one per line), then lists, targets, notes and the summary. Memory does not
/// grow with the number of results.
pub struct Stream<W: Write> {
    out: W,
    first: bool,
}

impl<W: Write> Stream<W> {
    /// Starts the document.
    pub fn begin(mut out: W, ctx: &Context<'_>) -> io::Result<Stream<W>> {
        let json = |v: &dyn erased::Json| v.to_json();
        write!(
            out,
            "{{\n\"version\": 1,\n\"resolvers\": {},\n\"warnings\": {},\n\"results\": [",
            json(&ctx.resolvers),
            json(&ctx.warnings)
        )?;
        Ok(Stream { out, first: true })
    }

    /// Writes one result, with the roles it plays in the mail domains checked.
    pub fn result(&mut self, o: &Outcome, members: &[Member]) -> io::Result<()> {
        self.out
            .write_all(if self.first { b"\n" } else { b",\n" })?;
        self.first = false;
        result(&mut self.out, o, members)
    }

    /// Writes results rendered elsewhere: each one `,\n` then its object (see `result`).
    pub fn rendered(&mut self, results: &[u8]) -> io::Result<()> {
        // The first result of the document has no comma before it.
        let results = match results.strip_prefix(b",") {
            Some(rest) if self.first => rest,
            _ => results,
        };
        if !results.is_empty() {
            self.first = false;
        }
        self.out.write_all(results)
    }

    /// Hands what is written so far on to the reader.
    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    /// Ends the document with what is known only at the end, and flushes it.
    pub fn end(mut self, run: &RunSummary, summary: &Summary, ctx: &Context<'_>) -> io::Result<()> {
        let targets: Vec<TargetDoc<'_>> = ctx
            .targets
            .iter()
            .map(|t| {
                let resolved = run.resolutions.iter().find(|r| &r.target == t);
                TargetDoc {
                    target: t,
                    addresses: resolved
                        .map(|r| r.addresses.iter().map(ToString::to_string).collect())
                        .unwrap_or_default(),
                    error: resolved.and_then(|r| r.error.as_deref()),
                }
            })
            .collect();
        let lists: Vec<ListDoc<'_>> = run
            .lists
            .iter()
            .map(|h| ListDoc {
                id: &h.list.id,
                name: &h.list.name,
                zone: &h.list.zone,
                policy: h.list.policy,
                health: h.health,
                detail: h.detail.as_deref(),
            })
            .collect();
        let summary = SummaryDoc {
            listed: summary.count(Status::Listed),
            clear: summary.count(Status::Clear),
            refused: summary.count(Status::Refused),
            bogus: summary.count(Status::Bogus),
            error: summary.count(Status::Error),
            unhealthy: summary.count(Status::Unhealthy),
            blocklisted: summary.blocklisted,
            allowlisted: summary.allowlisted,
            unanswered_targets: &summary.unanswered_targets,
            elapsed_ms: millis(run.elapsed),
            exit_code: summary.exit_code(),
        };
        let fault = run.fault.as_ref().map(|f| {
            serde_json::json!({
                "kind": f.kind,
                "resolver": f.resolver,
                "lists": f.lists,
                "checked": f.checked,
                "message": f.to_string(),
            })
        });
        let json = |v: &dyn erased::Json| v.to_json();
        writeln!(
            self.out,
            "\n],\n\"resolver_fault\": {},\n\"notes\": {},\n\"targets\": {},{}\n\"lists\": {},\n\"summary\": {}\n}}",
            json(&fault),
            json(&ctx.notes),
            json(&targets),
            if ctx.domains.is_empty() {
                String::new()
            } else {
                format!("\n\"domains\": {},", json(&ctx.domains))
            },
            json(&lists),
            json(&summary)
        )?;
        self.out.flush()
    }
}

/// How many results go to the writing thread at a time.
const BATCH: usize = 256;

/// A document's results rendered and written on a thread of their own. In a bulk run the
/// JSON and the write calls cost about a fifth of what the queries do, and the thread that
/// sends and reads them is the one the run waits on; another core takes that fifth.
/// Results are handed over in batches, and what is written is flushed at least every `every`,
/// so a reader of a slow run still sees results as they come.
pub struct Background<W: Write + Send + 'static> {
    batch: Vec<Outcome>,
    to_writer: Option<std::sync::mpsc::SyncSender<Vec<Outcome>>>,
    writer: std::thread::JoinHandle<(Stream<W>, io::Result<()>)>,
    every: std::time::Duration,
    handed: std::time::Instant,
}

impl<W: Write + Send + 'static> Background<W> {
    /// Starts writing the results of `doc` (begun), each with its roles among `members`.
    pub fn start(
        doc: Stream<W>,
        members: Vec<Member>,
        every: std::time::Duration,
    ) -> io::Result<Background<W>> {
        // A few batches queued at most: memory stays bounded if the output is slow.
        let (to_writer, batches) = std::sync::mpsc::sync_channel::<Vec<Outcome>>(4);
        let writer = std::thread::Builder::new()
            .name("json".into())
            .spawn(move || write_batches(doc, &members, &batches, every))?;
        Ok(Background {
            batch: Vec::with_capacity(BATCH),
            to_writer: Some(to_writer),
            writer,
            every,
            handed: std::time::Instant::now(),
        })
    }

    /// Queues one result.
    pub fn push(&mut self, outcome: Outcome) {
        self.batch.push(outcome);
        // The clock is read once in a while, not for every result.
        if self.batch.len() >= BATCH
            || (self.batch.len() % 16 == 1 && self.handed.elapsed() >= self.every)
        {
            self.hand_over();
        }
    }

    fn hand_over(&mut self) {
        let batch = std::mem::replace(&mut self.batch, Vec::with_capacity(BATCH));
        // The writer stops taking batches only after a write failed; `finish` reports it.
        if let Some(to_writer) = &self.to_writer
            && to_writer.send(batch).is_err()
        {
            self.to_writer = None;
        }
        self.handed = std::time::Instant::now();
    }

    /// Writes what is queued and hands back the document, or the first write error.
    pub fn finish(mut self) -> io::Result<Stream<W>> {
        if !self.batch.is_empty() {
            self.hand_over();
        }
        drop(self.to_writer.take());
        let (doc, written) = self
            .writer
            .join()
            .map_err(|_| io::Error::other("the thread writing results failed"))?;
        written.map(|()| doc)
    }
}

/// The writing thread: every result of every batch, a flush at least every `every` while
/// results come, and the first error kept (later batches are taken and dropped).
fn write_batches<W: Write>(
    mut doc: Stream<W>,
    members: &[Member],
    batches: &std::sync::mpsc::Receiver<Vec<Outcome>>,
    every: std::time::Duration,
) -> (Stream<W>, io::Result<()>) {
    use std::sync::mpsc::RecvTimeoutError;
    let mut written = Ok(());
    let mut unflushed = false;
    let mut flushed = std::time::Instant::now();
    loop {
        match batches.recv_timeout(every) {
            Ok(batch) => {
                if written.is_ok() {
                    written = batch.iter().try_for_each(|o| doc.result(o, members));
                    unflushed = true;
                }
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => break,
        }
        if unflushed && written.is_ok() && flushed.elapsed() >= every {
            written = doc.flush();
            unflushed = false;
            flushed = std::time::Instant::now();
        }
    }
    if written.is_ok() {
        written = doc.flush();
    }
    (doc, written)
}

/// Serialising through a trait object, for the pieces of the streamed document.
mod erased {
    /// Anything serialisable, as compact JSON.
    pub(super) trait Json {
        fn to_json(&self) -> String;
    }

    impl<T: serde::Serialize> Json for T {
        fn to_json(&self) -> String {
            serde_json::to_string(self).unwrap_or_else(|_| "null".into())
        }
    }
}

fn millis(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}
