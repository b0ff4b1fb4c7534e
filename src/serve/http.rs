//! The HTTP door's base router and server loop: `/metrics` (Prometheus
//! text), `/healthz` (200 while the process runs), `/readyz` (200 once the
//! store is open and every listener is bound, 503 before and while
//! draining).
//!
//! Other HTTP APIs (Handle REST, SNMS, admin) are separate routers merged
//! into [`router`]'s result by the caller; this module owns only the
//! operational endpoints and the request-body limit. Handlers here never
//! touch an identifier or a secret.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

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
        f.debug_struct("OpsState")
            .field("ready", &self.ready.is_ready())
            .finish_non_exhaustive()
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
/// requests finish (the caller bounds the wait).
pub async fn run(
    listener: tokio::net::TcpListener,
    app: Router,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown.cancelled_owned())
        .await
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
    (
        [(header::CONTENT_TYPE, PROMETHEUS_CONTENT_TYPE)],
        s.metrics.render(),
    )
        .into_response()
}

async fn healthz() -> &'static str {
    "ok\n"
}

async fn readyz(State(s): State<OpsState>) -> (StatusCode, &'static str) {
    if s.ready.is_ready() {
        (StatusCode::OK, "ready\n")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "not ready\n")
    }
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
        OpsState {
            metrics: PrometheusBuilder::new().build_recorder().handle(),
            ready: Readiness::default(),
            store,
        }
    }

    async fn get_path(app: &Router, path: &str) -> (StatusCode, String) {
        let resp = app
            .clone()
            .oneshot(Request::get(path).body(Body::empty()).unwrap())
            .await
            .unwrap();
        let status = resp.status();
        let body = axum::body::to_bytes(resp.into_body(), 1 << 20)
            .await
            .unwrap();
        (status, String::from_utf8(body.to_vec()).unwrap())
    }

    #[tokio::test]
    async fn health_ready_and_metrics() {
        let dir = tempfile::tempdir().unwrap();
        let st = state(dir.path());
        let ready = st.ready.clone();
        let app = router(st, 1024);

        assert_eq!(get_path(&app, "/healthz").await.0, StatusCode::OK);
        assert_eq!(
            get_path(&app, "/readyz").await.0,
            StatusCode::SERVICE_UNAVAILABLE
        );
        ready.set(true);
        assert_eq!(get_path(&app, "/readyz").await.0, StatusCode::OK);

        let resp = app
            .clone()
            .oneshot(Request::get("/metrics").body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        assert_eq!(
            resp.headers()[header::CONTENT_TYPE],
            PROMETHEUS_CONTENT_TYPE
        );
        assert_eq!(get_path(&app, "/nope").await.0, StatusCode::NOT_FOUND);
    }
}
