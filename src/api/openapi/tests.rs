//! The committed `docs/openapi.json` is the generated document, and the
//! document describes exactly the routes the axum routers register.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use axum::Router;
use idnode_registry::store::{SledStore, Store};
use serde_json::Value as Json;

use crate::api::ApiDeps;
use crate::config::Config;

const FILE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/openapi.json");
const REWRITE: &str = "UPDATE_OPENAPI=1 cargo test -p idnode --bin idnode api::openapi";

#[test]
fn committed_document_is_the_generated_one() {
    let generated = super::to_json();
    if std::env::var_os("UPDATE_OPENAPI").is_some() {
        std::fs::write(FILE, &generated).unwrap();
    }
    let file = std::fs::read_to_string(FILE).unwrap();
    if file != generated {
        let at = file.lines().zip(generated.lines()).position(|(a, b)| a != b).map_or(0, |i| i + 1);
        panic!(
            "docs/openapi.json is not the generated document (first difference at line {at}); rewrite it with `{REWRITE}`"
        );
    }
    let doc: Json = serde_json::from_str(&generated).unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    // Every $ref resolves inside the document.
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
    assert!(all.len() > 100);
    for r in all {
        let ptr = r.strip_prefix('#').unwrap_or_else(|| panic!("external $ref {r}"));
        assert!(doc.pointer(ptr).is_some(), "dangling {r}");
    }
    // Every operation has an id, a tag, a summary and responses; ids are unique.
    let mut ids = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (m, op) in item.as_object().unwrap() {
            let id = op["operationId"].as_str().unwrap_or_else(|| panic!("{m} {path} has no operationId"));
            assert!(ids.insert(id.to_owned()), "operationId {id} twice");
            assert!(op["tags"][0].is_string() && op["summary"].is_string(), "{m} {path}");
            assert!(!op["responses"].as_object().unwrap().is_empty(), "{m} {path}");
        }
    }
}

/// `(path, methods)` of every route in a router, read from its `Debug`
/// form (axum has no other way to list routes). A route taking any method
/// (`any(...)`) has the method `ANY`.
fn routes_of(router: &Router) -> BTreeMap<String, BTreeSet<String>> {
    let dbg = format!("{router:?}");
    // Only the path router: the fallback router has route ids of its own.
    let start = dbg.find("path_router: PathRouter {").expect("axum Router's Debug form changed");
    let end = dbg.find("fallback_router:").expect("axum Router's Debug form changed");
    let dbg = &dbg[start..end];
    let (routes, paths) = dbg.split_at(dbg.find("node: Node { paths:").expect("axum Router's Debug form changed"));
    const FIELDS: [&str; 9] = ["get", "head", "delete", "options", "patch", "post", "put", "trace", "connect"];
    let mut methods: BTreeMap<u32, BTreeSet<String>> = BTreeMap::new();
    for part in routes.split("RouteId(").skip(1) {
        let (id, rest) = part.split_once("): ").unwrap();
        let id: u32 = id.parse().unwrap();
        let body = rest.strip_prefix("MethodRouter(MethodRouter { ").expect("a route that is not a MethodRouter");
        let mut set = BTreeSet::new();
        for f in FIELDS {
            let v = body.split(&format!("{f}: ")).nth(1).unwrap().split([',', ' ']).next().unwrap();
            if v != "None" {
                set.insert(f.to_ascii_uppercase());
            }
        }
        let fallback = body.split("fallback: ").nth(1).unwrap();
        if set.is_empty() {
            assert!(!fallback.starts_with("Default("), "route {id} takes no method");
            set.insert("ANY".to_owned());
        }
        methods.insert(id, set);
    }
    let mut out = BTreeMap::new();
    for part in paths.split("RouteId(").skip(1) {
        let (id, rest) = part.split_once("): \"").unwrap();
        let path = rest.split('"').next().unwrap();
        let set = methods.remove(&id.parse().unwrap()).expect("a path without a route");
        out.entry(path.to_owned()).or_insert_with(BTreeSet::new).extend(set);
    }
    assert!(methods.is_empty(), "routes without paths: {methods:?}");
    out
}

/// Routes that are not part of the documented APIs: the HTML pages
/// (landing pages, portal, console) and the JSON 404s of unknown API paths.
fn undocumented(path: &str) -> bool {
    const PAGES: [&str; 5] = ["/", "/_static/idnode.css", "/_lookup", "/01/{*rest}", "/{*identifier}"];
    const NOT_FOUND: [&str; 6] = ["/api", "/api/", "/api/{*rest}", "/admin", "/admin/", "/admin/{*rest}"];
    PAGES.contains(&path)
        || NOT_FOUND.contains(&path)
        || path == "/portal"
        || path.starts_with("/portal/")
        || path == "/console"
        || path.starts_with("/console/")
}

/// The documented path of a routed one (`{*x}` is `{x}`; trailing-slash
/// twins and the session catch-all are the documented endpoint).
fn documented_path(path: &str) -> String {
    match path {
        "/api/handles/" => "/api/handles".to_owned(),
        "/api/sessions/" => "/api/sessions".to_owned(),
        "/api/sessions/{*which}" => "/api/sessions/this".to_owned(),
        p => p.replace("{*", "{"),
    }
}

#[tokio::test]
async fn every_route_is_documented_and_every_operation_routed() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = Config::default();
    cfg.node.data_dir = dir.path().to_owned();
    cfg.node.node_prefix = "88.118.8".into();
    cfg.snms.enabled = true;
    cfg.web.pages = true;
    cfg.admin.api_enabled = true;
    let store: Arc<dyn Store> = Arc::new(SledStore::open_path(dir.path().join("store")).unwrap());
    let deps = ApiDeps::new(store, Arc::new(cfg));
    // The two doors as `serve` builds them (src/serve/mod.rs).
    let ops = crate::serve::http::OpsState {
        metrics: metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder().handle(),
        ready: Default::default(),
    };
    let public = crate::serve::http::probes(Default::default())
        .merge(crate::api::router(deps.clone()))
        .merge(crate::portal::router(deps.clone()));
    let admin = crate::serve::http::router(ops)
        .merge(crate::api::admin::router(deps.clone()))
        .merge(crate::console::router(deps, None));

    let mut routed: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for r in [&public, &admin] {
        for (path, methods) in routes_of(r) {
            routed.entry(path).or_default().extend(methods);
        }
    }
    // The parse found the routes (a changed Debug form fails above or here).
    assert!(routed.len() > 80, "{} routes", routed.len());
    assert_eq!(routed["/identityv2/data"], BTreeSet::from(["POST".into(), "PUT".into(), "DELETE".into()]));
    assert_eq!(routed["/api/handles/{*handle}"], BTreeSet::from(["ANY".into()]));
    for p in ["/", "/portal", "/console", "/api/{*rest}", "/admin/{*rest}"] {
        assert!(routed.contains_key(p), "{p} is no longer routed: update `undocumented`");
    }

    let doc: Json = serde_json::to_value(super::document()).unwrap();
    let documented: BTreeMap<String, BTreeSet<String>> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(p, item)| (p.clone(), item.as_object().unwrap().keys().map(|m| m.to_ascii_uppercase()).collect()))
        .collect();
    let mut want: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (path, methods) in routed.iter().filter(|(p, _)| !undocumented(p)) {
        want.entry(documented_path(path)).or_default().extend(methods.iter().cloned());
    }
    let mut missing = Vec::new();
    for (path, methods) in &want {
        let Some(doc_methods) = documented.get(path) else {
            missing.push(format!("{path} {methods:?}"));
            continue;
        };
        if methods.contains("ANY") {
            continue; // the handler dispatches on the method; any documented subset
        }
        for m in methods.difference(doc_methods) {
            missing.push(format!("{m} {path}"));
        }
    }
    assert!(missing.is_empty(), "routed but not in the OpenAPI document (src/api/openapi): {missing:#?}");
    let mut stale = Vec::new();
    for (path, methods) in &documented {
        match want.get(path) {
            None => stale.push(path.clone()),
            Some(r) if r.contains("ANY") => {}
            Some(r) => stale.extend(methods.difference(r).map(|m| format!("{m} {path}"))),
        }
    }
    assert!(stale.is_empty(), "documented but not routed: {stale:#?}");
}
