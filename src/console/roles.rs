//! Editing an account's role from the console: a confirmation form per
//! account (`GET /console/account/{user}/role`) posting the new role (and
//! enterprise, for enterprise users) with the session's CSRF token. The
//! change goes through `registry::service::Registrar::set_account_role`,
//! which checks that the actor is a platform administrator (not editing
//! their own account) and writes the `account.role` audit entry.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use idnode_registry::model::Role;
use maud::html;

use super::page::{self, csrf_field};
use super::{BASE, Console, Web, blocking, frame, operator, operator_post};

/// The form value of a role.
pub fn role_value(r: Role) -> &'static str {
    match r {
        Role::PlatformAdmin => "admin",
        Role::EnterpriseUser => "enterprise",
        Role::Auditor => "auditor",
    }
}

/// The role of a form value.
pub fn parse_role(s: &str) -> Option<Role> {
    match s {
        "admin" => Some(Role::PlatformAdmin),
        "auditor" => Some(Role::Auditor),
        "enterprise" => Some(Role::EnterpriseUser),
        _ => None,
    }
}

/// A user name as one URL path segment.
pub fn path_part(user: &str) -> String {
    percent_encoding::utf8_percent_encode(user, percent_encoding::NON_ALPHANUMERIC).to_string()
}

fn back(key: &str, msg: &str) -> Response {
    let enc = percent_encoding::utf8_percent_encode(msg, percent_encoding::NON_ALPHANUMERIC);
    page::see_other(&format!("{BASE}/accounts?{key}={enc}"), None)
}

/// `GET /console/account/{user}/role`: the form, with the current role selected.
pub async fn form(State(st): State<Console>, Path(user): Path<String>, w: Web) -> Response {
    let s = match operator(&st, &w) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let (store, u) = (st.deps.store.clone(), user.clone());
    let Ok(Ok(Some(i))) = blocking(move || store.get_identity(&u)).await else {
        return page::error(BASE, StatusCode::NOT_FOUND, "no such account");
    };
    let cur = role_value(i.role);
    let body = html! {
        p { "Account " b #account { (i.username) } ", now " b #current-role { (cur) }
            @if let Some(e) = i.enterprise_id { " of enterprise " (e) } }
        form.role method="post" action=(format!("{BASE}/account/{}/role", path_part(&i.username))) {
            (csrf_field(&s.csrf))
            label { "New role " select name="role" #role {
                @for (v, l) in [("enterprise", "enterprise user"), ("auditor", "auditor"), ("admin", "platform admin")] {
                    @if v == cur { option value=(v) selected { (l) } } @else { option value=(v) { (l) } }
                }
            } }
            label { "Enterprise id (enterprise users) " input name="enterprise" #enterprise inputmode="numeric"
                value=(i.enterprise_id.map(|e| e.to_string()).unwrap_or_default()); }
            p { "The change applies to the account's open sessions at once and is recorded in the audit log." }
            button type="submit" name="confirm" value="yes" { "Yes, change the role" }
        }
    };
    frame(&s, &format!("Role of {}", i.username), None, body)
}

/// `POST /console/account/{user}/role`.
pub async fn set(State(st): State<Console>, Path(user): Path<String>, w: Web) -> Response {
    let s = match operator_post(&st, &w) {
        Ok(s) => s,
        Err(r) => return r,
    };
    if w.f("confirm") != Some("yes") {
        return page::error(BASE, StatusCode::BAD_REQUEST, "not confirmed");
    }
    let Some(role) = w.f("role").and_then(parse_role) else {
        return back("err", "unknown role");
    };
    let enterprise = match w.f("enterprise").map(str::trim).filter(|s| !s.is_empty()) {
        None => None,
        Some(e) => match e.parse::<u64>() {
            Ok(n) => Some(n),
            Err(_) => return back("err", "enterprise id must be a number"),
        },
    };
    let (reg, actor, u) = (st.deps.reg.clone(), s.actor.clone(), user.clone());
    match blocking(move || reg.set_account_role(&actor, &u, role, enterprise, crate::unix_now())).await {
        Ok(Ok(_)) => back("ok", &format!("role of {user} set to {}", role_value(role))),
        Ok(Err(e)) => back("err", &e.to_string()),
        Err(r) => r,
    }
}
