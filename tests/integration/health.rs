//! `rblwatch lists verify`: every enabled list's RFC 5782 health, exit 1 when any is not ok.

use crate::support::{Lab, rblwatch};

fn verify(lab: &Lab, only: &str, extra: &[&str]) -> crate::support::Run {
    let mut args = vec!["--only", only];
    args.extend_from_slice(extra);
    lab.run(&["lists", "verify"], &args, &[])
}

#[test]
fn healthy_lists_verify_ok() {
    let lab = Lab::start();
    let run = verify(&lab, "bl,bl6,dom,wl,ref", &[]);
    assert_eq!(run.code, 0, "{run:?}");
    for id in ["bl", "bl6", "dom", "wl", "ref"] {
        let line = run
            .stdout
            .lines()
            .find(|l| l.split_whitespace().next() == Some(id))
            .expect(id);
        assert_eq!(line.split_whitespace().nth(1), Some("ok"), "{line}");
    }
    assert!(
        run.stdout.ends_with("5 lists checked, 5 ok, 0 not ok\n"),
        "{}",
        run.stdout
    );
}

#[test]
fn every_health_outcome_is_named() {
    let lab = Lab::start();
    let run = verify(&lab, "bl,dead,world,missing,bogus", &["--format", "json"]);
    assert_eq!(run.code, 1, "{run:?}");
    let doc = run.json();
    let health = |id: &str| -> String {
        doc.as_array()
            .expect("array")
            .iter()
            .find(|l| l["id"] == id)
            .and_then(|l| l["health"].as_str())
            .unwrap_or_default()
            .to_string()
    };
    assert_eq!(health("bl"), "ok");
    assert_eq!(health("dead"), "dead");
    assert_eq!(health("world"), "wildcard");
    assert_eq!(health("missing"), "refused");
    assert_eq!(health("bogus"), "bogus");
    let dead = doc
        .as_array()
        .expect("array")
        .iter()
        .find(|l| l["id"] == "dead")
        .expect("dead");
    assert!(
        dead["detail"]
            .as_str()
            .expect("detail")
            .contains("positive test point 127.0.0.2 is not listed"),
        "{dead}"
    );
}

#[test]
fn an_unreachable_list_is_named() {
    // Nothing listens on this port: every query times out.
    let port = crate::support::rbldnsd::free_port();
    let run = rblwatch(
        &[
            "lists",
            "verify",
            "--only",
            "spamcop",
            "--nameserver",
            &format!("127.0.0.1:{port}"),
            "--timeout",
            "0.3",
            "--attempts",
            "1",
        ],
        &[],
    );
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        run.stdout
            .starts_with("spamcop  unreachable  test point 127.0.0.2: "),
        "{}",
        run.stdout
    );
}
