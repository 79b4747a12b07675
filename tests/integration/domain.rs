//! `check --domain`: a mail domain's MX hosts, SPF sending addresses and name, against a real
//! rbldnsd for the lists, with the domain's records from an in-process hickory-server, both
//! behind one loopback front (`SplitDns`).

use std::collections::HashMap;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, Mutex};

use hickory_server::proto::rr::rdata::{A, AAAA, MX, PTR, TXT};
use hickory_server::proto::rr::{Name, RData};

use crate::support::dns_server::{FakeDns, Reply};
use crate::support::rbldnsd::{Rbldnsd, SOA};
use crate::support::split_dns::SplitDns;
use crate::support::{CODES, Run, entry, rblwatch, shared_dir, write_file};

fn name(host: &str) -> Name {
    if host == "." {
        return Name::root();
    }
    Name::from_ascii(format!("{host}.")).expect("name")
}
fn mx(pref: u16, host: &str) -> RData {
    RData::MX(MX::new(pref, name(host)))
}
/// A TXT record, in strings of at most 255 bytes as DNS requires (a long SPF record is
/// published this way and read back joined).
fn txt(text: &str) -> RData {
    let strings = text
        .as_bytes()
        .chunks(255)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect();
    RData::TXT(TXT::new(strings))
}
fn a(ip: &str) -> RData {
    RData::A(A(ip.parse::<Ipv4Addr>().expect("ipv4")))
}
fn aaaa(ip: &str) -> RData {
    RData::AAAA(AAAA(ip.parse::<Ipv6Addr>().expect("ipv6")))
}
fn ptr(host: &str) -> RData {
    RData::PTR(PTR(name(host)))
}

/// The mail domains of the tests, as a zone: name -> records.
fn zone() -> HashMap<String, Reply> {
    let mut z: HashMap<String, Vec<RData>> = HashMap::new();
    let mut add = |n: &str, r: RData| z.entry(n.to_string()).or_default().push(r);
    // shop.example: two MX hosts, an SPF record with an include chain, `a:` and an ip4 range.
    add("shop.example", mx(10, "mx1.shop.example"));
    add("shop.example", mx(20, "mx2.shop.example"));
    add(
        "shop.example",
        txt("v=spf1 ip4:198.51.100.0/30 a:out.shop.example include:_spf.provider.example -all"),
    );
    add("shop.example", txt("google-site-verification=abc"));
    add("shop.example", a("192.0.2.80"));
    add("mx1.shop.example", a("192.0.2.25"));
    add("mx1.shop.example", aaaa("2001:db8::25"));
    add("mx2.shop.example", a("192.0.2.26"));
    add("out.shop.example", a("192.0.2.30"));
    add(
        "_spf.provider.example",
        txt("v=spf1 ip4:203.0.113.0/30 include:_spf2.provider.example ~all"),
    );
    add("_spf2.provider.example", txt("v=spf1 ip4:203.0.113.8 ?all"));
    add("_dmarc.shop.example", txt("v=DMARC1; p=reject"));
    add("25.2.0.192.in-addr.arpa", ptr("mx1.shop.example"));
    add("26.2.0.192.in-addr.arpa", ptr("elsewhere.example"));
    // An include loop; more than 10 lookups; macros and exists.
    add("loop.example", txt("v=spf1 include:loop2.example -all"));
    add(
        "loop2.example",
        txt("v=spf1 ip4:192.0.2.60 include:loop.example -all"),
    );
    let includes: String = (1..=11)
        .map(|n| format!(" include:i{n}.many.example"))
        .collect();
    add("many.example", txt(&format!("v=spf1{includes} -all")));
    for n in 1..=11 {
        add(
            &format!("i{n}.many.example"),
            txt(&format!("v=spf1 ip4:198.18.0.{n} -all")),
        );
    }
    add(
        "macro.example",
        txt("v=spf1 exists:%{i}.spf.macro.example include:%{d}.x.example ip4:192.0.2.99 +all"),
    );
    // An SPF range wider than a pass checks per target.
    add(
        "huge.example",
        txt("v=spf1 ip4:198.18.0.0/15 ip4:192.0.2.99 -all"),
    );
    // An SPF range wider than a check takes without --force.
    add("wide.example", txt("v=spf1 ip4:198.18.0.0/22 -all"));
    // A null MX; no MX at all (mail goes to the domain's own address).
    add("null.example", mx(0, "."));
    add("null.example", txt("v=spf1 -all"));
    add("implicit.example", a("192.0.2.77"));
    // greet.example: its MX is on loopback, where the doctor's greeting check can reach it.
    add("greet.example", mx(10, "mx.greet.example"));
    add("greet.example", txt("v=spf1 mx ~all"));
    add("greet.example", txt("v=spf1 -all"));
    add(
        "_dmarc.greet.example",
        txt("v=DMARC1; rua=mailto:d@greet.example"),
    );
    add("mx.greet.example", a("127.0.0.1"));
    add("1.0.0.127.in-addr.arpa", ptr("mx.greet.example"));
    let mut replies: HashMap<String, Reply> =
        z.into_iter().map(|(k, v)| (k, Reply::Records(v))).collect();
    replies.insert("broken.example".into(), Reply::ServFail);
    replies
}

/// rbldnsd with the lists, the mail zone in-process (changeable while it runs), one front
/// for both.
struct MailLab {
    front: SplitDns,
    catalog: std::path::PathBuf,
    zone: Arc<Mutex<HashMap<String, Reply>>>,
    _rbl: Rbldnsd,
    _server: FakeDns,
    dir: tempfile::TempDir,
}

impl MailLab {
    fn start() -> MailLab {
        let rbl = Rbldnsd::start(&[
            (
                "bl.test",
                "ip4set",
                &format!(
                    "{SOA}:127.0.0.2:Listed, see https://bl.test/?ip=$\n127.0.0.2\n192.0.2.25\n203.0.113.8\n192.0.2.77\n192.0.2.99\n"
                ),
            ),
            (
                "dom.test",
                "dnset",
                &format!("{SOA}:127.0.1.2:Domain listed\ntest\nmacro.example\n"),
            ),
        ]);
        let zone = Arc::new(Mutex::new(zone()));
        let replies = zone.clone();
        let server = FakeDns::start(move |n| {
            replies
                .lock()
                .expect("zone")
                .get(n)
                .cloned()
                .unwrap_or(Reply::NxDomain)
        });
        let rbl_addr: SocketAddr = rbl.addr().parse().expect("addr");
        let zone_addr: SocketAddr = server.addr().parse().expect("addr");
        let front = SplitDns::start(
            vec![("bl.test".into(), rbl_addr), ("dom.test".into(), rbl_addr)],
            zone_addr,
        );
        let dir = shared_dir();
        let dom_codes = "codes = [ { code = \"127.0.1.2\", meaning = \"spam domain\" } ]";
        let catalog = [
            entry("bl", "bl.test", "\"ipv4\"", CODES),
            entry("dom", "dom.test", "\"domain\"", dom_codes),
        ]
        .concat();
        let catalog = write_file(dir.path(), "lists.toml", &catalog);
        MailLab {
            front,
            catalog,
            zone,
            _rbl: rbl,
            _server: server,
            dir,
        }
    }

    /// Replaces the records of `name`.
    fn set(&self, name: &str, reply: Reply) {
        self.zone.lock().expect("zone").insert(name.into(), reply);
    }

    /// Runs `rblwatch --lists LAB --config CONFIG ARGS...` with the lab's config.
    fn watch(&self, config: &std::path::Path, args: &[&str]) -> Run {
        let catalog = self.catalog.to_string_lossy().into_owned();
        let config = config.to_string_lossy().into_owned();
        let mut all = vec!["--lists", catalog.as_str(), "--config", config.as_str()];
        all.extend_from_slice(args);
        rblwatch(&all, &[])
    }

    fn check(&self, args: &[&str]) -> Run {
        let catalog = self.catalog.to_string_lossy().into_owned();
        let server = self.front.addr();
        let mut all = vec!["--lists", catalog.as_str(), "check"];
        all.extend_from_slice(args);
        all.extend_from_slice(&["--nameserver", server.as_str(), "--timeout", "2"]);
        rblwatch(&all, &[])
    }

    fn json(&self, domain: &str) -> (i32, serde_json::Value) {
        let run = self.check(&["--domain", domain, "--format", "json", "-v"]);
        let doc = run.json();
        (run.code, doc)
    }
}

/// The result rows about `address` on `list`.
fn rows<'a>(doc: &'a serde_json::Value, address: &str, list: &str) -> Vec<&'a serde_json::Value> {
    doc["results"]
        .as_array()
        .expect("results")
        .iter()
        .filter(|r| r["address"] == address && r["list"] == list)
        .collect()
}

#[test]
fn a_domain_is_checked_by_role_with_the_path_to_each_address() {
    let lab = MailLab::start();
    let (code, doc) = lab.json("shop.example");
    assert_eq!(code, 1, "{doc:#}");
    let setup = &doc["domains"][0];
    assert_eq!(setup["domain"], "shop.example");
    let sources: Vec<&str> = setup["spf"]["sources"]
        .as_array()
        .expect("sources")
        .iter()
        .map(|s| s["target"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(
        sources,
        [
            "198.51.100.0/30",
            "192.0.2.30",
            "203.0.113.0/30",
            "203.0.113.8"
        ],
        "{setup:#}"
    );
    assert_eq!(setup["spf"]["lookups"], 3, "a:, include:, include:");
    assert_eq!(setup["complete"], true);

    // The outbound address, listed, reached through two includes.
    let r = rows(&doc, "203.0.113.8", "bl");
    assert_eq!(r.len(), 1, "{doc:#}");
    assert_eq!(r[0]["status"], "listed");
    assert_eq!(
        r[0]["roles"],
        serde_json::json!([{
            "domain": "shop.example",
            "role": "sending",
            "path": "spf: include:_spf.provider.example include:_spf2.provider.example ip4:203.0.113.8"
        }])
    );
    // An MX host's address, listed, as receiving; its IPv6 address is asked too (no IPv6
    // list here) and the host name goes to the domain list.
    let r = rows(&doc, "192.0.2.25", "bl");
    assert_eq!(r[0]["status"], "listed");
    assert_eq!(r[0]["roles"][0]["role"], "receiving");
    assert_eq!(r[0]["roles"][0]["path"], "mx 10 mx1.shop.example");
    assert_eq!(rows(&doc, "mx1.shop.example", "dom")[0]["status"], "clear");
    // The domain itself, on the domain list only: its web server (192.0.2.80) is not a mail
    // server and is not asked.
    let r = rows(&doc, "shop.example", "dom");
    assert_eq!(r[0]["status"], "clear");
    assert_eq!(r[0]["roles"][0]["role"], "domain");
    assert!(rows(&doc, "192.0.2.80", "bl").is_empty(), "{doc:#}");
    // Every address of the SPF range is asked, with the range's path.
    let r = rows(&doc, "198.51.100.2", "bl");
    assert_eq!(r[0]["roles"][0]["path"], "spf: ip4:198.51.100.0/30");
    // Reverse DNS: confirmed for mx1, not for mx2.
    let reverse = setup["reverse_dns"].as_array().expect("reverse");
    let of = |ip: &str| {
        reverse
            .iter()
            .find(|r| r["address"] == ip)
            .map(|r| r["reverse"].clone())
            .unwrap_or_else(|| panic!("no reverse DNS for {ip}: {setup:#}"))
    };
    assert_eq!(
        of("192.0.2.25"),
        serde_json::json!({"state": "confirmed", "names": "mx1.shop.example"})
    );
    assert_eq!(of("192.0.2.26")["state"], "unconfirmed");
    assert_eq!(of("192.0.2.30")["state"], "missing");

    // The table groups by role and names the path.
    let run = lab.check(&["--domain", "shop.example"]);
    assert_eq!(run.code, 1, "{run:?}");
    let out = &run.stdout;
    for want in [
        "Mail domain shop.example:",
        "receives: MX 10 mx1.shop.example 192.0.2.25, 2001:db8::25",
        "Sending (addresses the SPF record authorises):",
        "of shop.example: spf: include:_spf.provider.example include:_spf2.provider.example ip4:203.0.113.8",
        "Receiving (MX hosts):",
        "of shop.example: mx 10 mx1.shop.example",
        "reverse DNS: 192.0.2.26  elsewhere.example (does not resolve back to it)",
    ] {
        assert!(out.contains(want), "want `{want}` in:\n{out}");
    }
    let sending = out.find("Sending").expect("sending");
    let receiving = out.find("Receiving").expect("receiving");
    assert!(sending < receiving, "{out}");
}

#[test]
fn spf_loops_limits_and_macros_are_said_and_what_was_found_is_checked() {
    let lab = MailLab::start();
    let notes = |doc: &serde_json::Value| doc["domains"][0]["spf"]["notes"].to_string();

    let (_, doc) = lab.json("loop.example");
    assert!(
        notes(&doc).contains("loops back to loop.example"),
        "{doc:#}"
    );
    assert_eq!(
        rows(&doc, "192.0.2.60", "bl").len(),
        1,
        "found before the loop: {doc:#}"
    );

    let (_, doc) = lab.json("many.example");
    assert!(notes(&doc).contains("more than 10 DNS lookups"), "{doc:#}");
    let sources = doc["domains"][0]["spf"]["sources"]
        .as_array()
        .expect("sources")
        .len();
    assert_eq!(sources, 10, "the first ten includes are followed: {doc:#}");
    assert!(rows(&doc, "198.18.0.11", "bl").is_empty());

    let (code, doc) = lab.json("macro.example");
    let said = notes(&doc);
    assert!(
        said.contains("exists:%{i}.spf.macro.example") && said.contains("not expandable"),
        "{said}"
    );
    assert!(
        said.contains("include:%{d}.x.example") && said.contains("macro"),
        "{said}"
    );
    assert!(
        said.contains("lets any host on the internet send"),
        "+all: {said}"
    );
    assert_eq!(rows(&doc, "192.0.2.99", "bl").len(), 1);
    assert_eq!(rows(&doc, "macro.example", "dom")[0]["status"], "listed");
    assert_eq!(code, 1);
}

#[test]
fn null_mx_implicit_mx_and_a_failing_domain_are_told_apart() {
    let lab = MailLab::start();
    let (_, doc) = lab.json("null.example");
    assert_eq!(doc["domains"][0]["mx"]["kind"], "null", "{doc:#}");
    assert!(
        doc["domains"][0]["notes"]
            .to_string()
            .contains("accepts no mail")
    );

    // No MX: the domain's own address receives its mail, and is checked as such.
    let (code, doc) = lab.json("implicit.example");
    assert_eq!(doc["domains"][0]["mx"]["kind"], "implicit", "{doc:#}");
    let r = rows(&doc, "192.0.2.77", "bl");
    assert_eq!(r[0]["status"], "listed", "{doc:#}");
    assert!(
        r[0]["roles"]
            .as_array()
            .expect("roles")
            .iter()
            .any(|role| role["role"] == "receiving"),
        "{doc:#}"
    );
    assert_eq!(code, 1);

    // A domain whose lookups fail is not taken for one without mail servers.
    let (code, doc) = lab.json("broken.example");
    assert_eq!(doc["domains"][0]["mx"]["kind"], "failed", "{doc:#}");
    assert_eq!(doc["domains"][0]["complete"], false);
    assert_ne!(
        code, 0,
        "a setup that could not be seen is not all clear: {doc:#}"
    );
}

#[test]
fn a_watched_domain_records_who_joins_and_leaves_its_setup_and_names_the_role_in_alerts() {
    let lab = MailLab::start();
    let hook = crate::support::servers::Webhook::start(crate::support::servers::free_tcp_port());
    let config = write_file(
        lab.dir.path(),
        "rblwatch.toml",
        &format!(
            "store = \"state.db\"\n[resolver]\nnameservers = [\"{}\"]\ntimeout = 2\n\
             [[target]]\ndomain = \"shop.example\"\nlabel = \"shop\"\n\
             [notify]\n[[notify.webhook]]\nurl = \"http://127.0.0.1:{}/hook\"\n",
            lab.front.addr(),
            hook.port
        ),
    );
    // First pass: the setup is the baseline, the listings are alerted with their role.
    let run = lab.watch(&config, &["run", "--format", "json"]);
    assert_eq!(run.code, 1, "{run:?}");
    let doc = run.json();
    let events = doc["events"].as_array().expect("events");
    assert!(
        !events.iter().any(|e| e["policy"] == "setup"),
        "the first reading is no change: {doc:#}"
    );
    let posts = hook.posts();
    assert_eq!(posts.len(), 1, "{posts:?}");
    let listings = posts[0].1["event"]["listings"]
        .as_array()
        .expect("listings")
        .clone();
    let outbound = listings
        .iter()
        .find(|i| i["address"] == "203.0.113.8")
        .unwrap_or_else(|| panic!("{listings:#?}"));
    assert_eq!(outbound["label"], "shop");
    assert_eq!(
        outbound["roles"],
        serde_json::json!([{
            "domain": "shop.example",
            "role": "sending",
            "path": "spf: include:_spf.provider.example include:_spf2.provider.example ip4:203.0.113.8"
        }])
    );

    // The SPF record changes: 192.0.2.30 (a:) leaves, 198.51.100.9 joins.
    lab.set(
        "shop.example",
        Reply::Records(vec![
            mx(10, "mx1.shop.example"),
            mx(20, "mx2.shop.example"),
            txt("v=spf1 ip4:198.51.100.0/30 ip4:198.51.100.9 include:_spf.provider.example -all"),
        ]),
    );
    let run = lab.watch(&config, &["run"]);
    assert!(
        run.stdout.contains(
            "ADDED    198.51.100.9 to shop.example's mail setup as sending: spf: ip4:198.51.100.9"
        ),
        "{run:?}"
    );
    assert!(
        run.stdout
            .contains("REMOVED  192.0.2.30 from shop.example's mail setup as sending"),
        "{run:?}"
    );
    let posts = hook.posts();
    let last = &posts.last().expect("a post").1["event"];
    assert_eq!(last["kind"], "digest", "{last:#}");
    let changes = last["setup_changes"].as_array().expect("setup changes");
    assert!(
        changes.iter().any(|c| c["address"] == "198.51.100.9"
            && c["change"] == "added"
            && c["role"] == "sending"),
        "{changes:#?}"
    );
    let history = lab.watch(&config, &["history"]);
    assert!(
        history.stdout.contains("ADDED    198.51.100.9"),
        "{history:?}"
    );

    // The provider's SPF cannot be read: nothing is taken as gone, and it is said.
    lab.set("_spf.provider.example", Reply::ServFail);
    let run = lab.watch(&config, &["run", "--format", "json"]);
    let doc = run.json();
    assert!(
        !doc["events"]
            .as_array()
            .expect("events")
            .iter()
            .any(|e| e["new_status"] == "removed" || e["new_status"] == "unwatched"),
        "{doc:#}"
    );
    assert!(
        doc.to_string().contains("could not be read whole"),
        "{doc:#}"
    );
    // Its last known outbound address is still checked (and still listed).
    assert_eq!(run.code, 1, "{run:?}");
    let status = lab.watch(&config, &["status"]);
    assert!(status.stdout.contains("203.0.113.8"), "{status:?}");
}

#[test]
fn a_domain_target_in_the_config_is_checked_for_what_it_is() {
    let lab = MailLab::start();
    for (text, want) in [
        (
            "[[target]]\ndomain = \"192.0.2.1\"\n",
            "is not a domain name",
        ),
        (
            "[[target]]\ndomain = \"shop.example\"\naddress = \"192.0.2.1\"\n",
            "either `address` or `domain`",
        ),
        ("[[target]]\nlabel = \"x\"\n", "needs `address`"),
    ] {
        let config = write_file(lab.dir.path(), "bad.toml", text);
        let run = lab.watch(&config, &["config", "check"]);
        assert_eq!(run.code, 2, "{text}: {run:?}");
        assert!(run.stderr.contains(want), "{text}: {}", run.stderr);
    }
}

#[test]
fn doctor_says_what_is_wrong_with_a_domain_and_why() {
    use crate::support::servers::{Smtp, SmtpOptions, free_tcp_port};
    let lab = MailLab::start();
    let doctor = |args: &[&str]| {
        let catalog = lab.catalog.to_string_lossy().into_owned();
        let server = lab.front.addr();
        let mut all = vec![
            "--lists",
            catalog.as_str(),
            "doctor",
            "--nameserver",
            server.as_str(),
            "--timeout",
            "2",
            "--format",
            "json",
        ];
        all.extend_from_slice(args);
        let run = rblwatch(&all, &[]);
        let doc = run.json();
        let findings: Vec<(String, String, String)> = doc["findings"]
            .as_array()
            .expect("findings")
            .iter()
            .filter(|f| f["area"] == "domain")
            .map(|f| {
                (
                    f["level"].as_str().unwrap_or_default().to_string(),
                    f["subject"].as_str().unwrap_or_default().to_string(),
                    f["message"].as_str().unwrap_or_default().to_string(),
                )
            })
            .collect();
        (run.code, findings)
    };
    let has = |found: &[(String, String, String)], level: &str, subject: &str, text: &str| {
        assert!(
            found
                .iter()
                .any(|(l, s, m)| l == level && s == subject && m.contains(text)),
            "want {level} {subject} `{text}` in {found:#?}"
        );
    };

    // A good setup, with one MX whose reverse DNS does not lead back.
    let (_, found) = doctor(&["--domain", "shop.example"]);
    has(
        &found,
        "ok",
        "shop.example",
        "one SPF record, 3 of 10 DNS lookups, ending in -all",
    );
    has(&found, "ok", "_dmarc.shop.example", "p=reject");
    has(
        &found,
        "ok",
        "mx1.shop.example",
        "MX 10 resolves to 192.0.2.25, 2001:db8::25",
    );
    has(
        &found,
        "ok",
        "mx1.shop.example (192.0.2.25)",
        "forward-confirmed",
    );
    has(
        &found,
        "warning",
        "mx2.shop.example (192.0.2.26)",
        "does not resolve back",
    );

    // Two SPF records, a DMARC record without p=, and the greeting checked against the PTR.
    let smtp = Smtp::start(
        free_tcp_port(),
        &SmtpOptions {
            server_name: Some("wrong.greet.example"),
            ..SmtpOptions::default()
        },
    );
    let port = smtp.port.to_string();
    let (code, found) = doctor(&["--domain", "greet.example", "--smtp", "--smtp-port", &port]);
    has(&found, "error", "greet.example", "2 SPF records");
    has(&found, "error", "_dmarc.greet.example", "no p= tag");
    has(
        &found,
        "ok",
        "mx.greet.example (127.0.0.1)",
        "forward-confirmed",
    );
    has(
        &found,
        "warning",
        "mx.greet.example (127.0.0.1)",
        "greets as wrong.greet.example, but its reverse DNS says localhost",
    );
    assert_eq!(code, 2, "errors: {found:#?}");
    drop(smtp);
    let smtp = Smtp::start(
        free_tcp_port(),
        &SmtpOptions {
            server_name: Some("localhost"),
            ..SmtpOptions::default()
        },
    );
    let port = smtp.port.to_string();
    let (_, found) = doctor(&["--domain", "greet.example", "--smtp", "--smtp-port", &port]);
    has(
        &found,
        "ok",
        "mx.greet.example (127.0.0.1)",
        "greets as localhost, the name its reverse DNS gives",
    );

    // +all, more than 10 lookups, no DMARC.
    let (_, found) = doctor(&["--domain", "macro.example", "--domain", "many.example"]);
    has(
        &found,
        "error",
        "macro.example",
        "lets any host on the internet send",
    );
    has(&found, "error", "many.example", "more than 10 DNS lookups");
    has(&found, "warning", "_dmarc.many.example", "no DMARC record");
}

#[test]
fn spf_ranges_count_toward_the_force_limit() {
    let lab = MailLab::start();
    let run = lab.check(&["--domain", "wide.example"]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(
        run.stderr.contains("198.18.0.0/22") && run.stderr.contains("--force"),
        "{}",
        run.stderr
    );
    let run = lab.check(&["--domain", "wide.example", "--force", "--format", "json"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(rows(&run.json(), "198.18.3.255", "bl").len(), 1);
}

#[test]
fn a_watched_domain_never_walks_a_range_wider_than_a_target_may_hold() {
    let lab = MailLab::start();
    let config = write_file(
        lab.dir.path(),
        "rblwatch.toml",
        &format!(
            "store = \"state.db\"\n[resolver]\nnameservers = [\"{}\"]\ntimeout = 2\n\
             [[target]]\ndomain = \"huge.example\"\n",
            lab.front.addr()
        ),
    );
    let run = lab.watch(&config, &["run", "--format", "json"]);
    let doc = run.json();
    let problems = doc["run"]["problems"].to_string();
    assert!(
        problems.contains("198.18.0.0/15") && problems.contains("not checked"),
        "{doc:#}"
    );
    assert!(
        doc["run"]["answers"].as_u64().unwrap_or(u64::MAX) < 100,
        "{doc:#}"
    );
    assert_eq!(run.code, 1, "192.0.2.99 is checked and listed: {run:?}");
}
