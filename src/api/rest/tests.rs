//! In-process tests of the REST handlers (tower `oneshot`, no sockets). The
//! black-box suite (conformance/tests/rest_*.rs) covers HTTPS, the Handle
//! challenge scheme and the third-party clients.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::connect_info::MockConnectInfo;
use axum::http::{Request, StatusCode, header};
use base64::Engine as _;
use idnode_registry::model::{AdminRecord, Value, admin_perm, perm};
use idnode_registry::store::{SledStore, Store, StoreExt, WriteCtx};
use serde_json::{Value as Json, json};
use tower::ServiceExt;

use super::router;
use crate::api::ApiDeps;
use crate::config::Config;
use crate::serve::http::PeerInfo;

const SECRET: &str = "s3cret";

struct T {
    app: axum::Router,
    store: Arc<dyn Store>,
    _dir: tempfile::TempDir,
}

fn setup(tls: bool) -> T {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = Arc::new(SledStore::open_path(dir.path().join("store")).unwrap());
    idnode_registry::seed::init_store(store.as_ref(), "88.118.8", Default::default(), 1).unwrap();
    let ctx = WriteCtx::new(1, "test");
    let admin = AdminRecord::new(admin_perm::ALL, "0.NA/88.118.8", 300).to_bytes();
    store
        .create_record(
            b"0.NA/88.118.8",
            vec![
                Value::new(100, "HS_ADMIN", admin),
                Value::new(300, "HS_SECKEY", SECRET).with_permissions(perm::SECRET),
            ],
            false,
            &ctx,
        )
        .unwrap();
    store
        .create_record(
            b"88.118.8/abc",
            vec![
                Value::new(1, "URL", "http://example.org/abc"),
                Value::new(2, "EMAIL", "a@example.org").with_permissions(perm::SECRET),
                Value::new(3, "HS_SITE.PREFIX", "x"),
            ],
            false,
            &ctx,
        )
        .unwrap();
    let deps = ApiDeps::new(store.clone(), Arc::new(Config::default()));
    let peer = PeerInfo { addr: "127.0.0.1:40000".parse().unwrap(), tls };
    T { app: router(deps).layer(MockConnectInfo(peer)), store, _dir: dir }
}

fn basic() -> String {
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("300%3A0.NA/88.118.8:{SECRET}")))
}

async fn call(
    t: &T,
    method: &str,
    uri: &str,
    auth: bool,
    body: Option<Json>,
) -> (StatusCode, Json, axum::http::HeaderMap) {
    let mut b = Request::builder().method(method).uri(uri);
    if auth {
        b = b.header(header::AUTHORIZATION, basic());
    }
    let body = match body {
        Some(j) => {
            b = b.header(header::CONTENT_TYPE, "application/json");
            Body::from(j.to_string())
        }
        None => Body::empty(),
    };
    let resp = t.app.clone().oneshot(b.body(body).unwrap()).await.unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20).await.unwrap();
    let json = if bytes.is_empty() { Json::Null } else { serde_json::from_slice(&bytes).unwrap() };
    (status, json, headers)
}

fn indexes(j: &Json) -> Vec<u64> {
    j["values"].as_array().unwrap().iter().map(|v| v["index"].as_u64().unwrap()).collect()
}

#[tokio::test]
async fn resolution_filters_and_errors() {
    let t = setup(true);
    let (s, j, h) = call(&t, "GET", "/api/handles/88.118.8/abc", false, None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!((j["responseCode"].as_u64(), j["handle"].as_str()), (Some(1), Some("88.118.8/abc")));
    assert_eq!(indexes(&j), [1, 3], "publicOnly by default hides EMAIL");
    assert_eq!(h[header::ACCESS_CONTROL_ALLOW_ORIGIN], "*");
    // Echo exactly as asked (prefix case differs).
    let (_, j, _) = call(&t, "GET", "/api/handles/88.118.8/abc?type=url&index=3", false, None).await;
    assert_eq!((j["handle"].as_str(), indexes(&j)), (Some("88.118.8/abc"), vec![1, 3]));
    let (_, j, _) = call(&t, "GET", "/api/handles/88.118.8/abc?type=HS_SITE.", false, None).await;
    assert_eq!(indexes(&j), [3]);
    let (s, j, _) = call(&t, "GET", "/api/handles/88.118.8/abc?index=2", false, None).await;
    assert_eq!(
        (s, j["responseCode"].as_u64(), j["values"].as_array().map(Vec::len)),
        (StatusCode::OK, Some(200), Some(0))
    );
    let (s, j, h) = call(&t, "GET", "/api/handles/88.118.8/abc?index=2&publicOnly=false", false, None).await;
    assert_eq!((s, j["responseCode"].as_u64()), (StatusCode::UNAUTHORIZED, Some(402)));
    assert!(h.get_all(header::WWW_AUTHENTICATE).iter().any(|v| v.to_str().unwrap().starts_with("Handle sessionId=")));
    let (s, j, _) = call(&t, "GET", "/api/handles/88.118.8/abc?index=2", true, None).await;
    assert_eq!((s, indexes(&j)), (StatusCode::OK, vec![2]), "authenticated admin reads non-public values");
    let (s, j, _) = call(&t, "GET", "/api/handles/88.118.8/nope", false, None).await;
    assert_eq!(
        (s, j["responseCode"].as_u64(), j["handle"].as_str()),
        (StatusCode::NOT_FOUND, Some(100), Some("88.118.8/nope"))
    );
    let (s, j, _) = call(&t, "GET", "/api/handles/99.1/x", false, None).await;
    assert_eq!((s, j["responseCode"].as_u64()), (StatusCode::BAD_REQUEST, Some(301)));
    assert_eq!(j["message"], "That prefix doesn't live here");
    let (s, j, _) = call(&t, "GET", "/api/handles/88.118.8/abc?index=x", false, None).await;
    assert_eq!((s, j["responseCode"].as_u64()), (StatusCode::BAD_REQUEST, Some(4)));
    let long = format!("/api/handles/88.118.8/{}", "a".repeat(300));
    let (s, j, _) = call(&t, "GET", &long, false, None).await;
    assert_eq!((s, j["responseCode"].as_u64()), (StatusCode::BAD_REQUEST, Some(102)));
    // POST = GET with parameters in a JSON body.
    let (s, j, _) = call(&t, "POST", "/api/handles/88.118.8/abc", false, Some(json!({"index": [1]}))).await;
    assert_eq!((s, indexes(&j)), (StatusCode::OK, vec![1]));
    // JSONP.
    let resp = t
        .app
        .clone()
        .oneshot(Request::get("/api/handles/88.118.8/abc?callback=cb").body(Body::empty()).unwrap())
        .await
        .unwrap();
    let text = axum::body::to_bytes(resp.into_body(), 1 << 20).await.unwrap();
    assert!(text.starts_with(b"cb({") && text.ends_with(b");"));
}

#[tokio::test]
async fn writes_need_auth_and_keep_data_on_failure() {
    let t = setup(true);
    let body = json!([{"index": 1, "type": "URL", "data": "http://new"}]);
    let (s, j, _) = call(&t, "PUT", "/api/handles/88.118.8/n1?overwrite=false", false, Some(body.clone())).await;
    assert_eq!((s, j["responseCode"].as_u64()), (StatusCode::UNAUTHORIZED, Some(402)));
    assert!(t.store.get_record(b"88.118.8/n1").unwrap().is_none());
    let (s, j, _) = call(&t, "PUT", "/api/handles/88.118.8/n1?overwrite=false", true, Some(body.clone())).await;
    assert_eq!(
        (s, j["responseCode"].as_u64(), j["handle"].as_str()),
        (StatusCode::CREATED, Some(1), Some("88.118.8/n1"))
    );
    let stored = t.store.get_record(b"88.118.8/n1").unwrap().unwrap().values().unwrap();
    assert!(stored[0].timestamp > 0 && stored[0].ttl == 86_400);
    let (s, j, _) = call(&t, "PUT", "/api/handles/88.118.8/n1?overwrite=false", true, Some(body.clone())).await;
    assert_eq!((s, j["responseCode"].as_u64()), (StatusCode::CONFLICT, Some(101)));
    let (s, _, _) = call(&t, "PUT", "/api/handles/88.118.8/n1", true, Some(body.clone())).await;
    assert_eq!(s, StatusCode::OK, "overwrite defaults to true");
    // Add values.
    let v2 = json!({"values": [{"index": 2, "type": "DESC", "data": {"format": "hex", "value": "6869"}}], "handle": "88.118.8/N1"});
    let (s, j, _) = call(&t, "PUT", "/api/handles/88.118.8/n1?index=2&overwrite=false", true, Some(v2.clone())).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "body handle must match (suffix is case-sensitive): {j}");
    let v2 = json!({"values": [{"index": 2, "type": "DESC", "data": {"format": "hex", "value": "6869"}}], "handle": "88.118.8/n1"});
    let (s, _, _) = call(&t, "PUT", "/api/handles/88.118.8/n1?index=2&overwrite=false", true, Some(v2.clone())).await;
    assert_eq!(s, StatusCode::CREATED);
    let (s, j, _) = call(&t, "PUT", "/api/handles/88.118.8/n1?index=2&overwrite=false", true, Some(v2)).await;
    assert_eq!((s, j["responseCode"].as_u64()), (StatusCode::CONFLICT, Some(201)));
    let (s, _, _) = call(&t, "PUT", "/api/handles/88.118.8/n1?index=3", true, Some(body.clone())).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "indexes must match the body");
    let single = json!({"index": 5, "type": "X", "data": "y"});
    let (s, _, _) = call(&t, "PUT", "/api/handles/88.118.8/n1?index=various", true, Some(single)).await;
    assert_eq!(s, StatusCode::OK);
    // Content type is required.
    let req =
        Request::put("/api/handles/88.118.8/n1").header(header::AUTHORIZATION, basic()).body(Body::from("[]")).unwrap();
    let resp = t.app.clone().oneshot(req).await.unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    // Delete values and the handle.
    let (s, j, _) = call(&t, "DELETE", "/api/handles/88.118.8/n1?index=9", true, None).await;
    assert_eq!((s, j["responseCode"].as_u64()), (StatusCode::BAD_REQUEST, Some(200)));
    let (s, _, _) = call(&t, "DELETE", "/api/handles/88.118.8/n1?index=2&index=5", true, None).await;
    assert_eq!(s, StatusCode::OK);
    let vals = t.store.get_record(b"88.118.8/n1").unwrap().unwrap().values().unwrap();
    assert_eq!(vals.iter().map(|v| v.index).collect::<Vec<_>>(), [1]);
    let (s, _, _) = call(&t, "DELETE", "/api/handles/88.118.8/n1", true, None).await;
    assert_eq!(s, StatusCode::OK);
    let (s, j, _) = call(&t, "DELETE", "/api/handles/88.118.8/n1", true, None).await;
    assert_eq!((s, j["responseCode"].as_u64()), (StatusCode::NOT_FOUND, Some(100)));
    // Mint.
    let (s, j, _) = call(&t, "PUT", "/api/handles/88.118.8/?mintNewSuffix=true", true, Some(body)).await;
    assert_eq!(s, StatusCode::OK, "{j}");
    let minted = j["handle"].as_str().unwrap();
    assert!(minted.starts_with("88.118.8/") && minted.len() > 9);
}

#[tokio::test]
async fn plain_http_refuses_credentials() {
    let t = setup(false);
    let body = json!([{"index": 1, "type": "URL", "data": "http://new"}]);
    let (s, j, _) = call(&t, "PUT", "/api/handles/88.118.8/p1", true, Some(body)).await;
    assert_eq!((s, j["responseCode"].as_u64()), (StatusCode::FORBIDDEN, Some(402)));
    assert!(j["message"].as_str().unwrap().contains("HTTPS"));
    let (s, _, _) = call(&t, "POST", "/api/sessions", false, None).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn endpoints_methods_and_lists() {
    let t = setup(true);
    let (s, j, _) = call(&t, "PATCH", "/api/handles/88.118.8/abc", false, None).await;
    assert_eq!((s, j["responseCode"].as_u64()), (StatusCode::NOT_IMPLEMENTED, Some(4)));
    let (s, j, _) = call(&t, "DELETE", "/api/prefixes", false, None).await;
    assert_eq!((s, j["responseCode"].as_u64()), (StatusCode::METHOD_NOT_ALLOWED, Some(4)));
    let (s, j, _) = call(&t, "GET", "/api/nothing/here", false, None).await;
    assert_eq!((s, j["responseCode"].as_u64()), (StatusCode::NOT_FOUND, Some(4)));
    let (s, _, h) = call(&t, "OPTIONS", "/api/handles/88.118.8/abc", false, None).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    assert!(h[header::ALLOW].to_str().unwrap().contains("PUT"));
    let (s, j, _) = call(&t, "GET", "/api/prefixes", false, None).await;
    assert_eq!((s, &j["prefixes"]), (StatusCode::OK, &json!(["0.NA/88.118.8"])));
    let (s, j, _) = call(&t, "GET", "/api/site", false, None).await;
    assert_eq!(
        (s, j["responseCode"].as_u64()),
        (StatusCode::INTERNAL_SERVER_ERROR, Some(2)),
        "no site record in-process"
    );
    let (s, _, _) = call(&t, "GET", "/api/handles?prefix=0.NA/88.118.8", false, None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let (s, j, _) = call(&t, "GET", "/api/handles?prefix=88.118.8", true, None).await;
    assert_eq!((s, &j["totalCount"], &j["handles"]), (StatusCode::OK, &json!("1"), &json!(["88.118.8/abc"])));
    let (_, j, _) = call(&t, "GET", "/api/handles?prefix=0.NA/88.118.8&page=0&pageSize=0", true, None).await;
    assert_eq!((&j["handles"], &j["pageSize"]), (&json!([]), &json!(0)));
    let (s, j, _) = call(&t, "GET", "/api/handles?prefix=77", true, None).await;
    assert_eq!((s, j["responseCode"].as_u64()), (StatusCode::BAD_REQUEST, Some(301)));
    let (s, j, _) = call(&t, "GET", "/api/handles", false, None).await;
    assert_eq!((s, j["responseCode"].as_u64()), (StatusCode::BAD_REQUEST, Some(102)));
}
