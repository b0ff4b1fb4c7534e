//! Every captured request of `vectors/cnri-9.2.0.json`, sent to the built
//! node holding the reference server's data, must get the captured answer
//! byte for byte (expiration time, nonce and session id aside, as the
//! vectors README says).

use std::time::Duration;

use idnode_conformance::{Node, Setup, assert_same_answer, crate_dir, tcp_exchange, udp_exchange, vectors};

fn reference_node() -> Node {
    let site = crate_dir().join("fixtures/cnri-site.bin");
    Node::start(&Setup {
        node_prefix: "TEST".into(),
        init: true,
        // The reference server ran with `case_sensitive = no` (vector
        // tcp-resolve-case finds test/ABC).
        node_toml: "case_policy = \"insensitive\"".into(),
        imports: vec![crate_dir().join("fixtures/cnri-seed.jsonl")],
        extra_toml: format!("[handle.site]\nserial = 1\nrecord_file = \"{}\"\n", site.display()),
        ..Setup::default()
    })
    .expect("node starts")
}

fn unhex(s: &str) -> Vec<u8> {
    hex::decode(s).expect("vector hex")
}

#[test]
fn every_vector_gets_the_captured_answer() {
    let node = reference_node();
    let vs = vectors();
    assert_eq!(vs.len(), 17, "the capture has 17 pairs");
    for v in &vs {
        let want: Vec<Vec<u8>> = v.response.iter().map(|h| unhex(h)).collect();
        let challenge = want[0].len() >= 28 && want[0][24..28] == 402u32.to_be_bytes();
        match v.transport.as_str() {
            "udp" => {
                let req: Vec<Vec<u8>> = v.request.iter().map(|h| unhex(h)).collect();
                let got = udp_exchange(node.handle_udp, &req, Duration::from_secs(5))
                    .expect("udp exchange")
                    .unwrap_or_else(|| panic!("{}: no UDP answer", v.name));
                assert_eq!(got.len(), want.len(), "{}: datagram count", v.name);
                for (i, (g, w)) in got.iter().zip(&want).enumerate() {
                    assert_same_answer(&format!("{} datagram {i}", v.name), g, w, i == 0, challenge);
                }
            }
            "tcp" => {
                let req = unhex(&v.request[0]);
                // The two malformed captures end with the client closing its
                // write side before the announced length arrived.
                let half_close = v.name == "tcp-truncated-body" || v.name == "tcp-garbage";
                let got =
                    tcp_exchange(node.handle_tcp, &req, half_close).unwrap_or_else(|e| panic!("{}: {e:#}", v.name));
                assert_same_answer(&v.name, &got, &want[0], true, challenge);
            }
            other => panic!("unknown transport {other}"),
        }
    }
}
