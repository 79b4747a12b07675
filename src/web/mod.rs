//! The daemon's listener: a status page for people at `/` (`?days=N` for its timeline),
//! `/metrics` for Prometheus, and a read-only JSON API for people's tools, the same documents
//! the CLI prints with `--format json`:
//!
//! - `/api/v1/status` (`rblwatch status`; `?all=1` for `--all`)
//! - `/api/v1/history?target=&list=&since=` (`rblwatch history`)
//! - `/api/v1/lists` (`rblwatch lists`)
//!
//! and `/probe?target=IP`, a check of one address on demand as Prometheus text (as
//! dnsbl_exporter's prober answers): one probe at a time, of the configured targets'
//! addresses or `[metrics] probe_allow`.
//!
//! Hand-written HTTP/1.1, one request per connection: a client is read for at most
//! `MAX_REQUEST` bytes and served within `DEADLINE`, and at most `MAX_CONNECTIONS` at once, so
//! a slow or hostile one cannot hold what a pass needs. Store reads run on the blocking pool.

pub mod page;
pub mod timeline;

use std::sync::Arc;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;

use crate::cli::{HistoryArgs, ListFormat, StatusArgs};
use crate::cmd::Setup;
use crate::metrics::Metrics;

/// Clients served at once; one more is closed at once, so idle connections cannot take the
/// file descriptors a pass needs.
const MAX_CONNECTIONS: usize = 16;
/// The time a client has to send its request, and to take the response.
const DEADLINE: std::time::Duration = std::time::Duration::from_secs(5);
/// The time a probe may take: every list's test points and answer, with their resends.
const PROBE_DEADLINE: std::time::Duration = std::time::Duration::from_secs(60);
/// The largest request read.
const MAX_REQUEST: usize = 8192;

/// What the listener serves from: the metrics, and the setup in force (replaced on reload).
pub struct Served {
    /// What `/metrics` shows.
    pub metrics: Arc<Metrics>,
    /// The config and catalog the API reads the store and the lists with.
    pub setup: watch::Receiver<Arc<Setup>>,
    /// Held by the probe under way: one at a time.
    pub probing: tokio::sync::Semaphore,
}

/// The TLS side of the listener, from a PEM certificate chain and private key (read as every
/// secret file is: regular files only, of bounded size).
pub fn tls(cert: &std::path::Path, key: &std::path::Path) -> Result<TlsAcceptor, String> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let read = |path: &std::path::Path| {
        crate::files::read_bytes(path, crate::files::SECRET_LIMIT)
            .map_err(|e| format!("{}: {e}", path.display()))
    };
    let chain = CertificateDer::pem_slice_iter(&read(cert)?)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("{}: {e}", cert.display()))?;
    if chain.is_empty() {
        return Err(format!("{}: no certificate in it", cert.display()));
    }
    let key = PrivateKeyDer::from_pem_slice(&read(key)?)
        .map_err(|e| format!("{}: {e}", key.display()))?;
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| format!("TLS setup: {e}"))?
    .with_no_client_auth()
    .with_single_cert(chain, key)
    .map_err(|e| format!("the certificate and key do not make a TLS setup: {e}"))?;
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// Serves requests until the task is dropped; over TLS when `tls` is given.
pub async fn serve(listener: TcpListener, served: Served, tls: Option<TlsAcceptor>) {
    let served = Arc::new(served);
    let slots = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(_) => {
                // Out of descriptors, say: wait a little rather than spin.
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                continue;
            }
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            drop(stream);
            continue;
        };
        let (served, tls) = (served.clone(), tls.clone());
        tokio::spawn(async move {
            match tls {
                // The handshake has the same time as a request.
                Some(tls) => {
                    if let Ok(Ok(stream)) = tokio::time::timeout(DEADLINE, tls.accept(stream)).await
                    {
                        answer(stream, &served).await;
                    }
                }
                None => answer(stream, &served).await,
            }
            drop(slot);
        });
    }
}

/// A response: status line, content type, body.
struct Response {
    status: &'static str,
    kind: &'static str,
    body: Vec<u8>,
}

const JSON: &str = "application/json";
const HTML: &str = "text/html; charset=utf-8";
const PROMETHEUS: &str = "text/plain; version=0.0.4; charset=utf-8";

impl Response {
    /// A 200 with `body` of type `kind`.
    fn ok(kind: &'static str, body: Vec<u8>) -> Response {
        Response {
            status: "200 OK",
            kind,
            body,
        }
    }

    /// An error as a JSON document: `{"error": "..."}`.
    fn error(status: &'static str, message: &str) -> Response {
        let body = serde_json::json!({ "error": message })
            .to_string()
            .into_bytes();
        Response {
            status,
            kind: JSON,
            body,
        }
    }
}

/// Reads one request (at most `MAX_REQUEST` bytes) and answers it.
async fn answer<S: AsyncRead + AsyncWrite + Unpin>(mut stream: S, served: &Served) {
    let mut buf = vec![0u8; MAX_REQUEST];
    let mut read = 0;
    let mut whole = false;
    let reading = async {
        while read < buf.len() {
            let before = read;
            match stream.read(&mut buf[read..]).await {
                Ok(0) | Err(_) => break,
                Ok(n) => read += n,
            }
            // Only the new bytes (and the three before them) can end the head.
            if buf[before.saturating_sub(3)..read]
                .windows(4)
                .any(|w| w == b"\r\n\r\n")
            {
                whole = true;
                break;
            }
        }
    };
    if tokio::time::timeout(DEADLINE, reading).await.is_err() {
        return;
    }
    if !whole && read == MAX_REQUEST {
        let message = format!("the request head is over {MAX_REQUEST} bytes");
        respond(
            &mut stream,
            Response::error("431 Request Header Fields Too Large", &message),
        )
        .await;
        return;
    }
    let request = String::from_utf8_lossy(&buf[..read]);
    let first = request.lines().next().unwrap_or_default();
    // One setup serves the whole request, even if a reload replaces it meanwhile.
    let setup = served.setup.borrow().clone();
    let denied = setup
        .config
        .as_ref()
        .and_then(|c| c.listen_auth.as_ref())
        .and_then(|(user, file)| refused(&request, user, file));
    let response = match denied {
        Some(response) => response,
        None => match tokio::time::timeout(PROBE_DEADLINE, route(first, served, setup)).await {
            Ok(response) => response,
            Err(_) => return,
        },
    };
    respond(&mut stream, response).await;
}

/// Writes `response` and closes the connection, within `DEADLINE`.
async fn respond<S: AsyncWrite + Unpin>(stream: &mut S, response: Response) {
    let challenge = if response.status.starts_with("401") {
        "WWW-Authenticate: Basic realm=\"rblwatch\", charset=\"UTF-8\"\r\n"
    } else {
        ""
    };
    // The page runs no script and loads nothing: a value that slipped past escaping still
    // could not run or call out.
    let policy = if response.kind == HTML {
        "Content-Security-Policy: default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'\r\nReferrer-Policy: no-referrer\r\n"
    } else {
        ""
    };
    let head = format!(
        "HTTP/1.1 {}\r\nContent-Type: {}\r\nContent-Length: {}\r\n{challenge}{policy}X-Content-Type-Options: nosniff\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n",
        response.status,
        response.kind,
        response.body.len()
    );
    let writing = async {
        stream.write_all(head.as_bytes()).await?;
        stream.write_all(&response.body).await?;
        stream.shutdown().await
    };
    let _ = tokio::time::timeout(DEADLINE, writing).await;
}

/// The response to a request line (`GET /path?query HTTP/1.1`).
async fn route(line: &str, served: &Served, setup: Arc<Setup>) -> Response {
    let mut words = line.split(' ');
    let (method, target) = (
        words.next().unwrap_or_default(),
        words.next().unwrap_or("/"),
    );
    if method != "GET" {
        return Response::error("405 Method Not Allowed", "only GET is served");
    }
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let params = match parameters(query) {
        Ok(params) => params,
        Err(why) => return Response::error("400 Bad Request", &why),
    };
    let allowed: &[&str] = match path {
        "/" => &["days"],
        "/api/v1/status" => &["all"],
        "/api/v1/history" => &["target", "list", "since"],
        "/probe" => &["target"],
        _ => &[],
    };
    if let Some((name, _)) = params.iter().find(|(n, _)| !allowed.contains(&n.as_str())) {
        return Response::error(
            "400 Bad Request",
            &format!("{path} takes no parameter {name:?}"),
        );
    }
    let get = |name: &str| {
        params
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
    };
    match path {
        "/" => {
            let days = match get("days").map(|d| d.parse::<u32>()) {
                None => page::DEFAULT_DAYS,
                Some(Ok(days)) if (1..=page::MAX_DAYS).contains(&days) => days,
                Some(_) => {
                    return Response::error(
                        "400 Bad Request",
                        &format!("days must be a whole number from 1 to {}", page::MAX_DAYS),
                    );
                }
            };
            status_page(setup, days).await
        }
        "/metrics" => Response::ok(PROMETHEUS, served.metrics.render().into_bytes()),
        "/api/v1/lists" => {
            let mut body = Vec::new();
            match crate::report::catalog::write_json(&mut body, &setup.catalog) {
                Ok(()) => Response::ok(JSON, body),
                Err(e) => Response::error("500 Internal Server Error", &e.to_string()),
            }
        }
        "/api/v1/status" => {
            let all = match get("all").as_deref() {
                None | Some("0" | "false") => false,
                Some("" | "1" | "true") => true,
                Some(other) => {
                    return Response::error(
                        "400 Bad Request",
                        &format!("all={other:?}: must be 1, true, 0 or false"),
                    );
                }
            };
            let args = StatusArgs {
                all,
                format: ListFormat::Json,
            };
            from_store(setup, JSON, move |setup, out| {
                crate::cmd::status::write(setup, &args, out)
            })
            .await
        }
        "/api/v1/history" => {
            let args = HistoryArgs {
                target: get("target"),
                list: get("list"),
                since: get("since"),
                format: ListFormat::Json,
            };
            from_store(setup, JSON, move |setup, out| {
                crate::cmd::history::write(setup, &args, out)
            })
            .await
        }
        "/probe" => match get("target") {
            Some(target) => probe(&setup, &target, &served.probing).await,
            None => Response::error("400 Bad Request", "/probe needs ?target=IP"),
        },
        _ => Response::error(
            "404 Not Found",
            "not found: try /, /metrics, /api/v1/status, /api/v1/history, /api/v1/lists or /probe",
        ),
    }
}

/// A document of type `kind` written from the store, on the blocking pool (SQLite and PostgreSQL reads
/// block). A bad parameter is a 400, anything else that fails a 500, with the message the CLI
/// would print.
async fn from_store(
    setup: Arc<Setup>,
    kind: &'static str,
    write: impl FnOnce(&Setup, &mut dyn std::io::Write) -> Result<u8, crate::error::Error>
    + Send
    + 'static,
) -> Response {
    let done = tokio::task::spawn_blocking(move || {
        let mut body = Vec::new();
        write(&setup, &mut body).map(|_| body)
    })
    .await;
    match done {
        Ok(Ok(body)) => Response::ok(kind, body),
        Ok(Err(crate::error::Error::Usage { arg, message })) => {
            Response::error("400 Bad Request", &format!("{arg}: {message}"))
        }
        Ok(Err(err)) => Response::error("500 Internal Server Error", &err.to_string()),
        Err(_) => Response::error("500 Internal Server Error", "the request failed"),
    }
}

/// The status page, built from the store and drawn with the configured templates on the
/// blocking pool. A broken template override is a 500 naming its file and line.
async fn status_page(setup: Arc<Setup>, days: u32) -> Response {
    from_store(setup, HTML, move |setup, out| {
        let config = setup.config()?;
        let templates = crate::notify::render::Templates::load(config.notify.templates.as_deref())?;
        let built = page::build(setup, days, crate::clock::now())?;
        out.write_all(page::render(&templates, &built)?.as_bytes())?;
        Ok(0)
    })
    .await
}

/// The response refusing `request` when it does not carry `user` and the password on the first
/// line of `file` (HTTP basic authentication, RFC 7617); None when it does. An empty password
/// lets nobody in. The file is read at each request: one that cannot be read refuses
/// everything.
fn refused(request: &str, user: &str, file: &std::path::Path) -> Option<Response> {
    let password = match crate::files::read_text(file, 4096) {
        Ok(text) => text.lines().next().unwrap_or_default().to_string(),
        Err(e) => {
            tracing::error!(file = %file.display(), "the listener's password file cannot be read: {e}");
            return Some(Response::error(
                "503 Service Unavailable",
                "the password file cannot be read; see the daemon's log",
            ));
        }
    };
    let given = request
        .lines()
        .skip(1)
        .take_while(|line| !line.is_empty())
        .filter_map(|line| line.split_once(':'))
        .find(|(name, _)| name.trim().eq_ignore_ascii_case("authorization"))
        .and_then(|(_, value)| {
            let (scheme, token) = value.trim().split_once(' ')?;
            scheme
                .eq_ignore_ascii_case("basic")
                .then(|| base64(token.trim()))?
        });
    let expected = format!("{user}:{password}");
    match given {
        Some(given) if !password.is_empty() && same(&given, expected.as_bytes()) => None,
        _ => Some(Response::error(
            "401 Unauthorized",
            "authentication required",
        )),
    }
}

/// Whether `a` and `b` are equal, in a time that depends on their length only.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Standard base64 (RFC 4648, with padding) decoded; None for anything else.
fn base64(text: &str) -> Option<Vec<u8>> {
    let value = |c: u8| -> Option<u32> {
        Some(u32::from(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        }))
    };
    let bytes = text.as_bytes();
    if bytes.is_empty() || !bytes.len().is_multiple_of(4) {
        return None;
    }
    let mut out = Vec::with_capacity(bytes.len() / 4 * 3);
    let chunks = bytes.len() / 4;
    for (i, chunk) in bytes.chunks_exact(4).enumerate() {
        let pad = chunk.iter().rev().take_while(|&&c| c == b'=').count();
        // Padding only at the very end, at most two.
        if pad > 2 || (pad > 0 && i + 1 != chunks) {
            return None;
        }
        let mut n = 0u32;
        for &c in &chunk[..4 - pad] {
            n = (n << 6) | value(c)?;
        }
        n <<= 6 * u32::try_from(pad).ok()?;
        let three = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
        out.extend_from_slice(&three[..3 - pad]);
    }
    Some(out)
}

/// `/probe?target=IP`: every selected list asked about one address now, as Prometheus text.
async fn probe(setup: &Setup, target: &str, probing: &tokio::sync::Semaphore) -> Response {
    let Ok(ip) = target.parse::<std::net::IpAddr>() else {
        return Response::error(
            "400 Bad Request",
            &format!("target {target:?}: must be one IP address"),
        );
    };
    let ip = ip.to_canonical();
    let Ok(config) = setup.config() else {
        return Response::error("500 Internal Server Error", "no config");
    };
    let watched = config.targets.iter().any(|t| match &t.target.kind {
        crate::target::TargetKind::Ip(own) => own.to_canonical() == ip,
        crate::target::TargetKind::Net(net) => net.contains(ip),
        crate::target::TargetKind::Name(_) => false,
    });
    if !watched && !config.probe_allow.iter().any(|net| net.contains(ip)) {
        return Response::error(
            "403 Forbidden",
            &format!(
                "{ip} is not a configured target's address; [metrics] probe_allow can allow it"
            ),
        );
    }
    // One at a time: a probe asks every list, and public lists count every query.
    let Ok(_turn) = probing.try_acquire() else {
        return Response::error("429 Too Many Requests", "a probe is under way; try again");
    };
    let started = std::time::Instant::now();
    let asked = async {
        let selection = setup.select(None)?;
        let (settings, verify) = setup.resolver(None)?;
        let dns = crate::dns::Dns::new(&settings)?;
        let request = crate::check::CheckRequest {
            targets: vec![crate::target::Target::parse(&ip.to_string())?],
            lists: selection.lists,
            verify,
            concurrency: settings.concurrency,
            progress: None,
            used_today: std::collections::HashMap::new(),
            resolutions: None,
        };
        Ok::<_, crate::error::Error>(crate::check::run(&dns, request).await)
    };
    match asked.await {
        Ok(report) => Response::ok(
            PROMETHEUS,
            crate::metrics::probe_text(&report, started.elapsed()).into_bytes(),
        ),
        Err(err) => Response::error("500 Internal Server Error", &err.to_string()),
    }
}

/// The parameters of a query string, percent-decoded (`+` is a space).
fn parameters(query: &str) -> Result<Vec<(String, String)>, String> {
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            Ok((decode(name)?, decode(value)?))
        })
        .collect()
}

/// Percent-decoding of one query component; text that is not UTF-8 once decoded is refused.
fn decode(text: &str) -> Result<String, String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut at = 0;
    while at < bytes.len() {
        match bytes[at] {
            b'%' => {
                let hex = bytes
                    .get(at + 1..at + 3)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or_else(|| format!("{text:?}: a % not followed by two hex digits"))?;
                out.push(hex);
                at += 3;
            }
            b'+' => {
                out.push(b' ');
                at += 1;
            }
            b => {
                out.push(b);
                at += 1;
            }
        }
    }
    String::from_utf8(out).map_err(|_| format!("{text:?}: not UTF-8 once decoded"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_strings_are_decoded_and_bad_escapes_refused() {
        assert_eq!(
            parameters("target=192.0.2.0%2F24&list=zen+x&&since="),
            Ok(vec![
                ("target".into(), "192.0.2.0/24".into()),
                ("list".into(), "zen x".into()),
                ("since".into(), String::new()),
            ])
        );
        assert!(parameters("target=%2").is_err());
        assert!(parameters("target=%zz").is_err());
        assert!(parameters("target=%ff").is_err());
        // A multi-byte character split by the escape is refused, not panicked on.
        assert!(decode("%e2%82").is_err());
        assert_eq!(decode("%e2%82%ac"), Ok("€".into()));
        assert!(decode("é%").is_err());
    }

    #[test]
    fn base64_decodes_what_rfc_4648_encodes_and_nothing_else() {
        // RFC 4648 section 10.
        for (plain, coded) in [
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
            ("prometheus:s3cr3t", "cHJvbWV0aGV1czpzM2NyM3Q="),
        ] {
            assert_eq!(base64(coded), Some(plain.as_bytes().to_vec()), "{coded}");
        }
        for bad in ["", "Zg=", "Zg===", "Z===", "Zg==Zg==", "Zm9v!", "Zm 9v"] {
            assert_eq!(base64(bad), None, "{bad}");
        }
        assert!(same(b"abc", b"abc"));
        assert!(!same(b"abc", b"abd"));
        assert!(!same(b"abc", b"abcd"));
    }
}
