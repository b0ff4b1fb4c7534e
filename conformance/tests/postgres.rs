//! Several idnode processes on one PostgreSQL database (issue 11): a
//! throwaway server started by the test (registry/tests/support/pg.rs, Unix
//! socket only, password from a file), two nodes A and B sharing it.
//!
//! * A record written through A's REST API is answered by B's UDP door, a
//!   record B has cached is answered with A's new version (B follows the
//!   change log), a prefix homed on A is homed on B; the measured delay is
//!   printed (the bound is configuration, never asserted as a timing).
//! * kill -9 of A in the middle of SNMS batch registrations: every
//!   identifier A acknowledged is there, read through B.
//! * PostgreSQL stopped in the middle of a write load: writes fail fast
//!   with HTTP 503 and a JSON body, cached records still resolve, `/readyz`
//!   reports the node behind; after the server is back the node recovers
//!   without a restart and no acknowledged write is lost.

#[path = "../../registry/tests/support/pg.rs"]
mod pg;
mod rest_util;

use std::path::Path;
use std::time::{Duration, Instant};

use idnode_conformance::http1::Http;
use idnode_conformance::{Node, Setup, http_get, idnode, resolution_request, udp_exchange};
use idnode_resolver::wire::{OpFlags, ProtocolVersion};
use rest_util::{PREFIX, TestNode};
use serde_json::{Value, json};

const V: ProtocolVersion = ProtocolVersion::OURS;
const DEMO: &str = "88.118.8.1001/LOT2026-000451";

/// `[store]` for a node on `db` of `srv` (password in a file under `dir`).
fn pg_toml(srv: &pg::PgServer, db: &str, dir: &Path) -> String {
    let pw = dir.join("db.password");
    std::fs::write(&pw, format!("{}\n", pg::PG_PASSWORD)).unwrap();
    format!(
        "\n[store]\nbackend = \"postgres\"\n\n[store.postgres]\nurl = \"{}\"\npassword_file = \"{}\"\n\
         pool_size = 8\npoll_interval_ms = 50\nstaleness_bound_ms = 1000\nconnect_timeout_ms = 1000\n",
        srv.conninfo(db),
        pw.display()
    )
}

fn node_a(toml: &str) -> TestNode {
    rest_util::start(toml)
}

fn node_b(a: &TestNode, toml: &str) -> TestNode {
    let node = Node::start(&Setup {
        node_prefix: PREFIX.into(),
        extra_toml: toml.into(),
        copy_data_from: Some(a.data.clone()),
        ..Setup::default()
    })
    .expect("node B starts");
    let data = node.dir.path().join("data");
    TestNode { ca: data.join("tls.crt"), secret: a.secret.clone(), node, data }
}

/// The UDP answer for `handle` (None: no answer in time).
fn udp(node: &Node, handle: &str) -> Option<Vec<u8>> {
    let req = resolution_request(7, handle, &[], &[], OpFlags::PO, V, V);
    udp_exchange(node.handle_udp, std::slice::from_ref(&req), Duration::from_secs(2)).ok().flatten()?.into_iter().next()
}

fn rc(answer: &[u8]) -> u32 {
    u32::from_be_bytes([answer[24], answer[25], answer[26], answer[27]])
}

fn contains(hay: &[u8], needle: &str) -> bool {
    hay.windows(needle.len()).any(|w| w == needle.as_bytes())
}

/// Polls `f` every 20 ms for at most `limit`; returns how long it took.
fn wait_until(limit: Duration, mut f: impl FnMut() -> bool) -> Option<Duration> {
    let t0 = Instant::now();
    while t0.elapsed() < limit {
        if f() {
            return Some(t0.elapsed());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    None
}

fn put_url(n: &TestNode, handle: &str, url: &str) -> rest_util::Resp {
    n.put_values(handle, json!([rest_util::string_value(1, "URL", url)]))
}

#[test]
fn two_nodes_share_one_database() {
    let srv = pg::shared();
    let db = srv.create_db("two_nodes");
    let tmp = tempfile::tempdir().unwrap();
    let toml = pg_toml(srv, &db, tmp.path());
    let a = node_a(&toml);
    let b = node_b(&a, &toml);

    // The demo record, written by A's init, is served by B.
    let ans = udp(&b.node, DEMO).expect("B answers");
    assert_eq!(rc(&ans), 1);

    // A new record through A's REST API, resolved through B's UDP door.
    let h = format!("{PREFIX}/pg-shared-1");
    let r = put_url(&a, &h, "https://example.com/v1");
    assert!(r.status == 200 || r.status == 201, "{} {}", r.status, r.body);
    let took = wait_until(Duration::from_secs(10), || udp(&b.node, &h).is_some_and(|x| rc(&x) == 1))
        .expect("record written on A resolvable on B");
    eprintln!("cross-node: new record visible on B after {took:?}");

    // B has it cached now; A changes it; B answers the new version.
    assert!(contains(&udp(&b.node, &h).unwrap(), "https://example.com/v1"));
    let r = put_url(&a, &h, "https://example.com/v2");
    assert!(r.status == 200 || r.status == 201, "{} {}", r.status, r.body);
    let took = wait_until(Duration::from_secs(10), || {
        udp(&b.node, &h).is_some_and(|x| contains(&x, "https://example.com/v2"))
    })
    .expect("B's cached copy replaced");
    eprintln!("cross-node: cached record updated on B after {took:?}");

    // A prefix homed on A is homed on B: B answers a record under it.
    let before = udp(&b.node, "88.777/x").expect("B answers");
    assert_ne!(rc(&before), 1, "not homed yet");
    idnode(&a.node.config, &["prefix", "home", "88.777"]).expect("home on A");
    idnode(&a.node.config, &["id", "put", "88.777/x", "1:URL:https://example.com/777"]).expect("put on A");
    let took = wait_until(Duration::from_secs(10), || udp(&b.node, "88.777/x").is_some_and(|x| rc(&x) == 1))
        .expect("prefix homed on A is homed on B");
    eprintln!("cross-node: prefix homed on A served by B after {took:?}");
    assert_eq!(http_get(b.node.admin, "/readyz").unwrap().0, 200);
}

fn snms_login(n: &TestNode) -> String {
    let mut c = Http::new(n.node.http);
    let body = serde_json::to_vec(&json!({"username": "admin", "password": n.secret})).unwrap();
    let (st, b) = c.request("POST", "/identity/token", None, &body).unwrap();
    assert_eq!(st, 200);
    let v: Value = serde_json::from_slice(&b).unwrap();
    v["data"]["token"].as_str().expect("token").to_owned()
}

fn snms_item(handle: &str) -> Value {
    json!({
        "handle": handle,
        "templateVersion": "1.0.0",
        "value": [ { "index": 2000, "type": "model", "auth": "", "data": { "format": "string", "value": "CP-200" } },
                   { "index": 2001, "type": "batch", "auth": "", "data": { "format": "string", "value": "B1" } } ]
    })
}

#[test]
fn kill_9_of_a_mid_snms_batches_loses_nothing() {
    let srv = pg::shared();
    let db = srv.create_db("kill9");
    let tmp = tempfile::tempdir().unwrap();
    let toml = pg_toml(srv, &db, tmp.path());
    let mut a = node_a(&toml);
    let b = node_b(&a, &toml);
    let token = snms_login(&a);
    let acked = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let addr = a.node.http;
    let threads: Vec<_> = (0..3)
        .map(|c| {
            let (acked, token) = (acked.clone(), token.clone());
            std::thread::spawn(move || {
                let mut http = Http::new(addr);
                let deadline = Instant::now() + Duration::from_secs(60);
                for batch in 0..10_000 {
                    if Instant::now() > deadline {
                        break;
                    }
                    let hs: Vec<String> = (0..100).map(|i| format!("88.118.8.1001/pgk-{c}-{batch}-{i}")).collect();
                    let body = serde_json::to_vec(&Value::Array(hs.iter().map(|h| snms_item(h)).collect())).unwrap();
                    let Ok((200, bytes)) = http.request("POST", "/identityv2/data/batchCreate", Some(&token), &body)
                    else {
                        break; // A is gone: this batch's outcome is unknown
                    };
                    let Ok(v) = serde_json::from_slice::<Value>(&bytes) else { break };
                    if v["status"] != 1 {
                        break;
                    }
                    let data = v["data"].as_array().expect("per-item results").clone();
                    let mut g = acked.lock().unwrap();
                    for (h, r) in hs.into_iter().zip(data) {
                        assert_eq!(r["msg"], "success", "{r}");
                        g.push(h);
                    }
                }
            })
        })
        .collect();
    // Kill A once a few batches are acknowledged.
    wait_until(Duration::from_secs(60), || acked.lock().unwrap().len() >= 600).expect("batches acknowledged");
    a.node.kill().unwrap();
    for t in threads {
        t.join().unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    assert!(acked.len() >= 600);
    // Every acknowledged identifier is in the database: B serves it.
    for h in &acked {
        let ans = udp(&b.node, h).expect("B answers");
        assert_eq!(rc(&ans), 1, "acknowledged {h} lost after kill -9 of A");
    }
    eprintln!("kill -9 of A: {} acknowledged identifiers all present on B", acked.len());
}

#[test]
fn postgres_restart_mid_load_recovers() {
    // Its own server: this test stops it.
    let srv = pg::PgServer::start();
    let db = srv.create_db("restart");
    let tmp = tempfile::tempdir().unwrap();
    let toml = pg_toml(&srv, &db, tmp.path());
    let a = node_a(&toml);
    // Warm A's read cache with the demo record.
    assert_eq!(rc(&udp(&a.node, DEMO).unwrap()), 1);

    let mut acked = Vec::new();
    for i in 0..20 {
        let h = format!("{PREFIX}/before-{i}");
        let r = put_url(&a, &h, "https://example.com/b");
        assert!(r.status == 200 || r.status == 201, "{} {}", r.status, r.body);
        acked.push(h);
    }
    srv.stop_server();
    // Writes fail fast and say why, as JSON.
    let t0 = Instant::now();
    let r = put_url(&a, &format!("{PREFIX}/during"), "https://example.com/d");
    let took = t0.elapsed();
    assert_eq!(r.status, 503, "{}", r.body);
    let j: Value = serde_json::from_str(&r.body).expect("JSON body");
    assert!(j["message"].as_str().unwrap_or_default().contains("unavailable"), "{j}");
    eprintln!("write with the database down answered 503 in {took:?}");
    // Cached records still resolve.
    assert_eq!(rc(&udp(&a.node, DEMO).unwrap()), 1, "resolution from the read cache");
    // The follower cannot read the log: /readyz says so (within the bound).
    wait_until(Duration::from_secs(10), || http_get(a.node.admin, "/readyz").is_ok_and(|x| x.0 == 503))
        .expect("/readyz reports the node behind");

    srv.start_server();
    // Recovery without a restart.
    let h = format!("{PREFIX}/after");
    wait_until(Duration::from_secs(20), || {
        let r = put_url(&a, &h, "https://example.com/a");
        r.status == 200 || r.status == 201
    })
    .expect("writes succeed again");
    acked.push(h);
    wait_until(Duration::from_secs(10), || http_get(a.node.admin, "/readyz").is_ok_and(|x| x.0 == 200))
        .expect("ready again");
    for h in &acked {
        assert_eq!(rc(&udp(&a.node, h).unwrap()), 1, "acknowledged {h} lost");
    }
}
