//! The HTTP door's base router and server loop: `/metrics` (Prometheus
//! text), `/healthz` (200 while the process runs), `/readyz` (200 once the
//! store is open and every listener is bound, 503 before and while
//! draining).
//!
//! Other HTTP APIs (Handle REST, SNMS, admin) are separate routers merged
//! into [`router`]'s result by the caller; this module owns only the
//! operational endpoints and the request-body limit. Handlers here never
//! touch an identifier or a secret.
//!
//! [`run`] serves HTTP and HTTPS on the same port (CNRI "port
//! unification"): an acceptor task peeks at each new connection's first
//! byte — 0x16, a TLS handshake record, means TLS — runs the TLS handshake
//! off the accept loop (bounded in time and in number), and hands finished
//! connections to axum. Every request carries [`PeerInfo`] (client address,
//! TLS or not) as `ConnectInfo`, which the APIs use to refuse credentials on
//! plain HTTP.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use idnode_registry::store::Store;
use metrics_exporter_prometheus::PrometheusHandle;
use tokio_util::sync::CancellationToken;

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
    pub store: Arc<dyn Store>,
}

impl std::fmt::Debug for OpsState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpsState").field("ready", &self.ready.is_ready()).finish_non_exhaustive()
    }
}

/// The operational routes with a body limit of `max_body` bytes.
pub fn router(state: OpsState, max_body: usize) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .with_state(state)
        .layer(DefaultBodyLimit::max(max_body))
}

/// Serves `app` on `listener` until `shutdown` fires, then lets in-flight
/// requests finish (the caller bounds the wait). With `tls`, connections
/// that start with a TLS handshake are served over TLS, the others as plain
/// HTTP, on the same port.
pub async fn run(
    listener: tokio::net::TcpListener,
    app: Router,
    tls: Option<Arc<rustls::ServerConfig>>,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let local = listener.local_addr()?;
    let (tx, rx) = tokio::sync::mpsc::channel(READY_QUEUE);
    let acceptor =
        tokio::spawn(accept_loop(listener, tls.map(tokio_rustls::TlsAcceptor::from), tx, shutdown.child_token()));
    let unified = Unified { rx, local };
    let served = axum::serve(unified, app.into_make_service_with_connect_info::<PeerInfo>())
        .with_graceful_shutdown(shutdown.cancelled_owned())
        .await;
    acceptor.abort();
    served
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

impl axum::extract::connect_info::Connected<axum::serve::IncomingStream<'_, Unified>> for PeerInfo {
    fn connect_info(stream: axum::serve::IncomingStream<'_, Unified>) -> Self {
        *stream.remote_addr()
    }
}

/// Connections whose protocol is known, waiting for axum to take them.
const READY_QUEUE: usize = 256;
/// Most connections in the peek / TLS handshake phase at once; more are
/// closed at once (a slow-handshake flood cannot hold unbounded sockets).
const MAX_PENDING_HANDSHAKES: usize = 1024;
/// A client must send its first byte within this time.
const FIRST_BYTE_TIMEOUT: Duration = Duration::from_secs(10);
/// And finish the TLS handshake within this time.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// First byte of a TLS record carrying a handshake (ClientHello).
const TLS_HANDSHAKE_RECORD: u8 = 0x16;

/// The axum side of the unified door: connections ready to serve.
#[derive(Debug)]
pub struct Unified {
    rx: tokio::sync::mpsc::Receiver<(MaybeTls, PeerInfo)>,
    local: SocketAddr,
}

impl axum::serve::Listener for Unified {
    type Io = MaybeTls;
    type Addr = PeerInfo;

    async fn accept(&mut self) -> (MaybeTls, PeerInfo) {
        match self.rx.recv().await {
            Some(conn) => conn,
            // The acceptor stopped (shutdown): nothing more will come.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<PeerInfo> {
        Ok(PeerInfo { addr: self.local, tls: false })
    }
}

async fn accept_loop(
    listener: tokio::net::TcpListener,
    tls: Option<tokio_rustls::TlsAcceptor>,
    ready: tokio::sync::mpsc::Sender<(MaybeTls, PeerInfo)>,
    shutdown: CancellationToken,
) {
    let pending = Arc::new(tokio::sync::Semaphore::new(MAX_PENDING_HANDSHAKES));
    loop {
        let (tcp, addr) = tokio::select! {
            _ = shutdown.cancelled() => return,
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
        let Ok(permit) = pending.clone().try_acquire_owned() else {
            metrics::counter!(names::TCP_REFUSED, "door" => crate::telemetry::door::HTTP).increment(1);
            continue;
        };
        let _ = tcp.set_nodelay(true);
        let (tls, ready) = (tls.clone(), ready.clone());
        tokio::spawn(async move {
            let conn = classify(tcp, addr, tls).await;
            drop(permit);
            if let Some(conn) = conn {
                let _ = ready.send(conn).await;
            }
        });
    }
}

/// Peeks at the first byte; runs the TLS handshake when it starts one.
async fn classify(
    tcp: tokio::net::TcpStream,
    addr: SocketAddr,
    tls: Option<tokio_rustls::TlsAcceptor>,
) -> Option<(MaybeTls, PeerInfo)> {
    let mut first = [0u8; 1];
    let n = tokio::time::timeout(FIRST_BYTE_TIMEOUT, tcp.peek(&mut first)).await.ok()?.ok()?;
    if n == 0 {
        return None;
    }
    match tls {
        Some(acceptor) if first[0] == TLS_HANDSHAKE_RECORD => {
            match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
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
    // The record count is O(n) in sled; computing it per scrape (every
    // 15-60 s) keeps the request path free of it.
    let store = s.store.clone();
    match tokio::task::spawn_blocking(move || store.count_records(None)).await {
        Ok(Ok(n)) => metrics::gauge!(names::STORE_RECORDS).set(n as f64),
        Ok(Err(e)) => tracing::warn!(error = %e, "counting store records for /metrics failed"),
        Err(e) => tracing::warn!(error = %e, "counting store records for /metrics panicked"),
    }
    ([(header::CONTENT_TYPE, PROMETHEUS_CONTENT_TYPE)], s.metrics.render()).into_response()
}

async fn healthz() -> &'static str {
    "ok\n"
}

async fn readyz(State(s): State<OpsState>) -> (StatusCode, &'static str) {
    if s.ready.is_ready() { (StatusCode::OK, "ready\n") } else { (StatusCode::SERVICE_UNAVAILABLE, "not ready\n") }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::Request;
    use idnode_registry::store::SledStore;
    use metrics_exporter_prometheus::PrometheusBuilder;
    use tower::ServiceExt;

    fn state(dir: &std::path::Path) -> OpsState {
        let store: Arc<dyn Store> = Arc::new(SledStore::open_path(dir.join("store")).unwrap());
        OpsState { metrics: PrometheusBuilder::new().build_recorder().handle(), ready: Readiness::default(), store }
    }

    async fn get_path(app: &Router, path: &str) -> (StatusCode, String) {
        let resp = app.clone().oneshot(Request::get(path).body(Body::empty()).unwrap()).await.unwrap();
        let status = resp.status();
        let body = axum::body::to_bytes(resp.into_body(), 1 << 20).await.unwrap();
        (status, String::from_utf8(body.to_vec()).unwrap())
    }

    #[tokio::test]
    async fn health_ready_and_metrics() {
        let dir = tempfile::tempdir().unwrap();
        let st = state(dir.path());
        let ready = st.ready.clone();
        let app = router(st, 1024);

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
