//! Scale and politeness: a /16 through a network that loses queries, a list's rate and daily
//! limits counted at the server.

use std::collections::{BTreeSet, HashMap};
use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::support::dns_server::{FakeDns, Reply};
use crate::support::rbldnsd::{Rbldnsd, SOA};
use crate::support::{CODES, entry, rblwatch, shared_dir, write_file};

/// A UDP relay in front of a DNS server that drops every `nth` query it receives: a lossy
/// network between rblwatch and a real rbldnsd.
struct LossyLink {
    addr: SocketAddr,
    dropped: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
}

impl LossyLink {
    fn start(server: SocketAddr, nth: u64) -> LossyLink {
        let front = UdpSocket::bind("127.0.0.1:0").expect("bind");
        front
            .set_read_timeout(Some(Duration::from_millis(100)))
            .expect("timeout");
        let addr = front.local_addr().expect("addr");
        let dropped = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let front = Arc::new(front);
        let (d, halt) = (dropped.clone(), stop.clone());
        std::thread::spawn(move || {
            // One upstream socket per client socket, each with a thread carrying replies back.
            let mut upstream: HashMap<SocketAddr, Arc<UdpSocket>> = HashMap::new();
            let mut seen = 0u64;
            let mut buf = [0u8; 4096];
            while !halt.load(Ordering::Relaxed) {
                let Ok((n, client)) = front.recv_from(&mut buf) else {
                    continue;
                };
                seen += 1;
                if seen.is_multiple_of(nth) {
                    d.fetch_add(1, Ordering::Relaxed);
                    continue;
                }
                let up = upstream.entry(client).or_insert_with(|| {
                    let up = Arc::new(UdpSocket::bind("127.0.0.1:0").expect("bind"));
                    up.connect(server).expect("connect");
                    up.set_read_timeout(Some(Duration::from_millis(100)))
                        .expect("timeout");
                    let (back, front, halt) = (up.clone(), front.clone(), halt.clone());
                    std::thread::spawn(move || {
                        let mut buf = [0u8; 4096];
                        while !halt.load(Ordering::Relaxed) {
                            if let Ok(n) = back.recv(&mut buf) {
                                let _ = front.send_to(&buf[..n], client);
                            }
                        }
                    });
                    up
                });
                let _ = up.send(&buf[..n]);
            }
        });
        LossyLink {
            addr,
            dropped,
            stop,
        }
    }
}

impl Drop for LossyLink {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

#[test]
fn a_slash_16_through_a_lossy_link_finds_exactly_the_listed_addresses() {
    // Every 97th address of 10.0.0.0/16 is listed.
    let listed: BTreeSet<String> = (0..65_536u32)
        .step_by(97)
        .map(|i| format!("10.0.{}.{}", i >> 8, i & 255))
        .collect();
    let mut data = format!("{SOA}:127.0.0.2:listed $\n127.0.0.2\n");
    for a in &listed {
        data.push_str(a);
        data.push('\n');
    }
    let dns = Rbldnsd::start(&[("s.test", "ip4set", &data)]);
    let link = LossyLink::start(dns.addr().parse().expect("addr"), 10);
    let dir = shared_dir();
    let catalog = write_file(
        dir.path(),
        "lists.toml",
        &entry("s", "s.test", "\"ipv4\"", CODES),
    );
    let run = rblwatch(
        &[
            "--lists",
            &catalog.to_string_lossy(),
            "check",
            "10.0.0.0/16",
            "--force",
            "--nameserver",
            &link.addr.to_string(),
            "--concurrency",
            "512",
            "--timeout",
            "2",
            // At most this many sends of a question: enough that no query loses them all.
            "--attempts",
            "6",
            "--format",
            "json",
        ],
        &[],
    );
    assert_eq!(run.code, 1, "{}", run.stderr);
    let doc = run.json();
    let results = doc["results"].as_array().expect("results");
    assert_eq!(results.len(), 65_536);
    let found: BTreeSet<String> = results
        .iter()
        .filter(|r| r["status"] == "listed")
        .map(|r| r["address"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(found, listed, "exactly the listed addresses");
    // Every other answer is a real clear: nothing lost is reported as clear.
    let others: Vec<&serde_json::Value> =
        results.iter().filter(|r| r["status"] != "listed").collect();
    assert!(
        others.iter().all(|r| r["status"] == "clear"),
        "{:?}",
        others.iter().find(|r| r["status"] != "clear")
    );
    assert!(
        link.dropped.load(Ordering::Relaxed) > 1000,
        "the link dropped {} queries",
        link.dropped.load(Ordering::Relaxed)
    );
}

/// A server for list `r` that records when each query arrives.
fn counting_server() -> (FakeDns, Arc<Mutex<Vec<Instant>>>) {
    let arrivals = Arc::new(Mutex::new(Vec::new()));
    let log = arrivals.clone();
    let server = FakeDns::start(move |name| {
        if let Ok(mut log) = log.lock() {
            log.push(Instant::now());
        }
        if name.starts_with("2.0.0.127.") {
            Reply::A(vec!["127.0.0.2".parse().expect("ip")])
        } else {
            Reply::NxDomain
        }
    });
    (server, arrivals)
}

fn limited_catalog(limits: &str) -> (tempfile::TempDir, String) {
    let dir = shared_dir();
    let catalog = write_file(
        dir.path(),
        "lists.toml",
        &entry(
            "r",
            "r.test",
            "\"ipv4\"",
            &format!("{CODES}limits = {limits}\n"),
        ),
    );
    let path = catalog.to_string_lossy().into_owned();
    (dir, path)
}

#[test]
fn a_list_limited_to_n_queries_a_second_is_never_sent_more() {
    let (server, arrivals) = counting_server();
    let (_dir, catalog) = limited_catalog("{ qps = 20 }");
    let run = rblwatch(
        &[
            "--lists",
            &catalog,
            "check",
            "192.0.2.0/27",
            "--nameserver",
            &server.addr(),
            "--concurrency",
            "256",
            "--format",
            "json",
        ],
        &[],
    );
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(run.json()["summary"]["clear"], 32);
    let times = arrivals.lock().expect("log").clone();
    assert_eq!(times.len(), 34, "32 addresses and 2 test points");
    // In no one-second window did more than 20 queries arrive.
    for (i, start) in times.iter().enumerate() {
        let within = times[i..]
            .iter()
            .take_while(|t| t.duration_since(*start) < Duration::from_millis(950))
            .count();
        assert!(within <= 20, "{within} queries within a second");
    }
}

#[test]
fn a_prompt_server_is_asked_each_question_once() {
    // Lists without a rate of their own go through the bulk engine, whose waits are kept in
    // one timer queue: a wait must end only the send it was set for, never a later query's.
    let (server, arrivals) = counting_server();
    let (_dir, catalog) = limited_catalog("{ daily = 1000000 }");
    let run = rblwatch(
        &[
            "--lists",
            &catalog,
            "check",
            "10.9.0.0/20",
            "--force",
            "--nameserver",
            &server.addr(),
            "--concurrency",
            "64",
            "--timeout",
            "2",
            "--format",
            "json",
        ],
        &[],
    );
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(run.json()["summary"]["clear"], 4096);
    let asked = arrivals.lock().expect("log").len();
    // 4,096 addresses and 2 test points; a few sends again where a reply was slow to come.
    assert!(
        (4098..4098 + 4098 / 50).contains(&asked),
        "{asked} queries for 4098 questions"
    );
}

#[test]
fn a_run_over_a_lists_daily_limit_says_so_and_asks_what_fits() {
    let (server, arrivals) = counting_server();
    let (_dir, catalog) = limited_catalog("{ daily = 10 }");
    let run = rblwatch(
        &[
            "--lists",
            &catalog,
            "check",
            "192.0.2.0/28",
            "--nameserver",
            &server.addr(),
            "--format",
            "json",
        ],
        &[],
    );
    let doc = run.json();
    let notes = doc["notes"].to_string();
    assert!(
        notes.contains(
            "r: 18 queries would pass its limit of 10 a day; only the first 10 are asked"
        ),
        "{notes}"
    );
    assert_eq!(
        arrivals.lock().expect("log").len(),
        10,
        "exactly the budget reached the server"
    );
    assert_eq!(doc["summary"]["clear"], 8);
    assert_eq!(doc["summary"]["error"], 8);
    let unasked = doc["results"]
        .as_array()
        .expect("results")
        .iter()
        .filter(|r| r["status"] == "error")
        .collect::<Vec<_>>();
    assert!(
        unasked.iter().all(|r| r["detail"]
            .as_str()
            .is_some_and(|d| d.contains("daily limit"))),
        "{unasked:?}"
    );
    assert_eq!(
        unasked[0]["address"], "192.0.2.8",
        "the first addresses are the ones asked"
    );
}

#[test]
fn the_config_can_set_a_lists_limits() {
    let (server, arrivals) = counting_server();
    let (dir, catalog) = limited_catalog("{ qps = 1000 }");
    let config = write_file(
        dir.path(),
        "rblwatch.toml",
        &format!(
            "[lists]\ncatalogs = [\"{catalog}\"]\nonly = [\"r\"]\nlimits.r = {{ daily = 5 }}\n[resolver]\nnameservers = [\"{}\"]\n[[target]]\naddress = \"192.0.2.1\"\n",
            server.addr()
        ),
    );
    let run = rblwatch(
        &[
            "--config",
            &config.to_string_lossy(),
            "check",
            "192.0.2.0/28",
            "--format",
            "json",
        ],
        &[],
    );
    let notes = run.json()["notes"].to_string();
    assert!(notes.contains("only the first 5 are asked"), "{notes}");
    assert_eq!(arrivals.lock().expect("log").len(), 5);

    let bad = write_file(
        dir.path(),
        "bad.toml",
        &format!(
            "[lists]\ncatalogs = [\"{catalog}\"]\nlimits.nope = {{ daily = 5 }}\n[[target]]\naddress = \"192.0.2.1\"\n"
        ),
    );
    let run = rblwatch(
        &["--config", &bad.to_string_lossy(), "config", "check"],
        &[],
    );
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains(":3:15: limits for unknown list `nope`"),
        "{}",
        run.stderr
    );
}
