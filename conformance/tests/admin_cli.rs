//! Black-box tests of the admin API and the CLI commands that use it,
//! against the built binary on loopback: while the daemon holds the store,
//! `idnode id get|put|rm|import|export` go through its admin API (and the
//! daemon's Handle doors see the writes at once); `idnode prefix list` and
//! `idnode stats` show resolutions made over Handle UDP (counted in memory,
//! persisted on demand, surviving a kill -9 once persisted); the admin API
//! refuses unauthenticated requests with a JSON 401; `/openapi.json` is the
//! committed document; with the daemon stopped the same commands open the
//! store themselves.

mod rest_util;

use std::path::Path;
use std::process::Output;

use idnode_conformance::cli;
use rest_util::{TestNode, start};
use serde_json::Value;

const ENT: &str = "88.118.8.1001";
const DEMO: &str = "88.118.8.1001/LOT2026-000451";

fn out(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn err(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Runs a command that must succeed; returns its stdout.
fn ok(cfg: &Path, args: &[&str]) -> String {
    let o = cli(cfg, args);
    assert_eq!(o.status.code(), Some(0), "idnode {args:?}\nstdout:\n{}\nstderr:\n{}", out(&o), err(&o));
    out(&o)
}

fn json(cfg: &Path, args: &[&str]) -> Value {
    let text = ok(cfg, args);
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("idnode {args:?} printed no JSON ({e}): {text}"))
}

fn resolve(n: &TestNode, handle: &str) -> Output {
    let server = n.node.handle_udp.to_string();
    cli(&n.node.config, &["resolve", handle, "--server", &server])
}

fn bearer(n: &TestNode) -> String {
    format!("Bearer {}", n.secret)
}

/// The resolutions `idnode stats --prefix ENT --json` reports.
fn stats_resolutions(n: &TestNode) -> u64 {
    let v = json(&n.node.config, &["stats", "--prefix", ENT, "--json"]);
    v["prefixes"][0]["resolutions"].as_u64().unwrap_or_else(|| panic!("{v}"))
}

#[test]
fn id_commands_go_through_the_running_daemon() {
    let n = start("");
    let cfg = n.node.config.clone();
    let h = "88.118.8.1001/ADMIN-CLI-1";

    let o = ok(&cfg, &["id", "put", h, "1:URL:https://admin.example/1", "2:EMAIL:ops@example.com"]);
    assert!(o.contains("stored"), "{o}");
    // The daemon's Handle door answers with what the CLI wrote.
    let r = resolve(&n, h);
    assert_eq!(r.status.code(), Some(0), "{}{}", out(&r), err(&r));
    assert!(out(&r).contains("https://admin.example/1"), "{}", out(&r));

    let line = ok(&cfg, &["id", "get", h, "--json"]);
    let v: Value = serde_json::from_str(line.trim()).unwrap();
    assert_eq!(v["handle"], h);
    assert_eq!(v["values"][0]["data"], "https://admin.example/1");
    let table = ok(&cfg, &["id", "get", DEMO]);
    assert!(table.contains("CP-200"), "{table}");

    let o = cli(&cfg, &["id", "put", h, "1:URL:https://other"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(err(&o).contains("already exists"), "{}", err(&o));
    ok(&cfg, &["id", "put", h, "1:URL:https://admin.example/2", "--overwrite"]);
    assert!(out(&resolve(&n, h)).contains("https://admin.example/2"));
    // A malformed value spec is a usage error (64), found before any request.
    assert_eq!(cli(&cfg, &["id", "put", h, "nonsense"]).status.code(), Some(64));

    // Import: per-line failures with the file's line numbers, exit 1, the rest stored.
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.jsonl");
    std::fs::write(
        &input,
        format!(
            "{}\nnot json\n{}\n{}\n",
            r#"{"handle":"88.118.8.1001/IMP-1","values":[{"index":1,"type":"URL","data":"http://imp/1"}]}"#,
            r#"{"handle":"88.118.8.1001/LOT2026-000451","values":[{"index":1,"type":"URL","data":"dup"}]}"#,
            r#"{"handle":"88.118.8.1001/IMP-2","values":[{"index":1,"type":"URL","data":"http://imp/2"}]}"#
        ),
    )
    .unwrap();
    let o = cli(&cfg, &["id", "import", input.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{}{}", out(&o), err(&o));
    assert!(out(&o).contains("imported 2 records, 2 failed"), "{}", out(&o));
    assert!(err(&o).contains("line 2: invalid JSON"), "{}", err(&o));
    assert!(err(&o).contains("line 3: 88.118.8.1001/LOT2026-000451: already exists"), "{}", err(&o));
    assert!(out(&resolve(&n, "88.118.8.1001/IMP-2")).contains("http://imp/2"));

    // CSV goes through the same path.
    let csv = dir.path().join("in.csv");
    std::fs::write(
        &csv,
        "handle,index,type,data\n88.118.8.1001/CSV-1,1,URL,http://csv/1\n88.118.8.1001/CSV-1,2,EMAIL,a@b\n",
    )
    .unwrap();
    assert!(ok(&cfg, &["id", "import", csv.to_str().unwrap()]).contains("imported 1 records, 0 failed"));

    // Export streams every record of the prefix.
    let exported = dir.path().join("out.jsonl");
    let o = cli(&cfg, &["id", "export", "--prefix", ENT, "--out", exported.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    let text = std::fs::read_to_string(&exported).unwrap();
    assert_eq!(text.lines().count(), 3 + 1 + 2 + 1, "{text}");
    assert!(err(&o).contains("exported 7 records"), "{}", err(&o));
    assert!(text.lines().all(|l| serde_json::from_str::<Value>(l).is_ok()));

    assert!(ok(&cfg, &["id", "rm", h]).contains("deleted"));
    let o = cli(&cfg, &["id", "get", h]);
    assert_eq!(o.status.code(), Some(1));
    assert!(err(&o).contains("not found"), "{}", err(&o));
    assert_ne!(resolve(&n, h).status.code(), Some(0), "deleted on the daemon");
    assert_eq!(cli(&cfg, &["id", "rm", h]).status.code(), Some(1));

    // Every write is in the audit log with the client address.
    let a = n.admin_http().send("GET", "/admin/v1/audit?limit=1000", &[("Authorization", &bearer(&n))], None);
    assert_eq!(a.status, 200, "{}", a.body);
    let entries = a.json()["entries"].as_array().unwrap().clone();
    let has = |action: &str, outcome: &str| {
        entries.iter().any(|e| e["action"] == action && e["outcome"] == outcome && e["client"] == "127.0.0.1")
    };
    assert!(has("record.create", "ok") && has("record.create", "already_exists"), "{entries:?}");
    assert!(has("record.delete", "ok") && has("record.delete", "not_found"), "{entries:?}");
    assert!(entries.iter().any(|e| e["action"] == "records.import"), "{entries:?}");
    assert!(!a.body.contains(&n.secret));
}

#[test]
fn stats_and_prefix_list_show_handle_udp_resolutions() {
    let mut n = start("");
    let cfg = n.node.config.clone();
    assert_eq!(stats_resolutions(&n), 0);
    for _ in 0..3 {
        let r = resolve(&n, DEMO);
        assert_eq!(r.status.code(), Some(0), "{}{}", out(&r), err(&r));
    }
    // Counted in memory by the engine; the admin API reads pending counts too.
    let got = stats_resolutions(&n);
    assert!(got >= 3, "resolutions {got}");
    let stats = ok(&cfg, &["stats", "--prefix", ENT, "--from", "yesterday", "--to", "today"]);
    assert!(stats.contains(ENT) && stats.contains("total"), "{stats}");

    let list = json(&cfg, &["prefix", "list", "--json"]);
    let p = list["prefixes"].as_array().unwrap().iter().find(|p| p["prefix"] == ENT).cloned().unwrap();
    assert_eq!(p["resolutions"].as_u64(), Some(got), "{p}");
    assert_eq!(p["registrations"].as_u64(), Some(3), "the demo identifiers");
    let table = ok(&cfg, &["prefix", "list"]);
    let row = table.lines().find(|l| l.starts_with(ENT)).unwrap_or_else(|| panic!("{table}"));
    assert!(row.split_whitespace().last() == Some(got.to_string().as_str()), "{row}");
    let one = json(&cfg, &["prefix", "get", ENT, "--json"]);
    assert_eq!((one["today"]["resolutions"].as_u64(), one["records"].as_u64()), (Some(got), Some(3)));

    // Persisted on demand, they survive a crash (SIGKILL: no shutdown flush).
    let r = n.admin_http().send("POST", "/admin/v1/stats/persist", &[("Authorization", &bearer(&n))], Some(""));
    assert_eq!(r.status, 200, "{}", r.body);
    n.node.restart().unwrap();
    assert_eq!(stats_resolutions(&n), got, "persisted counters after kill -9 and restart");
    let r = resolve(&n, DEMO);
    assert_eq!(r.status.code(), Some(0));
    assert_eq!(stats_resolutions(&n), got + 1);

    // With the daemon gone, the same commands open the store themselves.
    let r = n.admin_http().send("POST", "/admin/v1/stats/persist", &[("Authorization", &bearer(&n))], Some(""));
    assert_eq!(r.status, 200, "{}", r.body);
    n.node.kill().unwrap();
    let list = json(&cfg, &["prefix", "list", "--json"]);
    let p = list["prefixes"].as_array().unwrap().iter().find(|p| p["prefix"] == ENT).cloned().unwrap();
    assert_eq!(p["resolutions"].as_u64(), Some(got + 1), "{p}");
    let v = json(&cfg, &["stats", "--prefix", ENT, "--json"]);
    assert_eq!(v["prefixes"][0]["resolutions"].as_u64(), Some(got + 1));
    assert!(ok(&cfg, &["id", "get", DEMO]).contains("CP-200"), "offline id get");
}

#[test]
fn admin_commands_while_the_daemon_runs() {
    let n = start("");
    let cfg = n.node.config.clone();
    let v = json(
        &cfg,
        &[
            "enterprise",
            "create",
            "--name",
            "二号企业",
            "--credit-code",
            "C-CLI-2",
            "--prefix",
            "88.118.8.2002",
            "--json",
        ],
    );
    let id = v["id"].as_u64().unwrap().to_string();
    assert_eq!(v["prefixes"][0], "88.118.8.2002");
    assert!(ok(&cfg, &["enterprise", "list"]).contains("C-CLI-2"));
    assert!(ok(&cfg, &["enterprise", "get", &id]).contains("二号企业"));

    // The new prefix is served at once.
    ok(&cfg, &["id", "put", "88.118.8.2002/P1", "1:URL:http://p1"]);
    assert_eq!(resolve(&n, "88.118.8.2002/P1").status.code(), Some(0));
    // Home / unhome a prefix outside the node prefix: the Handle door follows.
    assert_ne!(resolve(&n, "99.77/X").status.code(), Some(0));
    assert!(ok(&cfg, &["prefix", "home", "99.77"]).contains("homed"));
    ok(&cfg, &["id", "put", "99.77/X", "1:URL:http://x"]);
    assert_eq!(resolve(&n, "99.77/X").status.code(), Some(0));
    ok(&cfg, &["prefix", "unhome", "99.77"]);
    let r = resolve(&n, "99.77/X");
    assert_ne!(r.status.code(), Some(0), "no longer homed here: {}", out(&r));

    // The state machine: an illegal step is refused (exit 1), legal ones go.
    ok(&cfg, &["prefix", "create", "88.118.8.3003", "--state", "awaiting-review"]);
    let o = cli(&cfg, &["prefix", "set-state", "88.118.8.3003", "enabled"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(err(&o).contains("409"), "{}", err(&o));
    ok(&cfg, &["prefix", "set-state", "88.118.8.3003", "under-review"]);
    assert!(ok(&cfg, &["prefix", "set-state", "88.118.8.3003", "enabled"]).contains("enabled"));
    // A bad state name is the caller's mistake: 64.
    assert_eq!(cli(&cfg, &["prefix", "set-state", "88.118.8.3003", "asleep"]).status.code(), Some(64));

    // Templates: copy the demo template to the new prefix, edit, delete.
    let dir = tempfile::tempdir().unwrap();
    let mut tpl = json(&cfg, &["template", "get", ENT, "1.0.0", "--json"]);
    let o = tpl.as_object_mut().unwrap();
    o.remove("prefix");
    o.remove("version");
    let f = dir.path().join("tpl.json");
    std::fs::write(&f, tpl.to_string()).unwrap();
    assert!(ok(&cfg, &["template", "put", "88.118.8.2002", "1.0", f.to_str().unwrap()]).contains("model"));
    assert!(ok(&cfg, &["template", "list", "--prefix", "88.118.8.2002"]).contains("1.0"));
    ok(&cfg, &["template", "rm", "88.118.8.2002", "1.0"]);
    assert_eq!(cli(&cfg, &["template", "get", "88.118.8.2002", "1.0"]).status.code(), Some(1));

    // Users: a generated password logs in to the SNMS API; disable stops it.
    let o = ok(&cfg, &["user", "add", "ent2", "--enterprise", &id]);
    let password = o.lines().find_map(|l| l.strip_prefix("password: ")).unwrap().to_owned();
    let login = |pw: &str| {
        let body = serde_json::json!({"username": "ent2", "password": pw}).to_string();
        n.http().send("POST", "/identity/token", &[("Content-Type", "application/json")], Some(&body)).json()
    };
    assert_eq!(login(&password)["status"], 1, "the new account logs in");
    let pw = dir.path().join("pw");
    std::fs::write(&pw, "a-new-password\n").unwrap();
    ok(&cfg, &["user", "passwd", "ent2", "--password-file", pw.to_str().unwrap()]);
    assert_ne!(login(&password)["status"], 1, "the old password no longer works");
    assert_eq!(login("a-new-password")["status"], 1);
    ok(&cfg, &["user", "disable", "ent2"]);
    assert_ne!(login("a-new-password")["status"], 1, "disabled");
    let users = json(&cfg, &["user", "list", "--json"]);
    let u = users["users"].as_array().unwrap().iter().find(|u| u["username"] == "ent2").cloned().unwrap();
    assert_eq!(u["disabled"], true);
    assert!(!users.to_string().contains("argon2"));
}

#[test]
fn admin_api_requires_credentials_and_openapi_is_served() {
    let n = start("");
    for auth in [None, Some("Bearer wrong-secret".to_owned()), Some(rest_util::basic("300%3A0.NA%2F88.118.8", "nope"))]
    {
        let headers: Vec<(&str, &str)> = auth.as_deref().map(|a| ("Authorization", a)).into_iter().collect();
        let r = n.admin_http().send("GET", "/admin/v1/prefixes", &headers, None);
        assert_eq!(r.status, 401, "{auth:?}: {}", r.body);
        assert_eq!(r.header("content-type"), Some("application/json"));
        let e = &r.json()["error"];
        assert_eq!(e["code"], "unauthenticated");
        assert!(e["message"].is_string() && e.as_object().unwrap().contains_key("field"));
        assert!(r.all("www-authenticate").iter().any(|v| v.starts_with("Bearer")));
    }
    // The node administrator: Bearer secret or Basic, over HTTP (loopback) and HTTPS.
    let ok_bearer = n.admin_http().send("GET", "/admin/v1/prefixes", &[("Authorization", &bearer(&n))], None);
    assert_eq!(ok_bearer.status, 200, "{}", ok_bearer.body);
    let basic = n.basic();
    let r = n.admin_https().send("GET", "/admin/v1/status", &[("Authorization", &basic)], None);
    assert_eq!(r.status, 200, "{}", r.body);
    // Not on the public door, even with the right secret: a JSON 404.
    for path in ["/admin/v1/status", "/admin/v1/prefixes", "/metrics"] {
        let r = n.http().send("GET", path, &[("Authorization", &bearer(&n))], None);
        assert_eq!(r.status, 404, "{path} on the public door: {}", r.body);
        assert_eq!(r.json()["error"]["code"], "not_found", "{}", r.body);
    }
    assert_eq!(r.json()["nodePrefix"], "88.118.8");
    let r = n.admin_http().send("DELETE", "/admin/v1/prefixes", &[("Authorization", &bearer(&n))], None);
    assert_eq!(r.status, 405);
    assert_eq!(r.json()["error"]["code"], "method_not_allowed");

    let doc = n.http().get("/openapi.json");
    assert_eq!(doc.status, 200);
    let file = std::fs::read_to_string(idnode_conformance::crate_dir().join("../docs/openapi.json")).unwrap();
    assert_eq!(doc.body, file, "the served document is docs/openapi.json");
    assert_eq!(doc.json()["openapi"], "3.1.0");
    assert!(doc.json()["paths"]["/admin/v1/records/{handle}"].is_object());
}
