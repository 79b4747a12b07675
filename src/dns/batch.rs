//! Many datagrams per system call (sendmmsg/recvmmsg) on a connected UDP socket.
//!
//! Why: in a bulk scan each query and each reply is one small datagram, and a system call per
//! datagram costs more than everything else the query needs. Both calls are non-blocking;
//! the caller waits for readiness through tokio and retries on `WouldBlock`.

use std::io;
use std::os::fd::RawFd;

/// The most datagrams moved by one call.
pub(super) const BATCH: usize = 64;
/// The largest reply read by a single-question socket: queries carry no EDNS, so answers fit
/// in 512 bytes (RFC 1035 section 4.2.1); room is left for a server that sends more anyway.
pub(super) const REPLY_MAX: usize = 4096;
/// Room for one reply in a batch read. A longer reply (the kernel's MSG_TRUNC) comes back
/// marked truncated, and the caller asks again over TCP. Four to a page: the pages a read touches
/// are the ones a one-address check pays for.
pub(super) const SLOT: usize = 1024;

/// One message header per buffer, each naming its one buffer and no address (the socket is
/// connected).
fn headers(iovecs: &mut [libc::iovec]) -> Vec<libc::mmsghdr> {
    iovecs
        .iter_mut()
        .map(|iov| {
            // SAFETY: an all-zero msghdr is valid (no name, no control data).
            let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
            msg.msg_iov = iov;
            msg.msg_iovlen = 1;
            libc::mmsghdr {
                msg_hdr: msg,
                msg_len: 0,
            }
        })
        .collect()
}

/// Sends the first `BATCH` of `packets`; returns how many went out.
pub(super) fn send<P: AsRef<[u8]>>(fd: RawFd, packets: &[P]) -> io::Result<usize> {
    let count = packets.len().min(BATCH);
    let mut iovecs: Vec<libc::iovec> = packets[..count]
        .iter()
        .map(|p| libc::iovec {
            iov_base: p.as_ref().as_ptr() as *mut libc::c_void,
            iov_len: p.as_ref().len(),
        })
        .collect();
    let mut headers = headers(&mut iovecs);
    // SAFETY: headers and iovecs point into `packets`, all alive for the call; count matches.
    let sent = unsafe {
        libc::sendmmsg(
            fd,
            headers.as_mut_ptr(),
            u32::try_from(count).unwrap_or(0),
            libc::MSG_DONTWAIT,
        )
    };
    usize::try_from(sent).map_err(|_| io::Error::last_os_error())
}

/// Reads up to `BATCH` datagrams into `buffers`, one per `SLOT` bytes of it, their lengths
/// (at most `SLOT`) into `lengths`; returns how many were read. A datagram longer than its
/// slot, longer than a server without EDNS may send, is marked truncated (TC) where it lies:
/// its question is whole, and it is read as a reply to ask again over TCP. One zeroed
/// allocation is best: the system maps its pages only as datagrams land in them, so a lane
/// that reads a few replies at a time never touches most of it.
pub(super) fn receive(fd: RawFd, buffers: &mut [u8], lengths: &mut [usize]) -> io::Result<usize> {
    let count = (buffers.len() / SLOT).min(lengths.len()).min(BATCH);
    let mut iovecs: Vec<libc::iovec> = buffers
        .chunks_exact_mut(SLOT)
        .take(count)
        .map(|b| libc::iovec {
            iov_base: b.as_mut_ptr().cast(),
            iov_len: SLOT,
        })
        .collect();
    let mut headers = headers(&mut iovecs);
    // SAFETY: every iovec points into a distinct buffer of SLOT bytes, alive for the call.
    let read = unsafe {
        libc::recvmmsg(
            fd,
            headers.as_mut_ptr(),
            u32::try_from(count).unwrap_or(0),
            libc::MSG_DONTWAIT,
            std::ptr::null_mut(),
        )
    };
    let read = usize::try_from(read).map_err(|_| io::Error::last_os_error())?;
    for ((length, header), slot) in lengths
        .iter_mut()
        .zip(&headers)
        .zip(buffers.chunks_exact_mut(SLOT))
        .take(read)
    {
        *length = (header.msg_len as usize).min(SLOT);
        if header.msg_hdr.msg_flags & libc::MSG_TRUNC != 0 && *length > 2 {
            slot[2] |= 0x02;
        }
    }
    Ok(read)
}
