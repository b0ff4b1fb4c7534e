//! The whole hierarchy of issue 9's acceptance, black-box, every node the
//! built binary on loopback port 0: a top node, secondary A (reports its
//! prefixes upward, primary of a mirror), secondary B (recursion, root =
//! the top) and mirror M of A.
//!
//! 1. A prefix approved on A becomes resolvable through the top node.
//! 2. The reference client's referral walk with our top node as its root,
//!    played with the exact requests HANDLE.NET 9.2.0 sends (the captured
//!    `udp-prefix-referral` and `udp-resolve-all` requests of
//!    `vectors/cnri-9.2.0.json`, only the handle changed): the prefix
//!    handle at the top (CA|PO, types HS_SITE, HS_SITE.6, HS_SERV,
//!    HS_NAMESPACE, v2.10 suggesting 2.11) answers A's HS_SITE;
//!    the identifier at the server that site names answers the record; the
//!    top itself answers the identifier 301, never a wrong 302.
//! 3. B with REC gets A's record, the second time from its cache.
//! 4. M serves A's records and catches up after a kill while A took writes.
//! 5. With the top node down, A's new prefixes wait in the outbox and
//!    arrive after it restarts, each exactly once.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use idnode_conformance::{Node, Setup, cli_ok as ok, http_get, resolution_request, udp_exchange, vectors};
use idnode_registry::model::HsSite;
use idnode_registry::model::site::interface_protocol;
use idnode_resolver::wire::{Body, Message, OpFlags, ProtocolVersion, udp_fragments};

const A_PREFIX: &str = "88.118.8";
const DEMO: &str = "88.118.8.1001/LOT2026-000451";

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
}

/// The captured request `name`, with its resolution handle replaced.
fn reference_request(name: &str, handle: &str) -> Message {
    let v = vectors().into_iter().find(|v| v.name == name).unwrap_or_else(|| panic!("vector {name}"));
    assert_eq!(v.request.len(), 1, "{name} is one datagram");
    let mut m = Message::decode(&unhex(&v.request[0])).expect("the captured request decodes");
    let Body::Resolution(r) = &mut m.body else { panic!("{name} is not a resolution") };
    r.handle = handle.as_bytes().to_vec();
    m
}

fn udp(server: SocketAddr, req: &[u8]) -> Message {
    let datagrams: Vec<Vec<u8>> = udp_fragments(req, true).map(|f| f.to_vec()).collect();
    let answer = udp_exchange(server, &datagrams, Duration::from_secs(5))
        .expect("udp exchange")
        .unwrap_or_else(|| panic!("no answer from {server}"));
    let mut whole = answer[0].clone();
    for d in &answer[1..] {
        whole.extend_from_slice(&d[20..]);
    }
    Message::decode(&whole).expect("decodable answer")
}

fn resolve(server: SocketAddr, handle: &str, flags: OpFlags) -> Message {
    let v = ProtocolVersion { major: 2, minor: 10 };
    udp(server, &resolution_request(5, handle, &[], &[], flags, v, v))
}

fn value(m: &Message, ty: &[u8]) -> Option<Vec<u8>> {
    match &m.body {
        Body::ResolutionResponse(r) if m.header.response_code.0 == 1 => {
            r.values.iter().find(|v| v.value_type == ty).map(|v| v.data.clone())
        }
        _ => None,
    }
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

fn stats(n: &Node) -> serde_json::Value {
    serde_json::from_str(&ok(&n.config, &["stats", "--json"])).unwrap()
}

fn metric(node: &Node, name: &str, labels: &[&str]) -> u64 {
    let (status, body) = http_get(node.admin, "/metrics").unwrap();
    assert_eq!(status, 200);
    body.lines()
        .filter(|l| l.starts_with(name) && labels.iter().all(|x| l.contains(x)))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum::<f64>() as u64
}

fn approve_prefix(a: &Node, prefix: &str, n: u32) {
    let out = ok(
        &a.config,
        &[
            "enterprise",
            "create",
            "--name",
            &format!("企业{n}"),
            "--credit-code",
            &format!("91110000HIE{n:07}"),
            "--prefix",
            prefix,
            "--pending",
        ],
    );
    let id = out.split_whitespace().nth(1).unwrap().to_owned();
    assert!(ok(&a.config, &["enterprise", "approve", &id]).contains("approved"));
}

/// Where an HS_SITE says to send queries over UDP (one server: the hash
/// rule picks it).
fn udp_target(site: &[u8]) -> SocketAddr {
    let site = HsSite::from_bytes(site).expect("an HS_SITE");
    assert_eq!(site.servers.len(), 1);
    let s = &site.servers[0];
    let port = s.interfaces.iter().find(|i| i.protocol == interface_protocol::UDP).expect("a UDP interface").port;
    SocketAddr::new(s.ip(), port as u16)
}

#[test]
fn top_two_secondaries_and_a_mirror() {
    let shared = tempfile::tempdir().unwrap();
    let secret_file = shared.path().join("a-at-top.secret");
    std::fs::write(&secret_file, "hierarchy-secret-0123456789abcdef\n").unwrap();

    let mut top = Node::start(&Setup {
        node_prefix: "88".into(),
        node_toml: "role = \"top\"".into(),
        init: true,
        extra_toml: format!(
            "\n[federation]\nderived_prefixes = [\"88\"]\n\n[[federation.admitted]]\nidentity = \"300:0.NA/{A_PREFIX}\"\nprefixes = [\"{A_PREFIX}\"]\nsecret_file = \"{}\"\n",
            secret_file.display()
        ),
        ..Setup::default()
    })
    .expect("top starts");
    let cfg = std::fs::read_to_string(&top.config).unwrap();
    std::fs::write(
        &top.config,
        cfg.replacen("tcp_listen = \"127.0.0.1:0\"", &format!("tcp_listen = \"{}\"", top.handle_tcp), 1),
    )
    .unwrap();
    let a = Node::start(&Setup {
        node_prefix: A_PREFIX.into(),
        extra_toml: format!(
            "\n[federation]\ntop = \"{}\"\nsecret_file = \"{}\"\nretry_min_ms = 100\nretry_max_ms = 400\ntimeout_ms = 2000\n\n[mirror]\nreplicas = [\"300:0.NA/{A_PREFIX}\"]\n",
            top.handle_tcp,
            secret_file.display()
        ),
        ..Setup::default()
    })
    .expect("A starts");
    let b = Node::start(&Setup {
        node_prefix: "88.202".into(),
        init: true,
        extra_toml: format!(
            "\n[federation]\nrecursion = true\nroot = [\"udp://{}\", \"tcp://{}\"]\ntimeout_ms = 3000\n",
            top.handle_udp, top.handle_tcp
        ),
        ..Setup::default()
    })
    .expect("B starts");
    let a_secret = a.dir.path().join("data").join("admin.secret");
    let mut m = Node::start(&Setup {
        node_prefix: A_PREFIX.into(),
        node_toml: "role = \"mirror\"".into(),
        extra_toml: format!(
            "\n[mirror]\nprimary = \"{}\"\nsecret_file = \"{}\"\npoll_ms = 50\nretry_min_ms = 50\nretry_max_ms = 200\n",
            a.handle_tcp,
            a_secret.display()
        ),
        ..Setup::default()
    })
    .expect("mirror starts");

    // 1. A prefix approved on A reaches the top node with A's HS_SITE.
    let p1 = "88.118.8.2001";
    approve_prefix(&a, p1, 1);
    let a_site = wait_for(20, "the prefix handle at A", || {
        value(&resolve(a.handle_udp, &format!("0.NA/{p1}"), OpFlags::PO), b"HS_SITE")
    });
    let at_top = wait_for(30, "the prefix handle at the top", || {
        value(&resolve(top.handle_udp, &format!("0.NA/{p1}"), OpFlags::PO), b"HS_SITE")
    });
    assert_eq!(at_top, a_site);

    // 2. The reference client's walk, root = our top node.
    let ask_prefix = reference_request("udp-prefix-referral", "0.NA/88.118.8.1001");
    assert_eq!(ask_prefix.header.op_flags, OpFlags::CA | OpFlags::PO, "the captured flags");
    let Body::Resolution(r) = &ask_prefix.body else { unreachable!() };
    let types: Vec<&[u8]> = r.types.iter().map(|t| t.as_slice()).collect();
    assert_eq!(types, [&b"HS_SITE"[..], b"HS_SITE.6", b"HS_SERV", b"HS_NAMESPACE"], "the captured type filter");
    let prefix_answer = wait_for(30, "0.NA/88.118.8.1001 at the top", || {
        let m = udp(top.handle_udp, &ask_prefix.encode());
        value(&m, b"HS_SITE").map(|s| (m, s))
    });
    let (pm, site) = prefix_answer;
    assert_eq!(pm.header.response_code.0, 1, "{pm:?}");
    // As the reference server answers this request (vectors: 2.11, the suggested version).
    assert_eq!((pm.envelope.version.major, pm.envelope.version.minor), (2, 11), "{pm:?}");
    assert_eq!(site, a_site, "the top names A");
    let target = udp_target(&site);
    assert_eq!(target, a.handle_udp);
    let ask_id = reference_request("udp-resolve-all", DEMO);
    let idm = udp(target, &ask_id.encode());
    assert_eq!(idm.header.response_code.0, 1, "{idm:?}");
    let url = value(&idm, b"URL").expect("the identifier's URL");
    // The top node is not responsible for the identifier itself: 301, no referral.
    let wrong = udp(top.handle_udp, &ask_id.encode());
    assert_eq!(wrong.header.response_code.0, 301, "{wrong:?}");

    // 3. B recurses to A; the second answer comes from B's cache.
    let rec = OpFlags::PO | OpFlags::REC;
    let first = resolve(b.handle_udp, DEMO, rec);
    assert_eq!(value(&first, b"URL").as_deref(), Some(url.as_slice()), "{first:?}");
    // (The counter moves just after the answer is sent.)
    let count = |source: &str| metric(&b, "idnode_recursion_total", &[&format!("source=\"{source}\""), "rc=\"1\""]);
    wait_for(10, "the miss counted", || (count("miss") == 1).then_some(()));
    let again = resolve(b.handle_udp, DEMO, rec);
    assert_eq!(value(&again, b"URL").as_deref(), Some(url.as_slice()));
    wait_for(10, "the cache hit counted", || (count("hit") == 1).then_some(()));
    assert_eq!(count("miss"), 1, "A was asked once");

    // 4. The mirror serves A's records and catches up after a kill.
    ok(&a.config, &["id", "put", &format!("{p1}/WIDGET-1"), "1:URL:https://a.example/w1"]);
    wait_for(30, "A's new record at the mirror", || {
        value(&resolve(m.handle_udp, &format!("{p1}/WIDGET-1"), OpFlags::PO), b"URL")
    });
    assert_eq!(value(&resolve(m.handle_udp, DEMO, OpFlags::PO), b"URL").as_deref(), Some(url.as_slice()));
    m.kill().unwrap();
    ok(&a.config, &["id", "put", &format!("{p1}/WIDGET-2"), "1:URL:https://a.example/w2"]);
    m.restart().unwrap();
    let w2 = wait_for(30, "the mirror to catch up", || {
        value(&resolve(m.handle_udp, &format!("{p1}/WIDGET-2"), OpFlags::PO), b"URL")
    });
    assert_eq!(w2, b"https://a.example/w2");

    // 5. Top down: two prefixes wait in A's outbox, then arrive once each.
    top.kill().unwrap();
    let (p2, p3) = ("88.118.8.2002", "88.118.8.2003");
    approve_prefix(&a, p2, 2);
    approve_prefix(&a, p3, 3);
    wait_for(30, "outbox depth 2", || {
        let s = stats(&a);
        (s["federation"]["outbox"]["depth"] == 2 && s["federation"]["outbox"]["topReachable"] == false).then_some(())
    });
    top.restart().unwrap();
    for p in [p2, p3] {
        wait_for(30, "a queued prefix at the restarted top", || {
            value(&resolve(top.handle_udp, &format!("0.NA/{p}"), OpFlags::PO), b"HS_SITE")
        });
    }
    wait_for(30, "an empty outbox", || (stats(&a)["federation"]["outbox"]["depth"] == 0).then_some(()));
    let created = |rc: u32| {
        metric(&top, "idnode_requests_total", &["door=\"handle-tcp\"", "opcode=\"100\"", &format!("rc=\"{rc}\"")])
    };
    assert_eq!(created(1), 2, "two creates since the restart");
    assert_eq!(created(101), 0, "no duplicate");
}
