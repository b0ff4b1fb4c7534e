//! The HTTP doors: the public door (Handle REST, SNMS, `/healthz`,
//! `/readyz`) and the admin door (admin API, `/metrics`, the probes), each
//! a listener served by [`run`] under the same limits.
//!
//! [`run`] serves HTTP and HTTPS on the same port (CNRI "port
//! unification"): each new connection first passes the connection caps
//! (`http.limits.max_connections` in total, `max_connections_per_address`
//! per client address; over either it is closed at once), then its first
//! byte is peeked — 0x16, a TLS handshake record, means TLS — and the TLS
//! handshake runs within `tls_handshake_timeout_ms`. The connection is then
//! served by hyper's HTTP/1.1 server with a timer, so a request header that
//! does not arrive within `header_read_timeout_ms` (slowloris, or an idle
//! keep-alive connection) closes it. Request-level limits (body size and
//! time, request timeout, concurrency, request ids, JSON errors) are tower
//! layers applied by [`super::http_limits::harden`].
//!
//! Every request carries [`PeerInfo`] (client address, TLS or not) as
//! `ConnectInfo`, which the APIs use to refuse credentials on plain HTTP.
//! Handlers here never touch an identifier or a secret.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::extract::connect_info::ConnectInfo;
use axum::http::{Request, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use metrics_exporter_prometheus::PrometheusHandle;
use tokio_util::sync::CancellationToken;

use crate::config::HttpLimits;
use crate::telemetry::names;

/// Whether the node accepts traffic (`/readyz`). Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct Readiness(Arc<AtomicBool>);

impl Readiness {
    pub fn set(&self, ready: bool) {
        self.0.store(ready, Ordering::Release);
    }
    pub fn is_ready(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }
}

/// What the operational endpoints need.
#[derive(Clone)]
pub struct OpsState {
    pub metrics: PrometheusHandle,
    pub ready: Readiness,
}

impl std::fmt::Debug for OpsState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpsState").field("ready", &self.ready.is_ready()).finish_non_exhaustive()
    }
}

/// `/healthz` and `/readyz` (both doors).
pub fn probes(ready: Readiness) -> Router {
    Router::new().route("/healthz", get(healthz)).route("/readyz", get(readyz)).with_state(ready)
}

/// `/metrics` and the probes: the admin door's operational routes.
pub fn router(state: OpsState) -> Router {
    let ready = state.ready.clone();
    Router::new().route("/metrics", get(metrics)).with_state(state).merge(probes(ready))
}

/// The connection-level limits of one door.
#[derive(Debug, Clone)]
pub struct DoorLimits {
    pub header_read_timeout: Duration,
    pub tls_handshake_timeout: Duration,
    pub keep_alive: bool,
    pub max_connections: usize,
    pub max_per_address: usize,
}

impl DoorLimits {
    pub fn from_config(l: &HttpLimits) -> Self {
        DoorLimits {
            header_read_timeout: Duration::from_millis(l.header_read_timeout_ms),
            tls_handshake_timeout: Duration::from_millis(l.tls_handshake_timeout_ms),
            keep_alive: l.keep_alive,
            max_connections: l.max_connections as usize,
            max_per_address: l.max_connections_per_address as usize,
        }
    }
}

/// Largest request head hyper buffers (request line + headers).
const MAX_HEAD_BYTES: usize = 64 * 1024;
/// Most header fields in one request.
const MAX_HEADERS: usize = 100;
/// First byte of a TLS record carrying a handshake (ClientHello).
const TLS_HANDSHAKE_RECORD: u8 = 0x16;

/// Open connections per client address (bounded by the total cap).
#[derive(Debug, Default)]
struct PerAddress(Mutex<HashMap<IpAddr, usize>>);

/// One admitted connection's place in [`PerAddress`]; released on drop.
struct AddressSlot {
    table: Arc<PerAddress>,
    ip: IpAddr,
}

impl PerAddress {
    fn admit(self: &Arc<Self>, ip: IpAddr, max: usize) -> Option<AddressSlot> {
        let mut m = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let n = m.entry(ip).or_insert(0);
        if *n >= max {
            return None;
        }
        *n += 1;
        Some(AddressSlot { table: self.clone(), ip })
    }
}

impl Drop for AddressSlot {
    fn drop(&mut self) {
        let mut m = self.table.0.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = m.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                m.remove(&self.ip);
            }
        }
    }
}

/// Serves `app` on `listener` until `shutdown` fires, then lets in-flight
/// requests finish (the caller bounds the wait). With `tls`, connections
/// that start with a TLS handshake are served over TLS, the others as plain
/// HTTP, on the same port. `door` names the door in metrics.
pub async fn run(
    listener: tokio::net::TcpListener,
    app: Router,
    tls: Option<Arc<rustls::ServerConfig>>,
    limits: DoorLimits,
    door: &'static str,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let tls = tls.map(tokio_rustls::TlsAcceptor::from);
    let total = Arc::new(tokio::sync::Semaphore::new(limits.max_connections));
    let per_address = Arc::new(PerAddress::default());
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut http1 = hyper::server::conn::http1::Builder::new();
    http1
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .keep_alive(limits.keep_alive)
        .max_buf_size(MAX_HEAD_BYTES)
        .max_headers(MAX_HEADERS);
    let http1 = Arc::new(http1);
    let limits = Arc::new(limits);
    // Open connections of this door, for the `idnode_tcp_connections` gauge.
    let open = Arc::new(AtomicU64::new(0));
    loop {
        let (tcp, addr) = tokio::select! {
            _ = shutdown.cancelled() => break,
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    // EMFILE and friends: back off instead of spinning.
                    tracing::warn!(error = %e, "http accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let Ok(permit) = total.clone().try_acquire_owned() else {
            metrics::counter!(names::TCP_REFUSED, "door" => door).increment(1);
            continue;
        };
        let Some(slot) = per_address.admit(addr.ip(), limits.max_per_address) else {
            metrics::counter!(names::TCP_REFUSED, "door" => door).increment(1);
            continue;
        };
        let _ = tcp.set_nodelay(true);
        let (tls, limits, http1, app) = (tls.clone(), limits.clone(), http1.clone(), app.clone());
        let watcher = graceful.watcher();
        let open = open.clone();
        tokio::spawn(async move {
            let _held = (permit, slot);
            let now = open.fetch_add(1, Ordering::Relaxed) + 1;
            metrics::gauge!(names::TCP_CONNECTIONS, "door" => door).set(now as f64);
            if let Some((io, peer)) = classify(tcp, addr, tls, &limits).await {
                let svc = tower::ServiceExt::map_request(app, move |mut req: Request<hyper::body::Incoming>| {
                    req.extensions_mut().insert(ConnectInfo(peer));
                    req
                });
                let conn = http1.serve_connection(TokioIo::new(io), TowerToHyperService::new(svc));
                if let Err(e) = watcher.watch(conn).await {
                    tracing::debug!(peer = %addr, error = %e, "http connection ended with an error");
                }
            }
            let now = open.fetch_sub(1, Ordering::Relaxed) - 1;
            metrics::gauge!(names::TCP_CONNECTIONS, "door" => door).set(now as f64);
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

/// How a request reached us: the client's address and whether the
/// connection is TLS. Available to handlers as
/// `ConnectInfo<PeerInfo>`; absent in in-process tests (treat as plain
/// HTTP from an unknown client).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeerInfo {
    pub addr: SocketAddr,
    pub tls: bool,
}

impl PeerInfo {
    /// True when the client is on this host (127.0.0.0/8, ::1, or an
    /// IPv4-mapped loopback address).
    pub fn is_loopback(&self) -> bool {
        match self.addr.ip() {
            std::net::IpAddr::V4(v4) => v4.is_loopback(),
            std::net::IpAddr::V6(v6) => v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback()),
        }
    }
}

/// Peeks at the first byte (within the header timeout); runs the TLS
/// handshake when it starts one (within the handshake timeout).
async fn classify(
    tcp: tokio::net::TcpStream,
    addr: SocketAddr,
    tls: Option<tokio_rustls::TlsAcceptor>,
    limits: &DoorLimits,
) -> Option<(MaybeTls, PeerInfo)> {
    let mut first = [0u8; 1];
    let n = tokio::time::timeout(limits.header_read_timeout, tcp.peek(&mut first)).await.ok()?.ok()?;
    if n == 0 {
        return None;
    }
    match tls {
        Some(acceptor) if first[0] == TLS_HANDSHAKE_RECORD => {
            match tokio::time::timeout(limits.tls_handshake_timeout, acceptor.accept(tcp)).await {
                Ok(Ok(stream)) => Some((MaybeTls::Tls(Box::new(stream)), PeerInfo { addr, tls: true })),
                Ok(Err(e)) => {
                    tracing::debug!(peer = %addr, error = %e, "TLS handshake failed");
                    None
                }
                Err(_) => None,
            }
        }
        _ => Some((MaybeTls::Plain(tcp), PeerInfo { addr, tls: false })),
    }
}

/// A served connection: plain TCP or TLS over TCP.
#[derive(Debug)]
pub enum MaybeTls {
    Plain(tokio::net::TcpStream),
    Tls(Box<tokio_rustls::server::TlsStream<tokio::net::TcpStream>>),
}

impl tokio::io::AsyncRead for MaybeTls {
    fn poll_read(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        match self.get_mut() {
            MaybeTls::Plain(s) => std::pin::Pin::new(s).poll_read(cx, buf),
            MaybeTls::Tls(s) => std::pin::Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl tokio::io::AsyncWrite for MaybeTls {
    fn poll_write(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        match self.get_mut() {
            MaybeTls::Plain(s) => std::pin::Pin::new(s).poll_write(cx, buf),
            MaybeTls::Tls(s) => std::pin::Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> std::task::Poll<std::io::Result<usize>> {
        match self.get_mut() {
            MaybeTls::Plain(s) => std::pin::Pin::new(s).poll_write_vectored(cx, bufs),
            MaybeTls::Tls(s) => std::pin::Pin::new(s.as_mut()).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            MaybeTls::Plain(s) => s.is_write_vectored(),
            MaybeTls::Tls(s) => s.is_write_vectored(),
        }
    }

    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        match self.get_mut() {
            MaybeTls::Plain(s) => std::pin::Pin::new(s).poll_flush(cx),
            MaybeTls::Tls(s) => std::pin::Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        match self.get_mut() {
            MaybeTls::Plain(s) => std::pin::Pin::new(s).poll_shutdown(cx),
            MaybeTls::Tls(s) => std::pin::Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

/// Prometheus text exposition format 0.0.4.
const PROMETHEUS_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

async fn metrics(State(s): State<OpsState>) -> Response {
    // The record count gauge is kept by the maintenance task (recounted in
    // the background when the change log moved); a scrape only renders.
    ([(header::CONTENT_TYPE, PROMETHEUS_CONTENT_TYPE)], crate::telemetry::render(&s.metrics)).into_response()
}

async fn healthz() -> &'static str {
    "ok\n"
}

async fn readyz(State(ready): State<Readiness>) -> (StatusCode, &'static str) {
    if ready.is_ready() { (StatusCode::OK, "ready\n") } else { (StatusCode::SERVICE_UNAVAILABLE, "not ready\n") }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::Request;
    use metrics_exporter_prometheus::PrometheusBuilder;
    use tower::ServiceExt;

    fn state() -> OpsState {
        OpsState { metrics: PrometheusBuilder::new().build_recorder().handle(), ready: Readiness::default() }
    }

    async fn get_path(app: &Router, path: &str) -> (StatusCode, String) {
        let resp = app.clone().oneshot(Request::get(path).body(Body::empty()).unwrap()).await.unwrap();
        let status = resp.status();
        let body = axum::body::to_bytes(resp.into_body(), 1 << 20).await.unwrap();
        (status, String::from_utf8(body.to_vec()).unwrap())
    }

    #[tokio::test]
    async fn health_ready_and_metrics() {
        let st = state();
        let ready = st.ready.clone();
        let app = router(st);

        assert_eq!(get_path(&app, "/healthz").await.0, StatusCode::OK);
        assert_eq!(get_path(&app, "/readyz").await.0, StatusCode::SERVICE_UNAVAILABLE);
        ready.set(true);
        assert_eq!(get_path(&app, "/readyz").await.0, StatusCode::OK);

        let resp = app.clone().oneshot(Request::get("/metrics").body(Body::empty()).unwrap()).await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        assert_eq!(resp.headers()[header::CONTENT_TYPE], PROMETHEUS_CONTENT_TYPE);
        assert_eq!(get_path(&app, "/nope").await.0, StatusCode::NOT_FOUND);
    }
}
