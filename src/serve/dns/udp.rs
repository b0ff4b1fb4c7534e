//! DNS over UDP: `SO_REUSEPORT` sockets (bound like the Handle UDP door's),
//! one OS thread each, moving datagrams in batches as the Handle door does:
//! `recvmmsg` up to [`BATCH`] queries (waiting for the first only), answer
//! them together ([`DnsFront::answer_batch`]) into one arena, `sendmmsg`
//! the answers. Under load that is two
//! system calls per batch instead of two per query; at low load a batch is
//! one datagram and nothing waits.

use std::net::UdpSocket;
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use idnode_resolver::dns::{BatchBuffers, DnsFront, Transport};
use nix::errno::Errno;
use nix::sys::socket::{MsgFlags, MultiHeaders, SockaddrStorage, recvmmsg};
use tokio_util::sync::CancellationToken;

use super::metrics::{BatchTally, DnsMetrics};
use crate::serve::door_metrics::LimitAction;
use crate::serve::handle_udp::{BATCH, Pending, send_all, to_socket_addr};
use crate::serve::limits::{ClientLimiter, Verdict};

/// How often a blocked thread wakes to check for shutdown.
const POLL: Duration = Duration::from_millis(100);
/// Largest query read (a DNS query is far smaller; bigger ones are FORMERR or dropped).
const RECV_BUF: usize = 4096;
/// Room for one answer in the arena (the largest UDP answer the front writes
/// is `max_udp_payload`, at most 65535; the arena grows if it must).
const ARENA: usize = BATCH * 1232;

/// Starts one serving thread per socket.
pub fn spawn(
    sockets: Vec<UdpSocket>,
    front: Arc<DnsFront>,
    metrics: Arc<DnsMetrics>,
    limiter: Option<Arc<ClientLimiter>>,
    cancel: CancellationToken,
) -> std::io::Result<Vec<JoinHandle<()>>> {
    let mut out = Vec::with_capacity(sockets.len());
    for (i, sock) in sockets.into_iter().enumerate() {
        sock.set_read_timeout(Some(POLL))?;
        let (front, metrics, limiter, cancel) = (front.clone(), metrics.clone(), limiter.clone(), cancel.clone());
        out.push(
            std::thread::Builder::new()
                .name(format!("dns-udp-{i}"))
                .spawn(move || serve(&sock, &front, &metrics, limiter.as_deref(), &cancel))?,
        );
    }
    Ok(out)
}

fn serve(
    sock: &UdpSocket,
    front: &DnsFront,
    metrics: &DnsMetrics,
    limiter: Option<&ClientLimiter>,
    cancel: &CancellationToken,
) {
    let fd = sock.as_raw_fd();
    let mut bufs: Box<[[u8; RECV_BUF]; BATCH]> =
        vec![[0u8; RECV_BUF]; BATCH].into_boxed_slice().try_into().expect("BATCH buffers");
    let mut rx_headers = MultiHeaders::<SockaddrStorage>::preallocate(BATCH, None);
    let mut tx_headers = MultiHeaders::<SockaddrStorage>::preallocate(BATCH * 4, None);
    let mut received: Vec<(usize, Option<SockaddrStorage>)> = Vec::with_capacity(BATCH);
    let mut arena: Vec<u8> = Vec::with_capacity(ARENA);
    let mut pending: Vec<Pending> = Vec::with_capacity(BATCH);
    let mut allowed: Vec<(usize, SockaddrStorage)> = Vec::with_capacity(BATCH);
    let mut tally = BatchTally::new();
    let mut buffers = BatchBuffers::default();
    while !cancel.is_cancelled() {
        received.clear();
        {
            let mut iovs = bufs.each_mut().map(|b| [std::io::IoSliceMut::new(b)]);
            match recvmmsg(fd, &mut rx_headers, iovs.iter_mut(), MsgFlags::MSG_WAITFORONE, None) {
                Ok(results) => received.extend(results.map(|m| (m.bytes, m.address))),
                Err(Errno::EAGAIN | Errno::EINTR) => continue,
                Err(e) => {
                    tracing::warn!(error = %e, "dns udp receive failed");
                    std::thread::sleep(Duration::from_millis(10));
                    continue;
                }
            }
        }
        arena.clear();
        pending.clear();
        allowed.clear();
        let batch_started = Instant::now();
        for (i, &(n, to)) in received.iter().enumerate() {
            let Some(to) = to else { continue };
            let query = &bufs[i][..n.min(RECV_BUF)];
            if let Some(l) = limiter {
                let Some(peer) = to_socket_addr(&to) else { continue };
                match l.check(peer.ip(), batch_started) {
                    Verdict::Allow => {}
                    Verdict::Slip => {
                        metrics.door.rate_limited(LimitAction::Slip);
                        if let Some(h) = super::slip_answer(query) {
                            let at = arena.len();
                            arena.extend_from_slice(&h);
                            pending.push(Pending { range: at..arena.len(), to });
                        }
                        continue;
                    }
                    Verdict::Drop => {
                        metrics.door.rate_limited(LimitAction::Drop);
                        continue;
                    }
                }
            }
            allowed.push((i, to));
        }
        let mut queries = buffers.take_requests();
        queries.extend(allowed.iter().map(|&(i, _)| &bufs[i][..received[i].0.min(RECV_BUF)]));
        front.answer_batch(&queries, Transport::Udp, &mut arena, &mut buffers, |k, range, outcome| {
            if outcome.rcode.is_some() {
                pending.push(Pending { range, to: allowed[k].1 });
            }
            tally.note(metrics, &outcome);
        });
        buffers.put_requests(queries);
        tally.timed(batch_started.elapsed());
        // Counted before the answers leave: a client that reads the metrics
        // after its answer sees its query counted.
        metrics.flush(&mut tally);
        send_all(fd, &mut tx_headers, &arena, &pending, &metrics.door);
    }
}
