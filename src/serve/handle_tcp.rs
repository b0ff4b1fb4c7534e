//! The Handle/IDIS TCP door (handle-protocol.md §1 "TCP").
//!
//! A connection carries envelope + `messageLength` bytes per request. CNRI
//! clients send one request per connection and close; IDIS SDKs keep the
//! connection open and send several (idis-extensions.md §8.1), so we serve
//! requests in order until the client closes, the idle timeout passes, or
//! the node shuts down. Limits: a total and a per-address connection cap
//! (excess connections are closed at once), an idle timeout between
//! requests, a read timeout within one, a write timeout on every answer (a
//! client that never reads cannot hold a permit), a read buffer that grows
//! with the bytes received (never to the length a client declares up
//! front), and a per-client-network request rate ([`super::limits`]; over
//! it, RC 3). A completed exchange proves the client's address, so its UDP
//! answers are no longer size-capped. Each connection has its `ConnState`
//! (an IDIS login lasts as long as the connection).

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use idnode_resolver::engine::{ConnState, Ctx, Engine, Transport};
use idnode_resolver::wire::{ENVELOPE_LEN, MAX_MESSAGE, ResponseCode, framing};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::door_metrics::LimitAction;
use super::limits::{self, HandleLimits, Verdict};
use super::recursion::RecursionDoor;
use crate::telemetry::DoorMetrics;

/// Per-listener limits.
#[derive(Debug, Clone, Copy)]
pub struct TcpLimits {
    pub max_connections: usize,
    pub idle_timeout: Duration,
    pub read_timeout: Duration,
    pub write_timeout: Duration,
}

/// First size of a connection's read buffer; it grows (doubling) only as
/// bytes arrive.
const INITIAL_BUF: usize = 4 * 1024;

/// Accepts connections until `cancel` fires, then waits (bounded by the
/// caller) for the connections in `tracker` to finish their current request.
#[allow(clippy::too_many_arguments, reason = "the door's collaborators, each owned by a different subsystem")]
pub async fn run(
    listener: TcpListener,
    engine: Arc<Engine>,
    metrics: Arc<DoorMetrics>,
    limits: TcpLimits,
    sources: Arc<HandleLimits>,
    cancel: CancellationToken,
    tracker: TaskTracker,
    recursion: Option<Arc<RecursionDoor>>,
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
        let exempt = sources.exempt.contains(peer.ip());
        let slot = if exempt {
            None
        } else {
            match sources.conns.acquire(peer.ip()) {
                Some(slot) => Some(slot),
                None => {
                    metrics.tcp_refused_per_address();
                    drop(stream);
                    continue;
                }
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
        let sources = sources.clone();
        let cancel = cancel.clone();
        let recursion = recursion.clone();
        tracker.spawn(async move {
            metrics.tcp_open(1);
            let conn = Conn {
                peer,
                exempt,
                engine: &engine,
                metrics: &metrics,
                limits,
                sources: &sources,
                recursion: recursion.as_deref(),
            };
            if let Err(e) = conn.serve(stream, &cancel).await {
                tracing::debug!(error = %e, %peer, "tcp connection ended with error");
            }
            metrics.tcp_open(-1);
            drop(permit);
            drop(slot);
        });
    }
}

/// One connection's fixed context.
struct Conn<'a> {
    peer: SocketAddr,
    exempt: bool,
    engine: &'a Engine,
    metrics: &'a DoorMetrics,
    limits: TcpLimits,
    sources: &'a HandleLimits,
    recursion: Option<&'a RecursionDoor>,
}

impl Conn<'_> {
    /// Writes `out`, closing the connection (`Ok(false)`) when the client
    /// does not take it within the write timeout.
    async fn write(&self, stream: &mut TcpStream, out: &[u8]) -> io::Result<bool> {
        match tokio::time::timeout(self.limits.write_timeout, stream.write_all(out)).await {
            Ok(r) => r.map(|()| true),
            Err(_) => {
                self.metrics.tcp_timeout("write");
                Ok(false)
            }
        }
    }

    /// Serves one connection. Reads go into a buffer so that a request that
    /// arrives whole (the usual case) costs one `read`, and pipelined
    /// requests are answered in order.
    async fn serve(&self, mut stream: TcpStream, cancel: &CancellationToken) -> io::Result<()> {
        let (engine, metrics, limits, peer) = (self.engine, self.metrics, self.limits, self.peer);
        let mut buf: Vec<u8> = vec![0u8; INITIAL_BUF];
        let (mut start, mut end) = (0usize, 0usize);
        let mut out = Vec::with_capacity(4096);
        let mut proven = false;
        // Connection-scoped state (the engine's per-connection context: IDIS login).
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
                            Err(_) => {
                                metrics.tcp_timeout("read");
                                return Ok(());
                            }
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
                self.write(&mut stream, &out).await?;
                metrics.observe(0, 4, started.elapsed());
                return Ok(());
            }
            let total = ENVELOPE_LEN + len;
            if end - start < total {
                // Move the message to the front, then read the rest of it,
                // growing the buffer only as its bytes arrive.
                if start > 0 {
                    buf.copy_within(start..end, 0);
                    end -= start;
                    start = 0;
                }
                end = read_message(&mut stream, &mut buf, end, total, limits.read_timeout).await?;
                if end < total {
                    metrics.tcp_timeout("read");
                    // The reference server answers a short message with RC 4 and
                    // the count it got (vectors tcp-truncated-body, tcp-garbage).
                    let received = end - ENVELOPE_LEN;
                    engine.protocol_error_unframed(
                        &format!("Expecting {len} bytes, only received {received}"),
                        now,
                        &mut out,
                    );
                    let _ = self.write(&mut stream, &out).await;
                    metrics.observe(0, 4, started.elapsed());
                    return Ok(());
                }
            }
            let ctx = Ctx { transport: Transport::Tcp, peer, now };
            let request = &buf[start..start + total];
            let verdict = match &self.sources.tcp {
                Some(l) if !self.exempt => l.check_charged(peer.ip(), started),
                _ => Verdict::Allow,
            };
            let refused = match verdict {
                Verdict::Allow => None,
                // TCP is not spoofable: a limited client is told, never left waiting.
                Verdict::Slip | Verdict::Drop => {
                    metrics.rate_limited(LimitAction::Busy);
                    engine.refuse(request, ResponseCode::SERVER_TOO_BUSY, limits::TCP_BUSY, now, &mut out)
                }
            };
            let outcome = match refused {
                Some(o) => o,
                None if verdict != Verdict::Allow => {
                    // Over the rate and not even a request: nothing to say.
                    return Ok(());
                }
                None if is_hot(request) => engine.handle_conn(&ctx, &mut conn, request, &mut out),
                // Authenticated writes wait for a durable flush: keep them off
                // the async workers' hot loop.
                None => blocking(|| engine.handle_conn(&ctx, &mut conn, request, &mut out)),
            };
            let outcome = match self.recursion {
                Some(r) if outcome.recurse => {
                    let done = r.answer(request, &mut out).await;
                    idnode_resolver::engine::Outcome { rc: done.rc.0, recurse: false, ..outcome }
                }
                _ => outcome,
            };
            crate::ops::request_log::handle("handle-tcp", peer, request, outcome.opcode, outcome.rc, started);
            if !proven && verdict == Verdict::Allow {
                // A full request arrived over an established connection: the
                // address is real. Its UDP answers are no longer capped.
                self.sources.proven.prove(peer.ip(), started);
                proven = true;
            }
            start += total;
            metrics.observe(outcome.opcode, outcome.rc, started.elapsed());
            // Pipelined requests already in the buffer are answered with one
            // write (bounded), in order.
            if outcome.close || !next_message_ready(&buf[start..end]) || out.len() >= MAX_COALESCED {
                if !out.is_empty() {
                    if !self.write(&mut stream, &out).await? {
                        return Ok(());
                    }
                    out.clear();
                }
                if outcome.close {
                    return Ok(());
                }
            }
            if start == end {
                start = 0;
                end = 0;
                if buf.len() > INITIAL_BUF * 4 {
                    // Give back what a large message needed.
                    buf.truncate(INITIAL_BUF);
                    buf.shrink_to_fit();
                }
            }
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

/// Reads into `buf[end..]` until it holds `total` bytes, EOF, or the
/// timeout; returns the new end. The buffer grows by [`framing::grow`]
/// (doubling only when full), so it is never larger than twice the bytes
/// received (or [`INITIAL_BUF`]), whatever length the envelope declared.
async fn read_message(
    stream: &mut TcpStream,
    buf: &mut Vec<u8>,
    mut end: usize,
    total: usize,
    timeout: Duration,
) -> io::Result<usize> {
    let deadline = tokio::time::Instant::now() + timeout;
    while end < total {
        let cap = framing::grow(buf.len(), end, total, INITIAL_BUF);
        if cap != buf.len() {
            buf.resize(cap, 0);
        }
        let room = buf.len().min(total);
        match tokio::time::timeout_at(deadline, stream.read(&mut buf[end..room])).await {
            Err(_) => break,
            Ok(Ok(0)) => break,
            Ok(Ok(n)) => end += n,
            Ok(Err(e)) if e.kind() == io::ErrorKind::ConnectionReset => break,
            Ok(Err(e)) => return Err(e),
        }
    }
    Ok(end)
}
