//! Recursive requests leave the Handle doors' hot loops here.
//!
//! The engine answers everything it can synchronously; a request with REC
//! for an identifier not held here comes back with `Outcome::recurse` and
//! nothing written. The UDP threads must never wait for an upstream
//! server, so [`RecursionDoor::submit_udp`] queues the request for a tokio
//! task that resolves it through the shared `upstream::Recursor` and sends
//! the answer datagrams itself (non-blocking `sendto` on the same socket).
//! TCP and QUIC connections are async already and await
//! [`RecursionDoor::answer`] in order. At most `max_pending` recursive
//! requests are in progress; UDP requests beyond that are dropped and
//! counted (`idnode_udp_dropped_total{reason="recursion_busy"}`), stream
//! requests get RC 3.

use std::net::{SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::time::Instant;

use idnode_resolver::upstream::{Recursed, Recursor, Source};
use idnode_resolver::wire::{ENVELOPE_LEN, ResponseCode, UDP_MAX_DATAGRAM, udp_fragments};
use metrics::counter;
use nix::sys::socket::{MsgFlags, SockaddrStorage, sendto};
use tokio::sync::{Semaphore, mpsc};
use tokio_util::sync::CancellationToken;

use crate::telemetry::{DoorMetrics, names};

struct UdpJob {
    request: Vec<u8>,
    peer: SocketAddr,
    socket: Arc<UdpSocket>,
    started: Instant,
    _permit: tokio::sync::OwnedSemaphorePermit,
}

/// The hand-off point between the doors and the recursor.
pub struct RecursionDoor {
    recursor: Arc<Recursor>,
    permits: Arc<Semaphore>,
    udp_jobs: mpsc::UnboundedSender<UdpJob>,
}

impl std::fmt::Debug for RecursionDoor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecursionDoor").field("available", &self.permits.available_permits()).finish()
    }
}

impl RecursionDoor {
    /// Starts the task that answers UDP recursive requests (it ends when
    /// `cancel` fires). Call from within the runtime.
    pub fn start(
        recursor: Arc<Recursor>,
        max_pending: usize,
        udp_metrics: Arc<DoorMetrics>,
        cancel: CancellationToken,
    ) -> Arc<Self> {
        let (tx, mut rx) = mpsc::unbounded_channel::<UdpJob>();
        let door = Arc::new(RecursionDoor {
            recursor: recursor.clone(),
            permits: Arc::new(Semaphore::new(max_pending)),
            udp_jobs: tx,
        });
        tokio::spawn(async move {
            loop {
                let job = tokio::select! {
                    _ = cancel.cancelled() => break,
                    j = rx.recv() => match j { Some(j) => j, None => break },
                };
                let recursor = recursor.clone();
                let metrics = udp_metrics.clone();
                tokio::spawn(async move {
                    let mut out = Vec::with_capacity(512);
                    let r = recursor.answer(&job.request, crate::unix_now(), &mut out).await;
                    send_datagrams(&job.socket, job.peer, &out, &metrics);
                    record(r);
                    metrics.observe(1, r.rc.0, job.started.elapsed());
                    drop(job);
                });
            }
        });
        door
    }

    /// Queues a UDP request (`request` = envelope + message); the answer
    /// is sent to `peer` from `socket` when ready. Never blocks. Returns
    /// false (request dropped) when too many are in progress.
    pub fn submit_udp(&self, socket: &Arc<UdpSocket>, peer: SocketAddr, request: &[u8], started: Instant) -> bool {
        let Ok(permit) = self.permits.clone().try_acquire_owned() else { return false };
        self.udp_jobs
            .send(UdpJob { request: request.to_vec(), peer, socket: socket.clone(), started, _permit: permit })
            .is_ok()
    }

    /// Answers from the recursion cache on the caller's thread when it can
    /// (see `Recursor::answer_cached`); `None` = submit or await instead.
    pub fn answer_cached(&self, request: &[u8], out: &mut Vec<u8>) -> Option<Recursed> {
        let r = self.recursor.answer_cached(request, crate::unix_now(), out)?;
        record(r);
        Some(r)
    }

    /// Answers a request from a stream door (TCP, QUIC): appends the
    /// answer to `out`.
    pub async fn answer(&self, request: &[u8], out: &mut Vec<u8>) -> Recursed {
        if let Some(r) = self.answer_cached(request, out) {
            return r;
        }
        let Ok(_permit) = self.permits.clone().try_acquire_owned() else {
            busy(request, out);
            let r = Recursed { rc: ResponseCode::SERVER_TOO_BUSY, source: Source::Refused };
            record(r);
            return r;
        };
        let r = self.recursor.answer(request, crate::unix_now(), out).await;
        record(r);
        r
    }
}

/// Sources and response codes with a pre-registered counter (the hot
/// path does not hash label sets); others go through the macro.
const SOURCES: [Source; 4] = [Source::Hit, Source::Miss, Source::Shared, Source::Refused];
const HOT_RCS: [u32; 6] = [1, 2, 3, 6, 100, 200];

fn record(r: Recursed) {
    static HOT: std::sync::OnceLock<Vec<metrics::Counter>> = std::sync::OnceLock::new();
    let hot = HOT.get_or_init(|| {
        SOURCES
            .iter()
            .flat_map(|s| {
                HOT_RCS.iter().map(move |rc| counter!(names::RECURSION, "source" => s.label(), "rc" => rc.to_string()))
            })
            .collect()
    });
    let s = SOURCES.iter().position(|&x| x == r.source);
    let c = HOT_RCS.iter().position(|&x| x == r.rc.0);
    match (s, c) {
        (Some(s), Some(c)) => hot[s * HOT_RCS.len() + c].increment(1),
        _ => counter!(names::RECURSION, "source" => r.source.label(), "rc" => r.rc.0.to_string()).increment(1),
    }
}

/// RC 3 for a request we could not take: the engine's error form.
fn busy(request: &[u8], out: &mut Vec<u8>) {
    use idnode_resolver::wire::{Frame, Responder, ResponseHead, encode_error_response};
    let Ok(frame) = Frame::parse(request) else { return };
    let now = crate::unix_now() as u32;
    let responder = Responder { site_serial: 0xFFFF, primary: false, expiration: now.wrapping_add(12 * 3600) };
    let head = ResponseHead::for_request(&frame.envelope, &frame.header, ResponseCode::SERVER_TOO_BUSY, &responder);
    let _ = encode_error_response(out, &head, None, b"Too many recursive requests in progress");
}

/// Sends an answer (TCP form) as datagrams, without blocking.
fn send_datagrams(socket: &UdpSocket, peer: SocketAddr, answer: &[u8], metrics: &DoorMetrics) {
    if answer.len() < ENVELOPE_LEN {
        return;
    }
    let to = SockaddrStorage::from(peer);
    let fd = socket.as_raw_fd();
    let send = |d: &[u8]| {
        if sendto(fd, d, &to, MsgFlags::MSG_DONTWAIT).is_err() {
            metrics.udp_dropped("send_failed");
        }
    };
    if answer.len() <= UDP_MAX_DATAGRAM {
        send(answer);
    } else {
        for f in udp_fragments(answer, false) {
            send(&f.to_vec());
        }
    }
}

/// The recursion door of `cfg` (`[federation] recursion = true`), or None.
pub fn build(
    cfg: &crate::config::Config,
    engine: &idnode_resolver::engine::EngineConfig,
    udp_metrics: Arc<DoorMetrics>,
    cancel: CancellationToken,
    quic: Option<Arc<dyn idnode_resolver::upstream::QuicLink>>,
) -> anyhow::Result<Option<Arc<RecursionDoor>>> {
    use idnode_resolver::upstream::{RecursorConfig, Target, Upstream, UpstreamConfig};
    let f = &cfg.federation;
    if !f.recursion {
        return Ok(None);
    }
    let roots = root_targets(&f.root)?;
    let timeout = std::time::Duration::from_millis(f.timeout_ms);
    let upstream = Upstream::new(UpstreamConfig {
        connect_timeout: timeout.min(std::time::Duration::from_secs(3)),
        exchange_timeout: timeout,
        max_steps: f.max_steps,
        ..UpstreamConfig::default()
    });
    let upstream = match quic {
        Some(link) => upstream.with_quic(link),
        None => upstream,
    };
    let recursor = Recursor::new(
        Arc::new(upstream),
        RecursorConfig {
            roots: roots.clone(),
            cache_entries: f.cache_entries as usize,
            max_ttl: f.max_ttl_secs,
            negative_ttl: f.negative_ttl_secs,
            max_recursion_count: f.max_recursion_count,
            site_serial: engine.site_serial,
            response_lifetime: engine.response_lifetime,
        },
    );
    tracing::info!(roots = ?roots.iter().map(Target::to_string).collect::<Vec<_>>(), "recursion on");
    Ok(Some(RecursionDoor::start(Arc::new(recursor), f.max_pending, udp_metrics, cancel)))
}

/// `[federation] root` entries as targets.
pub fn root_targets(entries: &[String]) -> anyhow::Result<Vec<idnode_resolver::upstream::Target>> {
    use crate::config::{RootEntry, parse_root};
    use idnode_resolver::upstream::Target;
    let mut out = Vec::new();
    for e in entries {
        match parse_root(e).map_err(|why| anyhow::anyhow!("federation.root: {why}"))? {
            RootEntry::Udp(a) => out.push(Target::udp(a)),
            RootEntry::Tcp(a) => out.push(Target::tcp(a)),
            RootEntry::Quic(a) => out.push(Target::quic(a)),
            RootEntry::Both(a) => {
                out.push(Target::udp(a));
                out.push(Target::tcp(a));
            }
        }
    }
    // QUIC first, then UDP, then TCP: the fallback order.
    out.sort_by_key(|t| match t.protocol {
        idnode_resolver::upstream::Protocol::Quic => 0,
        idnode_resolver::upstream::Protocol::Udp => 1,
        idnode_resolver::upstream::Protocol::Tcp => 2,
    });
    Ok(out)
}
