//! `relay-test` against a real Postfix on loopback: closed, open two ways, over STARTTLS and
//! TLS, and servers that are down or hang up mid-dialogue. Postfix's own log and queue show
//! that no message was ever queued.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;

use crate::support::postfix::{Postfix, Relay};
use crate::support::rblwatch;
use crate::support::servers::{TestCa, free_tcp_port};

fn relay_test(server: &str, extra: &[&str]) -> crate::support::Run {
    let mut args = vec!["relay-test", server, "--wait", "0", "--timeout", "10"];
    args.extend_from_slice(extra);
    rblwatch(&args, &[])
}

/// Nothing reached Postfix's queue, and its queue manager never saw a message.
#[track_caller]
fn nothing_queued(postfix: &Postfix) {
    assert!(
        postfix.queued().is_empty(),
        "queued: {:?}",
        postfix.queued()
    );
    let log = postfix.log();
    assert!(
        !log.contains("qmgr"),
        "a message reached the queue manager:\n{log}"
    );
    assert!(
        !log.contains("message-id="),
        "a message was received:\n{log}"
    );
}

fn outcomes(doc: &serde_json::Value) -> Vec<(String, String)> {
    doc["attempts"]
        .as_array()
        .expect("attempts")
        .iter()
        .map(|a| {
            (
                a["name"].as_str().unwrap_or_default().to_string(),
                a["outcome"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

#[test]
fn a_closed_postfix_refuses_every_trick() {
    let postfix = Postfix::start(&Relay::Closed, None);
    let run = relay_test(&postfix.addr(), &["--format", "json"]);
    assert_eq!(run.code, 0, "{}{}{}", run.stdout, run.stderr, postfix.log());
    let doc = run.json();
    assert_eq!(doc["verdict"], "closed");
    let found = outcomes(&doc);
    let names: Vec<&str> = found.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "plain",
            "own-sender",
            "percent-hack",
            "quoted",
            "double-at",
            "bang-path",
            "source-route",
            "ip-literal",
            "sender-at-name",
            "sender-at-ip",
            "quoted-bare",
            "quoted-percent",
            "bang-at-name",
            "bang-at-ip",
            "double-at-ip",
            "source-route-ip",
            "null-sender",
            "helo-as-server"
        ]
    );
    assert!(found.iter().all(|(_, o)| o == "refused"), "{found:?}");
    for attempt in doc["attempts"].as_array().expect("attempts") {
        assert!(
            attempt["reply"]
                .as_str()
                .unwrap_or_default()
                .contains("Relay access denied"),
            "{attempt}"
        );
        // Every attempt ends with RSET; none sends DATA.
        let sent: Vec<&str> = attempt["dialogue"]
            .as_array()
            .expect("dialogue")
            .iter()
            .map(|e| e["sent"].as_str().unwrap_or_default())
            .collect();
        assert_eq!(sent.last(), Some(&"RSET"), "{sent:?}");
        assert!(!sent.iter().any(|s| s.starts_with("DATA")), "{sent:?}");
    }
    let log = postfix.log();
    assert_eq!(log.matches("Relay access denied").count(), 18, "{log}");
    assert!(
        log.contains("helo=<mx.relaytest.example>"),
        "the HELO trick gave the server's name"
    );
    nothing_queued(&postfix);
}

#[test]
fn a_postfix_trusting_the_clients_network_is_an_open_relay() {
    let postfix = Postfix::start(&Relay::TrustedNetwork, None);
    let run = relay_test(&postfix.addr(), &[]);
    assert_eq!(run.code, 1, "{}{}{}", run.stdout, run.stderr, postfix.log());
    assert!(
        run.stdout
            .contains("OPEN RELAY: the server accepted an outside recipient in attempt `plain`"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("What to fix"), "{}", run.stdout);
    assert!(
        run.stdout.contains("--all"),
        "says it stopped early: {}",
        run.stdout
    );
    // It stopped at the first accepted attempt: one transaction at Postfix's side.
    let log = postfix.log();
    assert!(log.contains("rcpt=1 rset=1"), "{log}");
    nothing_queued(&postfix);
}

#[test]
fn a_postfix_that_relays_for_everyone_is_an_open_relay_on_every_trick() {
    let postfix = Postfix::start(&Relay::Everyone, None);
    let run = relay_test(&postfix.addr(), &["--all", "--format", "json"]);
    assert_eq!(run.code, 1, "{}{}{}", run.stdout, run.stderr, postfix.log());
    let doc = run.json();
    assert_eq!(doc["verdict"], "open_relay");
    assert_eq!(doc["exit_code"], 1);
    let found = outcomes(&doc);
    assert_eq!(found.len(), 18);
    assert!(
        found.contains(&("plain".to_string(), "accepted".to_string())),
        "{found:?}"
    );
    assert!(!doc["advice"].as_array().expect("advice").is_empty());
    nothing_queued(&postfix);
}

#[test]
fn starttls_and_implicit_tls_reach_the_same_verdict() {
    let ca = TestCa::new();
    let postfix = Postfix::start(&Relay::Closed, Some((&ca.cert, &ca.key)));
    let ca_file = ca.ca.to_string_lossy().into_owned();
    let run = relay_test(
        &postfix.addr(),
        &["--security", "starttls", "--ca-file", &ca_file],
    );
    assert_eq!(run.code, 0, "{}{}{}", run.stdout, run.stderr, postfix.log());
    assert!(run.stdout.contains("STARTTLS"), "{}", run.stdout);
    let tls = format!("127.0.0.1:{}", postfix.tls_port.expect("tls port"));
    let run = relay_test(&tls, &["--security", "tls", "--ca-file", &ca_file]);
    assert_eq!(run.code, 0, "{}{}{}", run.stdout, run.stderr, postfix.log());
    // Without the private CA the certificate is not trusted, and the test says it could not run.
    let run = relay_test(&postfix.addr(), &["--security", "starttls"]);
    assert_eq!(run.code, 3, "{}{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("--ca-file"), "{}", run.stdout);
    assert!(
        postfix.log().contains("TLS connection established"),
        "{}",
        postfix.log()
    );
    nothing_queued(&postfix);
}

#[test]
fn a_server_that_closes_with_421_after_a_few_errors_is_called_again() {
    // Postfix says 421 and hangs up after its hard error limit: each attempt cut off that way
    // is made again on a new connection, so none is lost.
    let postfix = Postfix::start_with(
        &Relay::Closed,
        None,
        "smtpd_hard_error_limit = 3\nsmtpd_soft_error_limit = 2",
    );
    let run = relay_test(&postfix.addr(), &["--format", "json"]);
    assert_eq!(run.code, 0, "{}{}{}", run.stdout, run.stderr, postfix.log());
    let doc = run.json();
    assert_eq!(doc["verdict"], "closed");
    let found = outcomes(&doc);
    assert_eq!(found.len(), 18);
    assert!(found.iter().all(|(_, o)| o == "refused"), "{found:?}");
    assert!(
        postfix.log().contains("too many errors"),
        "Postfix did hang up: {}",
        postfix.log()
    );
    nothing_queued(&postfix);
}

#[test]
fn a_server_that_is_down_cannot_be_tested() {
    let port = free_tcp_port();
    let run = relay_test(&format!("127.0.0.1:{port}"), &["--format", "json"]);
    assert_eq!(run.code, 3, "{}{}", run.stdout, run.stderr);
    let doc = run.json();
    assert_eq!(doc["verdict"], "unknown");
    assert!(
        doc["error"]
            .as_str()
            .unwrap_or_default()
            .contains("cannot connect"),
        "{doc}"
    );
}

/// A peer that greets, answers EHLO, and closes the connection when the sender is given;
/// it takes `calls` connections, then stops listening.
fn hang_up_server(calls: usize) -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten().take(calls) {
            let mut writer = stream.try_clone().expect("clone");
            let mut reader = BufReader::new(stream);
            let _ = writer.write_all(b"220 hangup.test ESMTP\r\n");
            let mut line = String::new();
            while reader.read_line(&mut line).unwrap_or(0) > 0 {
                if line.starts_with("MAIL") {
                    break;
                }
                let _ = writer.write_all(b"250 hangup.test\r\n");
                line.clear();
            }
        }
    });
    addr
}

#[test]
fn a_server_that_hangs_up_mid_dialogue_cannot_be_tested() {
    let addr = hang_up_server(usize::MAX);
    let run = relay_test(&addr.to_string(), &["--format", "json"]);
    assert_eq!(run.code, 3, "{}{}", run.stdout, run.stderr);
    let doc = run.json();
    assert_eq!(doc["verdict"], "unknown");
    let found = outcomes(&doc);
    assert_eq!(found.len(), 18, "each attempt called again: {found:?}");
    assert!(found.iter().all(|(_, o)| o == "error"), "{found:?}");
    assert!(
        doc["attempts"][0]["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("closed the connection"),
        "{doc}"
    );
}

#[test]
fn bad_input_is_named() {
    let run = rblwatch(&["relay-test", "mx.example.org:smtp"], &[]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains("mx.example.org:smtp"), "{}", run.stderr);
    let run = rblwatch(&["relay-test", "127.0.0.1", "--to", "<a@b.example>"], &[]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains("--to"), "{}", run.stderr);
}

#[test]
fn a_server_that_cannot_be_reached_again_is_not_called_for_every_attempt() {
    let addr = hang_up_server(1);
    let run = relay_test(&addr.to_string(), &["--format", "json"]);
    assert_eq!(run.code, 3, "{}{}", run.stdout, run.stderr);
    let doc = run.json();
    let details: Vec<&str> = doc["attempts"]
        .as_array()
        .expect("attempts")
        .iter()
        .map(|a| a["detail"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(details.len(), 18);
    assert!(details[0].contains("closed the connection"), "{details:?}");
    assert!(
        details[1].starts_with("cannot connect again"),
        "{details:?}"
    );
    assert!(
        details[2..].iter().all(|d| d.starts_with("not tried")),
        "{details:?}"
    );
}
