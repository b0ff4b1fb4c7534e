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
