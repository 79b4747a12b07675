//! A real SMTP server (Debian's python3-aiosmtpd) and a real HTTP server (Python's
//! http.server) on loopback, each a child process killed on Drop.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use super::shared_dir;

fn script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/integration/support")
        .join(name)
}

/// Starts `/usr/bin/python3 SCRIPT ARGS` and waits for its "ready" line.
fn spawn_ready(name: &str, args: &[String]) -> Child {
    let mut child = Command::new("/usr/bin/python3")
        .arg(script(name))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("start {name} (needs /usr/bin/python3 and python3-aiosmtpd): {e}")
        });
    let stdout = child.stdout.take().expect("stdout");
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("read ready line");
    assert_eq!(line.trim(), "ready", "{name} did not start");
    child
}

/// Options of the SMTP server.
#[derive(Default)]
pub(crate) struct SmtpOptions {
    pub(crate) reject_rcpt: bool,
    pub(crate) auth: Option<&'static str>,
    /// Require STARTTLS with this certificate and key.
    pub(crate) tls: Option<(PathBuf, PathBuf)>,
    /// With `tls`: TLS from the first byte instead of STARTTLS.
    pub(crate) implicit_tls: bool,
    /// The name the server greets with.
    pub(crate) server_name: Option<&'static str>,
}

/// A running SMTP server that keeps what it accepts in a maildir.
pub(crate) struct Smtp {
    child: Child,
    pub(crate) port: u16,
    dir: tempfile::TempDir,
}

impl Smtp {
    pub(crate) fn start(port: u16, options: &SmtpOptions) -> Smtp {
        let dir = shared_dir();
        let mut args = vec![
            port.to_string(),
            dir.path().join("mail").display().to_string(),
        ];
        if options.reject_rcpt {
            args.push("--reject-rcpt".into());
        }
        if let Some(auth) = options.auth {
            args.push("--auth".into());
            args.push(auth.into());
        }
        if let Some(name) = options.server_name {
            args.push("--server-name".into());
            args.push(name.into());
        }
        if let Some((cert, key)) = &options.tls {
            args.extend([
                "--tls-cert".into(),
                cert.display().to_string(),
                "--tls-key".into(),
                key.display().to_string(),
            ]);
            if options.implicit_tls {
                args.push("--implicit-tls".into());
            }
        }
        Smtp {
            child: spawn_ready("smtp_server.py", &args),
            port,
            dir,
        }
    }

    /// Every message received, parsed by Python's email package.
    pub(crate) fn messages(&self) -> Vec<serde_json::Value> {
        let maildir = self.dir.path().join("mail");
        if !maildir.exists() {
            return Vec::new();
        }
        let out = Command::new("/usr/bin/python3")
            .arg(script("parse_mail.py"))
            .arg(&maildir)
            .output()
            .expect("parse mail");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice::<Vec<serde_json::Value>>(&out.stdout).expect("parsed mail JSON")
    }
}

impl Drop for Smtp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A test CA and a server certificate it signed, for 127.0.0.1 and localhost (openssl).
pub(crate) struct TestCa {
    pub(crate) ca: PathBuf,
    pub(crate) cert: PathBuf,
    pub(crate) key: PathBuf,
    _dir: tempfile::TempDir,
}

impl TestCa {
    pub(crate) fn new() -> TestCa {
        let dir = shared_dir();
        let d = dir.path();
        let run = |args: &[&str]| {
            let out = Command::new("openssl")
                .args(args)
                .current_dir(d)
                .output()
                .expect("openssl must be installed");
            assert!(
                out.status.success(),
                "openssl {args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        };
        run(&[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-days",
            "2",
            "-subj",
            "/CN=rblwatch test CA",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ]);
        run(&[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "leaf.key",
            "-out",
            "leaf.csr",
            "-subj",
            "/CN=localhost",
        ]);
        std::fs::write(
            d.join("leaf.ext"),
            "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\nkeyUsage=digitalSignature,keyEncipherment\n",
        )
        .expect("ext");
        run(&[
            "x509",
            "-req",
            "-in",
            "leaf.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "leaf.pem",
            "-days",
            "2",
            "-extfile",
            "leaf.ext",
        ]);
        TestCa {
            ca: d.join("ca.pem"),
            cert: d.join("leaf.pem"),
            key: d.join("leaf.key"),
            _dir: dir,
        }
    }
}

/// A running HTTP server recording every POST body.
pub(crate) struct Webhook {
    child: Child,
    file: PathBuf,
    pub(crate) port: u16,
    _dir: tempfile::TempDir,
}

impl Webhook {
    pub(crate) fn start(port: u16) -> Webhook {
        let dir = shared_dir();
        let file = dir.path().join("posts");
        Webhook {
            child: spawn_ready(
                "webhook_server.py",
                &[port.to_string(), file.display().to_string()],
            ),
            file,
            port,
            _dir: dir,
        }
    }

    /// Every POST received: its Content-Type and its body as JSON.
    pub(crate) fn posts(&self) -> Vec<(String, serde_json::Value)> {
        std::fs::read_to_string(&self.file)
            .unwrap_or_default()
            .lines()
            .map(|line| {
                let (ctype, body) = line.split_once('\t').expect("type and body");
                (
                    ctype.to_string(),
                    serde_json::from_str(body).expect("JSON body"),
                )
            })
            .collect()
    }
}

impl Drop for Webhook {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A free TCP port on loopback.
pub(crate) fn free_tcp_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}
