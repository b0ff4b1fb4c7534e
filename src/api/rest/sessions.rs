//! The REST session endpoints: `/api/sessions` and `/api/sessions/this`
//! (`Authorization: Handle` sessions).

use super::*;

// ------------------------------------------------------------ sessions

pub(super) fn session_json(s: &crate::api::auth::SessionView) -> Map<String, Json> {
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
pub(super) fn session_params(ctx: &Ctx) -> Result<Option<HandleParams>, ApiError> {
    let mut p = match ctx.headers.get(header::AUTHORIZATION) {
        None => None,
        Some(v) => match v.to_str().map_err(|_| "not ASCII".to_owned()).and_then(crate::api::auth::parse_authorization)
        {
            Ok(crate::api::auth::Credentials::Handle(p)) => Some(*p),
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
pub(super) async fn sessions_root(State(st): State<Arc<Rest>>, req: Request) -> Response {
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
pub(super) async fn session_this(State(st): State<Arc<Rest>>, req: Request) -> Response {
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
