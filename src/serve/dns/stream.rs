//! DNS over TCP (RFC 7766) and over TLS (RFC 7858): two-byte length
//! framing, several queries per connection answered in order, an idle
//! timeout, a cap on open connections per address, and rate limiting per
//! client network (a limited query closes the connection).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use idnode_resolver::dns::{DnsFront, Transport};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::metrics::DnsMetrics;
use crate::serve::door_metrics::LimitAction;
use crate::serve::limits::{ClientLimiter, ConnCounter, Verdict};

/// A connection with no complete query for this long is closed.
pub const IDLE: Duration = Duration::from_secs(10);

/// Shared by the TCP and TLS doors.
#[derive(Clone)]
pub struct StreamDoor {
    pub front: Arc<DnsFront>,
    pub metrics: Arc<DnsMetrics>,
    pub limiter: Option<Arc<ClientLimiter>>,
    pub conns: Arc<ConnCounter>,
    pub tracker: TaskTracker,
}

/// Accepts until `cancel`; with `tls`, each connection is a TLS session first.
pub async fn run(
    listener: TcpListener,
    door: StreamDoor,
    tls: Option<TlsAcceptor>,
    cancel: CancellationToken,
) -> std::io::Result<()> {
    loop {
        let (sock, peer) = tokio::select! {
            _ = cancel.cancelled() => return Ok(()),
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    tracing::warn!(error = %e, "dns accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let Some(slot) = door.conns.acquire(peer.ip()) else {
            door.metrics.door.tcp_refused_per_address();
            continue;
        };
        let _ = sock.set_nodelay(true);
        let (door2, tls, cancel) = (door.clone(), tls.clone(), cancel.clone());
        door.tracker.spawn(async move {
            let _slot = slot;
            match tls {
                None => serve(sock, peer, &door2, &cancel).await,
                Some(acc) => match tokio::time::timeout(IDLE, acc.accept(sock)).await {
                    Ok(Ok(s)) => serve(s, peer, &door2, &cancel).await,
                    _ => door2.metrics.door.tcp_timeout("handshake"),
                },
            }
        });
    }
}

async fn serve<S: AsyncRead + AsyncWrite + Unpin>(
    mut s: S,
    peer: SocketAddr,
    door: &StreamDoor,
    cancel: &CancellationToken,
) {
    let mut buf = Vec::new();
    let mut out = Vec::new();
    loop {
        let mut len = [0u8; 2];
        let read = tokio::select! {
            _ = cancel.cancelled() => return,
            r = tokio::time::timeout(IDLE, s.read_exact(&mut len)) => r,
        };
        match read {
            Ok(Ok(_)) => {}
            Ok(Err(_)) => return,
            Err(_) => {
                door.metrics.door.tcp_timeout("read");
                return;
            }
        }
        buf.resize(usize::from(u16::from_be_bytes(len)), 0);
        match tokio::time::timeout(IDLE, s.read_exact(&mut buf)).await {
            Ok(Ok(_)) => {}
            _ => return,
        }
        let start = Instant::now();
        if let Some(l) = &door.limiter
            && !matches!(l.check(peer.ip(), start), Verdict::Allow)
        {
            door.metrics.door.rate_limited(LimitAction::Busy);
            return;
        }
        let outcome = door.front.answer(&buf, Transport::Stream, &mut out);
        door.metrics.observe(&outcome, start.elapsed());
        if outcome.rcode.is_none() {
            return;
        }
        let mut framed = Vec::with_capacity(out.len() + 2);
        framed.extend_from_slice(&(out.len() as u16).to_be_bytes());
        framed.extend_from_slice(&out);
        match tokio::time::timeout(IDLE, async {
            s.write_all(&framed).await?;
            s.flush().await
        })
        .await
        {
            Ok(Ok(())) => {}
            _ => return,
        }
    }
}
