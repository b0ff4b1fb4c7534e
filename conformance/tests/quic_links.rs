//! The links between nodes over QUIC (mutual TLS, ALPN `hdl`): secondary
//! A's outbox delivers a prefix handle to the top node over the top's QUIC
//! door, and mirror M follows A over A's QUIC door; the door counters of
//! the receiving nodes prove the transport. The same links over TCP are
//! `federation.rs` and `mirror.rs` (no QUIC configured); recursion over
//! QUIC and its TCP fallback is `recursion.rs`.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use idnode_conformance::{Node, Setup, http_get, idnode_bin};

fn node_cert(dir: &Path, name: &str) -> (PathBuf, PathBuf) {
    let ck = rcgen::generate_simple_self_signed(vec!["idnode".to_owned()]).unwrap();
    let (crt, key) = (dir.join(format!("{name}.crt")), dir.join(format!("{name}.key")));
    std::fs::write(&crt, ck.cert.pem()).unwrap();
    std::fs::write(&key, ck.signing_key.serialize_pem()).unwrap();
    (crt, key)
}

fn ok(cfg: &Path, args: &[&str]) -> String {
    let o = Command::new(idnode_bin())
        .arg("--config")
        .arg(cfg)
        .args(args)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert_eq!(o.status.code(), Some(0), "idnode {args:?}\n{out}\n{}", String::from_utf8_lossy(&o.stderr));
    out
}

fn quic_requests(node: &Node, opcode: u32) -> u64 {
    let (status, body) = http_get(node.admin, "/metrics").unwrap();
    assert_eq!(status, 200);
    body.lines()
        .filter(|l| {
            l.starts_with("idnode_requests_total{")
                && l.contains("door=\"handle-quic\"")
                && l.contains(&format!("opcode=\"{opcode}\""))
                && l.contains("rc=\"1\"")
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum::<f64>() as u64
}

fn wait_for<T>(secs: u64, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(t) = f() {
            return t;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn quic_toml(listen: bool, crt: &Path, key: &Path, trusted: &[&Path], peers: &[(String, String)]) -> String {
    let trusted: Vec<String> = trusted.iter().map(|p| format!("\"{}\"", p.display())).collect();
    let mut t = format!(
        "\n[federation.quic]\n{}cert_file = \"{}\"\nkey_file = \"{}\"\ntrusted_peers = [{}]\n",
        if listen { "listen = \"127.0.0.1:0\"\n" } else { "" },
        crt.display(),
        key.display(),
        trusted.join(", ")
    );
    for (tcp, quic) in peers {
        t.push_str(&format!("\n[[federation.quic.peers]]\ntcp = \"{tcp}\"\nquic = \"{quic}\"\n"));
    }
    t
}

#[test]
fn outbox_and_mirror_travel_over_quic() {
    let work = tempfile::tempdir().unwrap();
    let (top_crt, top_key) = node_cert(work.path(), "top");
    let (a_crt, a_key) = node_cert(work.path(), "a");
    let (m_crt, m_key) = node_cert(work.path(), "m");
    let secret = work.path().join("a-at-top.secret");
    std::fs::write(&secret, "quic-link-secret-0123456789abcdef\n").unwrap();

    let top = Node::start(&Setup {
        node_prefix: "88".into(),
        node_toml: "role = \"top\"".into(),
        init: true,
        extra_toml: format!(
            "\n[federation]\nderived_prefixes = [\"88\"]\n\n[[federation.admitted]]\nidentity = \"300:0.NA/88.118.8\"\nprefixes = [\"88.118.8\"]\nsecret_file = \"{}\"\n{}",
            secret.display(),
            quic_toml(true, &top_crt, &top_key, &[&a_crt], &[])
        ),
        ..Setup::default()
    })
    .expect("top starts");
    let top_quic = top.door("handle-quic").expect("the top's QUIC door").to_string();
    let a = Node::start(&Setup {
        node_prefix: "88.118.8".into(),
        extra_toml: format!(
            "\n[federation]\ntop = \"{}\"\nsecret_file = \"{}\"\nretry_min_ms = 100\nretry_max_ms = 400\n{}\n[mirror]\nreplicas = [\"300:0.NA/88.118.8\"]\n",
            top.handle_tcp,
            secret.display(),
            quic_toml(true, &a_crt, &a_key, &[&top_crt, &m_crt], &[(top.handle_tcp.to_string(), top_quic)])
        ),
        ..Setup::default()
    })
    .expect("A starts");
    let a_quic = a.door("handle-quic").expect("A's QUIC door").to_string();

    // The outbox: A's prefix handles reach the top over its QUIC door.
    wait_for(30, "prefix creates over QUIC at the top", || (quic_requests(&top, 100) >= 1).then_some(()));
    ok(&a.config, &["id", "put", "88.118.8.1001/QUIC-1", "1:URL:https://a.example/q1"]);

    // The mirror: M follows A over A's QUIC door.
    let m = Node::start(&Setup {
        node_prefix: "88.118.8".into(),
        node_toml: "role = \"mirror\"".into(),
        extra_toml: format!(
            "\n[mirror]\nprimary = \"{}\"\nsecret_file = \"{}\"\npoll_ms = 50\n{}",
            a.handle_tcp,
            a.dir.path().join("data").join("admin.secret").display(),
            quic_toml(false, &m_crt, &m_key, &[&a_crt], &[(a.handle_tcp.to_string(), a_quic)])
        ),
        ..Setup::default()
    })
    .expect("mirror starts");
    wait_for(30, "the mirror's copy", || {
        let s: serde_json::Value = serde_json::from_str(&ok(&m.config, &["stats", "--json"])).unwrap();
        (s["federation"]["mirror"]["lagChanges"] == 0 && s["federation"]["mirror"]["appliedSeq"].as_u64()? > 0)
            .then_some(())
    });
    assert!(ok(&m.config, &["id", "get", "88.118.8.1001/QUIC-1"]).contains("https://a.example/q1"));
    assert!(quic_requests(&a, 1002) >= 1, "the dump travelled over QUIC");
    assert!(quic_requests(&a, 1001) >= 1, "the log travelled over QUIC");
}
