//! The SMTP dialogue of a relay test: greeting, EHLO, STARTTLS or implicit TLS, commands and
//! their replies. There is no DATA here: this client cannot send a message, so no test can
//! ever relay one.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::{self, ClientConfig, RootCertStore, pki_types::ServerName};

/// How the connection is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Security {
    /// Plain SMTP, as a spammer scanning port 25 would speak it.
    None,
    /// STARTTLS before the first attempt (submission, port 587).
    Starttls,
    /// TLS from the first byte (port 465).
    Tls,
}

/// One reply: its code and its text (the lines after the code, joined by newlines).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// The three-digit code.
    pub code: u16,
    /// The text, without the codes.
    pub text: String,
}

impl Reply {
    /// The reply as the server wrote its first line: `554 5.7.1 Relay access denied`.
    pub fn line(&self) -> String {
        let first = self.text.lines().next().unwrap_or_default();
        format!("{} {first}", self.code)
    }

    /// A 2xx reply.
    pub fn is_ok(&self) -> bool {
        (200..300).contains(&self.code)
    }
}

trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// Longest reply line read: a server sending more is cut off, not buffered without end.
const MAX_LINE: u64 = 4096;
/// How a connection the server closed is reported.
pub const CLOSED: &str = "the server closed the connection";
/// How a reply that did not come in time is reported (the relay test counts these).
pub const NO_REPLY: &str = "no complete reply within";
/// Lines of one reply read at the most (RFC 5321 sets no limit; real servers send a few).
const MAX_LINES: usize = 100;

/// An open SMTP session.
pub struct Session {
    stream: BufReader<Box<dyn Io>>,
    timeout: Duration,
    /// This end's address of the connection.
    local: Option<std::net::SocketAddr>,
}

/// What a session needs to open.
#[derive(Debug, Clone)]
pub struct Endpoint {
    /// The address connected to.
    pub addr: SocketAddr,
    /// The name the certificate must hold (the host as the user named it).
    pub name: String,
    /// Plain, STARTTLS or TLS.
    pub security: Security,
    /// Extra trusted certificates (PEM), beside the usual public roots.
    pub ca_file: Option<std::path::PathBuf>,
    /// Limit for the connection and for each reply.
    pub timeout: Duration,
}

impl Session {
    /// Connects and reads the server's greeting (220), nothing more: what `doctor` compares
    /// with the server's reverse DNS. Over TLS from the first byte on such an endpoint.
    pub async fn greet(endpoint: &Endpoint) -> Result<(Session, Reply), String> {
        let tcp = tokio::time::timeout(endpoint.timeout, TcpStream::connect(endpoint.addr))
            .await
            .map_err(|_| {
                format!(
                    "no connection to {} within {:?}",
                    endpoint.addr, endpoint.timeout
                )
            })?
            .map_err(|e| format!("cannot connect to {}: {e}", endpoint.addr))?;
        let local = tcp.local_addr().ok();
        let stream: Box<dyn Io> = match endpoint.security {
            Security::Tls => Box::new(tls(endpoint, tcp).await?),
            _ => Box::new(tcp),
        };
        let mut session = Session {
            stream: BufReader::new(stream),
            timeout: endpoint.timeout,
            local,
        };
        let greeting = session
            .reply()
            .await
            .map_err(|why| format!("no greeting from the server: {why}"))?;
        if greeting.code != 220 {
            return Err(format!(
                "the server turned the connection away: {}",
                greeting.line()
            ));
        }
        Ok((session, greeting))
    }

    /// Connects, reads the greeting and says EHLO `helo` (HELO if EHLO is refused); with
    /// STARTTLS, upgrades and says EHLO again. Returns the session and the greeting.
    pub async fn open(endpoint: &Endpoint, helo: &str) -> Result<(Session, Reply), String> {
        let (mut session, greeting) = Session::greet(endpoint).await?;
        session.hello(helo).await?;
        if endpoint.security == Security::Starttls {
            let reply = session.command("STARTTLS").await?;
            if reply.code != 220 {
                return Err(format!("STARTTLS refused: {}", reply.line()));
            }
            let plain = std::mem::replace(
                &mut session.stream,
                // A placeholder for the moment of the swap.
                BufReader::new(Box::new(tokio::io::duplex(1).0)),
            );
            let upgraded = tls(endpoint, plain.into_inner()).await?;
            session.stream = BufReader::new(Box::new(upgraded));
            session.hello(helo).await?;
        }
        Ok((session, greeting))
    }

    /// EHLO, or HELO when EHLO is not understood.
    pub async fn hello(&mut self, name: &str) -> Result<Reply, String> {
        let reply = self.command(&format!("EHLO {name}")).await?;
        if reply.is_ok() {
            return Ok(reply);
        }
        let reply = self.command(&format!("HELO {name}")).await?;
        if reply.is_ok() {
            Ok(reply)
        } else {
            Err(format!("the server refused HELO {name}: {}", reply.line()))
        }
    }

    /// Sends one command line and reads its reply.
    pub async fn command(&mut self, line: &str) -> Result<Reply, String> {
        let write = async {
            let stream = self.stream.get_mut();
            stream.write_all(line.as_bytes()).await?;
            stream.write_all(b"\r\n").await?;
            stream.flush().await
        };
        tokio::time::timeout(self.timeout, write)
            .await
            .map_err(|_| format!("timed out sending {line}"))?
            .map_err(|e| format!("the connection broke sending {line}: {e}"))?;
        self.reply().await
    }

    /// This end's address of the connection.
    pub fn local_addr(&self) -> Option<std::net::SocketAddr> {
        self.local
    }

    /// Reads one reply, all its lines, within the timeout for the whole of it: a server that
    /// trickles `220-` lines forever is cut off by the clock or by the line count.
    async fn reply(&mut self) -> Result<Reply, String> {
        let deadline = tokio::time::Instant::now() + self.timeout;
        let mut text = Vec::new();
        loop {
            if text.len() >= MAX_LINES {
                return Err(format!(
                    "the reply goes on past {MAX_LINES} lines: not a usable SMTP reply"
                ));
            }
            let mut line = String::new();
            let read = tokio::time::timeout_at(
                deadline,
                (&mut self.stream).take(MAX_LINE).read_line(&mut line),
            )
            .await
            .map_err(|_| format!("{NO_REPLY} {:?}", self.timeout))?
            .map_err(|e| format!("the connection broke: {e}"))?;
            if read == 0 {
                return Err(CLOSED.into());
            }
            let line = line.trim_end_matches(['\r', '\n']);
            let code: u16 = line
                .get(..3)
                .and_then(|c| c.parse().ok())
                .filter(|c| (200..600).contains(c))
                .ok_or_else(|| format!("not an SMTP reply: {line}"))?;
            text.push(line.get(4..).unwrap_or_default().to_string());
            if line.as_bytes().get(3) != Some(&b'-') {
                return Ok(Reply {
                    code,
                    text: text.join("\n"),
                });
            }
        }
    }
}

/// The TLS handshake on `stream`, checking the certificate against the public roots and
/// `ca_file`.
async fn tls<S: AsyncRead + AsyncWrite + Unpin>(
    endpoint: &Endpoint,
    stream: S,
) -> Result<tokio_rustls::client::TlsStream<S>, String> {
    let config = client_config(endpoint.ca_file.as_deref())?;
    let name = ServerName::try_from(endpoint.name.clone())
        .map_err(|e| format!("`{}` is not a name TLS can check: {e}", endpoint.name))?;
    tokio::time::timeout(
        endpoint.timeout,
        TlsConnector::from(Arc::new(config)).connect(name, stream),
    )
    .await
    .map_err(|_| format!("the TLS handshake took longer than {:?}", endpoint.timeout))?
    .map_err(|e| {
        format!(
            "TLS with {} failed: {e} (for a private CA, give --ca-file)",
            endpoint.name
        )
    })
}

pub(crate) fn client_config(ca_file: Option<&Path>) -> Result<ClientConfig, String> {
    let mut roots = RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(path) = ca_file {
        use rustls::pki_types::CertificateDer;
        use rustls::pki_types::pem::PemObject;
        let shown = path.display();
        // Read as every secret file is: regular files only, of bounded size.
        let bytes = crate::files::read_bytes(path, crate::files::SECRET_LIMIT)
            .map_err(|e| format!("{shown}: {e}"))?;
        for cert in CertificateDer::pem_slice_iter(&bytes) {
            let cert = cert.map_err(|e| format!("{shown}: {e}"))?;
            roots.add(cert).map_err(|e| format!("{shown}: {e}"))?;
        }
    }
    ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS setup: {e}"))
        .map(|b| b.with_root_certificates(roots).with_no_client_auth())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, RngExt, SeedableRng};
    use tokio::io::AsyncWriteExt;

    /// Random bytes from a server: every reply read ends in a reply or an error, within the
    /// line and count limits, and never panics.
    #[tokio::test]
    async fn random_replies_end_in_a_reply_or_an_error() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(5321);
        let pieces: [&[u8]; 8] = [
            b"220",
            b"-",
            b" ",
            b"\r\n",
            b"\n",
            b"250-x",
            b"\xff\xfe",
            b"421 bye\r\n",
        ];
        for _ in 0..2_000 {
            let mut bytes = Vec::new();
            for _ in 0..rng.random_range(0..300) {
                if rng.random_range(0..4) == 0 {
                    bytes.push(rng.next_u32() as u8);
                } else {
                    bytes.extend_from_slice(pieces[rng.random_range(0..pieces.len())]);
                }
            }
            let (mut server, client) = tokio::io::duplex(1 << 16);
            server.write_all(&bytes).await.expect("write");
            drop(server);
            let mut session = Session {
                stream: BufReader::new(Box::new(client)),
                timeout: Duration::from_secs(1),
                local: None,
            };
            if let Ok(reply) = session.reply().await {
                assert!((200..600).contains(&reply.code));
                assert!(reply.text.lines().count() <= MAX_LINES);
            }
        }
    }
}
