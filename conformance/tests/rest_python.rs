//! The third-party Python Handle clients pyhandle and b2handle, installed
//! from PyPI into `.venv` by scripts/test, run their own client methods
//! unchanged against the node (conformance/python/*_scenario.py): read
//! access, register / retrieve / modify / add / delete values, generate and
//! delete handles, authenticated with HTTP Basic as the node administrator
//! `300:0.NA/<prefix>` over HTTPS (the node's self-signed certificate is
//! trusted explicitly). Only loopback is contacted.
//!
//! Without `.venv` (or without the clients in it) the test skips with a
//! message — except in CI (`CI=true`), where that is a failure.

mod rest_util;

use std::path::PathBuf;
use std::process::Command;

fn venv_python() -> Option<PathBuf> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf();
    let py = root.join(".venv/bin/python");
    let ok = py.exists()
        && Command::new(&py)
            .args(["-W", "ignore", "-c", "import pyhandle, b2handle"])
            .output()
            .is_ok_and(|o| o.status.success());
    if ok {
        return Some(py);
    }
    let why = format!("{} missing or without pyhandle/b2handle (scripts/test installs them)", py.display());
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("CI: {why}");
    }
    eprintln!("SKIPPED third-party client scenarios: {why}");
    None
}

fn run_scenario(python: &PathBuf, script: &str, node: &rest_util::TestNode) -> String {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("python");
    let out = Command::new(python)
        .current_dir(&dir)
        .arg(script)
        .env("IDNODE_URL", format!("https://{}", node.node.http))
        .env("IDNODE_HTTP_URL", format!("http://{}", node.node.http))
        .env("IDNODE_CA", &node.ca)
        .env("IDNODE_PREFIX", rest_util::PREFIX)
        .env("IDNODE_SECRET_FILE", node.data.join("admin.secret"))
        .env("NO_PROXY", "*")
        .env_remove("HTTP_PROXY")
        .env_remove("HTTPS_PROXY")
        .env_remove("http_proxy")
        .env_remove("https_proxy")
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .output()
        .expect("running the scenario");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}");
    assert!(out.status.success(), "{script} failed:\n{stdout}\n{stderr}");
    assert!(stdout.contains(" passed, 0 failed"), "{script}: no summary:\n{stdout}");
    stdout
}

#[test]
fn pyhandle_full_client_scenario() {
    let Some(py) = venv_python() else { return };
    let node = rest_util::start("");
    let out = run_scenario(&py, "pyhandle_scenario.py", &node);
    assert!(out.contains("pyhandle: 11 passed, 0 failed"), "{out}");
}

#[test]
fn b2handle_full_client_scenario() {
    let Some(py) = venv_python() else { return };
    let node = rest_util::start("");
    let out = run_scenario(&py, "b2handle_scenario.py", &node);
    assert!(out.contains("b2handle: 9 passed, 0 failed"), "{out}");
}
