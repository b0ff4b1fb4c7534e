//! The CNRI-compatible Handle HTTP JSON REST API (handle-protocol.md §8):
//!
//! | endpoint | methods |
//! |---|---|
//! | `/api/handles/{handle}` | GET (resolve; POST = GET with JSON parameters), PUT (create / replace / add values), DELETE (handle or `?index=` values) |
//! | `/api/handles?prefix=…` | GET (list handles, LIST_HANDLES auth) |
//! | `/api/prefixes` | GET (homed prefixes) |
//! | `/api/site` | GET (this node's HS_SITE) |
//! | `/api/sessions`, `/api/sessions/this` | POST; GET, PUT, DELETE (`Authorization: Handle` sessions) |
//!
//! The handle is taken raw from the path after `/api/handles/` (slashes
//! unencoded), percent-decoded without turning `+` into a space, and echoed
//! exactly as asked. Every answer is JSON with a Handle `responseCode`;
//! failures also carry a `message` and never change stored data. Unknown
//! methods answer 501, known methods on an endpoint that does not take them
//! 405 (CNRI's "Unknown HTTP API endpoint"). CORS headers go on every answer.
//!
//! Authentication and the rules for plain HTTP are in [`crate::api::auth`];
//! who may do what is `idnode_resolver::auth::authz` (HS_ADMIN of the record
//! or of the prefix handles above it). Store reads on the request path are
//! memory-speed; writes and scans run under `spawn_blocking`.

pub mod json;
mod plumbing;
mod read;
mod sessions;
#[cfg(test)]
mod tests;
mod write;

use std::net::IpAddr;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::connect_info::ConnectInfo;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use idnode_registry::ident::{GLOBAL_NA, Identifier, check_prefix_chars, prefix_of};
use idnode_registry::model::Role;
use idnode_registry::model::value::type_matches;
use idnode_registry::model::{HsSite, Value};
use idnode_registry::service::{Actor, ServiceError};
use idnode_registry::store::{RecordOp, Store, StoreError, WriteCtx};
use idnode_resolver::auth::{Action, Identity, Policy, StoreRecords, authorize};
use serde_json::{Map, Value as Json, json};

use super::ApiDeps;
use super::auth::{AuthFailure, AuthState, Caller, HandleParams, RC_AUTHENTICATION_FAILED, RC_AUTHENTICATION_NEEDED};
use crate::serve::http::PeerInfo;
use plumbing::*;
use read::*;
use sessions::*;
use write::*;

/// Handle response codes used here (handle-protocol.md §5).
pub(super) mod rc {
    pub const SUCCESS: u32 = 1;
    pub const ERROR: u32 = 2;
    pub const PROTOCOL_ERROR: u32 = 4;
    pub const HANDLE_NOT_FOUND: u32 = 100;
    pub const HANDLE_ALREADY_EXISTS: u32 = 101;
    pub const INVALID_HANDLE: u32 = 102;
    pub const VALUES_NOT_FOUND: u32 = 200;
    pub const VALUE_ALREADY_EXISTS: u32 = 201;
    pub const INVALID_VALUE: u32 = 202;
    pub const SERVER_NOT_RESP: u32 = 301;
    pub const INSUFFICIENT_PERMISSIONS: u32 = 401;
}

/// The text CNRI sends with RC 301.
const NOT_HOMED: &str = "That prefix doesn't live here";
/// Most handles listed without paging.
const MAX_UNPAGED_LIST: u64 = 10_000;
/// Largest `pageSize`.
const MAX_PAGE_SIZE: i64 = 10_000;
/// Methods the API knows (others: 501).
const KNOWN_METHODS: [&str; 7] = ["GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "TRACE"];

/// Shared state of the REST handlers.
#[derive(Debug)]
struct Rest {
    deps: ApiDeps,
    auth: AuthState,
    max_body: usize,
}

/// The REST routes with their state and CORS applied.
pub fn router(deps: ApiDeps) -> Router {
    let server_admins = deps
        .cfg
        .admin
        .server_admins
        .iter()
        .filter_map(|s| match Identity::parse(s) {
            Ok(i) => Some(i),
            Err(e) => {
                tracing::warn!(error = %e, "ignoring admin.server_admins entry");
                None
            }
        })
        .collect();
    let auth = AuthState::new(deps.cfg.http.allow_plain_http_auth, server_admins, deps.throttle.clone());
    let max_body = deps.cfg.http.limits.max_body_bytes as usize;
    let st = Arc::new(Rest { deps, auth, max_body });
    // One record per request: the ordinary body limit (`http.limits.max_body_bytes`).
    Router::new()
        .route("/api/handles", any(handles_root))
        .route("/api/handles/", any(handles_root))
        .route("/api/handles/{*handle}", any(one_handle))
        .route("/api/prefixes", any(prefixes))
        .route("/api/site", any(site))
        .route("/api/sessions", any(sessions_root))
        .route("/api/sessions/", any(sessions_root))
        .route("/api/sessions/{*which}", any(session_this))
        .route("/api", any(unknown_endpoint))
        .route("/api/", any(unknown_endpoint))
        .route("/api/{*rest}", any(unknown_endpoint))
        .with_state(st)
        .layer(tower_http::limit::RequestBodyLimitLayer::new(max_body))
        .layer(axum::middleware::map_response(cors))
}

/// CORS on every answer (no credentials flag, as CNRI).
async fn cors(mut resp: Response) -> Response {
    let h = resp.headers_mut();
    h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    h.insert(
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static("WWW-Authenticate, Location, Retry-After, Content-Length"),
    );
    resp
}

// ------------------------------------------------------------ handlers

async fn unknown_endpoint(req: Request) -> Response {
    let ctx = Ctx::of(&req);
    let m = ctx.method.as_str();
    if !KNOWN_METHODS.contains(&m) {
        return ApiError::new(StatusCode::NOT_IMPLEMENTED, rc::PROTOCOL_ERROR, format!("Unknown method {m}"))
            .into_response(&ctx.fmt);
    }
    ApiError::new(
        StatusCode::NOT_FOUND,
        rc::PROTOCOL_ERROR,
        format!("Unknown HTTP API endpoint {m} {}", req.uri().path()),
    )
    .into_response(&ctx.fmt)
}

async fn one_handle(State(st): State<Arc<Rest>>, req: Request) -> Response {
    let mut ctx = Ctx::of(&req);
    let path = req.uri().path().to_owned();
    if let Some(r) = method_gate(&ctx, &path, &[Method::GET, Method::HEAD, Method::POST, Method::PUT, Method::DELETE]) {
        return r;
    }
    let handle = match path_handle(&req, "/api/handles/") {
        Ok(h) => h,
        Err(e) => return e.into_response(&ctx.fmt),
    };
    let body = req.into_body();
    let res = match ctx.method.clone() {
        Method::PUT => put_handle(&st, &ctx, &handle, body).await,
        Method::DELETE => delete_handle(&st, &ctx, &handle).await,
        _ => match absorb_post_params(&st, &mut ctx, body).await {
            Ok(()) if handle.is_empty() => list_handles(&st, &ctx).await,
            Ok(()) => get_handle(&st, &ctx, &handle),
            Err(e) => Err(e),
        },
    };
    match res {
        Ok(r) => r,
        Err(e) => {
            let e = if e.handle.is_none() && !handle.is_empty() { e.handle(&handle) } else { e };
            e.into_response(&ctx.fmt)
        }
    }
}

async fn handles_root(State(st): State<Arc<Rest>>, req: Request) -> Response {
    let mut ctx = Ctx::of(&req);
    let path = req.uri().path().to_owned();
    if let Some(r) = method_gate(&ctx, &path, &[Method::GET, Method::HEAD, Method::POST]) {
        return r;
    }
    let res = match absorb_post_params(&st, &mut ctx, req.into_body()).await {
        Ok(()) => list_handles(&st, &ctx).await,
        Err(e) => Err(e),
    };
    res.unwrap_or_else(|e| e.into_response(&ctx.fmt))
}
