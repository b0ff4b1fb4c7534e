//! The Handle/IDIS UDP door (handle-protocol.md §1 "UDP").
//!
//! Several sockets share one address with SO_REUSEPORT (one per core by
//! default) so the kernel spreads datagrams across them; each socket is
//! served by its own OS thread doing blocking `recv_from` / `send_to`. The
//! thread only moves bytes (batched with `recvmmsg`/`sendmmsg` through the
//! safe wrappers of the `nix` crate): reassembly and fragmentation come from the codec,
//! every decision from the engine.

use std::io::{self, IoSlice, IoSliceMut};
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use idnode_resolver::engine::{Ctx, Engine, Transport};
use idnode_resolver::wire::{Reassembled, Reassembler, ReassemblyLimits, UDP_MAX_DATAGRAM, udp_fragments};
use nix::errno::Errno;
use nix::sys::socket::{MsgFlags, MultiHeaders, SockaddrStorage, recvmmsg, sendmmsg};
use socket2::{Domain, Protocol, Socket, Type};
use tokio_util::sync::CancellationToken;

use crate::telemetry::DoorMetrics;

/// Largest datagram we read; anything larger than a Handle datagram (512)
/// is dropped, but we read a bit more so we can tell oversize from exact.
const RECV_BUF: usize = 2048;
/// How often a blocked thread wakes to check for shutdown.
const POLL: Duration = Duration::from_millis(100);

/// Binds `count` sockets to `addr` with SO_REUSEPORT. With port 0 the first
/// socket picks the port and the others join it.
pub fn bind(addr: SocketAddr, count: usize) -> io::Result<Vec<UdpSocket>> {
    let mut out: Vec<UdpSocket> = Vec::with_capacity(count.max(1));
    let mut target = addr;
    for _ in 0..count.max(1) {
        let sock = Socket::new(Domain::for_address(target), Type::DGRAM, Some(Protocol::UDP))?;
        sock.set_reuse_address(true)?;
        sock.set_reuse_port(true)?;
        // Room for bursts: 4 MiB of receive buffer (the kernel may clamp it).
        let _ = sock.set_recv_buffer_size(4 << 20);
        let _ = sock.set_send_buffer_size(4 << 20);
        sock.bind(&target.into())?;
        let sock: UdpSocket = sock.into();
        if target.port() == 0 {
            target = sock.local_addr()?;
        }
        out.push(sock);
    }
    Ok(out)
}

/// Starts one serving thread per socket. The threads stop when `cancel`
/// fires, after answering the datagram in hand.
pub fn spawn(
    sockets: Vec<UdpSocket>,
    engine: Arc<Engine>,
    metrics: Arc<DoorMetrics>,
    cancel: CancellationToken,
) -> io::Result<Vec<JoinHandle<()>>> {
    let mut handles = Vec::with_capacity(sockets.len());
    for (i, sock) in sockets.into_iter().enumerate() {
        sock.set_read_timeout(Some(POLL))?;
        let engine = engine.clone();
        let metrics = metrics.clone();
        let cancel = cancel.clone();
        let h = std::thread::Builder::new()
            .name(format!("handle-udp-{i}"))
            .spawn(move || serve(sock, &engine, &metrics, &cancel))?;
        handles.push(h);
    }
    Ok(handles)
}

/// Datagrams read (and answered) per system call.
const BATCH: usize = 32;

/// One answer datagram waiting in the send batch: its bytes in the arena and
/// its destination.
struct Pending {
    range: std::ops::Range<usize>,
    to: SockaddrStorage,
}

fn to_socket_addr(a: &SockaddrStorage) -> Option<SocketAddr> {
    if let Some(v4) = a.as_sockaddr_in() {
        return Some(SocketAddr::from(*v4));
    }
    a.as_sockaddr_in6().map(|v6| SocketAddr::from(*v6))
}

/// The serving loop: `recvmmsg` up to [`BATCH`] datagrams (waiting for the
/// first only), answer each, then `sendmmsg` every answer datagram. Under
/// load this turns two system calls and two wake-ups per request into two
/// per batch; at low load a batch is one datagram and nothing waits.
fn serve(sock: UdpSocket, engine: &Engine, metrics: &DoorMetrics, cancel: &CancellationToken) {
    let fd = sock.as_raw_fd();
    let mut bufs = vec![[0u8; RECV_BUF]; BATCH];
    let mut rx_headers = MultiHeaders::<SockaddrStorage>::preallocate(BATCH, None);
    let mut tx_headers = MultiHeaders::<SockaddrStorage>::preallocate(BATCH * 4, None);
    let mut arena: Vec<u8> = Vec::with_capacity(BATCH * UDP_MAX_DATAGRAM * 2);
    let mut scratch: Vec<u8> = Vec::with_capacity(4096);
    let mut pending: Vec<Pending> = Vec::with_capacity(BATCH * 4);
    let mut received: Vec<(usize, Option<SocketAddr>)> = Vec::with_capacity(BATCH);
    let mut reassembler: Reassembler<SocketAddr> = Reassembler::new(ReassemblyLimits::default());
    let local = sock.local_addr().ok();
    while !cancel.is_cancelled() {
        received.clear();
        {
            let mut iovs: Vec<[IoSliceMut<'_>; 1]> = bufs.iter_mut().map(|b| [IoSliceMut::new(&mut b[..])]).collect();
            match recvmmsg(fd, &mut rx_headers, iovs.iter_mut(), MsgFlags::MSG_WAITFORONE, None) {
                Ok(results) => received.extend(results.map(|m| (m.bytes, m.address.as_ref().and_then(to_socket_addr)))),
                Err(Errno::EAGAIN | Errno::EINTR) => {
                    reassembler.expire(Instant::now());
                    continue;
                }
                Err(e) => {
                    tracing::warn!(error = %e, ?local, "udp receive failed");
                    std::thread::sleep(Duration::from_millis(10));
                    continue;
                }
            }
        }
        let now = crate::unix_now();
        arena.clear();
        pending.clear();
        for (i, &(n, peer)) in received.iter().enumerate() {
            let Some(peer) = peer else { continue };
            let started = Instant::now();
            let ctx = Ctx { transport: Transport::Udp, peer, now };
            let at = arena.len();
            let outcome = match reassembler.push(peer, &bufs[i][..n.min(RECV_BUF)], started) {
                Ok(Reassembled::Complete(message)) => {
                    let o = engine.handle(&ctx, message, &mut arena);
                    log_request(peer, message, o, started);
                    o
                }
                Ok(Reassembled::Assembled(message)) => {
                    let o = engine.handle(&ctx, &message, &mut arena);
                    log_request(peer, &message, o, started);
                    o
                }
                Ok(Reassembled::Pending) => continue,
                Err(_) => {
                    // Not a Handle datagram (short, oversize, bad fragment):
                    // dropped silently, as CNRI does.
                    metrics.udp_dropped("malformed");
                    continue;
                }
            };
            let to = SockaddrStorage::from(peer);
            let len = arena.len() - at;
            if len > UDP_MAX_DATAGRAM {
                // Split into 492-byte payloads, each with its own envelope.
                scratch.clear();
                scratch.extend_from_slice(&arena[at..]);
                arena.truncate(at);
                for fragment in udp_fragments(&scratch, false) {
                    let start = arena.len();
                    fragment.write_into(&mut arena);
                    pending.push(Pending { range: start..arena.len(), to });
                }
            } else if len > 0 {
                pending.push(Pending { range: at..arena.len(), to });
            }
            metrics.observe(outcome.opcode, outcome.rc, started.elapsed());
        }
        send_all(fd, &mut tx_headers, &arena, &pending, metrics);
    }
}

/// One debug line per request (client, opcode, handle, response code, time).
#[inline]
fn log_request(peer: SocketAddr, request: &[u8], outcome: idnode_resolver::engine::Outcome, started: Instant) {
    if tracing::enabled!(tracing::Level::DEBUG) {
        tracing::debug!(
            door = "handle-udp",
            client = %peer,
            opcode = outcome.opcode,
            handle = %String::from_utf8_lossy(idnode_resolver::engine::logged_handle(request).unwrap_or_default()),
            rc = outcome.rc,
            elapsed_us = started.elapsed().as_micros() as u64,
            "request"
        );
    }
}

/// Sends every pending datagram with as few `sendmmsg` calls as it takes.
fn send_all(
    fd: std::os::fd::RawFd,
    headers: &mut MultiHeaders<SockaddrStorage>,
    arena: &[u8],
    pending: &[Pending],
    metrics: &DoorMetrics,
) {
    let mut done = 0;
    let cap = BATCH * 4;
    while done < pending.len() {
        let chunk = &pending[done..pending.len().min(done + cap)];
        let slices: Vec<[IoSlice<'_>; 1]> = chunk.iter().map(|p| [IoSlice::new(&arena[p.range.clone()])]).collect();
        let addrs: Vec<Option<SockaddrStorage>> = chunk.iter().map(|p| Some(p.to)).collect();
        match sendmmsg(fd, headers, slices.iter(), &addrs, [], MsgFlags::empty()) {
            Ok(results) => {
                let sent = results.count();
                if sent == 0 {
                    metrics.udp_dropped("send_failed");
                    done += 1;
                }
                done += sent;
            }
            Err(Errno::EINTR) => {}
            Err(_) => {
                // Skip the datagram that failed (e.g. a peer that vanished).
                metrics.udp_dropped("send_failed");
                done += 1;
            }
        }
    }
}
