//! Plumbing shared by the REST handlers: output options and parameters,
//! the error body, the request context, method gates, body reading,
//! authentication and HS_ADMIN checks, and `spawn_blocking`.

use super::*;

// ------------------------------------------------------------ plumbing

/// Output options (`pretty`, JSONP `callback`).
#[derive(Debug, Clone, Default)]
pub(super) struct Fmt {
    pub(super) pretty: bool,
    pub(super) callback: Option<String>,
}

/// Query (and JSON-body) parameters, in order, repeatable.
#[derive(Debug, Clone, Default)]
pub(super) struct Params(pub(super) Vec<(String, String)>);

impl Params {
    /// The query string's parameters (`+` is a space in query values, as
    /// in forms), through axum's `Query` extractor.
    pub(super) fn from_uri(uri: &axum::http::Uri) -> Params {
        Params(crate::api::query_pairs(uri))
    }

    /// Adds the members of a JSON object body (POST = GET with parameters).
    pub(super) fn extend_from_json(&mut self, body: &Json) -> Result<(), String> {
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

    pub(super) fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.0.iter().filter(move |(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    pub(super) fn first<'a>(&'a self, name: &'a str) -> Option<&'a str> {
        self.all(name).next()
    }

    /// CNRI boolean: bare `?x` or `true` / `yes` (any case) = true; other
    /// values false; absent = `None`.
    pub(super) fn flag(&self, name: &str) -> Option<bool> {
        self.first(name).map(|v| v.is_empty() || v.eq_ignore_ascii_case("true") || v.eq_ignore_ascii_case("yes"))
    }

    pub(super) fn fmt(&self) -> Fmt {
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
    pub(super) fn indexes(&self) -> Result<Option<Vec<u32>>, String> {
        let raw: Vec<&str> = self.all("index").collect();
        if raw.is_empty() {
            return Ok(None);
        }
        raw.iter()
            .map(|s| s.trim().parse::<u32>().map_err(|_| format!("index {s:?} is not an unsigned integer")))
            .collect::<Result<Vec<_>, _>>()
            .map(Some)
    }

    pub(super) fn int(&self, name: &str, default: i64) -> Result<i64, String> {
        match self.first(name) {
            None => Ok(default),
            Some(s) => s.trim().parse::<i64>().map_err(|_| format!("{name} {s:?} is not an integer")),
        }
    }
}

/// A JSON answer.
pub(super) fn reply<T: serde::Serialize + ?Sized>(fmt: &Fmt, status: StatusCode, body: &T) -> Response {
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
pub(super) struct ApiError {
    pub(super) status: StatusCode,
    pub(super) rc: u32,
    pub(super) message: String,
    pub(super) handle: Option<String>,
    pub(super) headers: Vec<(HeaderName, String)>,
}

impl ApiError {
    pub(super) fn new(status: StatusCode, rc: u32, message: impl Into<String>) -> Self {
        ApiError { status, rc, message: message.into(), handle: None, headers: Vec::new() }
    }

    pub(super) fn handle(mut self, h: &str) -> Self {
        self.handle = Some(h.to_owned());
        self
    }

    pub(super) fn bad(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, rc::PROTOCOL_ERROR, message)
    }

    pub(super) fn internal(what: &str, e: impl std::fmt::Display) -> Self {
        tracing::error!(error = %e, "{what}");
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, rc::ERROR, "internal error")
    }

    pub(super) fn from_auth(f: AuthFailure) -> Self {
        ApiError { status: f.status, rc: f.rc, message: f.message, handle: None, headers: f.headers }
    }

    pub(super) fn forbidden(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::FORBIDDEN, rc::INSUFFICIENT_PERMISSIONS, message)
    }

    /// The one place store errors become HTTP answers.
    pub(super) fn from_store(e: StoreError) -> Self {
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
            e @ StoreError::Unavailable(_) => unavailable(&e),
            e @ StoreError::Conflict { .. } => ApiError::new(StatusCode::CONFLICT, rc::ERROR, e.to_string()),
            e if e.is_client_error() => ApiError::bad(e.to_string()),
            e => ApiError::internal("store write failed", e),
        }
    }

    /// An error of the registry service (quotas: RC 603/604 with 429).
    pub(super) fn from_service(e: ServiceError) -> Self {
        match e {
            ServiceError::Store(s) => ApiError::from_store(s),
            e @ ServiceError::Quota { .. } => ApiError::new(StatusCode::TOO_MANY_REQUESTS, e.idis_rc(), e.to_string()),
            e if e.is_internal() => ApiError::internal("registry service write failed", e),
            e => ApiError::new(StatusCode::BAD_REQUEST, e.idis_rc(), e.to_string()),
        }
    }

    pub(super) fn into_response(self, fmt: &Fmt) -> Response {
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
pub(super) struct Ctx {
    pub(super) method: Method,
    pub(super) headers: HeaderMap,
    pub(super) peer: Option<PeerInfo>,
    pub(super) params: Params,
    pub(super) fmt: Fmt,
    pub(super) now: u64,
}

impl Ctx {
    pub(super) fn of(req: &Request) -> Ctx {
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

    pub(super) fn ip(&self) -> Option<IpAddr> {
        self.peer.map(|p| p.addr.ip())
    }

    pub(super) fn is_json(&self) -> bool {
        self.headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|ct| ct.split(';').next().unwrap_or("").trim().eq_ignore_ascii_case("application/json"))
            .unwrap_or(false)
    }
}

/// 501 for unknown methods, 204 for OPTIONS, 405 for `allowed` misses.
pub(super) fn method_gate(ctx: &Ctx, path: &str, allowed: &[Method]) -> Option<Response> {
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
pub(super) async fn read_body(st: &Rest, body: Body) -> Result<axum::body::Bytes, ApiError> {
    axum::body::to_bytes(body, st.max_body).await.map_err(|e| {
        let (status, message) = crate::api::errors::body_failure(&e, st.max_body);
        ApiError::new(status, rc::PROTOCOL_ERROR, message)
    })
}

/// For POST-as-GET: folds a JSON body into the parameters.
pub(super) async fn absorb_post_params(st: &Rest, ctx: &mut Ctx, body: Body) -> Result<(), ApiError> {
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
pub(super) fn authenticate(st: &Rest, ctx: &Ctx) -> Result<Caller, ApiError> {
    st.auth
        .authenticate(&StoreRecords(st.deps.store.as_ref()), &ctx.headers, ctx.peer.as_ref(), ctx.now)
        .map_err(ApiError::from_auth)
}

/// The answer when an operation needs an identity the caller lacks: 401
/// with a challenge, or 403 when credentials cannot be used on this
/// connection.
pub(super) fn needs_auth(st: &Rest, ctx: &Ctx, caller: &Caller, what: &str) -> ApiError {
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
pub(super) fn responsible(store: &dyn Store, handle: &str) -> bool {
    let prefix = prefix_of(handle.as_bytes());
    !handle.contains('/') || prefix.eq_ignore_ascii_case(GLOBAL_NA.as_bytes()) || store.longest_homed(prefix).is_some()
}

/// The record of `handle`, decoded.
pub(super) fn load(store: &dyn Store, handle: &str) -> Result<Option<Vec<Value>>, ApiError> {
    let key = store.canonical_key(handle.as_bytes());
    match store.get_record(&key) {
        Ok(None) => Ok(None),
        Ok(Some(r)) => r.values().map(Some).map_err(|e| ApiError::internal("stored record undecodable", e)),
        Err(e) if e.is_unavailable() => Err(unavailable(&e)),
        Err(e) => Err(ApiError::internal("store read failed", e)),
    }
}

/// The handle in the path after `prefix`, percent-decoded (`+` kept).
pub(super) fn path_handle(req: &Request, prefix: &str) -> Result<String, ApiError> {
    let raw = req.uri().path().strip_prefix(prefix).unwrap_or("");
    percent_encoding::percent_decode_str(raw).decode_utf8().map(|c| c.into_owned()).map_err(|_| {
        ApiError::new(StatusCode::BAD_REQUEST, rc::INVALID_HANDLE, "handle is not UTF-8 after percent-decoding")
    })
}

pub(super) fn check_handle(h: &str) -> Result<(), ApiError> {
    Identifier::parse_http(h).map(|_| ()).map_err(|e| {
        ApiError::new(StatusCode::BAD_REQUEST, rc::INVALID_HANDLE, format!("invalid handle: {e}")).handle(h)
    })
}

pub(super) fn is_admin_type(v: &Value) -> bool {
    v.value_type.eq_ignore_ascii_case(b"HS_ADMIN")
}

pub(super) fn policy(st: &Rest) -> Policy<'_> {
    Policy { server_admins: &st.auth.server_admins, ..Policy::default() }
}

/// Runs `authorize` and turns "no" into 403 naming the identity.
pub(super) fn require(
    st: &Rest,
    who: &Identity,
    target: &str,
    values: Option<&[Value]>,
    action: Action,
) -> Result<(), ApiError> {
    match authorize(&StoreRecords(st.deps.store.as_ref()), who, target, values, action, &policy(st)) {
        Ok(true) => Ok(()),
        Ok(false) => Err(ApiError::forbidden(format!("{who} may not {} {target}", describe(action))).handle(target)),
        Err(e) if e.is_client_error() => Err(ApiError::forbidden(e.to_string())),
        Err(idnode_resolver::auth::AuthError::Store(e)) if e.is_unavailable() => Err(unavailable(&e)),
        Err(e) => Err(ApiError::internal("authorisation could not read the store", e)),
    }
}

pub(super) fn describe(a: Action) -> &'static str {
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

pub(super) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f).await.map_err(|e| ApiError::internal("request task failed", e))?
}

/// The store's backend cannot be reached: 503, retry later (issue 11).
pub(super) fn unavailable(e: &StoreError) -> ApiError {
    ApiError::new(StatusCode::SERVICE_UNAVAILABLE, rc::ERROR, format!("{e}; retry later"))
}
