//! The Handle/IDIS TCP door (handle-protocol.md §1 "TCP").
//!
//! A connection carries envelope + `messageLength` bytes per request. CNRI
//! clients send one request per connection and close; IDIS SDKs keep the
//! connection open and send several (idis-extensions.md §8.1), so we serve
//! requests in order until the client closes, the idle timeout passes, or
//! the node shuts down. Each connection has its `ConnState` (an IDIS
//! login lasts as long as the connection). Limits: a connection cap (excess connections are
//! closed at once), an idle timeout between requests and a read timeout
//! within one.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use idnode_resolver::engine::{ConnState, Ctx, Engine, Transport, logged_handle};
use idnode_resolver::wire::{ENVELOPE_LEN, MAX_MESSAGE};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::telemetry::DoorMetrics;

/// Per-listener limits.
#[derive(Debug, Clone, Copy)]
pub struct TcpLimits {
    pub max_connections: usize,
    pub idle_timeout: Duration,
    pub read_timeout: Duration,
}

/// Accepts connections until `cancel` fires, then waits (bounded by the
/// caller) for the connections in `tracker` to finish their current request.
pub async fn run(
    listener: TcpListener,
    engine: Arc<Engine>,
    metrics: Arc<DoorMetrics>,
    limits: TcpLimits,
    cancel: CancellationToken,
    tracker: TaskTracker,
) {
    let permits = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    loop {
        let accepted = tokio::select! {
            _ = cancel.cancelled() => break,
            r = listener.accept() => r,
        };
        let (stream, peer) = match accepted {
            Ok(x) => x,
            Err(e) => {
                tracing::warn!(error = %e, "tcp accept failed");
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            }
        };
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            metrics.tcp_refused();
            drop(stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let engine = engine.clone();
        let metrics = metrics.clone();
        let cancel = cancel.clone();
        tracker.spawn(async move {
            metrics.tcp_open(1);
            if let Err(e) = serve_conn(stream, peer, &engine, &metrics, limits, &cancel).await {
                tracing::debug!(error = %e, %peer, "tcp connection ended with error");
            }
            metrics.tcp_open(-1);
            drop(permit);
        });
    }
}

/// Serves one connection. Reads go into a buffer so that a request that
/// arrives whole (the usual case) costs one `read`, and pipelined requests
/// are answered in order.
async fn serve_conn(
    mut stream: TcpStream,
    peer: SocketAddr,
    engine: &Engine,
    metrics: &DoorMetrics,
    limits: TcpLimits,
    cancel: &CancellationToken,
) -> io::Result<()> {
    let mut buf: Vec<u8> = vec![0u8; 16 * 1024];
    let (mut start, mut end) = (0usize, 0usize);
    let mut out = Vec::with_capacity(4096);
    // Connection-scoped state (the engine's per-connection context).
    let mut conn = ConnState::default();
    loop {
        // Wait for the next envelope: idle timeout, or shutdown between requests.
        if end - start < ENVELOPE_LEN {
            if start > 0 {
                buf.copy_within(start..end, 0);
                end -= start;
                start = 0;
            }
            while end < ENVELOPE_LEN {
                let idle = end == 0;
                let n = if idle {
                    tokio::select! {
                        _ = cancel.cancelled() => return Ok(()),
                        r = tokio::time::timeout(limits.idle_timeout, stream.read(&mut buf[end..])) => match r {
                            Err(_) => return Ok(()),
                            Ok(r) => r?,
                        },
                    }
                } else {
                    match tokio::time::timeout(limits.read_timeout, stream.read(&mut buf[end..])).await {
                        Err(_) => return Ok(()),
                        Ok(r) => r?,
                    }
                };
                if n == 0 {
                    // EOF: clean between requests; a partial envelope has
                    // nothing to answer to.
                    return Ok(());
                }
                end += n;
            }
        }
        let started = Instant::now();
        let e = &buf[start..start + ENVELOPE_LEN];
        let len = u32::from_be_bytes([e[16], e[17], e[18], e[19]]) as usize;
        let now = crate::unix_now();
        if len > MAX_MESSAGE {
            engine.protocol_error_unframed(
                &format!("Message length {len} exceeds the limit {MAX_MESSAGE}"),
                now,
                &mut out,
            );
            stream.write_all(&out).await?;
            metrics.observe(0, 4, started.elapsed());
            return Ok(());
        }
        let total = ENVELOPE_LEN + len;
        if end - start < total {
            // Make room for the whole message, then read the rest of it.
            if start > 0 {
                buf.copy_within(start..end, 0);
                end -= start;
                start = 0;
            }
            if buf.len() < total {
                buf.resize(total, 0);
            }
            end += read_up_to(&mut stream, &mut buf[end..total], limits.read_timeout).await?;
            if end < total {
                // The reference server answers a short message with RC 4 and
                // the count it got (vectors tcp-truncated-body, tcp-garbage).
                let received = end - ENVELOPE_LEN;
                engine.protocol_error_unframed(
                    &format!("Expecting {len} bytes, only received {received}"),
                    now,
                    &mut out,
                );
                let _ = stream.write_all(&out).await;
                metrics.observe(0, 4, started.elapsed());
                return Ok(());
            }
        }
        let ctx = Ctx { transport: Transport::Tcp, peer, now };
        let request = &buf[start..start + total];
        let outcome = if is_hot(request) {
            engine.handle_conn(&ctx, &mut conn, request, &mut out)
        } else {
            // Authenticated writes wait for a durable flush: keep them off
            // the async workers' hot loop.
            blocking(|| engine.handle_conn(&ctx, &mut conn, request, &mut out))
        };
        if tracing::enabled!(tracing::Level::DEBUG) {
            tracing::debug!(
                door = "handle-tcp",
                client = %peer,
                opcode = outcome.opcode,
                handle = %String::from_utf8_lossy(logged_handle(request).unwrap_or_default()),
                rc = outcome.rc,
                elapsed_us = started.elapsed().as_micros() as u64,
                "request"
            );
        }
        start += total;
        metrics.observe(outcome.opcode, outcome.rc, started.elapsed());
        // Pipelined requests already in the buffer are answered with one
        // write (bounded), in order.
        if outcome.close || !next_message_ready(&buf[start..end]) || out.len() >= MAX_COALESCED {
            if !out.is_empty() {
                stream.write_all(&out).await?;
                out.clear();
            }
            if outcome.close {
                return Ok(());
            }
        }
        if start == end {
            start = 0;
            end = 0;
        }
    }
}

/// Resolution and site-info requests never block; everything else may write.
fn is_hot(request: &[u8]) -> bool {
    request.len() >= ENVELOPE_LEN + 4 && matches!(&request[ENVELOPE_LEN..ENVELOPE_LEN + 4], [0, 0, 0, 1] | [0, 0, 0, 2])
}

/// Runs `f`, telling a multi-thread runtime that it may block.
fn blocking<T>(f: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::try_current().map(|h| h.runtime_flavor()) {
        Ok(tokio::runtime::RuntimeFlavor::MultiThread) => tokio::task::block_in_place(f),
        _ => f(),
    }
}

/// Most answer bytes held back to be written together.
const MAX_COALESCED: usize = 64 * 1024;

/// Whether `pending` starts with a complete message.
fn next_message_ready(pending: &[u8]) -> bool {
    pending.len() >= ENVELOPE_LEN
        && pending.len() - ENVELOPE_LEN
            >= u32::from_be_bytes([pending[16], pending[17], pending[18], pending[19]]) as usize
}

/// Reads until `buf` is full, EOF, or the timeout; returns the bytes read.
async fn read_up_to(stream: &mut TcpStream, buf: &mut [u8], timeout: Duration) -> io::Result<usize> {
    let deadline = tokio::time::Instant::now() + timeout;
    let mut filled = 0;
    while filled < buf.len() {
        match tokio::time::timeout_at(deadline, stream.read(&mut buf[filled..])).await {
            Err(_) => break,
            Ok(Ok(0)) => break,
            Ok(Ok(n)) => filled += n,
            Ok(Err(e)) if e.kind() == io::ErrorKind::ConnectionReset => break,
            Ok(Err(e)) => return Err(e),
        }
    }
    Ok(filled)
}
