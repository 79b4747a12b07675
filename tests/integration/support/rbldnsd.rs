//! A real rbldnsd on a free loopback port, serving zones from files, killed on Drop.

use std::net::UdpSocket;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::{shared_dir, write_file};

/// A running rbldnsd.
pub(crate) struct Rbldnsd {
    child: Child,
    port: u16,
    files: Vec<std::path::PathBuf>,
    _dir: tempfile::TempDir,
}

/// The SOA and NS lines every test zone carries, so negative answers are authoritative.
pub(crate) const SOA: &str =
    "$SOA 60 ns.rbl.test. hostmaster.rbl.test. 1 600 300 86400 60\n$NS 60 ns.rbl.test.\n";

impl Rbldnsd {
    /// Starts rbldnsd with `(zone, dataset type, file contents)` triples.
    pub(crate) fn start(zones: &[(&str, &str, &str)]) -> Rbldnsd {
        Rbldnsd::start_on("127.0.0.1", free_port(), zones)
    }

    /// As `start`, listening on `ip` (a loopback address) and `port`.
    pub(crate) fn start_on(ip: &str, port: u16, zones: &[(&str, &str, &str)]) -> Rbldnsd {
        let dir = shared_dir();
        let mut cmd = Command::new("rbldnsd");
        cmd.arg("-n");
        if is_root() {
            cmd.args(["-u", "rbldns"]);
        }
        cmd.arg("-w")
            .arg(dir.path())
            .args(["-b", &format!("{ip}/{port}"), "-t", "60", "-c", "1"]);
        let mut files = Vec::new();
        for (index, (zone, kind, text)) in zones.iter().enumerate() {
            let file = format!("zone{index}.{kind}");
            files.push(write_file(dir.path(), &file, text));
            cmd.arg(format!("{zone}:{kind}:{file}"));
        }
        // rbldnsd buffers its log when it is not a terminal, so readiness is seen by asking it.
        let log = std::fs::File::create(dir.path().join("rbldnsd.log")).expect("log file");
        cmd.stderr(Stdio::from(log)).stdout(Stdio::null());
        let mut child = cmd
            .spawn()
            .expect("rbldnsd must be installed (apt-get install rbldnsd): the tests need a real DNSBL server");
        let first_zone = zones.first().map_or("test", |z| z.0);
        if !answers(ip, port, first_zone) {
            let _ = child.kill();
            let log = std::fs::read_to_string(dir.path().join("rbldnsd.log")).unwrap_or_default();
            panic!("rbldnsd did not start on port {port}:\n{log}");
        }
        Rbldnsd {
            child,
            port,
            files,
            _dir: dir,
        }
    }

    /// `127.0.0.1:PORT`, for `--nameserver`.
    pub(crate) fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Replaces the data of zone number `index` and makes rbldnsd reload it (SIGHUP), then
    /// waits until `probe` (a full query name) answers as `listed` says.
    pub(crate) fn rewrite(&self, index: usize, text: &str, probe: &str, listed: bool) {
        std::fs::write(&self.files[index], text).expect("rewrite zone data");
        let pid = self.child.id().to_string();
        let status = Command::new("kill")
            .args(["-HUP", &pid])
            .status()
            .expect("kill -HUP");
        assert!(status.success(), "SIGHUP to rbldnsd failed");
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if ask("127.0.0.1", self.port, probe).is_some_and(|answers| (answers > 0) == listed) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!(
            "rbldnsd did not reload: {probe} is still not {}",
            if listed { "listed" } else { "clear" }
        );
    }
}

impl Drop for Rbldnsd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Whether a DNS server on `port` answers a question about `zone` within five seconds.
fn answers(ip: &str, port: u16, zone: &str) -> bool {
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if ask(ip, port, zone).is_some() {
            return true;
        }
    }
    false
}

/// Asks the server on `port` for the A records of `name` (a plain DNS query: id, RD flag,
/// one question, type A, class IN); returns how many answers came back.
fn ask(ip: &str, port: u16, name: &str) -> Option<u16> {
    let socket = UdpSocket::bind("127.0.0.1:0").expect("bind");
    socket
        .set_read_timeout(Some(Duration::from_millis(100)))
        .expect("timeout");
    let mut packet = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
    for label in name.trim_end_matches('.').split('.') {
        packet.push(u8::try_from(label.len()).expect("short label"));
        packet.extend_from_slice(label.as_bytes());
    }
    packet.extend_from_slice(&[0, 0, 1, 0, 1]);
    let mut buf = [0u8; 512];
    socket.send_to(&packet, (ip, port)).ok()?;
    let n = socket.recv(&mut buf).ok()?;
    (n >= 8 && buf[..2] == [0x12, 0x34]).then(|| u16::from_be_bytes([buf[6], buf[7]]))
}

/// A UDP port nobody uses right now on loopback.
pub(crate) fn free_port() -> u16 {
    let socket = UdpSocket::bind("127.0.0.1:0").expect("bind a free port");
    socket.local_addr().expect("local addr").port()
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}
