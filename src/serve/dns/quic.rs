//! DNS over QUIC (RFC 9250): ALPN `doq`, one query per client-initiated
//! bidirectional stream, two-byte length framing, message ID 0; the answer
//! is written and the stream finished. A query with a non-zero ID closes
//! the connection with DOQ_PROTOCOL_ERROR (0x2).

use std::sync::Arc;
use std::time::Instant;

use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use tokio_util::bytes::Bytes;

use idnode_resolver::dns::{DnsFront, Transport};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::metrics::DnsMetrics;
use crate::serve::door_metrics::LimitAction;
use crate::serve::limits::{ClientLimiter, Verdict};

/// RFC 9250 §4.3 error codes.
const DOQ_NO_ERROR: u32 = 0;
const DOQ_PROTOCOL_ERROR: u32 = 2;
/// Largest query accepted on a stream.
const MAX_QUERY: usize = 65_537;

/// Serves `endpoint` until `cancel`.
pub async fn run(
    endpoint: quinn::Endpoint,
    front: Arc<DnsFront>,
    metrics: Arc<DnsMetrics>,
    limiter: Option<Arc<ClientLimiter>>,
    tracker: TaskTracker,
    cancel: CancellationToken,
) -> std::io::Result<()> {
    loop {
        let incoming = tokio::select! {
            _ = cancel.cancelled() => {
                endpoint.close(DOQ_NO_ERROR.into(), b"");
                return Ok(());
            }
            i = endpoint.accept() => match i { Some(i) => i, None => return Ok(()) },
        };
        let (front, metrics, limiter, cancel) = (front.clone(), metrics.clone(), limiter.clone(), cancel.clone());
        tracker.spawn(async move {
            let Ok(conn) = incoming.await else { return };
            // The connection's queries run on its own task (no task per
            // stream): each stream's read, answer and write is one future
            // of this set, polled beside the accept loop.
            let mut queries = FuturesUnordered::new();
            loop {
                tokio::select! {
                    _ = cancel.cancelled() => { conn.close(DOQ_NO_ERROR.into(), b""); return; }
                    s = conn.accept_bi() => {
                        let Ok((mut send, recv)) = s else { return };
                        let start = Instant::now();
                        if let Some(l) = &limiter
                            && !matches!(l.check(conn.remote_address().ip(), start), Verdict::Allow)
                        {
                            metrics.door.rate_limited(LimitAction::Drop);
                            let _ = send.reset(DOQ_NO_ERROR.into());
                            continue;
                        }
                        queries.push(query(send, recv, &front, &metrics, &conn, start));
                    }
                    Some(()) = queries.next(), if !queries.is_empty() => {}
                }
            }
        });
    }
}

/// One DoQ query: its stream read to the end, answered, the answer written
/// with its length in front and the stream finished.
async fn query(
    mut send: quinn::SendStream,
    mut recv: quinn::RecvStream,
    front: &DnsFront,
    metrics: &DnsMetrics,
    conn: &quinn::Connection,
    start: Instant,
) {
    let Ok(bytes) = recv.read_to_end(MAX_QUERY).await else { return };
    if bytes.len() < 2 || usize::from(u16::from_be_bytes([bytes[0], bytes[1]])) != bytes.len() - 2 {
        conn.close(DOQ_PROTOCOL_ERROR.into(), b"bad length");
        return;
    }
    let query = &bytes[2..];
    if query.len() >= 2 && query[..2] != [0, 0] {
        conn.close(DOQ_PROTOCOL_ERROR.into(), b"message id must be 0");
        return;
    }
    let mut out = Vec::with_capacity(514);
    let outcome = front.answer(query, Transport::Stream, &mut out);
    metrics.observe(&outcome, start.elapsed());
    if outcome.rcode.is_none() {
        let _ = send.reset(DOQ_PROTOCOL_ERROR.into());
        return;
    }
    // The two-byte length in front, in the same buffer (a move of the
    // answer within its capacity, no second allocation).
    let len = (out.len() as u16).to_be_bytes();
    out.splice(0..0, len);
    if send.write_chunk(Bytes::from(out)).await.is_ok() {
        let _ = send.finish();
    }
}

/// A QUIC server endpoint on `addr` with `tls` (ALPN set to `doq` here).
pub fn endpoint(addr: std::net::SocketAddr, tls: &rustls::ServerConfig) -> anyhow::Result<quinn::Endpoint> {
    let mut tls = tls.clone();
    tls.alpn_protocols = vec![b"doq".to_vec()];
    tls.max_early_data_size = 0;
    let crypto = quinn::crypto::rustls::QuicServerConfig::try_from(Arc::new(tls))?;
    let server = quinn::ServerConfig::with_crypto(Arc::new(crypto));
    Ok(quinn::Endpoint::server(server, addr)?)
}
