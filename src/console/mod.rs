//! The operator console (issue 13): HTML pages on the admin door under
//! `/console`, behind a login with the node's accounts (platform
//! administrators act, auditors read). It owns the pages and their view
//! building; every state change calls `registry::service` (approve,
//! suspend, resume, revoke, accounts, templates), which checks permissions
//! and writes the audit entry. Figures come from counters
//! ([`figures`]), never from scanning records.
//!
//! * [`overview`] — the node at a glance, live over SSE.
//! * [`manage`] — prefixes and enterprises: charts, quota, state actions.
//! * [`quotas`] — the editable prefix and enterprise quotas.
//! * [`admin_pages`] — accounts, templates, the audit log (+ CSV).
//! * [`roles`] — editing an account's role (confirmation form, audited).
//! * [`page`] / [`chart`] — layout, security headers, SVG charts (shared
//!   with the enterprise portal, `crate::portal`).
//!
//! Sessions and CSRF tokens come from the one auth module
//! (`crate::api::auth::web`).

#![allow(
    clippy::result_large_err,
    reason = "a page handler's error is the page to send instead (login redirect, 403, 404)"
)]

pub mod admin_pages;
pub mod chart;
pub mod figures;
pub mod manage;
pub mod overview;
pub mod page;
pub mod quotas;
pub mod roles;

use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::body::Bytes;
use axum::extract::connect_info::ConnectInfo;
use axum::extract::{FromRequest, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use idnode_registry::service::{Actor, Registrar};
use metrics_exporter_prometheus::PrometheusHandle;

use crate::api::ApiDeps;
use crate::api::auth::web;
use crate::serve::http::PeerInfo;

/// Where the console is mounted.
pub const BASE: &str = "/console";
/// Its session cookie.
pub const COOKIE: &str = "idnode_console";
/// Largest form body the console reads.
const MAX_FORM: usize = 1 << 20;

/// What the console's handlers share.
#[derive(Clone)]
pub struct Console {
    pub deps: ApiDeps,
    pub sampler: Arc<figures::Sampler>,
    pub started: Instant,
}

impl std::fmt::Debug for Console {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Console").finish_non_exhaustive()
    }
}

impl Console {
    pub fn reg(&self) -> &Registrar {
        &self.deps.reg
    }
}

/// The console's routes (mounted on the admin door by `serve`). Starts the
/// figures sampler (it ends when the router is dropped).
pub fn router(deps: ApiDeps, metrics: Option<PrometheusHandle>) -> Router {
    let sampler = figures::Sampler::start(metrics, deps.store.clone(), deps.cfg.data_dir().to_path_buf());
    let st = Console { deps, sampler, started: Instant::now() };
    Router::new()
        .route("/console", get(overview::overview))
        .route("/console/", get(overview::overview))
        .route("/console/events", get(overview::events))
        .route("/console/login", get(login_form).post(login))
        .route("/console/logout", post(logout))
        .route("/console/static/app.css", get(|| async { page::asset("text/css", page::CSS) }))
        .route("/console/static/live.js", get(|| async { page::asset("text/javascript", page::LIVE_JS) }))
        .route("/console/prefixes", get(manage::prefixes))
        .route("/console/prefix/{prefix}", get(manage::prefix))
        .route("/console/prefix/{prefix}/action", get(manage::confirm).post(manage::act))
        .route("/console/prefix/{prefix}/quota", post(quotas::set_prefix))
        .route("/console/enterprise/{id}/quota", post(quotas::set_enterprise))
        .route("/console/enterprises", get(manage::enterprises))
        .route("/console/enterprise/{id}", get(manage::enterprise))
        .route("/console/enterprise/{id}/approve", get(manage::confirm_enterprise).post(manage::approve_enterprise))
        .route("/console/accounts", get(admin_pages::accounts).post(admin_pages::create_account))
        .route("/console/account/{user}/role", get(roles::form).post(roles::set))
        .route("/console/templates", get(admin_pages::templates).post(admin_pages::create_template))
        .route("/console/template/{prefix}/{version}", get(admin_pages::template))
        .route("/console/audit", get(admin_pages::audit))
        .route("/console/audit.csv", get(admin_pages::audit_csv))
        .with_state(st)
}

/// One request as the pages see it: headers, client, query and form body.
#[derive(Debug)]
pub struct Web {
    pub headers: HeaderMap,
    pub peer: Option<PeerInfo>,
    pub query: Vec<(String, String)>,
    pub form: Vec<(String, String)>,
}

impl<S: Send + Sync> FromRequest<S> for Web {
    type Rejection = Response;

    async fn from_request(req: Request, _: &S) -> Result<Self, Self::Rejection> {
        let (parts, body) = req.into_parts();
        let peer = parts.extensions.get::<ConnectInfo<PeerInfo>>().map(|c| c.0);
        let query = crate::api::query_pairs(&parts.uri);
        let body: Bytes = axum::body::to_bytes(body, MAX_FORM)
            .await
            .map_err(|_| page::error(BASE, StatusCode::PAYLOAD_TOO_LARGE, "form too large"))?;
        Ok(Web { headers: parts.headers, peer, query, form: page::form_pairs(&body) })
    }
}

impl Web {
    pub fn q(&self, name: &str) -> Option<&str> {
        page::field(&self.query, name).filter(|s| !s.is_empty())
    }
    pub fn f(&self, name: &str) -> Option<&str> {
        page::field(&self.form, name)
    }
}

/// A logged-in user of a page family.
#[derive(Debug, Clone)]
pub struct Session {
    pub actor: Actor,
    pub csrf: String,
    token: String,
}

impl Session {
    /// The session of `cookie` in the request, if live.
    pub fn of(reg: &Registrar, w: &Web, cookie: &str) -> Option<Session> {
        let token = web::cookie(&w.headers, cookie)?.to_owned();
        let actor = web::session_actor(reg, &token, w.peer.as_ref(), crate::unix_now())?;
        Some(Session { actor, csrf: web::csrf_token(&token), token })
    }

    /// Whether the form carries this session's CSRF token.
    pub fn csrf_ok(&self, w: &Web) -> bool {
        web::csrf_ok(&self.token, w.f("csrf"))
    }
}

/// The console user, or the response to send instead (login redirect,
/// 403 for enterprise users).
pub fn operator(st: &Console, w: &Web) -> Result<Session, Response> {
    let Some(s) = Session::of(st.reg(), w, COOKIE) else {
        return Err(page::see_other(&format!("{BASE}/login"), None));
    };
    if !s.actor.can_read_all() {
        return Err(page::error(BASE, StatusCode::FORBIDDEN, "the console is for operators and auditors"));
    }
    Ok(s)
}

/// The operator of a state-changing form: also checks its CSRF token.
pub fn operator_post(st: &Console, w: &Web) -> Result<Session, Response> {
    let s = operator(st, w)?;
    if !s.csrf_ok(w) {
        return Err(page::error(BASE, StatusCode::FORBIDDEN, "missing or wrong CSRF token: reload the form"));
    }
    Ok(s)
}

/// Navigation of the console.
pub const NAV: &[(&str, &str)] = &[
    ("/console", "Overview"),
    ("/console/prefixes", "Prefixes"),
    ("/console/enterprises", "Enterprises"),
    ("/console/accounts", "Accounts"),
    ("/console/templates", "Templates"),
    ("/console/audit", "Audit log"),
];

/// A console page with the navigation and a logout button.
pub fn frame(s: &Session, title: &str, live: Option<&str>, body: maud::Markup) -> Response {
    let body = maud::html! {
        p { "Logged in as " b { (s.actor.username) } " (" (format!("{:?}", s.actor.role)) ") "
            form.inline method="post" action="/console/logout" { (page::csrf_field(&s.csrf)) button { "Log out" } } }
        (body)
    };
    page::page(StatusCode::OK, page::layout(BASE, title, NAV, live, body))
}

async fn login_form() -> Response {
    page::login_page(BASE, "Operator console", None)
}

/// Shared login handler of the console and the portal.
pub async fn do_login(
    deps: &ApiDeps,
    w: Web,
    base: &'static str,
    cookie: &'static str,
    title: &'static str,
    landing: &'static str,
) -> Response {
    let username = w.f("username").unwrap_or("").trim().to_owned();
    let password = w.f("password").unwrap_or("").to_owned();
    let (reg, throttle, cfg) = (deps.reg.clone(), deps.throttle.clone(), deps.cfg.clone());
    let peer = w.peer;
    let ttl = cfg.snms.token_ttl_secs;
    let r = tokio::task::spawn_blocking(move || {
        web::login(
            &reg,
            &throttle,
            peer.as_ref(),
            &username,
            &password,
            crate::unix_now(),
            ttl,
            cfg.snms.max_tokens_per_user as usize,
        )
    })
    .await;
    match r {
        Ok(Ok((_, token))) => {
            let tls = peer.is_some_and(|p| p.tls);
            see_other_cookie(landing, web::set_cookie(cookie, Some(&token), base, tls, ttl))
        }
        Ok(Err(web::LoginError::BadCredentials)) => page::login_page(base, title, Some("Wrong user name or password.")),
        Ok(Err(web::LoginError::Throttled(s))) => {
            page::login_page(base, title, Some(&format!("Too many failed logins; retry in {s} s.")))
                .into_response()
                .map_status(StatusCode::TOO_MANY_REQUESTS)
        }
        Ok(Err(web::LoginError::Insecure)) => {
            page::error(base, StatusCode::FORBIDDEN, "credentials are taken over HTTPS (or from this host) only")
        }
        Ok(Err(web::LoginError::Service(e))) => page::error(base, StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
        Err(_) => page::error(base, StatusCode::INTERNAL_SERVER_ERROR, "login failed"),
    }
}

fn see_other_cookie(to: &str, c: axum::http::HeaderValue) -> Response {
    page::see_other(to, Some(c))
}

trait MapStatus {
    fn map_status(self, s: StatusCode) -> Response;
}
impl MapStatus for Response {
    fn map_status(mut self, s: StatusCode) -> Response {
        *self.status_mut() = s;
        self
    }
}

async fn login(State(st): State<Console>, w: Web) -> Response {
    do_login(&st.deps, w, BASE, COOKIE, "Operator console", BASE).await
}

async fn logout(State(st): State<Console>, w: Web) -> Response {
    let s = match operator_post(&st, &w) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let _ = st.reg().audit(&s.actor, "logout", &s.actor.username, "ok", crate::unix_now());
    let tls = w.peer.is_some_and(|p| p.tls);
    page::see_other(&format!("{BASE}/login"), Some(web::set_cookie(COOKIE, None, BASE, tls, 0)))
}

/// Runs blocking service work off the async threads; a panic is a 500.
pub async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Result<T, Response> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|_| page::error(BASE, StatusCode::INTERNAL_SERVER_ERROR, "internal error"))
}
