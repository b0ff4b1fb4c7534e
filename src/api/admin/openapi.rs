//! `GET /openapi.json`: the OpenAPI 3.1 document of every HTTP API of the
//! node (Handle REST, SNMS, admin, operational endpoints). The document is
//! the committed file `docs/openapi.json`, compiled in; a test checks that
//! every admin route is described in it.

use axum::Router;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

/// The document, as committed.
pub const DOCUMENT: &str = include_str!("../../../docs/openapi.json");

/// The route serving [`DOCUMENT`] (no authentication).
pub fn router() -> Router {
    Router::new().route("/openapi.json", get(serve))
}

async fn serve() -> Response {
    let mut r = DOCUMENT.into_response();
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    r
}
