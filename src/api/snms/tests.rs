//! In-process tests of the SNMS API: every endpoint through
//! `tower::ServiceExt::oneshot`, with an injected clock.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, StatusCode};
use idnode_registry::model::{Enterprise, EnterpriseStatus, HostingState, Identity, Prefix, PrefixState, Role, day_of};
use idnode_registry::seed;
use idnode_registry::service::accounts::sha256_hex;
use idnode_registry::service::dates;
use idnode_registry::store::{SledStore, Store, WriteCtx};
use serde_json::{Value, json};
use tower::ServiceExt;

use super::{Clock, hash_h1, router_with_clock};
use crate::api::ApiDeps;
use crate::api::auth::sealed::Sealer;
use crate::config::Config;
use crate::serve::http::PeerInfo;

/// 2026-03-18 12:00:00 +08:00.
const T0: u64 = 1_773_806_400;
const PREFIX: &str = "88.118.8.1001";
const OTHER: &str = "88.118.8.1002";

struct Env {
    _dir: tempfile::TempDir,
    app: Router,
    store: Arc<dyn Store>,
    clock: Arc<AtomicU64>,
}

fn account(store: &dyn Store, data: &std::path::Path, name: &str, role: Role, ent: Option<u64>, password: &str) {
    let h1 = sha256_hex(password.as_bytes());
    let mut i = Identity::new(name, role, hash_h1(&h1).unwrap(), T0);
    i.enterprise_id = ent;
    i.snms_v1_verifier = Some(Sealer::in_data_dir(data).seal(name, &h1).unwrap());
    store.put_identity(&i).unwrap();
}

fn env_with(mut cfg: Config) -> Env {
    let dir = tempfile::tempdir().unwrap();
    cfg.node.data_dir = dir.path().to_owned();
    let store: Arc<dyn Store> = Arc::new(SledStore::open_path(dir.path().join("store")).unwrap());
    let report = seed::seed_demo(&*store, "88.118.8", T0).unwrap();
    // A second enterprise with its own prefix and template.
    let id2 = store.next_id().unwrap();
    let mut e2 = Enterprise::new(id2, "示例物流有限公司", "91110000EXAMPLE002", T0);
    e2.status = EnterpriseStatus::Approved;
    store.put_enterprise(&e2).unwrap();
    let mut p2 = Prefix::new(OTHER, PrefixState::Enabled, T0);
    p2.homed = true;
    p2.hosting = HostingState::Hosted;
    p2.enterprise_id = Some(id2);
    store.put_prefix(&p2, &WriteCtx::new(T0, "test")).unwrap();
    let mut t2 = store.get_template(PREFIX, "1.0.0").unwrap().unwrap();
    t2.prefix = OTHER.into();
    store.put_template(&t2).unwrap();
    let data = dir.path();
    account(&*store, data, "admin", Role::PlatformAdmin, None, "admin-pass");
    account(&*store, data, "ent1", Role::EnterpriseUser, Some(report.enterprise_id), "ent1-pass");
    account(&*store, data, "ent2", Role::EnterpriseUser, Some(id2), "ent2-pass");
    account(&*store, data, "aud", Role::Auditor, None, "aud-pass");
    let clock = Arc::new(AtomicU64::new(T0));
    let c2 = clock.clone();
    let clk: Clock = Arc::new(move || c2.load(Ordering::SeqCst));
    let app = router_with_clock(ApiDeps::new(store.clone(), Arc::new(cfg)), clk);
    Env { _dir: dir, app, store, clock }
}

fn env() -> Env {
    let mut cfg = Config::default();
    cfg.http.limits.login_failures_per_address = 3;
    cfg.limits.http_max_body_bytes = 4 * 1024 * 1024;
    env_with(cfg)
}

impl Env {
    async fn raw(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        ctype: Option<&str>,
        body: Vec<u8>,
    ) -> (StatusCode, Value) {
        let peer = PeerInfo { addr: "192.0.2.7:40000".parse().unwrap(), tls: true };
        self.raw_from(peer, method, path, token, ctype, body).await.0
    }

    /// One request from `peer`; also returns the `Retry-After` header.
    async fn raw_from(
        &self,
        peer: PeerInfo,
        method: &str,
        path: &str,
        token: Option<&str>,
        ctype: Option<&str>,
        body: Vec<u8>,
    ) -> ((StatusCode, Value), Option<String>) {
        let mut req = Request::builder().method(method).uri(path);
        if let Some(t) = token {
            req = req.header("Authorization", format!("Bearer {t}"));
        }
        if let Some(c) = ctype {
            req = req.header("Content-Type", c);
        }
        let mut req = req.body(Body::from(body)).unwrap();
        req.extensions_mut().insert(ConnectInfo(peer));
        let resp = self.app.clone().oneshot(req).await.unwrap();
        let status = resp.status();
        let retry = resp.headers().get("retry-after").map(|v| v.to_str().unwrap().to_owned());
        let bytes = axum::body::to_bytes(resp.into_body(), 64 << 20).await.unwrap();
        let v = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        ((status, v), retry)
    }

    async fn call(&self, method: &str, path: &str, token: Option<&str>, body: Option<Value>) -> Value {
        let bytes = body.map(|b| serde_json::to_vec(&b).unwrap()).unwrap_or_default();
        let (st, v) = self.raw(method, path, token, Some("application/json"), bytes).await;
        assert_eq!(st, StatusCode::OK, "{method} {path}: {v}");
        v
    }

    async fn login(&self, user: &str, password: &str) -> String {
        let v = self.call("POST", "/identity/token", None, Some(json!({"username": user, "password": password}))).await;
        assert_eq!(v["message"], "success", "{v}");
        v["data"]["token"].as_str().unwrap().to_owned()
    }

    fn records(&self, prefix: &str) -> u64 {
        self.store.count_records(Some(prefix)).unwrap()
    }
}

fn ident(handle: &str, model: &str) -> Value {
    json!({
        "handle": handle,
        "templateVersion": "1.0.0",
        "value": [ { "index": 2000, "type": "model", "auth": "", "data": { "format": "string", "value": model } } ],
        "someUnknownField": { "ignored": true },
    })
}

fn assert_status(v: &Value, status: i64) {
    assert_eq!(v["status"], status, "{v}");
    if status != 1 {
        assert!(v["data"].is_null(), "{v}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_plain_hashed_rate_limit_and_expiry() {
    let e = env();
    let v = e.call("POST", "/identity/token", None, Some(json!({"username": "ent1", "password": "ent1-pass"}))).await;
    assert_eq!(v["message"], "success");
    assert_eq!(v["status"], 1);
    let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
    assert_eq!(keys.len(), 3);
    let token = v["data"]["token"].as_str().unwrap().to_owned();
    // Stored hashed, never in clear.
    let stored = e.store.get_identity("ent1").unwrap().unwrap();
    assert!(stored.api_tokens.iter().all(|t| t.hash != token && !t.hash.contains(&token)));

    // Hashed login: SHA-256(h1 + today's date in UTC+8); also userName spelling.
    let h1 = sha256_hex(b"ent1-pass");
    let field = sha256_hex(format!("{h1}{}", dates::date(T0, 480, 0)).as_bytes());
    let v = e.call("POST", "/identity/token/v1", None, Some(json!({"userName": "ent1", "password": field}))).await;
    assert_eq!(v["message"], "success", "{v}");
    let stale = sha256_hex(format!("{h1}2020-01-01").as_bytes());
    let v = e.call("POST", "/identity/token/v1", None, Some(json!({"username": "ent1", "password": stale}))).await;
    assert_eq!(v["message"], "用户名/密码错误！");

    // Wrong password, unknown user: the contract message; the 3rd failure
    // from this address (the stale hashed login was the 1st) locks it out:
    // even the right password gets a 429 with Retry-After.
    let v = e.call("POST", "/identity/token", None, Some(json!({"username": "nobody", "password": "x"}))).await;
    assert_eq!((v["status"].as_i64(), v["message"].as_str()), (Some(-2), Some("用户名/密码错误！")));
    let v = e.call("POST", "/identity/token", None, Some(json!({"username": "ent1", "password": "bad"}))).await;
    assert_eq!(v["message"], "用户名/密码错误！");
    let good = serde_json::to_vec(&json!({"username": "ent1", "password": "ent1-pass"})).unwrap();
    let here = PeerInfo { addr: "192.0.2.7:40001".parse().unwrap(), tls: true };
    let ((st, v), retry) =
        e.raw_from(here, "POST", "/identity/token", None, Some("application/json"), good.clone()).await;
    assert_eq!(st, StatusCode::TOO_MANY_REQUESTS, "{v}");
    assert_status(&v, -2);
    assert!(v["message"].as_str().unwrap().contains("too many"), "{v}");
    assert!(retry.unwrap().parse::<u64>().unwrap() >= 1);
    // Another address is not locked out.
    let elsewhere = PeerInfo { addr: "198.51.100.9:40000".parse().unwrap(), tls: true };
    let ((st, v), _) = e.raw_from(elsewhere, "POST", "/identity/token", None, Some("application/json"), good).await;
    assert_eq!(st, StatusCode::OK, "{v}");
    let fresh = v["data"]["token"].as_str().unwrap().to_owned();

    // Plain HTTP from a non-loopback client: no login, no token use.
    let plain = PeerInfo { addr: "198.51.100.10:40000".parse().unwrap(), tls: false };
    let body = serde_json::to_vec(&json!({"username": "ent1", "password": "ent1-pass"})).unwrap();
    let ((st, v), _) = e.raw_from(plain, "POST", "/identity/token", None, Some("application/json"), body).await;
    assert_eq!(st, StatusCode::OK);
    assert_status(&v, -2);
    assert!(v["message"].as_str().unwrap().contains("HTTPS"), "{v}");
    let q = "/identityv2/data/detail?handle=88.118.8.1001/LOT2026-000451";
    let ((_, v), _) = e.raw_from(plain, "GET", q, Some(&fresh), None, Vec::new()).await;
    assert_status(&v, -1);
    // ... while plain HTTP from loopback works (a local proxy or tool).
    let local = PeerInfo { addr: "127.0.0.1:40000".parse().unwrap(), tls: false };
    let ((_, v), _) = e.raw_from(local, "GET", q, Some(&fresh), None, Vec::new()).await;
    assert_status(&v, 1);

    // Token use: header forms (§1.4).
    let q = "/identityv2/data/detail?handle=88.118.8.1001/LOT2026-000451";
    assert_eq!(e.call("GET", q, Some(&token), None).await["status"], 1);
    for (h, want) in [
        (format!("bearer {fresh}"), 1),
        (fresh.clone(), 1),
        (format!("Basic {fresh}"), -1),
        ("Bearer nonsense".into(), -1),
    ] {
        let mut req = Request::get(q).header("Authorization", h).body(Body::empty()).unwrap();
        let peer = PeerInfo { addr: "192.0.2.7:40000".parse().unwrap(), tls: true };
        req.extensions_mut().insert(ConnectInfo(peer));
        let resp = e.app.clone().oneshot(req).await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        let v: Value = serde_json::from_slice(&axum::body::to_bytes(resp.into_body(), 1 << 20).await.unwrap()).unwrap();
        assert_eq!(v["status"], want, "{v}");
    }
    let v = e.call("GET", q, None, None).await;
    assert_status(&v, -1);

    // Expiry after 24 h (clock injected).
    e.clock.fetch_add(86_400, Ordering::SeqCst);
    let v = e.call("GET", q, Some(&fresh), None).await;
    assert_status(&v, -1);
    assert!(v["message"].as_str().unwrap().contains("expired"), "{v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn templates_v5_and_v3() {
    let e = env();
    let t = e.login("ent1", "ent1-pass").await;
    let body = json!({
        "prefix": PREFIX, "version": "2.0", "industryCategory": "C", "industrySpecific": "34",
        "industryTrade": "341", "industrySubclass": "3411", "type": "1", "description": "d",
        "items": [
            { "name": "型号", "idType": "model", "idIndex": 2000, "required": true,
              "metadata": { "type": "String", "minLength": 1, "maxLength": 64 } },
            { "name": "批次", "idType": "batch", "idIndex": "2001",
              "metadata": { "type": "string", "minLength": "1", "maxLength": 32 } }
        ]
    });
    let v = e.call("POST", "/snms/api/v5/template", Some(&t), Some(body.clone())).await;
    assert_eq!((v["status"].as_i64(), &v["data"]), (Some(1), &json!(true)), "{v}");
    let v = e.call("POST", "/snms/api/v5/template", Some(&t), Some(body.clone())).await;
    assert_status(&v, -2);
    let v = e.call("GET", "/snms/api/v5/template?prefix=88.118.8.1001&version=2.0", Some(&t), None).await;
    let d = &v["data"];
    assert_eq!(d["handle"], "88.118.8.1001/tpl-2.0");
    assert_eq!(d["items"][1]["idIndex"], 2001);
    assert_eq!(d["items"][0]["metadata"]["type"], "string");
    assert_eq!(d["items"][0]["state"], 1);
    assert!(d["items"][0]["metadataId"].is_u64());
    // Edit: disable 2001, add one without an index.
    let edit = json!({
        "prefix": PREFIX, "version": "2.0",
        "items": [
            { "name": "批次", "idType": "batch", "idIndex": 2001, "state": 0,
              "metadata": { "type": "string", "minLength": 1, "maxLength": 32 } },
            { "name": "产地", "idType": "origin", "metadata": { "type": "string", "minLength": 1, "maxLength": 40 } }
        ]
    });
    assert_eq!(e.call("PUT", "/snms/api/v5/template", Some(&t), Some(edit)).await["status"], 1);
    let v = e.call("GET", "/snms/api/v5/template?prefix=88.118.8.1001&version=2.0", Some(&t), None).await;
    assert_eq!(v["data"]["items"][1]["state"], 0);
    assert_eq!(v["data"]["items"][2]["idIndex"], 2002);
    // Reserved index, foreign prefix, missing parameter.
    let mut bad = body.clone();
    bad["version"] = json!("3.0");
    bad["items"][0]["idIndex"] = json!(1001);
    let v = e.call("POST", "/snms/api/v5/template", Some(&t), Some(bad)).await;
    assert_status(&v, -2);
    assert!(v["message"].as_str().unwrap().contains("items[0].idIndex"), "{v}");
    let mut foreign = body.clone();
    foreign["prefix"] = json!(OTHER);
    assert_status(&e.call("POST", "/snms/api/v5/template", Some(&t), Some(foreign)).await, -3);
    let v = e.call("GET", "/snms/api/v5/template?version=2.0", Some(&t), None).await;
    assert_eq!(v["message"], "缺少必要的请求参数: prefix");
    // v3: indexes from 2000 in order, no idIndex/state in answers.
    let mut v3 = body.clone();
    v3["version"] = json!("v3-1");
    v3["items"][0]["idIndex"] = json!(5555);
    assert_eq!(e.call("POST", "/snms/api/v3/template", Some(&t), Some(v3)).await["status"], 1);
    let v = e.call("GET", "/snms/api/v3/template?prefix=88.118.8.1001&version=v3-1", Some(&t), None).await;
    assert!(v["data"]["items"][0].get("idIndex").is_none());
    assert!(v["data"].get("handle").is_none());
    let v = e.call("GET", "/snms/api/v5/template?prefix=88.118.8.1001&version=v3-1", Some(&t), None).await;
    assert_eq!(v["data"]["items"][0]["idIndex"], 2000);
    assert_eq!(v["data"]["items"][1]["idIndex"], 2001);
    // Delete: body, then query parameters; a missing one is -2.
    let del = json!({"prefix": PREFIX, "version": "v3-1"});
    assert_eq!(e.call("DELETE", "/snms/api/v3/template", Some(&t), Some(del.clone())).await["status"], 1);
    assert_status(&e.call("DELETE", "/snms/api/v5/template", Some(&t), Some(del)).await, -2);
    let v = e.call("DELETE", "/snms/api/v5/template?prefix=88.118.8.1001&version=2.0", Some(&t), None).await;
    assert_eq!(v["status"], 1, "{v}");
    // In use: the demo identifiers use 1.0.0.
    let a = e.login("admin", "admin-pass").await;
    let v =
        e.call("DELETE", "/snms/api/v5/template", Some(&a), Some(json!({"prefix": PREFIX, "version": "1.0.0"}))).await;
    assert_status(&v, -2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn identifier_lifecycle() {
    let e = env();
    let t = e.login("ent1", "ent1-pass").await;
    let h = "88.118.8.1001/demo-0001";
    let v = e.call("POST", "/identityv2/data", Some(&t), Some(ident(h, "PX-200"))).await;
    assert_eq!((v["status"].as_i64(), &v["data"]), (Some(1), &json!(true)), "{v}");
    // A retried create (after a proxy timeout) gets exactly "already exists".
    let v = e.call("POST", "/identityv2/data", Some(&t), Some(ident(h, "PX-200"))).await;
    assert_eq!((v["status"].as_i64(), v["message"].as_str()), (Some(-2), Some("标识已存在")));
    // Detail, raw and %2F-encoded.
    for q in [
        "/identityv2/data/detail?handle=88.118.8.1001/demo-0001",
        "/identityv2/data/detail?handle=88.118.8.1001%2Fdemo-0001",
    ] {
        let v = e.call("GET", q, Some(&t), None).await;
        let d = &v["data"];
        assert_eq!(
            (d["code"].as_str(), d["prefix"].as_str(), d["handle"].as_str()),
            (Some("200"), Some(PREFIX), Some(h))
        );
        assert_eq!(d["templateVersion"], "1.0.0");
        assert_eq!(
            d["value"][0],
            json!({"index": 1001, "type": "TEMPLATE", "auth": "1", "data": {"format": "string", "value": "1.0.0"}})
        );
        assert_eq!(d["value"][1]["data"]["value"], "PX-200");
    }
    let v = e.call("GET", "/identityv2/data/detail", Some(&t), None).await;
    assert_eq!(v["message"], "缺少必要的请求参数: handle");
    // Template violations name the field; the reserved index has the contract message.
    let mut bad = ident("88.118.8.1001/demo-0002", "PX");
    bad["value"][0]["data"]["value"] = json!("x".repeat(65));
    let v = e.call("POST", "/identityv2/data", Some(&t), Some(bad)).await;
    assert_status(&v, -2);
    assert!(v["message"].as_str().unwrap().contains("value[0].data.value"), "{v}");
    let mut bad = ident("88.118.8.1001/demo-0002", "PX");
    bad["value"][0]["index"] = json!(1000);
    assert_eq!(
        e.call("POST", "/identityv2/data", Some(&t), Some(bad)).await["message"],
        "非法操作，索引1000在模板中不存在"
    );
    let mut bad = ident("88.118.8.1001/demo-0002", "PX");
    bad["value"] = json!([{ "index": 2001, "type": "batch", "data": { "format": "string", "value": "B" } }]);
    let v = e.call("POST", "/identityv2/data", Some(&t), Some(bad)).await;
    assert!(v["message"].as_str().unwrap().starts_with("model:"), "required item named: {v}");
    // Update replaces the template values.
    let mut upd = ident(h, "PX-300");
    upd["value"]
        .as_array_mut()
        .unwrap()
        .push(json!({"index": 2001, "type": "batch", "auth": "", "data": {"format": "string", "value": "B2025-03"}}));
    assert_eq!(e.call("PUT", "/identityv2/data", Some(&t), Some(upd)).await["status"], 1);
    let v = e.call("GET", &format!("/identityv2/data/detail?handle={h}"), Some(&t), None).await;
    assert_eq!(v["data"]["value"][1]["data"]["value"], "PX-300");
    assert_eq!(v["data"]["value"][2]["data"]["value"], "B2025-03");
    let v = e.call("PUT", "/identityv2/data", Some(&t), Some(ident("88.118.8.1001/none", "X"))).await;
    assert_eq!(v["message"], "没有找到标识");
    // Stored as a Handle record the binary protocol and REST read.
    let rec = e.store.get_record(&e.store.canonical_key(h.as_bytes())).unwrap().unwrap();
    assert_eq!(rec.find(2000).unwrap().data, b"PX-300");
    assert!(rec.find(2000).unwrap().is_public_read());
    // Delete by body, then by query; the second is "not found".
    assert_eq!(e.call("DELETE", "/identityv2/data", Some(&t), Some(json!({"handle": h}))).await["status"], 1);
    let v = e.call("DELETE", &format!("/identityv2/data?handle={h}"), Some(&t), None).await;
    assert_eq!((v["status"].as_i64(), v["message"].as_str()), (Some(-2), Some("没有找到标识")));
    // Every write is audited with who and where from.
    let audit = e.store.read_audit(0, 100).unwrap();
    assert!(audit.iter().any(|a| a.action == "identifier.create" && a.actor == "ent1" && a.detail == "192.0.2.7"));
    assert!(audit.iter().any(|a| a.action == "identifier.delete"));
    // Statistics: registrations per prefix per day.
    let s = idnode_registry::service::stats::prefix_stats(&*e.store, PREFIX, day_of(T0), day_of(T0)).unwrap();
    assert!(s.registrations >= 1 && s.resolutions >= 2, "{s:?}");
}

fn batch(n: usize, tag: &str) -> Vec<Value> {
    (0..n).map(|i| ident(&format!("88.118.8.1001/{tag}-{i:05}"), "PX-200")).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batch_of_2000_with_invalid_items_and_2001_refused() {
    let e = env();
    let t = e.login("ent1", "ent1-pass").await;
    let before = e.records(PREFIX);
    let mut items = batch(2000, "b");
    for i in (0..2000).step_by(100) {
        items[i]["value"][0]["data"]["value"] = json!("x".repeat(300));
    }
    items[7]["handle"] = json!("88.118.8.1002/foreign");
    items[8] = json!("not an object");
    items[9]["value"][0]["index"] = json!("abc");
    items[11]["handle"] = items[10]["handle"].clone();
    let v = e.call("POST", "/identityv2/data/batchCreate", Some(&t), Some(Value::Array(items))).await;
    assert_eq!((v["status"].as_i64(), v["message"].as_str()), (Some(1), Some("success")), "{}", v["message"]);
    let data = v["data"].as_array().unwrap();
    assert_eq!(data.len(), 2000);
    assert_eq!(data[1], json!({"handle": "88.118.8.1001/b-00001", "msg": "success"}));
    assert!(data[100]["msg"].as_str().unwrap().contains("value[0].data.value"), "{}", data[100]);
    assert!(data[7]["msg"].as_str().unwrap().contains("88.118.8.1002"), "{}", data[7]);
    assert_eq!(data[8]["handle"], "");
    assert!(data[9]["msg"].as_str().unwrap().contains("value[0].index"), "{}", data[9]);
    assert_eq!(data[11]["msg"], "标识已存在");
    let ok = data.iter().filter(|d| d["msg"] == "success").count();
    assert_eq!(ok, 2000 - 20 - 4);
    assert_eq!(e.records(PREFIX), before + ok as u64);

    let v = e.call("POST", "/identityv2/data/batchCreate", Some(&t), Some(Value::Array(batch(2001, "c")))).await;
    assert_status(&v, -2);
    assert!(v["message"].as_str().unwrap().contains("2000") && v["message"].as_str().unwrap().contains("2001"), "{v}");
    assert_eq!(e.records(PREFIX), before + ok as u64, "nothing of the refused batch is stored");
    let v = e.call("POST", "/identityv2/data/batchCreate", Some(&t), Some(json!([]))).await;
    assert_status(&v, -2);
    let v = e.call("POST", "/identityv2/data/batchCreate", Some(&t), Some(ident("88.118.8.1001/x", "x"))).await;
    assert_status(&v, -2);

    // batchUpdate and batchDelete (bare array and {"handles": [...]}).
    let mut upd = batch(3, "b");
    upd[2]["handle"] = json!("88.118.8.1001/never");
    let v = e.call("PUT", "/identityv2/data/batchUpdate", Some(&t), Some(Value::Array(upd))).await;
    let data = v["data"].as_array().unwrap();
    assert_eq!(data[1]["msg"], "success");
    assert_eq!(data[2]["msg"], "没有找到标识");
    let v = e
        .call(
            "DELETE",
            "/identityv2/data/batchDelete",
            Some(&t),
            Some(json!(["88.118.8.1001/b-00001", "88.118.8.1001/never"])),
        )
        .await;
    assert_eq!(v["data"][0], json!({"handle": "88.118.8.1001/b-00001", "code": 1, "msg": "success"}));
    assert_eq!(v["data"][1], json!({"handle": "88.118.8.1001/never", "code": -2, "msg": "标识不存在"}));
    let v = e
        .call("DELETE", "/identityv2/data/batchDelete", Some(&t), Some(json!({"handles": ["88.118.8.1001/b-00002"]})))
        .await;
    assert_eq!(v["data"][0]["code"], 1);
    let v = e
        .call(
            "DELETE",
            "/identityv2/data/batchDelete",
            Some(&t),
            Some(Value::Array((0..2001).map(|i| json!(format!("88.118.8.1001/b-{i:05}"))).collect())),
        )
        .await;
    assert_status(&v, -2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn permissions_by_role() {
    let e = env();
    let t1 = e.login("ent1", "ent1-pass").await;
    let aud = e.login("aud", "aud-pass").await;
    let adm = e.login("admin", "admin-pass").await;
    // Enterprise user under another enterprise's prefix: refused, clear message.
    let v = e.call("POST", "/identityv2/data", Some(&t1), Some(ident("88.118.8.1002/x1", "PX"))).await;
    assert_status(&v, -3);
    assert!(v["message"].as_str().unwrap().contains("88.118.8.1002"), "{v}");
    let v = e.call("GET", "/identityv2/data/detail?handle=88.118.8.1002/x1", Some(&t1), None).await;
    assert_status(&v, -3);
    // Under the node prefix itself: only the admin.
    assert_status(&e.call("POST", "/identityv2/data", Some(&t1), Some(ident("88.118.8/x1", "PX"))).await, -3);
    // Auditor: reads everything, writes nothing.
    let v = e.call("GET", "/identityv2/data/detail?handle=88.118.8.1001/LOT2026-000451", Some(&aud), None).await;
    assert_eq!(v["status"], 1);
    assert_status(&e.call("POST", "/identityv2/data", Some(&aud), Some(ident("88.118.8.1001/a1", "PX"))).await, -3);
    assert_status(
        &e.call("POST", "/identityv2/data/batchCreate", Some(&aud), Some(Value::Array(batch(2, "a")))).await,
        -3,
    );
    // Admin: any prefix.
    assert_eq!(
        e.call("POST", "/identityv2/data", Some(&adm), Some(ident("88.118.8.1002/x1", "PX"))).await["status"],
        1
    );
    assert_eq!(e.records(OTHER), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_changes_nothing() {
    let e = env();
    let t = e.login("ent1", "ent1-pass").await;
    let before = e.records(PREFIX);
    let cases: Vec<(&str, Option<&str>, Vec<u8>, &str)> = vec![
        ("/identityv2/data", Some("application/json"), b"{\"handle\": ".to_vec(), "JSON"),
        (
            "/identityv2/data",
            Some("application/xml"),
            serde_json::to_vec(&ident("88.118.8.1001/ct", "x")).unwrap(),
            "Content-Type",
        ),
        ("/identityv2/data", Some("application/json"), Vec::new(), "body"),
        ("/identityv2/data/batchCreate", Some("application/json"), b"[1,".to_vec(), "JSON"),
        (
            "/identityv2/data",
            Some("application/json"),
            serde_json::to_vec(&ident(&format!("88.118.8.1001/{}", "s".repeat(250)), "x")).unwrap(),
            "handle",
        ),
        (
            "/identityv2/data",
            Some("application/json"),
            serde_json::to_vec(&ident(&format!("{}/s", "8".repeat(65)), "x")).unwrap(),
            "handle",
        ),
        (
            "/identityv2/data",
            Some("application/json"),
            serde_json::to_vec(&ident("88.118.8.1001/v", &"v".repeat(256))).unwrap(),
            "value[0].data.value",
        ),
        (
            "/identityv2/data",
            Some("application/json"),
            serde_json::to_vec(&json!({"handle": "88.118.8.1001/n", "value": []})).unwrap(),
            "templateVersion",
        ),
        (
            "/identityv2/data",
            Some("application/json"),
            serde_json::to_vec(&json!({"handle": 5, "templateVersion": "1.0.0", "value": "x"})).unwrap(),
            "value",
        ),
    ];
    for (path, ct, body, needle) in cases {
        let (st, v) = e.raw("POST", path, Some(&t), ct, body).await;
        assert_eq!(st, StatusCode::OK);
        assert!(v["status"] == -2 || v["status"] == 21000, "{path}: {v}");
        assert!(v["data"].is_null());
        assert!(v["message"].as_str().unwrap().contains(needle), "{needle} not in {v}");
    }
    // Type mismatch of a numeric field: 21000.
    let mut bad = ident("88.118.8.1001/tm", "x");
    bad["value"][0]["index"] = json!("twenty");
    assert_status(&e.call("POST", "/identityv2/data", Some(&t), Some(bad)).await, 21000);
    // A missing Content-Type is JSON (§1.2).
    let (_, v) = e
        .raw("POST", "/identityv2/data", Some(&t), None, serde_json::to_vec(&ident("88.118.8.1001/noct", "x")).unwrap())
        .await;
    assert_eq!(v["status"], 1, "{v}");
    // Over the body limit: 413; unknown path 404; wrong method 405.
    let (st, _) =
        e.raw("POST", "/identityv2/data/batchCreate", Some(&t), Some("application/json"), vec![b' '; 5 << 20]).await;
    assert_eq!(st, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(e.raw("GET", "/identityv2/nope", Some(&t), None, Vec::new()).await.0, StatusCode::NOT_FOUND);
    assert_eq!(
        e.raw("GET", "/identityv2/data/batchCreate", Some(&t), None, Vec::new()).await.0,
        StatusCode::METHOD_NOT_ALLOWED
    );
    assert_eq!(e.records(PREFIX), before + 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prefixes_and_hosting() {
    let e = env();
    let t1 = e.login("ent1", "ent1-pass").await;
    let adm = e.login("admin", "admin-pass").await;
    let v = e.call("GET", "/snms/api/prefix/query?prefix=88.118.8.1001", Some(&t1), None).await;
    let d = &v["data"];
    assert_eq!((d["prefix"].as_str(), d["status"].as_i64()), (Some(PREFIX), Some(1)));
    assert_eq!(d["entNameCn"], "示例装备有限公司");
    assert_eq!(d["entSite"], d["entWebSite"]);
    assert_eq!(d["createDate"], "2026-03-18 12:00:00");
    assert_status(&e.call("GET", "/snms/api/prefix/query?prefix=88.118.8.1002", Some(&t1), None).await, -3);
    assert_status(&e.call("GET", "/snms/api/prefix/query?prefix=99.9", Some(&adm), None).await, -2);
    let v = e
        .call("GET", "/snms/api/prefix/page?entName=&entPrefix=88.118.8&currentPage=1&pageSize=2", Some(&adm), None)
        .await;
    let d = &v["data"];
    assert_eq!((d["totalElements"].as_u64(), d["number"].as_u64(), d["size"].as_u64()), (Some(3), Some(1), Some(2)));
    assert_eq!(
        (d["first"].as_bool(), d["last"].as_bool(), d["totalPages"].as_u64()),
        (Some(true), Some(false), Some(2))
    );
    assert_eq!(d["content"][0]["entprefix"], d["content"][0]["entPrefix"]);
    let v = e.call("GET", "/snms/api/prefix/page", Some(&t1), None).await;
    assert_eq!(v["data"]["totalElements"], 1);
    assert_eq!(v["data"]["content"][0]["proxyState"], 4);

    // Self-hosted: HS_SITE stored on the prefix; ports as strings, "" = absent.
    let cfg = json!({"entPrefixConfig": {"entPrefix": PREFIX, "hdlType": "HS_SITE", "ipType": 6, "ip": "2001:db8::20",
        "tcpPort": "2641", "udpPort": 2641, "httpPort": ""}});
    assert_eq!(e.call("POST", "/snms/api/ent/config", Some(&t1), Some(cfg)).await["status"], 1);
    let p = e.store.get_prefix(PREFIX).unwrap().unwrap();
    assert!(!p.homed && p.hosting == HostingState::NotHosted);
    let site = idnode_registry::model::HsSite::from_bytes(p.site.as_deref().unwrap()).unwrap();
    assert_eq!(site.servers[0].interfaces.len(), 2);
    // Now writes under it are refused: it is served elsewhere.
    assert_status(&e.call("POST", "/identityv2/data", Some(&t1), Some(ident("88.118.8.1001/z", "x"))).await, -2);
    let bad = json!({"entPrefixConfig": {"entPrefix": PREFIX, "hdlType": "HS_SITE", "ipType": "4", "ip": "2001:db8::20", "tcpPort": "1"}});
    assert!(
        e.call("POST", "/snms/api/ent/config", Some(&t1), Some(bad)).await["message"]
            .as_str()
            .unwrap()
            .contains("entPrefixConfig.ip")
    );
    let none = json!({"entPrefixConfig": {"entPrefix": PREFIX, "hdlType": "HS_SITE", "ipType": "4", "ip": "192.0.2.1", "tcpPort": ""}});
    assert_status(&e.call("POST", "/snms/api/ent/config", Some(&t1), Some(none)).await, -2);
    // Hosted again.
    let hosted = json!({"proxyServerId": 2, "entPrefixConfig": {"entPrefix": PREFIX}});
    assert_eq!(e.call("POST", "/snms/api/ent/config", Some(&t1), Some(hosted.clone())).await["status"], 1);
    assert!(e.store.get_prefix(PREFIX).unwrap().unwrap().homed);
    let t2 = e.login("ent2", "ent2-pass").await;
    assert_status(&e.call("POST", "/snms/api/ent/config", Some(&t2), Some(hosted)).await, -3);
}

fn filing(user: Option<&str>, prefix: &str, code: &str, rid0: u64) -> Value {
    let mut v = json!({
        "entBasicInfo": {
            "orgName": "示例装备有限公司", "orgNature": "2", "orgAddr": "示例路1号", "orgAddrProvince": "110000",
            "orgAddrCity": "110100", "orgAddrCounty": "110105", "orgCrtType": "1", "orgCrtCode": code,
            "orgCrtImgRid": rid0, "industryCategory": "C", "industrySpecific": "34", "website": "www.example.com",
            "regCapital": 1000, "establishDate": "2015-05-20", "contactName": "联系人", "contactCrtType": 1,
            "contactCrtNo": "ID-1", "contactEmail": "c@example.com", "contactPhone": "13800000001",
            "legalName": "法人代表", "legalCrtType": "1", "legalCrtNo": "ID-2", "legalCrtFrontImgRid": rid0 + 1,
            "legalCrtBackImgRid": rid0 + 2, "entPrefix": prefix
        },
        "entRegisterManageInfo": {
            "entInfoSyses": [
                { "sysType": 1, "deployMode": 1, "deployAddrProvince": "110000", "deployAddrCity": "110100",
                  "deployAddrCounty": "110105", "deployAddr": "示例路1号", "ipPort": "[192.0.2.10]:8080" },
                { "sysType": 2, "deployMode": 2, "name": "Example Cloud" },
                { "sysType": 3, "deployMode": 2, "name": "Example Cloud" },
                { "sysType": 4, "deployMode": "2", "name": "Example Cloud" }
            ],
            "servSysBuildType": 1, "servSysOperType": 1
        },
        "entHostingAndIdentifyServeInfo": {
            "extWebName": "portal", "entInfoLicenses": [ { "licenceType": 4, "licenceNo": "LIC-1" } ]
        }
    });
    match user {
        Some(u) => {
            v["sysUser"] = json!({"userName": u, "password": sha256_hex(format!("{u}-pass").as_bytes()),
                "email": format!("{u}@example.com"), "mobile": format!("138{u}"), "remarks": ""})
        }
        None => v["username"] = json!("ent3"),
    }
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enterprise_filing() {
    let e = env();
    let adm = e.login("admin", "admin-pass").await;
    let t1 = e.login("ent1", "ent1-pass").await;
    // Only admins file new enterprises; required fields are named.
    assert_status(
        &e.call("POST", "/snms/api/v3/ent/apply", Some(&t1), Some(filing(Some("ent3"), "88.118.8.1003", "C3", 10)))
            .await,
        -3,
    );
    let mut missing = filing(Some("ent3"), "88.118.8.1003", "C3", 10);
    missing["entRegisterManageInfo"]["entInfoSyses"].as_array_mut().unwrap().pop();
    let v = e.call("POST", "/snms/api/v3/ent/apply", Some(&adm), Some(missing)).await;
    assert!(v["message"].as_str().unwrap().contains("sysType 4"), "{v}");
    let mut missing = filing(Some("ent3"), "88.118.8.1003", "C3", 10);
    missing["entBasicInfo"]["orgName"] = Value::Null;
    assert!(
        e.call("POST", "/snms/api/v3/ent/apply", Some(&adm), Some(missing)).await["message"]
            .as_str()
            .unwrap()
            .contains("entBasicInfo.orgName")
    );
    let v = e
        .call("POST", "/snms/api/v3/ent/apply", Some(&adm), Some(filing(Some("ent3"), "88.118.8.1003", "C3", 10)))
        .await;
    assert_eq!(v["status"], 1, "{v}");
    // File ids and certificates are single-use; the prefix awaits review.
    assert_status(
        &e.call("POST", "/snms/api/v3/ent/apply", Some(&adm), Some(filing(Some("ent4"), "88.118.8.1004", "C4", 11)))
            .await,
        -2,
    );
    assert_eq!(e.store.get_prefix("88.118.8.1003").unwrap().unwrap().state, PrefixState::AwaitingReview);
    // The new account logs in (its password came as h1) and sees its enterprise.
    let t3 = e.login("ent3", "ent3-pass").await;
    let v = e.call("GET", "/snms/api/v3/ent/detail", Some(&t3), None).await;
    let d = &v["data"];
    assert_eq!(d["entBasicInfo"]["orgCrtCode"], "C3");
    assert!(d["entBasicInfo"]["legalFax"].is_null());
    assert_eq!(d["entRegisterManageInfo"]["entInfoSyses"][1]["name"], "Example Cloud");
    assert!(d["entRegisterManageInfo"]["entInfoSyses"][1]["deployAddr"].is_null());
    assert_eq!(d["entHostingAndIdentifyServeInfo"]["entInfoLicenses"][0]["licenceNo"], "LIC-1");
    assert_eq!(d["entHostingAndIdentifyServeInfo"]["entInfoSerIndustries"], json!([]));
    let ent_id = e.store.get_identity("ent3").unwrap().unwrap().enterprise_id.unwrap();
    assert_status(&e.call("GET", &format!("/snms/api/v3/ent/detail?id={ent_id}"), Some(&t1), None).await, -3);
    // Not approved yet: hosting configuration refused.
    let hosted = json!({"proxyServerId": 1, "entPrefixConfig": {"entPrefix": "88.118.8.1003"}});
    assert_status(&e.call("POST", "/snms/api/ent/config", Some(&t3), Some(hosted)).await, -2);
    // Re-filing by the enterprise user itself (upgrade-apply).
    let mut again = filing(None, "88.118.8.1003", "C3", 10);
    again["entBasicInfo"]["orgName"] = json!("新名称有限公司");
    assert_eq!(e.call("POST", "/snms/api/v3/ent/upgrade-apply", Some(&t3), Some(again.clone())).await["status"], 1);
    assert_status(&e.call("POST", "/snms/api/v3/ent/upgrade-apply", Some(&t1), Some(again)).await, -3);
    // Listing.
    let v = e.call("GET", "/snms/api/v3/ent/page?orgName=新名称&currentPage=1&pageSize=10", Some(&adm), None).await;
    assert_eq!(v["data"]["totalElements"], 1);
    assert_eq!(v["data"]["content"][0]["orgNature"], "2");
    assert_eq!(e.call("GET", "/snms/api/v3/ent/page", Some(&t3), None).await["data"]["totalElements"], 1);
    // Account creation (Appendix A) and upload (not supported here).
    let reg = json!({"userName": "ent5", "password": sha256_hex(b"ent5-pass"), "email": "e5@x", "mobile": "5"});
    assert_status(&e.call("POST", "/identity/registry", Some(&t1), Some(reg.clone())).await, -3);
    assert_eq!(e.call("POST", "/identity/registry", Some(&adm), Some(reg.clone())).await["status"], 1);
    assert_status(&e.call("POST", "/identity/registry", Some(&adm), Some(reg)).await, -2);
    e.login("ent5", "ent5-pass").await;
    let v = e.call("POST", "/snms/api/file/upload", Some(&adm), None).await;
    assert_status(&v, -2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn base_path_and_quota() {
    let mut cfg = Config::default();
    cfg.snms.base_path = "/snmsapi".into();
    cfg.snms.enterprise_max_registrations = 5;
    let e = env_with(cfg);
    assert_eq!(e.raw("POST", "/identity/token", None, None, Vec::new()).await.0, StatusCode::NOT_FOUND);
    let v = e
        .call("POST", "/snmsapi/identity/token", None, Some(json!({"username": "ent1", "password": "ent1-pass"})))
        .await;
    let t = v["data"]["token"].as_str().unwrap().to_owned();
    // The demo prefix holds 3 identifiers: 2 more fit.
    let v = e.call("POST", "/snmsapi/identityv2/data/batchCreate", Some(&t), Some(Value::Array(batch(4, "q")))).await;
    let msgs: Vec<&str> = v["data"].as_array().unwrap().iter().map(|d| d["msg"].as_str().unwrap()).collect();
    assert_eq!(&msgs[..2], &["success", "success"]);
    assert!(msgs[2].contains("registration quota"), "{msgs:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typed_fast_path_reports_per_item_like_the_value_path() {
    let e = env();
    let t = e.login("ent1", "ent1-pass").await;
    // Well-formed JSON throughout, so the typed path takes it.
    let mut items = batch(5, "f");
    items[0]["value"][0]["index"] = json!("2000");
    items[1]["value"][0]["data"]["value"] = json!("x".repeat(300));
    items[2]["value"][0]["data"] = json!({ "format": "string" });
    items[3]["value"][0]["data"]["format"] = json!("binary");
    items[4]["handle"] = json!("88.118.8.1002/f-4");
    let v = e.call("POST", "/identityv2/data/batchCreate", Some(&t), Some(Value::Array(items))).await;
    let msgs: Vec<&str> = v["data"].as_array().unwrap().iter().map(|d| d["msg"].as_str().unwrap()).collect();
    assert_eq!(msgs[0], "success");
    assert!(msgs[1].contains("value[0].data.value"), "{msgs:?}");
    assert!(msgs[2].contains("value[0].data.value") && msgs[2].contains("required"), "{msgs:?}");
    assert!(msgs[3].contains("value[0].data.format"), "{msgs:?}");
    assert!(msgs[4].contains("88.118.8.1002"), "{msgs:?}");
    assert_eq!(v["data"][4]["handle"], "88.118.8.1002/f-4");
    // The same through batchUpdate.
    let v = e.call("PUT", "/identityv2/data/batchUpdate", Some(&t), Some(Value::Array(batch(2, "f")))).await;
    assert_eq!(v["data"][0]["msg"], "success");
    assert_eq!(v["data"][1]["msg"], "没有找到标识");
}
