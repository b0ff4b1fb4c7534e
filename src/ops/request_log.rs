//! Sampled request log lines (`[logs]`, off by default): one structured
//! tracing event per sampled request on the target `idnode::request`, which
//! the log subscriber writes to stderr (text or JSON; journald takes it from
//! there). Fields, stable for log pipelines:
//!
//! * `door` — `handle-udp`, `handle-tcp`, `http`, `admin`
//! * `client` — the client's address and port
//! * `opcode`, `handle`, `rc` — Handle doors: the request's opcode and
//!   identifier, the answer's response code
//! * `method`, `path`, `status` — HTTP doors (the path without its query
//!   string: a query can carry a token)
//! * `elapsed_us` — time spent answering, microseconds
//!
//! Never a credential, a record value or a request body. Sampling is one
//! request in `request_sample`, counted per process across doors: cheap
//! enough for the hot path (one relaxed atomic increment when on, one load
//! when off).

use std::net::SocketAddr;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use crate::config::LogsConfig;

/// Target of the request log events (filter with `log_level`, e.g.
/// `info,idnode::request=off`).
pub const TARGET: &str = "idnode::request";

struct Sampler {
    every: u64,
    seen: AtomicU64,
}

impl Sampler {
    fn hit(&self) -> bool {
        self.seen.fetch_add(1, Ordering::Relaxed).is_multiple_of(self.every)
    }
}

static SAMPLER: OnceLock<Sampler> = OnceLock::new();

/// Installs the sampler from `[logs]` (first call wins; `serve` calls it
/// once before the doors open). With `requests = false` nothing is
/// installed and [`sampled`] is always false.
pub fn init(cfg: &LogsConfig) {
    if cfg.requests {
        let _ = SAMPLER.set(Sampler { every: u64::from(cfg.request_sample.max(1)), seen: AtomicU64::new(0) });
    }
}

/// Whether this request is one to log.
fn sampled() -> bool {
    match SAMPLER.get() {
        None => false,
        Some(s) => s.hit(),
    }
}

/// A Handle-door request (UDP, TCP): `request` is the message as received
/// (its identifier is logged as `handle`, lossily decoded). A sampled
/// request is an info line on [`TARGET`]; with debug logging on, every
/// request is a debug line of the door's module. Neither costs more than a
/// relaxed load when both are off.
#[inline]
pub fn handle(door: &'static str, client: SocketAddr, request: &[u8], opcode: u32, rc: u32, started: Instant) {
    let handle = || String::from_utf8_lossy(idnode_resolver::engine::logged_handle(request).unwrap_or_default());
    let elapsed_us = || started.elapsed().as_micros() as u64;
    if sampled() {
        tracing::info!(target: TARGET, door, %client, opcode, handle = %handle(), rc, elapsed_us = elapsed_us(), "request");
    } else if tracing::enabled!(tracing::Level::DEBUG) {
        tracing::debug!(door, %client, opcode, handle = %handle(), rc, elapsed_us = elapsed_us(), "request");
    }
}

/// Wraps an HTTP door's router with [`http`] when request logs are on (no
/// layer at all when they are off: nothing on the hot path).
pub fn layer(router: axum::Router, cfg: &LogsConfig, door: &'static str) -> axum::Router {
    if cfg.requests { router.layer(axum::middleware::from_fn_with_state(door, http)) } else { router }
}

/// axum middleware for the HTTP doors.
async fn http(
    axum::extract::State(door): axum::extract::State<&'static str>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    if !sampled() {
        return next.run(req).await;
    }
    let started = Instant::now();
    let client = req
        .extensions()
        .get::<axum::extract::ConnectInfo<crate::serve::http::PeerInfo>>()
        .map(|c| c.0.addr.to_string())
        .unwrap_or_default();
    let method = req.method().to_string();
    let path = req.uri().path().to_owned();
    let resp = next.run(req).await;
    tracing::info!(
        target: TARGET,
        door,
        client = %client,
        method = %method,
        path = %path,
        status = resp.status().as_u16(),
        elapsed_us = started.elapsed().as_micros() as u64,
        "request"
    );
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_in_n_is_sampled() {
        let s = Sampler { every: 3, seen: AtomicU64::new(0) };
        let hits: Vec<bool> = (0..7).map(|_| s.hit()).collect();
        assert_eq!(hits, [true, false, false, true, false, false, true]);
        let all = Sampler { every: 1, seen: AtomicU64::new(0) };
        assert!((0..5).all(|_| all.hit()));
    }
}
