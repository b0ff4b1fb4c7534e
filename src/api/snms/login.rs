//! Login (snms-api.md §2) and account creation (Appendix A).
//!
//! `POST /identity/token` takes the clear secret, hashes it to `h1`
//! (SHA-256 hex) and verifies the account's Argon2id PHC of `h1`;
//! `POST /identity/token/v1` takes `SHA-256(h1 + yyyy-MM-dd)` and checks it
//! against `h1` opened from the account's sealed verifier
//! ([`crate::api::auth::sealed`]; yesterday/today/tomorrow in
//! `snms.utc_offset_minutes`). A success stores the SHA-256 of a fresh
//! random token with a `snms.token_ttl_secs` expiry and answers the token.
//! Failures count in the shared login throttle (per client network and per
//! account); over budget, a login is refused before any check with HTTP
//! 429, `Retry-After` and the envelope. Credentials are taken over HTTPS or
//! from loopback clients only. Neither passwords nor tokens are logged.

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use idnode_registry::model::Role;
use idnode_registry::service::accounts::{self, MAX_USERNAME, NewAccount};
use idnode_registry::service::{Actor, ServiceError};
use serde_json::json;

use super::json::{Fields, invalid};
use super::{Call, Envelope, SnmsState, status};

/// The contract's wrong-credentials message (§1.3).
const BAD_CREDENTIALS: &str = "用户名/密码错误！";
/// Longest `password` field of a login (§2).
const MAX_PASSWORD: usize = 64;

/// Argon2id (default parameters) PHC string of `h1`.
pub fn hash_h1(h1: &str) -> Result<String, argon2::password_hash::Error> {
    Ok(Argon2::default().hash_password(h1.as_bytes())?.to_string())
}

/// The credentials to store for `account`'s secret: the Argon2id PHC of
/// `h1`, and (when `hashed_login`) `h1` sealed for the hashed login — never
/// `h1` itself.
pub fn account_hashes(
    sealer: &crate::api::auth::sealed::Sealer,
    account: &str,
    secret: &[u8],
    hashed_login: bool,
) -> Result<(String, Option<String>), String> {
    let h1 = accounts::sha256_hex(secret);
    let phc = hash_h1(&h1).map_err(|e| format!("password hashing failed: {e}"))?;
    let v1 = if hashed_login { Some(sealer.seal(account, &h1)?) } else { None };
    Ok((phc, v1))
}

fn verify_phc(phc: &str, h1: &str) -> bool {
    PasswordHash::new(phc).is_ok_and(|p| Argon2::default().verify_password(h1.as_bytes(), &p).is_ok())
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Plain,
    Hashed,
}

pub async fn plain(State(st): State<SnmsState>, call: Call) -> Response {
    st.blocking_response(move |st| login(st, &call, Kind::Plain)).await
}

pub async fn hashed(State(st): State<SnmsState>, call: Call) -> Response {
    st.blocking_response(move |st| login(st, &call, Kind::Hashed)).await
}

fn login(st: &SnmsState, call: &Call, kind: Kind) -> Response {
    let now = st.now();
    let cfg = &st.cfg().snms;
    if !call.secure {
        return Envelope::fail(status::FAILURE, super::INSECURE).into_response();
    }
    let (username, password) = match login_fields(st, call, kind) {
        Ok(x) => x,
        Err(env) => return env.into_response(),
    };
    if let Err(wait) = st.inner.throttle.check(call.peer, Some(&username)) {
        let env = Envelope::fail(
            status::FAILURE,
            format!("登录失败次数过多，请{wait}秒后再试 (too many failed logins; retry in {wait} s)"),
        );
        let mut r = (StatusCode::TOO_MANY_REQUESTS, env).into_response();
        if let Ok(v) = HeaderValue::from_str(&wait.to_string()) {
            r.headers_mut().insert(header::RETRY_AFTER, v);
        }
        return r;
    }
    let identity = match st.reg().store().get_identity(&username) {
        Ok(i) => i.filter(|i| !i.disabled),
        Err(e) => return Envelope::from_error(&ServiceError::Store(e)).into_response(),
    };
    let ok = match (&identity, kind) {
        (Some(i), Kind::Plain) => verify_phc(&i.password_hash, &accounts::sha256_hex(password.as_bytes())),
        (Some(i), Kind::Hashed) => i
            .snms_v1_verifier
            .as_deref()
            .and_then(|sealed| st.inner.sealer.open(&i.username, sealed))
            .is_some_and(|h1| accounts::v1_matches(&h1, &password, now, cfg.utc_offset_minutes)),
        (None, Kind::Plain) => {
            // Same work as a real check, so timing does not reveal accounts.
            let _ = verify_phc(&st.inner.dummy_phc, &password);
            false
        }
        (None, Kind::Hashed) => false,
    };
    let Some(identity) = identity.filter(|_| ok) else {
        st.inner.throttle.failed(call.peer, Some(&username));
        tracing::info!(client = %call.origin(), "SNMS login failed");
        return Envelope::fail(status::FAILURE, BAD_CREDENTIALS).into_response();
    };
    let mut secret = [0u8; 32];
    rand::fill(&mut secret);
    let token = accounts::make_token(&identity.username, &secret);
    let actor = accounts::actor_of(&identity, call.origin());
    match st.reg().issue_session(&actor, &token, now, cfg.token_ttl_secs, cfg.max_tokens_per_user as usize) {
        Ok(()) => Envelope::ok(json!({ "token": token })).into_response(),
        Err(e) => Envelope::from_error(&e).into_response(),
    }
}

/// `(username, password)` of a login body, or the envelope refusing it.
fn login_fields(st: &SnmsState, call: &Call, kind: Kind) -> Result<(String, String), Envelope> {
    let cfg = &st.cfg().snms;
    if kind == Kind::Hashed && !cfg.hashed_login {
        return Err(Envelope::fail(
            status::FAILURE,
            "本节点未开启密文登录，请使用 /identity/token (hashed login is disabled)",
        ));
    }
    let body = call.json().map_err(|e| Envelope::from_error(&e))?;
    Fields::of(&body, "")
        .and_then(|f| {
            let (u, path) = f.get_any(&["username", "userName"]).ok_or_else(|| invalid("username", "required"))?;
            let username = super::json::text(u, &path, MAX_USERNAME)?;
            let password = f.str_req("password", MAX_PASSWORD)?;
            Ok((username, password))
        })
        .map_err(|e| Envelope::from_error(&e))
}

/// `POST /identity/registry` (Appendix A): an administrator creates an
/// account; it becomes an enterprise user through `upgrade-apply`.
pub async fn registry(State(st): State<SnmsState>, call: Call) -> Response {
    st.authed(call, |st, actor, call, now| {
        let body = call.json()?;
        let f = Fields::of(&body, "")?;
        let account = new_account(st, &f, "", actor)?;
        st.reg().create_account(Some(actor), account, now)?;
        Ok(Envelope::ok(json!(true)))
    })
    .await
}

/// Reads `{username|userName, password (h1), email, mobile}` at `f`
/// (`base` prefixes field names) into an enterprise account.
pub(super) fn new_account(st: &SnmsState, f: &Fields<'_>, base: &str, _by: &Actor) -> Result<NewAccount, ServiceError> {
    let (u, path) =
        f.get_any(&["username", "userName"]).ok_or_else(|| invalid(super::json::join(base, "userName"), "required"))?;
    let username = super::json::text(u, &path, MAX_USERNAME)?;
    if username.trim().is_empty() {
        return Err(invalid(path, "required"));
    }
    let h1 = f.str_req("password", 255)?.trim().to_ascii_lowercase();
    if !accounts::is_sha256_hex(&h1) {
        return Err(invalid(f.path("password"), "must be the lowercase hex SHA-256 of the password (64 hex digits)"));
    }
    let email = f.str_req("email", 255)?;
    let mobile = f.str_req("mobile", 255)?;
    let phc = hash_h1(&h1).map_err(|e| ServiceError::Rejected(format!("password hashing failed: {e}")))?;
    let v1 = if st.cfg().snms.hashed_login {
        Some(st.inner.sealer.seal(&username, &h1).map_err(|e| ServiceError::Rejected(format!("sealing failed: {e}")))?)
    } else {
        None
    };
    Ok(NewAccount {
        username,
        role: Role::EnterpriseUser,
        enterprise_id: None,
        password_phc: phc,
        v1_verifier: v1,
        email,
        mobile,
    })
}
