//! Read-your-writes on every door (issue 14): once a write returned, the
//! next resolution of that identifier over Handle UDP, Handle TCP and REST
//! answers the new record — also for identifiers the node serves from its
//! read snapshot (imported before the daemon started), and for deletes.
//! No timing is asserted.

use std::time::Duration;

use idnode_conformance::{Node, Setup, http_get, idnode, resolution_request, tcp_exchange, udp_exchange};
use idnode_resolver::wire::{Body, Message, OpFlags, ProtocolVersion};

const V211: ProtocolVersion = ProtocolVersion::OURS;

/// (response code, URL value) over one Handle door.
fn handle_url(answer: &[u8]) -> (u32, Option<String>) {
    let m = Message::decode(answer).expect("decodable answer");
    let url = match &m.body {
        Body::ResolutionResponse(r) => {
            r.values.iter().find(|v| v.index == 1).map(|v| String::from_utf8_lossy(&v.data).into_owned())
        }
        _ => None,
    };
    (m.header.response_code.0, url)
}

fn udp(node: &Node, handle: &str) -> (u32, Option<String>) {
    let req = resolution_request(9, handle, &[], &[], OpFlags::PO, V211, V211);
    let got = udp_exchange(node.handle_udp, std::slice::from_ref(&req), Duration::from_secs(5))
        .expect("udp")
        .expect("udp answer");
    assert_eq!(got.len(), 1, "one datagram");
    handle_url(&got[0])
}

fn tcp(node: &Node, handle: &str) -> (u32, Option<String>) {
    let req = resolution_request(9, handle, &[], &[], OpFlags::PO, V211, V211);
    handle_url(&tcp_exchange(node.handle_tcp, &req, false).expect("tcp"))
}

fn rest(node: &Node, handle: &str) -> (u16, String) {
    http_get(node.http, &format!("/api/handles/{handle}")).expect("rest")
}

#[test]
fn a_write_is_visible_to_the_next_resolution_on_udp_tcp_and_rest() {
    let dir = tempfile::tempdir().unwrap();
    let seed = dir.path().join("seed.jsonl");
    let lines: String = (0..500)
        .map(|i| format!("{{\"handle\":\"88.118.8.1001/RYW-{i}\",\"values\":[{{\"index\":1,\"type\":\"URL\",\"data\":\"https://seed/{i}\"}}]}}\n"))
        .collect();
    std::fs::write(&seed, lines).unwrap();
    let node = Node::start(&Setup { init: true, imports: vec![seed], ..Setup::default() }).expect("node starts");
    let cfg = node.config.clone();

    // Imported identifiers answer on every door.
    let h = "88.118.8.1001/RYW-7";
    assert_eq!(udp(&node, h), (1, Some("https://seed/7".into())));
    assert_eq!(tcp(&node, h), (1, Some("https://seed/7".into())));
    let (status, body) = rest(&node, h);
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("https://seed/7"), "{body}");

    for round in 0..5 {
        // Replace an imported record (served from the snapshot until now),
        // then create a new one: the very next resolution sees each.
        for (h, fresh) in [(format!("88.118.8.1001/RYW-{round}"), false), (format!("88.118.8.1001/NEW-{round}"), true)]
        {
            let url = format!("https://v{round}/{}", if fresh { "new" } else { "old" });
            let mut args = vec!["id", "put", h.as_str(), ""];
            let spec = format!("1:URL:{url}");
            args[3] = &spec;
            if !fresh {
                args.push("--overwrite");
            }
            idnode(&cfg, &args).expect("put through the daemon");
            assert_eq!(udp(&node, &h), (1, Some(url.clone())), "udp after writing {h}");
            assert_eq!(tcp(&node, &h), (1, Some(url.clone())), "tcp after writing {h}");
            let (status, body) = rest(&node, &h);
            assert_eq!(status, 200, "rest after writing {h}: {body}");
            assert!(body.contains(&url), "rest after writing {h}: {body}");
        }
        // A delete: the next resolution is "not found" everywhere.
        let h = format!("88.118.8.1001/RYW-{}", 100 + round);
        idnode(&cfg, &["id", "rm", &h]).expect("rm through the daemon");
        assert_eq!(udp(&node, &h), (100, None), "udp after deleting {h}");
        assert_eq!(tcp(&node, &h), (100, None), "tcp after deleting {h}");
        assert_eq!(rest(&node, &h).0, 404, "rest after deleting {h}");
    }
    // Untouched imported identifiers still answer their imported record.
    assert_eq!(udp(&node, "88.118.8.1001/RYW-499"), (1, Some("https://seed/499".into())));
}
