//! Accounts and roles, metadata templates (view, create, new versions) and
//! the audit log (filter by actor, action, target and time; CSV export).
//! Writes go through `registry::service` (`create_account`,
//! `template_create`), which checks that the actor is an administrator and
//! audits them.

use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use idnode_registry::model::{AuditEntry, Role};
use idnode_registry::service::accounts::NewAccount;
use idnode_registry::service::templates::{ItemInput, TemplateInput};
use idnode_registry::service::{ServiceError, dates};
use maud::html;

use super::page::{self, csrf_field};
use super::{BASE, Console, Web, blocking, frame, operator, operator_post};

/// Most audit entries read for one page or export.
const MAX_AUDIT_SCAN: usize = 200_000;
/// Most rows shown on the audit page (newest first).
const AUDIT_ROWS: usize = 500;

fn role_name(r: Role) -> &'static str {
    match r {
        Role::PlatformAdmin => "admin",
        Role::EnterpriseUser => "enterprise",
        Role::Auditor => "auditor",
    }
}

fn message(w: &Web) -> maud::Markup {
    html! {
        @if let Some(m) = w.q("ok") { p.ok { (m) } }
        @if let Some(m) = w.q("err") { p.err { (m) } }
    }
}

fn back(to: &str, key: &str, msg: &str) -> Response {
    let enc = percent_encoding::utf8_percent_encode(msg, percent_encoding::NON_ALPHANUMERIC);
    page::see_other(&format!("{to}?{key}={enc}"), None)
}

/// `GET /console/accounts`.
pub async fn accounts(State(st): State<Console>, w: Web) -> Response {
    let s = match operator(&st, &w) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let store = st.deps.store.clone();
    let Ok(Ok(list)) = blocking(move || store.list_identities(None, 1000)).await else {
        return page::error(BASE, StatusCode::INTERNAL_SERVER_ERROR, "listing accounts failed");
    };
    let q = st.reg().limits().enterprise_quota;
    let body = html! {
        (message(&w))
        table #accounts {
            tr { th { "user" } th { "role" } th { "enterprise" } th { "disabled" } th { "sessions" } th {} }
            @for i in &list {
                tr { td { (i.username) } td.role { (role_name(i.role)) } td { (i.enterprise_id.map(|e| e.to_string()).unwrap_or_default()) }
                     td { (i.disabled) } td { (i.api_tokens.len()) }
                     td { a.action href=(format!("/console/account/{}/role", super::roles::path_part(&i.username))) { "edit role" } } }
            }
        }
        p { "Default enterprise quota: identifiers " (q.max_registrations.map(|n| n.to_string()).unwrap_or("unlimited".into()))
            ", requests per day " (q.daily_requests.map(|n| n.to_string()).unwrap_or("unlimited".into()))
            " (config " code { "[snms]" } "); per-enterprise quotas are shown on each enterprise's page." }
        h2 { "New account" }
        form method="post" action="/console/accounts" {
            (csrf_field(&s.csrf))
            label { "User name " input name="username" required; }
            label { "Password " input type="password" name="password" required; }
            label { "Role " select name="role" {
                option value="enterprise" { "enterprise user" } option value="auditor" { "auditor" } option value="admin" { "platform admin" }
            } }
            label { "Enterprise id (enterprise users) " input name="enterprise" inputmode="numeric"; }
            label { "E-mail " input name="email"; }
            label { "Mobile " input name="mobile"; }
            p { button type="submit" { "Create account" } }
        }
    };
    frame(&s, "Accounts", None, body)
}

/// `POST /console/accounts`.
pub async fn create_account(State(st): State<Console>, w: Web) -> Response {
    let s = match operator_post(&st, &w) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let username = w.f("username").unwrap_or("").trim().to_owned();
    let password = w.f("password").unwrap_or("").to_owned();
    let role = match w.f("role") {
        Some("admin") => Role::PlatformAdmin,
        Some("auditor") => Role::Auditor,
        _ => Role::EnterpriseUser,
    };
    let enterprise = match w.f("enterprise").map(str::trim).filter(|s| !s.is_empty()) {
        None => None,
        Some(e) => match e.parse::<u64>() {
            Ok(n) => Some(n),
            Err(_) => return back("/console/accounts", "err", "enterprise id must be a number"),
        },
    };
    if password.len() < 8 {
        return back("/console/accounts", "err", "password: at least 8 characters");
    }
    if role == Role::EnterpriseUser && enterprise.is_none() {
        return back("/console/accounts", "err", "enterprise users need an enterprise id");
    }
    let (email, mobile) = (w.f("email").unwrap_or("").to_owned(), w.f("mobile").unwrap_or("").to_owned());
    let (deps, actor) = (st.deps.clone(), s.actor.clone());
    let r = blocking(move || {
        if let Some(id) = enterprise {
            deps.reg.ent_detail(&actor, Some(id))?;
        }
        let (phc, v1) =
            crate::api::snms::account_hashes(&deps.sealer, &username, password.as_bytes(), deps.cfg.snms.hashed_login)
                .map_err(ServiceError::Rejected)?;
        let a = NewAccount {
            username: username.clone(),
            role,
            enterprise_id: enterprise,
            password_phc: phc,
            v1_verifier: v1,
            email,
            mobile,
        };
        deps.reg.create_account(Some(&actor), a, crate::unix_now()).map(|_| username)
    })
    .await;
    match r {
        Ok(Ok(u)) => back("/console/accounts", "ok", &format!("account {u} created")),
        Ok(Err(e)) => back("/console/accounts", "err", &e.to_string()),
        Err(r) => r,
    }
}

/// `GET /console/templates[?from=PREFIX&version=V]`.
pub async fn templates(State(st): State<Console>, w: Web) -> Response {
    let s = match operator(&st, &w) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let store = st.deps.store.clone();
    let Ok(Ok(list)) = blocking(move || store.list_templates(None)).await else {
        return page::error(BASE, StatusCode::INTERNAL_SERVER_ERROR, "listing templates failed");
    };
    // "New version of": the form starts from an existing template.
    let from = match (w.q("from"), w.q("version")) {
        (Some(p), Some(v)) => list.iter().find(|t| t.prefix.eq_ignore_ascii_case(p) && t.version == v).cloned(),
        _ => None,
    };
    let items_text = from
        .as_ref()
        .map(|t| {
            t.items
                .iter()
                .map(|i| {
                    format!(
                        "{},{},{},{},{},{}",
                        i.name,
                        i.id_type,
                        i.id_index,
                        u8::from(i.required),
                        i.metadata.min_length.unwrap_or(0),
                        i.metadata.max_length.unwrap_or(255)
                    )
                })
                .collect::<Vec<_>>()
                .join("\n")
        })
        .unwrap_or_default();
    let body = html! {
        (message(&w))
        table #templates {
            tr { th { "prefix" } th { "version" } th { "items" } th { "description" } th {} }
            @for t in &list {
                tr { td { (t.prefix) } td { a href=(format!("/console/template/{}/{}", t.prefix, t.version)) { (t.version) } }
                     td { (t.items.len()) } td { (t.description) }
                     td { a href=(format!("/console/templates?from={}&version={}", t.prefix, t.version)) { "new version" } } }
            }
        }
        h2 { "New template or version" }
        form method="post" action="/console/templates" {
            (csrf_field(&s.csrf))
            label { "Prefix " input name="prefix" required value=(from.as_ref().map(|t| t.prefix.as_str()).unwrap_or("")); }
            label { "Version " input name="version" required; }
            label { "Description " input name="description" value=(from.as_ref().map(|t| t.description.as_str()).unwrap_or("")); }
            label { "Industry category (e.g. C) " input name="industry_category" required value=(from.as_ref().map(|t| t.industry_category.as_str()).unwrap_or("")); }
            label { "Industry specific (e.g. 34) " input name="industry_specific" required value=(from.as_ref().map(|t| t.industry_specific.as_str()).unwrap_or("")); }
            label { "Industry trade (e.g. 341) " input name="industry_trade" required value=(from.as_ref().map(|t| t.industry_trade.as_str()).unwrap_or("")); }
            label { "Industry subclass (e.g. 3411) " input name="industry_subclass" required value=(from.as_ref().map(|t| t.industry_subclass.as_str()).unwrap_or("")); }
            label { "Type " select name="object_type" { option value="1" { "1 active identifier carrier" } option value="2" selected { "2 other" } } }
            label { "Items, one per line: name,idType,index,required(0/1),minLength,maxLength"
                textarea name="items" rows="6" cols="60" required { (items_text) } }
            p { button type="submit" { "Create" } }
        }
    };
    frame(&s, "Templates", None, body)
}

/// Parses the items textarea.
pub fn parse_items(text: &str) -> Result<Vec<ItemInput>, String> {
    let mut out = Vec::new();
    for (n, line) in text.lines().map(str::trim).filter(|l| !l.is_empty()).enumerate() {
        let f: Vec<&str> = line.split(',').map(str::trim).collect();
        if f.len() != 6 {
            return Err(format!("line {}: expected 6 comma-separated fields", n + 1));
        }
        let num =
            |i: usize, what: &str| f[i].parse::<u32>().map_err(|_| format!("line {}: {what} is not a number", n + 1));
        out.push(ItemInput {
            name: f[0].to_owned(),
            id_type: f[1].to_owned(),
            id_index: Some(num(2, "index")?),
            required: Some(f[3] == "1" || f[3].eq_ignore_ascii_case("true")),
            state: Some(1),
            data_type: Some("string".into()),
            min_length: Some(num(4, "minLength")?),
            max_length: Some(num(5, "maxLength")?),
        });
    }
    Ok(out)
}

/// `POST /console/templates`.
pub async fn create_template(State(st): State<Console>, w: Web) -> Response {
    let s = match operator_post(&st, &w) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let items = match parse_items(w.f("items").unwrap_or("")) {
        Ok(i) => i,
        Err(e) => return back("/console/templates", "err", &e),
    };
    let input = TemplateInput {
        prefix: w.f("prefix").unwrap_or("").trim().to_owned(),
        version: w.f("version").unwrap_or("").trim().to_owned(),
        description: w.f("description").map(str::to_owned),
        industry_category: w.f("industry_category").map(|s| s.trim().to_owned()),
        industry_specific: w.f("industry_specific").map(|s| s.trim().to_owned()),
        industry_trade: w.f("industry_trade").map(|s| s.trim().to_owned()),
        industry_subclass: w.f("industry_subclass").map(|s| s.trim().to_owned()),
        object_type: Some(if w.f("object_type") == Some("1") { 1 } else { 2 }),
        items,
    };
    let (reg, actor) = (st.deps.reg.clone(), s.actor.clone());
    match blocking(move || reg.template_create(&actor, &input, crate::unix_now())).await {
        Ok(Ok(t)) => back("/console/templates", "ok", &format!("template {} {} created", t.prefix, t.version)),
        Ok(Err(e)) => back("/console/templates", "err", &e.to_string()),
        Err(r) => r,
    }
}

/// `GET /console/template/{prefix}/{version}`.
pub async fn template(State(st): State<Console>, Path((prefix, version)): Path<(String, String)>, w: Web) -> Response {
    let s = match operator(&st, &w) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let (reg, actor) = (st.deps.reg.clone(), s.actor.clone());
    let t = match blocking(move || reg.template_get(&actor, &prefix, &version)).await {
        Ok(Ok(t)) => t,
        Ok(Err(e)) => return page::error(BASE, StatusCode::NOT_FOUND, &e.to_string()),
        Err(r) => return r,
    };
    let body = html! {
        p { (t.description) " · created " (dates::date_time(t.created, 0)) " UTC" }
        table #items {
            tr { th { "name" } th { "idType" } th { "index" } th { "required" } th { "enabled" } th { "length" } }
            @for i in &t.items {
                tr { td { (i.name) } td { (i.id_type) } td { (i.id_index) } td { (i.required) } td { (i.enabled) }
                     td { (i.metadata.min_length.unwrap_or(0)) "–" (i.metadata.max_length.map(|m| m.to_string()).unwrap_or("∞".into())) } }
            }
        }
        p { a href=(format!("/console/templates?from={}&version={}", t.prefix, t.version)) { "Create a new version from this one" } }
    };
    frame(&s, &format!("Template {} {}", t.prefix, t.version), None, body)
}

/// An audit filter from the query string.
#[derive(Debug, Default, Clone)]
pub struct AuditFilter {
    pub actor: Option<String>,
    pub action: Option<String>,
    pub target: Option<String>,
    pub from: Option<u64>,
    pub to: Option<u64>,
}

impl AuditFilter {
    fn of(w: &Web) -> AuditFilter {
        let day =
            |k: &str, end: bool| w.q(k).and_then(|d| dates::parse(d, 0)).map(|t| if end { t + 86_399 } else { t });
        AuditFilter {
            actor: w.q("actor").map(str::to_owned),
            action: w.q("action").map(str::to_owned),
            target: w.q("target").map(str::to_owned),
            from: day("from", false),
            to: day("to", true),
        }
    }

    pub fn matches(&self, e: &AuditEntry) -> bool {
        self.actor.as_ref().is_none_or(|a| e.actor == *a)
            && self.action.as_ref().is_none_or(|a| e.action.contains(a.as_str()))
            && self.target.as_ref().is_none_or(|t| e.target.contains(t.as_str()))
            && self.from.is_none_or(|f| e.time >= f)
            && self.to.is_none_or(|t| e.time <= t)
    }
}

fn read_audit(st: &Console, f: AuditFilter) -> impl FnOnce() -> Result<Vec<AuditEntry>, ServiceError> + use<> {
    let store = st.deps.store.clone();
    move || {
        let mut out = Vec::new();
        let (mut after, mut read) = (0u64, 0usize);
        loop {
            let chunk = store.read_audit(after, 5000)?;
            let n = chunk.len();
            read += n;
            if let Some(last) = chunk.last() {
                after = last.seq;
            }
            out.extend(chunk.into_iter().filter(|e| f.matches(e)));
            if n < 5000 || read >= MAX_AUDIT_SCAN {
                return Ok(out);
            }
        }
    }
}

/// `GET /console/audit[?actor=&action=&target=&from=yyyy-MM-dd&to=yyyy-MM-dd]`.
pub async fn audit(State(st): State<Console>, w: Web) -> Response {
    let s = match operator(&st, &w) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let f = AuditFilter::of(&w);
    let rows = match blocking(read_audit(&st, f)).await {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => return page::error(BASE, StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
        Err(r) => return r,
    };
    let qs: String = w
        .query
        .iter()
        .map(|(k, v)| format!("{k}={}&", percent_encoding::utf8_percent_encode(v, percent_encoding::NON_ALPHANUMERIC)))
        .collect();
    let body = html! {
        form method="get" action="/console/audit" {
            label { "Actor " input name="actor" value=(w.q("actor").unwrap_or("")); }
            label { "Action " input name="action" value=(w.q("action").unwrap_or("")); }
            label { "Target " input name="target" value=(w.q("target").unwrap_or("")); }
            label { "From (yyyy-MM-dd) " input name="from" value=(w.q("from").unwrap_or("")); }
            label { "To (yyyy-MM-dd) " input name="to" value=(w.q("to").unwrap_or("")); }
            p { button type="submit" { "Filter" } " " a href=(format!("/console/audit.csv?{qs}")) { "Export CSV" } }
        }
        p { (rows.len()) " entries; newest " (AUDIT_ROWS.min(rows.len())) " shown." }
        table #audit {
            tr { th { "seq" } th { "time (UTC)" } th { "actor" } th { "action" } th { "target" } th { "outcome" } th { "client" } }
            @for e in rows.iter().rev().take(AUDIT_ROWS) {
                tr { td { (e.seq) } td { (dates::date_time(e.time, 0)) } td { (e.actor) } td.action { (e.action) } td.target { (e.target) } td { (e.outcome) } td { (e.detail) } }
            }
        }
    };
    frame(&s, "Audit log", None, body)
}

/// `GET /console/audit.csv` (same filters).
pub async fn audit_csv(State(st): State<Console>, w: Web) -> Response {
    if let Err(r) = operator(&st, &w) {
        return r;
    }
    let f = AuditFilter::of(&w);
    let rows = match blocking(read_audit(&st, f)).await {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => return page::error(BASE, StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
        Err(r) => return r,
    };
    let mut wtr = csv::Writer::from_writer(Vec::new());
    let _ = wtr.write_record(["seq", "time", "actor", "action", "target", "outcome", "client"]);
    for e in &rows {
        let _ = wtr.write_record([
            e.seq.to_string(),
            dates::date_time(e.time, 0),
            e.actor.clone(),
            e.action.clone(),
            e.target.clone(),
            e.outcome.clone(),
            e.detail.clone(),
        ]);
    }
    let body = wtr.into_inner().unwrap_or_default();
    page::secure(
        (
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
                (header::CONTENT_DISPOSITION, "attachment; filename=\"audit.csv\""),
            ],
            body,
        )
            .into_response(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_parse_and_audit_filters() {
        let items = parse_items("型号,model,2000,1,1,64\n\n批次,batch,2001,0,0,32").unwrap();
        assert_eq!(items.len(), 2);
        assert_eq!(items[0].id_index, Some(2000));
        assert_eq!(items[1].required, Some(false));
        assert!(parse_items("a,b,c").is_err());
        let e = AuditEntry {
            seq: 1,
            time: 100,
            actor: "admin".into(),
            action: "prefix.approve".into(),
            target: "88.1.2".into(),
            outcome: "ok".into(),
            detail: String::new(),
        };
        let f = AuditFilter { actor: Some("admin".into()), action: Some("approve".into()), ..Default::default() };
        assert!(f.matches(&e));
        assert!(!AuditFilter { from: Some(101), ..Default::default() }.matches(&e));
        assert!(!AuditFilter { target: Some("99".into()), ..Default::default() }.matches(&e));
    }
}
