//! Text from outside cannot write to the terminal: control characters in TXT reasons and SMTP
//! replies are shown escaped (JSON keeps them exactly); a peer that floods, or options that
//! would smuggle commands, are stopped.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use crate::support::rbldnsd::{Rbldnsd, SOA};
use crate::support::{CODES, entry, rblwatch, shared_dir, write_file};

/// What a hostile TXT record says: a terminal title, a bell, a screen clear and a forged line.
const EVIL: &str = "evil\u{1b}]0;owned\u{7} x\rRBL OK - not listed\u{1b}[2J";

fn evil_lab() -> (Rbldnsd, tempfile::TempDir, String) {
    let data = format!("{SOA}:127.0.0.2:ok\n127.0.0.2\n192.0.2.5 :127.0.0.2:{EVIL}\n");
    let dns = Rbldnsd::start(&[("ev.test", "ip4set", &data)]);
    let dir = shared_dir();
    let catalog = write_file(
        dir.path(),
        "lists.toml",
        &entry("ev", "ev.test", "\"ipv4\"", CODES),
    );
    (dns, dir, catalog.to_string_lossy().into_owned())
}

#[track_caller]
fn no_controls(text: &str) {
    assert!(
        !text
            .chars()
            .any(|c| (c.is_control() && c != '\n') || c == '\u{7f}'),
        "raw control characters in: {text:?}"
    );
}

#[test]
fn a_hostile_txt_reason_is_shown_escaped_and_kept_exactly_in_json() {
    let (dns, _dir, catalog) = evil_lab();
    let addr = dns.addr();
    let base = [
        "--lists",
        &catalog,
        "check",
        "192.0.2.5",
        "--nameserver",
        &addr,
    ];

    let table = rblwatch(&base, &[]);
    assert_eq!(table.code, 1, "{table:?}");
    no_controls(&table.stdout);
    assert!(
        table
            .stdout
            .contains("reason: evil\\x1b]0;owned\\x07 x\\rRBL OK - not listed\\x1b[2J"),
        "{}",
        table.stdout
    );
    assert!(!table.stdout.lines().any(|l| l.starts_with("RBL OK")));

    let mut json = base.to_vec();
    json.extend(["--format", "json"]);
    let doc = rblwatch(&json, &[]).json();
    assert_eq!(
        doc["results"][0]["txt"][0], EVIL,
        "JSON keeps the exact text"
    );

    // The daily watch prints the reason too (cron mails it).
    let config = write_file(
        _dir.path(),
        "rblwatch.toml",
        &format!(
            "store = \"state.db\"\n[lists]\ncatalogs = [\"{catalog}\"]\nonly = [\"ev\"]\n[resolver]\nnameservers = [\"{addr}\"]\n[[target]]\naddress = \"192.0.2.5\"\n"
        ),
    );
    let run = rblwatch(&["--config", &config.to_string_lossy(), "run"], &[]);
    assert_eq!(run.code, 1, "{run:?}");
    no_controls(&run.stdout);
    assert!(
        run.stdout.contains("reason: evil\\x1b]0;owned"),
        "{}",
        run.stdout
    );
}

/// A scripted SMTP peer: greets with `greeting`, answers RCPT with `rcpt_reply` and the rest
/// with 250, and records what it was sent.
fn smtp_peer(
    greeting: &'static str,
    rcpt_reply: &'static str,
) -> (String, Arc<Mutex<Vec<String>>>) {
    scripted(greeting, move |line| {
        Some(if line.starts_with("RCPT") {
            rcpt_reply
        } else if line.starts_with("QUIT") {
            "221 bye\r\n"
        } else {
            "250 ok\r\n"
        })
    })
}

/// A scripted SMTP peer: greets with `greeting` and answers each line with `answer(line)`
/// (nothing at all when it gives None); records what it was sent.
fn scripted(
    greeting: &'static str,
    answer: impl Fn(&str) -> Option<&'static str> + Send + Sync + 'static,
) -> (String, Arc<Mutex<Vec<String>>>) {
    let answer = Arc::new(answer);
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let (answer, log) = (answer.clone(), log.clone());
            // A connection each: a stalled one must not keep the next from being served.
            std::thread::spawn(move || {
                let mut writer = stream.try_clone().expect("clone");
                let mut reader = BufReader::new(stream);
                let _ = writer.write_all(greeting.as_bytes());
                let mut line = String::new();
                while reader.read_line(&mut line).unwrap_or(0) > 0 {
                    log.lock().expect("log").push(line.trim_end().to_string());
                    if let Some(reply) = answer(&line) {
                        let _ = writer.write_all(reply.as_bytes());
                    }
                    line.clear();
                }
            });
        }
    });
    (addr, seen)
}

#[test]
fn hostile_smtp_replies_are_shown_escaped() {
    let (addr, _) = smtp_peer(
        "220 evil\u{1b}]0;owned\u{7} ESMTP\r\n",
        "550 no\u{1b}[2J relaying\r\n",
    );
    let run = rblwatch(&["relay-test", &addr, "--wait", "0", "--timeout", "5"], &[]);
    assert_eq!(run.code, 0, "{run:?}");
    no_controls(&run.stdout);
    assert!(
        run.stdout
            .contains("Greeting: 220 evil\\x1b]0;owned\\x07 ESMTP"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("no\\x1b[2J relaying"), "{}", run.stdout);
    // Tested from the same machine: the verdict is said to hold for this position alone.
    assert!(
        run.stdout
            .contains("warning: the server is this machine (loopback): it may trust this client"),
        "{}",
        run.stdout
    );
}

#[test]
fn the_own_sender_at_an_address_literal_is_a_valid_address() {
    // No name in the greeting and an IP target: the server's own "domain" is the literal.
    let (addr, seen) = smtp_peer("220 ESMTP ready\r\n", "550 relaying denied\r\n");
    let run = rblwatch(&["relay-test", &addr, "--wait", "0", "--timeout", "5"], &[]);
    assert_eq!(run.code, 0, "{run:?}");
    let seen = seen.lock().expect("seen").clone();
    assert!(
        seen.iter()
            .any(|l| l == "MAIL FROM:<relay-test@[127.0.0.1]>"),
        "{seen:#?}"
    );
}

#[test]
fn refusals_that_tested_nothing_are_never_closed() {
    let relay = |addr: &str| rblwatch(&["relay-test", addr, "--wait", "0", "--timeout", "5"], &[]);
    // Every recipient deferred (4xx): maybe greylisting an open relay.
    let (addr, _) = smtp_peer(
        "220 mx.peer.test ESMTP\r\n",
        "450 4.7.1 try again later\r\n",
    );
    let run = relay(&addr);
    assert_eq!(run.code, 3, "{run:?}");
    assert!(
        run.stdout.contains("DEFERRED: 18 of 18 attempts"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("run again later"), "{}", run.stdout);
    // Every sender refused: no recipient was ever asked about.
    let (addr, _) = scripted("220 mx.peer.test ESMTP\r\n", |line| {
        Some(if line.starts_with("MAIL") {
            "553 5.1.8 sender domain does not exist\r\n"
        } else {
            "250 ok\r\n"
        })
    });
    let run = relay(&addr);
    assert_eq!(run.code, 3, "{run:?}");
    assert!(!run.stdout.contains("CLOSED:"), "{}", run.stdout);
    assert!(
        run.stdout.contains("give --from a real address"),
        "{}",
        run.stdout
    );
}

#[test]
fn a_server_that_stalls_is_given_up_after_a_few_timeouts() {
    // Greets and answers EHLO, then never answers MAIL.
    let (addr, _) = scripted("220 mx.peer.test ESMTP\r\n", |line| {
        (line.starts_with("EHLO") || line.starts_with("HELO")).then_some("250 mx.peer.test\r\n")
    });
    let started = std::time::Instant::now();
    let run = rblwatch(
        &[
            "relay-test",
            &addr,
            "--wait",
            "0",
            "--timeout",
            "1",
            "--format",
            "json",
        ],
        &[],
    );
    let took = started.elapsed();
    assert_eq!(run.code, 3, "{run:?}");
    let doc = run.json();
    let details: Vec<&str> = doc["attempts"]
        .as_array()
        .expect("attempts")
        .iter()
        .map(|a| a["detail"].as_str().unwrap_or_default())
        .collect();
    assert!(
        details
            .iter()
            .filter(|d| d.starts_with("not tried"))
            .count()
            >= 15,
        "{details:?}"
    );
    // Eighteen timeouts of a second each would be eighteen seconds.
    assert!(took.as_secs() < 10, "took {took:?}");
}

#[test]
fn an_endless_reply_is_cut_off() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    std::thread::spawn(move || {
        if let Some(Ok(mut stream)) = listener.incoming().next() {
            // At most 1,000,000 lines: the test's own bound; rblwatch must stop far sooner.
            for _ in 0..1_000_000 {
                if stream
                    .write_all(b"220-more greeting, never the last line\r\n")
                    .is_err()
                {
                    break;
                }
            }
        }
    });
    let run = rblwatch(&["relay-test", &addr, "--wait", "0", "--timeout", "5"], &[]);
    assert_eq!(run.code, 3, "{run:?}");
    assert!(run.stdout.contains("past 100 lines"), "{}", run.stdout);
}

#[test]
fn options_that_would_smuggle_commands_are_refused_before_any_connection() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.set_nonblocking(true).expect("nonblocking");
    let addr = listener.local_addr().expect("addr").to_string();
    for (flag, value) in [
        ("--own-name", "mx.example.org\r\nDATA"),
        ("--own-domain", "example.org\nRCPT TO:<x@y.example>"),
        ("--helo", "two words"),
        ("--helo", ""),
        ("--from", "a@b.example\r\nDATA"),
        ("--to", " "),
    ] {
        let run = rblwatch(&["relay-test", &addr, flag, value], &[]);
        assert_eq!(run.code, 2, "{flag} {value:?}: {run:?}");
        assert!(run.stderr.contains(flag), "{}", run.stderr);
        no_controls(&run.stderr);
    }
    assert!(listener.accept().is_err(), "no connection was made");
}

mod files {
    use std::os::unix::fs::PermissionsExt;

    use crate::support::rblwatch;
    use crate::watch::Watch;

    #[test]
    fn a_lock_file_that_is_a_link_is_refused_and_what_it_points_to_is_untouched() {
        let w = Watch::start();
        let victim = w.store().with_file_name("victim");
        std::fs::write(&victim, "precious\n").expect("victim");
        // Each planted file: the pass refuses, naming it, and the victim is as it was.
        let refused = |why: &str| {
            let run = w.rblwatch(&["run"]);
            assert_eq!(run.code, 3, "{run:?}");
            assert!(run.stderr.contains(why), "{}", run.stderr);
            assert_eq!(
                std::fs::read_to_string(&victim).expect("read"),
                "precious\n"
            );
        };
        let lock = w.store().with_file_name("state.db.lock");
        std::os::unix::fs::symlink(&victim, &lock).expect("symlink");
        refused("is a symbolic link; refused");

        // A hard link is refused too (root may link any file; others their own).
        std::fs::remove_file(&lock).expect("unlink");
        std::fs::hard_link(&victim, &lock).expect("hard link");
        refused("hard link");

        // A store's -wal that is a link is refused before SQLite follows it.
        std::fs::remove_file(&lock).expect("unlink");
        let wal = w.store().with_file_name("state.db-wal");
        std::os::unix::fs::symlink(&victim, &wal).expect("symlink");
        refused("state.db-wal: is a symbolic link");
        std::fs::remove_file(&wal).expect("unlink");

        // And with nothing planted, the pass runs and leaves a lock file of its own.
        let run = w.rblwatch(&["run"]);
        assert_eq!(run.code, 0, "{run:?}");
        let meta = std::fs::symlink_metadata(&lock).expect("lock");
        assert!(meta.is_file());
    }

    #[test]
    fn a_state_directory_every_user_can_write_is_refused() {
        let w = Watch::start();
        let dir = w.store().parent().expect("dir").to_path_buf();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).expect("chmod");
        let run = w.rblwatch(&["run"]);
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        assert_eq!(run.code, 3, "{run:?}");
        assert!(
            run.stderr.contains("is writable by every user; refused"),
            "{}",
            run.stderr
        );
        assert!(!w.store().exists(), "nothing was created");
    }

    #[test]
    fn a_fifo_or_a_device_as_a_catalog_is_refused_at_once() {
        let dir = tempfile::tempdir().expect("dir");
        let fifo = dir.path().join("lists.toml");
        let c = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes()).expect("path");
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let fifo = fifo.to_string_lossy().into_owned();
        for path in [fifo.as_str(), "/dev/zero"] {
            let run = rblwatch(&["--lists", path, "lists"], &[]);
            assert_eq!(run.code, 2, "{path}: {run:?}");
            assert!(
                run.stderr.contains(&format!("{path}: not a regular file")),
                "{}",
                run.stderr
            );
        }
        let config = rblwatch(&["--config", "/dev/zero", "config", "check"], &[]);
        assert_eq!(config.code, 2, "{config:?}");
        assert!(
            config.stderr.contains("not a regular file"),
            "{}",
            config.stderr
        );
    }

    #[test]
    fn a_password_file_others_can_change_is_reported_and_refused() {
        let w = Watch::start();
        let secret = w.store().with_file_name("password");
        std::fs::write(&secret, "secret\n").expect("password");
        std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o666)).expect("chmod");
        let config = std::fs::read_to_string(w.config()).expect("config");
        std::fs::write(
            w.config(),
            format!(
                "{config}\n[notify]\nrecipients = [\"ops@example.com\"]\n[notify.smtp]\nhost = \"127.0.0.1\"\nport = 2525\nsecurity = \"none\"\nfrom = \"rblwatch@example.com\"\nusername = \"rblwatch\"\npassword_file = \"{}\"\n",
                secret.display()
            ),
        )
        .expect("config");
        std::fs::set_permissions(w.config(), std::fs::Permissions::from_mode(0o664))
            .expect("chmod");
        let check = w.rblwatch(&["config", "check"]);
        assert!(
            check.stdout.contains(&format!(
                "warning: {} is writable by every user",
                secret.display()
            )),
            "{check:?}"
        );
        assert!(
            check.stdout.contains(&format!(
                "warning: {} is writable by its group",
                w.config().display()
            )),
            "{check:?}"
        );
        let doctor = w.rblwatch(&["doctor", "--timeout", "1"]);
        assert!(
            doctor.stdout.lines().any(|l| l.starts_with("ERROR  config")
                && l.contains("password")
                && l.contains("writable by every user")),
            "{doctor:?}"
        );
        let run = w.rblwatch(&["run"]);
        assert_eq!(run.code, 2, "{run:?}");
        assert!(
            run.stderr
                .contains("password_file is writable by every user; refused"),
            "{}",
            run.stderr
        );
        // Readable by others only: reported, not refused.
        std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        let check = w.rblwatch(&["config", "check"]);
        assert!(
            check.stdout.contains("is readable by every user"),
            "{check:?}"
        );
    }

    #[test]
    fn a_ca_file_that_is_missing_or_holds_no_certificate_is_a_usage_error() {
        let dir = tempfile::tempdir().expect("dir");
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "no certificate here\n").expect("write");
        let missing = dir.path().join("missing.pem");
        for (path, why) in [
            (&missing, "cannot be read"),
            (&empty, "holds no certificate"),
        ] {
            let run = rblwatch(
                &[
                    "relay-test",
                    "127.0.0.1:25",
                    "--ca-file",
                    &path.to_string_lossy(),
                ],
                &[],
            );
            assert_eq!(run.code, 2, "{run:?}");
            assert!(
                run.stderr.contains("--ca-file") && run.stderr.contains(why),
                "{}",
                run.stderr
            );
        }
    }
}

mod counts {
    use crate::support::dns_server::{FakeDns, Reply};
    use crate::support::{Lab, with_lists};

    #[test]
    fn a_host_name_counts_by_its_addresses_and_overlaps_count_once() {
        // A name behind 20 addresses, beside a /24: 276 addresses, over the limit of 256.
        let dns = FakeDns::start(|name| match name {
            "many.example.test" => Reply::A(
                (0..20u8)
                    .map(|n| std::net::Ipv4Addr::new(198, 51, 100, n))
                    .collect(),
            ),
            _ => Reply::NxDomain,
        });
        let addr = dns.addr();
        let base = [
            "check",
            "192.0.2.0/24",
            "many.example.test",
            "--nameserver",
            &addr,
        ];
        let run = with_lists(&[("t", "t.test")], &[&base[..], &["--no-verify"]].concat());
        assert_eq!(run.code, 2, "{run:?}");
        assert!(
            run.stderr.contains("276 addresses in all is more than 256"),
            "{}",
            run.stderr
        );
        // A server inside a watched range is not counted twice: 256 in all.
        let run = with_lists(
            &[("t", "t.test")],
            &[
                "check",
                "192.0.2.0/24",
                "192.0.2.5",
                "--nameserver",
                &addr,
                "--no-verify",
                "--format",
                "json",
            ],
        );
        assert_eq!(run.code, 0, "{run:?}");
        assert_eq!(run.json()["results"].as_array().map(Vec::len), Some(256));
    }

    #[test]
    fn the_whole_ipv6_space_against_ipv4_lists_ends_at_once() {
        let lab = Lab::start();
        let started = std::time::Instant::now();
        let run = lab.check(&["::/0", "--force", "--only", "bl", "--format", "json"]);
        assert!(started.elapsed().as_secs() < 10, "{:?}", started.elapsed());
        assert_eq!(run.code, 3, "{run:?}");
        let doc = run.json();
        assert_eq!(doc["results"].as_array().map(Vec::len), Some(0));
        let notes = doc["notes"].to_string();
        assert!(
            notes.contains("::/0: no selected list serves IPv6 addresses"),
            "{notes}"
        );
        let refused = lab.check(&["::/0", "--only", "bl"]);
        assert_eq!(refused.code, 2, "{refused:?}");
        assert!(
            refused.stderr.contains("2^128 addresses"),
            "{}",
            refused.stderr
        );
    }
}

mod full_disk {
    use std::process::Command;

    use crate::watch::Watch;

    /// A small tmpfs of its own, unmounted on Drop (root only).
    struct Tmpfs(std::path::PathBuf);

    impl Tmpfs {
        // The one test that cannot run unprivileged says so on stderr rather than pass silently.
        #[allow(clippy::print_stderr)]
        fn mount(size: &str) -> Option<Tmpfs> {
            // SAFETY: geteuid has no preconditions.
            if unsafe { libc::geteuid() } != 0 {
                eprintln!("skipped: mounting a tmpfs needs root (CI runs as root)");
                return None;
            }
            let dir = tempfile::tempdir().expect("dir").keep();
            let ok = Command::new("mount")
                .args([
                    "-t",
                    "tmpfs",
                    "-o",
                    &format!("size={size},mode=0755"),
                    "tmpfs",
                ])
                .arg(&dir)
                .status()
                .expect("mount");
            assert!(ok.success(), "mount a tmpfs");
            Some(Tmpfs(dir))
        }

        fn remount_read_only(&self) {
            let ok = Command::new("mount")
                .args(["-o", "remount,ro"])
                .arg(&self.0)
                .status()
                .expect("mount");
            assert!(ok.success());
        }
    }

    impl Drop for Tmpfs {
        fn drop(&mut self) {
            let _ = Command::new("umount").arg(&self.0).status();
            let _ = std::fs::remove_dir(&self.0);
        }
    }

    fn store_in(w: &Watch, dir: &std::path::Path) {
        w.edit_config(
            "store = \"state.db\"",
            &format!("store = \"{}\"", dir.join("state.db").display()),
        );
    }

    #[test]
    fn a_full_disk_or_a_read_only_store_is_reported_as_that() {
        let Some(fs) = Tmpfs::mount("256k") else {
            return;
        };
        let w = Watch::start();
        store_in(&w, &fs.0);
        // Fill the disk, then ask for a pass.
        let _ = std::fs::write(fs.0.join("filler"), vec![0u8; 1 << 20]);
        let run = w.rblwatch(&["run"]);
        assert_eq!(run.code, 3, "{run:?}");
        assert!(
            !run.stderr.contains("not an rblwatch store"),
            "{}",
            run.stderr
        );
        assert!(
            run.stderr.contains("No space left on device") || run.stderr.contains("disk is full"),
            "{}",
            run.stderr
        );
        // Room again: a pass makes the store; then the file system goes read-only.
        std::fs::remove_file(fs.0.join("filler")).expect("unfill");
        assert_eq!(w.rblwatch(&["run"]).code, 0);
        fs.remount_read_only();
        let run = w.rblwatch(&["run"]);
        assert_eq!(run.code, 3, "{run:?}");
        assert!(
            !run.stderr.contains("not an rblwatch store"),
            "{}",
            run.stderr
        );
        assert!(
            run.stderr.contains("Read-only file system") || run.stderr.contains("cannot"),
            "{}",
            run.stderr
        );
    }
}
