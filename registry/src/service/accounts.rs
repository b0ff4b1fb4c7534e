//! Accounts and SNMS sessions (snms-api.md §1.4, §2, Appendix A).
//!
//! * Credentials: the account's secret is known to the SNMS API only as
//!   `h1` = lowercase hex SHA-256 of the clear secret (that is what
//!   `sysUser.password` carries). The caller stores an Argon2id PHC string
//!   of `h1` in [`Identity::password_hash`] (plain login: hash the clear
//!   password to `h1`, verify the PHC) and, when hashed login is enabled,
//!   `h1` itself as [`Identity::snms_v1_verifier`] ([`v1_matches`]).
//! * Sessions: the caller generates a random token, this module stores only
//!   its SHA-256 ([`token_hash`]) in the identity's token list with an
//!   expiry, prunes expired ones, caps how many stay live, and checks a
//!   presented token in constant time. The token names its account
//!   (`snms1.<base64url username>.<secret>`) so no index is needed.

use std::sync::Mutex;

use base64::Engine as _;
use sha2::{Digest, Sha256};

use super::{Actor, Registrar, ServiceError, access, check_len, check_required, dates};
use crate::model::{Identity, Role, TokenHash};
use crate::store::{ABSENT, StoreError, StoreExt};

/// Label of session tokens issued by the SNMS login.
pub const SESSION_LABEL: &str = "snms-session";
/// Token format tag.
const TOKEN_TAG: &str = "snms1";
/// Longest username (snms-api.md §2).
pub const MAX_USERNAME: usize = 50;

/// Lowercase hex SHA-256.
pub fn sha256_hex(b: &[u8]) -> String {
    hex::encode(Sha256::digest(b))
}

/// The stored form of a session token.
pub fn token_hash(token: &str) -> String {
    sha256_hex(token.as_bytes())
}

/// Constant-time equality (length is not secret).
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// True when `s` is 64 hexadecimal characters (an `h1`).
pub fn is_sha256_hex(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Checks a `/identity/token/v1` password field (§2.2): `SHA-256(h1 + d)`
/// for `d` = yesterday, today or tomorrow in the deployment's offset;
/// hex compared case-insensitively, in constant time per candidate.
pub fn v1_matches(h1: &str, presented: &str, now: u64, offset_minutes: i32) -> bool {
    let presented = presented.trim().to_ascii_lowercase();
    let h1 = h1.to_ascii_lowercase();
    let mut ok = false;
    for shift in -1..=1 {
        let want = sha256_hex(format!("{h1}{}", dates::date(now, offset_minutes, shift)).as_bytes());
        ok |= ct_eq(want.as_bytes(), presented.as_bytes());
    }
    ok
}

/// Builds a session token for `username` from 32 random bytes.
pub fn make_token(username: &str, secret: &[u8; 32]) -> String {
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    format!("{TOKEN_TAG}.{}.{}", b64.encode(username.as_bytes()), b64.encode(secret))
}

/// The account a token names, if it is well-formed.
pub fn token_username(token: &str) -> Option<String> {
    let mut parts = token.split('.');
    if parts.next()? != TOKEN_TAG {
        return None;
    }
    let user = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(parts.next()?).ok()?;
    let secret = parts.next()?;
    if parts.next().is_some() || secret.len() < 40 {
        return None;
    }
    String::from_utf8(user).ok()
}

/// The actor an identity acts as.
pub fn actor_of(i: &Identity, origin: impl Into<String>) -> Actor {
    Actor::new(i.username.clone(), i.role, i.enterprise_id, origin)
}

/// A new account (credentials already hashed by the caller).
#[derive(Debug, Clone)]
pub struct NewAccount {
    pub username: String,
    pub role: Role,
    pub enterprise_id: Option<u64>,
    /// Argon2id PHC string of `h1`.
    pub password_phc: String,
    /// `h1`, when hashed login is enabled.
    pub v1_verifier: Option<String>,
    pub email: String,
    pub mobile: String,
}

/// Serialises account changes within this process. Across processes
/// sharing one store, every read-modify-write of an identity is a
/// compare-and-swap ([`StoreExt::update_identity`], `put_identity_if`), so
/// two nodes cannot lose each other's update; this lock only keeps one
/// process's own writers from retrying against each other.
#[derive(Debug, Default)]
pub(crate) struct AccountLock(pub(crate) Mutex<()>);

impl Registrar {
    fn account_guard(&self) -> std::sync::MutexGuard<'_, ()> {
        self.accounts.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Fails when `username`, `email` or `mobile` is taken (`-2`).
    pub(crate) fn check_unique_account(&self, username: &str, email: &str, mobile: &str) -> Result<(), ServiceError> {
        if self.store().get_identity(username)?.is_some() {
            return Err(ServiceError::rejected(format!("用户名{username}已存在 (username taken)")));
        }
        let mut after: Option<String> = None;
        loop {
            let page = self.store().list_identities(after.as_deref(), 512)?;
            for i in &page {
                if !email.is_empty() && i.email.eq_ignore_ascii_case(email) {
                    return Err(ServiceError::rejected(format!("邮箱{email}已被使用 (email taken)")));
                }
                if !mobile.is_empty() && i.mobile == mobile {
                    return Err(ServiceError::rejected(format!("手机号{mobile}已被使用 (mobile taken)")));
                }
            }
            match page.last() {
                Some(last) if page.len() == 512 => after = Some(last.username.clone()),
                _ => return Ok(()),
            }
        }
    }

    /// Creates an account (`POST /identity/registry`, `ent/apply`, `init`).
    /// Only platform admins (or `None` = the node itself, at init) may.
    pub fn create_account(&self, by: Option<&Actor>, a: NewAccount, now: u64) -> Result<(), ServiceError> {
        if let Some(actor) = by {
            access::check_writer(actor)?;
            if !actor.is_admin() {
                return Err(ServiceError::forbidden("只有管理员可以创建用户 (administrators only)"));
            }
        }
        check_required("username", &a.username, MAX_USERNAME)?;
        check_len("email", &a.email, 255)?;
        check_len("mobile", &a.mobile, 255)?;
        let _g = self.account_guard();
        self.check_unique_account(&a.username, &a.email, &a.mobile)?;
        let mut i = Identity::new(a.username.clone(), a.role, a.password_phc, now);
        i.enterprise_id = a.enterprise_id;
        i.snms_v1_verifier = a.v1_verifier;
        i.email = a.email;
        i.mobile = a.mobile;
        match self.store().put_identity_if(&i, ABSENT) {
            Err(StoreError::Conflict { .. }) => {
                return Err(ServiceError::rejected(format!("用户名{}已存在 (username taken)", a.username)));
            }
            r => r?,
        }
        if let Some(actor) = by {
            self.audit(actor, "account.create", &a.username, "ok", now)?;
        }
        Ok(())
    }

    /// Changes the role (and, for enterprise users, the enterprise) of an
    /// existing account (the operator console). Platform admins only, not
    /// on their own account (no self-lockout); audited `account.role` with
    /// the new role in the target. Live sessions keep working with the new
    /// role (it is read on every request).
    pub fn set_account_role(
        &self,
        by: &Actor,
        username: &str,
        role: Role,
        enterprise_id: Option<u64>,
        now: u64,
    ) -> Result<Identity, ServiceError> {
        access::check_writer(by)?;
        if !by.is_admin() {
            return Err(ServiceError::forbidden("只有管理员可以修改角色 (administrators only)"));
        }
        if by.username == username {
            return Err(ServiceError::rejected("不能修改自己的角色 (not your own role)"));
        }
        if role == Role::EnterpriseUser && enterprise_id.is_none() {
            return Err(ServiceError::rejected("企业用户需要企业 (enterprise users need an enterprise id)"));
        }
        if let Some(id) = enterprise_id
            && self.store().get_enterprise(id)?.is_none()
        {
            return Err(ServiceError::rejected(format!("企业{id}不存在 (no such enterprise)")));
        }
        let ent = if role == Role::EnterpriseUser { enterprise_id } else { None };
        let _g = self.account_guard();
        let r = self.store().update_identity(username, &mut |cur| {
            let mut i = cur.ok_or_else(|| StoreError::EntityNotFound { what: "identity", key: username.to_owned() })?;
            i.role = role;
            i.enterprise_id = ent;
            Ok(i)
        });
        let i = match r {
            Err(StoreError::EntityNotFound { .. }) => {
                return Err(ServiceError::rejected(format!("用户{username}不存在 (no such account)")));
            }
            r => r?,
        };
        let target = match ent {
            Some(e) => format!("{username} role={role:?} enterprise={e}"),
            None => format!("{username} role={role:?}"),
        };
        self.audit(by, "account.role", &target, "ok", now)?;
        Ok(i)
    }

    /// Creates or replaces the credentials of `username` (used by `init`
    /// for the platform admin account).
    pub fn put_admin_account(
        &self,
        username: &str,
        password_phc: String,
        v1: Option<String>,
        now: u64,
    ) -> Result<(), ServiceError> {
        let _g = self.account_guard();
        self.store().update_identity(username, &mut |cur| {
            let mut i = cur.unwrap_or_else(|| Identity::new(username, Role::PlatformAdmin, String::new(), now));
            i.role = Role::PlatformAdmin;
            i.password_hash = password_phc.clone();
            i.snms_v1_verifier = v1.clone();
            i.disabled = false;
            Ok(i)
        })?;
        Ok(())
    }

    /// Stores a new session token (its hash) for `username`, valid
    /// `ttl` seconds; prunes expired sessions and keeps at most
    /// `max_sessions` (the oldest go first). Earlier tokens stay valid.
    pub fn issue_session(
        &self,
        actor: &Actor,
        token: &str,
        now: u64,
        ttl: u64,
        max_sessions: usize,
    ) -> Result<(), ServiceError> {
        let _g = self.account_guard();
        let hash = token_hash(token);
        let r = self.store().update_identity(&actor.username, &mut |cur| {
            let mut i =
                cur.ok_or_else(|| StoreError::EntityNotFound { what: "identity", key: actor.username.clone() })?;
            add_session(&mut i, &hash, now, ttl, max_sessions);
            Ok(i)
        });
        match r {
            Err(StoreError::EntityNotFound { .. }) => {
                return Err(ServiceError::Unauthenticated("用户名/密码错误！".into()));
            }
            r => r?,
        };
        self.audit(actor, "login", &actor.username, "ok", now)?;
        Ok(())
    }
}

/// Prunes expired sessions of `i`, drops the oldest beyond
/// `max_sessions - 1` and adds a session with token hash `hash`.
fn add_session(i: &mut Identity, hash: &str, now: u64, ttl: u64, max_sessions: usize) {
    i.api_tokens.retain(|t| t.label != SESSION_LABEL || t.expires.is_some_and(|e| e > now));
    let live = i.api_tokens.iter().filter(|t| t.label == SESSION_LABEL).count();
    let mut excess = (live + 1).saturating_sub(max_sessions.max(1));
    // Tokens are appended in issue order, so the first ones are the oldest.
    i.api_tokens.retain(|t| {
        if excess > 0 && t.label == SESSION_LABEL {
            excess -= 1;
            false
        } else {
            true
        }
    });
    i.api_tokens.push(TokenHash {
        id: hash[..12].to_owned(),
        hash: hash.to_owned(),
        label: SESSION_LABEL.into(),
        created: now,
        expires: Some(now.saturating_add(ttl)),
    });
}

impl Registrar {
    /// Rewrites stored hashed-login verifiers: `f(username, stored)` returns
    /// `Some(new)` to replace one (`Some(None)` removes it), `None` to keep
    /// it. Used at start to seal verifiers older versions kept in clear.
    /// Returns how many accounts changed.
    pub fn migrate_v1_verifiers<F>(&self, f: F) -> Result<usize, ServiceError>
    where
        F: Fn(&str, &str) -> Option<Option<String>>,
    {
        let _g = self.account_guard();
        let mut changed = 0;
        let mut after: Option<String> = None;
        loop {
            let page = self.store().list_identities(after.as_deref(), 512)?;
            for i in &page {
                let Some(stored) = i.snms_v1_verifier.as_deref() else { continue };
                if let Some(new) = f(&i.username, stored) {
                    // Compare-and-swap: only the verifier changes, whatever
                    // else another process wrote since the page was read.
                    self.store().update_identity(&i.username, &mut |cur| {
                        let mut i = cur
                            .ok_or_else(|| StoreError::EntityNotFound { what: "identity", key: i.username.clone() })?;
                        i.snms_v1_verifier = new.clone();
                        Ok(i)
                    })?;
                    changed += 1;
                }
            }
            match page.last() {
                Some(last) if page.len() == 512 => after = Some(last.username.clone()),
                _ => return Ok(changed),
            }
        }
    }

    /// The identity a session token belongs to, if the token is live.
    pub fn authenticate(&self, token: &str, now: u64) -> Result<Identity, ServiceError> {
        let not_logged_in = || ServiceError::Unauthenticated("没有登录，需要验证 (missing or invalid token)".into());
        let username = token_username(token).ok_or_else(not_logged_in)?;
        let i = self.store().get_identity(&username)?.ok_or_else(not_logged_in)?;
        if i.disabled {
            return Err(ServiceError::Unauthenticated("账号已停用 (account disabled)".into()));
        }
        let hash = token_hash(token);
        let t = i
            .api_tokens
            .iter()
            .find(|t| t.label == SESSION_LABEL && ct_eq(t.hash.as_bytes(), hash.as_bytes()))
            .ok_or_else(not_logged_in)?;
        if t.expires.is_some_and(|e| e <= now) {
            return Err(ServiceError::Unauthenticated("登录已过期，请重新登录 (token expired)".into()));
        }
        Ok(i)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::service::Limits;
    use crate::service::testutil::*;

    #[test]
    fn v1_vectors() {
        // snms-api.md §2.2 worked example and [I5] vector.
        let h1 = sha256_hex(b"Example#2025");
        assert_eq!(h1, "fef430cebfc2f01606cc7b4f96d4ba0147b6f6c69c3ebe05a3b90f1fdd7537d1");
        let noon = dates::parse("2025-03-18 12:00:00", 480).unwrap();
        let field = "1af454a30ca6a36af5e26c79f0131c9203a1b91c9943cc2fad64dbd1b13d7cb8";
        assert!(v1_matches(&h1, field, noon, 480));
        assert!(v1_matches(&h1, &field.to_ascii_uppercase(), noon + 86_400, 480));
        assert!(!v1_matches(&h1, field, noon + 3 * 86_400, 480));
        let old = dates::parse("2019-08-15 09:00:00", 480).unwrap();
        let h = sha256_hex(b"123456");
        assert!(v1_matches(&h, "58e2c92c46485fdbc35fdcd0814d6c0f000cad5aa156848ca5edaf29406b7661", old, 480));
    }

    #[test]
    fn sessions() {
        let f = fixture(Limits::default());
        let a = NewAccount {
            username: "ent1".into(),
            role: Role::EnterpriseUser,
            enterprise_id: Some(1),
            password_phc: "$argon2id$stub".into(),
            v1_verifier: None,
            email: "a@x".into(),
            mobile: "1".into(),
        };
        f.reg.create_account(Some(&admin()), a.clone(), NOW).unwrap();
        assert!(f.reg.create_account(Some(&admin()), a.clone(), NOW).is_err());
        assert!(f.reg.create_account(Some(&user(1)), NewAccount { username: "x".into(), ..a.clone() }, NOW).is_err());
        let actor = Actor::new("ent1", Role::EnterpriseUser, Some(1), "ip");
        let tokens: Vec<String> = (0..4u8).map(|n| make_token("ent1", &[n; 32])).collect();
        for t in &tokens {
            f.reg.issue_session(&actor, t, NOW, 100, 3).unwrap();
        }
        assert_eq!(token_username(&tokens[0]).as_deref(), Some("ent1"));
        assert!(f.reg.authenticate(&tokens[0], NOW).is_err(), "oldest dropped by the cap");
        assert_eq!(f.reg.authenticate(&tokens[3], NOW + 99).unwrap().username, "ent1");
        let e = f.reg.authenticate(&tokens[3], NOW + 100).unwrap_err();
        assert!(e.to_string().contains("expired"));
        assert!(f.reg.authenticate("garbage", NOW).is_err());
        let stored = f.store.get_identity("ent1").unwrap().unwrap();
        assert!(stored.api_tokens.iter().all(|t| !t.hash.contains(&tokens[3])));
    }

    #[test]
    fn roles_are_changed_by_admins_and_audited() {
        let f = fixture(Limits::default());
        let a = NewAccount {
            username: "ops".into(),
            role: Role::Auditor,
            enterprise_id: None,
            password_phc: "$argon2id$stub".into(),
            v1_verifier: None,
            email: String::new(),
            mobile: String::new(),
        };
        f.reg.create_account(Some(&admin()), a, NOW).unwrap();
        // Refused: auditors, enterprise users, one's own role, unknown
        // enterprises or accounts, enterprise users without an enterprise.
        assert!(f.reg.set_account_role(&auditor(), "ops", Role::PlatformAdmin, None, NOW).is_err());
        assert!(f.reg.set_account_role(&user(1), "ops", Role::PlatformAdmin, None, NOW).is_err());
        assert!(f.reg.set_account_role(&admin(), "admin", Role::Auditor, None, NOW).is_err());
        assert!(f.reg.set_account_role(&admin(), "ops", Role::EnterpriseUser, None, NOW).is_err());
        assert!(f.reg.set_account_role(&admin(), "ops", Role::EnterpriseUser, Some(99), NOW).is_err());
        assert!(f.reg.set_account_role(&admin(), "nobody", Role::Auditor, None, NOW).is_err());
        assert_eq!(f.store.get_identity("ops").unwrap().unwrap().role, Role::Auditor, "unchanged");
        let i = f.reg.set_account_role(&admin(), "ops", Role::EnterpriseUser, Some(2), NOW).unwrap();
        assert_eq!((i.role, i.enterprise_id), (Role::EnterpriseUser, Some(2)));
        // An enterprise id is dropped for other roles.
        let i = f.reg.set_account_role(&admin(), "ops", Role::PlatformAdmin, Some(2), NOW).unwrap();
        assert_eq!((i.role, i.enterprise_id), (Role::PlatformAdmin, None));
        let log = f.store.read_audit(0, 100).unwrap();
        let roles: Vec<_> = log.iter().filter(|e| e.action == "account.role").map(|e| e.target.as_str()).collect();
        assert_eq!(roles, ["ops role=EnterpriseUser enterprise=2", "ops role=PlatformAdmin"]);
    }
}
