//! API accounts (the users of the SNMS API): list, one account, create,
//! set a password, disable, enable. Passwords are stored the way the SNMS
//! login checks them (`crate::api::snms::admin_account_hashes`: Argon2id PHC
//! of the SHA-256 of the password, plus that SHA-256 as the hashed-login
//! verifier when `snms.hashed_login` is on). A password the caller does not
//! give is generated and returned once in the answer; no answer ever
//! carries a stored hash, and no password is logged. Changing a password
//! or disabling an account ends its sessions.

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use base64::Engine as _;
use idnode_registry::model::{Identity, Role};
use idnode_registry::service::accounts::{NewAccount, SESSION_LABEL};
use idnode_registry::store::Store;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{AdminError, St, Who, audit_failure, audited, blocking, read_json};

/// Password length bounds (the SNMS login takes at most 64 characters).
const MIN_PASSWORD: usize = 8;
const MAX_PASSWORD: usize = 64;

fn role_name(r: Role) -> &'static str {
    match r {
        Role::PlatformAdmin => "admin",
        Role::EnterpriseUser => "enterprise",
        Role::Auditor => "auditor",
    }
}

fn parse_role(s: &str) -> Option<Role> {
    match s.to_ascii_lowercase().as_str() {
        "admin" | "platform-admin" => Some(Role::PlatformAdmin),
        "enterprise" | "enterprise-user" => Some(Role::EnterpriseUser),
        "auditor" => Some(Role::Auditor),
        _ => None,
    }
}

/// The JSON of an account (never its hashes or tokens).
fn view(i: &Identity, now: u64) -> Value {
    let sessions =
        i.api_tokens.iter().filter(|t| t.label == SESSION_LABEL && t.expires.is_none_or(|e| e > now)).count();
    json!({
        "username": i.username,
        "role": role_name(i.role),
        "enterpriseId": i.enterprise_id,
        "email": i.email,
        "mobile": i.mobile,
        "disabled": i.disabled,
        "created": i.created,
        "sessions": sessions,
        "hashedLogin": i.snms_v1_verifier.is_some(),
    })
}

fn load(store: &dyn Store, username: &str) -> Result<Identity, AdminError> {
    store.get_identity(username)?.ok_or_else(|| AdminError::not_found(format!("user {username} not found")))
}

/// A new random password (24 URL-safe characters).
fn generate_password() -> String {
    let mut raw = [0u8; 18];
    rand::fill(&mut raw);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
}

fn check_password(p: &str) -> Result<(), AdminError> {
    let n = p.chars().count();
    if !(MIN_PASSWORD..=MAX_PASSWORD).contains(&n) {
        return Err(AdminError::invalid(
            "password",
            format!("must be {MIN_PASSWORD} to {MAX_PASSWORD} characters (got {n})"),
        ));
    }
    Ok(())
}

/// (Argon2id PHC, sealed hashed-login verifier) of `account`'s password.
fn hashes(st: &St, account: &str, password: &str) -> Result<(String, Option<String>), AdminError> {
    let hashed_login = st.cfg().snms.hashed_login;
    crate::api::snms::account_hashes(&st.deps.sealer, account, password.as_bytes(), hashed_login).map_err(|e| {
        tracing::error!(error = %e, "admin API: password hashing failed");
        AdminError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "password hashing failed")
    })
}

/// `GET /admin/v1/users`.
pub async fn list(State(st): State<St>, _who: Who) -> Result<Json<Value>, AdminError> {
    let store = st.store_arc();
    blocking(move || {
        let now = crate::unix_now();
        let mut rows = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let page = store.list_identities(after.as_deref(), 512)?;
            rows.extend(page.iter().map(|i| view(i, now)));
            match page.last() {
                Some(last) if page.len() == 512 => after = Some(last.username.clone()),
                _ => break,
            }
        }
        Ok(Json(json!({"users": rows})))
    })
    .await
}

/// `GET /admin/v1/users/{username}`.
pub async fn get(State(st): State<St>, _who: Who, Path(username): Path<String>) -> Result<Json<Value>, AdminError> {
    let store = st.store_arc();
    blocking(move || Ok(Json(view(&load(&*store, &username)?, crate::unix_now())))).await
}

/// Body of `POST /admin/v1/users`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schema(as = AdminUserInput)]
pub(crate) struct NewUser {
    #[schema(max_length = 50)]
    username: String,
    /// Absent: generated and returned once.
    #[serde(default)]
    #[schema(min_length = 8, max_length = 64)]
    password: Option<String>,
    /// `admin`, `enterprise` (default), `auditor`.
    #[serde(default)]
    #[schema(default = "enterprise")]
    role: Option<String>,
    /// Required for (and only for) enterprise accounts.
    #[serde(default)]
    enterprise_id: Option<u64>,
    #[serde(default)]
    email: String,
    #[serde(default)]
    mobile: String,
}

/// `POST /admin/v1/users`: 201 with the account (and `password` when it
/// was generated).
pub async fn create(State(st): State<St>, who: Who, body: Body) -> Result<(StatusCode, Json<Value>), AdminError> {
    let b: NewUser = read_json(body, st.max_body()).await?;
    let role = match &b.role {
        None => Role::EnterpriseUser,
        Some(r) => {
            parse_role(r).ok_or_else(|| AdminError::invalid("role", format!("{r:?} (admin, enterprise or auditor)")))?
        }
    };
    if role == Role::EnterpriseUser && b.enterprise_id.is_none() {
        return Err(AdminError::invalid("enterpriseId", "an enterprise user needs its enterprise"));
    }
    if role != Role::EnterpriseUser && b.enterprise_id.is_some() {
        return Err(AdminError::invalid("enterpriseId", "only enterprise users belong to an enterprise"));
    }
    let generated = b.password.is_none();
    let password = b.password.clone().unwrap_or_else(generate_password);
    check_password(&password)?;
    let st2 = st.clone();
    blocking(move || {
        let r = (|| {
            if let Some(id) = b.enterprise_id
                && st2.store().get_enterprise(id)?.is_none()
            {
                let mut e = AdminError::not_found(format!("enterprise {id} not found"));
                e.field = Some("enterpriseId".into());
                return Err(e);
            }
            let (phc, v1) = hashes(&st2, &b.username, &password)?;
            let account = NewAccount {
                username: b.username.clone(),
                role,
                enterprise_id: b.enterprise_id,
                password_phc: phc,
                v1_verifier: v1,
                email: b.email.clone(),
                mobile: b.mobile.clone(),
            };
            let now = crate::unix_now();
            st2.reg().create_account(Some(&who.actor), account, now)?;
            Ok(view(&load(st2.store(), &b.username)?, now))
        })();
        let mut v = audit_failure(&st2, &who, "account.create", &b.username, r)?;
        if generated {
            v["password"] = json!(password);
        }
        Ok((StatusCode::CREATED, Json(v)))
    })
    .await
}

/// Body of `POST /admin/v1/users/{username}/password`.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = AdminUserPasswordBody)]
pub(crate) struct PasswordBody {
    /// Absent: generated and returned once.
    #[serde(default)]
    #[schema(min_length = 8, max_length = 64)]
    password: Option<String>,
}

/// `POST /admin/v1/users/{username}/password`: sets (or generates) the
/// password and ends the account's sessions.
pub async fn passwd(
    State(st): State<St>,
    who: Who,
    Path(username): Path<String>,
    body: Body,
) -> Result<Json<Value>, AdminError> {
    let b: PasswordBody = read_json(body, st.max_body()).await?;
    let generated = b.password.is_none();
    let password = b.password.unwrap_or_else(generate_password);
    check_password(&password)?;
    let st2 = st.clone();
    blocking(move || {
        let r = (|| {
            let mut i = load(st2.store(), &username)?;
            let (phc, v1) = hashes(&st2, &username, &password)?;
            i.password_hash = phc;
            i.snms_v1_verifier = v1;
            i.api_tokens.retain(|t| t.label != SESSION_LABEL);
            st2.store().put_identity(&i)?;
            Ok(view(&i, crate::unix_now()))
        })();
        let mut v = audited(&st2, &who, "account.password", &username, r)?;
        if generated {
            v["password"] = json!(password);
        }
        Ok(Json(v))
    })
    .await
}

async fn set_disabled(st: St, who: Who, username: String, disabled: bool) -> Result<Json<Value>, AdminError> {
    blocking(move || {
        let r = (|| {
            let mut i = load(st.store(), &username)?;
            i.disabled = disabled;
            if disabled {
                i.api_tokens.retain(|t| t.label != SESSION_LABEL);
            }
            st.store().put_identity(&i)?;
            Ok(view(&i, crate::unix_now()))
        })();
        let action = if disabled { "account.disable" } else { "account.enable" };
        audited(&st, &who, action, &username, r).map(Json)
    })
    .await
}

/// `POST /admin/v1/users/{username}/disable`: the account can no longer
/// log in; its sessions end.
pub async fn disable(State(st): State<St>, who: Who, Path(username): Path<String>) -> Result<Json<Value>, AdminError> {
    set_disabled(st, who, username, true).await
}

/// `POST /admin/v1/users/{username}/enable`.
pub async fn enable(State(st): State<St>, who: Who, Path(username): Path<String>) -> Result<Json<Value>, AdminError> {
    set_disabled(st, who, username, false).await
}
