//! The upstream client against real servers: the resolution engine over
//! real sled stores, served on loopback UDP and TCP sockets by a minimal
//! in-test listener. Covers the §7 walk: a 303 prefix referral from the
//! root to a top node, the prefix record's HS_SITE, a 302 service referral
//! to an enterprise node, UDP answers of several datagrams, TCP reuse, and
//! a referral loop ending in TooDeep (RC 6) instead of hanging.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use idnode_registry::ident::CasePolicy;
use idnode_registry::model::prefix::{Prefix, PrefixState};
use idnode_registry::model::site::{Interface, SiteServer, interface_protocol, interface_type};
use idnode_registry::model::{HsSite, Value};
use idnode_registry::seed::init_store;
use idnode_registry::store::{SledStore, Store, StoreExt, WriteCtx};
use idnode_resolver::engine::{Ctx, Engine, EngineConfig, Transport};
use idnode_resolver::upstream::{Protocol, Query, Target, Upstream, UpstreamConfig, UpstreamError};
use idnode_resolver::wire::{Body, ENVELOPE_LEN, ResponseCode, UDP_MAX_DATAGRAM, udp_fragments};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const NOW: u64 = 1_700_000_000;

/// A server under test: bound sockets first (their ports go into HS_SITE
/// values), the store filled, then served.
struct Server {
    udp: Arc<tokio::net::UdpSocket>,
    tcp: tokio::net::TcpListener,
    store: Arc<SledStore>,
    _dir: tempfile::TempDir,
}

impl Server {
    async fn bind(node_prefix: Option<&str>) -> Server {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(SledStore::open_path(dir.path()).unwrap());
        if let Some(p) = node_prefix {
            init_store(store.as_ref(), p, CasePolicy::CaseSensitive, 1).unwrap();
        }
        Server {
            udp: Arc::new(tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap()),
            tcp: tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap(),
            store,
            _dir: dir,
        }
    }

    fn site(&self) -> Vec<u8> {
        let (u, t) = (self.udp.local_addr().unwrap().port(), self.tcp.local_addr().unwrap().port());
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
                    Interface { kind: interface_type::QUERY, protocol: interface_protocol::UDP, port: u.into() },
                    Interface { kind: interface_type::QUERY, protocol: interface_protocol::TCP, port: t.into() },
                ],
            }],
        }
        .to_bytes()
    }

    fn tcp_addr(&self) -> SocketAddr {
        self.tcp.local_addr().unwrap()
    }

    fn put(&self, handle: &str, values: Vec<Value>) {
        self.store.create_record(handle.as_bytes(), values, false, &WriteCtx::new(1, "t")).unwrap();
    }

    /// Serves until the test's runtime ends.
    fn serve(self) {
        let store: Arc<dyn Store> = self.store.clone();
        let engine = Arc::new(Engine::new(store, EngineConfig::default()));
        let udp = self.udp.clone();
        let e = engine.clone();
        tokio::spawn(async move {
            let mut buf = vec![0u8; 2048];
            while let Ok((n, peer)) = udp.recv_from(&mut buf).await {
                let mut out = Vec::new();
                let ctx = Ctx { transport: Transport::Udp, peer, now: NOW };
                e.handle(&ctx, &buf[..n], &mut out);
                for f in udp_fragments(&out, false) {
                    let _ = udp.send_to(&f.to_vec(), peer).await;
                }
            }
        });
        let tcp = self.tcp;
        let _keep = self._dir;
        tokio::spawn(async move {
            let _keep = _keep;
            while let Ok((mut s, peer)) = tcp.accept().await {
                let e = engine.clone();
                tokio::spawn(async move {
                    loop {
                        let mut env = [0u8; ENVELOPE_LEN];
                        if s.read_exact(&mut env).await.is_err() {
                            return;
                        }
                        let len = u32::from_be_bytes([env[16], env[17], env[18], env[19]]) as usize;
                        let mut req = env.to_vec();
                        req.resize(ENVELOPE_LEN + len, 0);
                        if s.read_exact(&mut req[ENVELOPE_LEN..]).await.is_err() {
                            return;
                        }
                        let mut out = Vec::new();
                        e.handle(&Ctx { transport: Transport::Tcp, peer, now: NOW }, &req, &mut out);
                        if s.write_all(&out).await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
    }
}

fn value(index: u32, ty: &str, data: impl Into<Vec<u8>>) -> Value {
    Value::new(index, ty, data)
}

fn client() -> Upstream {
    Upstream::new(UpstreamConfig {
        udp_schedule: vec![Duration::from_millis(300), Duration::from_millis(600)],
        connect_timeout: Duration::from_secs(2),
        exchange_timeout: Duration::from_secs(5),
        max_steps: 10,
        ..UpstreamConfig::default()
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_walk_follows_prefix_and_service_referrals() {
    // root: 0.NA/88 refers (303) to the top node; a self-referral loop.
    let root = Server::bind(None).await;
    // top: 0.NA/88.5 -> leaf; 0.NA/88.5.1 -> leaf too (leaf refers on).
    let top = Server::bind(None).await;
    // leaf homes 88.5 and refers 88.5.1 (an enterprise node) with 302.
    let leaf = Server::bind(Some("88.5")).await;
    let ent = Server::bind(Some("88.5.1")).await;

    root.put("0.NA/88", vec![value(1, "HS_SITE.PREFIX", top.site())]);
    root.put("0.NA/77", vec![value(1, "HS_SITE.PREFIX", root.site())]);
    top.put("0.NA/88.5", vec![value(1, "HS_SITE", leaf.site())]);
    top.put("0.NA/88.5.1", vec![value(1, "HS_SITE", leaf.site())]);
    let big = "x".repeat(1500);
    leaf.put("88.5/item", vec![value(1, "URL", "https://leaf.example/item"), value(2, "DESC", big.clone())]);
    let mut p = Prefix::new("88.5.1", PrefixState::Enabled, 1);
    p.homed = false;
    p.site = Some(ent.site());
    leaf.store.put_prefix(&p, &WriteCtx::new(1, "t")).unwrap();
    ent.put("88.5.1/SN-1", vec![value(1, "URL", "https://ent.example/SN-1")]);
    let roots = vec![Target::udp(root.udp.local_addr().unwrap()), Target::tcp(root.tcp_addr())];
    let leaf_tcp = leaf.tcp_addr();
    for s in [root, top, leaf, ent] {
        s.serve();
    }
    let up = client();

    // 303 at the root, HS_SITE at the top, the identifier at the leaf; the
    // answer (1.5 KB) comes in several UDP datagrams and is reassembled.
    let a = up.resolve(&roots, &Query::new("88.5/item"), NOW).await.unwrap();
    assert_eq!(a.message.header.response_code, ResponseCode::SUCCESS);
    assert_eq!(a.from.protocol, Protocol::Udp);
    assert!(a.raw.len() > UDP_MAX_DATAGRAM);
    match &a.message.body {
        Body::ResolutionResponse(r) => {
            assert_eq!(r.handle, b"88.5/item");
            assert_eq!(r.values.len(), 2);
            assert_eq!(r.values[1].data, big.as_bytes());
        }
        other => panic!("{other:?}"),
    }

    // 302 from the leaf to the enterprise node.
    let a = up.resolve(&roots, &Query::new("88.5.1/SN-1"), NOW).await.unwrap();
    match &a.message.body {
        Body::ResolutionResponse(r) => assert_eq!(r.values[0].data, b"https://ent.example/SN-1"),
        other => panic!("{other:?}"),
    }

    // Not found at the right server: the server's answer, passed on.
    let a = up.resolve(&roots, &Query::new("88.5/none"), NOW).await.unwrap();
    assert_eq!(a.message.header.response_code, ResponseCode::HANDLE_NOT_FOUND);

    // A prefix referral loop: TooDeep (RC 6), after exactly max_steps.
    let e = up.resolve(&roots, &Query::new("77.1/x"), NOW).await.unwrap_err();
    assert!(matches!(e, UpstreamError::TooDeep { limit: 10, .. }), "{e}");
    assert_eq!(e.response_code(), ResponseCode::RECURSION_COUNT_TOO_HIGH);

    // TCP only, twice: the second exchange reuses the kept-open connection
    // (the server keeps it open) and still matches the answer.
    for _ in 0..2 {
        let a = up.exchange(Target::tcp(leaf_tcp), &Query::new("88.5/item").to_message(NOW)).await.unwrap();
        assert_eq!(a.message.header.response_code, ResponseCode::SUCCESS);
    }

    // A closed port: UDP refused, TCP refused -> a retryable error.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let e = up.resolve(&[Target::udp(closed), Target::tcp(closed)], &Query::new("0.NA/88"), NOW).await.unwrap_err();
    assert!(e.is_retryable(), "{e}");
}
