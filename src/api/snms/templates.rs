//! Metadata templates (snms-api.md §3): v5 `GET/POST/PUT/DELETE
//! /snms/api/v5/template` and the v3 view `GET/POST/DELETE
//! /snms/api/v3/template` on the same store (v3 items carry no `idIndex` /
//! `state`; a v3 create numbers its items 2000, 2001, ... in order).

use axum::extract::State;
use axum::response::Response;
use idnode_registry::model::Template;
use idnode_registry::model::template::{FIRST_ITEM_INDEX, MAX_TYPE_CHARS, MAX_VERSION_CHARS};
use idnode_registry::service::ServiceError;
use idnode_registry::service::templates::{ItemInput, TemplateInput};
use serde_json::{Value, json};

use super::json::{Fields, invalid};
use super::{Call, Envelope, SnmsState};

#[derive(Clone, Copy, PartialEq, Eq)]
enum Ver {
    V3,
    V5,
}

fn parse_template(body: &Value, ver: Ver) -> Result<TemplateInput, ServiceError> {
    let f = Fields::of(body, "")?;
    let mut t = TemplateInput {
        prefix: f.str_req("prefix", 64)?,
        version: f.str_req("version", MAX_VERSION_CHARS)?,
        description: f.str_opt("description", 1024)?,
        industry_category: f.str_opt("industryCategory", 128)?,
        industry_specific: f.str_opt("industrySpecific", 128)?,
        industry_trade: f.str_opt("industryTrade", 128)?,
        industry_subclass: f.str_opt("industrySubclass", 128)?,
        object_type: f.u8_opt("type")?,
        items: Vec::new(),
    };
    for (i, item) in f.arr("items")?.map(Vec::as_slice).unwrap_or_default().iter().enumerate() {
        let base = format!("items[{i}]");
        let it = Fields::of(item, &base)?;
        let meta_path = format!("{base}.metadata");
        let m = it.obj("metadata", &meta_path)?.ok_or_else(|| invalid(meta_path.clone(), "required"))?;
        let (id_index, state) = match ver {
            Ver::V5 => (it.u32_opt("idIndex")?, it.u8_opt("state")?),
            Ver::V3 => (Some(FIRST_ITEM_INDEX + i as u32), None),
        };
        t.items.push(ItemInput {
            name: it.str_req("name", 128)?,
            id_type: it.str_req("idType", MAX_TYPE_CHARS)?,
            id_index,
            required: it.bool_opt("required")?,
            state,
            data_type: m.str_opt("type", 32)?,
            min_length: m.u32_opt("minLength")?,
            max_length: m.u32_opt("maxLength")?,
        });
    }
    Ok(t)
}

/// The template object of a GET answer (§3.2 union for v5, §3.6 for v3).
fn render(t: &Template, ver: Ver) -> Value {
    let items: Vec<Value> = t
        .items
        .iter()
        .map(|i| {
            let meta =
                json!({ "type": "string", "minLength": i.metadata.min_length, "maxLength": i.metadata.max_length });
            match ver {
                Ver::V5 => json!({
                    "name": i.name, "idType": i.id_type, "idIndex": i.id_index, "metadataId": i.metadata_id,
                    "metadata": meta, "required": i.required, "state": u8::from(i.enabled),
                }),
                Ver::V3 => json!({ "name": i.name, "idType": i.id_type, "metadata": meta, "required": i.required }),
            }
        })
        .collect();
    let mut v = json!({
        "id": t.id,
        "prefix": t.prefix,
        "name": "",
        "version": t.version,
        "industryCategory": t.industry_category,
        "industrySpecific": t.industry_specific,
        "industryTrade": t.industry_trade,
        "industrySubclass": t.industry_subclass,
        "type": t.object_type,
        "description": t.description,
        "items": items,
    });
    if ver == Ver::V5 {
        v["handle"] = json!(t.handle.clone().unwrap_or_else(|| format!("{}/tpl-{}", t.prefix, t.version)));
    }
    v
}

async fn get_ver(st: SnmsState, call: Call, ver: Ver) -> Response {
    st.authed(call, move |st, actor, call, _now| {
        let prefix = call.required("prefix")?;
        let version = call.required("version")?;
        let t = st.reg().template_get(actor, prefix, version)?;
        Ok(Envelope::ok(render(&t, ver)))
    })
    .await
}

pub async fn get_v5(State(st): State<SnmsState>, call: Call) -> Response {
    get_ver(st, call, Ver::V5).await
}

pub async fn get_v3(State(st): State<SnmsState>, call: Call) -> Response {
    get_ver(st, call, Ver::V3).await
}

async fn create(st: SnmsState, call: Call, ver: Ver) -> Response {
    st.authed(call, move |st, actor, call, now| {
        let t = parse_template(&call.json()?, ver)?;
        st.reg().template_create(actor, &t, now)?;
        Ok(Envelope::ok(json!(true)))
    })
    .await
}

pub async fn create_v5(State(st): State<SnmsState>, call: Call) -> Response {
    create(st, call, Ver::V5).await
}

pub async fn create_v3(State(st): State<SnmsState>, call: Call) -> Response {
    create(st, call, Ver::V3).await
}

pub async fn edit_v5(State(st): State<SnmsState>, call: Call) -> Response {
    st.authed(call, |st, actor, call, now| {
        let t = parse_template(&call.json()?, Ver::V5)?;
        st.reg().template_edit(actor, &t, now)?;
        Ok(Envelope::ok(json!(true)))
    })
    .await
}

/// `DELETE` (v5 and v3): `{prefix, version}` in the body, or as query
/// parameters when the body is empty.
pub async fn remove(State(st): State<SnmsState>, call: Call) -> Response {
    st.authed(call, |st, actor, call, now| {
        let (prefix, version) = match call.json_opt()? {
            Some(body) => {
                let f = Fields::of(&body, "")?;
                (f.str_req("prefix", 64)?, f.str_req("version", MAX_VERSION_CHARS)?)
            }
            None => (call.required("prefix")?.to_owned(), call.required("version")?.to_owned()),
        };
        st.reg().template_delete(actor, &prefix, &version, now)?;
        Ok(Envelope::ok(json!(true)))
    })
    .await
}
