//! A DNS front on loopback that hands each query on, unchanged, to the server for its zone
//! and relays the reply: rbldnsd for the list zones, an in-process server for a mail
//! domain's MX, SPF and PTR records, all behind the one `--nameserver` rblwatch takes.

use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// A running front, stopped on Drop.
pub(crate) struct SplitDns {
    port: u16,
    stop: Arc<AtomicBool>,
}

impl SplitDns {
    /// Queries for names under one of `routes`' suffixes go to its server, the rest to
    /// `default`.
    pub(crate) fn start(routes: Vec<(String, SocketAddr)>, default: SocketAddr) -> SplitDns {
        let socket = UdpSocket::bind("127.0.0.1:0").expect("bind");
        socket
            .set_read_timeout(Some(Duration::from_millis(100)))
            .expect("timeout");
        let port = socket.local_addr().expect("addr").port();
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while !stopped.load(Ordering::Relaxed) {
                let Ok((n, client)) = socket.recv_from(&mut buf) else {
                    continue;
                };
                let packet = buf[..n].to_vec();
                let name = qname(&packet).unwrap_or_default();
                let upstream = routes
                    .iter()
                    .find(|(suffix, _)| name == *suffix || name.ends_with(&format!(".{suffix}")))
                    .map_or(default, |(_, addr)| *addr);
                let reply_to = socket.try_clone().expect("clone socket");
                std::thread::spawn(move || {
                    let out = UdpSocket::bind("127.0.0.1:0").expect("bind");
                    out.set_read_timeout(Some(Duration::from_secs(3)))
                        .expect("timeout");
                    if out.send_to(&packet, upstream).is_err() {
                        return;
                    }
                    let mut reply = [0u8; 65535];
                    if let Ok(n) = out.recv(&mut reply) {
                        let _ = reply_to.send_to(&reply[..n], client);
                    }
                });
            }
        });
        SplitDns { port, stop }
    }

    /// `127.0.0.1:PORT`, for `--nameserver`.
    pub(crate) fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

impl Drop for SplitDns {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// The question's name, lowercase, without the final dot.
fn qname(packet: &[u8]) -> Option<String> {
    let mut at = 12;
    let mut labels = Vec::new();
    loop {
        let len = usize::from(*packet.get(at)?);
        if len == 0 {
            break;
        }
        let label = packet.get(at + 1..at + 1 + len)?;
        labels.push(String::from_utf8_lossy(label).to_ascii_lowercase());
        at += 1 + len;
    }
    Some(labels.join("."))
}
