//! Alerts through a real SMTP server and a real HTTP endpoint; the outbox keeps what could
//! not be sent; `delist` and removal requests.

use crate::support::servers::{Smtp, SmtpOptions, TestCa, Webhook, free_tcp_port};
use crate::support::{shared_dir, write_file};
use crate::watch::Watch;

const DAY: i64 = 1_795_824_000; // 2026-11-28T00:00:00Z

/// Adds a [notify] section sending through 127.0.0.1:`port` with `extra` lines in [notify.smtp].
fn with_mail(w: &Watch, port: u16, extra: &str) {
    let config = std::fs::read_to_string(w.config()).expect("config");
    let text = format!(
        "{config}\n[notify]\nrecipients = [\"ops@example.com\"]\nreminder_days = 3\nretry_limit = 3\n[notify.smtp]\nhost = \"127.0.0.1\"\nport = {port}\nsecurity = \"none\"\nfrom = \"rblwatch@example.com\"\ntimeout = 5\n{extra}\n"
    );
    std::fs::write(w.config(), text).expect("config");
}

#[test]
fn a_new_listing_arrives_as_one_mail_per_recipient_with_both_parts() {
    let w = Watch::start();
    let smtp = Smtp::start(free_tcp_port(), &SmtpOptions::default());
    with_mail(&w, smtp.port, "");
    assert_eq!(w.at(&["run"], Some(DAY)).code, 0);
    assert!(smtp.messages().is_empty(), "nothing changed, nothing sent");

    w.data("192.0.2.5\n", true);
    let run = w.at(&["run"], Some(DAY + 60));
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        run.stdout.contains(
            "notifications sent: mail to ops@example.com, mail to postmaster@example.com"
        ),
        "{}",
        run.stdout
    );

    let mails = smtp.messages();
    assert_eq!(mails.len(), 2, "one per recipient: {mails:#?}");
    let mail = mails
        .iter()
        .find(|m| m["to"] == "ops@example.com")
        .expect("mail to ops");
    assert_eq!(mail["from"], "rblwatch@example.com");
    assert_eq!(
        mail["subject"],
        "[rblwatch] 192.0.2.5 (mx1) listed on Test w"
    );
    assert_eq!(mail["content_type"], "multipart/alternative");
    // The headers real providers require (Gmail refuses mail without a Message-ID), read by
    // Python's email package with its strict policy.
    for m in &mails {
        let id = m["message_id"].as_str().unwrap_or_default();
        assert!(
            id.starts_with('<') && id.ends_with("@example.com>"),
            "Message-ID: {m:#}"
        );
        assert!(m["date"].is_string(), "Date: {m:#}");
        assert_eq!(m["auto_submitted"], "auto-generated", "{m:#}");
    }
    assert_ne!(mails[0]["message_id"], mails[1]["message_id"]);
    let part = |t: &str| -> String {
        mail["parts"]
            .as_array()
            .expect("parts")
            .iter()
            .find(|p| p["type"] == t)
            .and_then(|p| p["body"].as_str())
            .unwrap_or_default()
            .to_string()
    };
    let (text, html) = (part("text/plain"), part("text/html"));
    for body in [&text, &html] {
        assert!(body.contains("192.0.2.5"), "{body}");
        assert!(
            body.contains("https://w.test/lookup?ip=192.0.2.5"),
            "the list's delisting URL for this address: {body}"
        );
        assert!(body.contains("test listing"), "{body}");
        assert!(
            !body.contains("{{") && !body.contains("{%") && !body.contains("}}"),
            "unrendered template syntax: {body}"
        );
    }
    assert!(
        text.contains("Listed by w.test: 192.0.2.5"),
        "the TXT reason: {text}"
    );
    assert!(text.contains("fix first:"), "{text}");
    assert!(
        html.contains("<a href=\"https://w.test/lookup?ip=192.0.2.5\">"),
        "{html}"
    );

    // The next pass changes nothing and sends nothing.
    assert_eq!(w.at(&["run"], Some(DAY + 120)).code, 1);
    assert_eq!(smtp.messages().len(), 2);

    // Delisted: one mail each saying so.
    w.data("", false);
    assert_eq!(w.at(&["run"], Some(DAY + 180)).code, 0);
    let mails = smtp.messages();
    assert_eq!(mails.len(), 4);
    assert!(
        mails
            .iter()
            .any(|m| m["subject"] == "[rblwatch] 192.0.2.5 (mx1) no longer listed on Test w"),
        "{mails:#?}"
    );
}

#[test]
fn with_the_smtp_server_down_nothing_is_lost_and_nothing_is_sent_twice() {
    let w = Watch::start();
    let port = free_tcp_port();
    with_mail(&w, port, "");
    w.data("192.0.2.5\n", true);
    let run = w.at(&["run"], Some(DAY));
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        run.stdout.contains(
            "notification queued, will be retried: mail to ops@example.com (attempt 1): 127.0.0.1:"
        ),
        "{}",
        run.stdout
    );

    let smtp = Smtp::start(port, &SmtpOptions::default());
    // Before the backoff is over, the next pass leaves it queued.
    let run = w.at(&["run", "--format", "json"], Some(DAY + 60));
    assert!(
        run.json()["notifications"]["sent"]
            .as_array()
            .expect("sent")
            .is_empty(),
        "{}",
        run.stdout
    );
    assert!(smtp.messages().is_empty());
    // After it, the next pass sends it: exactly one mail per recipient.
    let run = w.at(&["run"], Some(DAY + 3600));
    assert!(run.stdout.contains("notifications sent:"), "{}", run.stdout);
    assert_eq!(smtp.messages().len(), 2);
    assert_eq!(w.at(&["run"], Some(DAY + 7200)).code, 1);
    let flush = w.at(&["notify", "flush", "--all"], Some(DAY + 7300));
    assert!(
        flush
            .stdout
            .ends_with("0 sent; 0 waiting; 0 failed in all\n"),
        "{}",
        flush.stdout
    );
    assert_eq!(smtp.messages().len(), 2, "never sent twice");
}

#[track_caller]
fn kept_with(w: &Watch, fragment: &str) {
    let run = w.at(&["notify", "flush", "--all"], Some(DAY + 10));
    assert_eq!(run.code, 3, "{run:?}");
    assert!(
        run.stdout.contains(fragment),
        "want `{fragment}` in:\n{}",
        run.stdout
    );
    assert!(run.stdout.contains("waiting"), "{}", run.stdout);
    assert!(
        !run.stdout.contains("0 waiting; 0 failed"),
        "the notification is kept: {}",
        run.stdout
    );
}

#[test]
fn a_rejected_recipient_missing_starttls_and_a_wrong_login_are_clear_errors_and_kept() {
    // Recipient refused.
    let w = Watch::start();
    let smtp = Smtp::start(
        free_tcp_port(),
        &SmtpOptions {
            reject_rcpt: true,
            ..SmtpOptions::default()
        },
    );
    with_mail(&w, smtp.port, "");
    w.data("192.0.2.5\n", true);
    w.at(&["run"], Some(DAY));
    kept_with(
        &w,
        "rejected: permanent error (550): 5.1.1 <ops@example.com>: Recipient address rejected",
    );

    // STARTTLS required, the server offers none.
    let w = Watch::start();
    let smtp = Smtp::start(free_tcp_port(), &SmtpOptions::default());
    with_mail(&w, smtp.port, "");
    w.edit_config("security = \"none\"", "security = \"starttls\"");
    w.data("192.0.2.5\n", true);
    w.at(&["run"], Some(DAY));
    kept_with(&w, "STARTTLS");
    assert!(smtp.messages().is_empty());

    // A wrong password.
    let w = Watch::start();
    let smtp = Smtp::start(
        free_tcp_port(),
        &SmtpOptions {
            auth: Some("rblwatch:right"),
            ..SmtpOptions::default()
        },
    );
    let dir = shared_dir();
    let secret = write_file(dir.path(), "password", "wrong\n");
    with_mail(
        &w,
        smtp.port,
        &format!(
            "username = \"rblwatch\"\npassword_file = \"{}\"",
            secret.display()
        ),
    );
    w.data("192.0.2.5\n", true);
    w.at(&["run"], Some(DAY));
    kept_with(&w, "login refused");
    assert!(smtp.messages().is_empty());
    // With the right one, the kept mails go out.
    std::fs::write(&secret, "right\n").expect("password");
    let run = w.at(&["notify", "flush", "--all"], Some(DAY + 20));
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(smtp.messages().len(), 2);
}

#[test]
fn notify_test_says_what_failed() {
    let w = Watch::start();
    let smtp = Smtp::start(free_tcp_port(), &SmtpOptions::default());
    with_mail(&w, smtp.port, "");
    let run = w.rblwatch(&["notify", "test"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(
        run.stdout.contains("mail to ops@example.com: ok"),
        "{}",
        run.stdout
    );
    let mails = smtp.messages();
    assert_eq!(mails.len(), 2);
    assert!(
        mails[0]["subject"]
            .as_str()
            .expect("subject")
            .starts_with("[rblwatch test]")
    );

    drop(smtp);
    let run = w.rblwatch(&["notify", "test"]);
    assert_eq!(run.code, 3, "{run:?}");
    assert!(
        run.stdout
            .contains("mail to ops@example.com: FAILED: 127.0.0.1:"),
        "{}",
        run.stdout
    );
}

#[test]
fn a_webhook_receives_the_json_document_and_slack_gets_text() {
    let w = Watch::start();
    let json_hook = Webhook::start(free_tcp_port());
    let slack_hook = Webhook::start(free_tcp_port());
    let config = std::fs::read_to_string(w.config()).expect("config");
    std::fs::write(
        w.config(),
        format!(
            "{config}\n[notify]\n[[notify.webhook]]\nurl = \"http://127.0.0.1:{}/hook\"\n[[notify.webhook]]\nurl = \"http://127.0.0.1:{}/slack\"\nformat = \"slack\"\n",
            json_hook.port, slack_hook.port
        ),
    )
    .expect("config");
    w.data("192.0.2.5\n", true);
    let run = w.at(&["run"], Some(DAY));
    assert!(
        run.stdout
            .contains("notifications sent: webhook to http://127.0.0.1:"),
        "{run:?}"
    );

    let posts = json_hook.posts();
    assert_eq!(posts.len(), 1);
    let (ctype, doc) = &posts[0];
    assert_eq!(ctype, "application/json");
    assert_eq!(doc["version"], 1);
    assert_eq!(doc["source"], "rblwatch");
    let event = &doc["event"];
    assert_eq!(event["kind"], "listed");
    let item = &event["listings"][0];
    assert_eq!(item["address"], "192.0.2.5");
    assert_eq!(item["label"], "mx1");
    assert_eq!(item["list"]["id"], "w");
    assert_eq!(item["codes"], serde_json::json!(["127.0.0.2"]));
    assert_eq!(item["delist"]["url"], "https://w.test/lookup?ip=192.0.2.5");
    assert_eq!(item["delist"]["method"], "self-service");
    assert!(
        item["fix_first"]
            .as_str()
            .unwrap_or_default()
            .contains("rblwatch relay-test 192.0.2.5"),
        "{item}"
    );
    assert!(
        event["delistings"]
            .as_array()
            .expect("delistings")
            .is_empty()
    );

    let posts = slack_hook.posts();
    assert_eq!(posts.len(), 1);
    let text = posts[0].1["text"].as_str().expect("text");
    assert!(
        text.starts_with("[rblwatch] 192.0.2.5 (mx1) listed on Test w"),
        "{text}"
    );

    // `notify test` sends each hook what it takes: Slack's `text`, not rblwatch's document.
    let run = w.at(&["notify", "test"], Some(DAY + 60));
    assert_eq!(run.code, 0, "{run:?}");
    let posts = slack_hook.posts();
    assert_eq!(posts.len(), 2, "{posts:?}");
    let sample = &posts[1].1;
    assert!(sample.get("version").is_none(), "{sample}");
    assert!(
        sample["text"]
            .as_str()
            .unwrap_or_default()
            .starts_with("[rblwatch test] "),
        "{sample}"
    );
    let posts = json_hook.posts();
    assert_eq!(posts[1].1["test"], true);
    assert_eq!(posts[1].1["source"], "rblwatch");
}

/// Points the watch's config at `dir` for template overrides.
fn with_templates(w: &Watch, dir: &std::path::Path) {
    w.edit_config(
        "[notify]\n",
        &format!("[notify]\ntemplates = \"{}\"\n", dir.display()),
    );
}

#[test]
fn a_broken_override_template_is_found_by_config_check() {
    let w = Watch::start();
    let dir = shared_dir();
    write_file(
        dir.path(),
        "listed.txt",
        "Listed:\n{% for item in listings %}{{ item.adress }}{% endfor %}\n",
    );
    let smtp_port = free_tcp_port();
    with_mail(&w, smtp_port, "");
    with_templates(&w, dir.path());
    let run = w.rblwatch(&["config", "check"]);
    assert_eq!(run.code, 2, "{run:?}");
    let expected = format!(
        "rblwatch: {}:2:1: template error",
        dir.path().join("listed.txt").display()
    );
    assert!(run.stderr.starts_with(&expected), "{}", run.stderr);

    write_file(
        dir.path(),
        "listed.txt",
        "Listed:\n{% for item in listings %}{{ item.address }}{% endfor %}\n",
    );
    let run = w.rblwatch(&["notify", "render", "--event", "listed"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(
        run.stdout.contains("Listed:\n192.0.2.25192.0.2.25"),
        "{}",
        run.stdout
    );
}

#[test]
fn a_template_can_raise_to_a_power() {
    // The binary brings its own `pow` (it does not load glibc's libm); minijinja's `**` on
    // floats is what reaches it.
    let w = Watch::start();
    let dir = shared_dir();
    write_file(
        dir.path(),
        "listed.txt",
        "{{ 2 ** 0.5 }} {{ 1.5 ** 2 }} {{ 10 ** -1.0 }}\n",
    );
    with_mail(&w, free_tcp_port(), "");
    with_templates(&w, dir.path());
    let run = w.rblwatch(&["notify", "render", "--event", "listed"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(
        run.stdout.contains("1.4142135623730951 2.25 0.1"),
        "{}",
        run.stdout
    );
}

#[test]
fn delist_gives_the_steps_and_a_request_is_followed_up() {
    let w = Watch::start();
    let smtp = Smtp::start(free_tcp_port(), &SmtpOptions::default());
    with_mail(&w, smtp.port, "");
    w.data("192.0.2.5\n", true);
    w.at(&["run"], Some(DAY));

    let run = w.rblwatch(&["delist", "mx1"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        run.stdout
            .starts_with("1. 192.0.2.5 on Test w (w)\n   code 127.0.0.2: test listing\n"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("   a request is needed once the cause is fixed"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("   link: https://w.test/lookup?ip=192.0.2.5"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("rblwatch delist 192.0.2.5 --list w --requested"),
        "{}",
        run.stdout
    );
    // Before asking: the relay test of the listed address.
    assert!(
        run.stdout
            .contains("`rblwatch relay-test 192.0.2.5` tests it"),
        "{}",
        run.stdout
    );

    let run = w.at(
        &["delist", "192.0.2.5", "--list", "w", "--requested"],
        Some(DAY + 3600),
    );
    assert_eq!(run.code, 0, "{run:?}");
    assert!(
        run.stdout
            .starts_with("recorded: removal of 192.0.2.5 from w requested at 2026-11-28T01:00:00Z"),
        "{}",
        run.stdout
    );
    let run = w.rblwatch(&["delist", "192.0.2.6", "--list", "w", "--requested"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("is not listed there"), "{}", run.stderr);

    // Still listed after the reminder period: a reminder naming the request.
    w.at(&["run"], Some(DAY + 4 * 86_400));
    let mails = smtp.messages();
    let reminder = mails
        .iter()
        .find(|m| {
            m["subject"]
                .as_str()
                .is_some_and(|s| s.starts_with("[rblwatch] still listed"))
        })
        .expect("a reminder");
    let text = reminder["parts"][0]["body"].as_str().expect("text");
    assert!(
        text.contains("removal requested 2026-11-28T01:00:00Z"),
        "{text}"
    );

    // Delisted two days after the request: the mail says how long it took.
    w.data("", false);
    w.at(&["run"], Some(DAY + 3600 + 2 * 86_400 + 4 * 86_400));
    let mails = smtp.messages();
    let gone = mails
        .iter()
        .find(|m| {
            m["subject"]
                .as_str()
                .is_some_and(|s| s.contains("no longer listed"))
        })
        .expect("delisting mail");
    let text = gone["parts"][0]["body"].as_str().expect("text");
    assert!(text.contains("6 days after the removal request"), "{text}");
}

#[test]
fn starttls_with_a_private_ca_delivers_and_an_untrusted_certificate_is_a_tls_error() {
    let ca = TestCa::new();
    let options = SmtpOptions {
        tls: Some((ca.cert.clone(), ca.key.clone())),
        ..SmtpOptions::default()
    };
    let w = Watch::start();
    let smtp = Smtp::start(free_tcp_port(), &options);
    with_mail(&w, smtp.port, "");
    // Without the CA the certificate is not trusted: a TLS error, and the mail is kept.
    w.edit_config("security = \"none\"", "security = \"starttls\"");
    w.data("192.0.2.5\n", true);
    w.at(&["run"], Some(DAY));
    kept_with(&w, "TLS");
    assert!(smtp.messages().is_empty());
    // With it, the kept mails go out over STARTTLS.
    w.edit_config(
        "security = \"starttls\"",
        &format!("security = \"starttls\"\nca_file = \"{}\"", ca.ca.display()),
    );
    let run = w.at(&["notify", "flush", "--all"], Some(DAY + 20));
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(smtp.messages().len(), 2);
}

#[test]
fn after_the_retry_limit_a_notification_is_kept_and_reported_as_failed() {
    let w = Watch::start();
    with_mail(&w, free_tcp_port(), "");
    w.data("192.0.2.5\n", true);
    let run = w.at(&["run"], Some(DAY));
    assert!(run.stdout.contains("(attempt 1)"), "{}", run.stdout);
    let run = w.at(&["notify", "flush", "--all"], Some(DAY + 10));
    assert!(
        run.stdout.contains("(attempt 2)") && run.stdout.contains("2 waiting"),
        "{}",
        run.stdout
    );
    let run = w.at(&["notify", "flush", "--all"], Some(DAY + 20));
    assert_eq!(run.code, 3);
    assert!(
        run.stdout
            .contains("failed, kept in the store: mail to ops@example.com (attempt 3)"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.ends_with("0 sent; 0 waiting; 2 failed in all\n"),
        "{}",
        run.stdout
    );
}

#[test]
fn tls_from_the_first_byte_delivers() {
    let ca = TestCa::new();
    let options = SmtpOptions {
        tls: Some((ca.cert.clone(), ca.key.clone())),
        implicit_tls: true,
        ..SmtpOptions::default()
    };
    let w = Watch::start();
    let smtp = Smtp::start(free_tcp_port(), &options);
    with_mail(&w, smtp.port, &format!("ca_file = \"{}\"", ca.ca.display()));
    w.edit_config("security = \"none\"", "security = \"tls\"");
    let run = w.rblwatch(&["notify", "test"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(smtp.messages().len(), 2);
}

#[test]
fn a_recipient_who_is_also_a_contact_gets_each_listing_once() {
    let w = Watch::start();
    let smtp = Smtp::start(free_tcp_port(), &SmtpOptions::default());
    // The target's contact is postmaster@example.com; the same mailbox, spelled otherwise,
    // is a global recipient too.
    let config = std::fs::read_to_string(w.config()).expect("config");
    std::fs::write(
        w.config(),
        format!(
            "{config}\n[notify]\nrecipients = [\"Postmaster@Example.com\"]\n[notify.smtp]\nhost = \"127.0.0.1\"\nport = {}\nsecurity = \"none\"\nfrom = \"rblwatch@example.com\"\ntimeout = 5\n",
            smtp.port
        ),
    )
    .expect("config");
    assert_eq!(w.at(&["run"], Some(DAY)).code, 0);
    w.data("192.0.2.5\n", true);
    assert_eq!(w.at(&["run"], Some(DAY + 60)).code, 1);
    let mails = smtp.messages();
    assert_eq!(mails.len(), 1, "one mail for one mailbox: {mails:#?}");
    assert_eq!(
        mails[0]["subject"],
        "[rblwatch] 192.0.2.5 (mx1) listed on Test w"
    );
    let text = mails[0]["parts"]
        .as_array()
        .expect("parts")
        .iter()
        .find(|p| p["type"] == "text/plain")
        .and_then(|p| p["body"].as_str())
        .unwrap_or_default()
        .to_string();
    assert_eq!(
        text.matches("https://w.test/lookup?ip=192.0.2.5").count(),
        1,
        "the listing once: {text}"
    );
}

/// A mail queued while the SMTP server is down, then three workers flushing at once once it
/// is up: on either store, each message is delivered exactly once.
fn queued_mail_is_sent_once_by_three_workers(
    config: &std::path::Path,
    env: &[(&str, &str)],
    run: impl Fn(&[&str]) -> crate::support::Run,
    data: impl Fn(),
) {
    let port = free_tcp_port();
    let text = std::fs::read_to_string(config).expect("config");
    std::fs::write(
        config,
        format!(
            "{text}\n[notify]\nrecipients = [\"ops@example.com\"]\n[notify.smtp]\nhost = \"127.0.0.1\"\nport = {port}\nsecurity = \"none\"\nfrom = \"rblwatch@example.com\"\ntimeout = 5\n"
        ),
    )
    .expect("config");
    data();
    let pass = run(&["run"]);
    assert_eq!(pass.code, 1, "{pass:?}");
    assert!(
        pass.stdout.contains("will be retried"),
        "the server is down: {pass:?}"
    );
    let smtp = Smtp::start(port, &SmtpOptions::default());
    let workers: Vec<std::process::Child> = (0..3)
        .map(|_| {
            std::process::Command::new(env!("CARGO_BIN_EXE_rblwatch"))
                .arg("--config")
                .arg(config)
                .args(["notify", "flush", "--all"])
                .envs(env.iter().copied())
                .env_remove("RBLWATCH_NOW")
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .expect("a worker")
        })
        .collect();
    for mut worker in workers {
        worker.wait().expect("worker");
    }
    let mails = smtp.messages();
    // ops@ and the target's contact postmaster@: one mail each, whatever the workers did.
    assert_eq!(mails.len(), 2, "{mails:#?}");
    let flush = run(&["notify", "flush", "--all"]);
    assert!(flush.stdout.contains("0 sent; 0 waiting"), "{flush:?}");
}

#[test]
fn three_workers_send_each_queued_mail_once_on_sqlite() {
    let w = Watch::start();
    queued_mail_is_sent_once_by_three_workers(
        w.config(),
        &w.env(),
        |args| w.rblwatch(args),
        || w.data("192.0.2.5\n", true),
    );
}

#[test]
fn three_workers_send_each_queued_mail_once_on_postgresql() {
    let w = crate::watch_pg::Watch::start();
    queued_mail_is_sent_once_by_three_workers(
        w.config(),
        &w.env(),
        |args| w.rblwatch(args),
        || w.data("192.0.2.5\n", true),
    );
}
