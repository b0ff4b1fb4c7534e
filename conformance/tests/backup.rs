//! Online backup and restore against the built binary (issue 15, item 2).
//!
//! `a_backup_under_snms_writes_restores_one_instant`: a node with 20,000
//! imported records takes SNMS `batchCreate` batches from three client
//! threads; `idnode backup --with-secrets` runs in the middle of them
//! (through the daemon's admin API); the archive is restored into a fresh
//! data directory and a second node is started on it. Every identifier of
//! every batch acknowledged before the backup started resolves on the
//! restored node (REST), and every batch is there whole or not at all.
//!
//! `a_damaged_archive_is_refused`: one flipped byte, a cut file, and a
//! data directory that is not empty are each refused, leaving nothing
//! behind. Loopback only; every loop is bounded in count and time.

use std::collections::HashSet;
use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use idnode_conformance::http1::Http;
use idnode_conformance::{Node, Setup, cli, idnode};
use serde_json::{Value, json};

const PREFIX: &str = "88.118.8.1001";
const CLIENTS: usize = 3;
const BATCH: usize = 100;
/// Batches per client at most (bounded load).
const MAX_BATCHES: usize = 60;

fn login(node: &Node) -> Result<String> {
    let secret = std::fs::read_to_string(node.dir.path().join("data/admin.secret"))?;
    let mut c = Http::new(node.http);
    let body = json!({"username": "admin", "password": secret.trim()});
    let (status, bytes) = c.request("POST", "/identity/token", None, &serde_json::to_vec(&body)?)?;
    let v: Value = serde_json::from_slice(&bytes)?;
    if status != 200 {
        bail!("login: HTTP {status}: {v}");
    }
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

/// A JSON-lines file of `n` records under the node prefix (import input).
fn bulk_file(dir: &Path, n: usize) -> Result<std::path::PathBuf> {
    let path = dir.join("bulk.jsonl");
    let mut f = std::io::BufWriter::new(std::fs::File::create(&path)?);
    for i in 0..n {
        let line = json!({"handle": format!("88.118.8/bulk-{i:06}"),
                          "values": [{"index": 1, "type": "URL", "data": format!("https://example.test/{i}")}]});
        writeln!(f, "{line}")?;
    }
    f.flush()?;
    Ok(path)
}

/// One batch a client sent: its handles, and whether it was acknowledged
/// (and if so, before the backup started).
#[derive(Debug, Clone)]
struct Sent {
    handles: Vec<String>,
    acked: bool,
    acked_before_backup: bool,
}

#[test]
fn a_backup_under_snms_writes_restores_one_instant() -> Result<()> {
    let scratch = tempfile::tempdir()?;
    let bulk = bulk_file(scratch.path(), 20_000)?;
    // Demo data (enterprise prefix and template the SNMS batches use),
    // then the bulk through the daemon's admin API.
    let node = Node::start(&Setup::default())?;
    idnode(&node.config, &["id", "import", bulk.to_str().context("utf-8 path")?]).context("importing the bulk")?;
    let token = login(&node)?;

    let backup_started = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    let acked_batches = Arc::new(AtomicUsize::new(0));
    let sent: Arc<Mutex<Vec<Sent>>> = Arc::default();
    let threads: Vec<_> = (0..CLIENTS)
        .map(|c| {
            let (sent, stop, started, acked, token, addr) =
                (sent.clone(), stop.clone(), backup_started.clone(), acked_batches.clone(), token.clone(), node.http);
            std::thread::spawn(move || -> Result<()> {
                let mut http = Http::new(addr);
                let deadline = Instant::now() + Duration::from_secs(120);
                for b in 0..MAX_BATCHES {
                    if stop.load(Ordering::SeqCst) || Instant::now() > deadline {
                        break;
                    }
                    let handles: Vec<String> = (0..BATCH).map(|i| format!("{PREFIX}/bk-{c}-{b:03}-{i:03}")).collect();
                    let body = Value::Array(handles.iter().map(|h| item(h)).collect());
                    let idx = {
                        let mut s = sent.lock().unwrap();
                        s.push(Sent { handles: handles.clone(), acked: false, acked_before_backup: false });
                        s.len() - 1
                    };
                    let (status, bytes) = http.request(
                        "POST",
                        "/identityv2/data/batchCreate",
                        Some(&token),
                        &serde_json::to_vec(&body)?,
                    )?;
                    let v: Value = serde_json::from_slice(&bytes)?;
                    if status != 200 || v["status"] != 1 {
                        bail!("batch {c}/{b}: HTTP {status}: {v}");
                    }
                    let data = v["data"].as_array().context("per-item results")?;
                    if data.len() != BATCH || data.iter().any(|r| r["msg"] != "success") {
                        bail!("batch {c}/{b} not fully created: {v}");
                    }
                    // Read the flag only after the answer: "before" is then certain.
                    let before = !started.load(Ordering::SeqCst);
                    let mut s = sent.lock().unwrap();
                    s[idx].acked = true;
                    s[idx].acked_before_backup = before;
                    acked.fetch_add(1, Ordering::SeqCst);
                }
                Ok(())
            })
        })
        .collect();

    // Let the load build up, then back up in the middle of it.
    let t0 = Instant::now();
    while acked_batches.load(Ordering::SeqCst) < 2 * CLIENTS && t0.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(10));
    }
    let archive = scratch.path().join("node.idnbak");
    let archive_s = archive.to_str().context("utf-8 path")?;
    backup_started.store(true, Ordering::SeqCst);
    let acked_at_start = acked_batches.load(Ordering::SeqCst);
    let out = cli(&node.config, &["backup", "--with-secrets", "--out", archive_s]);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(0), "backup failed:\n{stdout}\n{stderr}");
    let acked_at_end = acked_batches.load(Ordering::SeqCst);
    stop.store(true, Ordering::SeqCst);
    for t in threads {
        t.join().expect("client thread")?;
    }
    eprintln!("{stdout}batches acknowledged: {acked_at_start} before the backup, {acked_at_end} when it ended");
    assert!(stdout.contains("online, through the admin API"), "{stdout}");
    assert!(stderr.contains("warning: this archive holds the node's keys"), "{stderr}");
    assert!(acked_at_start >= 2 * CLIENTS, "only {acked_at_start} batches before the backup");
    let sha = std::fs::read_to_string(scratch.path().join("node.idnbak.sha256"))?;
    assert!(sha.ends_with("  node.idnbak\n"), "{sha}");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(&archive)?.permissions().mode() & 0o777, 0o600);

    // Restore into a fresh directory and serve it.
    let restored = scratch.path().join("restored");
    let r = cli(&node.config, &["--data-dir", restored.to_str().unwrap(), "restore", archive_s]);
    let r_out = String::from_utf8_lossy(&r.stdout).into_owned();
    assert_eq!(r.status.code(), Some(0), "restore failed:\n{r_out}\n{}", String::from_utf8_lossy(&r.stderr));
    assert!(r_out.contains("key files: server.key, admin.secret"), "{r_out}");
    drop(node);
    let node2 = Node::start(&Setup { copy_data_from: Some(restored.clone()), ..Setup::default() })?;

    // What the restored node holds under the enterprise prefix.
    let export = idnode(&node2.config, &["id", "export", "--prefix", PREFIX])?;
    let stored: HashSet<String> = export
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter_map(|v| v["handle"].as_str().map(str::to_owned))
        .collect();
    let sent = sent.lock().unwrap().clone();
    let (mut whole, mut absent, mut before) = (0, 0, 0);
    for (n, s) in sent.iter().enumerate() {
        let present = s.handles.iter().filter(|h| stored.contains(*h)).count();
        assert!(present == 0 || present == BATCH, "batch {n} is torn: {present} of {BATCH} items restored");
        if present == BATCH {
            whole += 1;
        } else {
            absent += 1;
            assert!(!s.acked_before_backup, "batch {n} was acknowledged before the backup started but is missing");
        }
        if s.acked_before_backup {
            before += 1;
        }
    }
    eprintln!(
        "{} batches sent: {whole} restored whole, {absent} absent; {before} acknowledged before the backup",
        sent.len()
    );
    assert!(before >= 2 * CLIENTS);

    // Every identifier acknowledged before the backup resolves (REST).
    let mut http = Http::new(node2.http);
    for s in sent.iter().filter(|s| s.acked_before_backup) {
        for h in &s.handles {
            let (status, body) = http.request("GET", &format!("/api/handles/{h}"), None, &[])?;
            assert_eq!(status, 200, "{h} does not resolve on the restored node: {}", String::from_utf8_lossy(&body));
            let v: Value = serde_json::from_slice(&body)?;
            assert_eq!(v["handle"], h.as_str());
        }
    }
    // The imported bulk and the demo record survived too, and the restored
    // node's admin (same secret) can log in and write.
    let (status, _) = http.request("GET", "/api/handles/88.118.8/bulk-019999", None, &[])?;
    assert_eq!(status, 200);
    let token2 = login(&node2)?;
    let body = serde_json::to_vec(&item(&format!("{PREFIX}/after-restore")))?;
    let (status, bytes) = http.request("POST", "/identityv2/data", Some(&token2), &body)?;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&bytes));
    Ok(())
}

#[test]
fn a_damaged_archive_is_refused() -> Result<()> {
    let scratch = tempfile::tempdir()?;
    let node = Node::start(&Setup::default())?;
    let archive = scratch.path().join("a.idnbak");
    let archive_s = archive.to_str().unwrap();
    let out = cli(&node.config, &["backup", "--out", archive_s]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    // Refuses to overwrite.
    let again = cli(&node.config, &["backup", "--out", archive_s]);
    assert_eq!(again.status.code(), Some(64));
    let good = std::fs::read(&archive)?;

    let restore = |file: &Path, target: &Path| {
        cli(&node.config, &["--data-dir", target.to_str().unwrap(), "restore", file.to_str().unwrap()])
    };
    // A clean restore works (control for the refusals below).
    let ok_dir = scratch.path().join("ok");
    let o = restore(&archive, &ok_dir);
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));

    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("flipped", {
            let mut b = good.clone();
            let at = b.len() / 2;
            b[at] ^= 0x20;
            b
        }),
        ("cut", good[..good.len() - 50].to_vec()),
    ];
    for (name, bytes) in cases {
        let f = scratch.path().join(format!("{name}.idnbak"));
        std::fs::write(&f, &bytes)?;
        let target = scratch.path().join(format!("into-{name}"));
        let o = restore(&f, &target);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{name}: {err}");
        assert!(err.contains("is refused"), "{name}: {err}");
        assert!(!target.exists(), "{name}: the refused restore left {} behind", target.display());
    }

    // A data directory that is not empty is refused (usage error), untouched.
    let busy = scratch.path().join("busy");
    std::fs::create_dir(&busy)?;
    std::fs::write(busy.join("keep"), b"x")?;
    let o = restore(&archive, &busy);
    assert_eq!(o.status.code(), Some(64), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stderr).contains("is not empty"));
    assert_eq!(std::fs::read_dir(&busy)?.count(), 1);
    Ok(())
}

/// The committed format-1 fixture through the binary: every store command
/// refuses it naming `idnode store migrate`; that command upgrades it and
/// the data reads back; a second migrate has nothing to do.
#[test]
fn a_format_1_store_is_refused_then_migrated_by_the_cli() -> Result<()> {
    use std::io::Read;
    let scratch = tempfile::tempdir()?;
    let data = scratch.path().join("data");
    let store = data.join("store");
    std::fs::create_dir_all(store.join("blobs"))?;
    let fixture = idnode_conformance::crate_dir().join("../registry/tests/fixtures/store-v1");
    for name in ["conf", "snap.0000000000001276"] {
        std::fs::copy(fixture.join(name), store.join(name))?;
    }
    let mut db = Vec::new();
    flate2::read::GzDecoder::new(std::fs::File::open(fixture.join("db.gz"))?).read_to_end(&mut db)?;
    std::fs::write(store.join("db"), db)?;
    let config = scratch.path().join("idnode.toml");
    std::fs::write(&config, format!("[node]\nnode_prefix = \"88.118.8\"\ndata_dir = \"{}\"\n", data.display()))?;

    let o = cli(&config, &["id", "get", "88.118.8.1001/FMT-1"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("store format 1 is older") && err.contains("idnode store migrate"), "{err}");

    let out = idnode(&config, &["store", "migrate"])?;
    assert!(out.contains("upgraded the store format 1 -> 2"), "{out}");
    let got = idnode(&config, &["id", "get", "88.118.8.1001/FMT-1"])?;
    assert!(got.contains("https://fixture.test/1"), "{got}");
    let out = idnode(&config, &["store", "migrate"])?;
    assert!(out.contains("store format is current (2)"), "{out}");
    Ok(())
}
