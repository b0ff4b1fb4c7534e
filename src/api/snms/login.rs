//! Login (snms-api.md §2) and account creation (Appendix A).
//!
//! `POST /identity/token` takes the clear secret, hashes it to `h1`
//! (SHA-256 hex) and verifies the account's Argon2id PHC of `h1`;
//! `POST /identity/token/v1` takes `SHA-256(h1 + yyyy-MM-dd)` and checks it
//! against the stored verifier (yesterday/today/tomorrow in
//! `snms.utc_offset_minutes`). A success stores the SHA-256 of a fresh
//! random token with a `snms.token_ttl_secs` expiry and answers the token.
//! Failures are counted per client network; past `snms.login_max_failures`
//! in `snms.login_window_secs` logins from it are refused. Neither
//! passwords nor tokens are logged.

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use axum::extract::State;
use axum::response::Response;
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

/// The credentials to store for a secret: (Argon2id PHC of `h1`, `h1`).
pub fn admin_account_hashes(secret: &[u8]) -> Result<(String, String), argon2::password_hash::Error> {
    let h1 = accounts::sha256_hex(secret);
    Ok((hash_h1(&h1)?, h1))
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
    st.blocking(move |st| login(st, &call, Kind::Plain)).await
}

pub async fn hashed(State(st): State<SnmsState>, call: Call) -> Response {
    st.blocking(move |st| login(st, &call, Kind::Hashed)).await
}

fn login(st: &SnmsState, call: &Call, kind: Kind) -> Envelope {
    let now = st.now();
    let cfg = &st.cfg().snms;
    if st.inner.logins.blocked(call.peer, now, cfg.login_max_failures, cfg.login_window_secs) {
        return Envelope::fail(
            status::FAILURE,
            "登录失败次数过多，请稍后再试 (too many failed logins; try again later)",
        );
    }
    if kind == Kind::Hashed && !cfg.hashed_login {
        return Envelope::fail(
            status::FAILURE,
            "本节点未开启密文登录，请使用 /identity/token (hashed login is disabled)",
        );
    }
    let body = match call.json() {
        Ok(b) => b,
        Err(e) => return Envelope::from_error(&e),
    };
    let parsed = Fields::of(&body, "").and_then(|f| {
        let (u, path) = f.get_any(&["username", "userName"]).ok_or_else(|| invalid("username", "required"))?;
        let username = super::json::text(u, &path, MAX_USERNAME)?;
        let password = f.str_req("password", MAX_PASSWORD)?;
        Ok((username, password))
    });
    let (username, password) = match parsed {
        Ok(x) => x,
        Err(e) => return Envelope::from_error(&e),
    };
    let identity = match st.reg().store().get_identity(&username) {
        Ok(i) => i.filter(|i| !i.disabled),
        Err(e) => return Envelope::from_error(&ServiceError::Store(e)),
    };
    let ok = match (&identity, kind) {
        (Some(i), Kind::Plain) => verify_phc(&i.password_hash, &accounts::sha256_hex(password.as_bytes())),
        (Some(i), Kind::Hashed) => i
            .snms_v1_verifier
            .as_deref()
            .is_some_and(|h1| accounts::v1_matches(h1, &password, now, cfg.utc_offset_minutes)),
        (None, Kind::Plain) => {
            // Same work as a real check, so timing does not reveal accounts.
            let _ = verify_phc(&st.inner.dummy_phc, &password);
            false
        }
        (None, Kind::Hashed) => false,
    };
    let Some(identity) = identity.filter(|_| ok) else {
        st.inner.logins.failed(call.peer, now, cfg.login_window_secs);
        tracing::info!(client = %call.origin(), "SNMS login failed");
        return Envelope::fail(status::FAILURE, BAD_CREDENTIALS);
    };
    st.inner.logins.succeeded(call.peer);
    let mut secret = [0u8; 32];
    rand::fill(&mut secret);
    let token = accounts::make_token(&identity.username, &secret);
    let actor = accounts::actor_of(&identity, call.origin());
    match st.reg().issue_session(&actor, &token, now, cfg.token_ttl_secs, cfg.max_tokens_per_user as usize) {
        Ok(()) => Envelope::ok(json!({ "token": token })),
        Err(e) => Envelope::from_error(&e),
    }
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
    Ok(NewAccount {
        username,
        role: Role::EnterpriseUser,
        enterprise_id: None,
        password_phc: phc,
        v1_verifier: st.cfg().snms.hashed_login.then_some(h1),
        email,
        mobile,
    })
}
