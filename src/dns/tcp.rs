//! DNS over TCP for one question whose UDP answer was truncated (RFC 7766): connect, send the
//! length-prefixed query, read one length-prefixed reply, all within a deadline.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Sends `packet` to `server` over TCP and returns the reply, within `timeout` in all.
pub(super) async fn ask(
    server: SocketAddr,
    packet: &[u8],
    timeout: Duration,
) -> Result<Vec<u8>, String> {
    let exchange = async {
        let mut stream = TcpStream::connect(server)
            .await
            .map_err(|e| format!("the answer was truncated and TCP to {server} failed: {e}"))?;
        let len = u16::try_from(packet.len()).map_err(|_| "query too long".to_string())?;
        let mut framed = Vec::with_capacity(packet.len() + 2);
        framed.extend_from_slice(&len.to_be_bytes());
        framed.extend_from_slice(packet);
        stream
            .write_all(&framed)
            .await
            .map_err(|e| format!("TCP to {server}: {e}"))?;
        let mut prefix = [0u8; 2];
        stream
            .read_exact(&mut prefix)
            .await
            .map_err(|e| format!("TCP to {server}: no answer ({e})"))?;
        // At most 65,535 bytes: the length prefix bounds what is read.
        let mut reply = vec![0u8; usize::from(u16::from_be_bytes(prefix))];
        stream
            .read_exact(&mut reply)
            .await
            .map_err(|e| format!("TCP to {server}: the answer was cut short ({e})"))?;
        Ok(reply)
    };
    tokio::time::timeout(timeout, exchange)
        .await
        .map_err(|_| format!("the answer was truncated and TCP to {server} timed out"))?
}
