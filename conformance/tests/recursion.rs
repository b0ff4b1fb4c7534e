//! Recursion through a hierarchy of real nodes (issue 9 §4): a "top"
//! node holding prefix records (`0.NA/<prefix>` with HS_SITE / HS_SERV),
//! secondary A homing the identifiers, secondary B with
//! `[federation] recursion = true` and the top as its root. Every node is
//! the built binary on loopback port 0. Until the top role lands, the top
//! is an ordinary node seeded with the prefix records by import.
//!
//! Checks: B answers A's record to a client that sets REC (echoing the
//! identifier as asked) over UDP and TCP, and without REC still says 301;
//! the second answer comes from B's cache (metrics, and A stopped);
//! HS_SERV service handles are followed; a service-handle loop and a chain
//! longer than the step budget answer RC 6 without hanging; a peer
//! answering garbage gives RC 2 and B keeps serving; an unknown prefix is
//! 100.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::path::Path;
use std::time::{Duration, Instant};

use base64::Engine as _;
use idnode_conformance::{Node, Setup, http_get, resolution_request, tcp_exchange, udp_exchange};
use idnode_registry::model::HsSite;
use idnode_registry::model::site::{Interface, SiteServer, interface_protocol, interface_type};
use idnode_resolver::wire::{Body, Envelope, Header, Message, OpCode, OpFlags, ProtocolVersion, udp_fragments};

const V: ProtocolVersion = ProtocolVersion::OURS;

fn value_json(index: u32, ty: &str, data: &[u8], ttl: i32) -> serde_json::Value {
    serde_json::json!({
        "index": index, "type": ty,
        "data": {"format": "base64", "value": base64::engine::general_purpose::STANDARD.encode(data)},
        "ttl": ttl, "permissions": 14, "timestamp": 0, "ttl_type": 0
    })
}

fn write_jsonl(path: &Path, records: &[(String, Vec<serde_json::Value>)]) {
    let mut f = std::fs::File::create(path).unwrap();
    for (handle, values) in records {
        writeln!(f, "{}", serde_json::json!({"handle": handle, "values": values})).unwrap();
    }
}

/// OC_GET_SITE_INFO over TCP: the node's HS_SITE record bytes.
fn site_of(node: &Node) -> Vec<u8> {
    let req = Message {
        envelope: Envelope::request(V, 3),
        header: Header::request(OpCode::GET_SITE_INFO, OpFlags::NONE, 0x6b00_0000),
        body: Body::GetSiteInfo(idnode_resolver::wire::HandleBody { handle: b"/".to_vec() }),
        credential: None,
    }
    .encode();
    let m = Message::decode(&tcp_exchange(node.handle_tcp, &req, false).unwrap()).unwrap();
    match m.body {
        Body::SiteInfoResponse(s) => s.site,
        other => panic!("not a site answer: {other:?}"),
    }
}

/// An HS_SITE with one server on 127.0.0.1 answering queries on these ports.
fn site_for(udp: u16, tcp: u16) -> Vec<u8> {
    HsSite {
        data_format_version: 1,
        protocol_major: 2,
        protocol_minor: 10,
        serial_number: 1,
        primary_mask: 0x80,
        hash_option: 2,
        hash_filter: vec![],
        attributes: vec![],
        servers: vec![SiteServer {
            server_id: 1,
            address: SiteServer::address_bytes("127.0.0.1".parse().unwrap()),
            public_key: vec![],
            interfaces: vec![
                Interface {
                    kind: interface_type::ADMIN_AND_QUERY,
                    protocol: interface_protocol::UDP,
                    port: udp.into(),
                },
                Interface {
                    kind: interface_type::ADMIN_AND_QUERY,
                    protocol: interface_protocol::TCP,
                    port: tcp.into(),
                },
            ],
        }],
    }
    .to_bytes()
}

/// A peer on loopback that answers every request with junk: over UDP an
/// envelope echoing the request id followed by bytes that are no message,
/// over TCP the same. Serves until the test ends (bounded by `until`).
fn garbage_peer(until: Instant) -> (u16, u16) {
    let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
    let tcp = TcpListener::bind("127.0.0.1:0").unwrap();
    let ports = (udp.local_addr().unwrap().port(), tcp.local_addr().unwrap().port());
    let junk = |req: &[u8]| {
        let mut out = vec![2u8, 11, 2, 11, 0, 0, 0, 0];
        out.extend_from_slice(req.get(8..12).unwrap_or(&[0, 0, 0, 0]));
        out.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 12]);
        out.extend_from_slice(b"not a header");
        out
    };
    udp.set_read_timeout(Some(Duration::from_millis(100))).unwrap();
    std::thread::spawn(move || {
        let mut buf = [0u8; 2048];
        while Instant::now() < until {
            if let Ok((n, from)) = udp.recv_from(&mut buf) {
                let _ = udp.send_to(&junk(&buf[..n]), from);
            }
        }
    });
    tcp.set_nonblocking(true).unwrap();
    std::thread::spawn(move || {
        while Instant::now() < until {
            match tcp.accept() {
                Ok((mut s, _)) => {
                    s.set_nonblocking(false).unwrap();
                    s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
                    let mut buf = [0u8; 4096];
                    if let Ok(n) = s.read(&mut buf) {
                        let _ = s.write_all(&junk(&buf[..n]));
                    }
                }
                Err(_) => std::thread::sleep(Duration::from_millis(20)),
            }
        }
    });
    ports
}

fn ask(addr: SocketAddr, udp: bool, handle: &str, flags: OpFlags) -> Message {
    let req = resolution_request(11, handle, &[], &[], flags, V, V);
    let raw = if udp {
        let datagrams: Vec<Vec<u8>> = udp_fragments(&req, true).map(|f| f.to_vec()).collect();
        let got = udp_exchange(addr, &datagrams, Duration::from_secs(20)).unwrap().expect("an answer over UDP");
        let mut whole = got[0][..20].to_vec();
        for d in &got {
            whole.extend_from_slice(&d[20..]);
        }
        whole
    } else {
        tcp_exchange(addr, &req, false).unwrap()
    };
    Message::decode(&raw).expect("decodable answer")
}

fn rc(m: &Message) -> u32 {
    m.header.response_code.0
}

fn values(m: &Message) -> Vec<(u32, String, String)> {
    match &m.body {
        Body::ResolutionResponse(r) => r
            .values
            .iter()
            .map(|v| (v.index, v.type_str().into_owned(), String::from_utf8_lossy(&v.data).into_owned()))
            .collect(),
        other => panic!("not a resolution answer: {other:?}"),
    }
}

fn metric(node: &Node, name: &str, labels: &[&str]) -> f64 {
    let (status, body) = http_get(node.admin, "/metrics").unwrap();
    assert_eq!(status, 200);
    body.lines()
        .filter(|l| l.starts_with(name) && labels.iter().all(|x| l.contains(x)))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

#[test]
fn a_secondary_recurses_through_the_top_node_with_a_cache_and_limits() {
    let until = Instant::now() + Duration::from_secs(300);
    let work = tempfile::tempdir().unwrap();

    // Secondary A homes 88.201 and holds the identifiers.
    let a_data = work.path().join("a.jsonl");
    write_jsonl(
        &a_data,
        &[
            ("88.201/LOT-1".into(), vec![value_json(1, "URL", b"https://a.example/LOT-1", 3600)]),
            ("88.201.5/SN-9".into(), vec![value_json(1, "URL", b"https://a.example/SN-9", 3600)]),
        ],
    );
    let mut a =
        Node::start(&Setup { node_prefix: "88.201".into(), init: true, imports: vec![a_data], ..Setup::default() })
            .expect("A starts");
    let a_site = site_of(&a);

    // The top: prefix records for A, a service-handle loop, a chain longer
    // than B's step budget, and a prefix served by a garbage peer.
    let (junk_udp, junk_tcp) = garbage_peer(until);
    let mut top_records = vec![
        ("0.NA/88.201".to_string(), vec![value_json(1, "HS_SITE", &a_site, 86_400)]),
        ("0.NA/88.201.5".to_string(), vec![value_json(1, "HS_SERV", b"0.NA/88.201", 86_400)]),
        ("0.NA/88.300".to_string(), vec![value_json(1, "HS_SERV", b"0.NA/88.301", 86_400)]),
        ("0.NA/88.301".to_string(), vec![value_json(1, "HS_SERV", b"0.NA/88.300", 86_400)]),
        ("0.NA/88.400".to_string(), vec![value_json(1, "HS_SITE", &site_for(junk_udp, junk_tcp), 86_400)]),
    ];
    for i in 0..30 {
        let next = format!("0.NA/88.7{:02}", i + 1);
        top_records.push((format!("0.NA/88.7{i:02}"), vec![value_json(1, "HS_SERV", next.as_bytes(), 86_400)]));
    }
    top_records.push(("0.NA/88.730".into(), vec![value_json(1, "HS_SITE", &a_site, 86_400)]));
    let top_data = work.path().join("top.jsonl");
    write_jsonl(&top_data, &top_records);
    let top =
        Node::start(&Setup { node_prefix: "88.100".into(), init: true, imports: vec![top_data], ..Setup::default() })
            .expect("top starts");

    // Secondary B recurses, starting at the top.
    let b = Node::start(&Setup {
        node_prefix: "88.202".into(),
        init: true,
        extra_toml: format!(
            "\n[federation]\nrecursion = true\nroot = [\"udp://{}\", \"tcp://{}\"]\ntimeout_ms = 3000\nmax_steps = 12\n",
            top.handle_udp, top.handle_tcp
        ),
        ..Setup::default()
    })
    .expect("B starts");

    let rec = OpFlags::PO | OpFlags::REC;
    // Without REC: B is not responsible (301), as before.
    assert_eq!(rc(&ask(b.handle_tcp, false, "88.201/LOT-1", OpFlags::PO)), 301);

    // With REC over TCP: A's record, the identifier echoed exactly as asked.
    let m = ask(b.handle_tcp, false, "88.201/LOT-1", rec);
    assert_eq!(rc(&m), 1, "{m:?}");
    assert_eq!(values(&m), vec![(1, "URL".into(), "https://a.example/LOT-1".into())]);
    match &m.body {
        Body::ResolutionResponse(r) => assert_eq!(r.handle, b"88.201/LOT-1"),
        _ => unreachable!(),
    }
    let misses = metric(&b, "idnode_recursion_total", &["source=\"miss\"", "rc=\"1\""]);
    assert_eq!(misses, 1.0);
    // Over UDP, the same question: from B's cache.
    let m = ask(b.handle_udp, true, "88.201/LOT-1", rec);
    assert_eq!(values(&m), vec![(1, "URL".into(), "https://a.example/LOT-1".into())]);
    assert_eq!(metric(&b, "idnode_recursion_total", &["source=\"hit\"", "rc=\"1\""]), 1.0);
    // With RD the cached answer carries the digest of this request.
    let m = ask(b.handle_udp, true, "88.201/LOT-1", rec | OpFlags::RD);
    assert_eq!(rc(&m), 1);

    // HS_SERV: 0.NA/88.201.5 names the service 0.NA/88.201.
    let m = ask(b.handle_udp, true, "88.201.5/SN-9", rec);
    assert_eq!(values(&m), vec![(1, "URL".into(), "https://a.example/SN-9".into())]);

    // A prefix the top is responsible for but does not know: 100, and a
    // second time from the negative cache.
    assert_eq!(rc(&ask(b.handle_tcp, false, "88.100.999/x", rec)), 100);
    assert_eq!(rc(&ask(b.handle_tcp, false, "88.100.999/x", rec)), 100);
    assert_eq!(metric(&b, "idnode_recursion_total", &["source=\"hit\"", "rc=\"100\""]), 1.0);

    // A service-handle loop and a chain deeper than max_steps: RC 6, quickly.
    let t = Instant::now();
    assert_eq!(rc(&ask(b.handle_tcp, false, "88.300/x", rec)), 6);
    assert_eq!(rc(&ask(b.handle_udp, true, "88.700/x", rec)), 6);
    assert!(t.elapsed() < Duration::from_secs(60), "limits end walks");
    // A request that already went through too many recursing servers.
    let mut req = resolution_request(12, "88.201/LOT-2", &[], &[], rec, V, V);
    req[20 + 14] = 8; // header recursionCount
    assert_eq!(rc(&Message::decode(&tcp_exchange(b.handle_tcp, &req, false).unwrap()).unwrap()), 6);

    // A peer answering garbage: server error, and B keeps serving.
    let m = ask(b.handle_tcp, false, "88.400/x", rec);
    assert_eq!(rc(&m), 2, "{m:?}");
    let m = ask(b.handle_udp, true, "88.400/y", rec);
    assert_eq!(rc(&m), 2, "{m:?}");
    assert_eq!(rc(&ask(b.handle_tcp, false, "88.201/LOT-1", rec)), 1);

    // Stop A: cached answers still come from B; a new identifier fails.
    a.kill().unwrap();
    assert_eq!(values(&ask(b.handle_tcp, false, "88.201/LOT-1", rec)).len(), 1);
    assert_eq!(values(&ask(b.handle_udp, true, "88.201/LOT-1", rec)).len(), 1);
    assert_eq!(rc(&ask(b.handle_tcp, false, "88.201/NEW", rec)), 2);

    // A request that is not a resolution still gets the engine's answer.
    let bogus = resolution_request(13, "", &[], &[], rec, V, V);
    assert_eq!(rc(&Message::decode(&tcp_exchange(b.handle_tcp, &bogus, false).unwrap()).unwrap()), 102);
}

/// A self-signed node certificate for the name "idnode" (what idnode
/// generates itself), written as PEM files.
fn node_cert(dir: &Path, name: &str) -> (std::path::PathBuf, std::path::PathBuf) {
    let ck = rcgen::generate_simple_self_signed(vec!["idnode".to_owned()]).unwrap();
    let (crt, key) = (dir.join(format!("{name}.crt")), dir.join(format!("{name}.key")));
    std::fs::write(&crt, ck.cert.pem()).unwrap();
    std::fs::write(&key, ck.signing_key.serialize_pem()).unwrap();
    (crt, key)
}

/// Recursion where the peer is reached over QUIC (mutual TLS, ALPN hdl),
/// and over TCP when the configured QUIC peer has no QUIC door.
#[test]
fn recursion_uses_quic_links_and_falls_back_to_tcp() {
    let work = tempfile::tempdir().unwrap();
    let (a_crt, a_key) = node_cert(work.path(), "a");
    let (b_crt, b_key) = node_cert(work.path(), "b");

    let a_data = work.path().join("a.jsonl");
    write_jsonl(&a_data, &[("88.211/Q-1".into(), vec![value_json(1, "URL", b"https://a.example/Q-1", 3600)])]);
    let a = Node::start(&Setup {
        node_prefix: "88.211".into(),
        init: true,
        imports: vec![a_data],
        extra_toml: format!(
            "\n[federation.quic]\nlisten = \"127.0.0.1:0\"\ncert_file = \"{}\"\nkey_file = \"{}\"\ntrusted_peers = [\"{}\"]\n",
            a_crt.display(),
            a_key.display(),
            b_crt.display()
        ),
        ..Setup::default()
    })
    .expect("A starts");
    let a_quic = a.door("handle-quic").expect("A announces its QUIC door");

    // C has no QUIC door.
    let c_data = work.path().join("c.jsonl");
    write_jsonl(&c_data, &[("88.213/T-1".into(), vec![value_json(1, "URL", b"https://c.example/T-1", 3600)])]);
    let c = Node::start(&Setup { node_prefix: "88.213".into(), init: true, imports: vec![c_data], ..Setup::default() })
        .expect("C starts");
    assert!(c.door("handle-quic").is_none());

    let top_data = work.path().join("top.jsonl");
    write_jsonl(
        &top_data,
        &[
            ("0.NA/88.211".into(), vec![value_json(1, "HS_SITE", &site_of(&a), 86_400)]),
            ("0.NA/88.213".into(), vec![value_json(1, "HS_SITE", &site_of(&c), 86_400)]),
        ],
    );
    let top =
        Node::start(&Setup { node_prefix: "88.100".into(), init: true, imports: vec![top_data], ..Setup::default() })
            .expect("top starts");

    // B: QUIC client toward A (and toward C, whose QUIC port is closed).
    let closed = UdpSocket::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let b = Node::start(&Setup {
        node_prefix: "88.212".into(),
        init: true,
        extra_toml: format!(
            "\n[federation]\nrecursion = true\nroot = [\"udp://{}\", \"tcp://{}\"]\ntimeout_ms = 3000\n\n\
             [federation.quic]\ncert_file = \"{}\"\nkey_file = \"{}\"\ntrusted_peers = [\"{}\"]\n\n\
             [[federation.quic.peers]]\ntcp = \"{}\"\nquic = \"{}\"\n\n\
             [[federation.quic.peers]]\ntcp = \"{}\"\nquic = \"{}\"\n",
            top.handle_udp,
            top.handle_tcp,
            b_crt.display(),
            b_key.display(),
            a_crt.display(),
            a.handle_tcp,
            a_quic,
            c.handle_tcp,
            closed
        ),
        ..Setup::default()
    })
    .expect("B starts");

    let rec = OpFlags::PO | OpFlags::REC;
    let quic_answers = |n: &Node| metric(n, "idnode_requests_total", &["door=\"handle-quic\"", "rc=\"1\""]);
    assert_eq!(quic_answers(&a), 0.0);
    let m = ask(b.handle_tcp, false, "88.211/Q-1", rec);
    assert_eq!(values(&m), vec![(1, "URL".into(), "https://a.example/Q-1".into())]);
    // A counts the stream just after writing the answer: poll briefly.
    let deadline = Instant::now() + Duration::from_secs(5);
    while quic_answers(&a) < 1.0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(quic_answers(&a), 1.0, "A answered B over QUIC");
    // Another identifier: the same QUIC connection, a new stream.
    assert_eq!(rc(&ask(b.handle_udp, true, "88.211/absent", rec)), 100);

    // C: QUIC configured but nothing listens there -> TCP.
    let tcp_answers = |n: &Node| metric(n, "idnode_requests_total", &["door=\"handle-tcp\"", "rc=\"1\""]);
    let before = tcp_answers(&c);
    let m = ask(b.handle_tcp, false, "88.213/T-1", rec);
    assert_eq!(values(&m), vec![(1, "URL".into(), "https://c.example/T-1".into())]);
    let deadline = Instant::now() + Duration::from_secs(5);
    while tcp_answers(&c) < before + 1.0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(tcp_answers(&c), before + 1.0, "C answered B over TCP");

    // A client that is not a trusted peer cannot use A's QUIC door: B's
    // certificate is trusted, a fresh one is not (checked through idnode
    // itself: a node with an untrusted certificate gets no answer over QUIC
    // and falls back to TCP).
    let (x_crt, x_key) = node_cert(work.path(), "x");
    let x = Node::start(&Setup {
        node_prefix: "88.214".into(),
        init: true,
        extra_toml: format!(
            "\n[federation]\nrecursion = true\nroot = [\"tcp://{}\"]\ntimeout_ms = 3000\n\n\
             [federation.quic]\ncert_file = \"{}\"\nkey_file = \"{}\"\ntrusted_peers = [\"{}\"]\n\n\
             [[federation.quic.peers]]\ntcp = \"{}\"\nquic = \"{}\"\n",
            top.handle_tcp,
            x_crt.display(),
            x_key.display(),
            a_crt.display(),
            a.handle_tcp,
            a_quic
        ),
        ..Setup::default()
    })
    .expect("X starts");
    let quic_before = quic_answers(&a);
    let m = ask(x.handle_tcp, false, "88.211/Q-1", rec);
    assert_eq!(values(&m).len(), 1, "answered through the TCP fallback");
    assert_eq!(quic_answers(&a), quic_before, "A refused the untrusted QUIC client");
}
