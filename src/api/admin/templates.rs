//! Metadata templates, in the SNMS v5 shape (snms-api.md §3.1, camelCase):
//! list, read, put (create a new version, or edit an existing one with the
//! service's incremental rules: items are added or changed, never removed),
//! delete (refused while an identifier uses the version). The rules are the
//! registration service's (`idnode_registry::service::templates`).

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use idnode_registry::model::Template;
use idnode_registry::service::templates::{ItemInput, TemplateInput};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{AdminError, Query, St, Who, audit_failure, blocking, read_json};

/// The JSON of a template.
pub(crate) fn view(t: &Template) -> Value {
    let items: Vec<Value> = t
        .items
        .iter()
        .map(|i| {
            json!({
                "name": i.name,
                "idType": i.id_type,
                "idIndex": i.id_index,
                "required": i.required,
                "state": u8::from(i.enabled),
                "metadataId": i.metadata_id,
                "metadata": {"type": i.metadata.data_type, "minLength": i.metadata.min_length, "maxLength": i.metadata.max_length},
            })
        })
        .collect();
    json!({
        "id": t.id,
        "prefix": t.prefix,
        "version": t.version,
        "description": t.description,
        "industryCategory": t.industry_category,
        "industrySpecific": t.industry_specific,
        "industryTrade": t.industry_trade,
        "industrySubclass": t.industry_subclass,
        "type": t.object_type,
        "handle": t.handle,
        "created": t.created,
        "updated": t.updated,
        "items": items,
    })
}

/// `GET /admin/v1/templates[?prefix=P]`.
pub async fn list(State(st): State<St>, _who: Who, q: Query) -> Result<Json<Value>, AdminError> {
    let prefix = q.get("prefix").map(str::to_owned);
    let store = st.store_arc();
    blocking(move || {
        let rows: Vec<Value> = store.list_templates(prefix.as_deref())?.iter().map(view).collect();
        Ok(Json(json!({"templates": rows})))
    })
    .await
}

/// `GET /admin/v1/templates/{prefix}/{version}`.
pub async fn get(
    State(st): State<St>,
    who: Who,
    Path((prefix, version)): Path<(String, String)>,
) -> Result<Json<Value>, AdminError> {
    let st2 = st.clone();
    blocking(move || Ok(Json(view(&st2.reg().template_get(&who.actor, &prefix, &version)?)))).await
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct MetaIn {
    #[serde(default, rename = "type")]
    data_type: Option<String>,
    #[serde(default)]
    min_length: Option<u32>,
    #[serde(default)]
    max_length: Option<u32>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct ItemIn {
    name: String,
    id_type: String,
    #[serde(default)]
    id_index: Option<u32>,
    #[serde(default)]
    required: Option<bool>,
    /// 1 enabled, 0 disabled.
    #[serde(default)]
    state: Option<u8>,
    #[serde(default)]
    metadata: Option<MetaIn>,
    /// Ignored (server-assigned; accepted so a read template can be put back).
    #[serde(default)]
    #[allow(dead_code, reason = "accepted and ignored")]
    metadata_id: Option<u64>,
}

/// Body of `PUT /admin/v1/templates/{prefix}/{version}`: the SNMS v5
/// template fields. `prefix` and `version` may repeat the path's; `id`,
/// `handle`, `created`, `updated` are accepted and ignored.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct TemplateIn {
    #[serde(default)]
    prefix: Option<String>,
    #[serde(default)]
    version: Option<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    industry_category: Option<String>,
    #[serde(default)]
    industry_specific: Option<String>,
    #[serde(default)]
    industry_trade: Option<String>,
    #[serde(default)]
    industry_subclass: Option<String>,
    #[serde(default, rename = "type")]
    object_type: Option<u8>,
    #[serde(default)]
    items: Vec<ItemIn>,
    #[serde(default)]
    #[allow(dead_code, reason = "accepted and ignored")]
    id: Option<Value>,
    #[serde(default)]
    #[allow(dead_code, reason = "accepted and ignored")]
    handle: Option<Value>,
    #[serde(default)]
    #[allow(dead_code, reason = "accepted and ignored")]
    created: Option<Value>,
    #[serde(default)]
    #[allow(dead_code, reason = "accepted and ignored")]
    updated: Option<Value>,
}

/// `PUT /admin/v1/templates/{prefix}/{version}`: 201 when the version was
/// created, 200 when an existing one was edited.
pub async fn put(
    State(st): State<St>,
    who: Who,
    Path((prefix, version)): Path<(String, String)>,
    body: Body,
) -> Result<(StatusCode, Json<Value>), AdminError> {
    let b: TemplateIn = read_json(body, st.max_body()).await?;
    if b.prefix.as_deref().is_some_and(|p| !p.eq_ignore_ascii_case(&prefix)) {
        return Err(AdminError::invalid("prefix", "differs from the path's prefix"));
    }
    if b.version.as_deref().is_some_and(|v| v != version) {
        return Err(AdminError::invalid("version", "differs from the path's version"));
    }
    let input = TemplateInput {
        prefix: prefix.clone(),
        version: version.clone(),
        description: b.description,
        industry_category: b.industry_category,
        industry_specific: b.industry_specific,
        industry_trade: b.industry_trade,
        industry_subclass: b.industry_subclass,
        object_type: b.object_type,
        items: b
            .items
            .into_iter()
            .map(|i| {
                let m = i.metadata.unwrap_or_default();
                ItemInput {
                    name: i.name,
                    id_type: i.id_type,
                    id_index: i.id_index,
                    required: i.required,
                    state: i.state,
                    data_type: m.data_type,
                    min_length: m.min_length,
                    max_length: m.max_length,
                }
            })
            .collect(),
    };
    let st2 = st.clone();
    blocking(move || {
        let now = crate::unix_now();
        let exists = st2.store().get_template(&prefix, &version)?.is_some();
        let (action, r) = if exists {
            ("template.edit", st2.reg().template_edit(&who.actor, &input, now))
        } else {
            ("template.create", st2.reg().template_create(&who.actor, &input, now))
        };
        let t = audit_failure(&st2, &who, action, &format!("{prefix} {version}"), r.map_err(AdminError::from))?;
        Ok((if exists { StatusCode::OK } else { StatusCode::CREATED }, Json(view(&t))))
    })
    .await
}

/// `DELETE /admin/v1/templates/{prefix}/{version}`.
pub async fn delete(
    State(st): State<St>,
    who: Who,
    Path((prefix, version)): Path<(String, String)>,
) -> Result<Json<Value>, AdminError> {
    let st2 = st.clone();
    blocking(move || {
        let r = st2.reg().template_delete(&who.actor, &prefix, &version, crate::unix_now()).map_err(AdminError::from);
        audit_failure(&st2, &who, "template.delete", &format!("{prefix} {version}"), r)?;
        Ok(Json(json!({"prefix": prefix, "version": version, "deleted": true})))
    })
    .await
}
