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
#[cfg(test)]
mod tests;

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
use idnode_registry::model::value::type_matches;
use idnode_registry::model::{HsSite, Value};
use idnode_registry::store::{RecordOp, Store, StoreError, WriteCtx};
use idnode_resolver::auth::{Action, Identity, Policy, StoreRecords, authorize};
use serde_json::{Map, Value as Json, json};

use super::ApiDeps;
use super::auth::{AuthFailure, AuthState, Caller, HandleParams, RC_AUTHENTICATION_FAILED, RC_AUTHENTICATION_NEEDED};
use crate::serve::http::PeerInfo;

/// Handle response codes used here (handle-protocol.md §5).
mod rc {
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

// ------------------------------------------------------------ plumbing

/// Output options (`pretty`, JSONP `callback`).
#[derive(Debug, Clone, Default)]
struct Fmt {
    pretty: bool,
    callback: Option<String>,
}

/// Query (and JSON-body) parameters, in order, repeatable.
#[derive(Debug, Clone, Default)]
struct Params(Vec<(String, String)>);

impl Params {
    /// The query string's parameters (`+` is a space in query values, as
    /// in forms), through axum's `Query` extractor.
    fn from_uri(uri: &axum::http::Uri) -> Params {
        Params(crate::api::query_pairs(uri))
    }

    /// Adds the members of a JSON object body (POST = GET with parameters).
    fn extend_from_json(&mut self, body: &Json) -> Result<(), String> {
        let o = body.as_object().ok_or("a JSON parameter body must be an object")?;
        for (k, v) in o {
            let items: Vec<&Json> = match v {
                Json::Array(a) => a.iter().collect(),
                other => vec![other],
            };
            for item in items {
                let s = match item {
                    Json::String(s) => s.clone(),
                    Json::Null => String::new(),
                    other => other.to_string(),
                };
                self.0.push((k.clone(), s));
            }
        }
        Ok(())
    }

    fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.0.iter().filter(move |(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    fn first<'a>(&'a self, name: &'a str) -> Option<&'a str> {
        self.all(name).next()
    }

    /// CNRI boolean: bare `?x` or `true` / `yes` (any case) = true; other
    /// values false; absent = `None`.
    fn flag(&self, name: &str) -> Option<bool> {
        self.first(name).map(|v| v.is_empty() || v.eq_ignore_ascii_case("true") || v.eq_ignore_ascii_case("yes"))
    }

    fn fmt(&self) -> Fmt {
        let callback = self.first("callback").filter(|c| !c.is_empty()).map(|c| {
            c.chars()
                .enumerate()
                .map(|(i, ch)| {
                    if ch == '_'
                        || ch == '$'
                        || ch.is_ascii_alphabetic()
                        || (i > 0 && ch.is_ascii_digit())
                        || ch as u32 >= 0xA0
                    {
                        ch
                    } else {
                        '_'
                    }
                })
                .take(128)
                .collect()
        });
        Fmt { pretty: self.flag("pretty") == Some(true), callback }
    }

    /// `index` parameters as integers (`None` when absent).
    fn indexes(&self) -> Result<Option<Vec<u32>>, String> {
        let raw: Vec<&str> = self.all("index").collect();
        if raw.is_empty() {
            return Ok(None);
        }
        raw.iter()
            .map(|s| s.trim().parse::<u32>().map_err(|_| format!("index {s:?} is not an unsigned integer")))
            .collect::<Result<Vec<_>, _>>()
            .map(Some)
    }

    fn int(&self, name: &str, default: i64) -> Result<i64, String> {
        match self.first(name) {
            None => Ok(default),
            Some(s) => s.trim().parse::<i64>().map_err(|_| format!("{name} {s:?} is not an integer")),
        }
    }
}

/// A JSON answer.
fn reply<T: serde::Serialize + ?Sized>(fmt: &Fmt, status: StatusCode, body: &T) -> Response {
    let text = if fmt.pretty {
        serde_json::to_string_pretty(body).unwrap_or_default()
    } else {
        serde_json::to_string(body).unwrap_or_default()
    };
    let (ct, text) = match &fmt.callback {
        Some(cb) => ("application/javascript; charset=utf-8", format!("{cb}({text});")),
        None => ("application/json; charset=utf-8", text),
    };
    (status, [(header::CONTENT_TYPE, ct)], text).into_response()
}

/// A failure: status, Handle response code, message, echoed handle.
#[derive(Debug)]
struct ApiError {
    status: StatusCode,
    rc: u32,
    message: String,
    handle: Option<String>,
    headers: Vec<(HeaderName, String)>,
}

impl ApiError {
    fn new(status: StatusCode, rc: u32, message: impl Into<String>) -> Self {
        ApiError { status, rc, message: message.into(), handle: None, headers: Vec::new() }
    }

    fn handle(mut self, h: &str) -> Self {
        self.handle = Some(h.to_owned());
        self
    }

    fn bad(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, rc::PROTOCOL_ERROR, message)
    }

    fn internal(what: &str, e: impl std::fmt::Display) -> Self {
        tracing::error!(error = %e, "{what}");
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, rc::ERROR, "internal error")
    }

    fn from_auth(f: AuthFailure) -> Self {
        ApiError { status: f.status, rc: f.rc, message: f.message, handle: None, headers: f.headers }
    }

    fn forbidden(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::FORBIDDEN, rc::INSUFFICIENT_PERMISSIONS, message)
    }

    /// The one place store errors become HTTP answers.
    fn from_store(e: StoreError) -> Self {
        match e {
            StoreError::AlreadyExists => {
                ApiError::new(StatusCode::CONFLICT, rc::HANDLE_ALREADY_EXISTS, "handle already exists")
            }
            StoreError::NotFound => ApiError::new(StatusCode::NOT_FOUND, rc::HANDLE_NOT_FOUND, "handle not found"),
            StoreError::ValueExists(i) => {
                ApiError::new(StatusCode::CONFLICT, rc::VALUE_ALREADY_EXISTS, format!("value index {i} already exists"))
            }
            StoreError::ValueNotFound(i) => {
                ApiError::new(StatusCode::BAD_REQUEST, rc::VALUES_NOT_FOUND, format!("value index {i} not found"))
            }
            e @ (StoreError::DuplicateIndex(_) | StoreError::Limit(_) | StoreError::Invalid(_)) => {
                ApiError::new(StatusCode::BAD_REQUEST, rc::INVALID_VALUE, e.to_string())
            }
            e if e.is_client_error() => ApiError::bad(e.to_string()),
            e => ApiError::internal("store write failed", e),
        }
    }

    fn into_response(self, fmt: &Fmt) -> Response {
        let mut body = Map::new();
        body.insert("responseCode".into(), json!(self.rc));
        if let Some(h) = &self.handle {
            body.insert("handle".into(), Json::String(h.clone()));
        }
        body.insert("message".into(), Json::String(self.message));
        let mut resp = reply(fmt, self.status, &Json::Object(body));
        for (name, value) in self.headers {
            if let Ok(v) = HeaderValue::from_str(&value) {
                resp.headers_mut().append(name, v);
            }
        }
        resp
    }
}

/// Per-request facts every handler needs.
struct Ctx {
    method: Method,
    headers: HeaderMap,
    peer: Option<PeerInfo>,
    params: Params,
    fmt: Fmt,
    now: u64,
}

impl Ctx {
    fn of(req: &Request) -> Ctx {
        let params = Params::from_uri(req.uri());
        let fmt = params.fmt();
        Ctx {
            method: req.method().clone(),
            headers: req.headers().clone(),
            peer: req.extensions().get::<ConnectInfo<PeerInfo>>().map(|c| c.0).or_else(|| {
                req.extensions().get::<axum::extract::connect_info::MockConnectInfo<PeerInfo>>().map(|m| m.0)
            }),
            params,
            fmt,
            now: crate::unix_now(),
        }
    }

    fn ip(&self) -> Option<IpAddr> {
        self.peer.map(|p| p.addr.ip())
    }

    fn is_json(&self) -> bool {
        self.headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|ct| ct.split(';').next().unwrap_or("").trim().eq_ignore_ascii_case("application/json"))
            .unwrap_or(false)
    }
}

/// 501 for unknown methods, 204 for OPTIONS, 405 for `allowed` misses.
fn method_gate(ctx: &Ctx, path: &str, allowed: &[Method]) -> Option<Response> {
    let m = ctx.method.as_str();
    if !KNOWN_METHODS.contains(&m) {
        return Some(
            ApiError::new(StatusCode::NOT_IMPLEMENTED, rc::PROTOCOL_ERROR, format!("Unknown method {m}"))
                .into_response(&ctx.fmt),
        );
    }
    let mut allow: Vec<&str> = allowed.iter().map(Method::as_str).collect();
    allow.push("OPTIONS");
    if ctx.method == Method::OPTIONS {
        let allow = allow.join(", ");
        return Some(
            (
                StatusCode::NO_CONTENT,
                [
                    (header::ALLOW, allow.clone()),
                    (header::ACCESS_CONTROL_ALLOW_METHODS, allow),
                    (header::ACCESS_CONTROL_ALLOW_HEADERS, "Authorization, Content-Type".to_owned()),
                    (header::ACCESS_CONTROL_MAX_AGE, "86400".to_owned()),
                ],
            )
                .into_response(),
        );
    }
    if !allowed.contains(&ctx.method) {
        let mut r = ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            rc::PROTOCOL_ERROR,
            format!("Unknown HTTP API endpoint {m} {path}"),
        )
        .into_response(&ctx.fmt);
        if let Ok(v) = HeaderValue::from_str(&allow.join(", ")) {
            r.headers_mut().insert(header::ALLOW, v);
        }
        return Some(r);
    }
    None
}

/// Reads the body up to the configured limit.
async fn read_body(st: &Rest, body: Body) -> Result<axum::body::Bytes, ApiError> {
    axum::body::to_bytes(body, st.max_body).await.map_err(|e| {
        let (status, message) = crate::api::errors::body_failure(&e, st.max_body);
        ApiError::new(status, rc::PROTOCOL_ERROR, message)
    })
}

/// For POST-as-GET: folds a JSON body into the parameters.
async fn absorb_post_params(st: &Rest, ctx: &mut Ctx, body: Body) -> Result<(), ApiError> {
    if ctx.method != Method::POST {
        return Ok(());
    }
    let bytes = read_body(st, body).await?;
    if !ctx.is_json() || bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(());
    }
    let j: Json = serde_json::from_slice(&bytes).map_err(|e| ApiError::bad(format!("invalid JSON body: {e}")))?;
    ctx.params.extend_from_json(&j).map_err(ApiError::bad)?;
    ctx.fmt = ctx.params.fmt();
    Ok(())
}

/// Authenticates; failures become answers.
fn authenticate(st: &Rest, ctx: &Ctx) -> Result<Caller, ApiError> {
    st.auth
        .authenticate(&StoreRecords(st.deps.store.as_ref()), &ctx.headers, ctx.peer.as_ref(), ctx.now)
        .map_err(ApiError::from_auth)
}

/// The answer when an operation needs an identity the caller lacks: 401
/// with a challenge, or 403 when credentials cannot be used on this
/// connection.
fn needs_auth(st: &Rest, ctx: &Ctx, caller: &Caller, what: &str) -> ApiError {
    if caller.ignored_insecure || !st.auth.channel_ok(ctx.peer.as_ref()) {
        return ApiError::new(
            StatusCode::FORBIDDEN,
            RC_AUTHENTICATION_NEEDED,
            format!("{what} needs authentication: {}", st.auth.insecure_message()),
        );
    }
    let mut e = ApiError::new(
        StatusCode::UNAUTHORIZED,
        RC_AUTHENTICATION_NEEDED,
        format!("{what} needs authentication (Basic, or Authorization: Handle with the nonce in WWW-Authenticate)"),
    );
    e.headers = st.auth.challenge_headers(None, ctx.now, None);
    e
}

/// Is this node responsible for `handle`? (`0.NA/...` and bare prefixes
/// are answered from the store like the Handle doors do.)
fn responsible(store: &dyn Store, handle: &str) -> bool {
    let prefix = prefix_of(handle.as_bytes());
    !handle.contains('/') || prefix.eq_ignore_ascii_case(GLOBAL_NA.as_bytes()) || store.longest_homed(prefix).is_some()
}

/// The record of `handle`, decoded.
fn load(store: &dyn Store, handle: &str) -> Result<Option<Vec<Value>>, ApiError> {
    let key = store.canonical_key(handle.as_bytes());
    match store.get_record(&key) {
        Ok(None) => Ok(None),
        Ok(Some(r)) => r.values().map(Some).map_err(|e| ApiError::internal("stored record undecodable", e)),
        Err(e) => Err(ApiError::internal("store read failed", e)),
    }
}

/// The handle in the path after `prefix`, percent-decoded (`+` kept).
fn path_handle(req: &Request, prefix: &str) -> Result<String, ApiError> {
    let raw = req.uri().path().strip_prefix(prefix).unwrap_or("");
    percent_encoding::percent_decode_str(raw).decode_utf8().map(|c| c.into_owned()).map_err(|_| {
        ApiError::new(StatusCode::BAD_REQUEST, rc::INVALID_HANDLE, "handle is not UTF-8 after percent-decoding")
    })
}

fn check_handle(h: &str) -> Result<(), ApiError> {
    Identifier::parse_http(h).map(|_| ()).map_err(|e| {
        ApiError::new(StatusCode::BAD_REQUEST, rc::INVALID_HANDLE, format!("invalid handle: {e}")).handle(h)
    })
}

fn is_admin_type(v: &Value) -> bool {
    v.value_type.eq_ignore_ascii_case(b"HS_ADMIN")
}

fn policy(st: &Rest) -> Policy<'_> {
    Policy { server_admins: &st.auth.server_admins, ..Policy::default() }
}

/// Runs `authorize` and turns "no" into 403 naming the identity.
fn require(st: &Rest, who: &Identity, target: &str, values: Option<&[Value]>, action: Action) -> Result<(), ApiError> {
    match authorize(&StoreRecords(st.deps.store.as_ref()), who, target, values, action, &policy(st)) {
        Ok(true) => Ok(()),
        Ok(false) => Err(ApiError::forbidden(format!("{who} may not {} {target}", describe(action))).handle(target)),
        Err(e) if e.is_client_error() => Err(ApiError::forbidden(e.to_string())),
        Err(e) => Err(ApiError::internal("authorisation could not read the store", e)),
    }
}

fn describe(a: Action) -> &'static str {
    match a {
        Action::CreateHandle => "create",
        Action::DeleteHandle => "delete",
        Action::AddValue { admin: false } => "add values to",
        Action::AddValue { admin: true } => "add HS_ADMIN values to",
        Action::ModifyValue { admin: false } => "modify values of",
        Action::ModifyValue { admin: true } => "modify HS_ADMIN values of",
        Action::RemoveValue { admin: false } => "remove values from",
        Action::RemoveValue { admin: true } => "remove HS_ADMIN values from",
        Action::ReadValue => "read non-public values of",
        Action::ListHandles => "list the handles of",
    }
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T, ApiError> + Send + 'static) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f).await.map_err(|e| ApiError::internal("request task failed", e))?
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

/// GET /api/handles/{handle}
fn get_handle(st: &Rest, ctx: &Ctx, asked: &str) -> Result<Response, ApiError> {
    check_handle(asked)?;
    let store = st.deps.store.as_ref();
    // An alias (`gs1:<gtin>`, `oid:<oid>`, `ecode:<code>`) answers with its bound record.
    let bound = idnode_registry::service::aliases::resolve_asked(store, asked);
    let handle = bound.as_deref().unwrap_or(asked);
    if !responsible(store, handle) {
        return Err(ApiError::new(StatusCode::BAD_REQUEST, rc::SERVER_NOT_RESP, NOT_HOMED));
    }
    let indexes = ctx.params.indexes().map_err(ApiError::bad)?.unwrap_or_default();
    let types: Vec<&str> = ctx.params.all("type").collect();
    let caller = authenticate(st, ctx)?;
    let public_only = ctx.params.flag("publicOnly").unwrap_or(caller.identity.is_none());
    let Some(values) = load(store, handle)? else {
        return Err(ApiError::new(StatusCode::NOT_FOUND, rc::HANDLE_NOT_FOUND, "handle not found"));
    };
    let prefix = prefix_of(handle.as_bytes());
    if handle.contains('/') && !prefix.eq_ignore_ascii_case(GLOBAL_NA.as_bytes()) {
        store.count_resolution(prefix, (ctx.now / 86_400) as u32, 1);
    }
    let unfiltered = indexes.is_empty() && types.is_empty();
    let mut selected: Vec<&Value> = values
        .iter()
        .filter(|v| {
            unfiltered || indexes.contains(&v.index) || types.iter().any(|t| type_matches(t.as_bytes(), &v.value_type))
        })
        .collect();
    if public_only {
        selected.retain(|v| v.is_public_read());
    } else if let Some(v) = selected.iter().find(|v| !v.is_public_read() && !v.is_admin_read()) {
        return Err(ApiError::forbidden(format!("value {} is not readable (no read permission bits)", v.index)));
    } else if selected.iter().any(|v| !v.is_public_read()) {
        let Some(who) = &caller.identity else {
            return Err(needs_auth(st, ctx, &caller, "reading non-public values"));
        };
        require(st, who, handle, Some(&values), Action::ReadValue)?;
    }
    if selected.is_empty() {
        return Ok(reply(
            &ctx.fmt,
            StatusCode::OK,
            &json!({"responseCode": rc::VALUES_NOT_FOUND, "handle": handle, "values": []}),
        ));
    }
    // Serialised straight from the values (same JSON as the value tree;
    // keys in the same order: handle, responseCode, values).
    #[derive(serde::Serialize)]
    struct Answer<'a> {
        handle: &'a str,
        #[serde(rename = "responseCode")]
        response_code: u32,
        values: Vec<json::ValueOut<'a>>,
    }
    let answer =
        Answer { handle, response_code: rc::SUCCESS, values: selected.into_iter().map(json::ValueOut).collect() };
    Ok(reply(&ctx.fmt, StatusCode::OK, &answer))
}

/// Parses a PUT body: an array of values, `{"values": [...]}` (its
/// `handle`, if any, must name the target) or a single value.
fn parse_put_body(st: &Rest, handle: &str, body: &[u8]) -> Result<Vec<Value>, ApiError> {
    let j: Json =
        serde_json::from_slice(body).map_err(|e| ApiError::bad(format!("invalid JSON in PUT request: {e}")))?;
    let list = match &j {
        Json::Array(a) => a.clone(),
        Json::Object(o) if o.contains_key("values") => {
            if let Some(h) = o.get("handle") {
                let h = h.as_str().ok_or_else(|| ApiError::bad("\"handle\" in the body must be a string"))?;
                if !StoreRecordsCmp(st.deps.store.as_ref()).same(h, handle) {
                    return Err(ApiError::bad(format!("mismatched handle in PUT request: body names {h:?}")));
                }
            }
            match o.get("values") {
                Some(Json::Array(a)) => a.clone(),
                Some(Json::Null) => Vec::new(),
                _ => return Err(ApiError::bad("\"values\" must be an array")),
            }
        }
        Json::Object(o) if o.contains_key("index") && o.contains_key("type") && o.contains_key("data") => {
            vec![j.clone()]
        }
        _ => {
            return Err(ApiError::bad(
                "invalid JSON in PUT request: expected an array of values, {\"values\": [...]} or one value",
            ));
        }
    };
    if list.len() > idnode_registry::model::wire::MAX_VALUES {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            rc::INVALID_VALUE,
            format!("{} values exceed the limit of {}", list.len(), idnode_registry::model::wire::MAX_VALUES),
        ));
    }
    let mut values = Vec::with_capacity(list.len());
    for item in &list {
        let v =
            json::value_from_json(item).map_err(|m| ApiError::new(StatusCode::BAD_REQUEST, rc::INVALID_VALUE, m))?;
        if v.index == 0 {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                rc::INVALID_VALUE,
                "value index 0 is reserved; use 1 or more",
            ));
        }
        if values.iter().any(|o: &Value| o.index == v.index) {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                rc::INVALID_VALUE,
                format!("value index {} appears twice", v.index),
            ));
        }
        values.push(v);
    }
    Ok(values)
}

/// Handle comparison with the store's case rules.
struct StoreRecordsCmp<'a>(&'a dyn Store);

impl StoreRecordsCmp<'_> {
    fn same(&self, a: &str, b: &str) -> bool {
        self.0.canonical_key(a.as_bytes()) == self.0.canonical_key(b.as_bytes())
    }
}

/// PUT /api/handles/{handle}
async fn put_handle(st: &Arc<Rest>, ctx: &Ctx, raw_handle: &str, body: Body) -> Result<Response, ApiError> {
    if !ctx.is_json() {
        let ct = ctx.headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("none");
        return Err(ApiError::bad(format!("Unsupported media type {ct}: PUT needs Content-Type: application/json")));
    }
    let mint = ctx.params.flag("mintNewSuffix") == Some(true);
    let prefix_for_mint = if mint {
        let p = raw_handle
            .strip_suffix('/')
            .filter(|p| !p.is_empty() && !p.contains('/'))
            .ok_or_else(|| ApiError::bad("mintNewSuffix=true needs a handle that is a prefix followed by \"/\""))?;
        check_handle(&format!("{p}/x"))?;
        Some(p.to_owned())
    } else {
        check_handle(raw_handle)?;
        None
    };
    let store = st.deps.store.as_ref();
    let probe = prefix_for_mint.as_ref().map(|p| format!("{p}/x")).unwrap_or_else(|| raw_handle.to_owned());
    if !responsible(store, &probe) {
        return Err(ApiError::new(StatusCode::BAD_REQUEST, rc::SERVER_NOT_RESP, NOT_HOMED));
    }
    let various = ctx.params.first("index") == Some("various");
    let indexes = if various { None } else { ctx.params.indexes().map_err(ApiError::bad)? };
    let add_mode = various || indexes.is_some();
    let overwrite = ctx.params.flag("overwrite").unwrap_or(true);
    let bytes = read_body(st, body).await?;
    let values = parse_put_body(st, raw_handle, &bytes)?;
    idnode_registry::service::refs::check_links(st.deps.store.as_ref(), &values)
        .map_err(|e| ApiError::bad(e.to_string()))?;
    if let Some(ix) = &indexes {
        let mut a: Vec<u32> = ix.clone();
        let mut b: Vec<u32> = values.iter().map(|v| v.index).collect();
        a.sort_unstable();
        a.dedup();
        b.sort_unstable();
        if a != b {
            return Err(ApiError::bad(format!("mismatched indexes in PUT request: query {a:?}, body {b:?}")));
        }
    }
    if add_mode && mint {
        return Err(ApiError::bad("mintNewSuffix creates a handle; it cannot be combined with index"));
    }
    let caller = authenticate(st, ctx)?;
    let Some(who) = caller.identity.clone() else {
        return Err(needs_auth(st, ctx, &caller, "PUT"));
    };
    let st2 = st.clone();
    let raw = raw_handle.to_owned();
    let now = ctx.now;
    let handle = blocking(move || {
        let st = st2.as_ref();
        let store = st.deps.store.as_ref();
        let ctx = WriteCtx::new(now, format!("rest:{who}"));
        if add_mode {
            let Some(old) = load(store, &raw)? else {
                return Err(ApiError::new(StatusCode::NOT_FOUND, rc::HANDLE_NOT_FOUND, "handle not found"));
            };
            for v in &values {
                match old.iter().find(|o| o.index == v.index) {
                    Some(_) if !overwrite => {
                        return Err(ApiError::new(
                            StatusCode::CONFLICT,
                            rc::VALUE_ALREADY_EXISTS,
                            format!("value index {} already exists", v.index),
                        ));
                    }
                    Some(o) => require(
                        st,
                        &who,
                        &raw,
                        Some(&old),
                        Action::ModifyValue { admin: is_admin_type(o) || is_admin_type(v) },
                    )?,
                    None => require(st, &who, &raw, Some(&old), Action::AddValue { admin: is_admin_type(v) })?,
                }
            }
            let key = store.canonical_key(raw.as_bytes());
            store.write(RecordOp::AddValues { key, values, overwrite }, &ctx).map_err(ApiError::from_store)?;
            return Ok(raw);
        }
        if let Some(prefix) = &prefix_for_mint {
            require(st, &who, &format!("{prefix}/x"), None, Action::CreateHandle)?;
            for _ in 0..8 {
                let mut r = [0u8; 8];
                rand::fill(&mut r);
                let minted = format!("{prefix}/{}", hex::encode(r));
                let key = store.canonical_key(minted.as_bytes());
                match store.write(RecordOp::Create { key, values: values.clone(), overwrite: false }, &ctx) {
                    Ok(_) => return Ok(minted),
                    Err(StoreError::AlreadyExists) => continue,
                    Err(e) => return Err(ApiError::from_store(e)),
                }
            }
            return Err(ApiError::internal("minting a suffix", "8 random suffixes collided"));
        }
        let old = load(store, &raw)?;
        match &old {
            None => require(st, &who, &raw, None, Action::CreateHandle)?,
            Some(_) if !overwrite => {
                require(st, &who, &raw, None, Action::CreateHandle)?;
                return Err(ApiError::new(StatusCode::CONFLICT, rc::HANDLE_ALREADY_EXISTS, "handle already exists"));
            }
            Some(old) => {
                // Replacing a record is adding, modifying and removing values.
                for v in &values {
                    match old.iter().find(|o| o.index == v.index) {
                        Some(o) if o == v => {}
                        Some(o) => require(
                            st,
                            &who,
                            &raw,
                            Some(old),
                            Action::ModifyValue { admin: is_admin_type(o) || is_admin_type(v) },
                        )?,
                        None => require(st, &who, &raw, Some(old), Action::AddValue { admin: is_admin_type(v) })?,
                    }
                }
                for o in old.iter().filter(|o| !values.iter().any(|v| v.index == o.index)) {
                    require(st, &who, &raw, Some(old), Action::RemoveValue { admin: is_admin_type(o) })?;
                }
            }
        }
        let key = store.canonical_key(raw.as_bytes());
        store.write(RecordOp::Create { key, values, overwrite }, &ctx).map_err(ApiError::from_store)?;
        Ok(raw)
    })
    .await?;
    let status = if overwrite { StatusCode::OK } else { StatusCode::CREATED };
    Ok(reply(&ctx.fmt, status, &json!({"responseCode": rc::SUCCESS, "handle": handle})))
}

/// DELETE /api/handles/{handle}[?index=N...]
async fn delete_handle(st: &Arc<Rest>, ctx: &Ctx, handle: &str) -> Result<Response, ApiError> {
    check_handle(handle)?;
    if !responsible(st.deps.store.as_ref(), handle) {
        return Err(ApiError::new(StatusCode::BAD_REQUEST, rc::SERVER_NOT_RESP, NOT_HOMED));
    }
    let indexes = ctx.params.indexes().map_err(ApiError::bad)?;
    let caller = authenticate(st, ctx)?;
    let Some(who) = caller.identity.clone() else {
        return Err(needs_auth(st, ctx, &caller, "DELETE"));
    };
    let (st2, h, now) = (st.clone(), handle.to_owned(), ctx.now);
    blocking(move || {
        let st = st2.as_ref();
        let store = st.deps.store.as_ref();
        let wctx = WriteCtx::new(now, format!("rest:{who}"));
        let Some(old) = load(store, &h)? else {
            return Err(ApiError::new(StatusCode::NOT_FOUND, rc::HANDLE_NOT_FOUND, "handle not found"));
        };
        let key = store.canonical_key(h.as_bytes());
        match indexes {
            None => {
                require(st, &who, &h, Some(&old), Action::DeleteHandle)?;
                store.write(RecordOp::Delete { key }, &wctx).map_err(ApiError::from_store)?;
            }
            Some(mut ix) => {
                ix.sort_unstable();
                ix.dedup();
                for i in &ix {
                    let Some(o) = old.iter().find(|o| o.index == *i) else {
                        return Err(ApiError::new(
                            StatusCode::BAD_REQUEST,
                            rc::VALUES_NOT_FOUND,
                            format!("value index {i} not found"),
                        ));
                    };
                    require(st, &who, &h, Some(&old), Action::RemoveValue { admin: is_admin_type(o) })?;
                }
                store.write(RecordOp::RemoveValues { key, indexes: ix }, &wctx).map_err(ApiError::from_store)?;
            }
        }
        Ok(())
    })
    .await?;
    Ok(reply(&ctx.fmt, StatusCode::OK, &json!({"responseCode": rc::SUCCESS, "handle": handle})))
}

/// GET /api/handles?prefix=0.NA/P (or P)[&page=N&pageSize=M]
async fn list_handles(st: &Arc<Rest>, ctx: &Ctx) -> Result<Response, ApiError> {
    let Some(given) = ctx.params.first("prefix").map(str::to_owned) else {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            rc::INVALID_HANDLE,
            "Empty handle invalid (list handles with ?prefix=0.NA/<prefix>)",
        ));
    };
    let bare = match given.split_once('/') {
        Some((na, p)) if na.eq_ignore_ascii_case(GLOBAL_NA) => p.to_owned(),
        Some(_) => {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                rc::INVALID_HANDLE,
                format!("{given:?} is not a prefix (0.NA/<prefix> or <prefix>)"),
            ));
        }
        None => given.clone(),
    };
    check_prefix_chars(&bare)
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, rc::INVALID_HANDLE, format!("invalid prefix: {e}")))?;
    let store = st.deps.store.as_ref();
    if store.longest_homed(bare.as_bytes()).is_none() {
        return Err(ApiError::new(StatusCode::BAD_REQUEST, rc::SERVER_NOT_RESP, NOT_HOMED).handle(&given));
    }
    let page = ctx.params.int("page", -1).map_err(ApiError::bad)?;
    let page_size = ctx.params.int("pageSize", -1).map_err(ApiError::bad)?;
    if page_size > MAX_PAGE_SIZE {
        return Err(ApiError::bad(format!("pageSize must be at most {MAX_PAGE_SIZE}")));
    }
    let caller = authenticate(st, ctx)?;
    let Some(who) = caller.identity.clone() else {
        return Err(needs_auth(st, ctx, &caller, "listing handles"));
    };
    let prefix_handle = idnode_registry::ident::prefix_handle(&bare);
    let (st2, now) = (st.clone(), ctx.now);
    let _ = now;
    let (total, handles) = blocking(move || {
        let st = st2.as_ref();
        let store = st.deps.store.as_ref();
        let own = load(store, &prefix_handle)?;
        require(st, &who, &prefix_handle, own.as_deref(), Action::ListHandles)?;
        let total = store.count_records(Some(&bare)).map_err(|e| ApiError::internal("counting handles", e))?;
        let (skip, take) = if page_size == 0 {
            (0, 0)
        } else if page < 0 || page_size < 0 {
            if total > MAX_UNPAGED_LIST {
                return Err(ApiError::bad(format!(
                    "{total} handles: list them with page and pageSize (at most {MAX_PAGE_SIZE})"
                )));
            }
            (0, total as usize)
        } else {
            ((page as u64).saturating_mul(page_size as u64), page_size as usize)
        };
        let mut out = Vec::new();
        let mut after: Option<Vec<u8>> = None;
        let mut skipped = 0u64;
        while out.len() < take {
            let chunk = store
                .scan_keys(Some(&bare), after.as_deref(), 1000)
                .map_err(|e| ApiError::internal("listing handles", e))?;
            let Some(last) = chunk.last().cloned() else { break };
            for k in chunk {
                if skipped < skip {
                    skipped += 1;
                    continue;
                }
                if out.len() < take {
                    out.push(String::from_utf8_lossy(&k).into_owned());
                }
            }
            after = Some(last);
        }
        Ok((total, out))
    })
    .await?;
    let mut body = Map::new();
    body.insert("responseCode".into(), json!(rc::SUCCESS));
    body.insert("prefix".into(), Json::String(given));
    body.insert("totalCount".into(), Json::String(total.to_string()));
    if page >= 0 {
        body.insert("page".into(), json!(page));
    }
    if page_size >= 0 {
        body.insert("pageSize".into(), json!(page_size));
    }
    body.insert("handles".into(), json!(handles));
    Ok(reply(&ctx.fmt, StatusCode::OK, &Json::Object(body)))
}

/// GET /api/prefixes: the prefix handles this node homes.
async fn prefixes(State(st): State<Arc<Rest>>, req: Request) -> Response {
    let mut ctx = Ctx::of(&req);
    let path = req.uri().path().to_owned();
    if let Some(r) = method_gate(&ctx, &path, &[Method::GET, Method::HEAD, Method::POST]) {
        return r;
    }
    if let Err(e) = absorb_post_params(&st, &mut ctx, req.into_body()).await {
        return e.into_response(&ctx.fmt);
    }
    let mut list: Vec<String> =
        st.deps.store.homed_prefixes().iter().map(|p| idnode_registry::ident::prefix_handle(&p.prefix)).collect();
    list.sort();
    reply(&ctx.fmt, StatusCode::OK, &json!({"responseCode": rc::SUCCESS, "prefixes": list}))
}

/// GET /api/site: this node's HS_SITE as JSON.
async fn site(State(st): State<Arc<Rest>>, req: Request) -> Response {
    let mut ctx = Ctx::of(&req);
    let path = req.uri().path().to_owned();
    if let Some(r) = method_gate(&ctx, &path, &[Method::GET, Method::HEAD, Method::POST]) {
        return r;
    }
    if let Err(e) = absorb_post_params(&st, &mut ctx, req.into_body()).await {
        return e.into_response(&ctx.fmt);
    }
    match HsSite::from_bytes(&st.deps.site_record) {
        Ok(s) => reply(&ctx.fmt, StatusCode::OK, &json!({"responseCode": rc::SUCCESS, "site": json::site_to_json(&s)})),
        Err(e) => ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, rc::ERROR, format!("no site information: {e}"))
            .into_response(&ctx.fmt),
    }
}

// ------------------------------------------------------------ sessions

fn session_json(s: &super::auth::SessionView) -> Map<String, Json> {
    use base64::Engine as _;
    let mut o = Map::new();
    o.insert("sessionId".into(), Json::String(s.id.clone()));
    o.insert("nonce".into(), Json::String(base64::engine::general_purpose::STANDARD.encode(s.nonce)));
    match &s.identity {
        Some(id) => {
            o.insert("authenticated".into(), Json::Bool(true));
            o.insert("id".into(), Json::String(id.to_string()));
        }
        None => {
            o.insert("authenticated".into(), Json::Bool(false));
        }
    }
    o
}

/// `Authorization: Handle` parameters of a sessions request: header first,
/// then JSON body members / query parameters fill what is missing.
fn session_params(ctx: &Ctx) -> Result<Option<HandleParams>, ApiError> {
    let mut p = match ctx.headers.get(header::AUTHORIZATION) {
        None => None,
        Some(v) => match v.to_str().map_err(|_| "not ASCII".to_owned()).and_then(super::auth::parse_authorization) {
            Ok(super::auth::Credentials::Handle(p)) => Some(*p),
            Ok(_) => None,
            Err(m) => return Err(ApiError::new(StatusCode::UNAUTHORIZED, RC_AUTHENTICATION_FAILED, m)),
        },
    };
    for (k, v) in &ctx.params.0 {
        let value = if v.is_empty() { "true".to_owned() } else { v.clone() };
        p.get_or_insert_with(HandleParams::default).set(k, value);
    }
    Ok(p)
}

/// POST /api/sessions: a new session (201, Location /api/sessions/this).
async fn sessions_root(State(st): State<Arc<Rest>>, req: Request) -> Response {
    let mut ctx = Ctx::of(&req);
    let path = req.uri().path().to_owned();
    if let Some(r) = method_gate(&ctx, &path, &[Method::POST]) {
        return r;
    }
    if !st.auth.channel_ok(ctx.peer.as_ref()) {
        return ApiError::new(
            StatusCode::FORBIDDEN,
            RC_AUTHENTICATION_NEEDED,
            format!("sessions: {}", st.auth.insecure_message()),
        )
        .into_response(&ctx.fmt);
    }
    if let Err(e) = absorb_post_params(&st, &mut ctx, req.into_body()).await {
        return e.into_response(&ctx.fmt);
    }
    let params = match session_params(&ctx) {
        Ok(p) => p,
        Err(e) => return e.into_response(&ctx.fmt),
    };
    if params.as_ref().is_some_and(|p| p.session_id.is_some()) {
        return ApiError::bad("POST /api/sessions creates a session: do not send a sessionId").into_response(&ctx.fmt);
    }
    let mut session = st.auth.open_session(ctx.now);
    // Basic credentials authenticate the new session at once.
    if let Some(v) = ctx.headers.get(header::AUTHORIZATION)
        && v.to_str().is_ok_and(|s| s.trim_start().to_ascii_lowercase().starts_with("basic"))
    {
        match st.auth.authenticate(&StoreRecords(st.deps.store.as_ref()), &ctx.headers, ctx.peer.as_ref(), ctx.now) {
            Ok(Caller { identity: Some(id), .. }) => {
                st.auth.set_session_identity(&session.id, id.clone(), ctx.now);
                session.identity = Some(id);
            }
            Ok(_) => {}
            Err(f) => return ApiError::from_auth(f).into_response(&ctx.fmt),
        }
    }
    let mut resp = reply(&ctx.fmt, StatusCode::CREATED, &Json::Object(session_json(&session)));
    resp.headers_mut().insert(header::LOCATION, HeaderValue::from_static("/api/sessions/this"));
    resp
}

/// GET / PUT / POST / DELETE /api/sessions/this
async fn session_this(State(st): State<Arc<Rest>>, req: Request) -> Response {
    let mut ctx = Ctx::of(&req);
    let path = req.uri().path().to_owned();
    if let Some(r) = method_gate(&ctx, &path, &[Method::GET, Method::HEAD, Method::POST, Method::PUT, Method::DELETE]) {
        return r;
    }
    if path.trim_end_matches('/') != "/api/sessions/this" {
        return ApiError::new(
            StatusCode::FORBIDDEN,
            rc::PROTOCOL_ERROR,
            "the only session resource is /api/sessions/this",
        )
        .into_response(&ctx.fmt);
    }
    if !st.auth.channel_ok(ctx.peer.as_ref()) {
        return ApiError::new(
            StatusCode::FORBIDDEN,
            RC_AUTHENTICATION_NEEDED,
            format!("sessions: {}", st.auth.insecure_message()),
        )
        .into_response(&ctx.fmt);
    }
    if matches!(ctx.method, Method::POST | Method::PUT) {
        let body = req.into_body();
        let bytes = match read_body(&st, body).await {
            Ok(b) => b,
            Err(e) => return e.into_response(&ctx.fmt),
        };
        if ctx.is_json() && !bytes.iter().all(u8::is_ascii_whitespace) {
            let parsed: Result<Json, _> = serde_json::from_slice(&bytes);
            match parsed.map_err(|e| e.to_string()).and_then(|j| ctx.params.extend_from_json(&j)) {
                Ok(()) => {}
                Err(e) => return ApiError::bad(format!("invalid JSON body: {e}")).into_response(&ctx.fmt),
            }
        }
    }
    let params = match session_params(&ctx) {
        Ok(p) => p,
        Err(e) => return e.into_response(&ctx.fmt),
    };
    let Some(params) = params.filter(|p| p.session_id.is_some()) else {
        return ApiError::new(
            StatusCode::FORBIDDEN,
            rc::PROTOCOL_ERROR,
            "no session: send Authorization: Handle sessionId=\"...\" (from POST /api/sessions)",
        )
        .into_response(&ctx.fmt);
    };
    let sid = params.session_id.clone().unwrap_or_default();
    let Some(session) = st.auth.session(&sid, ctx.now) else {
        return ApiError::new(StatusCode::FORBIDDEN, RC_AUTHENTICATION_NEEDED, "unknown or expired session")
            .into_response(&ctx.fmt);
    };
    if ctx.method == Method::DELETE {
        st.auth.close_session(&sid);
        return StatusCode::NO_CONTENT.into_response();
    }
    if params.is_authenticating() {
        match st.auth.authenticate_handle(&StoreRecords(st.deps.store.as_ref()), &params, ctx.ip(), ctx.now) {
            Ok(_) => {}
            Err(f) => {
                let mut body = session_json(&session);
                body.insert("responseCode".into(), json!(f.rc));
                body.insert("message".into(), Json::String(f.message.clone()));
                body.insert("error".into(), Json::String(f.message.clone()));
                let mut resp = reply(&ctx.fmt, f.status, &Json::Object(body));
                for (n, v) in f.headers {
                    if let Ok(v) = HeaderValue::from_str(&v) {
                        resp.headers_mut().append(n, v);
                    }
                }
                return resp;
            }
        }
    }
    let session = st.auth.session(&sid, ctx.now).unwrap_or(session);
    reply(&ctx.fmt, StatusCode::OK, &Json::Object(session_json(&session)))
}
