//! Attacks on the HTTP door, against the built binary with its default
//! configuration (every port 0, loopback only): slowloris, brute-force
//! logins, bad bodies and unknown paths. Each test is bounded in count and
//! time (well under a minute) and prints the figures docs/security.md
//! quotes (`cargo test -p idnode-conformance --test attack_http -- --nocapture`).
//! Timings are printed; the only ones asserted are the acceptance's own
//! bounds (connections closed by the header timeout plus a grace, a fresh
//! client's median latency under a second).

mod rest_util;

use std::io::{Read, Write};
use std::net::{IpAddr, TcpStream};
use std::time::{Duration, Instant};

use rest_util::{Client, connect_from, start};
use serde_json::{Value, json};

/// `http.limits.header_read_timeout_ms` by default.
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// `http.limits.max_connections_per_address` by default.
const PER_ADDRESS: usize = 128;
/// `http.limits.login_failures_per_address` by default.
const LOGIN_FAILURES: usize = 10;
const JSON: (&str, &str) = ("Content-Type", "application/json");
/// A demo identifier.
const DEMO: &str = "88.118.8.1001/LOT2026-000451";

fn ip(a: u8, b: u8, c: u8) -> IpAddr {
    IpAddr::from([127, a, b, c])
}

/// Whether a non-blocking slowloris socket is still open (reads whatever
/// the server sent; EOF or an error = closed).
fn still_open(s: &mut TcpStream) -> bool {
    let mut buf = [0u8; 1024];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return false,
            Ok(_) => continue,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return true,
            Err(_) => return false,
        }
    }
}

#[test]
fn slowloris_connections_are_closed_at_the_header_timeout_while_fresh_clients_are_served() {
    const SLOW: usize = 1500;
    const PER_SOURCE: usize = 100;
    let mut n = start("");
    let door = n.node.http;
    // Spread over source addresses 127.0.1.1, 127.0.1.2, ...: the
    // per-address cap would otherwise refuse most of them at once.
    let t0 = Instant::now();
    let mut held: Vec<Option<TcpStream>> = Vec::with_capacity(SLOW);
    for i in 0..SLOW {
        let mut s = connect_from(ip(0, 1, (i / PER_SOURCE + 1) as u8), door).expect("slowloris connect");
        s.write_all(format!("GET /api/handles/{DEMO} HTTP/1.1\r\nHost: idnode\r\nX-Slow-{i}: ").as_bytes())
            .expect("half a header");
        s.set_nonblocking(true).unwrap();
        held.push(Some(s));
    }
    let opened = t0.elapsed();
    println!(
        "attack_http slowloris: {SLOW} connections from {} source addresses sent half a header in {:.2} s (header timeout {} s)",
        SLOW.div_ceil(PER_SOURCE),
        opened.as_secs_f64(),
        HEADER_TIMEOUT.as_secs()
    );
    let fresh = Client::plain(door).from(ip(0, 0, 2));
    let deadline = t0 + opened + HEADER_TIMEOUT + Duration::from_secs(15);
    let mut latencies = Vec::new();
    let mut first_open = None;
    let all_closed_at = loop {
        let open = held
            .iter_mut()
            .map(|slot| {
                let alive = slot.as_mut().is_some_and(still_open);
                if !alive {
                    *slot = None;
                }
                alive
            })
            .filter(|a| *a)
            .count();
        first_open.get_or_insert(open);
        let t = Instant::now();
        let r = fresh.get(&format!("/api/handles/{DEMO}"));
        let ms = t.elapsed().as_secs_f64() * 1e3;
        assert_eq!(r.status, 200, "a fresh client must be served during the attack: {}", r.body);
        latencies.push(ms);
        println!(
            "attack_http slowloris: t={:>5.1} s held={open:>4} fresh_client_resolution_ms={ms:>7.1}",
            t0.elapsed().as_secs_f64()
        );
        if open == 0 {
            break t0.elapsed();
        }
        assert!(Instant::now() < deadline, "{open} slowloris connections still open after {:?}", t0.elapsed());
        std::thread::sleep(Duration::from_millis(1000));
    };
    latencies.sort_by(f64::total_cmp);
    let median = latencies[latencies.len() / 2];
    let max = latencies[latencies.len() - 1];
    println!(
        "attack_http slowloris: first sample held {} of {SLOW}; all closed {:.1} s after the first connect ({:.1} s after the last); fresh client median {median:.1} ms, max {max:.1} ms over {} requests",
        first_open.unwrap_or(0),
        all_closed_at.as_secs_f64(),
        (all_closed_at - opened).as_secs_f64(),
        latencies.len()
    );
    assert!(first_open.unwrap_or(0) >= SLOW * 9 / 10, "the attack did not hold its connections: {first_open:?}");
    assert!(median < 1000.0, "fresh client median latency {median:.1} ms");
    assert!(n.node.is_running(), "the node must survive the attack");
}

#[test]
fn connections_beyond_the_per_address_cap_are_closed_at_once() {
    const TRIES: usize = 200;
    let n = start("");
    let src = ip(0, 2, 1);
    let t0 = Instant::now();
    let mut socks: Vec<TcpStream> = (0..TRIES)
        .map(|_| {
            let s = connect_from(src, n.node.http).expect("connect");
            s.set_nonblocking(true).unwrap();
            s
        })
        .collect();
    // Well before the header timeout, the connections over the cap are closed.
    let mut open = TRIES;
    while t0.elapsed() < HEADER_TIMEOUT / 2 {
        open = socks.iter_mut().map(still_open).filter(|alive| *alive).count();
        if open <= PER_ADDRESS {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    println!(
        "attack_http per-address cap: {TRIES} idle connections from one address, {open} held after {:.2} s (cap {PER_ADDRESS})",
        t0.elapsed().as_secs_f64()
    );
    assert!(open <= PER_ADDRESS, "{open} connections from one address held (cap {PER_ADDRESS})");
    // Another address is served meanwhile.
    assert_eq!(Client::plain(n.node.http).from(ip(0, 2, 2)).get("/healthz").status, 200);
}

#[test]
fn brute_force_logins_are_throttled_while_the_right_password_works_from_another_address() {
    let n = start("");
    let attacker = ip(0, 0, 3);
    let user = ip(0, 0, 2);
    let snms = |from: IpAddr, password: &str| {
        let body = json!({"username": "admin", "password": password}).to_string();
        Client::plain(n.node.http).from(from).send("POST", "/identity/token", &[JSON], Some(&body))
    };

    // SNMS /identity/token (plain HTTP from loopback is allowed).
    let mut seen = Vec::new();
    let mut first_429 = None;
    for i in 0..(3 * LOGIN_FAILURES) {
        let r = snms(attacker, &format!("guess-{i}"));
        seen.push(r.status);
        let v = r.json();
        if r.status == 429 {
            first_429.get_or_insert(i + 1);
            assert_eq!(v["status"], -2, "{}", r.body);
            assert!(v["message"].as_str().unwrap().contains("too many"), "{}", r.body);
            let wait: u64 = r.header("retry-after").expect("Retry-After").parse().unwrap();
            assert!(wait >= 1);
        } else {
            assert_eq!((r.status, v["status"].as_i64()), (200, Some(-2)), "{}", r.body);
        }
    }
    println!("attack_http brute force SNMS /identity/token from {attacker}: statuses {seen:?}");
    let first = first_429.expect("the brute force was never throttled");
    assert!(first <= LOGIN_FAILURES + 1, "first 429 at attempt {first}");
    assert!(seen[first - 1..].iter().all(|s| *s == 429), "once throttled, every attempt is refused: {seen:?}");
    // Even the right password is refused from the attacker's address ...
    assert_eq!(snms(attacker, &n.secret).status, 429);
    // ... and works from another address.
    let r = snms(user, &n.secret);
    assert_eq!((r.status, r.json()["status"].as_i64()), (200, Some(1)), "{}", r.body);
    assert!(r.json()["data"]["token"].as_str().is_some_and(|t| !t.is_empty()));

    // REST HTTP Basic over HTTPS, on an endpoint that needs it (listing a prefix).
    let attacker = ip(0, 0, 4);
    let list = format!("/api/handles?prefix={}", rest_util::PREFIX);
    let rest = |from: IpAddr, secret: &str| {
        let auth = rest_util::basic(&rest_util::ADMIN.replace(':', "%3A"), secret);
        Client::https(n.node.http, &n.ca).from(from).send("GET", &list, &[("Authorization", &auth)], None)
    };
    let mut seen = Vec::new();
    for i in 0..(3 * LOGIN_FAILURES) {
        let r = rest(attacker, &format!("guess-{i}"));
        seen.push(r.status);
        assert!(r.status == 401 || r.status == 429, "{}: {}", r.status, r.body);
        let v = r.json();
        assert!(v["responseCode"].is_number() && v["message"].is_string(), "{}", r.body);
        if r.status == 429 {
            assert!(r.header("retry-after").is_some(), "429 without Retry-After");
        }
    }
    println!("attack_http brute force REST Basic from {attacker}: statuses {seen:?}");
    let first = seen.iter().position(|s| *s == 429).expect("REST Basic brute force never throttled") + 1;
    assert!(first <= LOGIN_FAILURES + 1, "first 429 at attempt {first}");
    assert_eq!(rest(attacker, &n.secret).status, 429);
    let r = rest(user, &n.secret);
    assert_eq!(r.status, 200, "the right password from {user}: {}", r.body);
    assert_eq!(r.rc(), 1);
}

/// `(status, JSON body)` of a raw request whose headers and body are sent
/// as given (the body may be cut short of its Content-Length).
fn raw(n: &rest_util::TestNode, head: &str, body: &[u8]) -> (u16, Value, String) {
    let mut s = TcpStream::connect(n.node.http).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    s.write_all(head.as_bytes()).unwrap();
    let _ = s.write_all(body);
    let mut out = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(k) => {
                out.extend_from_slice(&buf[..k]);
                // One answer is enough (the connection may stay open).
                let text = String::from_utf8_lossy(&out);
                if let Some((h, b)) = text.split_once("\r\n\r\n") {
                    let len = h
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().to_owned())
                        })
                        .and_then(|v| v.parse::<usize>().ok());
                    if len.is_some_and(|len| b.len() >= len) {
                        break;
                    }
                }
            }
            Err(_) => break,
        }
    }
    let text = String::from_utf8_lossy(&out).into_owned();
    let (h, b) = text.split_once("\r\n\r\n").unwrap_or_else(|| panic!("no answer to {head:?}: {text:?}"));
    let status = h.split_whitespace().nth(1).unwrap().parse().unwrap();
    assert!(
        h.to_ascii_lowercase().contains("content-type: application/json"),
        "{head:?} answered without a JSON content type:\n{h}"
    );
    let v: Value = serde_json::from_str(b).unwrap_or_else(|e| panic!("{head:?}: body is not JSON ({e}): {b:?}"));
    (status, v, h.to_owned())
}

#[test]
fn bad_bodies_and_unknown_paths_get_json_errors_and_change_nothing() {
    let mut n = start("");
    let http = n.http();
    // The store before: a demo record and the SNMS login of the admin.
    let before = http.get(&format!("/api/handles/{DEMO}")).body;
    let token = {
        let body = json!({"username": "admin", "password": n.secret}).to_string();
        let r = http.send("POST", "/identity/token", &[JSON], Some(&body));
        r.json()["data"]["token"].as_str().unwrap().to_owned()
    };
    let bearer = format!("Bearer {token}");
    let detail = format!("/identityv2/data/detail?handle={DEMO}");
    let detail_before = http.send("GET", &detail, &[("Authorization", &bearer)], None).body;

    let mut rows: Vec<(String, u16, String)> = Vec::new();
    // `want` 0 = any 4xx.
    let mut check = |what: &str, (status, v, _): (u16, Value, String), want: u16| {
        if want == 0 {
            assert!((400..500).contains(&status), "{what}: {status} {v}");
        } else {
            assert_eq!(status, want, "{what}: {v}");
        }
        let text = v.to_string();
        assert!(
            v["message"].is_string() || v["error"]["message"].is_string(),
            "{what}: the JSON does not name the problem: {text}"
        );
        rows.push((what.to_owned(), status, text.chars().take(120).collect()));
    };

    // Unknown paths, on each API's ground and outside them.
    for path in ["/no/such/thing", "/api/nope", "/snms/api/nope", "/identityv2/nope", "/admin/v1/status", "/metrics"] {
        check(
            &format!("GET {path}"),
            raw(&n, &format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"), b""),
            404,
        );
    }
    // Wrong method.
    check(
        "DELETE /identity/token",
        raw(&n, "DELETE /identity/token HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", b""),
        405,
    );
    // Wrong content type on a write.
    let rec = json!({"handle": format!("{}/attack-ct", "88.118.8.1001"), "templateVersion": "1.0.0", "value": []})
        .to_string();
    let head = |method: &str, path: &str, ct: &str, len: usize| {
        format!(
            "{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: {bearer}\r\nContent-Type: {ct}\r\nContent-Length: {len}\r\n\r\n"
        )
    };
    let (st, v, h) = raw(&n, &head("POST", "/identityv2/data", "application/xml", rec.len()), rec.as_bytes());
    assert_eq!(v["status"], -2, "{v}");
    check("SNMS write with Content-Type application/xml", (st, v, h), 200);
    let put = json!([{"index": 1, "type": "URL", "data": "http://x"}]).to_string();
    let rest_put = "/api/handles/88.118.8/attack-ct";
    check(
        "REST PUT with Content-Type text/html, no credentials",
        raw(&n, &head("PUT", rest_put, "text/html", put.len()), put.as_bytes()),
        0,
    );
    // Malformed JSON.
    let bad = b"{\"handle\": \"88.118.8.1001/attack-bad\", \"value\": [";
    let (st, v, h) = raw(&n, &head("POST", "/identityv2/data", "application/json", bad.len()), bad);
    assert_eq!(v["status"], -2, "{v}");
    check("SNMS write with malformed JSON", (st, v, h), 200);
    let bad_login = b"{\"username\": \"admin\", \"password\": ";
    let (st, v, h) = raw(&n, &head("POST", "/identity/token", "application/json", bad_login.len()), bad_login);
    assert_eq!(v["status"], -2, "{v}");
    check("SNMS login with malformed JSON", (st, v, h), 200);
    // Oversized bodies: refused from Content-Length, before the body is read.
    let huge = 64 << 20;
    check(
        "SNMS single write declaring 64 MiB",
        raw(&n, &head("POST", "/identityv2/data", "application/json", huge), b"{\"handle\":"),
        413,
    );
    check(
        "SNMS batch declaring 64 MiB",
        raw(&n, &head("POST", "/identityv2/data/batchCreate", "application/json", huge), b"["),
        413,
    );
    check("REST PUT declaring 64 MiB", raw(&n, &head("PUT", rest_put, "application/json", huge), b"["), 413);
    // A chunked body that grows past the limit while being read.
    let chunk = vec![b' '; 256 * 1024];
    let mut chunked = Vec::new();
    for _ in 0..6 {
        chunked.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        chunked.extend_from_slice(&chunk);
        chunked.extend_from_slice(b"\r\n");
    }
    chunked.extend_from_slice(b"0\r\n\r\n");
    let chunked_head = format!(
        "POST /identityv2/data HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: {bearer}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    );
    check("SNMS write with a 1.5 MiB chunked body", raw(&n, &chunked_head, &chunked), 413);

    println!("attack_http bad input: what | status | JSON body");
    for (what, status, body) in &rows {
        println!("attack_http bad input: {what} | {status} | {body}");
    }

    // Nothing changed.
    assert_eq!(http.get(&format!("/api/handles/{DEMO}")).body, before);
    assert_eq!(http.send("GET", &detail, &[("Authorization", &bearer)], None).body, detail_before);
    for h in ["88.118.8/attack-ct", "88.118.8.1001/attack-ct", "88.118.8.1001/attack-bad"] {
        let r = http.get(&format!("/api/handles/{h}"));
        assert_eq!((r.status, r.rc()), (404, 100), "{h} must not exist: {}", r.body);
    }
    assert!(n.node.is_running(), "the node must survive the attack");
}
