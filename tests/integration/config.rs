//! `rblwatch.toml`: discovery, `init`, `config check`, and every kind of mistake with its line.

use crate::support::{rblwatch, shared_dir, write_file};

const GOOD: &str = r#"store = "state.db"
[lists]
enable = ["barracuda"]
disable = ["uceprotect-3"]
[resolver]
nameservers = ["127.0.0.1:5353"]
timeout = 2.5
[[target]]
address = "192.0.2.25"
label = "mx1"
contacts = ["postmaster@example.com"]
[[target]]
address = "198.51.100.0/28"
"#;

fn check(text: &str) -> crate::support::Run {
    let dir = shared_dir();
    let path = write_file(dir.path(), "rblwatch.toml", text);
    let path = path.to_string_lossy().into_owned();
    let mut run = rblwatch(&["--config", &path, "config", "check"], &[]);
    run.stderr = run.stderr.replace(&path, "CONFIG");
    run
}

#[track_caller]
fn refused(text: &str, lines: &[&str]) {
    let run = check(text);
    assert_eq!(run.code, 2, "{run:?}");
    let got: Vec<&str> = run.stderr.lines().collect();
    assert_eq!(got.len(), lines.len(), "{}", run.stderr);
    for (got, want) in got.iter().zip(lines) {
        assert!(got.starts_with(want), "want `{want}`, got `{got}`");
    }
}

#[test]
fn a_good_config_is_summarised() {
    let run = check(GOOD);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(
        run.stdout
            .contains("targets: 2 (17 address(es) or name(s))"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("barracuda") && !run.stdout.contains("uceprotect-3"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("resolver: 127.0.0.1:5353; timeout 2.5s"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("/state.db"), "{}", run.stdout);
}

#[test]
fn every_mistake_is_named_with_its_line_all_at_once() {
    let text = GOOD
        .replace(
            "\"barracuda\"",
            "\"barracuda\", \"no-such-list\", \"sorbs\"",
        )
        .replace("\"127.0.0.1:5353\"", "\"resolver.example\"")
        .replace("timeout = 2.5", "timeout = 0")
        .replace("\"192.0.2.25\"", "\"192.0.2.256\"")
        .replace("\"postmaster@example.com\"", "\"postmaster\"")
        .replace("198.51.100.0/28", "10.0.0.0/8");
    refused(
        &text,
        &[
            "rblwatch: CONFIG:3:24: unknown list `no-such-list`",
            "rblwatch: CONFIG:3:40: list `sorbs` is defunct since 2024-06-05",
            "rblwatch: CONFIG:6:16: nameserver `resolver.example` must be an IP address",
            "rblwatch: CONFIG:7:11: timeout must be a number of seconds above 0",
            "rblwatch: CONFIG:9:11: 192.0.2.256: not a valid IPv4 address",
            "rblwatch: CONFIG:13:11: `10.0.0.0/8` holds 16777216 addresses; at most 65536",
        ],
    );
    // The contact of a target whose address is fine.
    refused(
        &GOOD.replace("\"postmaster@example.com\"", "\"postmaster\""),
        &["rblwatch: CONFIG:11:13: contact `postmaster` is not a mail address"],
    );
}

#[test]
fn unknown_keys_and_broken_toml_are_refused_with_the_line() {
    refused(
        &format!("{GOOD}colour = 1\n"),
        &["rblwatch: CONFIG:14:1: unknown field `colour`"],
    );
    refused(
        &GOOD.replace("[resolver]", "[resolver]\nretries = 3"),
        &["rblwatch: CONFIG:6:1: unknown field `retries`"],
    );
    refused(
        &GOOD.replace("label = \"mx1\"", "label = \"mx1"),
        &["rblwatch: CONFIG:10:"],
    );
    refused("", &["rblwatch: CONFIG:1:1: no [[target]] to watch"]);
    refused(
        &format!(
            "{GOOD}[notify]\n[notify.smtp]\nhost = \"mail.example.com\"\nsecurity = \"none\"\nfrom = \"rblwatch@example.com\"\n"
        ),
        &[
            "rblwatch: CONFIG:17:12: security = \"none\" sends mail unencrypted; it is only allowed for a server on loopback",
        ],
    );
    refused(
        &format!("{GOOD}[notify]\nrecipients = [\"ops@example.com\"]\n"),
        &["rblwatch: CONFIG:15:15: recipients are given but there is no [notify.smtp]"],
    );
}

#[test]
fn an_unreadable_extra_catalog_or_a_broken_one_is_named() {
    let dir = shared_dir();
    let broken = write_file(
        dir.path(),
        "extra.toml",
        "[[list]]\nid = \"x\"\nbogus = 1\n",
    );
    let text = GOOD.replace(
        "[lists]",
        &format!(
            "[lists]\ncatalogs = [\"missing.toml\", \"{}\"]",
            broken.display()
        ),
    );
    let run = check(&text);
    assert_eq!(run.code, 2, "{run:?}");
    let lines: Vec<&str> = run.stderr.lines().collect();
    assert!(
        lines[0].starts_with("rblwatch: CONFIG:3:13: catalog ")
            && lines[0].contains("missing.toml: No such file"),
        "{}",
        run.stderr
    );
    assert!(
        lines[1].starts_with(&format!(
            "rblwatch: {}:3:1: unknown field `bogus`",
            broken.display()
        )),
        "{}",
        run.stderr
    );
}

#[test]
fn every_command_refuses_a_bad_config_and_a_missing_one_is_explained() {
    let dir = shared_dir();
    let path = write_file(dir.path(), "rblwatch.toml", &format!("{GOOD}colour = 1\n"));
    let path = path.to_string_lossy().into_owned();
    for args in [
        vec!["run"],
        vec!["status"],
        vec!["history"],
        vec!["check", "192.0.2.1"],
        vec!["lists"],
    ] {
        let mut all = vec!["--config", path.as_str()];
        all.extend_from_slice(&args);
        let run = rblwatch(&all, &[]);
        assert_eq!(run.code, 2, "{args:?}: {run:?}");
        assert!(
            run.stderr.contains("unknown field `colour`"),
            "{args:?}: {}",
            run.stderr
        );
    }
    // Found through $RBLWATCH_CONFIG too.
    let run = rblwatch(&["status"], &[("RBLWATCH_CONFIG", path.as_str())]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("unknown field `colour`"),
        "{}",
        run.stderr
    );
    // No config anywhere.
    let run = rblwatch(&["run"], &[]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(
        run.stderr.starts_with(
            "rblwatch: config: no config file: give --config FILE or $RBLWATCH_CONFIG"
        ),
        "{}",
        run.stderr
    );
}

#[test]
fn init_writes_a_valid_example_and_never_overwrites() {
    let dir = shared_dir();
    let path = dir.path().join("etc/rblwatch.toml");
    let path = path.to_string_lossy().into_owned();
    let run = rblwatch(&["init", &path], &[]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(
        run.stdout.starts_with(&format!("wrote {path}")),
        "{}",
        run.stdout
    );
    let written = std::fs::read_to_string(&path).expect("written");
    assert!(
        written.contains("[[target]]") && written.contains("problem_after"),
        "{written}"
    );

    let run = rblwatch(&["--config", &path, "config", "check"], &[]);
    assert_eq!(run.code, 0, "the example is a valid config: {run:?}");
    // ... whose placeholders are called out until they are replaced.
    for placeholder in ["target 192.0.2.25", "contact postmaster@example.com"] {
        assert!(
            run.stdout.contains(&format!(
                "warning: {placeholder} is the example's placeholder"
            )),
            "{}",
            run.stdout
        );
    }

    std::fs::write(&path, "mine").expect("edit");
    let run = rblwatch(&["init", &path], &[]);
    assert_eq!(run.code, 2);
    assert_eq!(
        run.stderr.trim(),
        format!("rblwatch: {path}: already exists; not overwritten")
    );
    assert_eq!(std::fs::read_to_string(&path).expect("kept"), "mine");
}

#[test]
fn check_takes_its_defaults_from_the_config_and_flags_win() {
    // The config's resolver points at a dead port; the flag points elsewhere and wins.
    let dir = shared_dir();
    let port = crate::support::rbldnsd::free_port();
    let text = format!(
        "[resolver]\nnameservers = [\"127.0.0.1:{port}\"]\ntimeout = 0.2\nattempts = 1\n[lists]\nonly = [\"spamcop\"]\n[[target]]\naddress = \"192.0.2.1\"\n"
    );
    let path = write_file(dir.path(), "rblwatch.toml", &text);
    let path = path.to_string_lossy().into_owned();
    let run = rblwatch(
        &["--config", &path, "check", "192.0.2.1", "--format", "json"],
        &[],
    );
    assert_eq!(run.code, 3, "{run:?}");
    let doc = run.json();
    assert_eq!(
        doc["resolvers"],
        serde_json::json!([format!("127.0.0.1:{port}")])
    );
    let lists = crate::support::list_ids(&doc);
    assert_eq!(lists, ["spamcop"]);
    assert_eq!(doc["results"][0]["status"], "error");
}

#[test]
fn probe_allow_takes_addresses_and_networks_only() {
    let with = |allow: &str| {
        format!("{GOOD}[metrics]\nlisten = \"127.0.0.1:9377\"\nprobe_allow = [{allow}]\n")
    };
    assert_eq!(check(&with("\"198.51.100.0/24\", \"2001:db8::1\"")).code, 0);
    refused(
        &with("\"198.51.100.0/24\", \"mail.example.com\""),
        &[
            "rblwatch: CONFIG:16:35: metrics probe_allow `mail.example.com` must be an address or a network (CIDR)",
        ],
    );
}

#[test]
fn a_webhook_url_is_a_web_address_with_a_host() {
    let with = |url: &str| format!("{GOOD}[notify]\n[[notify.webhook]]\nurl = \"{url}\"\n");
    assert_eq!(check(&with("https://hooks.example.com/T0/B0")).code, 0);
    assert_eq!(check(&with("HTTP://127.0.0.1:8080/hook")).code, 0);
    for bad in [
        "hooks.example.com/x",
        "https://",
        "https:///x",
        "https://a b/",
        "ftp://x/",
    ] {
        refused(
            &with(bad),
            &[&format!(
                "rblwatch: CONFIG:16:7: webhook url `{bad}` must be an https:// or http:// address with a host, without spaces"
            )],
        );
    }
}

#[test]
fn a_listen_address_is_ip_and_port_or_a_port_on_loopback() {
    let with = |listen: &str| format!("{GOOD}[metrics]\nlisten = \"{listen}\"\n");
    for good in ["9377", "127.0.0.1:9377", "[::1]:9377", "0.0.0.0:9377"] {
        assert_eq!(check(&with(good)).code, 0, "{good}");
    }
    for bad in ["localhost:9377", "70000", "127.0.0.1", ""] {
        refused(
            &with(bad),
            &[&format!(
                "rblwatch: CONFIG:15:10: metrics listen `{bad}` must be IP:PORT, or a port (on loopback)"
            )],
        );
    }
}

#[test]
fn a_listener_user_needs_a_password_file_and_the_reverse() {
    let metrics = |more: &str| format!("{GOOD}[metrics]\nlisten = \"0.0.0.0:9377\"\n{more}");
    assert_eq!(
        check(&metrics(
            "user = \"prom\"\npassword_file = \"web.password\"\n"
        ))
        .code,
        0
    );
    refused(
        &metrics("user = \"prom\"\n"),
        &["rblwatch: CONFIG:16:8: metrics user needs a password_file"],
    );
    refused(
        &metrics("password_file = \"web.password\"\n"),
        &["rblwatch: CONFIG:16:17: metrics password_file needs a user"],
    );
    refused(
        &metrics("user = \"a:b\"\npassword_file = \"web.password\"\n"),
        &["rblwatch: CONFIG:16:8: metrics user `a:b` must be non-empty, without `:`"],
    );
}

#[test]
fn a_listener_certificate_needs_its_key_and_the_reverse() {
    let metrics = |more: &str| format!("{GOOD}[metrics]\nlisten = \"0.0.0.0:9377\"\n{more}");
    refused(
        &metrics("tls_cert = \"web.pem\"\n"),
        &["rblwatch: CONFIG:16:12: metrics tls_cert needs a tls_key"],
    );
    refused(
        &metrics("tls_key = \"web.key\"\n"),
        &["rblwatch: CONFIG:16:11: metrics tls_key needs a tls_cert"],
    );
}

#[test]
fn a_ca_file_that_is_a_fifo_is_refused_not_waited_on() {
    let dir = shared_dir();
    let fifo = dir.path().join("ca.pem");
    let path = std::ffi::CString::new(fifo.to_string_lossy().as_bytes()).expect("path");
    // SAFETY: a valid NUL-terminated path; mkfifo only creates the node.
    assert_eq!(unsafe { libc::mkfifo(path.as_ptr(), 0o600) }, 0, "mkfifo");
    let text = format!(
        "{GOOD}[notify]\n[notify.smtp]\nhost = \"mail.example.com\"\nfrom = \"rblwatch@example.com\"\nca_file = \"{}\"\n",
        fifo.display()
    );
    let line = text.lines().count();
    refused(
        &text,
        &[&format!(
            "rblwatch: CONFIG:{line}:11: ca_file {} cannot be read",
            fifo.display()
        )],
    );
}
