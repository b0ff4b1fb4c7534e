//! Prefixes: list (with registration and resolution totals), one prefix,
//! create, state changes through the review state machine
//! ([`PrefixState::can_move_to`], applied by the registration service),
//! home and unhome.
//!
//! States and hosting states are named in kebab case (`enabled`,
//! `awaiting-review`, ...) next to their SNMS integer codes; requests take
//! either.

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use idnode_registry::ident::{self, CasePolicy};
use idnode_registry::model::{DayCounters, Enterprise, HostingState, Prefix, PrefixState, day_of};
use idnode_registry::store::{Store, StoreError, WriteCtx};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{AdminError, St, Who, audit_failure, audited, blocking, read_json};

/// The name of a prefix state.
pub fn state_name(s: PrefixState) -> &'static str {
    match s {
        PrefixState::Disabled => "disabled",
        PrefixState::Enabled => "enabled",
        PrefixState::PendingDeletion => "pending-deletion",
        PrefixState::Rejected => "rejected",
        PrefixState::AwaitingReview => "awaiting-review",
        PrefixState::UnderReview => "under-review",
    }
}

/// Every state, in code order.
pub const STATES: [PrefixState; 6] = [
    PrefixState::Disabled,
    PrefixState::Enabled,
    PrefixState::PendingDeletion,
    PrefixState::Rejected,
    PrefixState::AwaitingReview,
    PrefixState::UnderReview,
];

/// A state from its name (`-` or `_`, any case) or its SNMS code.
pub fn parse_state(v: &Value) -> Option<PrefixState> {
    match v {
        Value::Number(n) => n.as_u64().and_then(|c| u8::try_from(c).ok()).and_then(|c| PrefixState::from_code(c).ok()),
        Value::String(s) => {
            if let Ok(c) = s.trim().parse::<u8>() {
                return PrefixState::from_code(c).ok();
            }
            let want = s.trim().to_ascii_lowercase().replace('_', "-");
            STATES.into_iter().find(|st| state_name(*st) == want)
        }
        _ => None,
    }
}

fn hosting_name(h: HostingState) -> &'static str {
    match h {
        HostingState::NotHosted => "not-hosted",
        HostingState::HostingRequested => "hosting-requested",
        HostingState::HostingRejected => "hosting-rejected",
        HostingState::Hosted => "hosted",
    }
}

fn case_name(c: CasePolicy) -> &'static str {
    match c {
        CasePolicy::CaseSensitive => "sensitive",
        CasePolicy::CaseInsensitive => "insensitive",
    }
}

/// Registrations and resolutions of `prefix` over every day (persisted +
/// not yet persisted).
pub(crate) fn totals(store: &dyn Store, prefix: &str) -> Result<DayCounters, StoreError> {
    let mut t = DayCounters::default();
    for (_, c) in store.counters(prefix, 0, u32::MAX)? {
        t.add(c);
    }
    Ok(t)
}

/// The JSON of a prefix.
pub(crate) fn view(p: &Prefix, ent: Option<&Enterprise>, t: DayCounters) -> Value {
    json!({
        "prefix": p.prefix,
        "state": state_name(p.state),
        "stateCode": p.state.code(),
        "hosting": hosting_name(p.hosting),
        "hostingCode": p.hosting.code(),
        "homed": p.homed,
        "selfHostedSite": p.site.is_some(),
        "enterpriseId": p.enterprise_id,
        "enterpriseName": ent.map(|e| e.name.as_str()),
        "casePolicy": case_name(p.case_policy),
        "proxyServerId": p.proxy_server_id,
        "quota": {"maxRegistrations": p.quota.max_registrations, "dailyRequests": p.quota.daily_requests},
        "description": p.description,
        "created": p.created,
        "updated": p.updated,
        "registrations": t.registrations,
        "resolutions": t.resolutions,
    })
}

fn enterprise_of(store: &dyn Store, p: &Prefix) -> Result<Option<Enterprise>, StoreError> {
    match p.enterprise_id {
        Some(id) => store.get_enterprise(id),
        None => Ok(None),
    }
}

fn load(store: &dyn Store, prefix: &str) -> Result<Prefix, AdminError> {
    store.get_prefix(prefix)?.ok_or_else(|| AdminError::not_found(format!("prefix {prefix} not found")))
}

fn full_view(store: &dyn Store, p: &Prefix) -> Result<Value, AdminError> {
    Ok(view(p, enterprise_of(store, p)?.as_ref(), totals(store, &p.prefix)?))
}

/// `GET /admin/v1/prefixes`.
pub async fn list(State(st): State<St>, _who: Who) -> Result<Json<Value>, AdminError> {
    let store = st.store_arc();
    blocking(move || {
        let mut out = Vec::new();
        for p in store.list_prefixes()? {
            out.push(full_view(&*store, &p)?);
        }
        Ok(Json(json!({"prefixes": out})))
    })
    .await
}

/// `GET /admin/v1/prefixes/{prefix}`: also the record count and today's
/// counters (UTC day).
pub async fn get(State(st): State<St>, _who: Who, Path(prefix): Path<String>) -> Result<Json<Value>, AdminError> {
    let store = st.store_arc();
    blocking(move || {
        let p = load(&*store, &prefix)?;
        let mut v = full_view(&*store, &p)?;
        v["records"] = json!(store.count_records(Some(&p.prefix))?);
        let today = day_of(crate::unix_now());
        let t = store.counters(&p.prefix, today, today)?.into_iter().fold(DayCounters::default(), |mut a, (_, c)| {
            a.add(c);
            a
        });
        v["today"] = json!({"registrations": t.registrations, "resolutions": t.resolutions});
        Ok(Json(v))
    })
    .await
}

/// Body of `POST /admin/v1/prefixes`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schema(as = AdminPrefixInput)]
pub(crate) struct NewPrefix {
    prefix: String,
    #[serde(default)]
    enterprise_id: Option<u64>,
    /// Name or code; default `enabled`.
    #[serde(default)]
    #[schema(value_type = Option<crate::api::openapi::schemas::PrefixStateInput>, default = "enabled")]
    state: Option<Value>,
    /// Default true: this node answers for the prefix.
    #[serde(default)]
    #[schema(default = true)]
    homed: Option<bool>,
    /// `sensitive` / `insensitive`; default: the homed parent's, else `node.case_policy`.
    #[serde(default)]
    case_policy: Option<String>,
    #[serde(default)]
    description: Option<String>,
}

/// `POST /admin/v1/prefixes`: creates a prefix (409 when it exists).
pub async fn create(State(st): State<St>, who: Who, body: Body) -> Result<Json<Value>, AdminError> {
    let b: NewPrefix = read_json(body, st.max_body()).await?;
    ident::check_snms_prefix(&b.prefix).map_err(|e| AdminError::invalid("prefix", format!("{:?}: {e}", b.prefix)))?;
    let state = match &b.state {
        None => PrefixState::Enabled,
        Some(v) => parse_state(v).ok_or_else(|| {
            AdminError::invalid("state", format!("{v} is not a prefix state (names: {})", state_names()))
        })?,
    };
    let case = match b.case_policy.as_deref().map(str::to_ascii_lowercase).as_deref() {
        None => None,
        Some("sensitive") => Some(CasePolicy::CaseSensitive),
        Some("insensitive") => Some(CasePolicy::CaseInsensitive),
        Some(other) => return Err(AdminError::invalid("casePolicy", format!("{other:?} (sensitive or insensitive)"))),
    };
    let st2 = st.clone();
    blocking(move || {
        let store = st2.store();
        let r = (|| {
            if store.get_prefix(&b.prefix)?.is_some() {
                return Err(AdminError::new(
                    axum::http::StatusCode::CONFLICT,
                    "already_exists",
                    format!("prefix {} already exists", b.prefix),
                ));
            }
            if let Some(id) = b.enterprise_id
                && store.get_enterprise(id)?.is_none()
            {
                let mut e = AdminError::not_found(format!("enterprise {id} not found"));
                e.field = Some("enterpriseId".into());
                return Err(e);
            }
            let now = crate::unix_now();
            let mut p = Prefix::new(&b.prefix, state, now);
            p.homed = b.homed.unwrap_or(true);
            p.hosting = if p.homed { HostingState::Hosted } else { HostingState::NotHosted };
            p.enterprise_id = b.enterprise_id;
            p.case_policy = case.unwrap_or_else(|| {
                ident::parent_prefix(&b.prefix)
                    .and_then(|pp| store.longest_homed(pp.as_bytes()))
                    .map_or_else(|| st2.cfg().node.case_policy.into(), |m| m.prefix.case_policy)
            });
            p.description = b.description.clone().unwrap_or_default();
            store.put_prefix(&p, &WriteCtx::new(now, who.actor.username.clone()))?;
            full_view(store, &p)
        })();
        audited(&st2, &who, "prefix.create", &b.prefix, r).map(Json)
    })
    .await
}

fn state_names() -> String {
    STATES.iter().map(|s| format!("{} ({})", state_name(*s), s.code())).collect::<Vec<_>>().join(", ")
}

/// Body of `POST /admin/v1/prefixes/{prefix}/state`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = AdminPrefixStateBody)]
pub(crate) struct StateBody {
    #[schema(value_type = crate::api::openapi::schemas::PrefixStateInput)]
    state: Value,
}

/// `POST /admin/v1/prefixes/{prefix}/state`: one step of the state
/// machine (409 `rejected` for an illegal transition).
pub async fn set_state(
    State(st): State<St>,
    who: Who,
    Path(prefix): Path<String>,
    body: Body,
) -> Result<Json<Value>, AdminError> {
    let b: StateBody = read_json(body, st.max_body()).await?;
    let to = parse_state(&b.state).ok_or_else(|| {
        AdminError::invalid("state", format!("{} is not a prefix state (names: {})", b.state, state_names()))
    })?;
    let st2 = st.clone();
    blocking(move || {
        let r = st2
            .reg()
            .set_prefix_state(&who.actor, &prefix, to, crate::unix_now())
            .map_err(AdminError::from)
            .and_then(|p| full_view(st2.store(), &p));
        audit_failure(&st2, &who, "prefix.state", &prefix, r).map(Json)
    })
    .await
}

/// `POST /admin/v1/prefixes/{prefix}/home`: this node answers for the
/// prefix (created enabled and hosted when unknown).
pub async fn home(State(st): State<St>, who: Who, Path(prefix): Path<String>) -> Result<Json<Value>, AdminError> {
    ident::check_prefix_chars(&prefix).map_err(|e| AdminError::invalid("prefix", format!("{prefix:?}: {e}")))?;
    let st2 = st.clone();
    blocking(move || {
        let ctx = WriteCtx::new(crate::unix_now(), who.actor.username.clone());
        let r =
            st2.store().home_prefix(&prefix, &ctx).map_err(AdminError::from).and_then(|p| full_view(st2.store(), &p));
        audited(&st2, &who, "prefix.home", &prefix, r).map(Json)
    })
    .await
}

/// `POST /admin/v1/prefixes/{prefix}/unhome`: stop answering for it
/// (records are kept).
pub async fn unhome(State(st): State<St>, who: Who, Path(prefix): Path<String>) -> Result<Json<Value>, AdminError> {
    let st2 = st.clone();
    blocking(move || {
        let ctx = WriteCtx::new(crate::unix_now(), who.actor.username.clone());
        let r = st2
            .store()
            .unhome_prefix(&prefix, &ctx)
            .map_err(AdminError::from)
            .and_then(|()| full_view(st2.store(), &load(st2.store(), &prefix)?));
        audited(&st2, &who, "prefix.unhome", &prefix, r).map(Json)
    })
    .await
}
