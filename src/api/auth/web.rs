//! Browser sessions of the HTML pages (operator console, enterprise
//! portal): a login form checks an account's password the way the SNMS
//! login does (Argon2id PHC of the SHA-256 hex of the password), counts
//! failures in the shared [`super::throttle::LoginThrottle`], and issues a
//! session token through `Registrar::issue_session` (the same session
//! table, expiry and audit entry as the SNMS API). The token travels in a
//! cookie that is `HttpOnly`, `SameSite=Strict`, `Secure` over TLS and
//! scoped to the page family's path.
//!
//! Every state-changing form carries a CSRF token derived from the session
//! token ([`csrf_token`]); [`csrf_ok`] compares in constant time. A
//! cross-site page can neither read the cookie nor compute the token.
//! Nothing here logs a password or a token.

use argon2::Argon2;
use argon2::password_hash::PasswordVerifier;
use argon2::password_hash::phc::PasswordHash;
use axum::http::{HeaderMap, HeaderValue, header};
use idnode_registry::model::Identity;
use idnode_registry::service::accounts::{self, actor_of};
use idnode_registry::service::{Actor, Registrar, ServiceError};

use super::throttle::LoginThrottle;
use crate::serve::http::PeerInfo;

/// Why a login form was refused.
#[derive(Debug)]
pub enum LoginError {
    /// Wrong user name or password (or a disabled account).
    BadCredentials,
    /// Too many failures; retry after this many seconds.
    Throttled(u64),
    /// Plain HTTP from a non-loopback client: credentials not taken.
    Insecure,
    /// The store or the service failed.
    Service(ServiceError),
}

/// Checks `password` against `username`'s account and issues a session
/// token valid `ttl` seconds.
#[allow(clippy::too_many_arguments, reason = "the login's inputs, each used once; a struct would only rename them")]
pub fn login(
    reg: &Registrar,
    throttle: &LoginThrottle,
    peer: Option<&PeerInfo>,
    username: &str,
    password: &str,
    now: u64,
    ttl: u64,
    max_sessions: usize,
) -> Result<(Identity, String), LoginError> {
    if !super::plain_http_credentials_ok(peer) {
        return Err(LoginError::Insecure);
    }
    let ip = peer.map(|p| p.addr.ip());
    throttle.check(ip, Some(username)).map_err(LoginError::Throttled)?;
    let identity = reg.store().get_identity(username).map_err(|e| LoginError::Service(e.into()))?;
    let h1 = accounts::sha256_hex(password.as_bytes());
    let ok = identity.as_ref().is_some_and(|i| !i.disabled && verify_phc(&i.password_hash, &h1));
    let Some(identity) = identity.filter(|_| ok) else {
        throttle.failed(ip, Some(username));
        return Err(LoginError::BadCredentials);
    };
    let mut secret = [0u8; 32];
    rand::fill(&mut secret);
    let token = accounts::make_token(&identity.username, &secret);
    let origin = peer.map(|p| p.addr.ip().to_string()).unwrap_or_default();
    let actor = actor_of(&identity, origin);
    reg.issue_session(&actor, &token, now, ttl, max_sessions).map_err(LoginError::Service)?;
    Ok((identity, token))
}

fn verify_phc(phc: &str, h1: &str) -> bool {
    PasswordHash::new(phc).is_ok_and(|p| Argon2::default().verify_password(h1.as_bytes(), &p).is_ok())
}

/// The actor of a live session token.
pub fn session_actor(reg: &Registrar, token: &str, peer: Option<&PeerInfo>, now: u64) -> Option<Actor> {
    let i = reg.authenticate(token, now).ok()?;
    Some(actor_of(&i, peer.map(|p| p.addr.ip().to_string()).unwrap_or_default()))
}

/// The value of cookie `name` in the request, if any.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// `Set-Cookie` for a session token: HttpOnly, SameSite=Strict, scoped to
/// `path`, Secure over TLS; `None` clears the cookie.
pub fn set_cookie(name: &str, token: Option<&str>, path: &str, tls: bool, ttl: u64) -> HeaderValue {
    let secure = if tls { "; Secure" } else { "" };
    let s = match token {
        Some(t) => format!("{name}={t}; Path={path}; Max-Age={ttl}; HttpOnly; SameSite=Strict{secure}"),
        None => format!("{name}=; Path={path}; Max-Age=0; HttpOnly; SameSite=Strict{secure}"),
    };
    HeaderValue::from_str(&s).unwrap_or_else(|_| HeaderValue::from_static("invalid=; Max-Age=0"))
}

/// The CSRF token of a session (hex, 32 characters).
pub fn csrf_token(session_token: &str) -> String {
    let mut input = b"idnode-csrf\0".to_vec();
    input.extend_from_slice(session_token.as_bytes());
    accounts::sha256_hex(&input)[..32].to_owned()
}

/// Whether `presented` is the session's CSRF token.
pub fn csrf_ok(session_token: &str, presented: Option<&str>) -> bool {
    presented.is_some_and(|p| accounts::ct_eq(p.as_bytes(), csrf_token(session_token).as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_and_csrf() {
        let mut h = HeaderMap::new();
        h.insert(header::COOKIE, HeaderValue::from_static("a=1; idnode_console=tok.x; b=2"));
        assert_eq!(cookie(&h, "idnode_console"), Some("tok.x"));
        assert_eq!(cookie(&h, "c"), None);
        let c = csrf_token("tok");
        assert_eq!(c.len(), 32);
        assert!(csrf_ok("tok", Some(&c)));
        assert!(!csrf_ok("tok", None));
        assert!(!csrf_ok("other", Some(&c)));
        let v = set_cookie("s", Some("t"), "/console", true, 60);
        let v = v.to_str().unwrap();
        assert!(v.contains("HttpOnly") && v.contains("SameSite=Strict") && v.contains("Secure"), "{v}");
        assert!(!set_cookie("s", Some("t"), "/", false, 60).to_str().unwrap().contains("Secure"));
    }
}
