//! The SNMS-compatible HTTP API (shared/spec/snms-api.md): token login,
//! metadata templates, identifier data (single and batch), prefix query and
//! paging, hosting configuration and enterprise filing.
//!
//! Every answer is the envelope `{message, status, data}` with HTTP 200
//! (§1.3): `1`/`success`, `-1` not logged in, `-2` business failure with a
//! message naming the field, `-3` no permission, `-4` internal error,
//! `21000` type mismatch. Transport problems keep their HTTP status (with
//! an envelope body, [`crate::api::errors`]): unknown path 404, wrong
//! method 405, body over the route's limit 413 (`http.limits.max_body_bytes`;
//! batch routes `limits.http_max_body_bytes`), body too slow 408, too many
//! failed logins 429 with `Retry-After`.
//!
//! Passwords and tokens are taken over HTTPS, or over plain HTTP from a
//! loopback client only ([`crate::api::auth::plain_http_credentials_ok`]).
//!
//! Handlers are thin: they read the call ([`Call`]: headers, query, client
//! address, body), then run everything else — authentication, JSON
//! parsing, the registration service ([`Registrar`]), answer building — on
//! the blocking pool (sled and Argon2 block). The rules live in
//! `idnode_registry::service`; errors map to the envelope in one place
//! ([`Envelope::from_error`]).
//!
//! Time comes from the [`Clock`] in the state (tests inject one). Secrets —
//! passwords, tokens — are never logged.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, FromRequest, Request};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};
use idnode_registry::model::Quota;
use idnode_registry::service::accounts::actor_of;
use idnode_registry::service::{Actor, Limits, Registrar, ServiceError};
use serde::Serialize;
use serde_json::Value;
use tower_http::limit::RequestBodyLimitLayer;

use super::ApiDeps;
use crate::config::Config;
use crate::serve::http::PeerInfo;

mod alias;
mod data;
mod ent;
mod json;
mod login;
mod prefix;
mod templates;
#[cfg(test)]
mod tests;

pub use login::{account_hashes, hash_h1};

/// Seconds since the Unix epoch; injectable so tests can move time.
pub type Clock = Arc<dyn Fn() -> u64 + Send + Sync>;

/// The SNMS routes (empty when `snms.enabled` is false), mounted under
/// `snms.base_path`, on the daemon's clock.
pub fn router(deps: ApiDeps) -> Router {
    router_with_clock(deps, Arc::new(crate::unix_now))
}

/// [`router`] with an explicit clock.
pub fn router_with_clock(deps: ApiDeps, clock: Clock) -> Router {
    if !deps.cfg.snms.enabled {
        return Router::new();
    }
    let base = deps.cfg.snms.base_path.clone();
    let (small, large) = (deps.cfg.http.limits.max_body_bytes as usize, deps.cfg.limits.http_max_body_bytes as usize);
    let st = SnmsState::new(deps, clock);
    // Batch routes carry up to `snms.batch_limit` items: the large body limit.
    let batch = Router::new()
        .route("/identityv2/data/batchCreate", post(data::batch_create))
        .route("/identityv2/data/batchUpdate", put(data::batch_update))
        .route("/identityv2/data/batchDelete", delete(data::batch_delete))
        .layer(RequestBodyLimitLayer::new(large))
        .with_state(st.clone());
    let routes = Router::new()
        .route("/identity/token", post(login::plain))
        .route("/identity/token/v1", post(login::hashed))
        .route("/identity/registry", post(login::registry))
        .route("/identityv2/data", post(data::create).put(data::update).delete(data::delete_one))
        .route("/identityv2/data/detail", get(data::detail))
        .route("/identityv2/alias", post(alias::bind).get(alias::detail).delete(alias::unbind))
        .route(
            "/snms/api/v5/template",
            get(templates::get_v5).post(templates::create_v5).put(templates::edit_v5).delete(templates::remove),
        )
        .route("/snms/api/v3/template", get(templates::get_v3).post(templates::create_v3).delete(templates::remove))
        .route("/snms/api/prefix/query", get(prefix::query))
        .route("/snms/api/prefix/page", get(prefix::page))
        .route("/snms/api/ent/config", post(prefix::config))
        .route("/snms/api/v3/ent/apply", post(ent::apply))
        .route("/snms/api/ent/apply", post(ent::apply))
        .route("/snms/api/v3/ent/upgrade-apply", post(ent::upgrade_apply))
        .route("/snms/api/v3/ent/page", get(ent::page))
        .route("/snms/api/v3/ent/detail", get(ent::detail))
        .route("/snms/api/file/upload", post(ent::upload))
        .layer(RequestBodyLimitLayer::new(small))
        .with_state(st)
        .merge(batch);
    if base.is_empty() { routes } else { Router::new().nest(&base, routes) }
}

/// Shared state of the SNMS handlers.
#[derive(Clone)]
pub struct SnmsState {
    inner: Arc<Inner>,
}

struct Inner {
    reg: Registrar,
    cfg: Arc<Config>,
    clock: Clock,
    /// Failed-login budgets (shared with the other APIs).
    throttle: Arc<crate::api::auth::throttle::LoginThrottle>,
    /// Seals and opens hashed-login verifiers.
    sealer: Arc<crate::api::auth::sealed::Sealer>,
    /// Argon2id PHC of a random value: verified against when the username
    /// is unknown, so a failed login costs the same either way.
    dummy_phc: String,
}

impl std::fmt::Debug for SnmsState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SnmsState").finish_non_exhaustive()
    }
}

/// The service limits configured in `[snms]`.
pub fn limits_of(cfg: &Config) -> Limits {
    let nz = |v: u64| (v > 0).then_some(v);
    Limits {
        max_batch: cfg.snms.batch_limit as usize,
        enterprise_quota: Quota {
            max_registrations: nz(cfg.snms.enterprise_max_registrations),
            daily_requests: nz(cfg.snms.enterprise_daily_requests),
        },
        max_prefixes_per_enterprise: nz(cfg.snms.enterprise_max_prefixes),
        auto_approve: cfg.snms.auto_approve,
        proxy_server_ids: cfg.snms.proxy_server_ids.clone(),
    }
}

impl SnmsState {
    fn new(deps: ApiDeps, clock: Clock) -> Self {
        let reg = Registrar::new(deps.store.clone(), limits_of(&deps.cfg));
        let mut noise = [0u8; 32];
        rand::fill(&mut noise);
        let dummy_phc = hash_h1(&hex::encode(noise)).unwrap_or_default();
        let (throttle, sealer) = (deps.throttle, deps.sealer);
        SnmsState { inner: Arc::new(Inner { reg, cfg: deps.cfg, clock, throttle, sealer, dummy_phc }) }
    }

    fn now(&self) -> u64 {
        (self.inner.clock)()
    }

    fn cfg(&self) -> &Config {
        &self.inner.cfg
    }

    fn reg(&self) -> &Registrar {
        &self.inner.reg
    }

    /// Runs `f` on the blocking pool; a panic becomes `-4`.
    async fn blocking<F>(&self, f: F) -> Response
    where
        F: FnOnce(&SnmsState) -> Envelope + Send + 'static,
    {
        self.blocking_response(move |st| f(st).into_response()).await
    }

    /// [`Self::blocking`] for handlers that set the HTTP status themselves.
    async fn blocking_response<F>(&self, f: F) -> Response
    where
        F: FnOnce(&SnmsState) -> Response + Send + 'static,
    {
        let st = self.clone();
        match tokio::task::spawn_blocking(move || f(&st)).await {
            Ok(r) => r,
            Err(e) => {
                tracing::error!(error = %e, "SNMS handler panicked");
                Envelope::internal().into_response()
            }
        }
    }

    /// Authenticates the call's token, then runs `f` as that actor on the
    /// blocking pool.
    async fn authed<F>(&self, call: Call, f: F) -> Response
    where
        F: FnOnce(&SnmsState, &Actor, Call, u64) -> Result<Envelope, ServiceError> + Send + 'static,
    {
        self.blocking(move |st| {
            let now = st.now();
            let actor = match st.authenticate(&call, now) {
                Ok(a) => a,
                Err(e) => return Envelope::from_error(&e),
            };
            f(st, &actor, call, now).unwrap_or_else(|e| Envelope::from_error(&e))
        })
        .await
    }

    fn authenticate(&self, call: &Call, now: u64) -> Result<Actor, ServiceError> {
        if !call.secure {
            return Err(ServiceError::Unauthenticated(INSECURE.into()));
        }
        let token = bearer_token(&call.headers).ok_or_else(|| {
            ServiceError::Unauthenticated("没有登录，需要验证 (Authorization: Bearer <token> required)".into())
        })?;
        let identity = self.reg().authenticate(token, now)?;
        Ok(actor_of(&identity, call.origin()))
    }
}

/// Why credentials on this connection are not accepted.
const INSECURE: &str =
    "凭据只能通过HTTPS发送 (credentials are accepted over HTTPS, or over plain HTTP from a loopback client only)";

/// The token of `Authorization: Bearer <token>` (scheme in any case), or a
/// bare token; `None` for a missing header or another scheme (§1.4).
fn bearer_token(h: &HeaderMap) -> Option<&str> {
    let v = h.get(header::AUTHORIZATION)?.to_str().ok()?.trim();
    if v.is_empty() {
        return None;
    }
    match v.split_once(' ') {
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("bearer") => {
            let t = rest.trim();
            (!t.is_empty()).then_some(t)
        }
        Some(_) => None,
        None => Some(v),
    }
}

// ------------------------------------------------------------------ envelope

/// The SNMS response envelope (field order as in the docs).
#[derive(Debug, Clone, Serialize)]
pub struct Envelope {
    pub message: String,
    pub status: i32,
    pub data: Value,
}

/// Business status codes (§1.3).
pub mod status {
    pub const SUCCESS: i32 = 1;
    pub const NOT_LOGGED_IN: i32 = -1;
    pub const FAILURE: i32 = -2;
    pub const NO_PERMISSION: i32 = -3;
    pub const INTERNAL: i32 = -4;
    pub const TYPE_MISMATCH: i32 = 21000;
}

impl Envelope {
    pub fn ok(data: Value) -> Self {
        Envelope { message: "success".into(), status: status::SUCCESS, data }
    }

    pub fn fail(status: i32, message: impl Into<String>) -> Self {
        Envelope { message: message.into(), status, data: Value::Null }
    }

    fn internal() -> Self {
        Envelope::fail(status::INTERNAL, "系统繁忙")
    }

    /// The one place a service error becomes an envelope.
    pub fn from_error(e: &ServiceError) -> Self {
        match e {
            ServiceError::Unauthenticated(m) => Envelope::fail(status::NOT_LOGGED_IN, m.clone()),
            ServiceError::Forbidden(m) => Envelope::fail(status::NO_PERMISSION, m.clone()),
            ServiceError::TypeMismatch { .. } => Envelope::fail(status::TYPE_MISMATCH, e.to_string()),
            e if e.is_internal() => {
                tracing::error!(error = %e, "SNMS request failed in the store");
                Envelope::internal()
            }
            e => Envelope::fail(status::FAILURE, e.to_string()),
        }
    }
}

impl IntoResponse for Envelope {
    fn into_response(self) -> Response {
        match serde_json::to_vec(&self) {
            Ok(body) => ([(header::CONTENT_TYPE, "application/json;charset=UTF-8")], body).into_response(),
            Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
        }
    }
}

/// `缺少必要的请求参数: <name>` (§1.3).
fn missing_param(name: &str) -> ServiceError {
    ServiceError::Rejected(format!("缺少必要的请求参数: {name}"))
}

// ---------------------------------------------------------------------- call

/// Everything a handler reads from a request, owned so it can move to the
/// blocking pool.
#[derive(Debug)]
pub struct Call {
    headers: HeaderMap,
    query: HashMap<String, String>,
    peer: Option<IpAddr>,
    /// Credentials may be used on this connection (TLS, or loopback).
    secure: bool,
    body: Bytes,
}

impl Call {
    /// Where the call came from, for the audit log and login limits.
    fn origin(&self) -> String {
        self.peer.map_or_else(|| "unknown".to_owned(), |ip| ip.to_string())
    }

    /// A non-empty query parameter.
    fn param(&self, name: &str) -> Option<&str> {
        self.query.get(name).map(String::as_str).filter(|v| !v.trim().is_empty())
    }

    fn required(&self, name: &str) -> Result<&str, ServiceError> {
        self.param(name).ok_or_else(|| missing_param(name))
    }

    /// The body as JSON (§1.2: a missing Content-Type is JSON; other
    /// non-JSON types are refused naming the header).
    fn json(&self) -> Result<Value, ServiceError> {
        self.json_ok()?;
        if self.body.iter().all(u8::is_ascii_whitespace) {
            return Err(ServiceError::Invalid {
                field: "body".into(),
                reason: "请求体不能为空 (empty JSON body)".into(),
            });
        }
        serde_json::from_slice(&self.body).map_err(|e| ServiceError::Invalid {
            field: "body".into(),
            reason: format!("请求体不是合法的JSON (malformed JSON): {e}"),
        })
    }

    /// Checks the Content-Type allows a JSON body.
    fn json_ok(&self) -> Result<(), ServiceError> {
        if let Some(ct) = self.headers.get(header::CONTENT_TYPE) {
            let ct = ct.to_str().unwrap_or("").to_ascii_lowercase();
            let mime = ct.split(';').next().unwrap_or("").trim();
            if !(mime.is_empty() || mime.ends_with("/json") || mime.ends_with("+json") || mime == "text/plain") {
                return Err(ServiceError::Invalid {
                    field: "Content-Type".into(),
                    reason: format!("{mime} is not supported; send application/json"),
                });
            }
        }
        Ok(())
    }

    /// The body as JSON, or `None` when it is empty (DELETE with query
    /// parameters instead, §3.5, §4.7).
    fn json_opt(&self) -> Result<Option<Value>, ServiceError> {
        if self.body.iter().all(u8::is_ascii_whitespace) { Ok(None) } else { self.json().map(Some) }
    }
}

impl FromRequest<SnmsState> for Call {
    type Rejection = Response;

    async fn from_request(req: Request, st: &SnmsState) -> Result<Self, Response> {
        let (parts, body) = req.into_parts();
        let peer_info = parts.extensions.get::<ConnectInfo<PeerInfo>>().map(|c| c.0);
        let secure = crate::api::auth::plain_http_credentials_ok(peer_info.as_ref());
        // The first occurrence of a name wins (§1.2).
        let mut query = HashMap::new();
        for (k, v) in crate::api::query_pairs(&parts.uri) {
            query.entry(k).or_insert(v);
        }
        // The route's RequestBodyLimitLayer holds the body to its limit.
        let limit = st.cfg().limits.http_max_body_bytes as usize;
        let body = match axum::body::to_bytes(body, limit).await {
            Ok(b) => b,
            Err(e) => {
                let (code, why) = crate::api::errors::body_failure(&e, limit);
                let msg = if code == StatusCode::PAYLOAD_TOO_LARGE {
                    "请求体过大 (request body too large for this endpoint)".to_owned()
                } else {
                    why
                };
                return Err((code, Envelope::fail(status::FAILURE, msg)).into_response());
            }
        };
        Ok(Call { headers: parts.headers, query, peer: peer_info.map(|p| p.addr.ip()), secure, body })
    }
}
