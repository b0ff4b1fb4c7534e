//! The DNS front against the built binary (issue 10): aliases bound over
//! the SNMS API, then dig and kdig (Debian dnsutils, knot-dnsutils) over
//! UDP, TCP, DNS over TLS and DNS over QUIC, and dnspython (`.venv`, with
//! its aioquic DoQ client): NAPTR answers for OID, Ecode, GS1 and VAA names,
//! NXDOMAIN with SOA, REFUSED outside our zones, TC over UDP, FORMERR or
//! silence for malformed queries. The alias also reads over REST. Every
//! client is pointed at 127.0.0.1 and the node's port explicitly.

use std::net::{SocketAddr, UdpSocket};
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use idnode_conformance::http1::Http;
use idnode_conformance::{Node, Setup};
use serde_json::{Value, json};

const TARGET: &str = "88.118.8/DNS-ONE";
const URL: &str = "https://www.example.com/p/DNS-ONE";
const OID_NAME: &str = "1.3001.156.2.1.oid-res.test.";
const GS1_NAME: &str = "0.9.8.7.6.5.4.3.2.1.0.9.6.gtin.gs1.test.";
const ECODE_NAME: &str = "0000000012345.0001.1.ecode.test.";
const VAA_NAME: &str = "x444e532d4f4e45.8.118.88.vaa.test.";
const BIG_NAME: &str = "x444e532d424947.8.118.88.vaa.test.";
const MISS: &str = "2.3001.156.2.1.oid-res.test.";

fn zones() -> String {
    let mut s = String::from(
        "\n[dns]\nenabled = true\nlisten = \"127.0.0.1:0\"\ntls_listen = \"127.0.0.1:0\"\nquic_listen = \"127.0.0.1:0\"\nudp_sockets = 1\n",
    );
    for (scheme, origin) in [("oid", "oid-res.test"), ("gs1", "gs1.test"), ("ecode", "ecode.test"), ("vaa", "vaa.test")]
    {
        s.push_str(&format!(
            "[[dns.zones]]\nscheme = \"{scheme}\"\norigin = \"{origin}\"\nname_servers = [\"ns1.{origin}\"]\nhostmaster = \"hostmaster.{origin}\"\nserial = 2026\n"
        ));
    }
    s
}

/// The alias target (one URL value) and a record with 8 URL values (its
/// NAPTR answer, ~900 bytes, needs EDNS or TCP).
fn records(dir: &std::path::Path) -> PathBuf {
    let values: Vec<Value> = (1..=8)
        .map(|i| {
            json!({"index": i, "type": "URL", "data": format!("https://example.org/dns-big/{i}/{}", "y".repeat(50)),
                        "ttl": 86400, "permissions": 14, "timestamp": 0, "ttl_type": 0})
        })
        .collect();
    let path = dir.join("big.jsonl");
    let one = json!([{"index": 1, "type": "URL", "data": URL, "ttl": 86400, "permissions": 14, "timestamp": 0, "ttl_type": 0},
                     {"index": 2, "type": "EMAIL", "data": "dns@example.com", "ttl": 86400, "permissions": 14, "timestamp": 0, "ttl_type": 0}]);
    let lines = format!(
        "{}\n{}\n",
        json!({"handle": TARGET, "values": one}),
        json!({"handle": "88.118.8/DNS-BIG", "values": values})
    );
    std::fs::write(&path, lines).unwrap();
    path
}

fn snms(http: &mut Http, method: &str, path: &str, token: Option<&str>, body: &Value) -> Result<Value> {
    let (status, bytes) = http.request(method, path, token, &serde_json::to_vec(body)?)?;
    if status != 200 {
        bail!("{method} {path}: HTTP {status}");
    }
    Ok(serde_json::from_slice(&bytes)?)
}

fn bind_aliases(node: &Node) -> Result<()> {
    let secret = std::fs::read_to_string(node.dir.path().join("data/admin.secret"))?;
    let mut http = Http::new(node.http);
    let v = snms(&mut http, "POST", "/identity/token", None, &json!({"username": "admin", "password": secret.trim()}))?;
    let token = v["data"]["token"].as_str().with_context(|| format!("login: {v}"))?.to_owned();
    for (scheme, code) in [("oid", "1.2.156.3001.1"), ("gs1", "6901234567892"), ("ecode", "100010000000012345")] {
        let v = snms(
            &mut http,
            "POST",
            "/identityv2/alias",
            Some(&token),
            &json!({"scheme": scheme, "code": code, "handle": TARGET}),
        )?;
        assert_eq!(v["status"], 1, "bind {scheme}: {v}");
    }
    // A bad code is refused with the grammar's precise reason.
    let v = snms(
        &mut http,
        "POST",
        "/identityv2/alias",
        Some(&token),
        &json!({"scheme": "gs1", "code": "6901234567891", "handle": TARGET}),
    )?;
    assert_ne!(v["status"], 1, "{v}");
    assert!(v["message"].to_string().contains("check digit"), "{v}");
    // The alias reads the bound record over SNMS and REST.
    let v = snms(&mut http, "GET", "/identityv2/data/detail?handle=gs1:6901234567892", Some(&token), &Value::Null)?;
    assert_eq!(v["data"]["handle"], TARGET, "{v}");
    let (status, body) = Http::new(node.http).request("GET", "/api/handles/oid:1.2.156.3001.1", None, b"")?;
    let body = String::from_utf8_lossy(&body);
    assert!(status == 200 && body.contains(URL), "REST alias: {status} {body}");
    Ok(())
}

fn run(cmd: &str, args: &[String]) -> String {
    let out = Command::new(cmd).args(args).output().unwrap_or_else(|e| panic!("{cmd}: {e}"));
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    println!("$ {cmd} {}\n{text}", args.join(" "));
    text
}

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

fn has(tool: &str) -> bool {
    let ok = Command::new(tool).arg("-v").output().is_ok();
    if !ok {
        let why = format!("{tool} not installed (Debian dnsutils / knot-dnsutils; scripts/test installs them)");
        assert!(std::env::var("CI").as_deref() != Ok("true"), "CI: {why}");
        eprintln!("SKIPPED: {why}");
    }
    ok
}

fn dig_checks(udp: SocketAddr) {
    let at = "@127.0.0.1".to_string();
    let port = udp.port().to_string();
    let naptr = format!("\"!^.*$!{URL}!\"");
    for tcp in [false, true] {
        for (name, service) in [
            (OID_NAME, "ORS+UINF"),
            (GS1_NAME, "x-gs1+http"),
            (ECODE_NAME, "x-ecode+http"),
            (VAA_NAME, "x-handle+http"),
        ] {
            let mut a = args(&["-p", &port, "+norec", "+time=5", "+tries=1", name, "NAPTR"]);
            a.insert(0, at.clone());
            if tcp {
                a.push("+tcp".into());
            }
            let out = run("dig", &a);
            assert!(out.contains("status: NOERROR") && out.contains(" aa"), "{name}: {out}");
            let flat = out.split_whitespace().collect::<Vec<_>>().join(" ");
            assert!(flat.contains(&format!("NAPTR 100 10 \"U\" \"{service}\" {naptr} .")), "{name}: {out}");
        }
    }
    let out = run("dig", &args(&["@127.0.0.1", "-p", &port, "+norec", "+time=5", "+tries=1", MISS, "NAPTR"]));
    let flat = out.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        out.contains("status: NXDOMAIN") && flat.contains("IN SOA ns1.oid-res.test. hostmaster.oid-res.test. 2026"),
        "{out}"
    );
    let out = run("dig", &args(&["@127.0.0.1", "-p", &port, "+norec", "+time=5", "+tries=1", "example.com.", "NAPTR"]));
    assert!(out.contains("status: REFUSED"), "{out}");
    let out = run(
        "dig",
        &args(&["@127.0.0.1", "-p", &port, "+norec", "+noedns", "+ignore", "+time=5", "+tries=1", BIG_NAME, "NAPTR"]),
    );
    assert!(out.contains(" tc") && out.contains("ANSWER: 0"), "TC: {out}");
    let out = run(
        "dig",
        &args(&["@127.0.0.1", "-p", &port, "+norec", "+bufsize=1232", "+time=5", "+tries=1", BIG_NAME, "NAPTR"]),
    );
    assert!(!out.contains(" tc") && out.contains("ANSWER: 8"), "EDNS: {out}");
    let out = run("dig", &args(&["@127.0.0.1", "-p", &port, "+norec", "+time=5", "+tries=1", "oid-res.test.", "SOA"]));
    assert!(out.contains("ANSWER: 1") && out.contains("2026 3600 600 604800 60"), "{out}");
}

fn kdig_checks(dot: SocketAddr, doq: SocketAddr) {
    let help = Command::new("kdig")
        .arg("-h")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    let mut doors = vec![("+tls", dot)];
    if help.contains("+[no]quic") {
        doors.push(("+quic", doq));
    } else {
        eprintln!("SKIPPED kdig +quic: this kdig has no QUIC");
    }
    for (flag, addr) in doors {
        for name in [OID_NAME, GS1_NAME, ECODE_NAME] {
            let out = run(
                "kdig",
                &args(&["@127.0.0.1", "-p", &addr.port().to_string(), flag, "+norec", "+timeout=5", name, "NAPTR"]),
            );
            assert!(out.contains("status: NOERROR") && out.contains(URL), "kdig {flag} {name}: {out}");
        }
        let out =
            run("kdig", &args(&["@127.0.0.1", "-p", &addr.port().to_string(), flag, "+timeout=5", MISS, "NAPTR"]));
        assert!(out.contains("status: NXDOMAIN"), "kdig {flag}: {out}");
    }
}

/// Raw UDP: malformed queries get FORMERR (same id) or nothing; the node keeps answering.
fn malformed(udp: SocketAddr) {
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    // An answer that must come may wait long on a loaded machine; one that
    // must not come is waited for briefly.
    sock.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut buf = [0u8; 1500];
    // A header promising one question that is cut short.
    sock.send_to(&[0xbe, 0xef, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 7, b'b', b'r'], udp).unwrap();
    let (n, _) = sock.recv_from(&mut buf).expect("FORMERR answer");
    sock.set_read_timeout(Some(Duration::from_millis(700))).unwrap();
    assert!(n >= 12 && buf[..2] == [0xbe, 0xef] && buf[2] & 0x80 != 0 && buf[3] & 0x0f == 1, "{:?}", &buf[..n]);
    // Shorter than a header; and a response (QR set): no answer.
    for junk in [&[1u8, 2, 3][..], &[0, 1, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0][..]] {
        sock.send_to(junk, udp).unwrap();
        assert!(sock.recv_from(&mut buf).is_err(), "answered {junk:?}");
    }
    // Random bytes in bulk (bounded): whatever comes back is a well-formed response.
    let mut x: u32 = 0x1234_5678;
    for _ in 0..200 {
        let len = 12 + (x % 60) as usize;
        let pkt: Vec<u8> = (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                x as u8 & 0x7f // QR clear in byte 2 half the time is fine either way
            })
            .collect();
        sock.send_to(&pkt, udp).unwrap();
    }
    sock.set_read_timeout(Some(Duration::from_millis(300))).unwrap();
    while let Ok((n, _)) = sock.recv_from(&mut buf) {
        assert!(n >= 12 && buf[2] & 0x80 != 0, "not a response: {:?}", &buf[..n]);
    }
}

fn venv_python() -> Option<PathBuf> {
    let py = PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().unwrap().join(".venv/bin/python");
    let ok = Command::new(&py).args(["-c", "import dns.query, aioquic"]).output().is_ok_and(|o| o.status.success());
    if !ok {
        let why = format!("{} missing or without dnspython/aioquic (scripts/test installs them)", py.display());
        assert!(std::env::var("CI").as_deref() != Ok("true"), "CI: {why}");
        eprintln!("SKIPPED dnspython: {why}");
        return None;
    }
    Some(py)
}

#[test]
fn dns_front_answers_dig_kdig_and_dnspython() -> Result<()> {
    let tmp = tempfile::tempdir()?;
    let node = Node::start(&Setup {
        init: true,
        imports: vec![records(tmp.path())],
        extra_toml: zones(),
        ..Setup::default()
    })?;
    let udp = node.door("dns-udp").context("dns-udp announced")?;
    let tcp = node.door("dns-tcp").context("dns-tcp announced")?;
    assert_eq!(udp.port(), tcp.port());
    let (dot, doq) = (node.door("dns-tls").context("dns-tls")?, node.door("dns-quic").context("dns-quic")?);
    assert!(udp.ip().is_loopback() && dot.ip().is_loopback() && doq.ip().is_loopback());
    bind_aliases(&node)?;

    if has("dig") {
        dig_checks(udp);
    }
    if has("kdig") {
        kdig_checks(dot, doq);
    }
    malformed(udp);
    if let Some(py) = venv_python() {
        let out = Command::new(py)
            .arg(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("python/dns_scenario.py"))
            .env("DNS_PORT", udp.port().to_string())
            .env("DOT_PORT", dot.port().to_string())
            .env("DOQ_PORT", doq.port().to_string())
            .env("DNS_NAMES", [OID_NAME, GS1_NAME, ECODE_NAME, VAA_NAME].join(","))
            .env("DNS_URL", URL)
            .env("DNS_BIG", BIG_NAME)
            .env("DNS_MISS", MISS)
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .output()?;
        let stdout = String::from_utf8_lossy(&out.stdout);
        println!("{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
        assert!(out.status.success() && stdout.contains(" passed, 0 failed"), "dnspython scenario failed");
    }
    // Still alive and answering after all of the above.
    let out =
        run("dig", &args(&["@127.0.0.1", "-p", &udp.port().to_string(), "+time=5", "+tries=1", GS1_NAME, "NAPTR"]));
    assert!(out.contains("status: NOERROR"), "{out}");
    if has("dig") {
        metrics_checks(&node, has("kdig"))?;
    }
    Ok(())
}

/// The sum of `name`'s samples carrying every label of `labels`.
fn metric(body: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    body.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let (key, value) = l.rsplit_once(' ')?;
            let (n, rest) = key.split_once('{').unwrap_or((key, ""));
            (n == name && labels.iter().all(|(k, v)| rest.contains(&format!("{k}=\"{v}\""))))
                .then(|| value.parse::<f64>().ok())?
        })
        .sum()
}

/// The DNS doors' metrics after the queries above (dig over UDP and TCP,
/// kdig over TLS, the malformed datagrams): per scheme and RCODE, TC, the
/// dropped datagrams, and one latency sample for every answered UDP query.
fn metrics_checks(node: &Node, kdig: bool) -> Result<()> {
    let (status, body) = idnode_conformance::http_get(node.admin, "/metrics")?;
    assert_eq!(status, 200);
    let req = |door: &str, scheme: &str, rc: &str| {
        metric(&body, "idnode_requests_total", &[("door", door), ("opcode", scheme), ("rc", rc)])
    };
    for scheme in ["oid", "gs1", "ecode", "vaa"] {
        assert!(req("dns-udp", scheme, "0") >= 1.0, "dns-udp {scheme} NOERROR not counted");
        assert!(req("dns-tcp", scheme, "0") >= 1.0, "dns-tcp {scheme} NOERROR not counted");
    }
    assert!(req("dns-udp", "oid", "3") >= 1.0, "dns-udp NXDOMAIN not counted");
    assert!(req("dns-udp", "none", "5") >= 1.0, "dns-udp REFUSED not counted");
    assert!(req("dns-udp", "none", "1") >= 1.0, "dns-udp FORMERR not counted");
    assert!(metric(&body, "idnode_dns_truncated_total", &[("door", "dns-udp")]) >= 1.0, "TC not counted");
    assert!(metric(&body, "idnode_udp_dropped_total", &[("reason", "dns-malformed")]) >= 2.0, "drops not counted");
    if kdig {
        assert!(req("dns-tls", "gs1", "0") >= 1.0, "dns-tls NOERROR not counted");
    }
    // Every answered UDP query is counted once and timed once.
    let answered = metric(&body, "idnode_requests_total", &[("door", "dns-udp")]);
    let timed = metric(&body, "idnode_request_duration_seconds_count", &[("door", "dns-udp")]);
    assert!(answered >= 10.0 && timed == answered, "dns-udp: {answered} counted, {timed} timed");
    Ok(())
}
