//! A real browser: Debian's headless Chromium (`chromium-headless-shell`), loading pages from a
//! server on loopback. Each run has a profile of its own, so tests can run side by side.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The browser's binary.
const BROWSER: &str = "chromium-headless-shell";
/// How long one page may take.
const LIMIT: Duration = Duration::from_secs(60);

/// Runs the browser with `args` and then `url`; its stdout, or a panic with its stderr.
fn browse(args: &[&str], url: &str) -> String {
    let profile = tempfile::tempdir().expect("profile dir");
    let mut child = Command::new(BROWSER)
        .args(["--no-sandbox", "--disable-gpu", "--no-first-run"])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(args)
        .arg(url)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{BROWSER}: {e} (tests/deps.sh installs it)"));
    let started = Instant::now();
    loop {
        if child.try_wait().expect("wait").is_some() {
            break;
        }
        if started.elapsed() > LIMIT {
            let _ = child.kill();
            panic!("{BROWSER} took over {LIMIT:?} on {url}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().expect("output");
    assert!(
        out.status.success(),
        "{BROWSER} on {url}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The document at `url` as the browser built it after loading (`--dump-dom`), in a window
/// `width` by `height` pixels.
pub(crate) fn dom(url: &str, width: u32, height: u32) -> String {
    browse(
        &[&format!("--window-size={width},{height}"), "--dump-dom"],
        url,
    )
}

/// Elements that do not break a line.
const INLINE: &[&str] = &["a", "strong", "em", "span", "code", "b", "i", "small"];

/// The text a reader sees in a DOM dump: tags dropped, entities and white space as a browser
/// shows them (enough for the pages under test).
pub(crate) fn text(dom: &str) -> String {
    let mut out = String::with_capacity(dom.len());
    let mut in_tag = false;
    let mut skip: Option<&str> = None;
    let mut rest = dom;
    while let Some(c) = rest.chars().next() {
        if let Some(end) = skip {
            match rest.find(end) {
                Some(at) => {
                    rest = &rest[at + end.len()..];
                    skip = None;
                }
                None => break,
            }
            continue;
        }
        if !in_tag && rest.starts_with("<style") {
            skip = Some("</style>");
            continue;
        }
        match c {
            '<' => {
                in_tag = true;
                // Blocks and cells are apart on screen; inline elements run on.
                let name: String = rest[1..]
                    .trim_start_matches('/')
                    .chars()
                    .take_while(char::is_ascii_alphanumeric)
                    .collect();
                if !INLINE.contains(&name.as_str()) {
                    out.push(' ');
                }
            }
            '>' => in_tag = false,
            _ if !in_tag => out.push(c),
            _ => {}
        }
        rest = &rest[c.len_utf8()..];
    }
    let decoded = out
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&nbsp;", " ")
        .replace("&amp;", "&");
    decoded.split_whitespace().collect::<Vec<_>>().join(" ")
}
