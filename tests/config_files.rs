//! The configuration as an operator meets it: the example in deploy/ loads
//! through the real loader, environment overrides apply, mistakes are
//! named, and `check-config` exits 0 / 64.

mod common;

use common::{idnode, repo_root, run, stderr, stdout};

const EX_USAGE: i32 = 64;

#[test]
fn deploy_example_config_is_valid() {
    let path = repo_root().join("deploy/idnode.toml");
    let o = run(idnode().arg("check-config").arg("--config").arg(&path).arg("--print"));
    assert_eq!(o.status.code(), Some(0), "stdout:\n{}\nstderr:\n{}", stdout(&o), stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("OK ("), "{out}");
    // The printed effective config is what the example says.
    assert!(out.contains("node_prefix = \"88.118.8\""), "{out}");
    assert!(out.contains("udp_listen = \"0.0.0.0:2641\""), "{out}");
    assert!(out.contains("log_format = \"json\""), "{out}");
    assert!(out.contains("recursion = true"), "{out}");
    assert!(out.contains("root = [\"203.0.113.1:2641\"]"), "{out}");
    assert!(out.contains("top = \"203.0.113.1:2641\""), "{out}");
    assert!(out.contains("changelog_max_age_days = 30"), "{out}");
}

#[test]
fn deploy_top_example_config_is_valid() {
    let path = repo_root().join("deploy/idnode-top.toml");
    let o = run(idnode().arg("check-config").arg("--config").arg(&path).arg("--print"));
    assert_eq!(o.status.code(), Some(0), "stdout:\n{}\nstderr:\n{}", stdout(&o), stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("role = \"top\""), "{out}");
    assert!(out.contains("derived_prefixes = [\"88\"]"), "{out}");
    assert!(out.contains("identity = \"300:0.NA/88.118.8\""), "{out}");
}

#[test]
fn embedded_default_is_valid_and_loopback() {
    let o = run(idnode().args(["check-config", "--print"]));
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("OK (embedded default configuration)"), "{out}");
    assert!(out.contains("udp_listen = \"127.0.0.1:2641\""), "{out}");
    assert!(out.contains("tcp_listen = \"127.0.0.1:2641\""), "{out}");
}

#[test]
fn env_overrides_apply_on_top_of_the_file() {
    let path = repo_root().join("deploy/idnode.toml");
    let o = run(idnode()
        .arg("check-config")
        .arg("--print")
        .env("IDNODE_CONFIG", &path)
        .env("IDNODE_HTTP__LISTEN", "127.0.0.1:9000")
        .env("IDNODE_NODE__DATA_DIR", "/tmp/idnode-elsewhere")
        .env("IDNODE_HANDLE__UDP_SOCKETS", "3"));
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("listen = \"127.0.0.1:9000\""), "{out}");
    assert!(out.contains("data_dir = \"/tmp/idnode-elsewhere\""), "{out}");
    assert!(out.contains("udp_sockets = 3"), "{out}");
    // Untouched settings still come from the file.
    assert!(out.contains("log_format = \"json\""), "{out}");

    // --data-dir beats the environment.
    let o = run(idnode()
        .args(["check-config", "--print", "--data-dir", "/srv/x"])
        .env("IDNODE_NODE__DATA_DIR", "/tmp/idnode-elsewhere"));
    assert!(stdout(&o).contains("data_dir = \"/srv/x\""), "{}", stdout(&o));
}

#[test]
fn unknown_field_is_rejected_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    std::fs::write(&path, "[http]\nlisten = \"127.0.0.1:8000\"\nlisten_adress = \"x\"\n").unwrap();
    let o = run(idnode().arg("check-config").arg("--config").arg(&path));
    assert_eq!(o.status.code(), Some(EX_USAGE));
    let err = stderr(&o);
    assert!(err.contains("listen_adress"), "{err}");
    assert!(err.contains("line 3"), "{err}");

    let o = run(idnode().arg("check-config").env("IDNODE_HTTP__LISTN", "127.0.0.1:1"));
    assert_eq!(o.status.code(), Some(EX_USAGE));
    let err = stderr(&o);
    assert!(err.contains("IDNODE_HTTP__LISTN") && err.contains("http.listn"), "{err}");
}

#[test]
fn check_config_lists_every_problem_and_exits_64() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    std::fs::write(
        &path,
        "[node]\nnode_prefix = \"88..8\"\n[store]\ncache_mib = 0\n[dns]\nenabled = true\n[http]\nlisten = \"0.0.0.0:2641\"\n",
    )
    .unwrap();
    let o = run(idnode().arg("check-config").arg("--config").arg(&path));
    assert_eq!(o.status.code(), Some(EX_USAGE));
    let out = stdout(&o);
    for field in ["node.node_prefix", "store.cache_mib", "dns.zones", "http.listen"] {
        assert!(out.lines().any(|l| l.starts_with(field)), "{field} missing:\n{out}");
    }
    assert!(!out.contains("OK"), "{out}");

    // Other commands refuse an invalid config the same way.
    let o = run(idnode().arg("serve").arg("--config").arg(&path).arg("--data-dir").arg(dir.path().join("d")));
    assert_eq!(o.status.code(), Some(EX_USAGE));
    assert!(stderr(&o).contains("store.cache_mib"), "{}", stderr(&o));
    assert!(!dir.path().join("d").exists(), "nothing may be created on a config error");
}

#[test]
fn missing_config_file_and_bad_usage_exit_64() {
    let o = run(idnode().args(["check-config", "--config", "/nonexistent/idnode.toml"]));
    assert_eq!(o.status.code(), Some(EX_USAGE));
    assert!(stderr(&o).contains("/nonexistent/idnode.toml"), "{}", stderr(&o));

    let o = run(idnode().arg("no-such-command"));
    assert_eq!(o.status.code(), Some(EX_USAGE));
    let o = run(idnode().args(["check-config", "--no-such-flag"]));
    assert_eq!(o.status.code(), Some(EX_USAGE));
    let o = run(idnode().arg("--help"));
    assert_eq!(o.status.code(), Some(0));
    let o = run(idnode().arg("version"));
    assert_eq!(o.status.code(), Some(0));
    assert!(stdout(&o).starts_with("idnode "), "{}", stdout(&o));
}

#[test]
fn deploy_mirror_example_config_is_valid() {
    let path = repo_root().join("deploy/idnode-mirror.toml");
    let o = run(idnode().arg("check-config").arg("--config").arg(&path).arg("--print"));
    assert_eq!(o.status.code(), Some(0), "stdout:\n{}\nstderr:\n{}", stdout(&o), stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("role = \"mirror\""), "{out}");
    assert!(out.contains("primary = \"192.0.2.10:2641\""), "{out}");
}
