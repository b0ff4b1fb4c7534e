//! The REST write endpoints: PUT (create, replace, add values, mint a
//! suffix) and DELETE (a handle or some of its values). HS_ADMIN
//! authorisation is decided here; every write then goes through the
//! registry service (`ApiDeps::reg`: quota, change log, audit entry).

use super::*;

/// Parses a PUT body: an array of values, `{"values": [...]}` (its
/// `handle`, if any, must name the target) or a single value.
pub(super) fn parse_put_body(st: &Rest, handle: &str, body: &[u8]) -> Result<Vec<Value>, ApiError> {
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
pub(super) struct StoreRecordsCmp<'a>(&'a dyn Store);

impl StoreRecordsCmp<'_> {
    fn same(&self, a: &str, b: &str) -> bool {
        self.0.canonical_key(a.as_bytes()) == self.0.canonical_key(b.as_bytes())
    }
}

/// PUT /api/handles/{handle}
pub(super) async fn put_handle(st: &Arc<Rest>, ctx: &Ctx, raw_handle: &str, body: Body) -> Result<Response, ApiError> {
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
    let actor = rest_actor(&who, ctx);
    let handle = blocking(move || {
        let st = st2.as_ref();
        let store = st.deps.store.as_ref();
        let ctx = WriteCtx::new(now, format!("rest:{who}"));
        // Every write goes through the registry service (quota, change log, audit).
        let write = |op: RecordOp| st.deps.reg.write_record(&actor, op, &ctx);
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
            write(RecordOp::AddValues { key, values, overwrite }).map_err(ApiError::from_service)?;
            return Ok(raw);
        }
        if let Some(prefix) = &prefix_for_mint {
            require(st, &who, &format!("{prefix}/x"), None, Action::CreateHandle)?;
            for _ in 0..8 {
                let mut r = [0u8; 8];
                rand::fill(&mut r);
                let minted = format!("{prefix}/{}", hex::encode(r));
                let key = store.canonical_key(minted.as_bytes());
                match write(RecordOp::Create { key, values: values.clone(), overwrite: false }) {
                    Ok(_) => return Ok(minted),
                    Err(ServiceError::Store(StoreError::AlreadyExists)) => continue,
                    Err(e) => return Err(ApiError::from_service(e)),
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
        write(RecordOp::Create { key, values, overwrite }).map_err(ApiError::from_service)?;
        Ok(raw)
    })
    .await?;
    let status = if overwrite { StatusCode::OK } else { StatusCode::CREATED };
    Ok(reply(&ctx.fmt, status, &json!({"responseCode": rc::SUCCESS, "handle": handle})))
}

/// DELETE /api/handles/{handle}[?index=N...]
pub(super) async fn delete_handle(st: &Arc<Rest>, ctx: &Ctx, handle: &str) -> Result<Response, ApiError> {
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
    let actor = rest_actor(&who, ctx);
    blocking(move || {
        let st = st2.as_ref();
        let store = st.deps.store.as_ref();
        let wctx = WriteCtx::new(now, format!("rest:{who}"));
        let write = |op: RecordOp| st.deps.reg.write_record(&actor, op, &wctx).map_err(ApiError::from_service);
        let Some(old) = load(store, &h)? else {
            return Err(ApiError::new(StatusCode::NOT_FOUND, rc::HANDLE_NOT_FOUND, "handle not found"));
        };
        let key = store.canonical_key(h.as_bytes());
        match indexes {
            None => {
                require(st, &who, &h, Some(&old), Action::DeleteHandle)?;
                write(RecordOp::Delete { key })?;
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
                write(RecordOp::RemoveValues { key, indexes: ix })?;
            }
        }
        Ok(())
    })
    .await?;
    Ok(reply(&ctx.fmt, StatusCode::OK, &json!({"responseCode": rc::SUCCESS, "handle": handle})))
}

/// The registry service's actor for an authenticated REST caller (the
/// Handle identity; HS_ADMIN authorisation is decided here, before the call).
pub(super) fn rest_actor(who: &Identity, ctx: &Ctx) -> Actor {
    let origin = ctx.peer.as_ref().map_or_else(|| "rest".to_owned(), |p| format!("rest:{}", p.addr.ip()));
    Actor::new(who.to_string(), Role::EnterpriseUser, None, origin)
}
