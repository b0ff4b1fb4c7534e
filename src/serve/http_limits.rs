//! The request-level limits every HTTP door's router runs under, all from
//! `tower` / `tower-http` layers (`[http.limits]`):
//!
//! | layer | defends against |
//! |---|---|
//! | `SetRequestId` / `PropagateRequestId` (`x-request-id`) | nothing: ties a client's report to the log line |
//! | `CatchPanic` | a handler bug taking the connection down: a JSON 500 instead |
//! | JSON errors ([`crate::api::errors`]) | clients that decode every error as JSON (b2handle) |
//! | `LoadShed` + `GlobalConcurrencyLimit` | request floods: beyond `max_concurrent_requests` a JSON 503 at once |
//! | `Timeout` | handlers stuck on a slow store: a JSON 408 after `request_timeout_ms` |
//! | `RequestBodyDeadline` | slow-body uploads holding a handler: the body must arrive within `body_read_timeout_ms` |
//!
//! Body size limits are per route (ordinary routes `max_body_bytes`, batch
//! routes `limits.http_max_body_bytes`), applied by each API's router.
//! Connection-level limits (header timeout, TLS handshake, connection caps)
//! are in [`super::http::run`].

use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::error_handling::HandleErrorLayer;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use tower::ServiceBuilder;
use tower::limit::GlobalConcurrencyLimitLayer;
use tower::load_shed::LoadShedLayer;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::map_request_body::MapRequestBodyLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::timeout::{RequestBodyDeadlineLayer, TimeoutLayer};

use crate::api::errors::{self, Shapes};
use crate::config::HttpLimits;

/// `app` with the JSON fallback for unknown paths and every request-level
/// limit of `limits` applied.
pub fn harden(app: Router, limits: &HttpLimits, shapes: Shapes) -> Router {
    let fallback_shapes = shapes.clone();
    let app = app.fallback(move |req: Request| {
        let shapes = fallback_shapes.clone();
        async move { errors::not_found(State(shapes), req).await }
    });
    // Layers below the JSON-errors one answer in plain text; it turns the
    // text into the JSON of the API the path belongs to.
    app.layer(
        ServiceBuilder::new()
            .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
            .layer(PropagateRequestIdLayer::x_request_id())
            .layer(axum::middleware::from_fn_with_state(shapes, errors::json_errors))
            .layer(CatchPanicLayer::custom(panicked))
            .layer(HandleErrorLayer::new(|_: tower::BoxError| async {
                (StatusCode::SERVICE_UNAVAILABLE, "the node is busy (too many requests in progress); retry shortly")
            }))
            .layer(LoadShedLayer::new())
            .layer(GlobalConcurrencyLimitLayer::new(limits.max_concurrent_requests as usize))
            .layer(TimeoutLayer::with_status_code(
                StatusCode::REQUEST_TIMEOUT,
                Duration::from_millis(limits.request_timeout_ms),
            ))
            .layer(RequestBodyDeadlineLayer::new(Duration::from_millis(limits.body_read_timeout_ms)))
            .layer(MapRequestBodyLayer::new(Body::new)),
    )
}

/// A handler panicked: 500 (the panic message stays in the log).
fn panicked(err: Box<dyn std::any::Any + Send + 'static>) -> Response {
    let what = err
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| err.downcast_ref::<&str>().copied())
        .unwrap_or("unknown");
    tracing::error!(panic = %what, "HTTP handler panicked");
    (StatusCode::INTERNAL_SERVER_ERROR, "internal error (see the node's log)").into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::{HeaderValue, header};
    use axum::routing::{get, post};
    use idnode_registry::store::{SledStore, Store};
    use std::sync::Arc;
    use tower::ServiceExt;

    fn shapes() -> Shapes {
        Shapes::new(&crate::config::Config::default())
    }

    async fn send(
        app: &Router,
        req: axum::http::Request<Body>,
    ) -> (StatusCode, axum::http::HeaderMap, serde_json::Value) {
        let resp = app.clone().oneshot(req).await.unwrap();
        let (status, headers) = (resp.status(), resp.headers().clone());
        let body = axum::body::to_bytes(resp.into_body(), 1 << 20).await.unwrap();
        let v = serde_json::from_slice(&body).unwrap_or_else(|e| panic!("{status}: not JSON ({e}): {body:?}"));
        (status, headers, v)
    }

    fn get_req(path: &str) -> axum::http::Request<Body> {
        axum::http::Request::get(path).body(Body::empty()).unwrap()
    }

    async fn boom() -> &'static str {
        panic!("handler bug")
    }

    #[tokio::test]
    async fn every_error_is_json_with_a_request_id() {
        let limits = HttpLimits { request_timeout_ms: 200, ..HttpLimits::default() };
        let app = Router::new()
            .route("/ok", get(|| async { "fine" }))
            .route("/slow", get(|| async { tokio::time::sleep(Duration::from_secs(5)).await }))
            .route("/json", post(|axum::Json(v): axum::Json<serde_json::Value>| async move { axum::Json(v) }))
            .route("/boom", get(boom));
        let app = harden(app, &limits, shapes());

        let resp = app.clone().oneshot(get_req("/ok")).await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        assert!(resp.headers().get("x-request-id").is_some(), "a request id is generated");
        let mut req = get_req("/ok");
        req.headers_mut().insert("x-request-id", HeaderValue::from_static("client-42"));
        let resp = app.clone().oneshot(req).await.unwrap();
        assert_eq!(resp.headers()["x-request-id"], "client-42", "a client's id is echoed");

        let (st, h, v) = send(&app, get_req("/nowhere")).await;
        assert_eq!((st, v["error"]["code"].as_str()), (StatusCode::NOT_FOUND, Some("not_found")));
        assert!(h.get("x-request-id").is_some());
        let (st, _, v) = send(&app, axum::http::Request::delete("/ok").body(Body::empty()).unwrap()).await;
        assert_eq!((st, v["error"]["code"].as_str()), (StatusCode::METHOD_NOT_ALLOWED, Some("method_not_allowed")));
        let (st, _, v) = send(&app, get_req("/slow")).await;
        assert_eq!((st, v["error"]["code"].as_str()), (StatusCode::REQUEST_TIMEOUT, Some("timeout")));
        let (st, _, v) = send(&app, get_req("/boom")).await;
        assert_eq!((st, v["error"]["code"].as_str()), (StatusCode::INTERNAL_SERVER_ERROR, Some("internal")));
        // axum's JSON extractor rejections: wrong content type, malformed JSON.
        let req = axum::http::Request::post("/json").header(header::CONTENT_TYPE, "text/plain").body(Body::from("{}"));
        let (st, _, v) = send(&app, req.unwrap()).await;
        assert_eq!(st, StatusCode::UNSUPPORTED_MEDIA_TYPE);
        assert!(v["error"]["message"].as_str().unwrap().contains("Content-Type"), "{v}");
        let req =
            axum::http::Request::post("/json").header(header::CONTENT_TYPE, "application/json").body(Body::from("{"));
        let (st, _, v) = send(&app, req.unwrap()).await;
        assert!(st.is_client_error(), "{st}");
        assert!(v["error"]["message"].is_string(), "{v}");
    }

    #[tokio::test]
    async fn overload_is_a_json_503() {
        let limits = HttpLimits { max_concurrent_requests: 1, ..HttpLimits::default() };
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let rx = Arc::new(tokio::sync::Mutex::new(Some(rx)));
        let app = Router::new().route(
            "/hold",
            get(move || {
                let rx = rx.clone();
                async move {
                    if let Some(rx) = rx.lock().await.take() {
                        let _ = rx.await;
                    }
                    "released"
                }
            }),
        );
        let app = harden(app, &limits, shapes());
        let first = tokio::spawn(app.clone().oneshot(get_req("/hold")));
        tokio::time::sleep(Duration::from_millis(100)).await;
        let (st, _, v) = send(&app, get_req("/hold")).await;
        assert_eq!((st, v["error"]["code"].as_str()), (StatusCode::SERVICE_UNAVAILABLE, Some("overloaded")));
        tx.send(()).unwrap();
        assert_eq!(first.await.unwrap().unwrap().status(), StatusCode::OK);
    }

    #[tokio::test]
    async fn the_public_door_has_no_admin_api_and_no_metrics() {
        let dir = tempfile::tempdir().unwrap();
        let mut cfg = crate::config::Config::default();
        cfg.node.data_dir = dir.path().to_owned();
        let store: Arc<dyn Store> = Arc::new(SledStore::open_path(dir.path().join("store")).unwrap());
        let deps = crate::api::ApiDeps::new(store, Arc::new(cfg.clone()));
        let public = harden(
            super::super::http::probes(Default::default()).merge(crate::api::router(deps.clone())),
            &cfg.http.limits,
            shapes(),
        );
        for path in ["/admin/v1/status", "/admin/v1/records/88.118.8/x", "/metrics"] {
            let mut req = get_req(path);
            req.headers_mut().insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer anything"));
            let (st, _, v) = send(&public, req).await;
            assert_eq!((st, v["error"]["code"].as_str()), (StatusCode::NOT_FOUND, Some("not_found")), "{path}");
        }
        // The admin door has them (refused without a known channel: the route exists).
        let admin = harden(crate::api::admin::router(deps), &cfg.http.limits, shapes());
        let (st, _, v) = send(&admin, get_req("/admin/v1/status")).await;
        assert_eq!((st, v["error"]["code"].as_str()), (StatusCode::FORBIDDEN, Some("insecure_channel")));
    }
}
