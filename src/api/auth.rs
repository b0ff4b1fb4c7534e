//! HTTP credentials for the APIs (handle-protocol.md §8 "Authentication"):
//! parsing `Authorization`, checking it against the store, the table of
//! `Authorization: Handle` sessions, and the per-client limit on failed
//! attempts. The decisions themselves (MACs, signatures, HS_ADMIN) live in
//! `idnode_resolver::auth`.
//!
//! Accepted forms:
//! * `Basic base64(pct(idx:handle) ":" secret)` — checked against the
//!   HS_SECKEY at that index (pyhandle sends `300%3ATEST/ADMIN:pw`).
//! * `Handle sessionId="…", id="idx:handle", type="HS_SECKEY|HS_PUBKEY",
//!   cnonce="…", alg="…", signature="…"` [`salt`, `iterations`, `length`]
//!   — a proof over `nonce ‖ cnonce` where `nonce` is the session's (from a
//!   401's `WWW-Authenticate: Handle sessionId, nonce` or `POST
//!   /api/sessions`); later requests send just `sessionId="…"`.
//!
//! Credentials count only on HTTPS, or on plain HTTP from a loopback client
//! when `http.allow_plain_http_auth` is set; elsewhere they are ignored and
//! an operation needing them answers 403 saying so (CNRI does the same).
//! [`plain_http_credentials_ok`] is the rule the SNMS and admin APIs apply.
//!
//! Secrets are never logged or put in an error message; failed attempts of
//! every API count in one [`throttle::LoginThrottle`] (per client network
//! and per account, `governor`), which answers 429 with `Retry-After`.

pub mod sealed;
pub mod throttle;
pub mod web;

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use axum::http::{HeaderMap, StatusCode, header};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use idnode_resolver::auth::{self as core, AuthType, Identity, RecordSource};

use crate::serve::http::PeerInfo;

/// Most sessions kept; the oldest is dropped first.
const MAX_SESSIONS: usize = 10_000;
/// An unauthenticated session (a pending challenge) lives this long (s).
const CHALLENGE_TTL: u64 = 300;
/// An authenticated session expires after this much idle time (s).
const SESSION_IDLE: u64 = 30 * 60;
/// ... and at the latest after this long (CNRI `max_session_time`).
const SESSION_MAX: u64 = 24 * 3600;

/// Whether credentials may travel on this connection for the SNMS and
/// admin APIs: TLS, or a loopback client (a proxy on the same host, local
/// tools). An unknown peer (no connection information) is refused.
pub fn plain_http_credentials_ok(peer: Option<&PeerInfo>) -> bool {
    peer.is_some_and(|p| p.tls || p.is_loopback())
}

/// What a request presented in `Authorization`.
pub enum Credentials {
    Basic { identity: Identity, secret: Vec<u8> },
    Handle(Box<HandleParams>),
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Credentials::Basic { identity, .. } => write!(f, "Basic({identity}, <secret redacted>)"),
            Credentials::Handle(p) => write!(f, "Handle(sessionId={:?}, id={:?})", p.session_id, p.id),
        }
    }
}

/// Parameters of `Authorization: Handle` (names case-insensitive).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HandleParams {
    pub version: Option<String>,
    pub session_id: Option<String>,
    pub id: Option<String>,
    pub auth_type: Option<String>,
    pub cnonce: Option<String>,
    pub alg: Option<String>,
    pub signature: Option<String>,
    pub salt: Option<String>,
    pub iterations: Option<String>,
    pub length: Option<String>,
    pub client_cert: Option<String>,
}

impl HandleParams {
    /// Carries a proof (not just a session id).
    pub fn is_authenticating(&self) -> bool {
        self.id.is_some() || self.auth_type.is_some() || self.alg.is_some() || self.signature.is_some()
    }

    /// Sets a parameter (from the header or, on the sessions API, the JSON
    /// body); unknown names are ignored.
    pub fn set(&mut self, name: &str, value: String) {
        let slot = match name.to_ascii_lowercase().as_str() {
            "version" => &mut self.version,
            "sessionid" => &mut self.session_id,
            "id" => &mut self.id,
            "type" => &mut self.auth_type,
            "cnonce" => &mut self.cnonce,
            "alg" => &mut self.alg,
            "signature" => &mut self.signature,
            "salt" => &mut self.salt,
            "iterations" => &mut self.iterations,
            "length" => &mut self.length,
            "clientcert" => &mut self.client_cert,
            _ => return,
        };
        if slot.is_none() {
            *slot = Some(value);
        }
    }
}

fn pct_decode(s: &str) -> Result<String, String> {
    percent_encoding::percent_decode_str(s)
        .decode_utf8()
        .map(|c| c.into_owned())
        .map_err(|_| "percent-decoded identity is not UTF-8".to_owned())
}

/// Parses an `Authorization` header value. `Err` names what is malformed
/// (never echoing a secret).
pub fn parse_authorization(value: &str) -> Result<Credentials, String> {
    let value = value.trim();
    let (scheme, rest) = value.split_once(char::is_whitespace).unwrap_or((value, ""));
    if scheme.eq_ignore_ascii_case("Basic") {
        let raw = STANDARD.decode(rest.trim()).map_err(|_| "Basic credentials are not valid base64".to_owned())?;
        let colon = raw.iter().position(|&b| b == b':').ok_or("Basic credentials without ':'")?;
        let (user, secret) = (&raw[..colon], raw[colon + 1..].to_vec());
        let user = std::str::from_utf8(user).map_err(|_| "Basic user name is not UTF-8".to_owned())?;
        let user = pct_decode(user)?;
        // CNRI also takes an unencoded `idx:handle` user: then the first
        // ':' split the index off, and the handle runs to the next ':'.
        let identity = if user.bytes().all(|b| b.is_ascii_digit()) && !user.is_empty() {
            let more = &raw[colon + 1..];
            let c2 = more.iter().position(|&b| b == b':').ok_or("Basic user name is not index:handle")?;
            let handle = std::str::from_utf8(&more[..c2]).map_err(|_| "Basic user name is not UTF-8".to_owned())?;
            let identity = Identity::parse(&format!("{user}:{handle}")).map_err(|e| e.to_string())?;
            return Ok(Credentials::Basic { identity, secret: more[c2 + 1..].to_vec() });
        } else {
            Identity::parse(&user).map_err(|e| e.to_string())?
        };
        return Ok(Credentials::Basic { identity, secret });
    }
    if scheme.eq_ignore_ascii_case("Handle") {
        return parse_handle_params(rest).map(|p| Credentials::Handle(Box::new(p)));
    }
    Err(format!("unsupported authorization scheme {:?} (Basic or Handle)", scheme.chars().take(20).collect::<String>()))
}

/// `k=v` or `k="v"` pairs separated by commas; `id` is percent-decoded.
fn parse_handle_params(s: &str) -> Result<HandleParams, String> {
    let mut p = HandleParams::default();
    let b = s.as_bytes();
    let mut i = 0;
    let skip_ws = |i: &mut usize| {
        while *i < b.len() && (b[*i] == b' ' || b[*i] == b'\t' || b[*i] == b',') {
            *i += 1;
        }
    };
    loop {
        skip_ws(&mut i);
        if i >= b.len() {
            break;
        }
        let start = i;
        while i < b.len() && b[i] != b'=' && b[i] != b',' && !b[i].is_ascii_whitespace() {
            i += 1;
        }
        let name = &s[start..i];
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        if i >= b.len() || b[i] != b'=' || name.is_empty() {
            return Err("malformed Authorization: Handle parameters".into());
        }
        i += 1;
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        let value = if i < b.len() && b[i] == b'"' {
            i += 1;
            let mut v = String::new();
            loop {
                match b.get(i) {
                    None => return Err("unterminated quoted string in Authorization: Handle".into()),
                    Some(b'"') => {
                        i += 1;
                        break;
                    }
                    Some(b'\\') if i + 1 < b.len() => {
                        let ch = s[i + 1..].chars().next().unwrap_or('\\');
                        v.push(ch);
                        i += 1 + ch.len_utf8();
                    }
                    Some(_) => {
                        let ch = s[i..].chars().next().unwrap_or('?');
                        v.push(ch);
                        i += ch.len_utf8();
                    }
                }
            }
            v
        } else {
            let start = i;
            while i < b.len() && b[i] != b',' && !b[i].is_ascii_whitespace() {
                i += 1;
            }
            s[start..i].to_owned()
        };
        let value = if name.eq_ignore_ascii_case("id") { pct_decode(&value)? } else { value };
        p.set(name, value);
    }
    Ok(p)
}

/// Outcome of looking at a request's credentials.
#[derive(Debug, Clone, Default)]
pub struct Caller {
    /// The proven identity, if any.
    pub identity: Option<Identity>,
    /// Credentials were presented where they may not be used (plain HTTP):
    /// ignored; an operation needing them gets 403.
    pub ignored_insecure: bool,
}

/// An authentication failure as the API reports it.
#[derive(Debug, Clone)]
pub struct AuthFailure {
    pub status: StatusCode,
    /// Handle response code for the JSON body.
    pub rc: u32,
    pub message: String,
    /// Extra response headers (`WWW-Authenticate`, `Retry-After`).
    pub headers: Vec<(header::HeaderName, String)>,
}

/// One `Authorization: Handle` session.
#[derive(Debug, Clone)]
struct Session {
    nonce: [u8; 16],
    identity: Option<Identity>,
    created: u64,
    last_used: u64,
}

impl Session {
    fn expired(&self, now: u64) -> bool {
        match self.identity {
            None => now > self.created + CHALLENGE_TTL,
            Some(_) => now > self.last_used + SESSION_IDLE || now > self.created + SESSION_MAX,
        }
    }
}

#[derive(Debug, Default)]
struct Sessions {
    map: HashMap<String, Session>,
    order: VecDeque<String>,
}

/// Shared authentication state of the HTTP APIs.
#[derive(Debug)]
pub struct AuthState {
    sessions: Mutex<Sessions>,
    throttle: Arc<throttle::LoginThrottle>,
    allow_plain_http_auth: bool,
    /// Server administrators (config `admin.server_admins`).
    pub server_admins: Vec<Identity>,
}

/// A session as the sessions API shows it.
#[derive(Debug, Clone)]
pub struct SessionView {
    pub id: String,
    pub nonce: [u8; 16],
    pub identity: Option<Identity>,
}

impl AuthState {
    pub fn new(
        allow_plain_http_auth: bool,
        server_admins: Vec<Identity>,
        throttle: Arc<throttle::LoginThrottle>,
    ) -> Self {
        AuthState { sessions: Mutex::new(Sessions::default()), throttle, allow_plain_http_auth, server_admins }
    }

    /// Whether credentials may be used on this connection.
    pub fn channel_ok(&self, peer: Option<&PeerInfo>) -> bool {
        match peer {
            Some(p) => p.tls || (self.allow_plain_http_auth && p.is_loopback()),
            None => false,
        }
    }

    /// The message for credentials refused on plain HTTP.
    pub fn insecure_message(&self) -> &'static str {
        if self.allow_plain_http_auth {
            "authentication over plain HTTP is accepted only from loopback clients; use HTTPS (same port)"
        } else {
            "authentication requires HTTPS (same port as HTTP); credentials sent over plain HTTP are ignored"
        }
    }

    /// Opens a new session with a fresh nonce.
    pub fn open_session(&self, now: u64) -> SessionView {
        let mut nonce = [0u8; 16];
        rand::fill(&mut nonce);
        let mut raw = [0u8; 16];
        rand::fill(&mut raw);
        let id = hex::encode(raw);
        let mut s = self.sessions.lock().unwrap_or_else(|p| p.into_inner());
        Self::expire(&mut s, now);
        while s.map.len() >= MAX_SESSIONS {
            match s.order.pop_front() {
                Some(old) => {
                    s.map.remove(&old);
                }
                None => break,
            }
        }
        s.map.insert(id.clone(), Session { nonce, identity: None, created: now, last_used: now });
        s.order.push_back(id.clone());
        SessionView { id, nonce, identity: None }
    }

    fn expire(s: &mut Sessions, now: u64) {
        // Cheap amortised sweep from the oldest end.
        while let Some(id) = s.order.front().cloned() {
            match s.map.get(&id) {
                Some(sess) if !sess.expired(now) => break,
                _ => {
                    s.order.pop_front();
                    s.map.remove(&id);
                }
            }
        }
    }

    /// A live session (touching it).
    pub fn session(&self, id: &str, now: u64) -> Option<SessionView> {
        let mut s = self.sessions.lock().unwrap_or_else(|p| p.into_inner());
        let sess = s.map.get_mut(id)?;
        if sess.expired(now) {
            s.map.remove(id);
            return None;
        }
        sess.last_used = now;
        Some(SessionView { id: id.to_owned(), nonce: sess.nonce, identity: sess.identity.clone() })
    }

    /// Marks a session authenticated as `identity`.
    pub fn set_session_identity(&self, id: &str, identity: Identity, now: u64) {
        let mut s = self.sessions.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(sess) = s.map.get_mut(id) {
            sess.identity = Some(identity);
            sess.last_used = now;
        }
    }

    /// Ends a session; false when it did not exist.
    pub fn close_session(&self, id: &str) -> bool {
        let mut s = self.sessions.lock().unwrap_or_else(|p| p.into_inner());
        s.map.remove(id).is_some()
    }

    /// Seconds until `ip` (or `account`) may try again, when over budget.
    pub fn blocked_for(&self, ip: Option<IpAddr>, account: Option<&str>) -> Option<u64> {
        self.throttle.check(ip, account).err()
    }

    /// Counts a failed attempt of `account` from `ip`.
    pub fn record_failure(&self, ip: Option<IpAddr>, account: Option<&str>) {
        self.throttle.failed(ip, account);
    }

    /// The `WWW-Authenticate` values of a 401: a fresh (or the given)
    /// session's challenge and Basic.
    pub fn challenge_headers(
        &self,
        session: Option<&SessionView>,
        now: u64,
        error: Option<&str>,
    ) -> Vec<(header::HeaderName, String)> {
        let s = match session {
            Some(s) => s.clone(),
            None => self.open_session(now),
        };
        let mut handle = format!("Handle sessionId=\"{}\", nonce=\"{}\"", s.id, STANDARD.encode(s.nonce));
        if let Some(e) = error {
            let clean: String = e.chars().filter(|c| !c.is_control() && *c != '"' && *c != '\\').collect();
            handle.push_str(&format!(", error=\"{clean}\""));
        }
        vec![(header::WWW_AUTHENTICATE, "Basic realm=\"handle\"".to_owned()), (header::WWW_AUTHENTICATE, handle)]
    }

    fn fail(
        &self,
        status: StatusCode,
        rc: u32,
        message: String,
        session: Option<&SessionView>,
        now: u64,
    ) -> AuthFailure {
        let headers = if status == StatusCode::UNAUTHORIZED {
            self.challenge_headers(session, now, Some(&message))
        } else {
            Vec::new()
        };
        AuthFailure { status, rc, message, headers }
    }

    /// Looks at `Authorization`. `Ok(Caller)` when there is nothing to hold
    /// against the request (anonymous, proven, or ignored on plain HTTP);
    /// `Err` when credentials were presented and failed (401 / 429).
    pub fn authenticate(
        &self,
        src: &dyn RecordSource,
        headers: &HeaderMap,
        peer: Option<&PeerInfo>,
        now: u64,
    ) -> Result<Caller, AuthFailure> {
        let Some(raw) = headers.get(header::AUTHORIZATION) else { return Ok(Caller::default()) };
        if !self.channel_ok(peer) {
            return Ok(Caller { identity: None, ignored_insecure: true });
        }
        let ip = peer.map(|p| p.addr.ip());
        let creds =
            raw.to_str().map_err(|_| "Authorization header is not ASCII".to_owned()).and_then(parse_authorization);
        let creds = match creds {
            Ok(c) => c,
            Err(msg) => {
                return Err(self.fail(StatusCode::UNAUTHORIZED, RC_AUTHENTICATION_FAILED, msg, None, now));
            }
        };
        match creds {
            Credentials::Basic { identity, secret } => {
                let account = identity.to_string();
                self.check_rate(ip, Some(&account))?;
                match core::authenticate_password(src, &identity, &secret) {
                    Ok(true) => Ok(Caller { identity: Some(identity), ignored_insecure: false }),
                    Ok(false) => {
                        self.record_failure(ip, Some(&account));
                        tracing::info!(identity = %identity, peer = ?ip, "HTTP Basic authentication failed");
                        Err(self.fail(
                            StatusCode::UNAUTHORIZED,
                            RC_AUTHENTICATION_FAILED,
                            format!("authentication failed for {identity}"),
                            None,
                            now,
                        ))
                    }
                    Err(e) => Err(self.store_failure(e, now)),
                }
            }
            Credentials::Handle(p) => self.authenticate_handle(src, &p, ip, now),
        }
    }

    fn store_failure(&self, e: core::AuthError, now: u64) -> AuthFailure {
        if e.is_client_error() {
            self.fail(StatusCode::UNAUTHORIZED, RC_AUTHENTICATION_FAILED, e.to_string(), None, now)
        } else {
            tracing::error!(error = %e, "authentication could not read the store");
            AuthFailure {
                status: StatusCode::INTERNAL_SERVER_ERROR,
                rc: 2,
                message: "internal error".into(),
                headers: vec![],
            }
        }
    }

    fn check_rate(&self, ip: Option<IpAddr>, account: Option<&str>) -> Result<(), AuthFailure> {
        if let Some(wait) = self.blocked_for(ip, account) {
            return Err(AuthFailure {
                status: StatusCode::TOO_MANY_REQUESTS,
                rc: RC_AUTHENTICATION_FAILED,
                message: format!(
                    "too many failed authentication attempts from this address or for this identity; retry in {wait} s"
                ),
                headers: vec![(header::RETRY_AFTER, wait.to_string())],
            });
        }
        Ok(())
    }

    /// `Authorization: Handle` on any endpoint.
    pub fn authenticate_handle(
        &self,
        src: &dyn RecordSource,
        p: &HandleParams,
        ip: Option<IpAddr>,
        now: u64,
    ) -> Result<Caller, AuthFailure> {
        if p.version.as_deref().is_some_and(|v| v != "0") {
            return Err(self.fail(
                StatusCode::UNAUTHORIZED,
                RC_AUTHENTICATION_FAILED,
                "unknown version in Authorization: Handle".into(),
                None,
                now,
            ));
        }
        let session = match &p.session_id {
            Some(id) => match self.session(id, now) {
                Some(s) => Some(s),
                None => {
                    return Err(self.fail(
                        StatusCode::UNAUTHORIZED,
                        RC_AUTHENTICATION_NEEDED,
                        "unknown or expired sessionId; authenticate again with the new nonce".into(),
                        None,
                        now,
                    ));
                }
            },
            None => None,
        };
        if !p.is_authenticating() {
            if p.client_cert.is_some() && session.as_ref().is_none_or(|s| s.identity.is_none()) {
                return Err(self.fail(
                    StatusCode::UNAUTHORIZED,
                    RC_AUTHENTICATION_NEEDED,
                    "client certificate authentication is not supported; use Basic or Authorization: Handle".into(),
                    session.as_ref(),
                    now,
                ));
            }
            return Ok(Caller { identity: session.and_then(|s| s.identity), ignored_insecure: false });
        }
        let Some(session) = session else {
            return Err(self.fail(
                StatusCode::UNAUTHORIZED,
                RC_AUTHENTICATION_FAILED,
                "Authorization: Handle proof without sessionId: sign the nonce of a session".into(),
                None,
                now,
            ));
        };
        let account = p.id.clone();
        self.check_rate(ip, account.as_deref())?;
        let fail =
            |msg: String| self.fail(StatusCode::UNAUTHORIZED, RC_AUTHENTICATION_FAILED, msg, Some(&session), now);
        let (Some(id), Some(cnonce), Some(ty), Some(alg), Some(sig)) =
            (&p.id, &p.cnonce, &p.auth_type, &p.alg, &p.signature)
        else {
            return Err(fail("missing fields in authentication data (id, type, cnonce, alg, signature)".into()));
        };
        let identity = Identity::parse(id).map_err(|e| fail(e.to_string()))?;
        let auth_type = AuthType::parse(ty.as_bytes())
            .ok_or_else(|| fail(format!("unknown type {ty:?} (HS_SECKEY or HS_PUBKEY)")))?;
        let cnonce = STANDARD.decode(cnonce.trim()).map_err(|_| fail("cnonce is not base64".into()))?;
        let signature = STANDARD.decode(sig.trim()).map_err(|_| fail("signature is not base64".into()))?;
        let signed = match auth_type {
            AuthType::SecretKey => {
                let mac_alg =
                    core::seckey::MacAlg::from_name(alg).ok_or_else(|| fail(format!("unsupported alg {alg:?}")))?;
                let field = match (mac_alg, &p.salt, &p.iterations, &p.length) {
                    (core::seckey::MacAlg::Pbkdf2HmacSha1, Some(salt), Some(it), Some(len)) => {
                        let params = core::seckey::Pbkdf2Params {
                            salt: STANDARD.decode(salt.trim()).map_err(|_| fail("salt is not base64".into()))?,
                            iterations: it.trim().parse().map_err(|_| fail("iterations is not a number".into()))?,
                            key_bits: len.trim().parse().map_err(|_| fail("length is not a number".into()))?,
                        };
                        core::seckey::encode_pbkdf2(&params, &signature)
                    }
                    _ => signature,
                };
                let mut out = vec![mac_alg.code()];
                out.extend_from_slice(&field);
                out
            }
            AuthType::PublicKey => {
                let hash = core::pubkey::SigHash::parse(alg.as_bytes()).map_err(|e| fail(e.to_string()))?;
                core::pubkey::encode_answer(hash, &signature)
            }
        };
        match core::authenticate_answer(src, &identity, auth_type, &session.nonce, &cnonce, &signed) {
            Ok(Some(index)) => {
                let proven = if identity.index == 0 { Identity::new(index, identity.handle.clone()) } else { identity };
                self.set_session_identity(&session.id, proven.clone(), now);
                Ok(Caller { identity: Some(proven), ignored_insecure: false })
            }
            Ok(None) => {
                self.record_failure(ip, account.as_deref());
                tracing::info!(identity = %identity, peer = ?ip, "Authorization: Handle proof failed");
                Err(fail(format!("identity {identity} not verified")))
            }
            Err(e) if e.is_client_error() => {
                self.record_failure(ip, account.as_deref());
                Err(fail(e.to_string()))
            }
            Err(e) => Err(self.store_failure(e, now)),
        }
    }
}

/// RC_AUTHENTICATION_NEEDED.
pub const RC_AUTHENTICATION_NEEDED: u32 = 402;
/// RC_AUTHENTICATION_FAILED.
pub const RC_AUTHENTICATION_FAILED: u32 = 403;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_forms() {
        let b = |s: &str| format!("Basic {}", STANDARD.encode(s));
        match parse_authorization(&b("300%3ATEST/ADMIN:pw")).unwrap() {
            Credentials::Basic { identity, secret } => {
                assert_eq!(identity, Identity::new(300, "TEST/ADMIN"));
                assert_eq!(secret, b"pw");
            }
            other => panic!("{other:?}"),
        }
        // Unencoded colon, secret containing ':'.
        match parse_authorization(&b("300:0.NA/X:p:w")).unwrap() {
            Credentials::Basic { identity, secret } => {
                assert_eq!(identity, Identity::new(300, "0.NA/X"));
                assert_eq!(secret, b"p:w");
            }
            other => panic!("{other:?}"),
        }
        assert!(parse_authorization("Basic !!!").is_err());
        assert!(parse_authorization(&b("nocolon")).is_err());
        assert!(parse_authorization("Bearer x").is_err());
        // Debug never shows the secret.
        let c = parse_authorization(&b("300%3AX/Y:hunter2")).unwrap();
        assert!(!format!("{c:?}").contains("hunter2"));
    }

    #[test]
    fn handle_params() {
        let c = parse_authorization(r#"Handle sessionId="abc", id="300%3A0.NA%2FX", type="HS_SECKEY", cnonce="Y24=", alg=SHA1, signature="c2ln""#).unwrap();
        let Credentials::Handle(p) = c else { panic!() };
        assert_eq!(p.session_id.as_deref(), Some("abc"));
        assert_eq!(p.id.as_deref(), Some("300:0.NA/X"));
        assert_eq!(p.alg.as_deref(), Some("SHA1"));
        assert!(p.is_authenticating());
        let Credentials::Handle(p) = parse_authorization(r#"Handle clientCert="true""#).unwrap() else { panic!() };
        assert_eq!(p.client_cert.as_deref(), Some("true"));
        assert!(parse_authorization(r#"Handle sessionId="abc"#).is_err());
        assert!(parse_authorization("Handle =x").is_err());
    }

    fn state(allow_plain: bool) -> AuthState {
        let t = Arc::new(throttle::LoginThrottle::new(&crate::config::HttpLimits::default()));
        AuthState::new(allow_plain, vec![], t)
    }

    #[test]
    fn sessions_expire_and_are_bounded() {
        let st = state(false);
        let s = st.open_session(1000);
        assert!(st.session(&s.id, 1000 + CHALLENGE_TTL).is_some());
        assert!(st.session(&s.id, 1001 + CHALLENGE_TTL).is_none());
        let s = st.open_session(2000);
        st.set_session_identity(&s.id, Identity::new(300, "0.NA/X"), 2000);
        assert!(st.session(&s.id, 2000 + SESSION_IDLE).is_some());
        assert!(st.session(&s.id, 2001 + 2 * SESSION_IDLE).is_none());
        for i in 0..(MAX_SESSIONS + 5) {
            st.open_session(3000 + (i as u64 % 2));
        }
        assert!(st.sessions.lock().unwrap().map.len() <= MAX_SESSIONS);
        assert!(st.close_session(&st.open_session(4000).id));
    }

    #[test]
    fn channel_rules() {
        let tls = PeerInfo { addr: "192.0.2.1:5".parse().unwrap(), tls: true };
        let local = PeerInfo { addr: "127.0.0.1:5".parse().unwrap(), tls: false };
        let remote = PeerInfo { addr: "192.0.2.1:5".parse().unwrap(), tls: false };
        let strict = state(false);
        let lax = state(true);
        assert!(strict.channel_ok(Some(&tls)) && !strict.channel_ok(Some(&local)) && !strict.channel_ok(None));
        assert!(lax.channel_ok(Some(&local)) && !lax.channel_ok(Some(&remote)));
        // SNMS and admin: TLS from anywhere, plain HTTP from loopback only.
        let v6_local = PeerInfo { addr: "[::1]:5".parse().unwrap(), tls: false };
        let mapped = PeerInfo { addr: "[::ffff:127.0.0.2]:5".parse().unwrap(), tls: false };
        let remote6 = PeerInfo { addr: "[2001:db8::1]:5".parse().unwrap(), tls: false };
        for ok in [&tls, &local, &v6_local, &mapped] {
            assert!(plain_http_credentials_ok(Some(ok)), "{ok:?}");
        }
        for refused in [&remote, &remote6] {
            assert!(!plain_http_credentials_ok(Some(refused)), "{refused:?}");
        }
        assert!(!plain_http_credentials_ok(None), "unknown peers are refused");
    }
}
