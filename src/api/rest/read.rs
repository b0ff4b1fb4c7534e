//! The REST read endpoints: resolve one handle, list a prefix's handles,
//! the homed prefixes and this node's site.

use super::*;

/// GET /api/handles/{handle}
pub(super) fn get_handle(st: &Rest, ctx: &Ctx, asked: &str) -> Result<Response, ApiError> {
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
        idnode_registry::topids::note(handle.as_bytes());
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

/// GET /api/handles?prefix=0.NA/P (or P)[&page=N&pageSize=M]
pub(super) async fn list_handles(st: &Arc<Rest>, ctx: &Ctx) -> Result<Response, ApiError> {
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
pub(super) async fn prefixes(State(st): State<Arc<Rest>>, req: Request) -> Response {
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
pub(super) async fn site(State(st): State<Arc<Rest>>, req: Request) -> Response {
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
