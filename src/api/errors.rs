//! JSON bodies on every HTTP error, whichever layer produced it: the
//! fallback for unknown paths, axum's method and extractor rejections
//! (405, 415, 422), the door's limits (408 timeouts, 413 bodies, 503
//! overload) and panics (500). Handlers that build their own JSON errors
//! are left alone; anything else with a 4xx/5xx status and a non-JSON body
//! gets the JSON of the API its path belongs to, naming the problem:
//!
//! * `/api/...` (Handle REST): `{"responseCode": 4, "message": ...}`
//!   (RC_PROTOCOL_ERROR; 2, RC_ERROR, for 5xx) — b2handle and pyhandle
//!   decode every 404 as JSON;
//! * SNMS paths (`/identity...`, `/identityv2/...`, `/snms/...`, under
//!   `snms.base_path`): the envelope `{"message", "status": -2, "data": null}`;
//! * everything else (admin API, operational endpoints, unknown paths):
//!   `{"error": {"code", "message", "field": null}}`.
//!
//! The status code and other headers are kept. No I/O besides reading the
//! (bounded) text body being replaced.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// Longest original error text carried into the JSON message.
const MAX_MESSAGE: usize = 300;

/// Which API's error shape a path gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    Rest,
    Snms,
    Other,
}

/// Decides the family of a path; cheap to clone.
#[derive(Debug, Clone)]
pub struct Shapes {
    snms_base: Arc<str>,
    snms_enabled: bool,
}

impl Shapes {
    pub fn new(cfg: &crate::config::Config) -> Self {
        Shapes { snms_base: Arc::from(cfg.snms.base_path.as_str()), snms_enabled: cfg.snms.enabled }
    }

    pub fn family(&self, path: &str) -> Family {
        if path == "/api" || path.starts_with("/api/") {
            return Family::Rest;
        }
        if self.snms_enabled {
            let rest = if self.snms_base.is_empty() { Some(path) } else { path.strip_prefix(&*self.snms_base) };
            if let Some(p) = rest
                && ["/identity", "/identityv2/", "/snms/"].iter().any(|s| p.starts_with(s))
            {
                return Family::Snms;
            }
        }
        Family::Other
    }
}

/// A short machine code for a status.
fn code_of(status: StatusCode) -> &'static str {
    match status {
        StatusCode::NOT_FOUND => "not_found",
        StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
        StatusCode::PAYLOAD_TOO_LARGE => "too_large",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        StatusCode::REQUEST_TIMEOUT => "timeout",
        StatusCode::TOO_MANY_REQUESTS => "rate_limited",
        StatusCode::SERVICE_UNAVAILABLE => "overloaded",
        StatusCode::UNPROCESSABLE_ENTITY | StatusCode::BAD_REQUEST => "invalid",
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE => "headers_too_large",
        s if s.is_server_error() => "internal",
        _ => "http_error",
    }
}

/// The default wording of a status whose answer had no text.
fn default_message(status: StatusCode) -> String {
    match status {
        StatusCode::NOT_FOUND => "no such endpoint".to_owned(),
        StatusCode::METHOD_NOT_ALLOWED => "this endpoint does not take this method".to_owned(),
        StatusCode::PAYLOAD_TOO_LARGE => "request body over this endpoint's limit".to_owned(),
        StatusCode::REQUEST_TIMEOUT => "the request was not completed in time".to_owned(),
        StatusCode::SERVICE_UNAVAILABLE => "the node is busy; retry shortly".to_owned(),
        s => s.canonical_reason().unwrap_or("error").to_owned(),
    }
}

/// The JSON error body of `family`.
pub fn body(family: Family, status: StatusCode, message: &str) -> serde_json::Value {
    match family {
        Family::Rest => {
            let rc = if status.is_server_error() { 2 } else { 4 };
            json!({"responseCode": rc, "message": message})
        }
        Family::Snms => json!({"message": message, "status": -2, "data": null}),
        Family::Other => json!({"error": {"code": code_of(status), "message": message, "field": null}}),
    }
}

/// A JSON error response of `family`.
pub fn response(family: Family, status: StatusCode, message: &str) -> Response {
    let mut r = (status, body(family, status, message).to_string()).into_response();
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    r
}

fn is_json(r: &Response) -> bool {
    r.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|ct| {
        let mime = ct.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
        // text/html: the error pages of src/web (browsers asked for HTML).
        mime.ends_with("/json") || mime.ends_with("+json") || mime == "application/javascript" || mime == "text/html"
    })
}

/// HTML pages (console, portal) keep their own error pages.
fn is_html(r: &Response) -> bool {
    r.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|ct| ct.starts_with("text/html"))
}

/// Middleware: gives every error answer a JSON body (see the module docs).
pub async fn json_errors(State(shapes): State<Shapes>, req: Request, next: Next) -> Response {
    let family = shapes.family(req.uri().path());
    let resp = next.run(req).await;
    let status = resp.status();
    if !(status.is_client_error() || status.is_server_error()) || is_json(&resp) || is_html(&resp) {
        return resp;
    }
    let (mut parts, old) = resp.into_parts();
    let text = axum::body::to_bytes(old, 4 * MAX_MESSAGE).await.unwrap_or_default();
    let text = String::from_utf8_lossy(&text);
    let text = text.trim();
    // tower-http's 413 says "length limit exceeded": say which limit.
    let message = if text.is_empty() || (status == StatusCode::PAYLOAD_TOO_LARGE && text == "length limit exceeded") {
        default_message(status)
    } else {
        let mut m: String = text.chars().take(MAX_MESSAGE).collect();
        if m.len() < text.len() {
            m.push('…');
        }
        m
    };
    parts.headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(body(family, status, &message).to_string()))
}

/// The fallback of the doors: an unknown path.
pub async fn not_found(State(shapes): State<Shapes>, req: Request) -> Response {
    let path: String = req.uri().path().chars().take(200).collect();
    response(shapes.family(req.uri().path()), StatusCode::NOT_FOUND, &format!("no such endpoint: {path}"))
}

/// Why reading a request body failed, as a status and a message: over the
/// route's limit (413), not arriving in time (408), or broken (400).
pub fn body_failure(e: &axum::Error, limit: usize) -> (StatusCode, String) {
    let mut src: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = src {
        if err.is::<http_body_util::LengthLimitError>() {
            return (StatusCode::PAYLOAD_TOO_LARGE, format!("request body over {limit} bytes"));
        }
        if err.is::<tower_http::timeout::TimeoutError>() {
            return (StatusCode::REQUEST_TIMEOUT, "the request body did not arrive in time".to_owned());
        }
        src = err.source();
    }
    (StatusCode::BAD_REQUEST, format!("reading the request body failed: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families() {
        let mut cfg = crate::config::Config::default();
        let s = Shapes::new(&cfg);
        assert_eq!(s.family("/api/handles/x"), Family::Rest);
        assert_eq!(s.family("/identity/token"), Family::Snms);
        assert_eq!(s.family("/snms/api/v5/template"), Family::Snms);
        assert_eq!(s.family("/admin/v1/x"), Family::Other);
        assert_eq!(s.family("/nope"), Family::Other);
        cfg.snms.base_path = "/snmsapi".into();
        let s = Shapes::new(&cfg);
        assert_eq!(s.family("/snmsapi/identity/token"), Family::Snms);
        assert_eq!(s.family("/identity/token"), Family::Other);
    }
}
