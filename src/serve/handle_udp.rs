//! The Handle/IDIS UDP door (handle-protocol.md §1 "UDP").
//!
//! Several sockets share one address with SO_REUSEPORT (one per core by
//! default) so the kernel spreads datagrams across them; each socket is
//! served by its own OS thread doing blocking `recv_from` / `send_to`. The
//! thread only moves bytes (batched with `recvmmsg`/`sendmmsg` through the
//! safe wrappers of the `nix` crate): reassembly and fragmentation come from the codec,
//! every decision from the engine.
//!
//! Per-source limits ([`super::limits`]) apply before any decoding: a
//! datagram over its client network's rate is dropped, or every
//! `per_client_slip`-th one answered with a short RC 2 "retry over TCP";
//! an answer more than `udp_max_amplification` times its request, to a
//! source that has not proven its address over TCP, is replaced by the same
//! short answer, so the door cannot amplify toward a spoofed address.

use std::io::{self, IoSlice, IoSliceMut};
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use idnode_resolver::engine::{Ctx, Engine, Transport};
use idnode_resolver::wire::{
    ENVELOPE_LEN, Reassembled, Reassembler, ReassemblyLimits, ResponseCode, UDP_MAX_DATAGRAM, udp_fragments,
};
use nix::errno::Errno;
use nix::sys::socket::{MsgFlags, MultiHeaders, SockaddrStorage, recvmmsg, sendmmsg};
use socket2::{Domain, Protocol, Socket, Type};
use tokio_util::sync::CancellationToken;

use super::door_metrics::LimitAction;
use super::limits::{self, HandleLimits, Networks, Verdict};
use super::recursion::RecursionDoor;
use crate::telemetry::DoorMetrics;

/// Largest datagram we read; anything larger than a Handle datagram (512)
/// is dropped, but we read a bit more so we can tell oversize from exact.
const RECV_BUF: usize = 2048;
/// How often a blocked thread wakes to check for shutdown.
const POLL: Duration = Duration::from_millis(100);

/// Binds `count` sockets to `addr` with SO_REUSEPORT. With port 0 the first
/// socket picks the port and the others join it.
pub fn bind(addr: SocketAddr, count: usize, exempt: &Networks) -> io::Result<Vec<UdpSocket>> {
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
    if out.len() > 1
        && let Err(e) = steer_by_source(&out[0], out.len(), exempt)
    {
        tracing::warn!(error = %e, "could not steer UDP datagrams by source address; the kernel spreads them by flow");
    }
    Ok(out)
}

/// Makes the kernel pick a datagram's socket by its source address
/// (`address mod count`) instead of by flow, so that a flood from one source,
/// whatever its ports, fills one socket's queue only and clients whose
/// addresses steer elsewhere keep their share of the door (the per-source
/// limiter can only drop what a thread receives; a queue overflowing in the
/// kernel drops every source's datagrams alike). Sources in `exempt`
/// (the host itself, federation peers) keep the kernel's spreading by flow,
/// so one such source can still use every socket. A classic BPF program on
/// the `SO_REUSEPORT` group.
fn steer_by_source(sock: &UdpSocket, count: usize, exempt: &Networks) -> io::Result<()> {
    let program = steering_program(count as u32, exempt)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "too many exempt networks to steer around"))?;
    let prog = nix::libc::sock_fprog { len: program.len() as u16, filter: program.as_ptr().cast_mut() };
    nix::sys::socket::setsockopt(sock, nix::sys::socket::sockopt::AttachReusePortCbpf, &prog).map_err(io::Error::from)
}

/// The steering program (see [`steer_by_source`]): the socket index is the
/// source address mod `count` (IPv4: the address; IPv6: its low 32 bits);
/// exempt sources return an out-of-range index, which makes the kernel fall
/// back to its flow hash. `None` when the jumps would not fit classic BPF.
fn steering_program(count: u32, exempt: &Networks) -> Option<Vec<nix::libc::sock_filter>> {
    /// `SKF_NET_OFF`: offsets relative to the IP header.
    const NET: u32 = 0xfff0_0000;
    const LD_W: u16 = 0x20; // ld [k]
    const LD_B: u16 = 0x30; // ldb [k]
    const RSH: u16 = 0x74; // rsh #k
    const AND: u16 = 0x54; // and #k
    const MOD: u16 = 0x94; // mod #k
    const JA: u16 = 0x05; // ja +k
    const JEQ: u16 = 0x15; // jeq #k, jt, jf
    const RET_A: u16 = 0x16;
    const RET_K: u16 = 0x06;
    #[derive(Clone, Copy)]
    enum To {
        Next,
        L(usize),
    }
    struct Ins(u16, u32, To, To);
    let (flow, modulo, v6) = (0usize, 1usize, 2usize);
    let mut labels: Vec<Option<usize>> = vec![None; 3];
    let mut p: Vec<Ins> = Vec::new();
    p.push(Ins(LD_B, NET, To::Next, To::Next));
    p.push(Ins(RSH, 4, To::Next, To::Next));
    p.push(Ins(JEQ, 4, To::Next, To::L(v6)));
    for c in exempt.iter().filter(|c| c.addr().is_ipv4()) {
        let std::net::IpAddr::V4(net) = c.addr() else { continue };
        let mask = if c.prefix_len() == 0 { 0 } else { u32::MAX << (32 - u32::from(c.prefix_len())) };
        p.push(Ins(LD_W, NET + 12, To::Next, To::Next));
        p.push(Ins(AND, mask, To::Next, To::Next));
        p.push(Ins(JEQ, u32::from(net), To::L(flow), To::Next));
    }
    p.push(Ins(LD_W, NET + 12, To::Next, To::Next));
    p.push(Ins(JA, 0, To::L(modulo), To::Next));
    labels[v6] = Some(p.len());
    for c in exempt.iter().filter(|c| !c.addr().is_ipv4()) {
        let std::net::IpAddr::V6(net) = c.addr() else { continue };
        let next = labels.len();
        labels.push(None);
        let words = net.octets();
        for w in 0..4usize {
            let bits = u32::from(c.prefix_len()).saturating_sub(32 * w as u32).min(32);
            if bits == 0 {
                break;
            }
            let mask = u32::MAX << (32 - bits);
            let word = u32::from_be_bytes([words[4 * w], words[4 * w + 1], words[4 * w + 2], words[4 * w + 3]]);
            p.push(Ins(LD_W, NET + 8 + 4 * w as u32, To::Next, To::Next));
            p.push(Ins(AND, mask, To::Next, To::Next));
            p.push(Ins(JEQ, word & mask, To::Next, To::L(next)));
        }
        p.push(Ins(JA, 0, To::L(flow), To::Next));
        labels[next] = Some(p.len());
    }
    p.push(Ins(LD_W, NET + 20, To::Next, To::Next));
    labels[modulo] = Some(p.len());
    p.push(Ins(MOD, count.max(1), To::Next, To::Next));
    p.push(Ins(RET_A, 0, To::Next, To::Next));
    labels[flow] = Some(p.len());
    p.push(Ins(RET_K, u32::MAX, To::Next, To::Next));
    let mut out = Vec::with_capacity(p.len());
    for (i, Ins(code, k, jt, jf)) in p.iter().enumerate() {
        let off = |t: &To| -> Option<usize> {
            match t {
                To::Next => Some(0),
                To::L(l) => labels[*l]?.checked_sub(i + 1),
            }
        };
        let (t, f) = (off(jt)?, off(jf)?);
        let filter = if *code == JA {
            nix::libc::sock_filter { code: *code, jt: 0, jf: 0, k: t as u32 }
        } else {
            nix::libc::sock_filter { code: *code, jt: u8::try_from(t).ok()?, jf: u8::try_from(f).ok()?, k: *k }
        };
        out.push(filter);
    }
    (out.len() <= 4096).then_some(out)
}

/// Starts one serving thread per socket. The threads stop when `cancel`
/// fires, after answering the datagram in hand.
pub fn spawn(
    sockets: Vec<UdpSocket>,
    engine: Arc<Engine>,
    metrics: Arc<DoorMetrics>,
    limits: Arc<HandleLimits>,
    cancel: CancellationToken,
    recursion: Option<Arc<RecursionDoor>>,
) -> io::Result<Vec<JoinHandle<()>>> {
    let mut handles = Vec::with_capacity(sockets.len());
    for (i, sock) in sockets.into_iter().enumerate() {
        sock.set_read_timeout(Some(POLL))?;
        let engine = engine.clone();
        let metrics = metrics.clone();
        let limits = limits.clone();
        let cancel = cancel.clone();
        let recursion = recursion.clone();
        let h = std::thread::Builder::new()
            .name(format!("handle-udp-{i}"))
            .spawn(move || serve(Arc::new(sock), &engine, &metrics, &limits, &cancel, recursion.as_deref()))?;
        handles.push(h);
    }
    Ok(handles)
}

/// Datagrams read (and answered) per system call.
pub(super) const BATCH: usize = 32;

/// One answer datagram waiting in the send batch: its bytes in the arena and
/// its destination.
pub(super) struct Pending {
    pub(super) range: std::ops::Range<usize>,
    pub(super) to: SockaddrStorage,
}

pub(super) fn to_socket_addr(a: &SockaddrStorage) -> Option<SocketAddr> {
    if let Some(v4) = a.as_sockaddr_in() {
        return Some(SocketAddr::from(*v4));
    }
    a.as_sockaddr_in6().map(|v6| SocketAddr::from(*v6))
}

/// The serving loop: `recvmmsg` up to [`BATCH`] datagrams (waiting for the
/// first only), answer each, then `sendmmsg` every answer datagram. Under
/// load this turns two system calls and two wake-ups per request into two
/// per batch; at low load a batch is one datagram and nothing waits.
fn serve(
    sock: Arc<UdpSocket>,
    engine: &Engine,
    metrics: &DoorMetrics,
    limits: &HandleLimits,
    cancel: &CancellationToken,
    recursion: Option<&RecursionDoor>,
) {
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
        let batch_started = Instant::now();
        arena.clear();
        pending.clear();
        for (i, &(n, peer)) in received.iter().enumerate() {
            let Some(peer) = peer else { continue };
            let datagram = &bufs[i][..n.min(RECV_BUF)];
            let exempt = limits.exempt.contains(peer.ip());
            if let Some(limiter) = limits.udp.as_ref().filter(|_| !exempt) {
                match limiter.check_charged(peer.ip(), batch_started) {
                    Verdict::Allow => {}
                    Verdict::Drop => {
                        metrics.rate_limited(LimitAction::Drop);
                        continue;
                    }
                    Verdict::Slip => {
                        metrics.rate_limited(LimitAction::Slip);
                        let at = arena.len();
                        if engine.refuse(datagram, ResponseCode::ERROR, limits::USE_TCP_RATE, now, &mut arena).is_some()
                            && arena.len() - at <= UDP_MAX_DATAGRAM
                        {
                            pending.push(Pending { range: at..arena.len(), to: SockaddrStorage::from(peer) });
                        } else {
                            arena.truncate(at);
                        }
                        continue;
                    }
                }
            }
            let started = Instant::now();
            let ctx = Ctx { transport: Transport::Udp, peer, now };
            let at = arena.len();
            let assembled;
            let request: &[u8] = match reassembler.push(peer, datagram, started) {
                Ok(Reassembled::Complete(message)) => message,
                Ok(Reassembled::Assembled(message)) => {
                    assembled = message;
                    &assembled
                }
                Ok(Reassembled::Pending) => continue,
                Err(_) => {
                    // Not a Handle datagram (short, oversize, bad fragment):
                    // dropped silently, as CNRI does.
                    metrics.udp_dropped("malformed");
                    continue;
                }
            };
            let mut outcome = engine.handle(&ctx, request, &mut arena);
            crate::ops::request_log::handle("handle-udp", peer, request, outcome.opcode, outcome.rc, started);
            if outcome.recurse {
                // Cache hits are answered here; misses later by the
                // recursion task, from this socket.
                match recursion.and_then(|r| r.answer_cached(request, &mut arena)) {
                    Some(done) => outcome.rc = done.rc.0,
                    None => {
                        let queued = recursion.is_some_and(|r| r.submit_udp(&sock, peer, request, started));
                        if !queued {
                            metrics.udp_dropped("recursion_busy");
                        }
                        continue;
                    }
                }
            }
            let to = SockaddrStorage::from(peer);
            let mut len = arena.len() - at;
            if limits.max_amplification > 0
                && !exempt
                && wire_len(len) > limits.max_amplification * request_wire_len(request.len())
                && !limits.proven.is_proven(peer.ip(), started)
            {
                arena.truncate(at);
                metrics.amplification_capped();
                if let Some(o) = engine.refuse(request, ResponseCode::ERROR, limits::USE_TCP_TOO_LARGE, now, &mut arena)
                {
                    outcome = o;
                }
                len = arena.len() - at;
            }
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

/// Bytes on the wire of an answer of `len` bytes (one envelope + message):
/// one more envelope per extra datagram when it is fragmented.
fn wire_len(len: usize) -> usize {
    if len <= UDP_MAX_DATAGRAM {
        return len;
    }
    let payload = len - ENVELOPE_LEN;
    let per = UDP_MAX_DATAGRAM - ENVELOPE_LEN;
    payload + payload.div_ceil(per) * ENVELOPE_LEN
}

/// Bytes the client sent for a request of `len` bytes (envelope + message).
fn request_wire_len(len: usize) -> usize {
    wire_len(len)
}

/// Sends every pending datagram with as few `sendmmsg` calls as it takes.
pub(super) fn send_all(
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Which of `socks` each of `senders`' datagrams reached.
    fn landing(socks: &[UdpSocket], senders: &[UdpSocket]) -> Vec<usize> {
        let to = socks[0].local_addr().unwrap();
        for s in socks {
            s.set_read_timeout(Some(Duration::from_millis(200))).unwrap();
        }
        senders
            .iter()
            .map(|s| {
                s.send_to(b"x", to).unwrap();
                let mut buf = [0u8; 8];
                (0..socks.len())
                    .cycle()
                    .take(socks.len() * 10)
                    .find(|&i| socks[i].recv(&mut buf).is_ok())
                    .expect("the datagram reached a socket")
            })
            .collect()
    }

    #[test]
    fn datagrams_are_steered_by_source_address_not_port() {
        let exempt = Networks::parse(&["127.0.0.1/32", "::1/128"]).unwrap();
        let socks = bind("127.0.0.1:0".parse().unwrap(), 2, &exempt).unwrap();
        let from = |ip: &str| -> Vec<UdpSocket> { (0..6).map(|_| UdpSocket::bind((ip, 0)).unwrap()).collect() };
        let two = landing(&socks, &from("127.0.0.2"));
        let three = landing(&socks, &from("127.0.0.3"));
        // Every port of one source lands on one socket; .2 and .3 differ (mod 2).
        assert!(two.iter().all(|&i| i == two[0]), "{two:?}");
        assert!(three.iter().all(|&i| i == three[0]), "{three:?}");
        assert_ne!(two[0], three[0]);

        // Exempt sources keep the spreading by flow: 16 ports of 127.0.0.1
        // reach both sockets.
        let one: Vec<UdpSocket> = (0..16).map(|_| UdpSocket::bind("127.0.0.1:0").unwrap()).collect();
        let l = landing(&socks, &one);
        assert!(l.iter().any(|&i| i != l[0]), "{l:?}");

        let socks = bind("[::1]:0".parse().unwrap(), 2, &Networks::default()).unwrap();
        let six: Vec<UdpSocket> = (0..6).map(|_| UdpSocket::bind("[::1]:0").unwrap()).collect();
        let l = landing(&socks, &six);
        assert!(l.iter().all(|&i| i == l[0]), "{l:?}");
        let socks = bind("[::1]:0".parse().unwrap(), 2, &exempt).unwrap();
        let many: Vec<UdpSocket> = (0..16).map(|_| UdpSocket::bind("[::1]:0").unwrap()).collect();
        let l = landing(&socks, &many);
        assert!(l.iter().any(|&i| i != l[0]), "{l:?}");
    }
}
