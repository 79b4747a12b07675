//! The daemon's status page at `/`, loaded in a real headless browser: a store with a
//! listing that came, went and came back, a removal request now overdue, an allowlist hit, a
//! list failing its health check, a target no list could check, and mails an SMTP server
//! refused.

use std::path::{Path, PathBuf};

use crate::daemon::{Daemon, get, request};
use crate::support::browser;
use crate::support::rbldnsd::{Rbldnsd, SOA};
use crate::support::servers::free_tcp_port;
use crate::support::{rblwatch, shared_dir, write_file};

const DAY: i64 = 86_400;
/// 2026-11-01T00:00:00Z: the first pass.
const T0: i64 = 1_793_491_200;

const CATALOG: &str = r#"[[list]]
id = "w"
name = "Test W"
zone = "w.test"
query = ["ipv4"]
sources = ["test"]
delist = { url = "https://w.test/lookup?ip={address}", method = "automatic", expires_after_days = 2, note = "Goes by itself two days after the abuse stops." }
codes = [ { code = "127.0.0.2", meaning = "test listing" } ]

[[list]]
id = "good"
name = "Test Allow"
zone = "good.test"
query = ["ipv4"]
policy = "allow"
sources = ["test"]
codes = [ { code = "127.0.0.2", meaning = "known good sender" } ]

[[list]]
id = "sick"
name = "Test Sick"
zone = "sick.test"
query = ["ipv4"]
sources = ["test"]
delist = { method = "automatic" }
codes = [ { code = "127.0.0.2", meaning = "listed" } ]
"#;

/// w.test's data: the test point, and 192.0.2.5 when `listed`, with `<script>` in its
/// reason (a TXT from outside the page's control).
fn w_data(listed: bool) -> String {
    let mut text = format!("{SOA}:127.0.0.2:Listed <script>alert(1)</script> $\n127.0.0.2\n");
    if listed {
        text.push_str("192.0.2.5\n");
    }
    text
}

/// rbldnsd with the three zones, and a config watching 192.0.2.5 (mx1), 192.0.2.6 and
/// 2001:db8::25 (no list asks IPv6: never checked), mailing through a port nobody listens on.
struct Scene {
    dns: Rbldnsd,
    dir: tempfile::TempDir,
    config: PathBuf,
}

impl Scene {
    fn start() -> Scene {
        let dns = Rbldnsd::start(&[
            ("w.test", "ip4set", &w_data(true)),
            (
                "good.test",
                "ip4set",
                &format!("{SOA}:127.0.0.2:Known good\n127.0.0.2\n192.0.2.5\n"),
            ),
            // Lists its own negative test point: not believed.
            (
                "sick.test",
                "ip4set",
                &format!("{SOA}:127.0.0.2:Everything\n127.0.0.1\n127.0.0.2\n192.0.2.5\n"),
            ),
        ]);
        let dir = shared_dir();
        let catalog = write_file(dir.path(), "lists.toml", CATALOG);
        let smtp = free_tcp_port();
        let config = write_file(
            dir.path(),
            "rblwatch.toml",
            &format!(
                r#"store = "state.db"
[lists]
catalogs = ["{}"]
only = ["w", "good", "sick"]
[resolver]
nameservers = ["{}"]
timeout = 0.5
attempts = 1
[[target]]
address = "192.0.2.5"
label = "mx1"
contacts = ["postmaster@example.com"]
[[target]]
address = "192.0.2.6"
[[target]]
address = "2001:db8::25"
label = "mx6"
[notify]
retry_limit = 2
[notify.smtp]
host = "127.0.0.1"
port = {smtp}
security = "none"
from = "rblwatch@example.com"
timeout = 2
"#,
                catalog.display(),
                dns.addr()
            ),
        );
        Scene { dns, dir, config }
    }

    fn at(&self, args: &[&str], now: i64) -> crate::support::Run {
        let config = self.config.to_string_lossy().into_owned();
        let mut all = vec!["--config", config.as_str()];
        all.extend_from_slice(args);
        rblwatch(&all, &[("RBLWATCH_NOW", &now.to_string())])
    }

    fn pass(&self, now: i64) {
        let run = self.at(&["run"], now);
        // 3: the IPv6 target is never checked.
        assert!(matches!(run.code, 0 | 1 | 3), "{run:?}");
    }

    fn listed(&self, listed: bool) {
        self.dns
            .rewrite(0, &w_data(listed), "5.2.0.192.w.test", listed);
    }

    /// Starts the daemon at `now` with its listener on a free port.
    fn daemon(&self, now: i64) -> (Daemon, u16) {
        let port = free_tcp_port();
        let mut text = std::fs::read_to_string(&self.config).expect("config");
        // A bare port: the listener is on loopback.
        text.push_str(&format!(
            "[schedule]\ncron = \"0 0 1 1 *\"\ntimezone = \"UTC\"\n[metrics]\nlisten = \"{port}\"\n"
        ));
        std::fs::write(&self.config, text).expect("config");
        let d = Daemon::start_env(&self.config, &[("RBLWATCH_NOW", &now.to_string())]);
        d.wait_for("the listener", |log| log.contains("serving metrics"));
        (d, port)
    }

    fn dir(&self) -> &Path {
        self.dir.path()
    }
}

/// Listed on day 0, clear on day 5, listed again on day 10; removal requested an hour later;
/// the list's own period (2 days) is long past on day 14, when the page is read.
fn history() -> Scene {
    let s = Scene::start();
    s.pass(T0);
    s.listed(false);
    s.pass(T0 + 5 * DAY);
    s.listed(true);
    s.pass(T0 + 10 * DAY);
    let asked = s.at(
        &["delist", "192.0.2.5", "--list", "w", "--requested"],
        T0 + 10 * DAY + 3600,
    );
    assert_eq!(asked.code, 0, "{asked:?}");
    s
}

#[test]
fn the_status_page_shows_the_store_in_a_real_browser() {
    let s = history();
    let (d, port) = s.daemon(T0 + 14 * DAY);
    let url = format!("http://127.0.0.1:{port}/");
    let dom = browser::dom(&url, 1200, 900);
    let text = browser::text(&dom);
    let has = |what: &str| assert!(text.contains(what), "{what:?} not on the page:\n{text}");
    // The verdict, and the listing with everything needed to get off it.
    has("LISTED: 1 listing on blocklists");
    has("192.0.2.5 is listed on Test W (w.test) since 2026-11-11T00:00:00Z overdue");
    has("code 127.0.0.2: test listing");
    has("the list says: Listed <script>alert(1)</script> 192.0.2.5");
    has("how to get off it (automatic)");
    has(
        "removal requested 2026-11-11T01:00:00Z. Overdue: the list's own period (2 days) has passed",
    );
    assert!(
        dom.contains("href=\"https://w.test/lookup?ip=192.0.2.5\""),
        "{dom}"
    );
    // The TXT reason is text, not markup: the browser built no script element from it.
    assert!(!dom.contains("<script"), "{dom}");
    // The allowlist hit, the target no list could check, the unhealthy list.
    has("On the allowlist Test Allow: 192.0.2.5");
    has("2001:db8::25 (mx6) not checked");
    has(
        "Not checked by the last pass: what is shown may be out of date. Last definite answer: never.",
    );
    has("192.0.2.6 clear");
    has("Test Sick sick.test unhealthy");
    has("1 list failed its health check");
    // The last pass, and the outbox: the day-10 mail waits, the earlier two were given up.
    has("Last pass 2026-11-11T00:00:00Z");
    has("3 targets");
    has("1 notification waiting");
    has("2 notifications failed");
    has("[rblwatch] 192.0.2.5 (mx1) listed on Test W");
    has("Connection refused");
    // The timeline: a lane for 192.0.2.5 on w, drawn as SVG rectangles in time order.
    has("History, last 30 days");
    has("192.0.2.5 on Test W (listed now)");
    let lane = dom
        .split("<svg")
        .nth(1)
        .and_then(|rest| rest.split("</svg>").next())
        .unwrap_or_else(|| panic!("no svg in\n{dom}"));
    let classes: Vec<&str> = lane
        .split("<rect class=\"")
        .skip(1)
        .filter_map(|r| r.split('"').next())
        .collect();
    assert_eq!(
        classes,
        ["unrecorded", "listed", "clear", "listed"],
        "{lane}"
    );
    has("listed: 2026-11-01T00:00:00Z to 2026-11-06T00:00:00Z (5 days)");
    has("clear: 2026-11-06T00:00:00Z to 2026-11-11T00:00:00Z (5 days)");
    has("listed: 2026-11-11T00:00:00Z to 2026-11-15T00:00:00Z (4 days)");

    // Links switch the window without a script; a shorter one starts inside the first
    // listing; a bad one is refused.
    assert!(dom.contains("<a href=\"?days=7\">7</a>"), "{dom}");
    assert!(dom.contains("<strong>30</strong>"), "{dom}");
    let week = browser::text(&browser::dom(&format!("{url}?days=7"), 1200, 900));
    assert!(week.contains("History, last 7 days"), "{week}");
    assert!(
        week.contains("listed: 2026-11-08T00:00:00Z to 2026-11-15T00:00:00Z (7 days)"),
        "{week}"
    );
    for bad in ["?days=0", "?days=x", "?days=99999", "?colour=red"] {
        let (status, body) = get(port, &format!("/{bad}"));
        assert!(status.starts_with("HTTP/1.1 400"), "{bad}: {status} {body}");
    }
    // The page comes with a policy that runs no script and loads nothing.
    let response = request(port, "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n");
    let head = response.split("\r\n\r\n").next().unwrap_or_default();
    assert!(
        head.contains("Content-Type: text/html; charset=utf-8"),
        "{head}"
    );
    assert!(
        head.contains("Content-Security-Policy: default-src 'none'"),
        "{head}"
    );
    drop(d);
}

#[test]
fn the_page_reads_on_a_phone() {
    let s = history();
    let (d, port) = s.daemon(T0 + 14 * DAY);
    let dom = browser::dom(&format!("http://127.0.0.1:{port}/"), 390, 844);
    // The page asks for the device's width (no zoomed-out desktop page) and its wide tables
    // scroll inside their box rather than widening the page.
    assert!(
        dom.contains("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"),
        "{dom}"
    );
    assert!(dom.contains("<div class=\"scroll\"><table>"), "{dom}");
    assert!(browser::text(&dom).contains("LISTED: 1 listing"), "{dom}");
    drop(d);
}

#[test]
fn before_any_pass_the_page_says_unknown_never_clear() {
    let s = Scene::start();
    let (d, port) = s.daemon(T0);
    let text = browser::text(&browser::dom(
        &format!("http://127.0.0.1:{port}/"),
        1200,
        900,
    ));
    assert!(text.contains("UNKNOWN: no pass has run yet"), "{text}");
    assert!(!text.contains("CLEAR"), "{text}");
    assert!(text.contains("No pass has run yet."), "{text}");
    drop(d);
}

#[test]
fn an_overriding_template_draws_the_page_and_a_broken_one_is_named() {
    let s = history();
    let dir = s.dir().join("templates");
    std::fs::create_dir(&dir).expect("dir");
    std::fs::write(
        dir.join("status.html"),
        "<!DOCTYPE html><title>ours</title><p id=n>{{ listed }} listed; {% for t in targets %}{{ t.target }} {% endfor %}</p>\n",
    )
    .expect("template");
    let text = std::fs::read_to_string(&s.config).expect("config");
    let text = text.replace(
        "[notify]\n",
        &format!("[notify]\ntemplates = \"{}\"\n", dir.display()),
    );
    std::fs::write(&s.config, text).expect("config");
    let (d, port) = s.daemon(T0 + 14 * DAY);
    let page = browser::text(&browser::dom(
        &format!("http://127.0.0.1:{port}/"),
        1200,
        900,
    ));
    assert_eq!(
        page, "ours 1 listed; 192.0.2.5 192.0.2.6 2001:db8::25",
        "{page}"
    );

    // An override that names what the page does not have is found by `config check`, with its
    // file and line, before any visitor sees a 500.
    std::fs::write(dir.join("status.html"), "ok\n{{ no_such_thing }}\n").expect("template");
    let checked = s.at(&["config", "check"], T0 + 14 * DAY);
    assert_ne!(checked.code, 0, "{checked:?}");
    assert!(
        checked.stderr.contains(&format!(
            "{}:2:1: template error",
            dir.join("status.html").display()
        )),
        "{checked:?}"
    );
    let (status, body) = get(port, "/");
    assert!(status.starts_with("HTTP/1.1 500"), "{status}");
    assert!(body.contains("status.html:2:1"), "{body}");
    drop(d);
}
