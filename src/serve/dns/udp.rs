//! DNS over UDP: `SO_REUSEPORT` sockets (bound like the Handle UDP door's),
//! one OS thread each doing blocking `recv_from` / `send_to`.

use std::net::UdpSocket;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use idnode_resolver::dns::{DnsFront, Transport};
use tokio_util::sync::CancellationToken;

use super::metrics::DnsMetrics;
use crate::serve::door_metrics::LimitAction;
use crate::serve::limits::{ClientLimiter, Verdict};

/// How often a blocked thread wakes to check for shutdown.
const POLL: Duration = Duration::from_millis(100);
/// Largest query read (a DNS query is far smaller; bigger ones are FORMERR or dropped).
const RECV_BUF: usize = 4096;

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
    let mut buf = vec![0u8; RECV_BUF];
    let mut out = Vec::with_capacity(1500);
    while !cancel.is_cancelled() {
        let (n, peer) = match sock.recv_from(&mut buf) {
            Ok(x) => x,
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => continue,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                tracing::warn!(error = %e, "dns udp receive failed");
                continue;
            }
        };
        let start = Instant::now();
        let query = &buf[..n];
        if let Some(l) = limiter {
            match l.check(peer.ip(), start) {
                Verdict::Allow => {}
                Verdict::Slip => {
                    metrics.door.rate_limited(LimitAction::Slip);
                    if let Some(h) = super::slip_answer(query) {
                        let _ = sock.send_to(&h, peer);
                    }
                    continue;
                }
                Verdict::Drop => {
                    metrics.door.rate_limited(LimitAction::Drop);
                    continue;
                }
            }
        }
        let outcome = front.answer(query, Transport::Udp, &mut out);
        if outcome.rcode.is_some()
            && let Err(e) = sock.send_to(&out, peer)
        {
            tracing::debug!(error = %e, "dns udp send failed");
        }
        metrics.observe(&outcome, start.elapsed());
    }
}
