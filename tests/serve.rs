//! The daemon as a black box: first run creates a demo store, it listens on
//! the ports it announces, the operational endpoints answer, store commands
//! go through its admin API while it holds the store (and say why they
//! cannot when that API is off), and SIGTERM exits 0 after a flush.

mod common;

use common::{Daemon, http_get, idnode, run, stderr, stdout};

#[test]
fn serve_first_run_endpoints_lock_and_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let daemon = Daemon::start(&data);

    // First run initialised the directory with demo data.
    assert!(daemon.stdout_head.contains("demo data"), "{}", daemon.stdout_head);
    for f in ["server.key", "admin.secret"] {
        let mode = std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(data.join(f)).unwrap().permissions());
        assert_eq!(mode & 0o777, 0o600, "{f}");
    }
    let secret = std::fs::read_to_string(data.join("admin.secret")).unwrap();
    assert!(!daemon.stdout_head.contains(secret.trim()), "the admin secret must never be printed");

    let http = daemon.doors["http"];
    assert!(http.ip().is_loopback() && http.port() != 0);
    assert_eq!(http_get(http, "/healthz").0, 200);
    assert_eq!(http_get(http, "/readyz").0, 200);
    // /metrics is on the admin door only (loopback); the record count is
    // computed in the background at start, never per scrape.
    assert_eq!(http_get(http, "/metrics").0, 404);
    let admin = daemon.doors["admin"];
    assert!(admin.ip().is_loopback() && admin.port() != 0);
    let mut body = String::new();
    for _ in 0..50 {
        let (status, b) = http_get(admin, "/metrics");
        assert_eq!(status, 200);
        body = b;
        if body.contains("idnode_store_records") {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(body.contains("idnode_store_records"), "{body}");

    // A store command while the daemon holds the store goes through its
    // admin API (design.md §5) ...
    let o = run(idnode().args(["id", "get", "88.118.8.1001/LOT2026-000451", "--data-dir"]).arg(&data));
    assert_eq!(o.status.code(), Some(0), "stdout:\n{}\nstderr:\n{}", stdout(&o), stderr(&o));
    assert!(stdout(&o).contains("CP-200"), "{}", stdout(&o));
    // ... and with the admin API off it fails and says why.
    let o = run(idnode()
        .args(["id", "get", "88.118.8.1001/LOT2026-000451", "--data-dir"])
        .arg(&data)
        .env("IDNODE_ADMIN__API_ENABLED", "false"));
    assert_eq!(o.status.code(), Some(1), "stdout:\n{}\nstderr:\n{}", stdout(&o), stderr(&o));
    let err = stderr(&o);
    assert!(err.contains("in use") && err.contains("daemon"), "{err}");

    // init refuses to replace a node.
    let o = run(idnode().arg("init").arg("--data-dir").arg(&data));
    assert_eq!(o.status.code(), Some(64), "{}", stderr(&o));
    assert!(stderr(&o).contains("--force"), "{}", stderr(&o));

    let status = daemon.terminate();
    assert_eq!(status.code(), Some(0), "SIGTERM must drain, flush and exit 0");

    // After a clean stop the store opens again (the lock is released).
    let daemon = Daemon::start(&data);
    assert!(!daemon.stdout_head.contains("demo data"), "second run must not re-initialise");
    assert_eq!(daemon.terminate().code(), Some(0));
}

#[test]
fn keygen_prints_hs_pubkey_and_never_overwrites() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("k.pem");
    let o = run(idnode().arg("keygen").arg("--out").arg(&key));
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = stdout(&o);
    // HS_PUBKEY starts with bytes "RSA_PUB_KEY": u32 length 11 + the name.
    assert!(out.contains("HS_PUBKEY hex:    0000000b5253415f5055425f4b4559"), "{out}");
    assert!(out.contains("HS_PUBKEY base64: "), "{out}");
    let pem = std::fs::read_to_string(&key).unwrap();
    assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----"), "PKCS#8 PEM expected");
    assert!(!out.contains("PRIVATE KEY"), "the private key must not be printed");

    let o = run(idnode().arg("keygen").arg("--out").arg(&key));
    assert_eq!(o.status.code(), Some(64));
    assert_eq!(std::fs::read_to_string(&key).unwrap(), pem);
}

#[test]
fn init_then_force() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("d");
    let o = run(idnode().arg("init").arg("--data-dir").arg(&data));
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stdout(&o).contains("300:0.NA/88.118.8"), "{}", stdout(&o));
    let first = std::fs::read(data.join("server.key")).unwrap();

    let o = run(idnode().arg("init").arg("--data-dir").arg(&data));
    assert_eq!(o.status.code(), Some(64));
    assert_eq!(std::fs::read(data.join("server.key")).unwrap(), first);

    let o = run(idnode().args(["init", "--force", "--demo"]).arg("--data-dir").arg(&data));
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_ne!(std::fs::read(data.join("server.key")).unwrap(), first, "--force makes a new key");
}
