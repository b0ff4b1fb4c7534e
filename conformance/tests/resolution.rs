//! Black-box behaviour of the Handle doors beyond the captured vectors:
//! PO and permissions, filters, robustness against malformed input, kept-open
//! TCP connections, the `idnode resolve` client, metrics and shutdown.

use std::io::Write;
use std::net::{TcpStream, UdpSocket};
use std::process::Command;
use std::time::Duration;

use idnode_conformance::{
    Node, Setup, crate_dir, http_get, idnode_bin, read_message, resolution_request, tcp_exchange, udp_exchange,
};
use idnode_resolver::wire::{Body, Message, OpFlags, ProtocolVersion};

const V211: ProtocolVersion = ProtocolVersion::OURS;

fn reference_node() -> Node {
    Node::start(&Setup {
        node_prefix: "TEST".into(),
        init: true,
        imports: vec![crate_dir().join("fixtures/cnri-seed.jsonl")],
        ..Setup::default()
    })
    .expect("node starts")
}

fn ask_tcp(node: &Node, handle: &str, indexes: &[u32], types: &[&str], flags: OpFlags) -> Message {
    let req = resolution_request(7, handle, indexes, types, flags, V211, V211);
    Message::decode(&tcp_exchange(node.handle_tcp, &req, false).expect("tcp")).expect("decodable answer")
}

fn indexes_of(m: &Message) -> Vec<u32> {
    match &m.body {
        Body::ResolutionResponse(r) => r.values.iter().map(|v| v.index).collect(),
        other => panic!("not a resolution response: {other:?}"),
    }
}

#[test]
fn public_only_filters_and_permissions() {
    let node = reference_node();
    // PO hides the admin-only EMAIL at index 2.
    let m = ask_tcp(&node, "TEST/abc", &[], &[], OpFlags::PO);
    assert_eq!(m.header.response_code.0, 1);
    assert_eq!(indexes_of(&m), vec![100, 1]);
    // Without PO the admin-only value needs authentication: 402.
    let m = ask_tcp(&node, "TEST/abc", &[], &[], OpFlags::NONE);
    assert_eq!(m.header.response_code.0, 402);
    // Asking only for public values without PO is fine.
    let m = ask_tcp(&node, "TEST/abc", &[1], &[], OpFlags::NONE);
    assert_eq!(indexes_of(&m), vec![1]);
    // Index and type filters are OR-ed; types are case-insensitive.
    let m = ask_tcp(&node, "TEST/abc", &[100], &["url"], OpFlags::PO);
    assert_eq!(indexes_of(&m), vec![100, 1]);
    // Only the non-public value asked, with PO: values not found.
    let m = ask_tcp(&node, "TEST/abc", &[2], &[], OpFlags::PO);
    assert_eq!(m.header.response_code.0, 200);
    // Trailing dot matches sub-types.
    let m = ask_tcp(&node, "0.NA/88", &[], &["HS_SITE."], OpFlags::PO);
    assert_eq!(indexes_of(&m), vec![1, 2]);
    // Prefix case folded, suffix case kept, echo as asked.
    let m = ask_tcp(&node, "test/abc", &[], &[], OpFlags::PO);
    match &m.body {
        Body::ResolutionResponse(r) => assert_eq!(r.handle, b"test/abc"),
        other => panic!("{other:?}"),
    }
    assert_eq!(ask_tcp(&node, "TEST/ABC", &[], &[], OpFlags::PO).header.response_code.0, 100);
    assert_eq!(ask_tcp(&node, "NOPE/abc", &[], &[], OpFlags::PO).header.response_code.0, 301);
}

#[test]
fn malformed_input_is_answered_or_dropped_and_the_node_keeps_serving() {
    let mut node = reference_node();
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(300))).unwrap();
    // Too short for an envelope; oversize; an envelope announcing 10 MB.
    let mut huge = resolution_request(1, "TEST/abc", &[], &[], OpFlags::PO, V211, V211);
    huge[16..20].copy_from_slice(&10_000_000u32.to_be_bytes());
    for junk in [vec![1u8, 2, 3], vec![0xffu8; 600], huge.clone(), vec![0u8; 20]] {
        sock.send_to(&junk, node.handle_udp).unwrap();
        let mut buf = [0u8; 600];
        if let Ok(n) = sock.recv(&mut buf) {
            // An answer to junk must be a protocol error, never a crash.
            let rc = u32::from_be_bytes([buf[24], buf[25], buf[26], buf[27]]);
            assert!(n >= 28 && rc == 4, "unexpected answer to junk: rc {rc}");
        }
    }
    // A well-framed message whose body is garbage: RC 4 over TCP.
    let mut bad = resolution_request(9, "TEST/abc", &[], &[], OpFlags::PO, V211, V211);
    let n = bad.len();
    bad[48..n - 4].fill(0xee);
    let ans = Message::decode(&tcp_exchange(node.handle_tcp, &bad, false).unwrap()).unwrap();
    assert_eq!(ans.header.response_code.0, 4);
    // Oversize TCP length: RC 4 and the connection closes.
    let ans = Message::decode(&tcp_exchange(node.handle_tcp, &huge, false).unwrap()).unwrap();
    assert_eq!(ans.header.response_code.0, 4);
    // Still serving, both doors.
    let req = resolution_request(42, "TEST/abc", &[], &[], OpFlags::PO, V211, V211);
    let got =
        udp_exchange(node.handle_udp, std::slice::from_ref(&req), Duration::from_secs(3)).unwrap().expect("udp answer");
    assert_eq!(u32::from_be_bytes([got[0][24], got[0][25], got[0][26], got[0][27]]), 1);
    assert_eq!(
        Message::decode(&tcp_exchange(node.handle_tcp, &req, false).unwrap()).unwrap().header.response_code.0,
        1
    );
    assert!(node.is_running());
}

#[test]
fn tcp_connection_serves_several_requests_in_order() {
    let node = reference_node();
    let mut s = TcpStream::connect(node.handle_tcp).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    for (id, handle, rc) in [(1, "TEST/abc", 1), (2, "TEST/nope", 100), (3, "ZZZ/x", 301), (4, "TEST/abc", 1)] {
        s.write_all(&resolution_request(id, handle, &[], &[], OpFlags::PO, V211, V211)).unwrap();
        let m = Message::decode(&read_message(&mut s).unwrap()).unwrap();
        assert_eq!(m.envelope.request_id, id);
        assert_eq!(m.header.response_code.0, rc, "{handle}");
    }
}

#[test]
fn resolve_command_metrics_health_and_clean_shutdown() {
    // Demo data on a fresh directory (what the README's run command does).
    let node = Node::start(&Setup::default()).expect("node starts");
    let id = "88.118.8.1001/LOT2026-000451";
    let out = Command::new(idnode_bin())
        .args(["resolve", id, "--server", &node.handle_udp.to_string(), "--json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(j["responseCode"], 1);
    assert_eq!(j["handle"], id);
    assert!(j["values"].as_array().unwrap().iter().any(|v| v["type"] == "URL"));
    let out = Command::new(idnode_bin())
        .args(["resolve", "88.118.8.1001/NO-SUCH", "--server", &node.handle_tcp.to_string(), "--tcp"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("100"));

    let (status, _) = http_get(node.http, "/healthz").unwrap();
    assert_eq!(status, 200);
    let (status, _) = http_get(node.http, "/readyz").unwrap();
    assert_eq!(status, 200);
    let (status, body) = http_get(node.admin, "/metrics").unwrap();
    assert_eq!(status, 200);
    assert!(
        body.lines().any(|l| l.starts_with("idnode_requests_total{")
            && l.contains("door=\"handle-udp\"")
            && l.contains("opcode=\"1\"")
            && l.contains("rc=\"1\"")),
        "metrics lack the UDP resolution counter:\n{body}"
    );
    assert!(body.contains("idnode_request_duration_seconds"));
    assert_eq!(node.terminate().unwrap(), Some(0));
}

#[test]
fn pipelined_tcp_requests_are_answered_in_order() {
    let node = reference_node();
    let mut s = TcpStream::connect(node.handle_tcp).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut burst = Vec::new();
    for id in 1..=50 {
        let handle = if id % 2 == 0 { "TEST/abc" } else { "TEST/nope" };
        burst.extend(resolution_request(id, handle, &[], &[], OpFlags::PO, V211, V211));
    }
    s.write_all(&burst).unwrap();
    for id in 1..=50 {
        let m = Message::decode(&read_message(&mut s).unwrap()).unwrap();
        assert_eq!(m.envelope.request_id, id);
        assert_eq!(m.header.response_code.0, if id % 2 == 0 { 1 } else { 100 });
    }
}
