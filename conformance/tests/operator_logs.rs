//! Operator logs (issue 15, `[logs]`): with `requests = true` and
//! `request_sample = 1` every request on the Handle and HTTP doors gives
//! one JSON line on the target `idnode::request`; every administrative
//! write gives one on `idnode::audit` with the documented fields
//! (docs/operations.md, "Logs"), and neither ever carries the admin secret.
//! Real daemon, loopback ports, log lines read from its stderr.

use std::io::{BufRead, BufReader};
use std::net::{TcpListener, UdpSocket};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use idnode_conformance::{cli, http_get, idnode_bin};
use serde_json::Value;

fn free_port() -> u16 {
    loop {
        let t = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = t.local_addr().unwrap().port();
        if UdpSocket::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

struct Daemon(Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Lines on stderr that parse as JSON and have `target` = `target`,
/// collected until `enough` holds or 20 s pass.
fn wait_for(
    rx: &mpsc::Receiver<String>,
    seen: &mut Vec<Value>,
    target: &str,
    enough: impl Fn(&[&Value]) -> bool,
) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let hits: Vec<&Value> = seen.iter().filter(|v| v["target"] == target).collect();
        if enough(&hits) {
            return hits.into_iter().cloned().collect();
        }
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(!left.is_zero(), "no {target} line as expected; JSON lines seen:\n{seen:#?}");
        if let Ok(line) = rx.recv_timeout(left.min(Duration::from_millis(200)))
            && let Ok(v) = serde_json::from_str::<Value>(&line)
        {
            seen.push(v);
        }
    }
}

#[test]
fn request_and_audit_lines_carry_the_documented_fields() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let cfg = dir.path().join("idnode.toml");
    // Free ports are picked, then bound by the daemon: another process on
    // this machine can take one in between, so a start that exits before
    // listening is retried with new ports (at most 3 times).
    let mut attempt = 0;
    let (handle, http, _daemon, rx) = loop {
        attempt += 1;
        let (handle, http, admin) = (free_port(), free_port(), free_port());
        std::fs::write(
            &cfg,
            format!(
                r#"[node]
    node_prefix = "88.118.8"
    data_dir = "{}"
    [handle]
    udp_listen = "127.0.0.1:{handle}"
    tcp_listen = "127.0.0.1:{handle}"
    udp_sockets = 1
    [http]
    listen = "127.0.0.1:{http}"
    [http.tls]
    enabled = false
    [admin]
    listen = "127.0.0.1:{admin}"
    [telemetry]
    log_format = "json"
    log_level = "warn,idnode::audit=info,idnode::request=info"
    [logs]
    requests = true
    request_sample = 1
    "#,
                data.display()
            ),
        )
        .unwrap();
        let mut child = Command::new(idnode_bin())
            .arg("--config")
            .arg(&cfg)
            .arg("serve")
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let stderr = child.stderr.take().unwrap();
        let daemon = Daemon(child);
        let (ready_tx, ready_rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if line.starts_with("idnode: listening ") {
                    let _ = ready_tx.send(());
                }
            }
        });
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        match ready_rx.recv_timeout(Duration::from_secs(60)) {
            Ok(()) => break (handle, http, daemon, rx),
            Err(_) if attempt < 3 => continue,
            Err(_) => {
                let lines: Vec<String> = rx.try_iter().collect();
                panic!("the daemon did not start listening:\n{}", lines.join("\n"));
            }
        }
    };
    let mut seen = Vec::new();

    // Handle door (UDP): one resolution.
    let o = cli(&cfg, &["resolve", "0.NA/88.118.8", "--server", &format!("127.0.0.1:{handle}")]);
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    let lines = wait_for(&rx, &mut seen, "idnode::request", |h| h.iter().any(|v| v["door"] == "handle-udp"));
    let udp = lines.iter().find(|v| v["door"] == "handle-udp").unwrap();
    assert_eq!(udp["handle"], "0.NA/88.118.8", "{udp}");
    assert_eq!(udp["opcode"], 1, "{udp}");
    assert_eq!(udp["rc"], 1, "{udp}");
    assert!(udp["client"].as_str().unwrap().starts_with("127.0.0.1:"), "{udp}");
    assert!(udp["elapsed_us"].is_u64(), "{udp}");

    // HTTP door: path without the query string.
    let (status, _) = http_get(format!("127.0.0.1:{http}").parse().unwrap(), "/healthz?token=not-logged").unwrap();
    assert_eq!(status, 200);
    let lines = wait_for(&rx, &mut seen, "idnode::request", |h| h.iter().any(|v| v["door"] == "http"));
    let line = lines.iter().find(|v| v["door"] == "http").unwrap();
    assert_eq!(
        (line["method"].as_str(), line["path"].as_str(), line["status"].as_u64()),
        (Some("GET"), Some("/healthz"), Some(200))
    );

    // An administrative write through the daemon's admin API: one audit line.
    let o = cli(&cfg, &["prefix", "create", "88.118.8.3003"]);
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    let audit = wait_for(&rx, &mut seen, "idnode::audit", |h| {
        h.iter().any(|v| v["object"].as_str().is_some_and(|o| o.contains("88.118.8.3003")))
    });
    let e = audit.iter().find(|v| v["object"].as_str().unwrap().contains("88.118.8.3003")).unwrap();
    for field in ["actor", "action", "outcome", "origin"] {
        assert!(e[field].is_string(), "audit line without {field}: {e}");
    }
    assert!(e["seq"].as_u64().unwrap() > 0, "{e}");
    assert!(e["time"].as_u64().unwrap() > 1_600_000_000, "{e}");
    assert!(!e["action"].as_str().unwrap().is_empty(), "{e}");

    // Never the admin secret, anywhere in the log stream.
    let secret = std::fs::read_to_string(data.join("admin.secret")).unwrap();
    let secret = secret.trim();
    assert!(secret.len() > 20);
    while let Ok(line) = rx.recv_timeout(Duration::from_millis(200)) {
        if let Ok(v) = serde_json::from_str::<Value>(&line) {
            seen.push(v);
        }
    }
    for v in &seen {
        assert!(!v.to_string().contains(secret), "a log line holds the admin secret: {v}");
    }
}
