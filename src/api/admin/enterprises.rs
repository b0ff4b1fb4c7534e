//! Enterprises: list, one enterprise (with its filing fields), create
//! (optionally with its prefix), approve a filing (the registration
//! service's `approve_enterprise`: the enterprise becomes approved and its
//! prefixes awaiting review become enabled).

use std::collections::BTreeMap;

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use idnode_registry::ident;
use idnode_registry::model::{Contact, Enterprise, EnterpriseStatus, HostingState, Prefix, PrefixState};
use idnode_registry::store::{Store, WriteCtx};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{AdminError, St, Who, audit_failure, audited, blocking, read_json};

/// Longest free-text field accepted.
const MAX_TEXT: usize = 1024;

fn status_name(s: EnterpriseStatus) -> &'static str {
    match s {
        EnterpriseStatus::Pending => "pending",
        EnterpriseStatus::Approved => "approved",
        EnterpriseStatus::Rejected => "rejected",
        EnterpriseStatus::Disabled => "disabled",
    }
}

/// The JSON of an enterprise; `full` adds the filing fields (`extra`).
fn view(e: &Enterprise, prefixes: &[String], full: bool) -> Value {
    let mut v = json!({
        "id": e.id,
        "name": e.name,
        "creditCode": e.credit_code,
        "nature": e.nature,
        "address": e.address,
        "region": e.region,
        "website": e.website,
        "industry": e.industry,
        "description": e.description,
        "contact": {"name": e.contact.name, "email": e.contact.email, "phone": e.contact.phone},
        "status": status_name(e.status),
        "created": e.created,
        "updated": e.updated,
        "prefixes": prefixes,
    });
    if full {
        v["extra"] = json!(e.extra);
    }
    v
}

fn all_enterprises(store: &dyn Store) -> Result<Vec<Enterprise>, AdminError> {
    let mut out = Vec::new();
    let mut after = 0;
    loop {
        let page = store.list_enterprises(after, 512)?;
        let n = page.len();
        if let Some(last) = page.last() {
            after = last.id;
        }
        out.extend(page);
        if n < 512 {
            return Ok(out);
        }
    }
}

fn prefixes_by_enterprise(store: &dyn Store) -> Result<BTreeMap<u64, Vec<String>>, AdminError> {
    let mut m: BTreeMap<u64, Vec<String>> = BTreeMap::new();
    for p in store.list_prefixes()? {
        if let Some(id) = p.enterprise_id {
            m.entry(id).or_default().push(p.prefix);
        }
    }
    Ok(m)
}

/// `GET /admin/v1/enterprises`.
pub async fn list(State(st): State<St>, _who: Who) -> Result<Json<Value>, AdminError> {
    let store = st.store_arc();
    blocking(move || {
        let by = prefixes_by_enterprise(&*store)?;
        let rows: Vec<Value> = all_enterprises(&*store)?
            .iter()
            .map(|e| view(e, by.get(&e.id).map_or(&[][..], Vec::as_slice), false))
            .collect();
        Ok(Json(json!({"enterprises": rows})))
    })
    .await
}

fn parse_id(id: &str) -> Result<u64, AdminError> {
    id.parse().map_err(|_| AdminError::invalid("id", format!("{id:?} is not an enterprise id")))
}

fn one(store: &dyn Store, id: u64) -> Result<Value, AdminError> {
    let e = store.get_enterprise(id)?.ok_or_else(|| AdminError::not_found(format!("enterprise {id} not found")))?;
    let by = prefixes_by_enterprise(store)?;
    Ok(view(&e, by.get(&id).map_or(&[][..], Vec::as_slice), true))
}

/// `GET /admin/v1/enterprises/{id}`.
pub async fn get(State(st): State<St>, _who: Who, Path(id): Path<String>) -> Result<Json<Value>, AdminError> {
    let id = parse_id(&id)?;
    let store = st.store_arc();
    blocking(move || one(&*store, id).map(Json)).await
}

/// The enterprise's contact person.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = AdminEnterpriseContactInput)]
pub(crate) struct ContactIn {
    #[serde(default)]
    name: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    phone: String,
}

/// Body of `POST /admin/v1/enterprises`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schema(as = AdminEnterpriseInput)]
pub(crate) struct NewEnterprise {
    name: String,
    credit_code: String,
    #[serde(default)]
    #[schema(maximum = 5)]
    nature: u8,
    #[serde(default)]
    address: String,
    #[serde(default)]
    region: Vec<String>,
    #[serde(default)]
    website: String,
    #[serde(default)]
    industry: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    contact: Option<ContactIn>,
    /// `approved` (default) or `pending`.
    #[serde(default)]
    #[schema(default = "approved")]
    status: Option<String>,
    /// A prefix for the enterprise: created (homed and hosted here unless
    /// `homed` is false), or an existing prefix without an owner.
    #[serde(default)]
    prefix: Option<String>,
    #[serde(default)]
    #[schema(default = true)]
    homed: Option<bool>,
}

fn check_text(field: &str, v: &str, required: bool) -> Result<(), AdminError> {
    if required && v.trim().is_empty() {
        return Err(AdminError::invalid(field, "required"));
    }
    if v.chars().count() > MAX_TEXT {
        return Err(AdminError::invalid(field, format!("longer than {MAX_TEXT} characters")));
    }
    Ok(())
}

/// `POST /admin/v1/enterprises`: files an enterprise directly (approved
/// unless `status` is `pending`).
pub async fn create(State(st): State<St>, who: Who, body: Body) -> Result<Json<Value>, AdminError> {
    let b: NewEnterprise = read_json(body, st.max_body()).await?;
    check_text("name", &b.name, true)?;
    check_text("creditCode", &b.credit_code, true)?;
    for (f, v) in
        [("address", &b.address), ("website", &b.website), ("industry", &b.industry), ("description", &b.description)]
    {
        check_text(f, v, false)?;
    }
    if b.nature > 5 {
        return Err(AdminError::invalid("nature", format!("{} (expected 0..=5)", b.nature)));
    }
    let status = match b.status.as_deref().map(str::to_ascii_lowercase).as_deref() {
        None | Some("approved") => EnterpriseStatus::Approved,
        Some("pending") => EnterpriseStatus::Pending,
        Some(other) => return Err(AdminError::invalid("status", format!("{other:?} (approved or pending)"))),
    };
    if let Some(p) = &b.prefix {
        ident::check_snms_prefix(p).map_err(|e| AdminError::invalid("prefix", format!("{p:?}: {e}")))?;
    }
    let st2 = st.clone();
    blocking(move || {
        let store = st2.store();
        let target = format!("{} {}", b.name, b.prefix.as_deref().unwrap_or(""));
        let r = (|| {
            if all_enterprises(store)?.iter().any(|e| e.credit_code == b.credit_code) {
                let mut e = AdminError::new(
                    StatusCode::CONFLICT,
                    "already_exists",
                    format!("an enterprise with credit code {} exists", b.credit_code),
                );
                e.field = Some("creditCode".into());
                return Err(e);
            }
            let existing = match &b.prefix {
                Some(p) => store.get_prefix(p)?,
                None => None,
            };
            if let Some(p) = &existing
                && p.enterprise_id.is_some()
            {
                let mut e = AdminError::new(
                    StatusCode::CONFLICT,
                    "already_exists",
                    format!("prefix {} has an owner", p.prefix),
                );
                e.field = Some("prefix".into());
                return Err(e);
            }
            let now = crate::unix_now();
            let id = store.next_id()?;
            let mut e = Enterprise::new(id, b.name.clone(), b.credit_code.clone(), now);
            e.nature = b.nature;
            e.address = b.address.clone();
            e.region = b.region.clone();
            e.website = b.website.clone();
            e.industry = b.industry.clone();
            e.description = b.description.clone();
            if let Some(c) = &b.contact {
                e.contact = Contact { name: c.name.clone(), email: c.email.clone(), phone: c.phone.clone() };
            }
            e.status = status;
            store.put_enterprise(&e)?;
            if let Some(prefix) = &b.prefix {
                let ctx = WriteCtx::new(now, who.actor.username.clone());
                let mut p = match existing {
                    Some(p) => p,
                    None => {
                        let state = if status == EnterpriseStatus::Approved {
                            PrefixState::Enabled
                        } else {
                            PrefixState::AwaitingReview
                        };
                        let mut p = Prefix::new(prefix, state, now);
                        p.homed = b.homed.unwrap_or(true);
                        p.hosting = if p.homed { HostingState::Hosted } else { HostingState::NotHosted };
                        if let Some(m) = ident::parent_prefix(prefix).and_then(|pp| store.longest_homed(pp.as_bytes()))
                        {
                            p.case_policy = m.prefix.case_policy;
                        }
                        p
                    }
                };
                p.enterprise_id = Some(id);
                p.updated = now;
                store.put_prefix(&p, &ctx)?;
            }
            one(store, id)
        })();
        audited(&st2, &who, "enterprise.create", target.trim(), r).map(Json)
    })
    .await
}

/// `POST /admin/v1/enterprises/{id}/approve`.
pub async fn approve(State(st): State<St>, who: Who, Path(id): Path<String>) -> Result<Json<Value>, AdminError> {
    let id = parse_id(&id)?;
    let st2 = st.clone();
    blocking(move || {
        let r = st2
            .reg()
            .approve_enterprise(&who.actor, id, crate::unix_now())
            .map_err(AdminError::from)
            .and_then(|()| one(st2.store(), id));
        audit_failure(&st2, &who, "enterprise.approve", &id.to_string(), r).map(Json)
    })
    .await
}
