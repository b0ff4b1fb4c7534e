//! Micro-benchmark of the resolution path without sockets: `Engine::handle`
//! on a sled store of 100,000 identifiers (hit, miss, filtered, RD digest).
//! `cargo bench -p idnode-resolver --bench engine`; for stable figures on a
//! shared machine, count instructions with
//! `valgrind --tool=callgrind target/release/deps/engine-* --bench --profile-time 2`.

use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use idnode_registry::ident::CasePolicy;
use idnode_registry::model::Value;
use idnode_registry::seed::init_store;
use idnode_registry::store::{RecordOp, SledStore, Store, WriteCtx};
use idnode_resolver::engine::{Ctx, Engine, EngineConfig, Transport};
use idnode_resolver::wire::{Body, Envelope, Header, Message, OpCode, OpFlags, ProtocolVersion, ResolutionRequest};

const N: usize = 100_000;

fn request(handle: &str, types: &[&str], flags: OpFlags) -> Vec<u8> {
    Message {
        envelope: Envelope::request(ProtocolVersion::OURS, 7),
        header: Header::request(OpCode::RESOLUTION, flags, 0x6b00_0000),
        body: Body::Resolution(ResolutionRequest {
            handle: handle.as_bytes().to_vec(),
            indexes: Vec::new(),
            types: types.iter().map(|t| t.as_bytes().to_vec()).collect(),
            auth_token: None,
        }),
        credential: None,
    }
    .encode()
}

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SledStore::open_path(dir.path().join("store")).unwrap());
    init_store(store.as_ref(), "88.118.8", CasePolicy::CaseSensitive, 1).unwrap();
    let ctx = WriteCtx::new(1, "bench");
    for chunk in (0..N).collect::<Vec<_>>().chunks(10_000) {
        let ops = chunk
            .iter()
            .map(|n| RecordOp::Create {
                key: format!("88.118.8/BENCH-{n}").into_bytes(),
                values: vec![
                    Value::new(1, "URL", format!("https://www.example.com/p/BENCH-{n}")),
                    Value::new(2000, "model", "CP-200"),
                    Value::new(2001, "batch", format!("LOT2026-{n:06}")),
                ],
                overwrite: true,
            })
            .collect();
        for r in store.write_batch(ops, &ctx).unwrap() {
            r.unwrap();
        }
    }
    let store: Arc<dyn Store> = store;
    let engine = Engine::new(store, EngineConfig::default());
    let cctx = Ctx { transport: Transport::Udp, peer: "127.0.0.1:9".parse().unwrap(), now: 1_700_000_000 };
    let mut out = Vec::with_capacity(4096);
    let mut g = c.benchmark_group("engine");
    let cases = [
        ("hit", request("88.118.8/BENCH-4242", &[], OpFlags::CA | OpFlags::PO)),
        ("miss", request("88.118.8/BENCH-4242-absent", &[], OpFlags::CA | OpFlags::PO)),
        ("hit_type_filter", request("88.118.8/BENCH-4242", &["URL"], OpFlags::CA | OpFlags::PO)),
        ("hit_digest", request("88.118.8/BENCH-4242", &[], OpFlags::CA | OpFlags::PO | OpFlags::RD)),
        ("not_homed", request("99.1/x", &[], OpFlags::CA | OpFlags::PO)),
    ];
    for (name, req) in &cases {
        g.bench_function(*name, |b| {
            b.iter(|| {
                out.clear();
                std::hint::black_box(engine.handle(&cctx, std::hint::black_box(req), &mut out));
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
