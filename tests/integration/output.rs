//! What a user sees: the table, JSON, the Nagios line, colours, exit codes, warnings.

use crate::support::{Lab, rblwatch};

#[test]
fn the_table_puts_listings_first_with_reason_and_delisting_steps() {
    let lab = Lab::start();
    let run = lab.check(&["192.0.2.200", "192.0.2.5", "--only", "bl,ref"]);
    assert_eq!(run.code, 1, "{run:?}");
    // The list that refused is backed off for the rest of the run, and that is said once.
    assert_eq!(
        run.stdout.matches("note: ref refused a query").count(),
        1,
        "{}",
        run.stdout
    );
    let lines: Vec<&str> = run
        .stdout
        .lines()
        .filter(|l| !l.starts_with("note:"))
        .collect();
    assert!(
        lines[0].starts_with(
            "LISTED       192.0.2.5    bl   127.0.0.2: test listing; 127.0.0.4: test exploit"
        ),
        "{}",
        run.stdout
    );
    assert!(
        lines
            .iter()
            .any(|l| l.trim() == "reason: Listed in bl.test, see https://bl.test/?ip=192.0.2.5"),
        "{}",
        run.stdout
    );
    assert!(
        lines
            .iter()
            .any(|l| l.trim() == "delist: https://bl.test/lookup?ip=192.0.2.5"),
        "{}",
        run.stdout
    );
    assert!(
        lines
            .iter()
            .any(|l| l.trim() == "how:    self-service removal on the list's page"),
        "{}",
        run.stdout
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("REFUSED      192.0.2.200  ref")),
        "{}",
        run.stdout
    );
    // Clear rows only with --verbose.
    assert!(!run.stdout.contains("CLEAR"), "{}", run.stdout);
    let last = lines.last().expect("summary");
    assert!(
        last.starts_with(
            "LISTED (1 blocklisting(s)): 4 answers from 2 lists (1 listed, 1 clear, 2 refused) in "
        ),
        "{last}"
    );

    let verbose = lab.check(&["192.0.2.200", "192.0.2.5", "--only", "bl,ref", "--verbose"]);
    assert!(
        verbose
            .stdout
            .lines()
            .any(|l| l.starts_with("CLEAR        192.0.2.200  bl   not listed (bl.test)")),
        "{}",
        verbose.stdout
    );
}

#[test]
fn colour_only_when_asked_or_on_a_terminal() {
    let lab = Lab::start();
    let plain = lab.check(&["192.0.2.5", "--only", "bl"]);
    assert!(!plain.stdout.contains('\x1b'), "{}", plain.stdout);
    let coloured = lab.check(&["192.0.2.5", "--only", "bl", "--color", "always"]);
    assert!(
        coloured.stdout.contains("\x1b[1;31mLISTED"),
        "{}",
        coloured.stdout
    );
}

#[test]
fn the_json_document_has_the_documented_shape() {
    let lab = Lab::start();
    let run = lab.check(&["192.0.2.5", "--only", "bl,ref", "--format", "json"]);
    let doc = run.json();
    assert_eq!(doc["version"], 1);
    assert_eq!(doc["resolvers"], serde_json::json!([lab.dns.addr()]));
    let result_keys = [
        "target",
        "address",
        "list",
        "zone",
        "query",
        "policy",
        "status",
        "codes",
        "meanings",
        "txt",
        "delist_url",
        "delist",
        "detail",
        "elapsed_ms",
    ];
    for result in doc["results"].as_array().expect("results") {
        let keys: Vec<&str> = result
            .as_object()
            .expect("object")
            .keys()
            .map(String::as_str)
            .collect();
        for key in result_keys {
            assert!(keys.contains(&key), "missing {key} in {result}");
        }
        assert!(result["elapsed_ms"].is_u64());
        assert!(
            ["listed", "clear", "refused", "bogus", "error", "unhealthy"]
                .contains(&result["status"].as_str().expect("status"))
        );
    }
    for list in doc["lists"].as_array().expect("lists") {
        for key in ["id", "zone", "health"] {
            assert!(list.get(key).is_some(), "missing {key} in {list}");
        }
    }
    let summary = &doc["summary"];
    for key in [
        "listed",
        "clear",
        "refused",
        "bogus",
        "error",
        "unhealthy",
        "blocklisted",
        "allowlisted",
        "exit_code",
        "elapsed_ms",
    ] {
        assert!(summary[key].is_u64(), "summary.{key}: {summary}");
    }
    assert_eq!(summary["listed"], 1);
    assert_eq!(summary["refused"], 1);
    assert_eq!(summary["exit_code"], 1);
    assert_eq!(summary["exit_code"], run.code);
}

#[test]
fn nagios_format_follows_the_thresholds() {
    let lab = Lab::start();
    let run = lab.check(&["192.0.2.5", "--only", "bl", "--format", "nagios"]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(
        run.stdout
            .starts_with("RBL CRITICAL - 1 listing(s): 192.0.2.5 on bl | listed=1;0;0;0;1 clear=0"),
        "{}",
        run.stdout
    );
    assert_eq!(run.stdout.lines().count(), 1);

    let run = lab.check(&[
        "192.0.2.5",
        "--only",
        "bl",
        "--format",
        "nagios",
        "--warning",
        "1",
        "--critical",
        "2",
    ]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stdout.starts_with("RBL WARNING"), "{}", run.stdout);

    let run = lab.check(&["192.0.2.200", "--only", "bl", "--format", "nagios"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(
        run.stdout
            .starts_with("RBL OK - not listed (1 lists clear)"),
        "{}",
        run.stdout
    );

    let run = lab.check(&["192.0.2.5", "--only", "ref", "--format", "nagios"]);
    assert_eq!(run.code, 3, "{run:?}");
    assert!(
        run.stdout
            .starts_with("RBL UNKNOWN - no definite answer for 192.0.2.5"),
        "{}",
        run.stdout
    );
}

#[test]
fn nagios_says_unknown_when_most_lists_gave_no_usable_answer() {
    let lab = Lab::start();
    let run = lab.check(&[
        "192.0.2.200",
        "--only",
        "bl,dead,world,ref,bogus,missing",
        "--format",
        "nagios",
    ]);
    assert_eq!(run.code, 3, "{run:?}");
    assert!(
        run.stdout
            .starts_with("RBL UNKNOWN - 5 of 6 answers not usable, 1 clear"),
        "{}",
        run.stdout
    );
    // A WARNING threshold of 2 listings is the Nagios range "1" (alert above 1).
    let run = lab.check(&[
        "192.0.2.5",
        "--only",
        "bl",
        "--format",
        "nagios",
        "--warning",
        "2",
        "--critical",
        "3",
    ]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stdout.contains("| listed=1;1;2;0;1 "), "{}", run.stdout);
}

#[test]
fn nagios_usage_errors_are_one_unknown_line_and_exit_3() {
    for (args, line) in [
        (
            vec!["check", "203.0.113.256", "--format", "nagios"],
            "RBL UNKNOWN - 203.0.113.256: not a valid IPv4 address",
        ),
        (
            vec!["check", "192.0.2.1", "--format=nagios", "--no-such-flag"],
            "RBL UNKNOWN - unexpected argument '--no-such-flag' found",
        ),
        (
            vec!["check", "--format", "nagios"],
            "RBL UNKNOWN - the following required arguments were not provided:",
        ),
    ] {
        let run = rblwatch(&args, &[]);
        assert_eq!(run.code, 3, "{args:?}: {run:?}");
        assert_eq!(run.stdout.lines().count(), 1, "{args:?}: {}", run.stdout);
        assert!(run.stdout.starts_with(line), "{args:?}: {}", run.stdout);
    }
}

#[test]
fn bad_arguments_get_one_line_naming_them_and_exit_2() {
    for (args, fragment) in [
        (
            vec!["check", "203.0.113.256"],
            "rblwatch: 203.0.113.256: not a valid IPv4 address",
        ),
        (
            vec!["check", "192.0.2.0/40"],
            "rblwatch: 192.0.2.0/40: prefix `/40` must be a number from 0 to 32",
        ),
        (
            vec!["check", "not a name"],
            "rblwatch: not a name: not an IP address, CIDR range or host name",
        ),
        (
            vec!["check", "192.0.2.1", "--nameserver", "dns.example"],
            "rblwatch: --nameserver dns.example: must be an IP address",
        ),
        (
            vec!["check", "192.0.2.1", "--timeout", "0"],
            "rblwatch: --timeout 0: must be a number of seconds",
        ),
        (
            vec!["check", "10.0.0.0/8"],
            "rblwatch: 10.0.0.0/8: 16777216 addresses in all is more than 256",
        ),
    ] {
        let run = rblwatch(&args, &[]);
        assert_eq!(run.code, 2, "{args:?}: {run:?}");
        assert!(run.stderr.starts_with(fragment), "{args:?}: {}", run.stderr);
        assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
        assert!(run.stdout.is_empty());
    }
}

#[test]
fn a_public_resolver_is_called_out_up_front() {
    // No list is asked (the keyed list has no key), so nothing is sent to the public resolver.
    let run = rblwatch(
        &[
            "check",
            "192.0.2.1",
            "--only",
            "spamhaus-dqs-zen",
            "--nameserver",
            "8.8.8.8",
        ],
        &[],
    );
    assert_eq!(run.code, 3, "{run:?}");
    let first = run.stdout.lines().next().expect("a warning line");
    assert!(
        first.starts_with("warning: the resolver 8.8.8.8 is Google Public DNS, a public resolver"),
        "{first}"
    );
    assert!(first.contains("unbound"), "{first}");
    assert!(
        run.stdout.contains(
            "note: spamhaus-dqs-zen skipped: it needs a key in $RBLWATCH_SPAMHAUS_DQS_KEY"
        ),
        "{}",
        run.stdout
    );
}

#[test]
fn a_progress_bar_is_drawn_only_on_a_terminal() {
    use crate::support::dns_server::{FakeDns, Reply};
    use crate::support::{CODES, entry, shared_dir, write_file};

    let server = FakeDns::start(|name| {
        let answer = if name.starts_with("2.0.0.127.") {
            Reply::A(vec!["127.0.0.2".parse().expect("ip")])
        } else {
            Reply::NxDomain
        };
        Reply::Delayed(std::time::Duration::from_millis(4), Box::new(answer))
    });
    let dir = shared_dir();
    let catalog = write_file(
        dir.path(),
        "lists.toml",
        &entry("p", "p.test", "\"ipv4\"", CODES),
    );
    let args = format!(
        "{} --lists {} check 192.0.2.0/24 --nameserver {} --concurrency 1 --format json",
        env!("CARGO_BIN_EXE_rblwatch"),
        catalog.display(),
        server.addr()
    );
    // Not a terminal: nothing but the JSON.
    let plain: Vec<&str> = args.split(' ').collect();
    let run = rblwatch(&plain[1..], &[]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stderr.is_empty(), "{}", run.stderr);
    assert_eq!(run.json()["summary"]["clear"], 256);

    // On a terminal (script gives the command a pty), the bar is drawn on stderr, and stdout,
    // sent to a file, holds only the JSON.
    let json = dir.path().join("out.json");
    let typescript = dir.path().join("typescript");
    let status = std::process::Command::new("script")
        .args(["-qec", &format!("{args} > {}", json.display())])
        .arg(&typescript)
        .stdout(std::process::Stdio::null())
        .status()
        .expect("script (util-linux) runs the command on a pseudo-terminal");
    assert!(status.success());
    let screen = std::fs::read_to_string(&typescript).expect("typescript");
    assert!(screen.contains("/256 queries"), "{screen}");
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).expect("json"))
            .expect("only JSON on stdout");
    assert_eq!(doc["summary"]["clear"], 256);
}

/// Runs `program ARGS file` (a checker: bash -n, groff -ww) and asserts it passes without a
/// word on stderr.
fn passes_quietly(program: &str, args: &[&str], file: &std::path::Path) {
    let out = std::process::Command::new(program)
        .args(args)
        .arg(file)
        .output()
        .unwrap_or_else(|e| panic!("{program} must be installed: {e}"));
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "{program} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn completions_and_the_man_page_come_from_the_cli() {
    let run = rblwatch(&["completions", "bash"], &[]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(
        run.stdout.contains("_rblwatch()") && run.stdout.contains("doctor"),
        "{}",
        &run.stdout[..200.min(run.stdout.len())]
    );
    // Subcommands are built only when used: the script still offers every one's options,
    // and the nested subcommands under `help`.
    for wanted in [
        "--nameserver",
        "--older-than",
        "--log-format",
        "rblwatch__subcmd__help__subcmd__notify__subcmd__render",
        "rblwatch__subcmd__help__subcmd__store__subcmd__copy",
    ] {
        assert!(
            run.stdout.contains(wanted),
            "no {wanted} in the bash completions"
        );
    }
    let dir = crate::support::shared_dir();
    let script = crate::support::write_file(dir.path(), "rblwatch.bash", &run.stdout);
    passes_quietly("bash", &["-n"], &script);
    let run = rblwatch(&["man"], &[]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(
        run.stdout.starts_with(".TH RBLWATCH 1 "),
        "{}",
        &run.stdout[..200.min(run.stdout.len())]
    );
    // groff, warnings on, formats it without a word (groff-base: man-db's formatter).
    let page = crate::support::write_file(dir.path(), "rblwatch.1", &run.stdout);
    passes_quietly("groff", &["-man", "-ww", "-z"], &page);
    let text = std::process::Command::new("groff")
        .args(["-man", "-Tutf8", "-P-cbou"])
        .arg(&page)
        .output()
        .expect("groff");
    let text = String::from_utf8_lossy(&text.stdout);
    for heading in [
        "EXIT STATUS",
        "ENVIRONMENT",
        "FILES",
        "SIGNALS",
        "rblwatch notify flush",
    ] {
        assert!(text.contains(heading), "no {heading} in:\n{text}");
    }
}
