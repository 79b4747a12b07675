//! A real PostgreSQL (Debian's `postgresql`) in a temporary directory on a free loopback
//! port, stopped on Drop. PostgreSQL refuses to run as root: as root, initdb and pg_ctl run
//! as the `postgres` system user the package creates.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::servers::free_tcp_port;

/// The password of the `rblwatch` superuser of every test cluster.
pub(crate) const PASSWORD: &str = "test-secret-9";

/// A running cluster.
pub(crate) struct Postgres {
    pub(crate) port: u16,
    bin: PathBuf,
    dir: tempfile::TempDir,
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// Runs a PostgreSQL program, as `postgres` when we are root.
fn run(program: &Path, args: &[&str]) -> std::process::Output {
    let mut cmd = if is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(program);
        c
    } else {
        Command::new(program)
    };
    cmd.args(args).output().unwrap_or_else(|e| {
        panic!(
            "{} must be installed (apt-get install postgresql): {e}",
            program.display()
        )
    })
}

impl Postgres {
    /// initdb (password authentication, user `rblwatch`), start, and create databases
    /// `rblwatch` and `other`.
    pub(crate) fn start() -> Postgres {
        Postgres::start_with(None)
    }

    /// As `start`, serving TLS with this certificate and key.
    pub(crate) fn start_tls(cert: &Path, key: &Path) -> Postgres {
        Postgres::start_with(Some((cert, key)))
    }

    fn start_with(tls: Option<(&Path, &Path)>) -> Postgres {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .expect("PostgreSQL must be installed (apt-get install postgresql)")
            .filter_map(Result::ok)
            .map(|e| e.path().join("bin"))
            .filter(|p| p.join("initdb").exists())
            .max()
            .expect("an initdb under /usr/lib/postgresql/*/bin");
        let dir = tempfile::Builder::new()
            .prefix("rblwatch-pg")
            .tempdir()
            .expect("tempdir");
        let path = dir.path().to_string_lossy().into_owned();
        if is_root() {
            let status = Command::new("chown")
                .args(["-R", "postgres", &path])
                .status()
                .expect("chown");
            assert!(status.success());
        }
        let pwfile = dir.path().join("pw");
        std::fs::write(&pwfile, PASSWORD).expect("pwfile");
        if is_root() {
            let _ = Command::new("chown")
                .args(["postgres", &pwfile.to_string_lossy()])
                .status();
        }
        let data = format!("{path}/data");
        let out = run(
            &bin.join("initdb"),
            &[
                "-D",
                &data,
                "-A",
                "scram-sha-256",
                "-U",
                "rblwatch",
                &format!("--pwfile={}", pwfile.display()),
            ],
        );
        assert!(
            out.status.success(),
            "initdb: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let port = free_tcp_port();
        let mut options = format!("-p {port} -k {path} -c listen_addresses=127.0.0.1");
        if let Some((cert, key)) = tls {
            // The server reads its key only when it is its owner's alone.
            for (from, name) in [(cert, "server.crt"), (key, "server.key")] {
                let to = dir.path().join(name);
                std::fs::copy(from, &to).expect("copy the TLS files");
                let _ = Command::new("chmod")
                    .args(["600", &to.to_string_lossy()])
                    .status();
                if is_root() {
                    let _ = Command::new("chown")
                        .args(["postgres", &to.to_string_lossy()])
                        .status();
                }
            }
            options.push_str(&format!(
                " -c ssl=on -c ssl_cert_file={path}/server.crt -c ssl_key_file={path}/server.key"
            ));
        }
        let out = run(
            &bin.join("pg_ctl"),
            &[
                "-D",
                &data,
                "-l",
                &format!("{path}/log"),
                "-w",
                "-o",
                &options,
                "start",
            ],
        );
        assert!(
            out.status.success(),
            "pg_ctl start: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let pg = Postgres { port, bin, dir };
        let mut admin = pg.client_with("postgres", "sslmode=disable");
        for db in ["rblwatch", "other"] {
            admin
                .batch_execute(&format!("CREATE DATABASE {db}"))
                .expect("create a database");
        }
        pg
    }

    /// `postgresql://rblwatch@127.0.0.1:PORT/DATABASE` (no password: it comes from elsewhere).
    pub(crate) fn url(&self, database: &str) -> String {
        format!(
            "postgresql://rblwatch@127.0.0.1:{}/{database}?sslmode=disable",
            self.port
        )
    }

    /// A client of the test itself, to look at or change what rblwatch wrote.
    pub(crate) fn client(&self, database: &str) -> postgres::Client {
        self.client_with(database, "sslmode=disable")
    }

    fn client_with(&self, database: &str, options: &str) -> postgres::Client {
        let url = format!(
            "postgresql://rblwatch:{PASSWORD}@127.0.0.1:{}/{database}?{options}",
            self.port
        );
        postgres::Client::connect(&url, postgres::NoTls).expect("connect to the test cluster")
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let data = format!("{}/data", self.dir.path().display());
        let _ = run(
            &self.bin.join("pg_ctl"),
            &["-D", &data, "-m", "immediate", "-w", "stop"],
        );
    }
}
