//! Editable quotas in the console: a prefix's own quota and an enterprise's
//! quota (registrations allowed, requests per day), each a CSRF-protected
//! form on the prefix or enterprise page, carried out by
//! `registry::service` (`set_prefix_quota`, `set_enterprise_quota`), which
//! checks that the operator is an administrator and writes the audit entry
//! (`prefix.quota`, `enterprise.quota`). An empty field means "no limit"
//! (for a prefix: its enterprise's quota applies).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use idnode_registry::model::Quota;
use maud::{Markup, html};

use super::page::{self, csrf_field};
use super::{BASE, Console, Web, blocking, operator_post};

/// The form fields of a quota.
pub const FIELDS: [(&str, &str); 2] =
    [("max_registrations", "identifiers allowed"), ("daily_requests", "requests per day")];

/// Parses the quota of a form: empty = unlimited, else a whole number.
pub fn parse(w: &Web) -> Result<Quota, String> {
    let num = |name: &str| -> Result<Option<u64>, String> {
        match w.f(name).map(str::trim).unwrap_or("") {
            "" => Ok(None),
            s => s.parse::<u64>().map(Some).map_err(|_| format!("{name}: {s:?} is not a whole number")),
        }
    };
    Ok(Quota { max_registrations: num(FIELDS[0].0)?, daily_requests: num(FIELDS[1].0)? })
}

/// The quota form posting to `action`, prefilled with `q`.
pub fn form(action: &str, csrf: &str, q: &Quota, note: &str) -> Markup {
    let v = |n: Option<u64>| n.map(|n| n.to_string()).unwrap_or_default();
    html! {
        form.quota method="post" action=(action) {
            (csrf_field(csrf))
            @for ((name, label), val) in FIELDS.iter().zip([v(q.max_registrations), v(q.daily_requests)]) {
                label { (label) " " input type="number" min="0" name=(name) id=(name) value=(val) placeholder="unlimited"; } " "
            }
            button type="submit" { "Save quota" }
            p.note { (note) }
        }
    }
}

fn done(r: Result<Result<impl Sized, idnode_registry::service::ServiceError>, Response>, to: &str) -> Response {
    match r {
        Ok(Ok(_)) => page::see_other(&format!("{to}?ok=quota+saved"), None),
        Ok(Err(e)) => super::manage::svc_error(&e),
        Err(r) => r,
    }
}

/// `POST /console/prefix/{prefix}/quota`.
pub async fn set_prefix(State(st): State<Console>, Path(prefix): Path<String>, w: Web) -> Response {
    let s = match operator_post(&st, &w) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let q = match parse(&w) {
        Ok(q) => q,
        Err(m) => return page::error(BASE, StatusCode::BAD_REQUEST, &m),
    };
    let (reg, actor, p2) = (st.deps.reg.clone(), s.actor.clone(), prefix.clone());
    let r = blocking(move || reg.set_prefix_quota(&actor, &p2, q, crate::unix_now())).await;
    done(r, &format!("/console/prefix/{prefix}"))
}

/// `POST /console/enterprise/{id}/quota`.
pub async fn set_enterprise(State(st): State<Console>, Path(id): Path<u64>, w: Web) -> Response {
    let s = match operator_post(&st, &w) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let q = match parse(&w) {
        Ok(q) => q,
        Err(m) => return page::error(BASE, StatusCode::BAD_REQUEST, &m),
    };
    let (reg, actor) = (st.deps.reg.clone(), s.actor.clone());
    let r = blocking(move || reg.set_enterprise_quota(&actor, id, q, crate::unix_now())).await;
    done(r, &format!("/console/enterprise/{id}"))
}
