//! The admin API (`/admin/v1/...`): what the CLI uses while the daemon
//! holds the store (design.md §5), and what an operator's scripts may call.
//! JSON in, JSON out; the document is `docs/openapi.json`, served at
//! `GET /openapi.json` ([`openapi`]).
//!
//! | endpoint | methods | what |
//! |---|---|---|
//! | `/admin/v1/status` | GET | version, node prefix, role, last change-log sequence |
//! | `/admin/v1/records/{handle}` | GET, PUT, DELETE | one record in the export format ([`records`]) |
//! | `/admin/v1/import` | POST | JSON lines in, one result line per record out |
//! | `/admin/v1/export` | GET | every record (`?prefix=`) as streamed JSON lines |
//! | `/admin/v1/backup` | GET | a consistent gzip archive of the store (`?secrets=`), streamed ([`backup`]) |
//! | `/admin/v1/prefixes[/{prefix}[/state,/home,/unhome]]` | GET, POST | prefixes and their state machine ([`prefixes`]) |
//! | `/admin/v1/enterprises[/{id}[/approve]]` | GET, POST | enterprises ([`enterprises`]) |
//! | `/admin/v1/templates[/{prefix}/{version}]` | GET, PUT, DELETE | metadata templates ([`templates`]) |
//! | `/admin/v1/users[/{username}[/password,/disable,/enable]]` | GET, POST | API accounts ([`users`]) |
//! | `/admin/v1/stats`, `/admin/v1/stats/persist` | GET, POST | registrations and resolutions per prefix per day ([`stats`]) |
//! | `/admin/v1/audit` | GET | the audit log |
//!
//! Authentication ([`Who`]): `Authorization: Bearer <admin secret>` (the
//! file named by `admin.secret_file`, compared in constant time), or HTTP
//! Basic as the node administrator `300:0.NA/<node_prefix>` or an
//! `admin.server_admins` identity with its HS_SECKEY. Plain HTTP is taken
//! only from loopback clients; anything else must use HTTPS on the same
//! port. Failed attempts count against the client's network (the REST API's
//! limiter). Every write appends an audit entry (actor, action, target,
//! outcome, client address). Secrets are never logged.
//!
//! Errors are `{"error": {"code", "message", "field"}}` with a 4xx/5xx
//! status, mapped in one place ([`AdminError`]). Store and service calls
//! run on the blocking pool.

pub mod backup;
pub mod enterprises;
pub mod openapi;
pub mod prefixes;
pub mod records;
pub mod stats;
pub mod templates;
pub mod users;

#[cfg(test)]
mod tests;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::body::Body;
use axum::extract::FromRequestParts;
use axum::extract::connect_info::ConnectInfo;
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, any};
use idnode_registry::service::accounts::ct_eq;
use idnode_registry::service::{Actor, Registrar, ServiceError};
use idnode_registry::store::{Store, StoreError};
use idnode_resolver::auth::Identity;
use serde::de::DeserializeOwned;
use serde_json::json;

use super::ApiDeps;
use super::auth::{AuthState, Credentials, parse_authorization};
use crate::config::{Config, Secret};
use crate::serve::http::PeerInfo;

/// Path prefix of every admin endpoint.
pub const BASE: &str = "/admin/v1";

/// File in the data directory where the daemon writes the address its
/// admin door is bound to (the CLI reads it when `admin.listen` has port 0).
pub const ADDRESS_FILE: &str = "admin.addr";

/// Index of the node administrator's key (`300:0.NA/<node_prefix>`).
const ADMIN_KEY_INDEX: u32 = 300;

/// Shared state of the admin handlers.
#[derive(Debug)]
pub struct Admin {
    deps: ApiDeps,
    reg: Arc<Registrar>,
    auth: AuthMode,
    /// The failure limiter shared by every authentication attempt.
    limiter: AuthState,
}

/// How requests are authenticated.
#[derive(Debug)]
enum AuthMode {
    /// The daemon: the admin secret (if its file could be read) and the
    /// identities allowed Basic authentication.
    Remote { secret: Option<Secret>, identities: Vec<Identity> },
    /// The CLI's in-process router over a store it opened itself: every
    /// request is the local operator.
    Local,
}

type St = Arc<Admin>;

impl Admin {
    fn store(&self) -> &dyn Store {
        &*self.deps.store
    }

    fn store_arc(&self) -> Arc<dyn Store> {
        self.deps.store.clone()
    }

    /// The outbox's status as JSON (`null` when this node has no outbox).
    fn outbox_json(&self) -> serde_json::Value {
        self.deps.outbox.as_ref().map_or(serde_json::Value::Null, |o| o.to_json())
    }

    /// The mirror follower's status as JSON (`null` unless a mirror).
    fn mirror_json(&self) -> serde_json::Value {
        self.deps.mirror.as_ref().map_or(serde_json::Value::Null, |m| m.to_json())
    }

    fn cfg(&self) -> &Config {
        &self.deps.cfg
    }

    fn reg(&self) -> &Registrar {
        &self.reg
    }

    /// Largest JSON request body.
    fn max_body(&self) -> usize {
        self.deps.cfg.limits.http_max_body_bytes as usize
    }

    /// The node administrator's identity.
    fn admin_identity(&self) -> String {
        format!("{ADMIN_KEY_INDEX}:{}", idnode_registry::ident::prefix_handle(&self.cfg().node.node_prefix))
    }
}

/// Every route of the admin API with its methods: the router is built from
/// this table, and a test checks it against `docs/openapi.json`.
pub struct Routes {
    router: Router<St>,
    table: Vec<(&'static str, &'static [&'static str])>,
}

impl Routes {
    fn add(mut self, path: &'static str, methods: &'static [&'static str], mr: MethodRouter<St>) -> Self {
        let allow = methods.join(", ");
        let mr = mr.fallback(move || {
            let allow = allow.clone();
            async move {
                let mut r = AdminError::new(
                    StatusCode::METHOD_NOT_ALLOWED,
                    "method_not_allowed",
                    format!("this endpoint takes {allow}"),
                )
                .into_response();
                if let Ok(v) = HeaderValue::from_str(&allow) {
                    r.headers_mut().insert(header::ALLOW, v);
                }
                r
            }
        });
        self.router = self.router.route(path, mr);
        self.table.push((path, methods));
        self
    }

    /// `(path, methods)` of every admin route, paths in axum syntax.
    #[cfg(test)]
    pub fn table(&self) -> &[(&'static str, &'static [&'static str])] {
        &self.table
    }
}

/// The admin routes (without state).
pub fn routes() -> Routes {
    use axum::routing::{get, post};
    let r = Routes { router: Router::new(), table: Vec::new() };
    r.add("/admin/v1/status", &["GET"], get(stats::status))
        .add(
            "/admin/v1/records/{*handle}",
            &["GET", "PUT", "DELETE"],
            get(records::get).put(records::put).delete(records::delete),
        )
        .add("/admin/v1/import", &["POST"], post(records::import))
        .add("/admin/v1/export", &["GET"], get(records::export))
        .add("/admin/v1/backup", &["GET"], get(backup::backup))
        .add("/admin/v1/prefixes", &["GET", "POST"], get(prefixes::list).post(prefixes::create))
        .add("/admin/v1/prefixes/{prefix}", &["GET"], get(prefixes::get))
        .add("/admin/v1/prefixes/{prefix}/state", &["POST"], post(prefixes::set_state))
        .add("/admin/v1/prefixes/{prefix}/home", &["POST"], post(prefixes::home))
        .add("/admin/v1/prefixes/{prefix}/unhome", &["POST"], post(prefixes::unhome))
        .add("/admin/v1/enterprises", &["GET", "POST"], get(enterprises::list).post(enterprises::create))
        .add("/admin/v1/enterprises/{id}", &["GET"], get(enterprises::get))
        .add("/admin/v1/enterprises/{id}/approve", &["POST"], post(enterprises::approve))
        .add("/admin/v1/templates", &["GET"], get(templates::list))
        .add(
            "/admin/v1/templates/{prefix}/{version}",
            &["GET", "PUT", "DELETE"],
            get(templates::get).put(templates::put).delete(templates::delete),
        )
        .add("/admin/v1/users", &["GET", "POST"], get(users::list).post(users::create))
        .add("/admin/v1/users/{username}", &["GET"], get(users::get))
        .add("/admin/v1/users/{username}/password", &["POST"], post(users::passwd))
        .add("/admin/v1/users/{username}/disable", &["POST"], post(users::disable))
        .add("/admin/v1/users/{username}/enable", &["POST"], post(users::enable))
        .add("/admin/v1/stats", &["GET"], get(stats::stats))
        .add("/admin/v1/stats/persist", &["POST"], post(stats::persist))
        .add("/admin/v1/audit", &["GET"], get(stats::audit))
}

/// The admin API as the daemon serves it (empty but for `/openapi.json`
/// when `admin.api_enabled` is false).
pub fn router(deps: ApiDeps) -> Router {
    let doc = openapi::router();
    if !deps.cfg.admin.api_enabled {
        return doc;
    }
    let secret_path = deps.cfg.admin_secret_path();
    let secret = match Secret::from_file(&secret_path) {
        Ok(s) => Some(s),
        Err(e) => {
            tracing::warn!(path = %secret_path.display(), error = %e, "admin secret unreadable: the admin API accepts only HTTP Basic");
            None
        }
    };
    let mut identities = Vec::new();
    let own = format!("{ADMIN_KEY_INDEX}:{}", idnode_registry::ident::prefix_handle(&deps.cfg.node.node_prefix));
    for s in std::iter::once(&own).chain(deps.cfg.admin.server_admins.iter()) {
        if let Ok(i) = Identity::parse(s) {
            identities.push(i);
        }
    }
    doc.merge(build(deps, AuthMode::Remote { secret, identities }))
}

/// The admin API over a store the CLI opened itself (no daemon running):
/// no authentication, the actor is the local operator (`cli`).
pub fn local_router(deps: ApiDeps) -> Router {
    build(deps, AuthMode::Local)
}

fn build(deps: ApiDeps, auth: AuthMode) -> Router {
    let reg = deps.reg.clone();
    let pages = crate::web::api_router(deps.clone());
    let limiter = AuthState::new(false, Vec::new(), deps.throttle.clone());
    let st = Arc::new(Admin { deps, reg, auth, limiter });
    routes()
        .router
        .route("/admin", any(unknown_endpoint))
        .route("/admin/", any(unknown_endpoint))
        .route("/admin/{*rest}", any(unknown_endpoint))
        .with_state(st)
        .merge(pages)
}

async fn unknown_endpoint() -> AdminError {
    AdminError::new(StatusCode::NOT_FOUND, "not_found", "no such admin endpoint (see /openapi.json)")
}

/// Writes the admin door's bound address to [`ADDRESS_FILE`] in the data
/// directory, for the CLI (failures are logged: the CLI can still be told
/// the address through the configuration).
pub fn publish_address(cfg: &Config, http: SocketAddr) {
    let path = address_file(cfg);
    let tmp = path.with_extension("addr.tmp");
    let r = std::fs::write(&tmp, format!("{http}\n")).and_then(|()| std::fs::rename(&tmp, &path));
    if let Err(e) = r {
        tracing::warn!(path = %path.display(), error = %e, "cannot record the admin address for the CLI");
    }
}

/// Where [`publish_address`] writes.
pub fn address_file(cfg: &Config) -> PathBuf {
    cfg.data_dir().join(ADDRESS_FILE)
}

/// Reads the address [`publish_address`] wrote, if any.
pub fn published_address(data_dir: &Path) -> Option<SocketAddr> {
    std::fs::read_to_string(data_dir.join(ADDRESS_FILE)).ok()?.trim().parse().ok()
}

// ------------------------------------------------------------------ errors

/// An admin API failure: HTTP status + `{"error": {code, message, field}}`.
#[derive(Debug, Clone)]
pub struct AdminError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub field: Option<String>,
    headers: Vec<(header::HeaderName, String)>,
}

impl AdminError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        AdminError { status, code, message: message.into(), field: None, headers: Vec::new() }
    }

    /// 400 naming the offending field.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        let mut e = AdminError::new(StatusCode::BAD_REQUEST, "invalid", message);
        e.field = Some(field.into());
        e
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        AdminError::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    fn internal() -> Self {
        AdminError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "internal error (see the node's log)")
    }

    fn with_header(mut self, name: header::HeaderName, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    /// The JSON body.
    pub fn body(&self) -> serde_json::Value {
        json!({"error": {"code": self.code, "message": self.message, "field": self.field}})
    }
}

impl IntoResponse for AdminError {
    fn into_response(self) -> Response {
        let mut r = (self.status, Json(self.body())).into_response();
        for (k, v) in &self.headers {
            if let Ok(v) = HeaderValue::from_str(v) {
                r.headers_mut().append(k.clone(), v);
            }
        }
        r
    }
}

impl From<StoreError> for AdminError {
    fn from(e: StoreError) -> Self {
        let (status, code) = match &e {
            StoreError::AlreadyExists | StoreError::EntityExists { .. } => (StatusCode::CONFLICT, "already_exists"),
            StoreError::ValueExists(_) => (StatusCode::CONFLICT, "already_exists"),
            StoreError::NotFound | StoreError::EntityNotFound { .. } | StoreError::ValueNotFound(_) => {
                (StatusCode::NOT_FOUND, "not_found")
            }
            StoreError::DuplicateIndex(_) | StoreError::Invalid(_) => (StatusCode::BAD_REQUEST, "invalid"),
            StoreError::Limit(_) => (StatusCode::BAD_REQUEST, "limit"),
            StoreError::State(_) => (StatusCode::CONFLICT, "illegal_state"),
            StoreError::Conflict { .. } => (StatusCode::CONFLICT, "conflict"),
            StoreError::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            _ if !e.is_client_error() => {
                tracing::error!(error = %e, "admin API: store failure");
                return AdminError::internal();
            }
            _ => (StatusCode::BAD_REQUEST, "invalid"),
        };
        AdminError::new(status, code, e.to_string())
    }
}

impl From<ServiceError> for AdminError {
    fn from(e: ServiceError) -> Self {
        match e {
            ServiceError::Store(s) => s.into(),
            ServiceError::Invalid { field, reason } | ServiceError::TypeMismatch { field, reason } => {
                AdminError::invalid(field, reason)
            }
            ServiceError::Template(v) => AdminError::invalid(v.field.clone(), v.to_string()),
            ServiceError::Unauthenticated(m) => AdminError::new(StatusCode::UNAUTHORIZED, "unauthenticated", m),
            ServiceError::Forbidden(m) => AdminError::new(StatusCode::FORBIDDEN, "forbidden", m),
            ServiceError::AlreadyExists => AdminError::new(StatusCode::CONFLICT, "already_exists", e.to_string()),
            ServiceError::NotFound | ServiceError::EntityNotFound { .. } => AdminError::not_found(e.to_string()),
            ServiceError::Rejected(m) => AdminError::new(StatusCode::CONFLICT, "rejected", m),
            ServiceError::BatchTooLarge { .. } => {
                AdminError::new(StatusCode::PAYLOAD_TOO_LARGE, "too_large", e.to_string())
            }
            ServiceError::Quota { .. } => AdminError::new(StatusCode::TOO_MANY_REQUESTS, "quota", e.to_string()),
            other => AdminError::new(StatusCode::BAD_REQUEST, "invalid", other.to_string()),
        }
    }
}

// ------------------------------------------------------------ who is asking

/// The authenticated caller of an admin endpoint (extractor: rejects with
/// 401/403/429 JSON before the handler runs).
#[derive(Debug, Clone)]
pub struct Who {
    pub actor: Actor,
}

impl FromRequestParts<St> for Who {
    type Rejection = AdminError;

    async fn from_request_parts(parts: &mut Parts, st: &St) -> Result<Self, Self::Rejection> {
        let peer = parts.extensions.get::<ConnectInfo<PeerInfo>>().map(|c| c.0);
        let (secret, identities) = match &st.auth {
            AuthMode::Local => return Ok(Who { actor: Actor::admin("cli", "cli") }),
            AuthMode::Remote { secret, identities } => (secret, identities),
        };
        let Some(peer) = peer.filter(|p| p.tls || p.is_loopback()) else {
            return Err(AdminError::new(
                StatusCode::FORBIDDEN,
                "insecure_channel",
                "the admin API takes plain HTTP only from loopback clients; use HTTPS (same port)",
            ));
        };
        let origin = peer.addr.ip().to_string();
        let unauthorized = |msg: &str| {
            AdminError::new(StatusCode::UNAUTHORIZED, "unauthenticated", msg)
                .with_header(header::WWW_AUTHENTICATE, "Bearer realm=\"idnode-admin\"")
                .with_header(header::WWW_AUTHENTICATE, "Basic realm=\"idnode-admin\"")
        };
        let Some(raw) = parts.headers.get(header::AUTHORIZATION) else {
            return Err(unauthorized(
                "authentication required: Authorization: Bearer <admin secret> or Basic 300:0.NA/<node prefix>",
            ));
        };
        if let Some(wait) = st.limiter.blocked_for(Some(peer.addr.ip()), None) {
            return Err(AdminError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                format!("too many failed authentication attempts from this address; retry in {wait} s"),
            )
            .with_header(header::RETRY_AFTER, wait.to_string()));
        }
        let raw = raw.to_str().unwrap_or("").trim();
        let (scheme, rest) = raw.split_once(char::is_whitespace).unwrap_or((raw, ""));
        let proven: Option<String> = if scheme.eq_ignore_ascii_case("Bearer") {
            let presented = rest.trim().as_bytes();
            secret.as_ref().filter(|s| ct_eq(s.expose(), presented)).map(|_| st.admin_identity())
        } else if scheme.eq_ignore_ascii_case("Basic") {
            match parse_authorization(raw) {
                Ok(Credentials::Basic { identity, secret }) if identities.contains(&identity) => {
                    let store = st.store_arc();
                    let id = identity.clone();
                    let ok = tokio::task::spawn_blocking(move || {
                        idnode_resolver::auth::authenticate_password(
                            &idnode_resolver::auth::StoreRecords(&*store),
                            &id,
                            &secret,
                        )
                    })
                    .await
                    .map_err(|_| AdminError::internal())?;
                    match ok {
                        Ok(true) => Some(identity.to_string()),
                        Ok(false) => None,
                        Err(e) if e.is_client_error() => None,
                        Err(e) => {
                            tracing::error!(error = %e, "admin API: authentication could not read the store");
                            return Err(AdminError::internal());
                        }
                    }
                }
                _ => None,
            }
        } else {
            None
        };
        match proven {
            Some(username) => Ok(Who { actor: Actor::admin(username, origin) }),
            None => {
                st.limiter.record_failure(Some(peer.addr.ip()), None);
                tracing::info!(peer = %origin, scheme = %scheme.chars().take(16).collect::<String>(), "admin API authentication failed");
                Err(unauthorized("authentication failed"))
            }
        }
    }
}

// ------------------------------------------------------------------ helpers

/// Runs store / service work on the blocking pool.
pub(crate) async fn blocking<T, F>(f: F) -> Result<T, AdminError>
where
    F: FnOnce() -> Result<T, AdminError> + Send + 'static,
    T: Send + 'static,
{
    match tokio::task::spawn_blocking(f).await {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(error = %e, "admin API handler panicked");
            Err(AdminError::internal())
        }
    }
}

/// Reads a JSON body of at most `max` bytes into `T` (400 naming the field
/// serde complains about; 413 over the limit).
pub(crate) async fn read_json<T: DeserializeOwned>(body: Body, max: usize) -> Result<T, AdminError> {
    let bytes = axum::body::to_bytes(body, max).await.map_err(|_| {
        AdminError::new(StatusCode::PAYLOAD_TOO_LARGE, "too_large", format!("request body over {max} bytes"))
    })?;
    let bytes: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) { b"{}" } else { &bytes };
    serde_json::from_slice(bytes).map_err(|e| {
        let msg = e.to_string();
        let field = msg.split('`').nth(1).filter(|_| msg.contains("field")).unwrap_or("body").to_owned();
        AdminError::invalid(field, format!("invalid JSON body: {msg}"))
    })
}

/// Query parameters (`+` is a space, percent-decoded), in order; an
/// extractor over axum's `Query`.
#[derive(Debug, Clone, Default)]
pub(crate) struct Query(Vec<(String, String)>);

impl<S: Send + Sync> FromRequestParts<S> for Query {
    type Rejection = AdminError;

    async fn from_request_parts(parts: &mut Parts, _st: &S) -> Result<Self, Self::Rejection> {
        Ok(Query::of(&parts.uri))
    }
}

impl Query {
    /// The query string of `uri`, through axum's `Query` extractor.
    pub(crate) fn of(uri: &axum::http::Uri) -> Query {
        Query(super::query_pairs(uri))
    }

    /// A non-empty parameter.
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(k, v)| k == name && !v.is_empty()).map(|(_, v)| v.as_str())
    }

    /// A boolean flag: bare `?x`, `true`, `1`, `yes` = true.
    pub(crate) fn flag(&self, name: &str) -> Result<bool, AdminError> {
        match self.0.iter().find(|(k, _)| k == name).map(|(_, v)| v.to_ascii_lowercase()) {
            None => Ok(false),
            Some(v) => match v.as_str() {
                "" | "true" | "1" | "yes" => Ok(true),
                "false" | "0" | "no" => Ok(false),
                _ => Err(AdminError::invalid(name, format!("{v:?} is not a boolean"))),
            },
        }
    }

    /// An unsigned integer parameter within `range`, or `default`.
    pub(crate) fn u64_in(
        &self,
        name: &str,
        range: std::ops::RangeInclusive<u64>,
        default: u64,
    ) -> Result<u64, AdminError> {
        match self.get(name) {
            None => Ok(default),
            Some(v) => match v.parse::<u64>() {
                Ok(n) if range.contains(&n) => Ok(n),
                _ => Err(AdminError::invalid(
                    name,
                    format!("{v:?} is not a number between {} and {}", range.start(), range.end()),
                )),
            },
        }
    }
}

/// Appends an audit entry for a write (`outcome` = `ok` or the error code).
/// An audit failure is logged; the write itself already happened.
pub(crate) fn audit(st: &Admin, who: &Who, action: &str, target: &str, outcome: &str) {
    if let Err(e) = idnode_registry::service::audit(st.store(), &who.actor, action, target, outcome, crate::unix_now())
    {
        tracing::error!(error = %e, action, "admin API: appending the audit entry failed");
    }
}

/// Audits the outcome of a write done directly on the store (success and
/// failure alike) and passes the result through.
pub(crate) fn audited<T>(
    st: &Admin,
    who: &Who,
    action: &str,
    target: &str,
    r: Result<T, AdminError>,
) -> Result<T, AdminError> {
    let outcome = match &r {
        Ok(_) => "ok",
        Err(e) => e.code,
    };
    audit(st, who, action, target, outcome);
    r
}

/// Audits only a failure (for service calls that audit their successes).
pub(crate) fn audit_failure<T>(
    st: &Admin,
    who: &Who,
    action: &str,
    target: &str,
    r: Result<T, AdminError>,
) -> Result<T, AdminError> {
    if let Err(e) = &r {
        audit(st, who, action, target, e.code);
    }
    r
}
