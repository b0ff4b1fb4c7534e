//! Prefixes and enterprises in the console: lists, a prefix's charts of
//! registrations and resolutions per day (30/90/365 days, from the store's
//! day counters), a sample of its identifiers, its quota and use; an
//! enterprise's charts summed over its prefixes (same ranges); and the
//! filing state machine's actions — approve, suspend, resume, revoke —
//! each behind a confirmation form (CSRF-protected) and carried out by
//! `registry::service` (`set_prefix_state`, `approve_enterprise`), which
//! checks the role and writes the audit entry.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use idnode_registry::model::{Enterprise, Prefix, PrefixState, Quota, day_of};
use idnode_registry::service::quota::enterprise_quota;
use idnode_registry::service::{Actor, Registrar, ServiceError, dates, stats};
use maud::{Markup, html};

use super::chart::{Bar, bars};
use super::page::{self, csrf_field};
use super::{BASE, Console, Web, blocking, frame, operator, operator_post};

/// The day ranges a chart offers.
pub const RANGES: [u32; 3] = [30, 90, 365];

/// One action of the state machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Approve,
    Suspend,
    Resume,
    Revoke,
}

impl Action {
    pub fn parse(s: &str) -> Option<Action> {
        Some(match s {
            "approve" => Action::Approve,
            "suspend" => Action::Suspend,
            "resume" => Action::Resume,
            "revoke" => Action::Revoke,
            _ => return None,
        })
    }
    pub fn name(self) -> &'static str {
        match self {
            Action::Approve => "approve",
            Action::Suspend => "suspend",
            Action::Resume => "resume",
            Action::Revoke => "revoke",
        }
    }
    /// The states this action moves a prefix through, from `from`.
    pub fn steps(self, from: PrefixState) -> Vec<PrefixState> {
        use PrefixState::*;
        match (self, from) {
            (Action::Approve, AwaitingReview) => vec![UnderReview, Enabled],
            (Action::Approve, UnderReview) => vec![Enabled],
            (Action::Suspend, Enabled | PendingDeletion) => vec![Disabled],
            (Action::Resume, Disabled | PendingDeletion) => vec![Enabled],
            (Action::Revoke, AwaitingReview | UnderReview) => vec![Rejected],
            (Action::Revoke, Enabled | Disabled) => vec![PendingDeletion],
            _ => Vec::new(),
        }
    }
}

/// The actions offered in `state`.
pub fn actions_for(state: PrefixState) -> Vec<Action> {
    [Action::Approve, Action::Suspend, Action::Resume, Action::Revoke]
        .into_iter()
        .filter(|a| !a.steps(state).is_empty())
        .collect()
}

/// Applies `action` to `prefix` through the service (each step audited).
pub fn apply(reg: &Registrar, actor: &Actor, prefix: &str, action: Action, now: u64) -> Result<Prefix, ServiceError> {
    let p = reg.prefix_query(actor, prefix)?.prefix;
    let steps = action.steps(p.state);
    if steps.is_empty() {
        return Err(ServiceError::Rejected(format!("cannot {} a prefix in state {:?}", action.name(), p.state)));
    }
    let mut out = p;
    for s in steps {
        out = reg.set_prefix_state(actor, prefix, s, now)?;
    }
    reg.audit(actor, &format!("prefix.{}", action.name()), &out.prefix, "ok", now)?;
    Ok(out)
}

fn state_name(s: PrefixState) -> &'static str {
    match s {
        PrefixState::Disabled => "disabled (suspended)",
        PrefixState::Enabled => "enabled",
        PrefixState::PendingDeletion => "pending deletion (revoked)",
        PrefixState::Rejected => "rejected",
        PrefixState::AwaitingReview => "awaiting review",
        PrefixState::UnderReview => "under review",
    }
}

pub(crate) fn svc_error(e: &ServiceError) -> Response {
    let status = match e {
        ServiceError::EntityNotFound { .. } => StatusCode::NOT_FOUND,
        ServiceError::Forbidden(_) => StatusCode::FORBIDDEN,
        e if e.is_internal() => StatusCode::INTERNAL_SERVER_ERROR,
        _ => StatusCode::BAD_REQUEST,
    };
    page::error(BASE, status, &e.to_string())
}

/// `GET /console/prefixes`.
pub async fn prefixes(State(st): State<Console>, w: Web) -> Response {
    let s = match operator(&st, &w) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let store = st.deps.store.clone();
    let Ok(Ok(list)) = blocking(move || store.list_prefixes()).await else {
        return page::error(BASE, StatusCode::INTERNAL_SERVER_ERROR, "listing prefixes failed");
    };
    let body = html! {
        table #prefixes {
            tr { th { "prefix" } th { "state" } th { "enterprise" } th { "homed" } }
            @for p in &list {
                tr {
                    td { a href=(format!("/console/prefix/{}", p.prefix)) { (p.prefix) } }
                    td.state { (state_name(p.state)) }
                    td { @if let Some(id) = p.enterprise_id { a href=(format!("/console/enterprise/{id}")) { (id) } } }
                    td { (p.homed) }
                }
            }
        }
    };
    frame(&s, "Prefixes", None, body)
}

/// The view of one prefix page (shared with the portal).
#[derive(Debug, Clone)]
pub struct PrefixPage {
    pub prefix: Prefix,
    pub enterprise: Option<Enterprise>,
    pub days: u32,
    pub stats: stats::PrefixStats,
    pub from: u32,
    pub to: u32,
    pub sample: Vec<String>,
    pub records: u64,
    pub quota: Quota,
    pub today: (u64, u64),
    /// Its most-resolved identifiers (from `registry::topids`).
    pub top: Vec<(String, u64)>,
}

/// Builds a prefix page for `actor` (the service checks visibility).
pub fn prefix_page(reg: &Registrar, actor: &Actor, prefix: &str, days: u32) -> Result<PrefixPage, ServiceError> {
    let v = reg.prefix_query(actor, prefix)?;
    let days = if RANGES.contains(&days) { days } else { 30 };
    let to = day_of(crate::unix_now());
    let from = to.saturating_sub(days - 1);
    let stats = stats::prefix_stats(reg.store(), &v.prefix.prefix, from, to)?;
    let sample = reg
        .store()
        .scan_keys(Some(&v.prefix.prefix), None, 20)?
        .into_iter()
        .map(|k| String::from_utf8_lossy(&k).into_owned())
        .collect();
    let records = reg.store().count_records(Some(&v.prefix.prefix))?;
    let quota = match &v.enterprise {
        Some(e) if v.prefix.quota.max_registrations.is_none() && v.prefix.quota.daily_requests.is_none() => {
            enterprise_quota(e, reg.limits().enterprise_quota)
        }
        _ => v.prefix.quota,
    };
    let today = stats.days.iter().find(|d| d.day == to).map(|d| (d.registrations, d.resolutions)).unwrap_or((0, 0));
    let under = format!("{}/", v.prefix.prefix.to_ascii_uppercase());
    let top = idnode_registry::topids::top(idnode_registry::topids::SLOTS)
        .into_iter()
        .filter(|(id, _)| id.to_ascii_uppercase().starts_with(&under))
        .take(super::overview::TOP_N)
        .collect();
    Ok(PrefixPage {
        prefix: v.prefix,
        enterprise: v.enterprise,
        days,
        stats,
        from,
        to,
        sample,
        records,
        quota,
        today,
        top,
    })
}

/// The charts, figures and quota of a prefix page (`base` for links).
pub fn prefix_body(p: &PrefixPage, base: &str) -> Markup {
    let by_day: std::collections::HashMap<u32, (u64, u64)> =
        p.stats.days.iter().map(|d| (d.day, (d.registrations, d.resolutions))).collect();
    let mk = |f: fn(&(u64, u64)) -> u64| -> Vec<Bar> {
        (p.from..=p.to)
            .map(|d| Bar { label: dates::day_string(d), value: by_day.get(&d).map(f).unwrap_or(0) })
            .collect()
    };
    let opt = |v: Option<u64>| v.map(|n| n.to_string()).unwrap_or_else(|| "unlimited".into());
    html! {
        p { "State: " b.state { (state_name(p.prefix.state)) } " · hosting " (format!("{:?}", p.prefix.hosting))
            @if let Some(e) = &p.enterprise { " · enterprise " (e.name) " (" (e.id) ")" } }
        p { "Range: " @for r in RANGES {
            @if r == p.days { b { (r) " days" } " " } @else { a href=(format!("{base}/prefix/{}?days={r}", p.prefix.prefix)) { (r) " days" } " " }
        } }
        (bars("chart-registrations", &format!("Registrations per day ({} days)", p.days), &mk(|x| x.0)))
        (bars("chart-resolutions", &format!("Resolutions per day ({} days)", p.days), &mk(|x| x.1)))
        h2 { "Quota and use" }
        table #quota {
            tr { th { "identifiers" } td { (p.records) } td { "limit " (opt(p.quota.max_registrations)) } }
            tr { th { "requests today" } td { (p.today.0 + p.today.1) } td { "limit " (opt(p.quota.daily_requests)) } }
        }
        h2 { "Most-resolved identifiers" }
        (super::overview::top_table(&p.top))
        h2 { "Identifiers (first 20 by name)" }
        ul #identifiers { @for k in &p.sample { li { (k) } } }
    }
}

/// `GET /console/prefix/{prefix}[?days=30|90|365]`.
pub async fn prefix(State(st): State<Console>, Path(prefix): Path<String>, w: Web) -> Response {
    let s = match operator(&st, &w) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let days = w.q("days").and_then(|d| d.parse().ok()).unwrap_or(30);
    let (reg, actor, p2) = (st.deps.reg.clone(), s.actor.clone(), prefix.clone());
    let Ok(r) = blocking(move || prefix_page(&reg, &actor, &p2, days)).await else {
        return page::error(BASE, StatusCode::INTERNAL_SERVER_ERROR, "internal error");
    };
    let pp = match r {
        Ok(pp) => pp,
        Err(e) => return svc_error(&e),
    };
    let note = "Empty = no limit of its own (the enterprise's quota applies). Recorded in the audit log.";
    let body = html! {
        @if let Some(m) = w.q("ok") { p.ok #flash { (m) } }
        (prefix_body(&pp, BASE))
        h3 { "Edit the prefix's quota" }
        (super::quotas::form(&format!("/console/prefix/{}/quota", pp.prefix.prefix), &s.csrf, &pp.prefix.quota, note))
        h2 { "Actions" }
        p { @for a in actions_for(pp.prefix.state) {
            a.action href=(format!("/console/prefix/{}/action?do={}", pp.prefix.prefix, a.name())) { (a.name()) } " "
        } }
    };
    frame(&s, &format!("Prefix {}", pp.prefix.prefix), None, body)
}

/// `GET /console/prefix/{prefix}/action?do=X`: the confirmation form.
pub async fn confirm(State(st): State<Console>, Path(prefix): Path<String>, w: Web) -> Response {
    let s = match operator(&st, &w) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let Some(action) = w.q("do").and_then(Action::parse) else {
        return page::error(BASE, StatusCode::BAD_REQUEST, "unknown action");
    };
    let body = html! {
        p { "Really " b { (action.name()) } " prefix " b { (prefix) } "? This is recorded in the audit log." }
        form method="post" action=(format!("/console/prefix/{prefix}/action")) {
            (csrf_field(&s.csrf))
            input type="hidden" name="do" value=(action.name());
            button type="submit" name="confirm" value="yes" { "Yes, " (action.name()) }
            " " a href=(format!("/console/prefix/{prefix}")) { "Cancel" }
        }
    };
    frame(&s, "Confirm", None, body)
}

/// `POST /console/prefix/{prefix}/action`.
pub async fn act(State(st): State<Console>, Path(prefix): Path<String>, w: Web) -> Response {
    let s = match operator_post(&st, &w) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let Some(action) = w.f("do").and_then(Action::parse) else {
        return page::error(BASE, StatusCode::BAD_REQUEST, "unknown action");
    };
    if w.f("confirm") != Some("yes") {
        return page::error(BASE, StatusCode::BAD_REQUEST, "not confirmed");
    }
    let (reg, actor, p2) = (st.deps.reg.clone(), s.actor.clone(), prefix.clone());
    match blocking(move || apply(&reg, &actor, &p2, action, crate::unix_now())).await {
        Ok(Ok(_)) => page::see_other(&format!("/console/prefix/{prefix}"), None),
        Ok(Err(e)) => svc_error(&e),
        Err(r) => r,
    }
}

/// `GET /console/enterprises`.
pub async fn enterprises(State(st): State<Console>, w: Web) -> Response {
    let s = match operator(&st, &w) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let (reg, actor) = (st.deps.reg.clone(), s.actor.clone());
    let r = blocking(move || reg.ent_page(&actor, None, None, None, 1, 1000)).await;
    let page = match r {
        Ok(Ok(p)) => p,
        Ok(Err(e)) => return svc_error(&e),
        Err(r) => return r,
    };
    let body = html! {
        table #enterprises {
            tr { th { "id" } th { "name" } th { "credit code" } th { "status" } }
            @for e in &page.items {
                tr { td { a href=(format!("/console/enterprise/{}", e.id)) { (e.id) } } td { (e.name) } td { (e.credit_code) } td.status { (format!("{:?}", e.status)) } }
            }
        }
    };
    frame(&s, "Enterprises", None, body)
}

/// An enterprise's figures: its prefixes' day counters summed over
/// `from..=to` (one range read per prefix) and its most-resolved
/// identifiers; `records` (identifiers under its prefixes) is the caller's.
#[derive(Debug, Clone, Default)]
pub struct EnterpriseFigures {
    pub days: u32,
    pub from: u32,
    pub to: u32,
    /// day -> (registrations, resolutions)
    pub by_day: std::collections::BTreeMap<u32, (u64, u64)>,
    pub records: u64,
    pub top: Vec<(String, u64)>,
}

/// Builds [`EnterpriseFigures`] for the prefixes `ps` over the last `days` days.
pub fn enterprise_figures(reg: &Registrar, ps: &[Prefix], days: u32) -> Result<EnterpriseFigures, ServiceError> {
    let days = if RANGES.contains(&days) { days } else { 30 };
    let to = day_of(crate::unix_now());
    let from = to.saturating_sub(days - 1);
    let mut f = EnterpriseFigures { days, from, to, ..Default::default() };
    let mut under = Vec::new();
    for p in ps {
        for d in stats::prefix_stats(reg.store(), &p.prefix, from, to)?.days {
            let e = f.by_day.entry(d.day).or_default();
            e.0 += d.registrations;
            e.1 += d.resolutions;
        }
        under.push(format!("{}/", p.prefix.to_ascii_uppercase()));
    }
    f.top = idnode_registry::topids::top(idnode_registry::topids::SLOTS)
        .into_iter()
        .filter(|(id, _)| {
            let id = id.to_ascii_uppercase();
            under.iter().any(|u| id.starts_with(u.as_str()))
        })
        .take(super::overview::TOP_N)
        .collect();
    Ok(f)
}

/// The charts of an enterprise page (`link` = the page, `?days=` appended).
pub fn enterprise_charts(f: &EnterpriseFigures, link: &str) -> Markup {
    let mk = |pick: fn(&(u64, u64)) -> u64| -> Vec<Bar> {
        (f.from..=f.to)
            .map(|d| Bar { label: dates::day_string(d), value: f.by_day.get(&d).map(pick).unwrap_or(0) })
            .collect()
    };
    html! {
        p { "Range: " @for r in RANGES {
            @if r == f.days { b { (r) " days" } " " } @else { a href=(format!("{link}?days={r}")) { (r) " days" } " " }
        } }
        (bars("chart-ent-registrations", &format!("Registrations per day, all its prefixes ({} days)", f.days), &mk(|x| x.0)))
        (bars("chart-ent-resolutions", &format!("Resolutions per day, all its prefixes ({} days)", f.days), &mk(|x| x.1)))
        h2 { "Most-resolved identifiers" }
        (super::overview::top_table(&f.top))
    }
}

/// `GET /console/enterprise/{id}[?days=30|90|365]`.
pub async fn enterprise(State(st): State<Console>, Path(id): Path<u64>, w: Web) -> Response {
    let s = match operator(&st, &w) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let days = w.q("days").and_then(|d| d.parse().ok()).unwrap_or(30);
    let (reg, actor) = (st.deps.reg.clone(), s.actor.clone());
    let r = blocking(move || {
        let e = reg.ent_detail(&actor, Some(id))?;
        let ps: Vec<Prefix> =
            reg.store().list_prefixes()?.into_iter().filter(|p| p.enterprise_id == Some(id)).collect();
        let mut f = enterprise_figures(&reg, &ps, days)?;
        for p in &ps {
            f.records += reg.store().count_records(Some(&p.prefix))?;
        }
        Ok::<_, ServiceError>((e, ps, f))
    })
    .await;
    let (e, ps, f) = match r {
        Ok(Ok(x)) => x,
        Ok(Err(e)) => return svc_error(&e),
        Err(r) => return r,
    };
    let q = enterprise_quota(&e, st.reg().limits().enterprise_quota);
    let own = |k: &str| e.extra.get(k).and_then(|v| v.trim().parse::<u64>().ok());
    let own = Quota {
        max_registrations: own(idnode_registry::service::quota::ENT_MAX_REGISTRATIONS),
        daily_requests: own(idnode_registry::service::quota::ENT_DAILY_REQUESTS),
    };
    let today = f.by_day.get(&f.to).copied().unwrap_or((0, 0));
    let opt = |v: Option<u64>| v.map(|n| n.to_string()).unwrap_or_else(|| "unlimited".into());
    let note = "Empty = the node's default quota ([snms] in the configuration). Recorded in the audit log.";
    let body = html! {
        @if let Some(m) = w.q("ok") { p.ok #flash { (m) } }
        p { "Status: " b.status { (format!("{:?}", e.status)) } " · credit code " (e.credit_code) }
        h2 { "Quota and use" }
        table #ent-quota {
            tr { th { "identifiers" } td { (f.records) } td { "limit " (opt(q.max_registrations)) } }
            tr { th { "requests today" } td { (today.0 + today.1) } td { "limit " (opt(q.daily_requests)) } }
        }
        (super::quotas::form(&format!("/console/enterprise/{id}/quota"), &s.csrf, &own, note))
        h2 { "Prefixes" }
        ul { @for p in &ps { li { a href=(format!("/console/prefix/{}", p.prefix)) { (p.prefix) } " — " (state_name(p.state)) } } }
        @if e.status != idnode_registry::model::EnterpriseStatus::Approved {
            p { a.action href=(format!("/console/enterprise/{id}/approve")) { "approve filing" } }
        }
        (enterprise_charts(&f, &format!("/console/enterprise/{id}")))
    };
    frame(&s, &format!("Enterprise {}", e.name), None, body)
}

/// `GET /console/enterprise/{id}/approve`: confirmation.
pub async fn confirm_enterprise(State(st): State<Console>, Path(id): Path<u64>, w: Web) -> Response {
    let s = match operator(&st, &w) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let body = html! {
        p { "Approve the filing of enterprise " b { (id) } " and enable its prefixes awaiting review?" }
        form method="post" action=(format!("/console/enterprise/{id}/approve")) {
            (csrf_field(&s.csrf))
            button type="submit" name="confirm" value="yes" { "Yes, approve" }
        }
    };
    frame(&s, "Confirm", None, body)
}

/// `POST /console/enterprise/{id}/approve`.
pub async fn approve_enterprise(State(st): State<Console>, Path(id): Path<u64>, w: Web) -> Response {
    let s = match operator_post(&st, &w) {
        Ok(s) => s,
        Err(r) => return r,
    };
    if w.f("confirm") != Some("yes") {
        return page::error(BASE, StatusCode::BAD_REQUEST, "not confirmed");
    }
    let (reg, actor) = (st.deps.reg.clone(), s.actor.clone());
    match blocking(move || reg.approve_enterprise(&actor, id, crate::unix_now())).await {
        Ok(Ok(())) => page::see_other(&format!("/console/enterprise/{id}"), None),
        Ok(Err(e)) => svc_error(&e),
        Err(r) => r,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_follow_the_state_machine() {
        use PrefixState::*;
        for s in [Disabled, Enabled, PendingDeletion, Rejected, AwaitingReview, UnderReview] {
            for a in actions_for(s) {
                let mut cur = s;
                for step in a.steps(s) {
                    assert!(cur.can_move_to(step), "{a:?} from {s:?}: {cur:?} -> {step:?}");
                    cur = step;
                }
            }
        }
        assert_eq!(actions_for(AwaitingReview), vec![Action::Approve, Action::Revoke]);
        assert_eq!(actions_for(Enabled), vec![Action::Suspend, Action::Revoke]);
        assert!(actions_for(Rejected).is_empty());
    }
}
