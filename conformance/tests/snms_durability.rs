//! Black-box durability of SNMS batch registration: several clients post
//! `batchCreate` concurrently over real HTTP to the built binary, the test
//! SIGKILLs the daemon mid-load, and then every item whose batch was
//! answered `success` must be in the store — read offline with
//! `idnode id export` after the kill, and over the API after a restart on
//! the same data directory (with a token issued before the crash).

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use idnode_conformance::http1::Http;
use idnode_conformance::{Node, Setup, idnode};
use serde_json::{Value, json};

/// JSON requests on the shared keep-alive client.
trait JsonHttp {
    fn json(&mut self, method: &str, path: &str, token: Option<&str>, body: &Value) -> Result<Value>;
}

impl JsonHttp for Http {
    fn json(&mut self, method: &str, path: &str, token: Option<&str>, body: &Value) -> Result<Value> {
        let (status, bytes) = self.request(method, path, token, &serde_json::to_vec(body)?)?;
        if status != 200 {
            bail!("{method} {path}: HTTP {status}");
        }
        Ok(serde_json::from_slice(&bytes)?)
    }
}

fn login(node: &Node) -> Result<String> {
    let secret = std::fs::read_to_string(node.dir.path().join("data/admin.secret"))?;
    let mut c = Http::new(node.http);
    let v = c.json("POST", "/identity/token", None, &json!({"username": "admin", "password": secret.trim()}))?;
    v["data"]["token"].as_str().map(str::to_owned).with_context(|| format!("login failed: {v}"))
}

fn item(handle: &str) -> Value {
    json!({
        "handle": handle,
        "templateVersion": "1.0.0",
        "value": [ { "index": 2000, "type": "model", "auth": "", "data": { "format": "string", "value": "CP-200" } },
                   { "index": 2001, "type": "batch", "auth": "", "data": { "format": "string", "value": "B1" } } ]
    })
}

const PREFIX: &str = "88.118.8.1001";
const CLIENTS: usize = 4;
const BATCH: usize = 250;

#[test]
fn acknowledged_batches_survive_sigkill() -> Result<()> {
    let mut node = Node::start(&Setup::default())?;
    let token = login(&node)?;
    let acked: Arc<Mutex<Vec<String>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let batches_ok = Arc::new(AtomicUsize::new(0));
    let threads: Vec<_> = (0..CLIENTS)
        .map(|c| {
            let (acked, stop, ok, token, addr) =
                (acked.clone(), stop.clone(), batches_ok.clone(), token.clone(), node.http);
            std::thread::spawn(move || {
                let mut http = Http::new(addr);
                let deadline = Instant::now() + Duration::from_secs(120);
                for b in 0.. {
                    if stop.load(Ordering::SeqCst) || Instant::now() > deadline {
                        break;
                    }
                    let handles: Vec<String> = (0..BATCH).map(|i| format!("{PREFIX}/dur-{c}-{b}-{i}")).collect();
                    let body = Value::Array(handles.iter().map(|h| item(h)).collect());
                    let Ok(v) = http.json("POST", "/identityv2/data/batchCreate", Some(&token), &body) else {
                        // The daemon is gone: the outcome of this batch is unknown.
                        break;
                    };
                    assert_eq!(v["status"], 1, "{v}");
                    let data = v["data"].as_array().expect("per-item results");
                    let mut mine = Vec::new();
                    for (h, r) in handles.into_iter().zip(data) {
                        assert_eq!(r["msg"], "success", "{r}");
                        mine.push(h);
                    }
                    acked.lock().unwrap().extend(mine);
                    ok.fetch_add(1, Ordering::SeqCst);
                }
            })
        })
        .collect();

    // Let load build up, then crash the daemon in the middle of it.
    let t0 = Instant::now();
    while batches_ok.load(Ordering::SeqCst) < 3 * CLIENTS && t0.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(20));
    }
    node.kill()?;
    stop.store(true, Ordering::SeqCst);
    for t in threads {
        t.join().expect("client thread");
    }
    let acked = acked.lock().unwrap().clone();
    eprintln!(
        "killed after {:?}: {} items in {} acknowledged batches",
        t0.elapsed(),
        acked.len(),
        batches_ok.load(Ordering::SeqCst)
    );
    assert!(acked.len() >= 3 * CLIENTS * BATCH, "only {} items acknowledged before the kill", acked.len());

    // Offline: every acknowledged item is in the store.
    let export = idnode(&node.config, &["id", "export", "--prefix", PREFIX])?;
    let stored: HashSet<String> = export
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter_map(|v| v["handle"].as_str().map(str::to_owned))
        .collect();
    eprintln!("{} records under {PREFIX} after the kill", stored.len());
    let missing: Vec<&String> = acked.iter().filter(|h| !stored.contains(*h)).collect();
    assert!(
        missing.is_empty(),
        "{} acknowledged items lost, e.g. {:?}",
        missing.len(),
        &missing[..missing.len().min(5)]
    );

    // Restart on the same data: the pre-crash token still works and the
    // items read back through the API.
    node.restart()?;
    let mut http = Http::new(node.http);
    for h in acked.iter().step_by(acked.len() / 20 + 1) {
        let v = http.json("GET", &format!("/identityv2/data/detail?handle={h}"), Some(&token), &Value::Null)?;
        assert_eq!(v["status"], 1, "{h}: {v}");
        assert_eq!(v["data"]["value"][1]["data"]["value"], "CP-200");
    }
    // And new writes go on.
    let v = http.json("POST", "/identityv2/data", Some(&token), &item(&format!("{PREFIX}/after-restart")))?;
    assert_eq!(v["status"], 1, "{v}");
    Ok(())
}
