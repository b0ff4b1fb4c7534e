//! Black-box durability of SNMS batch registration: several clients post
//! `batchCreate` concurrently over real HTTP to the built binary, the test
//! SIGKILLs the daemon mid-load, and then every item whose batch was
//! answered `success` must be in the store — read offline with
//! `idnode id export` after the kill, and over the API after a restart on
//! the same data directory (with a token issued before the crash).

use std::collections::HashSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use idnode_conformance::{Node, Setup, idnode};
use serde_json::{Value, json};

/// A minimal keep-alive HTTP/1.1 client (Content-Length and chunked bodies).
struct Http {
    addr: SocketAddr,
    conn: Option<BufReader<TcpStream>>,
}

impl Http {
    fn new(addr: SocketAddr) -> Self {
        Http { addr, conn: None }
    }

    fn request(&mut self, method: &str, path: &str, token: Option<&str>, body: &[u8]) -> Result<(u16, Vec<u8>)> {
        if self.conn.is_none() {
            let s = TcpStream::connect_timeout(&self.addr, Duration::from_secs(5))?;
            s.set_read_timeout(Some(Duration::from_secs(60)))?;
            s.set_nodelay(true)?;
            self.conn = Some(BufReader::new(s));
        }
        let r = self.exchange(method, path, token, body);
        if r.is_err() {
            self.conn = None;
        }
        r
    }

    fn exchange(&mut self, method: &str, path: &str, token: Option<&str>, body: &[u8]) -> Result<(u16, Vec<u8>)> {
        let conn = self.conn.as_mut().context("no connection")?;
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n",
            self.addr,
            body.len()
        );
        if let Some(t) = token {
            head.push_str(&format!("Authorization: Bearer {t}\r\n"));
        }
        head.push_str("\r\n");
        let s = conn.get_mut();
        s.write_all(head.as_bytes())?;
        s.write_all(body)?;
        let mut line = String::new();
        conn.read_line(&mut line)?;
        let status: u16 = line.split_whitespace().nth(1).and_then(|c| c.parse().ok()).context("status line")?;
        let (mut len, mut chunked, mut close) = (0usize, false, false);
        loop {
            line.clear();
            if conn.read_line(&mut line)? == 0 {
                bail!("connection closed in the headers");
            }
            let l = line.trim_end();
            if l.is_empty() {
                break;
            }
            let (k, v) = l.split_once(':').unwrap_or((l, ""));
            match k.trim().to_ascii_lowercase().as_str() {
                "content-length" => len = v.trim().parse()?,
                "transfer-encoding" => chunked = v.to_ascii_lowercase().contains("chunked"),
                "connection" => close = v.trim().eq_ignore_ascii_case("close"),
                _ => {}
            }
        }
        let mut out = Vec::new();
        if chunked {
            loop {
                line.clear();
                conn.read_line(&mut line)?;
                let n = usize::from_str_radix(line.trim().split(';').next().unwrap_or("0"), 16)?;
                let mut chunk = vec![0u8; n + 2];
                conn.read_exact(&mut chunk)?;
                if n == 0 {
                    break;
                }
                out.extend_from_slice(&chunk[..n]);
            }
        } else {
            out.resize(len, 0);
            conn.read_exact(&mut out)?;
        }
        if close {
            self.conn = None;
        }
        Ok((status, out))
    }

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
