//! Black-box tests of the Handle REST API (handle-protocol.md §8) against
//! the built binary: HTTP and HTTPS on one port, resolution with filters and
//! publicOnly, every write form and its errors (which never change stored
//! data), lists, prefixes, site, methods, CORS, plain-HTTP credential rules
//! and the failed-authentication limit.

mod rest_util;

use rest_util::{ADMIN, PREFIX, TestNode, basic, start};
use serde_json::json;

const JSON: (&str, &str) = ("Content-Type", "application/json");
const DEMO: &str = "88.118.8.1001/LOT2026-000451";

fn indexes(r: &rest_util::Resp) -> Vec<u64> {
    r.json()["values"].as_array().unwrap().iter().map(|v| v["index"].as_u64().unwrap()).collect()
}

fn put(n: &TestNode, path: &str, body: &serde_json::Value) -> rest_util::Resp {
    let auth = n.basic();
    n.https().send("PUT", path, &[JSON, ("Authorization", &auth)], Some(&body.to_string()))
}

fn record(n: &TestNode, handle: &str) -> String {
    let auth = n.basic();
    n.https().send("GET", &format!("/api/handles/{handle}?publicOnly=false"), &[("Authorization", &auth)], None).body
}

#[test]
fn resolution_over_http_and_https_on_one_port() {
    let n = start("");
    for c in [n.http(), n.https()] {
        let r = c.get(&format!("/api/handles/{DEMO}"));
        assert_eq!(r.status, 200, "{}", r.body);
        let j = r.json();
        assert_eq!((j["responseCode"].as_u64(), j["handle"].as_str()), (Some(1), Some(DEMO)));
        assert_eq!(indexes(&r), [1, 2, 100, 1001, 2000, 2001, 2002], "stored order");
        assert_eq!(j["values"][2]["data"]["format"], "admin");
        assert!(j["values"][0]["timestamp"].as_str().unwrap().ends_with('Z'));
        assert_eq!(r.header("access-control-allow-origin"), Some("*"));
    }
    let c = n.http();
    // Echo exactly as asked; prefix case-insensitive.
    let r = c.get("/api/handles/88.118.8.1001/LOT2026-000451?type=url&type=MODEL&index=100");
    assert_eq!((r.json()["handle"].as_str(), indexes(&r)), (Some(DEMO), vec![1, 100, 2000]));
    // Echo exactly as asked (stored as 0.NA/88.118.8).
    let r = c.get("/api/handles/0.na/88.118.8");
    assert_eq!((r.status, r.json()["handle"].as_str()), (200, Some("0.na/88.118.8")));
    // Trailing-dot subtypes.
    let r = c.get("/api/handles/0.NA/88.118.8?type=HS_.");
    assert_eq!(r.json()["responseCode"], 200, "HS_. matches no type: {}", r.body);
    // Values not found / not found / not homed / bad handle / bad index.
    let r = c.get(&format!("/api/handles/{DEMO}?index=999"));
    assert_eq!((r.status, r.rc()), (200, 200));
    assert_eq!(r.json()["values"], json!([]));
    let r = c.get("/api/handles/88.118.8/nope");
    assert_eq!((r.status, r.rc(), r.json()["handle"].as_str()), (404, 100, Some("88.118.8/nope")));
    let r = c.get("/api/handles/86.1/x");
    assert_eq!((r.status, r.rc()), (400, 301));
    assert_eq!(r.json()["message"], "That prefix doesn't live here");
    let r = c.get(&format!("/api/handles/88.118.8/{}", "x".repeat(250)));
    assert_eq!((r.status, r.rc()), (400, 102));
    let r = c.get(&format!("/api/handles/{DEMO}?index=one"));
    assert_eq!((r.status, r.rc()), (400, 4));
    // The node admin's secret key is not public: hidden by default...
    let r = c.get("/api/handles/0.NA/88.118.8");
    assert_eq!(indexes(&r), [100]);
    // ... asking for it needs authentication (403 on plain HTTP, 401 + challenge on HTTPS).
    let r = c.get("/api/handles/0.NA/88.118.8?index=300&publicOnly=false");
    assert_eq!((r.status, r.rc()), (403, 402));
    let r = n.https().get("/api/handles/0.NA/88.118.8?index=300&publicOnly=false");
    assert_eq!((r.status, r.rc()), (401, 402));
    assert!(r.all("www-authenticate").iter().any(|v| v.starts_with("Handle sessionId=")), "{:?}", r.headers);
    let auth = n.basic();
    let r = n.https().send("GET", "/api/handles/0.NA/88.118.8?index=300", &[("Authorization", &auth)], None);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["values"][0]["permissions"], "1100");
    assert_eq!(r.json()["values"][0]["data"]["value"], n.secret);
    // pretty / JSONP.
    assert!(c.get(&format!("/api/handles/{DEMO}?pretty")).body.contains("\n  "));
    let r = c.get(&format!("/api/handles/{DEMO}?callback=f1"));
    assert!(r.body.starts_with("f1(") && r.header("content-type").unwrap().contains("javascript"));
}

#[test]
fn writes_and_their_errors() {
    let n = start("");
    let v1 = json!([{"index": 1, "type": "URL", "data": "http://example.org/1"}]);
    // Path: raw slashes, percent-decoding, '+' is not a space.
    let r = put(&n, "/api/handles/88.118.8/a+b%20c/d?overwrite=false", &v1);
    assert_eq!((r.status, r.rc()), (201, 1), "{}", r.body);
    assert_eq!(r.json()["handle"], "88.118.8/a+b c/d");
    assert_eq!(n.http().get("/api/handles/88.118.8/a+b%20c/d").json()["handle"], "88.118.8/a+b c/d");
    let h = "88.118.8/w1";
    assert_eq!(put(&n, &format!("/api/handles/{h}?overwrite=false"), &v1).status, 201);
    let before = record(&n, h);
    // Failures, none of which may change the record.
    let auth = n.basic();
    type Case<'a> = (String, Vec<(&'a str, &'a str)>, String, u16, u64);
    let cases: Vec<Case> = vec![
        (format!("/api/handles/{h}"), vec![("Authorization", &auth)], v1.to_string(), 400, 4), // no content type
        (format!("/api/handles/{h}"), vec![JSON, ("Authorization", &auth)], "{not json".into(), 400, 4),
        (format!("/api/handles/{h}"), vec![JSON, ("Authorization", &auth)], json!({"foo": 1}).to_string(), 400, 4),
        (format!("/api/handles/{h}?overwrite=false"), vec![JSON, ("Authorization", &auth)], v1.to_string(), 409, 101),
        (
            format!("/api/handles/{h}?index=1&overwrite=false"),
            vec![JSON, ("Authorization", &auth)],
            v1.to_string(),
            409,
            201,
        ),
        (format!("/api/handles/{h}?index=2"), vec![JSON, ("Authorization", &auth)], v1.to_string(), 400, 4),
        (
            format!("/api/handles/{h}"),
            vec![JSON, ("Authorization", &auth)],
            json!({"handle": "88.118.8/other", "values": []}).to_string(),
            400,
            4,
        ),
        (
            format!("/api/handles/{h}"),
            vec![JSON, ("Authorization", &auth)],
            json!([{"index": 1, "type": "URL", "data": {"format": "base64", "value": "%%%"}}]).to_string(),
            400,
            202,
        ),
        (
            format!("/api/handles/{h}"),
            vec![JSON, ("Authorization", &auth)],
            json!([{"index": 1, "type": "A", "data": "x"}, {"index": 1, "type": "B", "data": "y"}]).to_string(),
            400,
            202,
        ),
        (format!("/api/handles/{h}"), vec![JSON], v1.to_string(), 401, 402),
        (format!("/api/handles/{h}"), vec![JSON, ("Authorization", "Basic !!!")], v1.to_string(), 401, 403),
        (
            "/api/handles/88.118.8/none?index=1".to_owned(),
            vec![JSON, ("Authorization", &auth)],
            v1.to_string(),
            404,
            100,
        ),
        ("/api/handles/86.1/x".to_owned(), vec![JSON, ("Authorization", &auth)], v1.to_string(), 400, 301),
        (
            "/api/handles/88.118.8/x?index=various&mintNewSuffix=true".to_owned(),
            vec![JSON, ("Authorization", &auth)],
            v1.to_string(),
            400,
            4,
        ),
    ];
    for (path, headers, body, status, rc) in cases {
        let r = n.https().send("PUT", &path, &headers, Some(&body));
        assert_eq!((r.status, r.rc()), (status, rc), "PUT {path} {body}: {}", r.body);
        assert!(r.json()["message"].as_str().is_some_and(|m| !m.is_empty()), "{}", r.body);
    }
    let too_many: Vec<_> = (1..=2049).map(|i| json!({"index": i, "type": "T", "data": "x"})).collect();
    let r = put(&n, &format!("/api/handles/{h}"), &json!(too_many));
    assert_eq!((r.status, r.rc()), (400, 202));
    let r = n.https().send("DELETE", &format!("/api/handles/{h}?index=7"), &[("Authorization", &auth)], None);
    assert_eq!((r.status, r.rc()), (400, 200));
    let r = n.https().send("DELETE", &format!("/api/handles/{h}"), &[], None);
    assert_eq!((r.status, r.rc()), (401, 402));
    assert_eq!(record(&n, h), before, "failed requests changed the record");

    // Forms that work: single value, {values}, index=various, repeatable index.
    let one = json!({"index": 2, "type": "EMAIL", "data": {"format": "string", "value": "a@b"}, "permissions": "1100", "ttl": 60});
    assert_eq!(put(&n, &format!("/api/handles/{h}?index=2&overwrite=false"), &one).status, 201);
    let two = json!({"handle": h, "values": [{"index": 3, "type": "HS_VLIST", "data": {"format": "vlist", "value": [{"handle": "0.NA/88.118.8", "index": 300}]}}, {"index": 4, "type": "B", "data": {"format": "hex", "value": "00ff"}}]});
    assert_eq!(put(&n, &format!("/api/handles/{h}?index=3&index=4"), &two).status, 200);
    let adm = json!([{"index": 100, "type": "HS_ADMIN", "data": {"format": "admin", "value": {"handle": "0.NA/88.118.8", "index": "300", "permissions": "011111110011"}}}]);
    assert_eq!(put(&n, &format!("/api/handles/{h}?index=various"), &adm).status, 200);
    let r = n.http().get(&format!("/api/handles/{h}"));
    let j = r.json();
    assert_eq!(indexes(&r), [1, 3, 4, 100], "EMAIL (1100) hidden; stored order");
    assert_eq!(j["values"][1]["data"]["format"], "vlist");
    assert_eq!(j["values"][2]["data"], json!({"format": "base64", "value": "AP8="}));
    assert_eq!(
        j["values"][3]["data"]["value"],
        json!({"handle": "0.NA/88.118.8", "index": 300, "permissions": "011111110011"})
    );
    // Replace the whole record (no index, overwrite default true).
    let r = put(&n, &format!("/api/handles/{h}"), &json!([{"index": 9, "type": "URL", "data": "http://z"}]));
    assert_eq!((r.status, r.rc()), (200, 1));
    assert_eq!(indexes(&n.http().get(&format!("/api/handles/{h}"))), [9]);
    // Mint a suffix.
    let r = put(&n, "/api/handles/88.118.8/?mintNewSuffix=true&overwrite=false", &v1);
    assert_eq!(r.status, 201, "{}", r.body);
    let minted = r.json()["handle"].as_str().unwrap().to_owned();
    assert!(minted.starts_with("88.118.8/") && minted.len() > 12, "{minted}");
    assert_eq!(n.http().get(&format!("/api/handles/{minted}")).status, 200);
    // Delete values, then the handle.
    let r = n.https().send("DELETE", &format!("/api/handles/{h}?index=9"), &[("Authorization", &auth)], None);
    assert_eq!((r.status, r.rc(), r.json()["handle"].as_str()), (200, 1, Some(h)));
    assert_eq!(n.http().get(&format!("/api/handles/{h}")).json()["values"], json!([]));
    let r = n.https().send("DELETE", &format!("/api/handles/{h}"), &[("Authorization", &auth)], None);
    assert_eq!(r.status, 200);
    let r = n.https().send("DELETE", &format!("/api/handles/{h}"), &[("Authorization", &auth)], None);
    assert_eq!((r.status, r.rc()), (404, 100));
    // An identity that is not an administrator gets 403 / 401.
    let r = put(
        &n,
        "/api/handles/88.118.8/k1?overwrite=false",
        &json!([{"index": 300, "type": "HS_SECKEY", "data": "kpw", "permissions": "1100"}]),
    );
    assert_eq!(r.status, 201);
    let stranger = basic("300%3A88.118.8/k1", "kpw");
    let r =
        n.https().send("PUT", "/api/handles/88.118.8/k2", &[JSON, ("Authorization", &stranger)], Some(&v1.to_string()));
    assert_eq!((r.status, r.rc()), (403, 401), "{}", r.body);
    assert!(r.json()["message"].as_str().unwrap().contains("300:88.118.8/k1"));
    assert_eq!(n.http().get("/api/handles/88.118.8/k2").status, 404);
}

#[test]
fn lists_prefixes_site_methods() {
    let n = start("");
    let auth = n.basic();
    let r = n.https().send("GET", "/api/handles?prefix=0.NA/88.118.8.1001", &[("Authorization", &auth)], None);
    assert_eq!(r.status, 200, "{}", r.body);
    let j = r.json();
    assert_eq!(j["totalCount"], "3");
    assert_eq!(j["handles"].as_array().unwrap().len(), 3);
    let r =
        n.https().send("GET", "/api/handles?prefix=88.118.8.1001&page=1&pageSize=2", &[("Authorization", &auth)], None);
    assert_eq!((r.json()["handles"].as_array().unwrap().len(), r.json()["page"].as_u64()), (1, Some(1)));
    let r = n.https().send("GET", "/api/handles?prefix=88.118.8.1001&pageSize=0", &[("Authorization", &auth)], None);
    assert_eq!(r.json()["handles"], json!([]));
    assert_eq!(n.https().get("/api/handles?prefix=0.NA/88.118.8.1001").status, 401);
    assert_eq!(n.http().get("/api/handles?prefix=0.NA/88.118.8.1001").status, 403);
    let r = n.https().send("GET", "/api/handles?prefix=0.NA/99", &[("Authorization", &auth)], None);
    assert_eq!((r.status, r.rc()), (400, 301));
    let r = n.http().get("/api/prefixes");
    assert_eq!(r.json()["prefixes"], json!(["0.NA/88.118.8", "0.NA/88.118.8.1001"]));
    let r = n.http().get("/api/site");
    let site = &r.json()["site"];
    assert_eq!(site["protocolVersion"], "2.11");
    let ports: Vec<u64> =
        site["servers"][0]["interfaces"].as_array().unwrap().iter().map(|i| i["port"].as_u64().unwrap()).collect();
    // Only doors that speak the Handle protocol are published (no HTTP tunnel).
    assert!(ports.contains(&u64::from(n.node.handle_tcp.port())), "{site}");
    assert!(!ports.contains(&u64::from(n.node.http.port())), "{site}");
    assert_eq!(site["servers"][0]["publicKey"]["value"]["kty"], "RSA");
    // Methods.
    let r = n.http().send("PATCH", &format!("/api/handles/{DEMO}"), &[], None);
    assert_eq!((r.status, r.rc()), (501, 4));
    let r = n.http().send("DELETE", "/api/site", &[], None);
    assert_eq!((r.status, r.rc()), (405, 4));
    assert!(r.json()["message"].as_str().unwrap().starts_with("Unknown HTTP API endpoint"));
    let r = n.http().send("PUT", "/api/handles", &[JSON], Some("[]"));
    assert_eq!(r.status, 405);
    let r = n.http().get("/api/nope");
    assert_eq!((r.status, r.rc()), (404, 4));
    let r = n.http().send(
        "OPTIONS",
        &format!("/api/handles/{DEMO}"),
        &[("Origin", "https://app.example"), ("Access-Control-Request-Method", "PUT")],
        None,
    );
    assert_eq!(r.status, 204);
    assert_eq!(r.header("access-control-allow-origin"), Some("*"));
    assert!(r.header("access-control-allow-methods").unwrap().contains("PUT"));
    assert!(r.header("access-control-allow-credentials").is_none());
    // POST = GET with parameters in a JSON body.
    let r = n.http().send("POST", &format!("/api/handles/{DEMO}"), &[JSON], Some(r#"{"index":[2000]}"#));
    assert_eq!(indexes(&r), [2000]);
    // Body limit.
    let big = "x".repeat(9 * 1024 * 1024);
    let r = n.https().send("PUT", "/api/handles/88.118.8/big", &[JSON, ("Authorization", &auth)], Some(&big));
    assert_eq!((r.status, r.rc()), (413, 4));
}

#[test]
fn plain_http_credentials_only_from_loopback_when_allowed() {
    let n = start("allow_plain_http_auth = true\n");
    let v = json!([{"index": 1, "type": "URL", "data": "http://p"}]);
    let auth = n.basic();
    let r = n.http().send(
        "PUT",
        "/api/handles/88.118.8/plain?overwrite=false",
        &[JSON, ("Authorization", &auth)],
        Some(&v.to_string()),
    );
    assert_eq!((r.status, r.rc()), (201, 1), "{}", r.body);
    let r = n.http().send("POST", "/api/sessions", &[], None);
    assert_eq!(r.status, 201);
}

#[test]
fn failed_authentication_is_rate_limited() {
    let n = start("");
    let bad = basic(&ADMIN.replace(':', "%3A"), "wrong");
    for i in 0..10 {
        let r = n.https().send("DELETE", &format!("/api/handles/{DEMO}"), &[("Authorization", &bad)], None);
        assert_eq!((r.status, r.rc()), (401, 403), "attempt {i}: {}", r.body);
    }
    // Over the limit: even the right secret waits.
    let good = n.basic();
    let r = n.https().send("DELETE", &format!("/api/handles/{DEMO}"), &[("Authorization", &good)], None);
    assert_eq!(r.status, 429, "{}", r.body);
    assert!(r.header("retry-after").is_some());
    assert_eq!(n.http().get(&format!("/api/handles/{DEMO}")).status, 200, "reads without credentials still work");
    let _ = PREFIX;
}
