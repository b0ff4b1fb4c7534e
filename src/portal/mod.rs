//! The enterprise portal (issue 13) on the public HTTP door under
//! `/portal`: an enterprise's own users log in with their account, see
//! their prefixes, quotas and statistics, register or edit one identifier
//! through a form generated from the prefix's metadata template (the
//! template's violation is shown next to its field), and register in bulk
//! from CSV or XLSX ([`bulk`]). Every read and write goes through
//! `registry::service` with the user's actor, so a user only ever sees and
//! changes their own enterprise's data, also when guessing URLs (another
//! enterprise's prefix answers 404 like a missing one).

#![allow(
    clippy::result_large_err,
    reason = "a page handler's error is the page to send instead (login redirect, 403, 404)"
)]

pub mod bulk;

use std::sync::Arc;

use axum::Router;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::response::Response;
use idnode_registry::model::Template;
use idnode_registry::service::identifiers::{IdInput, IdValue};
use idnode_registry::service::{Actor, Registrar, ServiceError};
use maud::{Markup, html};

use crate::api::ApiDeps;
use crate::console::page::{self, csrf_field};
use crate::console::{Session, Web, blocking, manage};

/// Where the portal is mounted.
pub const BASE: &str = "/portal";
/// Its session cookie.
pub const COOKIE: &str = "idnode_portal";
/// Largest upload (CSV or XLSX).
pub const MAX_UPLOAD: usize = 64 << 20;

/// What the portal's handlers share.
#[derive(Clone, Debug)]
pub struct Portal {
    pub deps: ApiDeps,
    pub jobs: Arc<bulk::Jobs>,
}

/// The portal's routes (merged into the public door by `serve`).
pub fn router(deps: ApiDeps) -> Router {
    let st = Portal { deps, jobs: Arc::new(bulk::Jobs::default()) };
    Router::new()
        .route("/portal", axum::routing::get(home))
        .route("/portal/", axum::routing::get(home))
        .route("/portal/login", axum::routing::get(login_form).post(login))
        .route("/portal/logout", axum::routing::post(logout))
        .route("/portal/static/app.css", axum::routing::get(|| async { page::asset("text/css", page::CSS) }))
        .route("/portal/prefix/{prefix}", axum::routing::get(prefix))
        .route("/portal/register", axum::routing::get(register_form).post(register))
        .route("/portal/bulk", axum::routing::get(bulk::form))
        .route("/portal/bulk/upload", axum::routing::post(bulk::upload).layer(DefaultBodyLimit::max(MAX_UPLOAD)))
        .route("/portal/bulk/{job}", axum::routing::get(bulk::status))
        .route("/portal/bulk/{job}/run", axum::routing::post(bulk::run))
        .route("/portal/bulk/{job}/results.csv", axum::routing::get(bulk::results))
        .with_state(st)
}

const NAV: &[(&str, &str)] = &[("/portal", "My prefixes"), ("/portal/bulk", "Bulk registration")];

/// The logged-in portal user, or a redirect to the login page.
pub fn user(st: &Portal, w: &Web) -> Result<Session, Response> {
    Session::of(&st.deps.reg, w, COOKIE).ok_or_else(|| page::see_other(&format!("{BASE}/login"), None))
}

/// The user of a state-changing form (CSRF checked).
pub fn user_post(st: &Portal, w: &Web) -> Result<Session, Response> {
    let s = user(st, w)?;
    if !s.csrf_ok(w) {
        return Err(page::error(BASE, StatusCode::FORBIDDEN, "missing or wrong CSRF token: reload the form"));
    }
    Ok(s)
}

/// A portal page.
pub fn frame(s: &Session, title: &str, body: Markup) -> Response {
    frame_refresh(s, title, None, body)
}

/// A portal page that reloads itself every `refresh` seconds (no script).
pub fn frame_refresh(s: &Session, title: &str, refresh: Option<u32>, body: Markup) -> Response {
    let body = html! {
        @if let Some(n) = refresh { meta http-equiv="refresh" content=(n); }
        p { "Logged in as " b { (s.actor.username) }
            @if let Some(e) = s.actor.enterprise_id { " · enterprise " (e) } " "
            form.inline method="post" action="/portal/logout" { (csrf_field(&s.csrf)) button { "Log out" } } }
        (body)
    };
    page::page(StatusCode::OK, page::layout(BASE, title, NAV, None, body))
}

/// Maps a service error to a page; another enterprise's prefix is "not
/// found" (the portal does not confirm that it exists).
pub fn svc_error(e: &ServiceError) -> Response {
    match e {
        ServiceError::EntityNotFound { .. } | ServiceError::Forbidden(_) => {
            page::error(BASE, StatusCode::NOT_FOUND, "not found")
        }
        e if e.is_internal() => page::error(BASE, StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
        e => page::error(BASE, StatusCode::BAD_REQUEST, &e.to_string()),
    }
}

async fn login_form() -> Response {
    page::login_page(BASE, "Enterprise portal", None)
}

async fn login(State(st): State<Portal>, w: Web) -> Response {
    crate::console::do_login(&st.deps, w, BASE, COOKIE, "Enterprise portal", BASE).await
}

async fn logout(State(st): State<Portal>, w: Web) -> Response {
    if let Err(r) = user_post(&st, &w) {
        return r;
    }
    let tls = w.peer.is_some_and(|p| p.tls);
    page::see_other(&format!("{BASE}/login"), Some(crate::api::auth::web::set_cookie(COOKIE, None, BASE, tls, 0)))
}

/// The prefixes the actor may see (its enterprise's), with today's figures.
fn own_prefixes(reg: &Registrar, actor: &Actor) -> Result<Vec<manage::PrefixPage>, ServiceError> {
    let mut out = Vec::new();
    for p in reg.store().list_prefixes()? {
        if actor.enterprise_id.is_some() && p.enterprise_id == actor.enterprise_id {
            out.push(manage::prefix_page(reg, actor, &p.prefix, 30)?);
        }
    }
    Ok(out)
}

async fn home(State(st): State<Portal>, w: Web) -> Response {
    let s = match user(&st, &w) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let (reg, actor) = (st.deps.reg.clone(), s.actor.clone());
    let days = w.q("days").and_then(|d| d.parse().ok()).unwrap_or(30);
    let r = blocking(move || {
        let list = own_prefixes(&reg, &actor)?;
        let ps: Vec<_> = list.iter().map(|p| p.prefix.clone()).collect();
        let mut f = manage::enterprise_figures(&reg, &ps, days)?;
        f.records = list.iter().map(|p| p.records).sum();
        Ok::<_, ServiceError>((list, f))
    })
    .await;
    let (list, figures) = match r {
        Ok(Ok(l)) => l,
        Ok(Err(e)) => return svc_error(&e),
        Err(r) => return r,
    };
    let opt = |v: Option<u64>| v.map(|n| n.to_string()).unwrap_or_else(|| "unlimited".into());
    let body = html! {
        @if list.is_empty() { p { "Your account has no enterprise prefix yet." } }
        table #prefixes {
            tr { th { "prefix" } th { "identifiers" } th { "quota" } th { "registrations (30 d)" } th { "resolutions (30 d)" } th {} }
            @for p in &list {
                tr {
                    td { a href=(format!("/portal/prefix/{}", p.prefix.prefix)) { (p.prefix.prefix) } }
                    td { (p.records) } td { (opt(p.quota.max_registrations)) }
                    td { (p.stats.registrations) } td { (p.stats.resolutions) }
                    td { a href=(format!("/portal/register?prefix={}", p.prefix.prefix)) { "register one" } }
                }
            }
        }
        @if !list.is_empty() {
            h2 { "Your enterprise" }
            (manage::enterprise_charts(&figures, BASE))
        }
    };
    frame(&s, "My prefixes", body)
}

async fn prefix(
    State(st): State<Portal>,
    axum::extract::Path(prefix): axum::extract::Path<String>,
    w: Web,
) -> Response {
    let s = match user(&st, &w) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let days = w.q("days").and_then(|d| d.parse().ok()).unwrap_or(30);
    let (reg, actor) = (st.deps.reg.clone(), s.actor.clone());
    // Only an enterprise's own prefixes: admins use the console.
    let own = s.actor.enterprise_id;
    let r = blocking(move || {
        let pp = manage::prefix_page(&reg, &actor, &prefix, days)?;
        if own.is_none() || pp.prefix.enterprise_id != own {
            return Err(ServiceError::Forbidden("not your prefix".into()));
        }
        Ok(pp)
    })
    .await;
    let pp = match r {
        Ok(Ok(pp)) => pp,
        Ok(Err(e)) => return svc_error(&e),
        Err(r) => return r,
    };
    let body = html! {
        (manage::prefix_body(&pp, BASE))
        p { a href=(format!("/portal/register?prefix={}", pp.prefix.prefix)) { "Register an identifier" } " · "
            a href=(format!("/portal/bulk?prefix={}", pp.prefix.prefix)) { "Bulk registration" } }
    };
    frame(&s, &format!("Prefix {}", pp.prefix.prefix), body)
}

/// The newest template of `prefix` the actor may use.
pub fn latest_template(reg: &Registrar, actor: &Actor, prefix: &str) -> Result<Template, ServiceError> {
    let p = reg.prefix_query(actor, prefix)?.prefix;
    if actor.enterprise_id.is_none() || p.enterprise_id != actor.enterprise_id {
        return Err(ServiceError::Forbidden("not your prefix".into()));
    }
    reg.store()
        .list_templates(Some(&p.prefix))?
        .into_iter()
        .max_by_key(|t| (t.created, t.id))
        .ok_or_else(|| ServiceError::EntityNotFound { what: "模板", key: p.prefix.clone() })
}

/// Where a service error belongs in the form: an item index, or the
/// identifier field (`None`).
pub fn error_field(e: &ServiceError, t: &Template, values: &[IdValue]) -> Option<u32> {
    match e {
        ServiceError::Template(v) => {
            if let Some(i) =
                v.field.strip_prefix("value[").and_then(|r| r.split(']').next()).and_then(|i| i.parse::<usize>().ok())
            {
                return values.get(i).map(|v| v.index);
            }
            t.items.iter().find(|it| it.id_type == v.field).map(|it| it.id_index)
        }
        ServiceError::UnknownIndex(i) => Some(*i),
        _ => None,
    }
}

struct FormView<'a> {
    prefix: &'a str,
    suffix: &'a str,
    template: &'a Template,
    values: &'a [IdValue],
    /// (field index or None for the identifier, message)
    error: Option<(Option<u32>, String)>,
    ok: Option<String>,
    edit: bool,
}

fn form_body(s: &Session, v: &FormView<'_>) -> Markup {
    let err_for = |idx: Option<u32>| v.error.as_ref().filter(|(i, _)| *i == idx).map(|(_, m)| m.clone());
    html! {
        @if let Some(m) = &v.ok { p.ok #result { (m) } }
        @if v.error.is_some() { p.err { "The identifier was not registered: see the message next to the field." } }
        form method="post" action="/portal/register" {
            (csrf_field(&s.csrf))
            input type="hidden" name="prefix" value=(v.prefix);
            input type="hidden" name="version" value=(v.template.version);
            @if v.edit { input type="hidden" name="mode" value="update"; }
            p { "Template " b { (v.template.version) } " of " (v.prefix) }
            label { "Identifier " (v.prefix) "/" input name="suffix" value=(v.suffix);
                @if let Some(m) = err_for(None) { span.err.field-error data-field="suffix" { " " (m) } } }
            @for it in v.template.items.iter().filter(|i| i.enabled) {
                @let cur = v.values.iter().find(|x| x.index == it.id_index).map(|x| x.data.as_str()).unwrap_or("");
                label {
                    (it.name) " (" (it.id_type) ") "
                    input name=(format!("v{}", it.id_index)) value=(cur);
                    small { @if it.required { " required," } " "
                        (it.metadata.min_length.unwrap_or(0)) "–" (it.metadata.max_length.map(|m| m.to_string()).unwrap_or("255".into())) " characters" }
                    @if let Some(m) = err_for(Some(it.id_index)) { span.err.field-error data-field=(format!("v{}", it.id_index)) { " " (m) } }
                }
            }
            p { button type="submit" { @if v.edit { "Save" } @else { "Register" } } }
        }
    }
}

async fn register_form(State(st): State<Portal>, w: Web) -> Response {
    let s = match user(&st, &w) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let Some(prefix) = w.q("prefix").map(str::to_owned) else {
        return page::error(BASE, StatusCode::BAD_REQUEST, "prefix: required");
    };
    let suffix = w.q("suffix").map(str::to_owned);
    let (reg, actor, p2, s2) = (st.deps.reg.clone(), s.actor.clone(), prefix.clone(), suffix.clone());
    let r = blocking(move || {
        let t = latest_template(&reg, &actor, &p2)?;
        let values = match &s2 {
            Some(sfx) => reg
                .identifier_detail(&actor, &format!("{p2}/{sfx}"), crate::unix_now())?
                .values
                .into_iter()
                .filter(|v| v.index >= 2000)
                .map(|v| IdValue { index: v.index, value_type: v.value_type, auth: String::new(), data: v.data })
                .collect(),
            None => Vec::new(),
        };
        Ok::<_, ServiceError>((t, values))
    })
    .await;
    let (t, values) = match r {
        Ok(Ok(x)) => x,
        Ok(Err(e)) => return svc_error(&e),
        Err(r) => return r,
    };
    let v = FormView {
        prefix: &prefix,
        suffix: suffix.as_deref().unwrap_or(""),
        template: &t,
        values: &values,
        error: None,
        ok: None,
        edit: suffix.is_some(),
    };
    frame(&s, "Register an identifier", form_body(&s, &v))
}

async fn register(State(st): State<Portal>, w: Web) -> Response {
    let s = match user_post(&st, &w) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let prefix = w.f("prefix").unwrap_or("").to_owned();
    let suffix = w.f("suffix").unwrap_or("").trim().to_owned();
    let edit = w.f("mode") == Some("update");
    let form = w.form.clone();
    let (reg, actor, p2, s2) = (st.deps.reg.clone(), s.actor.clone(), prefix.clone(), suffix.clone());
    let r = blocking(move || {
        let t = latest_template(&reg, &actor, &p2)?;
        let values: Vec<IdValue> = t
            .items
            .iter()
            .filter(|it| it.enabled)
            .filter_map(|it| {
                let v = page::field(&form, &format!("v{}", it.id_index))?.trim();
                (!v.is_empty()).then(|| IdValue {
                    index: it.id_index,
                    value_type: it.id_type.clone(),
                    auth: String::new(),
                    data: v.to_owned(),
                })
            })
            .collect();
        let item =
            IdInput { handle: format!("{p2}/{s2}"), template_version: t.version.clone(), values: values.clone() };
        let now = crate::unix_now();
        let res = if s2.is_empty() {
            Err(ServiceError::Invalid { field: "suffix".into(), reason: "required".into() })
        } else if edit {
            reg.update_identifiers(&actor, std::slice::from_ref(&item), now).and_then(|mut r| r.pop().unwrap_or(Ok(())))
        } else {
            reg.create_identifiers(&actor, std::slice::from_ref(&item), now).and_then(|mut r| r.pop().unwrap_or(Ok(())))
        };
        Ok::<_, ServiceError>((t, values, res))
    })
    .await;
    let (t, values, res) = match r {
        Ok(Ok(x)) => x,
        Ok(Err(e)) => return svc_error(&e),
        Err(r) => return r,
    };
    let (error, ok, status) = match &res {
        Ok(()) => {
            (None, Some(format!("{prefix}/{suffix} {}", if edit { "saved" } else { "registered" })), StatusCode::OK)
        }
        Err(e) => (Some((error_field(e, &t, &values), e.to_string())), None, StatusCode::UNPROCESSABLE_ENTITY),
    };
    let v = FormView {
        prefix: &prefix,
        suffix: if res.is_ok() && !edit { "" } else { &suffix },
        template: &t,
        values: if res.is_ok() && !edit { &[] } else { &values },
        error,
        ok,
        edit,
    };
    let mut r = frame(&s, "Register an identifier", form_body(&s, &v));
    *r.status_mut() = status;
    r
}
