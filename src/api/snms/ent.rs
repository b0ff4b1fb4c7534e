//! Enterprise filing (snms-api.md §6): `POST /snms/api/v3/ent/apply`,
//! `/upgrade-apply`, `GET /snms/api/v3/ent/page`, `/detail`, and
//! `POST /snms/api/file/upload`.
//!
//! The filing is validated field by field (required fields, lengths, enum
//! codes, the four mandatory `sysType` entries, conditional deployment
//! fields); the three documents are kept verbatim and the detail answer
//! projects them onto the documented response fields (absent = `null`).
//!
//! Deviation: this node does not store uploaded files. `file/upload`
//! answers `-2` with a clear message, and the `…Rid` fields of a filing are
//! taken as opaque file ids kept elsewhere (still checked: positive, and not
//! referenced by another enterprise's filing).

use std::collections::BTreeMap;

use axum::extract::State;
use axum::response::Response;
use idnode_registry::model::{Contact, Enterprise};
use idnode_registry::service::enterprises::{Applicant, Filing};
use idnode_registry::service::{ServiceError, dates};
use serde_json::{Map, Value, json};

use super::json::{Fields, invalid};
use super::prefix::{date_filters, page_json, paging};
use super::{Call, Envelope, SnmsState};

const BASIC: &str = "entBasicInfo";
const MANAGE: &str = "entRegisterManageInfo";
const HOSTING: &str = "entHostingAndIdentifyServeInfo";

/// Documented response fields of each document (§6.5), in order.
const BASIC_FIELDS: &[&str] = &[
    "orgName",
    "orgNature",
    "orgCrtType",
    "orgCrtCode",
    "orgCrtImgRid",
    "industryCategory",
    "industrySpecific",
    "orgAddrProvince",
    "orgAddrCity",
    "orgAddrCounty",
    "orgAddr",
    "website",
    "orgDesc",
    "regAuthority",
    "regCapital",
    "establishDate",
    "periodValidity",
    "contactName",
    "contactPhone",
    "contactEmail",
    "contactCrtType",
    "contactCrtNo",
    "contactCrtFrontImgRid",
    "contactCrtBackImgRid",
    "legalName",
    "legalCrtType",
    "legalCrtNo",
    "legalPhone",
    "legalEmail",
    "legalFax",
    "legalCrtFrontImgRid",
    "legalCrtBackImgRid",
    "entPrefix",
];
const MANAGE_FIELDS: &[&str] = &[
    "entInfoSyses",
    "servSysBuildType",
    "servSysBuildName",
    "servSysBuildContractFileRid",
    "servSysOperType",
    "servSysOperName",
    "servSysOperContractFileRid",
];
const SYS_FIELDS: &[&str] = &[
    "sysType",
    "deployMode",
    "deployAddr",
    "deployAddrProvince",
    "deployAddrCity",
    "deployAddrCounty",
    "name",
    "ipPort",
];
const HOSTING_FIELDS: &[&str] = &[
    "entInfoLicenses",
    "dataHostingOrg",
    "dataHostingContractFileRid",
    "servHostingOrg",
    "servHostingContractFileRid",
    "entInfoSerIndustries",
    "extWebName",
    "extDomain",
    "extIpAddr",
];

fn code(
    f: &Fields<'_>,
    key: &str,
    allowed: std::ops::RangeInclusive<u64>,
    required: bool,
) -> Result<Option<u64>, ServiceError> {
    match f.u64_opt(key)? {
        None if required => Err(invalid(f.path(key), "required")),
        None => Ok(None),
        Some(n) if allowed.contains(&n) => Ok(Some(n)),
        Some(n) => Err(invalid(f.path(key), format!("{n} (expected {}..={})", allowed.start(), allowed.end()))),
    }
}

fn rid(f: &Fields<'_>, key: &str, required: bool, rids: &mut Vec<u64>) -> Result<(), ServiceError> {
    match f.u64_opt(key)? {
        Some(0) => Err(invalid(f.path(key), "file ids start at 1")),
        Some(n) => {
            rids.push(n);
            Ok(())
        }
        None if required => Err(invalid(f.path(key), "required")),
        None => Ok(()),
    }
}

fn date_field(f: &Fields<'_>, key: &str) -> Result<(), ServiceError> {
    if let Some(d) = f.str_opt(key, 32)?
        && !d.trim().is_empty()
        && dates::parse(&d, 0).is_none()
    {
        return Err(invalid(f.path(key), format!("{d:?} is not yyyy-MM-dd")));
    }
    Ok(())
}

/// Validates the three documents and extracts what the service needs.
fn parse_filing(body: &Fields<'_>) -> Result<Filing, ServiceError> {
    let mut rids = Vec::new();
    let b = body.obj(BASIC, BASIC)?.ok_or_else(|| invalid(BASIC, "required"))?;
    let org_name = b.str_req("orgName", 255)?;
    let org_nature = code(&b, "orgNature", 1..=5, true)?.unwrap_or(0) as u8;
    let address = b.str_req("orgAddr", 255)?;
    let province = b.str_req("orgAddrProvince", 8)?;
    let city = b.str_req("orgAddrCity", 8)?;
    let county = b.str_opt("orgAddrCounty", 8)?.unwrap_or_default();
    let org_crt_type = code(&b, "orgCrtType", 1..=2, true)?.unwrap_or(0) as u8;
    let org_crt_code = b.str_req("orgCrtCode", 32)?;
    rid(&b, "orgCrtImgRid", true, &mut rids)?;
    let description = b.str_opt("orgDesc", 1024)?.unwrap_or_default();
    let category = b.str_req("industryCategory", 8)?;
    let specific = b.str_req("industrySpecific", 8)?;
    let website = b.str_opt("website", 255)?.unwrap_or_default();
    b.str_opt("regAuthority", 255)?;
    b.u64_opt("regCapital")?;
    date_field(&b, "establishDate")?;
    date_field(&b, "periodValidity")?;
    let contact = Contact {
        name: b.str_req("contactName", 128)?,
        email: b.str_req("contactEmail", 128)?,
        phone: b.str_req("contactPhone", 16)?,
    };
    code(&b, "contactCrtType", 1..=3, true)?;
    b.str_req("contactCrtNo", 32)?;
    rid(&b, "contactCrtFrontImgRid", false, &mut rids)?;
    rid(&b, "contactCrtBackImgRid", false, &mut rids)?;
    b.str_req("legalName", 128)?;
    code(&b, "legalCrtType", 1..=3, true)?;
    b.str_req("legalCrtNo", 32)?;
    rid(&b, "legalCrtFrontImgRid", true, &mut rids)?;
    rid(&b, "legalCrtBackImgRid", true, &mut rids)?;
    b.str_opt("legalEmail", 128)?;
    b.str_opt("legalFax", 255)?;
    b.str_opt("legalPhone", 16)?;
    let ent_prefix = b.str_req("entPrefix", 64)?;

    let m = body.obj(MANAGE, MANAGE)?.ok_or_else(|| invalid(MANAGE, "required"))?;
    let syses = m.arr("entInfoSyses")?.ok_or_else(|| invalid(m.path("entInfoSyses"), "required"))?;
    let mut seen = [false; 6];
    for (i, s) in syses.iter().enumerate() {
        let base = format!("{MANAGE}.entInfoSyses[{i}]");
        let sf = Fields::of(s, &base)?;
        let ty = code(&sf, "sysType", 1..=5, true)?.unwrap_or(0) as usize;
        seen[ty] = true;
        match code(&sf, "deployMode", 1..=2, true)? {
            Some(1) => {
                for k in ["deployAddrProvince", "deployAddrCity", "deployAddrCounty"] {
                    sf.str_req(k, 8)?;
                }
                sf.str_req("deployAddr", 255)?;
            }
            _ => {
                sf.str_req("name", 255)?;
            }
        }
        sf.str_opt("ipPort", 255)?;
    }
    if let Some(t) = (1..=4).find(|t| !seen[*t]) {
        return Err(invalid(m.path("entInfoSyses"), format!("sysType {t} is missing (types 1-4 are required)")));
    }
    code(&m, "servSysBuildType", 1..=2, true)?;
    code(&m, "servSysOperType", 1..=2, true)?;
    m.str_opt("servSysBuildName", 255)?;
    m.str_opt("servSysOperName", 255)?;
    rid(&m, "servSysBuildContractFileRid", false, &mut rids)?;
    rid(&m, "servSysOperContractFileRid", false, &mut rids)?;

    let mut documents = BTreeMap::new();
    if let Some(h) = body.obj(HOSTING, HOSTING)? {
        for k in ["extWebName", "extDomain", "extIpAddr", "dataHostingOrg", "servHostingOrg"] {
            h.str_opt(k, 255)?;
        }
        rid(&h, "dataHostingContractFileRid", false, &mut rids)?;
        rid(&h, "servHostingContractFileRid", false, &mut rids)?;
        for (i, x) in h.arr("entInfoSerIndustries")?.map(Vec::as_slice).unwrap_or_default().iter().enumerate() {
            let base = format!("{HOSTING}.entInfoSerIndustries[{i}]");
            let xf = Fields::of(x, &base)?;
            for k in ["industryCategory", "industrySpecific", "industryTrade", "industrySubclass"] {
                xf.str_req(k, 8)?;
            }
        }
        for (i, x) in h.arr("entInfoLicenses")?.map(Vec::as_slice).unwrap_or_default().iter().enumerate() {
            let base = format!("{HOSTING}.entInfoLicenses[{i}]");
            let xf = Fields::of(x, &base)?;
            code(&xf, "licenceType", 1..=4, true)?;
            xf.str_req("licenceNo", 255)?;
        }
        documents.insert(HOSTING.to_owned(), Value::Object(h.raw().clone()).to_string());
    }
    documents.insert(BASIC.to_owned(), Value::Object(b.raw().clone()).to_string());
    documents.insert(MANAGE.to_owned(), Value::Object(m.raw().clone()).to_string());
    rids.sort_unstable();
    let dup = rids.windows(2).find(|w| w[0] == w[1]).map(|w| w[0]);
    if let Some(d) = dup {
        return Err(invalid(BASIC, format!("file id {d} is referenced twice")));
    }
    Ok(Filing {
        org_name,
        org_nature,
        org_crt_type,
        org_crt_code,
        address,
        region: vec![province, city, county],
        website,
        industry: format!("{category}{specific}"),
        description,
        contact,
        ent_prefix,
        file_rids: rids,
        documents,
    })
}

pub async fn apply(State(st): State<SnmsState>, call: Call) -> Response {
    st.authed(call, |st, actor, call, now| {
        let body = call.json()?;
        let f = Fields::of(&body, "")?;
        let u = f.obj("sysUser", "sysUser")?.ok_or_else(|| invalid("sysUser", "required"))?;
        let account = super::login::new_account(st, &u, "sysUser", actor)?;
        let filing = parse_filing(&f)?;
        st.reg().ent_apply(actor, Applicant::New(account), &filing, now)?;
        Ok(Envelope::ok(json!(true)))
    })
    .await
}

pub async fn upgrade_apply(State(st): State<SnmsState>, call: Call) -> Response {
    st.authed(call, |st, actor, call, now| {
        let body = call.json()?;
        let f = Fields::of(&body, "")?;
        let (u, path) = f.get_any(&["username", "userName"]).ok_or_else(|| invalid("username", "required"))?;
        let username = super::json::text(u, &path, 50)?;
        let filing = parse_filing(&f)?;
        st.reg().ent_apply(actor, Applicant::Existing(username), &filing, now)?;
        Ok(Envelope::ok(json!(true)))
    })
    .await
}

fn doc(e: &Enterprise, key: &str) -> Map<String, Value> {
    e.extra.get(key).and_then(|s| serde_json::from_str::<Map<String, Value>>(s).ok()).unwrap_or_default()
}

fn project(src: &Map<String, Value>, fields: &[&str]) -> Value {
    Value::Object(fields.iter().map(|k| ((*k).to_owned(), src.get(*k).cloned().unwrap_or(Value::Null))).collect())
}

fn project_list(v: Option<&Value>, fields: Option<&[&str]>) -> Value {
    match v {
        Some(Value::Array(a)) => Value::Array(
            a.iter()
                .map(|x| match (x, fields) {
                    (Value::Object(o), Some(f)) => project(o, f),
                    (other, _) => other.clone(),
                })
                .collect(),
        ),
        _ => json!([]),
    }
}

pub async fn detail(State(st): State<SnmsState>, call: Call) -> Response {
    st.authed(call, |st, actor, call, _now| {
        let id = match call.param("id") {
            Some(v) => Some(v.trim().parse::<u64>().map_err(|_| ServiceError::TypeMismatch {
                field: "id".into(),
                reason: format!("{v:?} is not a number"),
            })?),
            None => None,
        };
        let e = st.reg().ent_detail(actor, id)?;
        let mut basic = doc(&e, BASIC);
        if basic.is_empty() {
            // An enterprise not filed through this API (demo data, CLI).
            basic.insert("orgName".into(), json!(e.name));
            basic.insert("orgCrtCode".into(), json!(e.credit_code));
            basic.insert("orgAddr".into(), json!(e.address));
            basic.insert("website".into(), json!(e.website));
        }
        let manage = doc(&e, MANAGE);
        let hosting = doc(&e, HOSTING);
        let mut m = project(&manage, MANAGE_FIELDS);
        m["entInfoSyses"] = project_list(manage.get("entInfoSyses"), Some(SYS_FIELDS));
        let mut h = project(&hosting, HOSTING_FIELDS);
        h["entInfoLicenses"] = project_list(hosting.get("entInfoLicenses"), None);
        h["entInfoSerIndustries"] = project_list(hosting.get("entInfoSerIndustries"), None);
        Ok(Envelope::ok(json!({
            "entBasicInfo": project(&basic, BASIC_FIELDS),
            "entRegisterManageInfo": m,
            "entHostingAndIdentifyServeInfo": h,
        })))
    })
    .await
}

pub async fn page(State(st): State<SnmsState>, call: Call) -> Response {
    st.authed(call, |st, actor, call, _now| {
        let (page, size) = paging(&call)?;
        let (start, end) = date_filters(st, &call)?;
        let p = st.reg().ent_page(actor, call.param("orgName"), start, end, page, size)?;
        let off = st.cfg().snms.utc_offset_minutes;
        let content = p
            .items
            .iter()
            .map(|e| {
                let basic = doc(e, BASIC);
                let s = |k: &str| basic.get(k).cloned().unwrap_or(Value::Null);
                json!({
                    "id": e.id,
                    "createDate": dates::date_time(e.created, off),
                    "updateDate": dates::date_time(e.updated, off),
                    "orgName": e.name,
                    "orgNature": if e.nature == 0 { Value::Null } else { json!(e.nature.to_string()) },
                    "orgCrtType": e.extra.get("orgCrtType").cloned().map_or(Value::Null, Value::String),
                    "orgCrtCode": e.credit_code,
                    "orgDesc": if e.description.is_empty() { Value::Null } else { json!(e.description) },
                    "website": if e.website.is_empty() { s("website") } else { json!(e.website) },
                    "entGeneralId": e.extra.get("entGeneralId").cloned().map_or(Value::Null, Value::String),
                    "openIds": json!([]),
                })
            })
            .collect();
        Ok(Envelope::ok(page_json(&p, content)))
    })
    .await
}

/// Attachments are not stored by this node (see the module docs).
pub async fn upload(State(st): State<SnmsState>, call: Call) -> Response {
    st.authed(call, |_st, _actor, _call, _now| {
        Err(ServiceError::Rejected(
            "本节点不保存附件，暂不支持文件上传；请在备案中填写附件在文件系统中的编号 (file upload is not supported by this node)"
                .into(),
        ))
    })
    .await
}
