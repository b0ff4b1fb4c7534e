//! Identifier data (snms-api.md §4): `POST/PUT/DELETE /identityv2/data`,
//! `GET /identityv2/data/detail`, `POST batchCreate`, `PUT batchUpdate`,
//! `DELETE batchDelete`.
//!
//! Batches are bare JSON arrays of at most `snms.batch_limit` (2000)
//! elements; more is refused before anything is parsed. Each element is
//! parsed on its own: a malformed element gets its own `msg` naming the
//! field, the valid ones go to the service, which commits them in one
//! store batch (one durable flush). Per-element results come back in input
//! order, with the envelope `status 1` even when every element failed.

use axum::extract::State;
use axum::response::Response;
use idnode_registry::model::template::{MAX_SNMS_VALUE_CHARS, MAX_TYPE_CHARS, MAX_VERSION_CHARS};
use idnode_registry::service::identifiers::{IdInput, IdValue, ItemResult};
use idnode_registry::service::{ServiceError, identifiers};
use serde_json::{Value, json};

use super::json::{Fields, invalid, mismatch};
use super::{Call, Envelope, SnmsState};

/// Longest `handle` (§4.1).
const MAX_HANDLE: usize = idnode_registry::ident::MAX_HTTP_HANDLE_CHARS;

/// Reads one identifier object (§4.1). Field names in errors are relative
/// to the object (`value[1].data.value`).
pub(super) fn parse_identifier(v: &Value) -> Result<IdInput, ServiceError> {
    let f = Fields::of(v, "")?;
    let handle = f.str_req("handle", MAX_HANDLE)?;
    let template_version = f.str_req("templateVersion", MAX_VERSION_CHARS)?;
    let list = f.arr("value")?.ok_or_else(|| invalid("value", "required"))?;
    let mut values = Vec::with_capacity(list.len());
    for (i, item) in list.iter().enumerate() {
        let base = format!("value[{i}]");
        let vf = Fields::of(item, &base)?;
        let index = vf.u32_opt("index")?.ok_or_else(|| invalid(vf.path("index"), "required"))?;
        let value_type = vf.str_req("type", MAX_TYPE_CHARS)?;
        let auth = vf.str_opt("auth", identifiers::MAX_AUTH_CHARS)?.unwrap_or_default();
        let data_path = format!("{base}.data");
        let df = vf.obj("data", &data_path)?.ok_or_else(|| invalid(data_path.clone(), "required"))?;
        if let Some(fmt) = df.str_opt("format", 32)?
            && !fmt.is_empty()
            && !fmt.eq_ignore_ascii_case("string")
        {
            return Err(invalid(df.path("format"), format!("{fmt:?} is not supported (only \"string\")")));
        }
        // [I9]: one doc table spells it `vlaue`.
        let data = match df.str_opt("value", MAX_SNMS_VALUE_CHARS)? {
            Some(s) => s,
            None => df.str_opt("vlaue", MAX_SNMS_VALUE_CHARS)?.ok_or_else(|| invalid(df.path("value"), "required"))?,
        };
        values.push(IdValue { index, value_type, auth, data });
    }
    Ok(IdInput { handle, template_version, values })
}

/// A well-formed identifier object, deserialised directly (no
/// intermediate `Value`): the fast path for large batches. Anything it
/// cannot take (a number where a string belongs, a wrong shape) sends the
/// whole body down the `Value` path, which reports per element.
#[derive(serde::Deserialize)]
struct FastItem {
    handle: String,
    #[serde(rename = "templateVersion")]
    template_version: String,
    value: Vec<FastValue>,
}

#[derive(serde::Deserialize)]
struct FastValue {
    index: FastIndex,
    #[serde(rename = "type")]
    value_type: String,
    #[serde(default)]
    auth: Option<String>,
    data: FastData,
}

/// `index`: a JSON number or a decimal string (§1.2).
enum FastIndex {
    Num(u32),
    Text(String),
}

impl<'de> serde::Deserialize<'de> for FastIndex {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = FastIndex;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an index")
            }
            fn visit_u64<E: serde::de::Error>(self, n: u64) -> Result<FastIndex, E> {
                u32::try_from(n).map(FastIndex::Num).map_err(|_| E::custom("index out of range"))
            }
            fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<FastIndex, E> {
                Ok(FastIndex::Text(s.to_owned()))
            }
        }
        d.deserialize_any(V)
    }
}

#[derive(serde::Deserialize)]
struct FastData {
    #[serde(default)]
    format: Option<String>,
    #[serde(default)]
    value: Option<String>,
}

impl FastItem {
    /// Same checks as [`parse_identifier`] on what serde already typed.
    fn into_input(self) -> Result<IdInput, ServiceError> {
        let mut values = Vec::with_capacity(self.value.len());
        for (i, v) in self.value.into_iter().enumerate() {
            let index = match v.index {
                FastIndex::Num(n) => n,
                FastIndex::Text(t) => t
                    .trim()
                    .parse()
                    .map_err(|_| mismatch(format!("value[{i}].index"), format!("{t:?} is not an integer")))?,
            };
            if let Some(fmt) = &v.data.format
                && !fmt.is_empty()
                && !fmt.eq_ignore_ascii_case("string")
            {
                return Err(invalid(
                    format!("value[{i}].data.format"),
                    format!("{fmt:?} is not supported (only \"string\")"),
                ));
            }
            let data = v.data.value.ok_or_else(|| invalid(format!("value[{i}].data.value"), "required"))?;
            if v.value_type.trim().is_empty() {
                return Err(invalid(format!("value[{i}].type"), "required"));
            }
            values.push(IdValue { index, value_type: v.value_type, auth: v.auth.unwrap_or_default(), data });
        }
        for (field, s) in [("handle", &self.handle), ("templateVersion", &self.template_version)] {
            if s.trim().is_empty() {
                return Err(invalid(field, "required"));
            }
        }
        Ok(IdInput { handle: self.handle, template_version: self.template_version, values })
    }
}

/// The `handle` of a batch element, for its result entry.
fn handle_of(v: &Value) -> String {
    match v.get("handle") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => String::new(),
    }
}

fn single(results: Vec<ItemResult>) -> Result<Envelope, ServiceError> {
    match results.into_iter().next() {
        Some(Ok(())) => Ok(Envelope::ok(json!(true))),
        Some(Err(e)) => Err(e),
        None => Err(ServiceError::Rejected("系统繁忙".into())),
    }
}

pub async fn create(State(st): State<SnmsState>, call: Call) -> Response {
    st.authed(call, |st, actor, call, now| {
        let item = parse_identifier(&call.json()?)?;
        single(st.reg().create_identifiers(actor, &[item], now)?)
    })
    .await
}

pub async fn update(State(st): State<SnmsState>, call: Call) -> Response {
    st.authed(call, |st, actor, call, now| {
        let item = parse_identifier(&call.json()?)?;
        single(st.reg().update_identifiers(actor, &[item], now)?)
    })
    .await
}

pub async fn delete_one(State(st): State<SnmsState>, call: Call) -> Response {
    st.authed(call, |st, actor, call, now| {
        let handle = match call.json_opt()? {
            Some(body) => Fields::of(&body, "")?.str_req("handle", MAX_HANDLE)?,
            None => call.required("handle")?.to_owned(),
        };
        single(st.reg().delete_identifiers(actor, &[handle], now)?)
    })
    .await
}

pub async fn detail(State(st): State<SnmsState>, call: Call) -> Response {
    st.authed(call, |st, actor, call, now| {
        let handle = call.required("handle")?;
        let d = st.reg().identifier_detail(actor, handle, now)?;
        let values: Vec<Value> = d
            .values
            .iter()
            .map(|v| {
                json!({
                    "index": v.index,
                    "type": v.value_type,
                    "auth": v.auth,
                    "data": { "format": "string", "value": v.data },
                })
            })
            .collect();
        Ok(Envelope::ok(json!({
            "code": "200",
            "prefix": d.prefix,
            "handle": d.handle,
            "templateVersion": d.template_version,
            "value": values,
        })))
    })
    .await
}

/// The elements of a batch body (a bare array), refused when over the limit.
fn batch_elements(st: &SnmsState, call: &Call, wrapper: Option<&str>) -> Result<Vec<Value>, ServiceError> {
    let body = call.json()?;
    let arr = match body {
        Value::Array(a) => a,
        // [I10]: batchDelete also accepts {"handles": [...]}.
        Value::Object(mut o) if wrapper.is_some_and(|w| o.contains_key(w)) => {
            match o.remove(wrapper.unwrap_or_default()) {
                Some(Value::Array(a)) => a,
                _ => return Err(mismatch(wrapper.unwrap_or_default(), "expected a JSON array")),
            }
        }
        _ => return Err(invalid("body", "请求体必须是JSON数组 (the body must be a JSON array)")),
    };
    let max = st.reg().limits().max_batch;
    if arr.len() > max {
        return Err(ServiceError::BatchTooLarge { got: arr.len(), max });
    }
    if arr.is_empty() {
        return Err(invalid("body", "批量数据不能为空 (empty batch)"));
    }
    Ok(arr)
}

/// Parses every element, runs the valid ones through `run`, and merges the
/// per-element results in input order.
fn run_batch<F>(
    elements: &[Value],
    parse: impl Fn(&Value) -> Result<IdInput, ServiceError>,
    run: F,
) -> Result<Vec<ItemResult>, ServiceError>
where
    F: FnOnce(&[IdInput]) -> Result<Vec<ItemResult>, ServiceError>,
{
    let mut results: Vec<Option<ItemResult>> = Vec::with_capacity(elements.len());
    let mut inputs = Vec::with_capacity(elements.len());
    let mut positions = Vec::with_capacity(elements.len());
    for (i, e) in elements.iter().enumerate() {
        match parse(e) {
            Ok(input) => {
                inputs.push(input);
                positions.push(i);
                results.push(None);
            }
            Err(err) => results.push(Some(Err(err))),
        }
    }
    if !inputs.is_empty() {
        for (pos, r) in positions.into_iter().zip(run(&inputs)?) {
            results[pos] = Some(r);
        }
    }
    Ok(results.into_iter().map(|r| r.unwrap_or(Ok(()))).collect())
}

fn msg(r: &ItemResult) -> String {
    match r {
        Ok(()) => "success".into(),
        Err(e) => Envelope::from_error(e).message,
    }
}

fn per_item(elements: &[Value], results: &[ItemResult]) -> Envelope {
    let data: Vec<Value> =
        elements.iter().zip(results).map(|(e, r)| json!({ "handle": handle_of(e), "msg": msg(r) })).collect();
    Envelope::ok(Value::Array(data))
}

/// The fast path: the body is an array of well-formed identifier objects
/// within the limit. `None` = use the `Value` path.
fn fast_batch(st: &SnmsState, call: &Call) -> Option<Vec<FastItem>> {
    call.json_ok().ok()?;
    let items: Vec<FastItem> = serde_json::from_slice(&call.body).ok()?;
    (!items.is_empty() && items.len() <= st.reg().limits().max_batch).then_some(items)
}

/// Runs typed items: per-item conversion errors stay per item.
fn run_fast<F>(items: Vec<FastItem>, run: F) -> Result<(Vec<String>, Vec<ItemResult>), ServiceError>
where
    F: FnOnce(&[IdInput]) -> Result<Vec<ItemResult>, ServiceError>,
{
    let handles: Vec<String> = items.iter().map(|i| i.handle.clone()).collect();
    let mut results: Vec<Option<ItemResult>> = Vec::with_capacity(items.len());
    let mut inputs = Vec::with_capacity(items.len());
    let mut positions = Vec::with_capacity(items.len());
    for (i, item) in items.into_iter().enumerate() {
        match item.into_input() {
            Ok(input) => {
                inputs.push(input);
                positions.push(i);
                results.push(None);
            }
            Err(e) => results.push(Some(Err(e))),
        }
    }
    if !inputs.is_empty() {
        for (pos, r) in positions.into_iter().zip(run(&inputs)?) {
            results[pos] = Some(r);
        }
    }
    Ok((handles, results.into_iter().map(|r| r.unwrap_or(Ok(()))).collect()))
}

fn per_handle(handles: &[String], results: &[ItemResult]) -> Envelope {
    let data: Vec<Value> = handles.iter().zip(results).map(|(h, r)| json!({ "handle": h, "msg": msg(r) })).collect();
    Envelope::ok(Value::Array(data))
}

pub async fn batch_create(State(st): State<SnmsState>, call: Call) -> Response {
    st.authed(call, |st, actor, call, now| {
        if let Some(items) = fast_batch(st, &call) {
            let (handles, results) = run_fast(items, |inputs| st.reg().create_identifiers(actor, inputs, now))?;
            return Ok(per_handle(&handles, &results));
        }
        let elements = batch_elements(st, &call, None)?;
        let results = run_batch(&elements, parse_identifier, |items| st.reg().create_identifiers(actor, items, now))?;
        Ok(per_item(&elements, &results))
    })
    .await
}

pub async fn batch_update(State(st): State<SnmsState>, call: Call) -> Response {
    st.authed(call, |st, actor, call, now| {
        if let Some(items) = fast_batch(st, &call) {
            let (handles, results) = run_fast(items, |inputs| st.reg().update_identifiers(actor, inputs, now))?;
            return Ok(per_handle(&handles, &results));
        }
        let elements = batch_elements(st, &call, None)?;
        let results = run_batch(&elements, parse_identifier, |items| st.reg().update_identifiers(actor, items, now))?;
        Ok(per_item(&elements, &results))
    })
    .await
}

pub async fn batch_delete(State(st): State<SnmsState>, call: Call) -> Response {
    st.authed(call, |st, actor, call, now| {
        let elements = batch_elements(st, &call, Some("handles"))?;
        let mut results: Vec<Option<ItemResult>> = Vec::with_capacity(elements.len());
        let mut handles = Vec::new();
        let mut positions = Vec::new();
        for (i, e) in elements.iter().enumerate() {
            match super::json::text(e, &format!("[{i}]"), MAX_HANDLE) {
                Ok(h) => {
                    handles.push(h);
                    positions.push(i);
                    results.push(None);
                }
                Err(err) => results.push(Some(Err(err))),
            }
        }
        if !handles.is_empty() {
            for (pos, r) in positions.into_iter().zip(st.reg().delete_identifiers(actor, &handles, now)?) {
                results[pos] = Some(r);
            }
        }
        let data: Vec<Value> = elements
            .iter()
            .zip(results)
            .map(|(e, r)| {
                let handle = match e {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                match r.unwrap_or(Ok(())) {
                    Ok(()) => json!({ "handle": handle, "code": 1, "msg": "success" }),
                    Err(ServiceError::NotFound) => json!({ "handle": handle, "code": -2, "msg": "标识不存在" }),
                    Err(e) => json!({ "handle": handle, "code": -2, "msg": Envelope::from_error(&e).message }),
                }
            })
            .collect();
        Ok(Envelope::ok(Value::Array(data)))
    })
    .await
}
