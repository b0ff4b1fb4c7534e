//! Prefixes (snms-api.md §5) and hosting configuration (§7):
//! `GET /snms/api/prefix/query`, `GET /snms/api/prefix/page`,
//! `POST /snms/api/ent/config`.

use std::net::IpAddr;

use axum::extract::State;
use axum::response::Response;
use idnode_registry::model::PrefixState;
use idnode_registry::service::prefixes::{Hosting, Page, PrefixFilter, PrefixView, prefix_id};
use idnode_registry::service::{ServiceError, dates};
use serde_json::{Value, json};

use super::json::{Fields, invalid};
use super::{Call, Envelope, SnmsState};

/// Default and largest `pageSize` (§5.2 decisions).
const DEFAULT_PAGE_SIZE: u64 = 10;
const MAX_PAGE_SIZE: u64 = 100;

fn opt_text(s: &str) -> Value {
    if s.is_empty() { Value::Null } else { json!(s) }
}

/// `currentPage` / `pageSize` (1-based, default 1 / 10, size capped at 100).
pub(super) fn paging(call: &Call) -> Result<(u64, u64), ServiceError> {
    let num = |name: &str, default: u64| -> Result<u64, ServiceError> {
        match call.param(name) {
            None => Ok(default),
            Some(v) => v.trim().parse::<u64>().map_err(|_| ServiceError::TypeMismatch {
                field: name.into(),
                reason: format!("{v:?} is not a number"),
            }),
        }
    };
    Ok((num("currentPage", 1)?.max(1), num("pageSize", DEFAULT_PAGE_SIZE)?.clamp(1, MAX_PAGE_SIZE)))
}

/// `startDate` / `endDate` (`yyyy-MM-dd HH:mm:ss`, or a bare date).
pub(super) fn date_filters(st: &SnmsState, call: &Call) -> Result<(Option<u64>, Option<u64>), ServiceError> {
    let off = st.cfg().snms.utc_offset_minutes;
    let one = |name: &str| -> Result<Option<u64>, ServiceError> {
        match call.param(name) {
            None => Ok(None),
            Some(v) => {
                dates::parse(v, off).map(Some).ok_or_else(|| invalid(name, format!("{v:?} is not yyyy-MM-dd HH:mm:ss")))
            }
        }
    };
    Ok((one("startDate")?, one("endDate")?))
}

/// The page object of §5.3.
pub(super) fn page_json<T>(p: &Page<T>, content: Vec<Value>) -> Value {
    let pages = p.total_pages();
    json!({
        "first": p.page <= 1,
        "last": p.page >= pages,
        "totalPages": pages,
        "totalElements": p.total,
        "number": p.page,
        "size": p.size,
        "sort": Value::Null,
        "numberOfElements": content.len(),
        "content": content,
    })
}

pub async fn query(State(st): State<SnmsState>, call: Call) -> Response {
    st.authed(call, |st, actor, call, _now| {
        let prefix = call.required("prefix")?;
        let v = st.reg().prefix_query(actor, prefix)?;
        let off = st.cfg().snms.utc_offset_minutes;
        let e = v.enterprise.as_ref();
        let site = e.map_or(Value::Null, |e| opt_text(&e.website));
        let industry = e.map(|e| e.industry.chars().take(1).collect::<String>()).unwrap_or_default();
        Ok(Envelope::ok(json!({
            "prefix": v.prefix.prefix,
            "createDate": dates::date_time(v.prefix.created, off),
            "ghrName": st.cfg().snms.ghr_name,
            "status": v.prefix.state.code(),
            "entNameCn": e.map_or(Value::Null, |e| opt_text(&e.name)),
            "entWebSite": site.clone(),
            "entSite": site,
            "entIndustry": opt_text(&industry),
            "entAddrCn": e.map_or(Value::Null, |e| opt_text(&e.address)),
            "entDesc": e.map_or(Value::Null, |e| opt_text(&e.description)),
        })))
    })
    .await
}

fn row(v: &PrefixView, off: i32) -> Value {
    let p = &v.prefix;
    json!({
        "id": prefix_id(&p.prefix),
        "createDate": dates::date_time(p.created, off),
        "updateDate": dates::date_time(p.updated, off),
        "entPrefix": p.prefix,
        "entprefix": p.prefix,
        "entId": p.enterprise_id,
        "state": u8::from(p.state == PrefixState::Enabled),
        "entName": v.enterprise.as_ref().map_or(Value::Null, |e| opt_text(&e.name)),
        "proxyState": p.hosting.code(),
    })
}

pub async fn page(State(st): State<SnmsState>, call: Call) -> Response {
    st.authed(call, |st, actor, call, _now| {
        let (page, size) = paging(&call)?;
        let (start, end) = date_filters(st, &call)?;
        let filter = PrefixFilter {
            ent_name: call.param("entName").map(str::to_owned),
            ent_prefix: call.param("entPrefix").map(str::to_owned),
            start,
            end,
        };
        let p = st.reg().prefix_page(actor, &filter, page, size)?;
        let off = st.cfg().snms.utc_offset_minutes;
        let content = p.items.iter().map(|v| row(v, off)).collect();
        Ok(Envelope::ok(page_json(&p, content)))
    })
    .await
}

fn port(f: &Fields<'_>, key: &str) -> Result<Option<u16>, ServiceError> {
    match f.u64_opt(key)? {
        None => Ok(None),
        Some(n) if (1..=65_535).contains(&n) => Ok(Some(n as u16)),
        Some(n) => Err(invalid(f.path(key), format!("{n} is not a port (1-65535)"))),
    }
}

fn parse_hosting(body: &Value) -> Result<Hosting, ServiceError> {
    let f = Fields::of(body, "")?;
    let c = f.obj("entPrefixConfig", "entPrefixConfig")?.ok_or_else(|| invalid("entPrefixConfig", "required"))?;
    let prefix = c.str_req("entPrefix", 64)?;
    if f.get("proxyServerId").is_some() {
        let proxy_server_id = f.u64_req("proxyServerId")?;
        return Ok(Hosting::Hosted { prefix, proxy_server_id });
    }
    let hdl_type = c.str_req("hdlType", 255)?;
    if !hdl_type.eq_ignore_ascii_case("HS_SITE") {
        return Err(invalid(c.path("hdlType"), format!("{hdl_type:?} is not supported (only HS_SITE)")));
    }
    let ip_type = c.str_req("ipType", 1)?;
    let ip_text = c.str_req("ip", 255)?;
    let ip: IpAddr =
        ip_text.trim().parse().map_err(|_| invalid(c.path("ip"), format!("{ip_text:?} is not an IP address")))?;
    match (ip_type.as_str(), ip) {
        ("4", IpAddr::V4(_)) | ("6", IpAddr::V6(_)) => {}
        ("4" | "6", _) => return Err(invalid(c.path("ip"), format!("{ip} does not match ipType {ip_type}"))),
        _ => return Err(invalid(c.path("ipType"), format!("{ip_type:?} (expected 4 or 6)"))),
    }
    Ok(Hosting::SelfHosted {
        prefix,
        ip,
        tcp: port(&c, "tcpPort")?,
        udp: port(&c, "udpPort")?,
        http: port(&c, "httpPort")?,
    })
}

pub async fn config(State(st): State<SnmsState>, call: Call) -> Response {
    st.authed(call, |st, actor, call, now| {
        let h = parse_hosting(&call.json()?)?;
        st.reg().configure_hosting(actor, &h, now)?;
        Ok(Envelope::ok(json!(true)))
    })
    .await
}
