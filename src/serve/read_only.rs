//! The HTTP side of the mirror role: a mirror refuses every request that
//! could write (any method but GET / HEAD / OPTIONS, except logging in)
//! with 403 and a JSON error naming the primary, before any handler runs.
//! (The Handle doors refuse writes in the engine: RC 7.)

use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::config::{Config, Role};

/// POST paths that do not write records (log-ins, counter persistence).
const ALLOWED_POSTS: [&str; 3] = ["/identity/token", "/api/sessions", "/admin/v1/stats/persist"];

/// Wraps `router` with the refusal when this node is a mirror.
pub fn guard(router: Router, cfg: &Config) -> Router {
    if cfg.node.role != Role::Mirror {
        return router;
    }
    let primary: Arc<str> = Arc::from(cfg.mirror.primary.as_str());
    router.layer(axum::middleware::from_fn_with_state(primary, refuse_writes))
}

async fn refuse_writes(State(primary): State<Arc<str>>, req: Request, next: Next) -> Response {
    let m = req.method();
    let reads = m == Method::GET || m == Method::HEAD || m == Method::OPTIONS;
    if reads || (m == Method::POST && ALLOWED_POSTS.iter().any(|p| req.uri().path().starts_with(p))) {
        return next.run(req).await;
    }
    let message = format!("this node is a read-only mirror; send writes to its primary {primary}");
    let body = serde_json::json!({"responseCode": 7, "code": 7, "message": message, "primary": &*primary});
    (StatusCode::FORBIDDEN, axum::Json(body)).into_response()
}
