//! HTML pages and the traceability APIs on the public HTTP door (issue 12).
//!
//! * `GET /` — a small home page with a look-up form (`/_lookup?id=`).
//! * `GET /{identifier}` — the scan landing page: a browser (Accept:
//!   text/html) gets [`templates::landing`]; other clients get the same view
//!   as JSON ([`view::Landing`]); unknown identifiers get a 404 page (or JSON
//!   404). Identifiers under `[web] redirect_prefixes` with a public URL
//!   value redirect to it unless `?noredirect` is given.
//! * `GET /api/trace/{identifier}` — the chain query ([`trace_api`]), as a
//!   graph or (`format=epcis`) as an EPCIS 2.0 document ([`epcis`]).
//! * `GET /api/label/{identifier}?format=svg|png` — a printable QR label
//!   ([`label`]).
//! * `GET /01/{gtin}[/10/{lot}][/21/{serial}]` — GS1 Digital Link
//!   ([`digital_link`]): the identifier bound to that GS1 key, answered
//!   like its landing page.
//! * `GET /_static/idnode.css` — the only stylesheet (no CDN, no fonts).
//!
//! Every page is built from a view struct ([`view`]) and a compile-checked
//! maud template ([`templates`]); no business logic in templates. Every
//! HTML answer carries a strict Content-Security-Policy without script:
//! values are escaped by maud and no script can run, even a stored one.

pub mod digital_link;
pub mod epcis;
pub mod label;
pub mod templates;
pub mod trace_api;
pub mod view;

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::api::ApiDeps;

/// The Content-Security-Policy of every page: nothing but our own
/// stylesheet and inline SVG / data images; no script at all.
pub const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

/// The stylesheet, compiled into the binary.
const CSS: &str = include_str!("templates/idnode.css");

/// The public door's page routes (empty when `[web] pages = false`),
/// including [`api_router`].
pub fn router(deps: ApiDeps) -> Router {
    if !deps.cfg.web.pages {
        return Router::new();
    }
    let st = Arc::new(deps.clone());
    Router::new()
        .route("/", get(home))
        .route("/_static/idnode.css", get(css))
        .route("/_lookup", get(lookup))
        .route("/01/{*rest}", get(digital_link::resolve))
        .route("/{*identifier}", get(landing))
        .with_state(st)
        .merge(api_router(deps))
}

/// `/api/trace/...` and `/api/label/...` (also on the admin door, where the
/// CLI's `idnode trace` and `idnode label` reach them).
pub fn api_router(deps: ApiDeps) -> Router {
    let st = Arc::new(deps);
    Router::new()
        .route("/api/trace/{*identifier}", get(trace_api::trace))
        .route("/api/label/{*identifier}", get(label::label))
        .with_state(st)
}

pub(crate) type Deps = Arc<ApiDeps>;

/// An HTML answer with the page headers.
pub(crate) fn html(status: StatusCode, body: maud::Markup) -> Response {
    let mut r = (status, body.into_string()).into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    h.insert(header::VARY, HeaderValue::from_static("Accept"));
    r
}

/// A JSON answer.
pub(crate) fn json(status: StatusCode, v: &serde_json::Value) -> Response {
    json_body(status, v.to_string())
}

/// A JSON answer already serialised.
pub(crate) fn json_body(status: StatusCode, body: String) -> Response {
    let mut r = (status, body).into_response();
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    r.headers_mut().insert(header::VARY, HeaderValue::from_static("Accept"));
    r
}

/// Whether the client prefers HTML (a browser).
pub(crate) fn wants_html(headers: &HeaderMap) -> bool {
    headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).is_some_and(|a| a.contains("text/html"))
}

/// The base URL pages and labels print: `[web] public_base_url`, else
/// scheme (TLS or not) and Host of the request.
pub(crate) fn base_url(deps: &ApiDeps, headers: &HeaderMap, tls: bool) -> String {
    if !deps.cfg.web.public_base_url.is_empty() {
        return deps.cfg.web.public_base_url.trim_end_matches('/').to_owned();
    }
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .filter(|h| h.bytes().all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b)))
        .unwrap_or("localhost");
    format!("{}://{host}", if tls { "https" } else { "http" })
}

/// Characters escaped in an identifier placed in a URL path (`/` kept).
const PATH: &percent_encoding::AsciiSet = &percent_encoding::CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'`')
    .add(b'{')
    .add(b'}')
    .add(b'\\')
    .add(b'^')
    .add(b'|')
    .add(b'[')
    .add(b']')
    .add(b'\'');

/// The path of an identifier's landing page (`/88.1/LOT%20A`).
pub fn page_path(identifier: &str) -> String {
    format!("/{}", percent_encoding::utf8_percent_encode(identifier, PATH))
}

/// Whether the connection is TLS (set by the HTTP door).
pub(crate) fn is_tls(ext: &axum::http::Extensions) -> bool {
    ext.get::<axum::extract::ConnectInfo<crate::serve::http::PeerInfo>>().is_some_and(|c| c.0.tls)
}

async fn css() -> Response {
    let mut r = CSS.into_response();
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/css; charset=utf-8"));
    r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=3600"));
    r
}

async fn home(State(deps): State<Deps>) -> Response {
    html(StatusCode::OK, templates::home(&view::Home::new(&deps)))
}

/// The home page's form: `/_lookup?id=X` -> 303 to `/X`.
async fn lookup(uri: Uri) -> Response {
    let id = crate::api::query_pairs(&uri).into_iter().find(|(k, _)| k == "id").map(|(_, v)| v).unwrap_or_default();
    let id = id.trim();
    let to = if id.is_empty() { "/".to_owned() } else { page_path(id) };
    let mut r = StatusCode::SEE_OTHER.into_response();
    if let Ok(v) = HeaderValue::from_str(&to) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    r
}

async fn landing(
    State(deps): State<Deps>,
    Path(identifier): Path<String>,
    uri: Uri,
    headers: HeaderMap,
    req: axum::extract::Request,
) -> Response {
    let noredirect = crate::api::query_pairs(&uri).iter().any(|(k, _)| k == "noredirect");
    let base = base_url(&deps, &headers, is_tls(req.extensions()));
    answer(&deps, identifier, noredirect, &base, wants_html(&headers)).await
}

/// The landing answer for `identifier` (page, JSON, redirect or 404).
pub(crate) async fn answer(
    deps: &Deps,
    identifier: String,
    noredirect: bool,
    base: &str,
    html_wanted: bool,
) -> Response {
    // Inline like the REST door's resolution: every read here is a point
    // read or a short range read of the store (memory speed); a thread
    // hand-off per page cost more than the page's reads.
    let landing = match view::Landing::build(deps, &identifier, base, crate::unix_now()) {
        Ok(l) => l,
        Err(view::LandingError::BadIdentifier(why)) => {
            let nf = view::NotFound::new(deps, &identifier, Some(why));
            return not_found(html_wanted, &nf, StatusCode::BAD_REQUEST);
        }
        Err(view::LandingError::Store(e)) => {
            tracing::warn!(error = %e, "landing page: store");
            return json(
                StatusCode::INTERNAL_SERVER_ERROR,
                &serde_json::json!({"responseCode": 2, "message": "store failure"}),
            );
        }
    };
    let Some(landing) = landing else {
        let nf = view::NotFound::new(deps, &identifier, None);
        return not_found(html_wanted, &nf, StatusCode::NOT_FOUND);
    };
    let prefix = identifier.split('/').next().unwrap_or_default();
    if !noredirect
        && deps.cfg.web.redirects(prefix)
        && let Some(url) = landing.redirect_url()
        && let Ok(v) = HeaderValue::from_str(url)
    {
        let mut r = StatusCode::FOUND.into_response();
        r.headers_mut().insert(header::LOCATION, v);
        return r;
    }
    if html_wanted {
        html(StatusCode::OK, templates::landing(&landing))
    } else {
        json(StatusCode::OK, &landing.to_json())
    }
}

pub(crate) fn not_found(html_wanted: bool, nf: &view::NotFound, status: StatusCode) -> Response {
    if html_wanted { html(status, templates::not_found(nf)) } else { json(status, &nf.to_json(status)) }
}
