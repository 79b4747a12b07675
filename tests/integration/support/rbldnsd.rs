//! A real rbldnsd on a free loopback port, serving zones from files, killed on Drop.

use std::net::UdpSocket;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::{shared_dir, write_file};

/// A running rbldnsd.
pub(crate) struct Rbldnsd {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

/// The SOA and NS lines every test zone carries, so negative answers are authoritative.
pub(crate) const SOA: &str =
    "$SOA 60 ns.rbl.test. hostmaster.rbl.test. 1 600 300 86400 60\n$NS 60 ns.rbl.test.\n";

impl Rbldnsd {
    /// Starts rbldnsd with `(zone, dataset type, file contents)` triples.
    pub(crate) fn start(zones: &[(&str, &str, &str)]) -> Rbldnsd {
        let dir = shared_dir();
        let port = free_port();
        let mut cmd = Command::new("rbldnsd");
        cmd.arg("-n");
        if is_root() {
            cmd.args(["-u", "rbldns"]);
        }
        cmd.arg("-w").arg(dir.path()).args([
            "-b",
            &format!("127.0.0.1/{port}"),
            "-t",
            "60",
            "-c",
            "1",
        ]);
        for (index, (zone, kind, text)) in zones.iter().enumerate() {
            let file = format!("zone{index}.{kind}");
            write_file(dir.path(), &file, text);
            cmd.arg(format!("{zone}:{kind}:{file}"));
        }
        // rbldnsd buffers its log when it is not a terminal, so readiness is seen by asking it.
        let log = std::fs::File::create(dir.path().join("rbldnsd.log")).expect("log file");
        cmd.stderr(Stdio::from(log)).stdout(Stdio::null());
        let mut child = cmd
            .spawn()
            .expect("rbldnsd must be installed (apt-get install rbldnsd): the tests need a real DNSBL server");
        let first_zone = zones.first().map_or("test", |z| z.0);
        if !answers(port, first_zone) {
            let _ = child.kill();
            let log = std::fs::read_to_string(dir.path().join("rbldnsd.log")).unwrap_or_default();
            panic!("rbldnsd did not start on port {port}:\n{log}");
        }
        Rbldnsd {
            child,
            port,
            _dir: dir,
        }
    }

    /// `127.0.0.1:PORT`, for `--nameserver`.
    pub(crate) fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The directory its files are in.
    #[allow(dead_code)]
    pub(crate) fn dir(&self) -> &Path {
        self._dir.path()
    }
}

impl Drop for Rbldnsd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Whether a DNS server on `port` answers a question about `zone` within five seconds.
fn answers(port: u16, zone: &str) -> bool {
    let socket = UdpSocket::bind("127.0.0.1:0").expect("bind");
    socket
        .set_read_timeout(Some(Duration::from_millis(100)))
        .expect("timeout");
    // A plain DNS query: id, RD flag, one question, the name's labels, type A, class IN.
    let mut packet = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
    for label in zone.split('.') {
        packet.push(u8::try_from(label.len()).expect("short label"));
        packet.extend_from_slice(label.as_bytes());
    }
    packet.extend_from_slice(&[0, 0, 1, 0, 1]);
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut buf = [0u8; 512];
    while Instant::now() < deadline {
        let _ = socket.send_to(&packet, ("127.0.0.1", port));
        if socket
            .recv(&mut buf)
            .is_ok_and(|n| n >= 2 && buf[..2] == [0x12, 0x34])
        {
            return true;
        }
    }
    false
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
