//! Micro-benchmarks of the Handle codec's hot path: decoding a resolution
//! request and encoding its answer, zero-copy versus the general owned
//! path. Inputs are the CNRI 9.2.0 capture `udp-resolve-digest`
//! (conformance/vectors). Run: `cargo bench -p idnode-resolver --bench wire`.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use idnode_registry::model::Value;
use idnode_resolver::wire::{Message, ResolutionRequestRef, Responder};

/// UDP resolution of TEST/abc, flags CA|PO|RD (52 bytes).
const REQUEST: &str = "020a020b0000000000001235000000000000003000000001000000000980\
0000ffff00006b0000000000001400000008544553542f616263000000000000000000000000";

fn values(n: usize) -> Vec<Vec<u8>> {
    (0..n)
        .map(|i| {
            let v = if i == 0 {
                Value::new(100, "HS_ADMIN", hex_bytes("0fff00000009302e4e412f544553540000012c"))
            } else {
                Value::new(i as u32, "URL", format!("http://example.org/abc/{i}"))
            };
            v.to_bytes()
        })
        .collect()
}

fn hex_bytes(s: &str) -> Vec<u8> {
    hex::decode(s).unwrap()
}

const RESPONDER: Responder = Responder { site_serial: 1, primary: true, expiration: 0x6b02_402f };

fn decode(c: &mut Criterion) {
    let req = hex_bytes(REQUEST);
    let mut g = c.benchmark_group("decode_resolution_request");
    g.throughput(Throughput::Elements(1));
    g.bench_function("zero_copy", |b| {
        b.iter(|| {
            let r = ResolutionRequestRef::decode(black_box(&req)).unwrap();
            black_box((r.handle, r.indexes().len(), r.types().len()));
        })
    });
    g.bench_function("owned_message", |b| b.iter(|| black_box(Message::decode(black_box(&req)).unwrap())));
    g.finish();
}

fn encode(c: &mut Criterion) {
    let req_bytes = hex_bytes(REQUEST);
    let req = ResolutionRequestRef::decode(&req_bytes).unwrap();
    for n in [2usize, 20] {
        let raw = values(n);
        let mut g = c.benchmark_group(format!("encode_resolution_response/{n}_values"));
        g.throughput(Throughput::Elements(1));
        let mut out = Vec::with_capacity(4096);
        g.bench_function("copy_encoded_values", |b| {
            b.iter(|| {
                out.clear();
                req.encode_response(&mut out, &RESPONDER, black_box(&raw)).unwrap();
                black_box(out.len());
            })
        });
        // Includes the SHA-256 request digest (RD is set) in both variants.
        let owned: Vec<Value> = raw.iter().map(|b| Value::from_bytes(b).unwrap()).collect();
        let full = Message::decode(&req_bytes).unwrap();
        g.bench_function("owned_message", |b| {
            b.iter(|| {
                let body = idnode_resolver::wire::Body::ResolutionResponse(idnode_resolver::wire::ResolutionResponse {
                    digest: req.response_digest(),
                    handle: req.handle.to_vec(),
                    values: black_box(&owned).clone(),
                });
                let m = Message::response_to(
                    &full.envelope,
                    &full.header,
                    idnode_resolver::wire::ResponseCode::SUCCESS,
                    &RESPONDER,
                    body,
                );
                black_box(m.encode());
            })
        });
        g.finish();
    }
}

criterion_group!(benches, decode, encode);
criterion_main!(benches);
