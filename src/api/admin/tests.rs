//! In-process tests of the admin API (tower `oneshot`, no sockets): the
//! authentication and channel rules, every endpoint group, the audit trail,
//! the error bodies, and the OpenAPI document against the route table. The
//! black-box suite (conformance/tests/admin_*.rs) drives the same API
//! through the CLI against the built binary.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::connect_info::ConnectInfo;
use axum::http::{HeaderMap, Request, StatusCode, header};
use base64::Engine as _;
use idnode_registry::model::{AdminRecord, Value, admin_perm, day_of, perm};
use idnode_registry::store::{SledStore, Store, StoreExt, WriteCtx};
use serde_json::{Value as Json, json};
use tower::ServiceExt;

use super::{local_router, router, routes};
use crate::api::ApiDeps;
use crate::config::Config;
use crate::serve::http::PeerInfo;

const SECRET: &str = "test-admin-secret-0123456789";
const ENT: &str = "88.118.8.1001";

struct T {
    app: Router,
    store: Arc<dyn Store>,
    cfg: Config,
    _dir: tempfile::TempDir,
}

fn config(dir: &std::path::Path) -> Config {
    let mut cfg = Config::default();
    cfg.node.data_dir = dir.to_owned();
    cfg.node.node_prefix = "88.118.8".into();
    cfg
}

fn setup() -> T {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path());
    std::fs::write(cfg.admin_secret_path(), format!("{SECRET}\n")).unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(cfg.admin_secret_path(), std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let store: Arc<dyn Store> = Arc::new(SledStore::open_path(dir.path().join("store")).unwrap());
    let now = crate::unix_now();
    idnode_registry::seed::seed_demo(store.as_ref(), "88.118.8", now).unwrap();
    let admin = AdminRecord::new(admin_perm::ALL, "0.NA/88.118.8", 300).to_bytes();
    store
        .create_record(
            b"0.NA/88.118.8",
            vec![
                Value::new(100, "HS_ADMIN", admin),
                Value::new(300, "HS_SECKEY", SECRET).with_permissions(perm::SECRET),
            ],
            false,
            &WriteCtx::new(now, "test"),
        )
        .unwrap();
    let app = router(ApiDeps::new(store.clone(), Arc::new(cfg.clone())));
    T { app, store, cfg, _dir: dir }
}

fn loopback() -> Option<PeerInfo> {
    Some(PeerInfo { addr: "127.0.0.1:40000".parse().unwrap(), tls: false })
}

fn bearer() -> Option<String> {
    Some(format!("Bearer {SECRET}"))
}

struct Resp {
    status: StatusCode,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Resp {
    fn json(&self) -> Json {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    fn code(&self) -> String {
        self.json()["error"]["code"].as_str().unwrap_or_default().to_owned()
    }
}

async fn send(
    app: &Router,
    method: &str,
    path: &str,
    auth: Option<String>,
    peer: Option<PeerInfo>,
    body: &str,
) -> Resp {
    let mut b = Request::builder().method(method).uri(path);
    if let Some(a) = auth {
        b = b.header(header::AUTHORIZATION, a);
    }
    let mut req = b.body(Body::from(body.to_owned())).unwrap();
    if let Some(p) = peer {
        req.extensions_mut().insert(ConnectInfo(p));
    }
    let resp = app.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let body = axum::body::to_bytes(resp.into_body(), usize::MAX).await.unwrap().to_vec();
    Resp { status, headers, body }
}

impl T {
    /// An authenticated loopback call.
    async fn call(&self, method: &str, path: &str, body: &str) -> Resp {
        send(&self.app, method, path, bearer(), loopback(), body).await
    }

    fn audit_actions(&self) -> Vec<(String, String, String, String)> {
        self.store
            .read_audit(0, 10_000)
            .unwrap()
            .into_iter()
            .map(|e| (e.action, e.target, e.outcome, e.detail))
            .collect()
    }
}

#[tokio::test]
async fn authentication_and_channel_rules() {
    let t = setup();
    let path = "/admin/v1/status";
    let r = send(&t.app, "GET", path, None, loopback(), "").await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.code(), "unauthenticated");
    assert_eq!(r.headers.get_all(header::WWW_AUTHENTICATE).iter().count(), 2);
    assert!(r.json()["error"].as_object().unwrap().contains_key("field"));
    let r = send(&t.app, "GET", path, Some("Bearer nope".into()), loopback(), "").await;
    assert_eq!((r.status, r.code().as_str()), (StatusCode::UNAUTHORIZED, "unauthenticated"));
    assert!(!r.text().contains(SECRET));

    // Plain HTTP from elsewhere: refused whatever the credentials; HTTPS fine.
    let remote = PeerInfo { addr: "192.0.2.7:5000".parse().unwrap(), tls: false };
    let r = send(&t.app, "GET", path, bearer(), Some(remote), "").await;
    assert_eq!((r.status, r.code().as_str()), (StatusCode::FORBIDDEN, "insecure_channel"));
    let remote_tls = PeerInfo { tls: true, ..remote };
    let r = send(&t.app, "GET", path, bearer(), Some(remote_tls), "").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.json()["nodePrefix"], "88.118.8");
    // No connection info (unknown client): refused.
    assert_eq!(send(&t.app, "GET", path, bearer(), None, "").await.status, StatusCode::FORBIDDEN);
    // IPv6 loopback is loopback.
    let v6 = PeerInfo { addr: "[::1]:5000".parse().unwrap(), tls: false };
    assert_eq!(send(&t.app, "GET", path, bearer(), Some(v6), "").await.status, StatusCode::OK);

    // HTTP Basic as the node administrator (percent-encoded or not).
    let basic = |user: &str, pw: &str| {
        Some(format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pw}"))))
    };
    for user in ["300%3A0.NA%2F88.118.8", "300:0.NA/88.118.8"] {
        let r = send(&t.app, "GET", path, basic(user, SECRET), loopback(), "").await;
        assert_eq!(r.status, StatusCode::OK, "{user}: {}", r.text());
    }
    let r = send(&t.app, "GET", path, basic("300:0.NA/88.118.8", "wrong"), loopback(), "").await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    // An identity that is not an administrator, even with a right secret.
    let r = send(&t.app, "GET", path, basic("300:0.NA/88.118.8.1001", SECRET), loopback(), "").await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);

    // Failed attempts are limited per client network.
    let attacker = PeerInfo { addr: "127.0.0.9:1".parse().unwrap(), tls: false };
    for _ in 0..10 {
        send(&t.app, "GET", path, Some("Bearer x".into()), Some(attacker), "").await;
    }
    let r = send(&t.app, "GET", path, bearer(), Some(attacker), "").await;
    assert_eq!((r.status, r.code().as_str()), (StatusCode::TOO_MANY_REQUESTS, "rate_limited"));
    assert!(r.headers.contains_key(header::RETRY_AFTER));
    // Others are not affected.
    assert_eq!(t.call("GET", path, "").await.status, StatusCode::OK);
}

#[tokio::test]
async fn unknown_paths_and_methods_answer_json() {
    let t = setup();
    let r = t.call("GET", "/admin/v1/nope", "").await;
    assert_eq!((r.status, r.code().as_str()), (StatusCode::NOT_FOUND, "not_found"));
    let r = t.call("PATCH", "/admin/v1/prefixes", "").await;
    assert_eq!((r.status, r.code().as_str()), (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"));
    assert_eq!(r.headers[header::ALLOW], "GET, POST");
}

#[tokio::test]
async fn records_get_put_delete_with_audit() {
    let t = setup();
    let p = "/admin/v1/records/88.118.8.1001/ADMIN-1";
    let body = r#"{"values":[{"index":1,"type":"URL","data":"https://a.example/1"},{"index":2,"type":"BLOB","data":{"format":"base64","value":"AAEC"}}]}"#;
    let r = t.call("PUT", p, body).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert!(r.json()["seq"].as_u64().unwrap() > 0);
    let r = t.call("PUT", p, body).await;
    assert_eq!((r.status, r.code().as_str()), (StatusCode::CONFLICT, "already_exists"));
    let r = t.call("PUT", &format!("{p}?overwrite=true"), r#"{"values":[{"index":7,"type":"URL","data":"x"}]}"#).await;
    assert_eq!(r.status, StatusCode::OK);
    let r = t.call("GET", p, "").await;
    assert_eq!(r.status, StatusCode::OK);
    let v = r.json();
    assert_eq!(v["handle"], "88.118.8.1001/ADMIN-1");
    assert_eq!(v["values"].as_array().unwrap().len(), 1);
    assert_eq!(v["values"][0]["index"], 7);
    assert!(v["values"][0]["timestamp"].as_u64().unwrap() > 0, "stamped with the write time");

    // Bad input names the field.
    let r = t.call("PUT", p, r#"{"values":[{"index":1,"type":"URL","data":"x","permissions":99}]}"#).await;
    assert_eq!(
        (r.status, r.json()["error"]["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("values[0].permissions"))
    );
    let r = t.call("PUT", p, r#"{"values":[], "bogus": 1}"#).await;
    assert_eq!((r.status, r.json()["error"]["field"].as_str()), (StatusCode::BAD_REQUEST, Some("bogus")));
    let r = t.call("PUT", p, "not json").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = t.call("PUT", "/admin/v1/records/88.118.8.1001/ADMIN-1", r#"{"handle":"88.1/other","values":[]}"#).await;
    assert_eq!(r.json()["error"]["field"], "handle");
    let r = t.call("GET", "/admin/v1/records/%00bad/x", "").await;
    assert_eq!((r.status, r.json()["error"]["field"].as_str()), (StatusCode::BAD_REQUEST, Some("handle")));

    // Percent-encoded characters in the handle.
    let r = t
        .call("PUT", "/admin/v1/records/88.118.8.1001/a%20b%3Fc", r#"{"values":[{"index":1,"type":"URL","data":"u"}]}"#)
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(t.store.get_record(b"88.118.8.1001/a b?c").unwrap().is_some());

    let r = t.call("DELETE", p, "").await;
    assert_eq!((r.status, r.json()["deleted"].as_bool()), (StatusCode::OK, Some(true)));
    let r = t.call("DELETE", p, "").await;
    assert_eq!((r.status, r.code().as_str()), (StatusCode::NOT_FOUND, "not_found"));
    assert_eq!(t.call("GET", p, "").await.status, StatusCode::NOT_FOUND);

    let audit = t.audit_actions();
    let puts: Vec<_> = audit.iter().filter(|a| a.0 == "record.create").collect();
    assert_eq!(puts.len(), 4, "{audit:?}");
    assert_eq!(puts[1].2, "already_exists");
    assert!(audit.iter().all(|a| a.3 == "127.0.0.1"), "client address recorded: {audit:?}");
    assert!(audit.iter().any(|a| a.0 == "record.delete" && a.1 == "88.118.8.1001/ADMIN-1" && a.2 == "not_found"));
    let entries = t.store.read_audit(0, 100).unwrap();
    assert!(entries.iter().all(|e| e.actor == "300:0.NA/88.118.8"));
    assert!(entries.iter().all(|e| !format!("{e:?}").contains(SECRET)));
}

#[tokio::test]
async fn import_reports_every_line_and_export_streams() {
    let t = setup();
    let body = concat!(
        r#"{"handle":"88.118.8.1001/I1","values":[{"index":1,"type":"URL","data":"http://1","timestamp":1000}]}"#,
        "\n\n# comment\nnot json\n",
        r#"{"handle":"88.118.8.1001/LOT2026-000451","values":[{"index":1,"type":"URL","data":"dup"}]}"#,
        "\n",
        r#"{"handle":"88.118.8.1001/I2","values":[{"index":1,"type":"URL","data":"http://2"}]}"#
    );
    let r = t.call("POST", "/admin/v1/import?batch=1", body).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.headers[header::CONTENT_TYPE], "application/x-ndjson");
    let lines: Vec<Json> = r.text().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 5, "{}", r.text());
    assert_eq!((lines[0]["line"].as_u64(), lines[0]["ok"].as_bool()), (Some(1), Some(true)));
    assert_eq!((lines[1]["line"].as_u64(), lines[1]["error"]["code"].as_str()), (Some(4), Some("invalid")));
    assert_eq!(lines[2]["error"]["code"], "already_exists");
    assert_eq!(lines[2]["handle"], "88.118.8.1001/LOT2026-000451");
    assert_eq!((lines[3]["line"].as_u64(), lines[3]["ok"].as_bool()), (Some(6), Some(true)));
    assert_eq!((lines[4]["summary"]["ok"].as_u64(), lines[4]["summary"]["failed"].as_u64()), (Some(2), Some(2)));
    // Timestamps given are kept.
    let rec = t.store.get_record(b"88.118.8.1001/I1").unwrap().unwrap();
    assert_eq!(rec.values().unwrap()[0].timestamp, 1000);

    // errors_only + overwrite; a final line without a newline counts.
    let r = t.call("POST", "/admin/v1/import?errors_only=true&overwrite=true", body).await;
    let text = r.text();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{}", r.text());
    assert!(lines[1].contains(r#""ok":3"#));
    assert!(t.audit_actions().iter().any(|a| a.0 == "records.import" && a.2 == "ok=2 failed=2"));
    let r = t.call("POST", "/admin/v1/import?batch=0", "").await;
    assert_eq!((r.status, r.json()["error"]["field"].as_str()), (StatusCode::BAD_REQUEST, Some("batch")));

    let r = t.call("GET", &format!("/admin/v1/export?prefix={ENT}"), "").await;
    assert_eq!(r.status, StatusCode::OK);
    let recs: Vec<Json> = r.text().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(recs.len(), 5, "3 demo records + 2 imported");
    assert!(recs.iter().all(|v| v["handle"].as_str().unwrap().starts_with("88.118.8.1001/")));
    let all = t.call("GET", "/admin/v1/export", "").await;
    assert_eq!(all.text().lines().count(), 6, "plus 0.NA/88.118.8");
    // An export re-imports losslessly.
    let again = t.call("POST", "/admin/v1/import?overwrite=true&errors_only=true", &r.text()).await;
    assert!(again.text().contains(r#""failed":0"#), "{}", again.text());
}

#[tokio::test]
async fn prefixes_and_the_state_machine() {
    let t = setup();
    t.store.count_resolution(ENT.as_bytes(), day_of(crate::unix_now()), 4);
    let r = t.call("GET", "/admin/v1/prefixes", "").await;
    assert_eq!(r.status, StatusCode::OK);
    let list = r.json()["prefixes"].as_array().unwrap().clone();
    let ent = list.iter().find(|p| p["prefix"] == ENT).unwrap();
    assert_eq!((ent["registrations"].as_u64(), ent["resolutions"].as_u64()), (Some(3), Some(4)));
    assert_eq!((ent["state"].as_str(), ent["stateCode"].as_u64()), (Some("enabled"), Some(1)));
    assert_eq!(ent["enterpriseName"], "示例装备有限公司");
    let r = t.call("GET", &format!("/admin/v1/prefixes/{ENT}"), "").await;
    assert_eq!((r.json()["records"].as_u64(), r.json()["today"]["resolutions"].as_u64()), (Some(3), Some(4)));
    assert_eq!(t.call("GET", "/admin/v1/prefixes/99.9", "").await.status, StatusCode::NOT_FOUND);

    let r = t.call("POST", "/admin/v1/prefixes", r#"{"prefix":"88.118.8.7","state":"awaiting-review"}"#).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!((r.json()["state"].as_str(), r.json()["homed"].as_bool()), (Some("awaiting-review"), Some(true)));
    assert_eq!(t.call("POST", "/admin/v1/prefixes", r#"{"prefix":"88.118.8.7"}"#).await.code(), "already_exists");
    let r = t.call("POST", "/admin/v1/prefixes", r#"{"prefix":"88.118.8.8","enterpriseId":999}"#).await;
    assert_eq!((r.status, r.json()["error"]["field"].as_str()), (StatusCode::NOT_FOUND, Some("enterpriseId")));
    let r = t.call("POST", "/admin/v1/prefixes", r#"{"prefix":"88.118.8.8","state":"sleeping"}"#).await;
    assert_eq!(r.json()["error"]["field"], "state");
    let r = t.call("POST", "/admin/v1/prefixes", r#"{"prefix":"88..8"}"#).await;
    assert_eq!(r.json()["error"]["field"], "prefix");

    // awaiting-review -> enabled is not a step; -> under-review -> enabled is.
    let st = "/admin/v1/prefixes/88.118.8.7/state";
    let r = t.call("POST", st, r#"{"state":"enabled"}"#).await;
    assert_eq!((r.status, r.code().as_str()), (StatusCode::CONFLICT, "rejected"));
    assert_eq!(t.call("POST", st, r#"{"state":5}"#).await.json()["state"], "under-review");
    assert_eq!(t.call("POST", st, r#"{"state":"ENABLED"}"#).await.json()["state"], "enabled");
    assert_eq!(
        t.call("POST", "/admin/v1/prefixes/88.118.8.404/state", r#"{"state":1}"#).await.status,
        StatusCode::NOT_FOUND
    );

    let r = t.call("POST", "/admin/v1/prefixes/88.118.8.7/unhome", "").await;
    assert_eq!(r.json()["homed"], false);
    assert!(!t.store.is_homed(b"88.118.8.7"));
    let r = t.call("POST", "/admin/v1/prefixes/88.118.8.7/home", "").await;
    assert_eq!(r.json()["homed"], true);
    assert!(t.store.is_homed(b"88.118.8.7"));
    assert_eq!(t.call("POST", "/admin/v1/prefixes/88.118.8.404/unhome", "").await.status, StatusCode::NOT_FOUND);

    let actions: Vec<String> = t.audit_actions().into_iter().map(|a| format!("{} {}", a.0, a.2)).collect();
    for want in [
        "prefix.create ok",
        "prefix.create already_exists",
        "prefix.state rejected",
        "prefix.state -> 1",
        "prefix.unhome ok",
        "prefix.home ok",
    ] {
        assert!(actions.iter().any(|a| a == want), "{want} not in {actions:?}");
    }
}

#[tokio::test]
async fn enterprises() {
    let t = setup();
    let r = t.call("GET", "/admin/v1/enterprises", "").await;
    let list = r.json()["enterprises"].as_array().unwrap().clone();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["prefixes"], json!([ENT]));
    assert!(list[0].get("extra").is_none());
    let id = list[0]["id"].as_u64().unwrap();
    let r = t.call("GET", &format!("/admin/v1/enterprises/{id}"), "").await;
    assert_eq!(r.json()["extra"]["legalName"], "法人代表");
    assert_eq!(t.call("GET", "/admin/v1/enterprises/x", "").await.status, StatusCode::BAD_REQUEST);
    assert_eq!(t.call("GET", "/admin/v1/enterprises/424242", "").await.status, StatusCode::NOT_FOUND);

    let body =
        r#"{"name":"二号企业","creditCode":"C-2","prefix":"88.118.8.2002","status":"pending","contact":{"name":"王"}}"#;
    let r = t.call("POST", "/admin/v1/enterprises", body).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let new_id = r.json()["id"].as_u64().unwrap();
    assert_eq!(
        (r.json()["status"].as_str(), r.json()["prefixes"].clone()),
        (Some("pending"), json!(["88.118.8.2002"]))
    );
    let p = t.store.get_prefix("88.118.8.2002").unwrap().unwrap();
    assert_eq!((p.enterprise_id, p.state.code(), p.homed), (Some(new_id), 4, true));
    let r = t.call("POST", "/admin/v1/enterprises", r#"{"name":"x","creditCode":"C-2"}"#).await;
    assert_eq!((r.status, r.json()["error"]["field"].as_str()), (StatusCode::CONFLICT, Some("creditCode")));
    let r = t
        .call("POST", "/admin/v1/enterprises", &format!(r#"{{"name":"x","creditCode":"C-3","prefix":"{ENT}"}}"#))
        .await;
    assert_eq!((r.status, r.json()["error"]["field"].as_str()), (StatusCode::CONFLICT, Some("prefix")));
    let r = t.call("POST", "/admin/v1/enterprises", r#"{"name":" ","creditCode":"C-4"}"#).await;
    assert_eq!(r.json()["error"]["field"], "name");

    let r = t.call("POST", &format!("/admin/v1/enterprises/{new_id}/approve"), "").await;
    assert_eq!((r.status, r.json()["status"].as_str()), (StatusCode::OK, Some("approved")));
    assert_eq!(t.store.get_prefix("88.118.8.2002").unwrap().unwrap().state.code(), 1);
    let actions: Vec<String> = t.audit_actions().into_iter().map(|a| format!("{} {}", a.0, a.2)).collect();
    assert!(actions.contains(&"enterprise.create ok".to_owned()), "{actions:?}");
    assert!(actions.contains(&"enterprise.approve ok".to_owned()), "{actions:?}");
}

#[tokio::test]
async fn templates() {
    let t = setup();
    let r = t.call("GET", &format!("/admin/v1/templates?prefix={ENT}"), "").await;
    assert_eq!(r.json()["templates"].as_array().unwrap().len(), 1);
    let r = t.call("GET", &format!("/admin/v1/templates/{ENT}/1.0.0"), "").await;
    assert_eq!(r.status, StatusCode::OK);
    let mut tpl = r.json();
    assert_eq!(tpl["items"][0]["idType"], "model");
    // What GET gives can be put back as a new version (path's prefix/version win when absent).
    tpl.as_object_mut().unwrap().remove("version");
    let r = t.call("PUT", &format!("/admin/v1/templates/{ENT}/2.0"), &tpl.to_string()).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    assert_eq!(r.json()["version"], "2.0");
    let edit = r#"{"items":[{"name":"颜色","idType":"color","metadata":{"minLength":1,"maxLength":8}}]}"#;
    let r = t.call("PUT", &format!("/admin/v1/templates/{ENT}/2.0"), edit).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.json()["items"].as_array().unwrap().len(), 4);
    let r = t.call("PUT", &format!("/admin/v1/templates/{ENT}/3.0"), r#"{"type":7,"items":[]}"#).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = t.call("PUT", &format!("/admin/v1/templates/{ENT}/3.0"), r#"{"prefix":"88.1","items":[]}"#).await;
    assert_eq!(r.json()["error"]["field"], "prefix");

    let r = t.call("DELETE", &format!("/admin/v1/templates/{ENT}/1.0.0"), "").await;
    assert_eq!((r.status, r.code().as_str()), (StatusCode::CONFLICT, "rejected"), "in use by the demo identifiers");
    let r = t.call("DELETE", &format!("/admin/v1/templates/{ENT}/2.0"), "").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(t.call("GET", &format!("/admin/v1/templates/{ENT}/2.0"), "").await.status, StatusCode::NOT_FOUND);
    let actions: Vec<String> = t.audit_actions().into_iter().map(|a| format!("{} {}", a.0, a.2)).collect();
    for want in ["template.create ok", "template.edit ok", "template.delete rejected", "template.delete ok"] {
        assert!(actions.iter().any(|a| a == want), "{want} not in {actions:?}");
    }
}

#[tokio::test]
async fn users() {
    let t = setup();
    let ent_id = t.store.get_prefix(ENT).unwrap().unwrap().enterprise_id.unwrap();
    let body = format!(r#"{{"username":"ent1","password":"correct horse","enterpriseId":{ent_id},"email":"e@x"}}"#);
    let r = t.call("POST", "/admin/v1/users", &body).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    assert!(r.json().get("password").is_none());
    let stored = t.store.get_identity("ent1").unwrap().unwrap();
    assert!(stored.password_hash.starts_with("$argon2id$"));
    assert!(stored.snms_v1_verifier.is_some(), "hashed login is on by default");
    // No unsalted password-equivalent at rest: h1 = SHA-256(password)
    // appears neither in the account record nor anywhere in the store's files.
    let h1 = idnode_registry::service::accounts::sha256_hex(b"correct horse");
    assert!(!format!("{stored:?}").to_ascii_lowercase().contains(&h1), "{stored:?}");
    assert!(stored.snms_v1_verifier.as_deref().unwrap().starts_with(crate::api::auth::sealed::SEALED_TAG));
    t.store.flush().unwrap();
    for entry in walk(&t._dir.path().join("store")) {
        let bytes = std::fs::read(&entry).unwrap();
        let hay = String::from_utf8_lossy(&bytes).to_ascii_lowercase();
        assert!(!hay.contains(&h1), "h1 found in {}", entry.display());
        let raw = hex::decode(&h1).unwrap();
        assert!(!bytes.windows(32).any(|w| w == raw.as_slice()), "raw h1 in {}", entry.display());
    }
    assert_eq!(t.call("POST", "/admin/v1/users", &body).await.status, StatusCode::CONFLICT);

    let r = t.call("POST", "/admin/v1/users", r#"{"username":"aud","role":"auditor"}"#).await;
    assert_eq!(r.status, StatusCode::CREATED);
    let generated = r.json()["password"].as_str().unwrap().to_owned();
    assert!(generated.len() >= 20);
    let r = t.call("POST", "/admin/v1/users", r#"{"username":"x"}"#).await;
    assert_eq!(r.json()["error"]["field"], "enterpriseId");
    let r = t.call("POST", "/admin/v1/users", r#"{"username":"y","role":"auditor","password":"short"}"#).await;
    assert_eq!(r.json()["error"]["field"], "password");
    let r = t.call("POST", "/admin/v1/users", r#"{"username":"z","role":"root"}"#).await;
    assert_eq!(r.json()["error"]["field"], "role");

    let r = t.call("GET", "/admin/v1/users", "").await;
    let text = r.text();
    assert!(!text.contains("argon2") && !text.contains(&generated), "no hashes or passwords in listings");
    assert_eq!(r.json()["users"].as_array().unwrap().len(), 2);

    // A session, then a password change ends it.
    let mut i = t.store.get_identity("ent1").unwrap().unwrap();
    i.api_tokens.push(idnode_registry::model::TokenHash {
        id: "t".into(),
        hash: "h".into(),
        label: idnode_registry::service::accounts::SESSION_LABEL.into(),
        created: 1,
        expires: None,
    });
    t.store.put_identity(&i).unwrap();
    assert_eq!(t.call("GET", "/admin/v1/users/ent1", "").await.json()["sessions"], 1);
    let r = t.call("POST", "/admin/v1/users/ent1/password", "").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert!(r.json()["password"].is_string());
    assert_eq!(r.json()["sessions"], 0);
    assert_ne!(t.store.get_identity("ent1").unwrap().unwrap().password_hash, stored.password_hash);
    let r = t.call("POST", "/admin/v1/users/ent1/password", r#"{"password":"another good one"}"#).await;
    assert!(r.json().get("password").is_none());

    assert_eq!(t.call("POST", "/admin/v1/users/ent1/disable", "").await.json()["disabled"], true);
    assert!(t.store.get_identity("ent1").unwrap().unwrap().disabled);
    assert_eq!(t.call("POST", "/admin/v1/users/ent1/enable", "").await.json()["disabled"], false);
    assert_eq!(t.call("POST", "/admin/v1/users/nobody/disable", "").await.status, StatusCode::NOT_FOUND);
    let actions: Vec<String> = t.audit_actions().into_iter().map(|a| format!("{} {} {}", a.0, a.1, a.2)).collect();
    for want in
        ["account.create ent1 ok", "account.password ent1 ok", "account.disable ent1 ok", "account.enable ent1 ok"]
    {
        assert!(actions.iter().any(|a| a == want), "{want} not in {actions:?}");
    }
    assert!(t.store.read_audit(0, 1000).unwrap().iter().all(|e| !format!("{e:?}").contains("correct horse")));
}

#[tokio::test]
async fn stats_read_pending_and_persisted_counters() {
    let t = setup();
    let today = day_of(crate::unix_now());
    t.store.count_resolution(ENT.as_bytes(), today, 5);
    t.store.count_resolution(ENT.as_bytes(), today - 3, 2);
    let r = t.call("GET", &format!("/admin/v1/stats?prefix={ENT}"), "").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let v = r.json();
    let p = &v["prefixes"][0];
    assert_eq!((p["registrations"].as_u64(), p["resolutions"].as_u64()), (Some(3), Some(7)));
    assert_eq!(p["days"].as_array().unwrap().len(), 2);
    assert_eq!(v["to"], idnode_registry::service::dates::day_string(today));

    let r = t.call("POST", "/admin/v1/stats/persist", "").await;
    assert_eq!(r.json()["persisted"], true);
    // A narrower range; every prefix without ?prefix=.
    let r = t.call("GET", "/admin/v1/stats?from=today&to=today&persist=true", "").await;
    let v = r.json();
    let all = v["prefixes"].as_array().unwrap();
    assert_eq!(all.len(), 2);
    let ent = all.iter().find(|p| p["prefix"] == ENT).unwrap();
    assert_eq!(ent["resolutions"], 5);
    assert_eq!(t.call("GET", "/admin/v1/stats?prefix=99.9", "").await.status, StatusCode::NOT_FOUND);
    for bad in ["from=2026-13-01", "from=tomorrowish", "from=2026-01-02&to=2026-01-01", "from=2000-01-01&to=2026-01-01"]
    {
        let r = t.call("GET", &format!("/admin/v1/stats?{bad}"), "").await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{bad}");
    }
    assert!(t.audit_actions().iter().any(|a| a.0 == "stats.persist" && a.2 == "ok"));
    let r = t.call("GET", "/admin/v1/audit?limit=1", "").await;
    assert_eq!(r.json()["entries"].as_array().unwrap().len(), 1);
    assert_eq!(r.json()["entries"][0]["client"], "127.0.0.1");
}

#[tokio::test]
async fn local_router_needs_no_credentials_and_disabled_api_is_absent() {
    let t = setup();
    let local = local_router(ApiDeps::new(t.store.clone(), Arc::new(t.cfg.clone())));
    let r = send(&local, "POST", "/admin/v1/prefixes/88.118.8.5/home", None, None, "").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(t.store.read_audit(0, 100).unwrap().last().unwrap().actor, "cli");

    let mut cfg = t.cfg.clone();
    cfg.admin.api_enabled = false;
    let off = router(ApiDeps::new(t.store.clone(), Arc::new(cfg)));
    assert_eq!(send(&off, "GET", "/admin/v1/status", bearer(), loopback(), "").await.status, StatusCode::NOT_FOUND);
    assert_eq!(send(&off, "GET", "/openapi.json", None, None, "").await.status, StatusCode::OK);
}

/// The OpenAPI path of an axum route (`{*handle}` -> `{handle}`).
fn openapi_path(axum: &str) -> String {
    axum.replace("{*", "{")
}

#[tokio::test]
async fn openapi_document_is_served_and_covers_every_admin_route() {
    let t = setup();
    let file = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/openapi.json")).unwrap();
    let r = send(&t.app, "GET", "/openapi.json", None, None, "").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.headers[header::CONTENT_TYPE], "application/json");
    assert_eq!(r.text(), file, "the served document is docs/openapi.json");
    let doc: Json = serde_json::from_str(&file).unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    let paths = doc["paths"].as_object().unwrap();

    let table = routes().table().to_vec();
    assert!(table.len() >= 20);
    for (path, methods) in &table {
        let op = openapi_path(path);
        let item = paths.get(&op).unwrap_or_else(|| panic!("{op} is not in docs/openapi.json"));
        let documented: Vec<String> = item.as_object().unwrap().keys().map(|k| k.to_ascii_uppercase()).collect();
        let mut want: Vec<String> = methods.iter().map(|m| m.to_string()).collect();
        let mut got = documented.clone();
        want.sort();
        got.sort();
        assert_eq!(got, want, "methods of {op}");
        for m in *methods {
            let o = &item[m.to_ascii_lowercase()];
            assert!(o["responses"]["401"].is_object(), "{m} {op} documents 401");
            assert!(o["operationId"].is_string(), "{m} {op} has an operationId");
        }
        // The route is really there: each method reaches authentication,
        // another method is 405.
        let concrete = op
            .replace("{handle}", "88.118.8.1001/x")
            .replace("{prefix}", ENT)
            .replace("{id}", "1")
            .replace("{version}", "1.0.0")
            .replace("{username}", "admin");
        for m in *methods {
            let r = send(&t.app, m, &concrete, None, loopback(), "").await;
            assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{m} {concrete}");
        }
        let r = send(&t.app, "PATCH", &concrete, None, loopback(), "").await;
        assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED, "PATCH {concrete}");
    }
    // Every documented admin path is routed (no stale entries).
    let routed: Vec<String> = table.iter().map(|(p, _)| openapi_path(p)).collect();
    for p in paths.keys().filter(|p| p.starts_with("/admin/")) {
        assert!(routed.contains(p), "{p} is documented but not routed");
    }
    // The other APIs and endpoints are described too.
    for p in [
        "/api/handles/{handle}",
        "/api/handles",
        "/api/prefixes",
        "/api/site",
        "/api/sessions",
        "/api/sessions/this",
        "/identity/token",
        "/identityv2/data",
        "/snms/api/prefix/page",
        "/metrics",
        "/healthz",
        "/readyz",
        "/openapi.json",
    ] {
        assert!(paths.contains_key(p), "{p}");
    }
    // Every $ref resolves.
    fn refs(v: &Json, out: &mut Vec<String>) {
        match v {
            Json::Object(o) => {
                if let Some(Json::String(r)) = o.get("$ref") {
                    out.push(r.clone());
                }
                o.values().for_each(|x| refs(x, out));
            }
            Json::Array(a) => a.iter().for_each(|x| refs(x, out)),
            _ => {}
        }
    }
    let mut all = Vec::new();
    refs(&doc, &mut all);
    for r in all {
        let ptr = r.strip_prefix('#').unwrap();
        assert!(doc.pointer(ptr).is_some(), "dangling {r}");
    }
}

/// Every file under `dir`.
fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() { out.extend(walk(&p)) } else { out.push(p) }
    }
    out
}
