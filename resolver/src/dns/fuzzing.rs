//! Fuzzing entry point of the DNS request path (fuzz target `dns_request`,
//! and the stable replay of its seed corpus in `resolver/tests/dns_fuzz_corpus.rs`):
//! a front over a real sled store with one record bound under every scheme,
//! fed arbitrary bytes over both transports. Invariants: no panic; an
//! answer is a decodable response with the request's id; a UDP answer fits
//! the client's buffer (512 without EDNS); in a batch (with itself) it is
//! answered with the same bytes as alone.

use std::sync::{Arc, OnceLock};

use hickory_proto::op::Message;
use idnode_registry::model::{Alias, Prefix, Value};
use idnode_registry::store::{SledOptions, SledStore, Store, StoreExt, WriteCtx};

use super::{DnsConfig, DnsFront, Transport, ZoneConfig, ZoneScheme};

/// The shared front (built once per process, in a temporary directory).
pub fn front() -> &'static DnsFront {
    static FRONT: OnceLock<DnsFront> = OnceLock::new();
    FRONT.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("idnode-dns-fuzz-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        // With read caches: resolution reads are stamped, answers kept.
        let opts = SledOptions::new(&dir).read_cache_entries(1000).alias_cache_entries(1000);
        let store: Arc<dyn Store> = Arc::new(SledStore::open(opts).expect("fuzz store"));
        let ctx = WriteCtx::new(1, "fuzz");
        store.put_prefix(&Prefix::homed("88.1", 1), &ctx).expect("prefix");
        let values =
            (1..=6).map(|i| Value::new(i, "URL", format!("https://example.org/{i}/{}", "z".repeat(60)))).collect();
        store.create_record(b"88.1/a", values, true, &ctx).expect("record");
        for (scheme, code) in [("oid", "1.2.156.1"), ("gs1", "06901234567892"), ("ecode", "100010000000012345")] {
            let a = Alias { scheme: scheme.into(), code: code.into(), target: "88.1/a".into(), created: 1 };
            store.put_alias(&a).expect("alias");
        }
        let zone = |scheme, origin: &str| ZoneConfig {
            scheme,
            origin: origin.into(),
            name_servers: vec!["ns.example".into()],
            hostmaster: "h.example".into(),
            serial: 1,
            ttl: 60,
            negative_ttl: 30,
            naptr_service: "x".into(),
        };
        let cfg = DnsConfig {
            zones: vec![
                zone(ZoneScheme::Oid, "oid"),
                zone(ZoneScheme::Gs1, "gs1"),
                zone(ZoneScheme::Ecode, "ecode"),
                zone(ZoneScheme::Vaa, "vaa"),
            ],
            max_udp_payload: 1232,
            answer_cache_entries: 1000,
        };
        DnsFront::new(&cfg, store).expect("front")
    })
}

/// One request over UDP and over a stream, with the invariants checked.
pub fn request(data: &[u8]) {
    let front = front();
    let mut out = Vec::new();
    for transport in [Transport::Udp, Transport::Stream] {
        let o = front.answer(data, transport, &mut out);
        if o.rcode.is_none() {
            assert!(out.is_empty());
            continue;
        }
        assert!(out.len() >= 12 && out[..2] == data[..2], "answer id differs");
        assert!(out[2] & 0x80 != 0, "answer without QR");
        let m = Message::from_vec(&out).expect("our answer decodes");
        if transport == Transport::Udp {
            let limit = Message::from_vec(data)
                .ok()
                .and_then(|q| q.edns.map(|e| e.max_payload().clamp(512, 1232)))
                .unwrap_or(512);
            assert!(out.len() <= usize::from(limit), "UDP answer of {} bytes over {limit}", out.len());
        }
        drop(m);
    }
    // The same request twice in a UDP batch: the bytes it gets alone.
    let mut single = Vec::new();
    let o = front.answer(data, Transport::Udp, &mut single);
    // Appended after bytes already there (the UDP door's arena).
    let mut arena = vec![0xee; 3];
    let mut got = Vec::new();
    let mut buffers = super::BatchBuffers::default();
    front.answer_batch(&[data, data], Transport::Udp, &mut arena, &mut buffers, |_, range, ob| got.push((range, ob)));
    assert_eq!(got.len(), 2, "every request of a batch is answered once");
    for (range, ob) in got {
        assert_eq!(ob, o, "a batch's outcome differs");
        assert_eq!(arena[range], single[..], "a batch's answer differs");
    }
    assert_eq!(arena[..3], [0xee; 3]);
}
