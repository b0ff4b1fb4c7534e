//! The Handle/IDIS UDP door (handle-protocol.md §1 "UDP").
//!
//! Several sockets share one address with SO_REUSEPORT (one per core by
//! default) so the kernel spreads datagrams across them; each socket is
//! served by its own OS thread doing blocking `recv_from` / `send_to`. The
//! thread only moves bytes: reassembly and fragmentation come from the codec,
//! every decision from the engine.

use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use idnode_resolver::engine::{Ctx, Engine, Transport};
use idnode_resolver::wire::{
    Reassembled, Reassembler, ReassemblyLimits, UDP_MAX_DATAGRAM, udp_fragments,
};
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
        let sock = Socket::new(
            Domain::for_address(target),
            Type::DGRAM,
            Some(Protocol::UDP),
        )?;
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

fn serve(sock: UdpSocket, engine: &Engine, metrics: &DoorMetrics, cancel: &CancellationToken) {
    let mut buf = vec![0u8; RECV_BUF];
    let mut out = Vec::with_capacity(4096);
    let mut datagram_buf = Vec::with_capacity(UDP_MAX_DATAGRAM);
    let mut reassembler: Reassembler<SocketAddr> = Reassembler::new(ReassemblyLimits::default());
    let local = sock.local_addr().ok();
    while !cancel.is_cancelled() {
        let (n, peer) = match sock.recv_from(&mut buf) {
            Ok(x) => x,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                reassembler.expire(Instant::now());
                continue;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                tracing::warn!(error = %e, ?local, "udp receive failed");
                std::thread::sleep(Duration::from_millis(10));
                continue;
            }
        };
        let started = Instant::now();
        let ctx = Ctx {
            transport: Transport::Udp,
            peer,
            now: crate::unix_now(),
        };
        out.clear();
        let outcome = match reassembler.push(peer, &buf[..n], started) {
            Ok(Reassembled::Complete(message)) => engine.handle(&ctx, message, &mut out),
            Ok(Reassembled::Assembled(message)) => engine.handle(&ctx, &message, &mut out),
            Ok(Reassembled::Pending) => continue,
            Err(_) => {
                // Not a Handle datagram (short, oversize, bad fragment):
                // dropped silently, as CNRI does.
                metrics.udp_dropped("malformed");
                continue;
            }
        };
        if !out.is_empty() {
            let sent = if out.len() <= UDP_MAX_DATAGRAM {
                sock.send_to(&out, peer).is_ok()
            } else {
                let mut ok = true;
                for fragment in udp_fragments(&out, false) {
                    datagram_buf.clear();
                    fragment.write_into(&mut datagram_buf);
                    ok &= sock.send_to(&datagram_buf, peer).is_ok();
                }
                ok
            };
            if !sent {
                metrics.udp_dropped("send_failed");
            }
        }
        metrics.observe(outcome.opcode, outcome.rc, started.elapsed());
    }
}
