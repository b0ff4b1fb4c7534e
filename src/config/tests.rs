//! Tests of config loading, overrides and validation.

use super::*;

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

fn load_str(text: &str, pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
    Config::from_toml_with_env(text, "test.toml", env(pairs))
}

#[test]
fn defaults_are_valid() {
    assert_eq!(Config::default().validate(), vec![]);
    let (embedded, source) = Config::load(None, Vec::new()).unwrap();
    assert_eq!(source, Source::Embedded);
    assert_eq!(embedded.validate(), vec![]);
    assert!(embedded.handle.udp_listen.ip().is_loopback());
    assert!(embedded.handle.tcp_listen.ip().is_loopback());
    assert!(Config::default().handle.udp_listen.ip().is_unspecified());
}

#[test]
fn defaults_round_trip_through_toml() {
    let text = toml::to_string_pretty(&Config::default()).unwrap();
    assert_eq!(load_str(&text, &[]).unwrap(), Config::default());
}

#[test]
fn unknown_field_is_named() {
    let err = load_str("[http]\nlisten = \"127.0.0.1:1\"\nlistn = \"x\"\n", &[]).unwrap_err().to_string();
    assert!(err.contains("listn"), "{err}");
    assert!(err.contains("line 3"), "{err}");
    let err = load_str("[htp]\n", &[]).unwrap_err().to_string();
    assert!(err.contains("htp"), "{err}");
}

#[test]
fn env_overrides_apply_on_top_of_the_file() {
    let cfg = load_str(
        "[http]\nlisten = \"127.0.0.1:8001\"\n[node]\nnode_prefix = \"88.1\"\n",
        &[
            ("IDNODE_HTTP__LISTEN", "127.0.0.1:9000"),
            ("IDNODE_NODE__DATA_DIR", "/tmp/x"),
            ("IDNODE_NODE__NODE_PREFIX", "86"),
            ("IDNODE_HANDLE__UDP_SOCKETS", "3"),
            ("IDNODE_HTTP__ALLOW_PLAIN_HTTP_AUTH", "true"),
            ("IDNODE_HANDLE__SITE__ADDRESSES", "10.0.0.1, 10.0.0.2"),
            ("IDNODE_DNS__MAX_UDP_PAYLOAD", "1400"),
            ("IDNODE_NODE__ROLE", "top"),
            ("IDNODE_HANDLE__SITE__RECORD_FILE", "site.bin"),
            ("IDNODE_CONFIG", "ignored.toml"),
            ("PATH", "/bin"),
        ],
    )
    .unwrap();
    assert_eq!(cfg.http.listen, "127.0.0.1:9000".parse().unwrap());
    assert_eq!(cfg.node.data_dir, PathBuf::from("/tmp/x"));
    assert_eq!(cfg.node.node_prefix, "86");
    assert_eq!(cfg.node.role, Role::Top);
    assert_eq!(cfg.handle.udp_sockets, 3);
    assert!(cfg.http.allow_plain_http_auth);
    assert_eq!(cfg.handle.site.addresses, vec!["10.0.0.1", "10.0.0.2"]);
    assert_eq!(cfg.dns.max_udp_payload, 1400);
    assert_eq!(cfg.handle.site.record_file, Some(PathBuf::from("site.bin")));
}

#[test]
fn bad_env_overrides_name_the_variable() {
    for (var, val, needle) in [
        ("IDNODE_HTTP__LISTN", "x", "http.listn"),
        ("IDNODE_HANDLE__UDP_SOCKETS", "many", "integer"),
        ("IDNODE_HTTP__LISTEN", "nowhere", "socket address"),
        ("IDNODE_NODE__ROLE", "root", "root"),
        ("IDNODE_HANDLE__SITE", "x", "section"),
        ("IDNODE_HTTP____LISTEN", "x", "empty name"),
    ] {
        let err = load_str("", &[(var, val)]).unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, ConfigError::Env { .. }), "{msg}");
        assert!(msg.contains(var), "{msg}");
        assert!(msg.contains(needle), "{needle} not in {msg}");
    }
}

#[test]
fn validate_reports_every_problem() {
    let mut cfg = Config::default();
    cfg.node.node_prefix = "88..1".into();
    cfg.store.cache_mib = 0;
    cfg.handle.tcp_max_connections = 0;
    cfg.handle.site.addresses = vec!["0.0.0.0".into(), "host".into()];
    cfg.http.listen = "0.0.0.0:2641".parse().unwrap();
    cfg.dns.enabled = true;
    cfg.dns.max_udp_payload = 100;
    cfg.limits.max_message_bytes = 1 << 20;
    cfg.telemetry.log_level = "info,[".into();
    cfg.http.tls.key_file = cfg.http.tls.cert_file.clone();
    cfg.http.tls.self_signed_names = vec!["a b".into()];
    cfg.admin.server_admins = vec!["300:0.NA/88.118.8".into(), "admin".into()];
    cfg.node.role = Role::Mirror;
    let fields: Vec<String> = cfg.validate().into_iter().map(|p| p.field).collect();
    for want in [
        "node.node_prefix",
        "store.cache_mib",
        "handle.tcp_max_connections",
        "handle.site.addresses[0]",
        "handle.site.addresses[1]",
        "http.listen",
        "dns.zones",
        "dns.max_udp_payload",
        "node.role",
        "limits.max_message_bytes",
        "telemetry.log_level",
        "http.tls.key_file",
        "http.tls.self_signed_names[0]",
        "admin.server_admins[1]",
    ] {
        assert!(fields.iter().any(|f| f == want), "{want} missing from {fields:?}");
    }
}

#[test]
fn admin_api_must_be_reachable() {
    let mut cfg = Config::default();
    assert!(cfg.admin.listen.ip().is_loopback(), "the admin door is loopback by default");
    cfg.admin.listen = "192.0.2.1:8001".parse().unwrap();
    assert_eq!(cfg.validate(), vec![], "HTTPS reaches it");
    cfg.http.tls.enabled = false;
    let fields: Vec<String> = cfg.validate().into_iter().map(|p| p.field).collect();
    assert_eq!(fields, ["admin.listen"]);
    cfg.admin.api_enabled = false;
    assert_eq!(cfg.validate(), vec![]);
    cfg.admin.api_enabled = true;
    cfg.admin.listen = "0.0.0.0:8001".parse().unwrap();
    assert_eq!(cfg.validate(), vec![], "loopback clients reach 0.0.0.0");
    cfg.admin.listen = "127.0.0.1:8000".parse().unwrap();
    let fields: Vec<String> = cfg.validate().into_iter().map(|p| p.field).collect();
    assert_eq!(fields, ["admin.listen"], "collides with http.listen");
}

#[test]
fn port_zero_never_clashes() {
    let mut cfg = Config::default();
    cfg.handle.tcp_listen = "127.0.0.1:0".parse().unwrap();
    cfg.http.listen = "127.0.0.1:0".parse().unwrap();
    assert_eq!(cfg.validate(), vec![]);
}

#[test]
fn relative_secret_paths_are_under_the_data_dir() {
    let mut cfg = Config::default();
    cfg.node.data_dir = "/var/lib/idnode".into();
    assert_eq!(cfg.admin_secret_path(), PathBuf::from("/var/lib/idnode/admin.secret"));
    cfg.admin.secret_file = "/etc/idnode/admin.secret".into();
    assert_eq!(cfg.admin_secret_path(), PathBuf::from("/etc/idnode/admin.secret"));
    assert_eq!(cfg.server_key_path(), PathBuf::from("/var/lib/idnode/server.key"));
}

#[test]
fn site_addresses_fall_back_to_the_listener() {
    let mut cfg = Config::default();
    let any: IpAddr = "0.0.0.0".parse().unwrap();
    let lan: IpAddr = "192.0.2.7".parse().unwrap();
    assert_eq!(cfg.site_addresses(any), vec!["127.0.0.1".parse::<IpAddr>().unwrap()]);
    assert_eq!(cfg.site_addresses(lan), vec![lan]);
    cfg.handle.site.addresses = vec!["203.0.113.10".into(), "2001:db8::1".into()];
    assert_eq!(cfg.site_addresses(lan).len(), 2);
}

#[test]
fn secret_debug_is_redacted() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s");
    std::fs::write(&path, "hunter2\n").unwrap();
    let s = Secret::from_file(&path).unwrap();
    assert_eq!(s.expose(), b"hunter2");
    assert!(!format!("{s:?}").contains("hunter2"));
}
