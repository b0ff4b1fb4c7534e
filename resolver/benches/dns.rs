//! Micro-benchmark of the DNS front without sockets: `DnsFront::answer` over
//! a sled store holding `IDNODE_BENCH_ALIASES` (default 10^6) GS1 aliases,
//! each bound to its own record. Cases: a hit (NAPTR answer), a miss (a
//! well-formed GTIN that is not bound: one alias-tree probe), a malformed
//! name (bad check digit: refused by the grammar, no store access) and a
//! foreign zone (REFUSED). The claim checked by reading the figures: a miss
//! costs no more than a hit.
//!
//! Twice: first (`dns_*`) over the store opened without read caches, so a
//! hit makes the alias and record reads every time; then (`dns_daemon_*`)
//! reopened as the daemon opens it (read caches, the alias filter, the
//! front's answer cache), where a hit asked again is answered from the
//! answer cache and a miss from the alias filter.
//! `cargo bench -p idnode-resolver --bench dns`.

use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use hickory_proto::op::{Message, Query};
use hickory_proto::rr::{Name, RecordType};
use idnode_registry::ident::gs1::{Gtin, ONS_ZONE};
use idnode_registry::model::{Alias, Prefix, Value};
use idnode_registry::store::{RecordOp, SledOptions, SledStore, Store, WriteCtx};
use idnode_resolver::dns::{DnsConfig, DnsFront, Transport, ZoneConfig, ZoneScheme};

fn gtin(n: u64) -> Gtin {
    Gtin::numbered(n)
}

fn query(name: &str) -> Vec<u8> {
    let mut q = Message::query();
    q.add_query(Query::query(Name::from_ascii(name).unwrap(), RecordType::NAPTR));
    q.to_vec().unwrap()
}

fn bench(c: &mut Criterion) {
    let n: u64 = std::env::var("IDNODE_BENCH_ALIASES").ok().and_then(|v| v.parse().ok()).unwrap_or(1_000_000);
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = Arc::new(SledStore::open_path(dir.path().join("store")).unwrap());
    let ctx = WriteCtx::new(1, "bench");
    store.put_prefix(&Prefix::homed("88.1", 1), &ctx).unwrap();
    let ids: Vec<u64> = (0..n).collect();
    for chunk in ids.chunks(10_000) {
        let ops = chunk
            .iter()
            .map(|i| RecordOp::Create {
                key: format!("88.1/G{i}").into_bytes(),
                values: vec![Value::new(1, "URL", format!("https://www.example.com/p/G{i}"))],
                overwrite: true,
            })
            .collect();
        store.write_batch(ops, &ctx).unwrap();
        let aliases: Vec<Alias> = chunk
            .iter()
            .map(|i| Alias {
                scheme: "gs1".into(),
                code: gtin(*i).to_string(),
                target: format!("88.1/G{i}"),
                created: 1,
            })
            .collect();
        store.put_aliases(&aliases).unwrap();
    }
    // Written and flushed before measuring: no flush of the load in the
    // background of the first cases.
    store.flush().unwrap();
    let mut cfg = DnsConfig {
        zones: vec![ZoneConfig {
            scheme: ZoneScheme::Gs1,
            origin: ONS_ZONE.into(),
            name_servers: vec!["ns1.example.org".into()],
            hostmaster: "hostmaster.example.org".into(),
            serial: 1,
            ttl: 300,
            negative_ttl: 60,
            naptr_service: "x-gs1+http".into(),
        }],
        max_udp_payload: 1232,
        answer_cache_entries: 0,
    };
    let hit = query(&gtin(n / 2).to_dns_name(ONS_ZONE).unwrap());
    let miss = query(&gtin(n + 12_345).to_dns_name(ONS_ZONE).unwrap());
    let malformed = query("0.2.9.8.7.6.5.4.3.2.1.0.9.6.6.gtin.gs1.id.onsepc.com.");
    let foreign = query("www.example.com.");
    let cases = [("hit", &hit, 0), ("miss", &miss, 3), ("malformed", &malformed, 3), ("refused", &foreign, 5)];
    let mut out = Vec::with_capacity(1500);
    let front = DnsFront::new(&cfg, store).unwrap();
    for (label, q, rcode) in cases {
        assert_eq!(front.answer(q, Transport::Udp, &mut out).rcode, Some(rcode), "{label}");
        c.bench_function(&format!("dns_{label}_{n}_aliases"), |b| {
            b.iter(|| front.answer(std::hint::black_box(q), Transport::Udp, &mut out))
        });
    }
    drop(front);
    // As the daemon opens it.
    let entries = usize::try_from(n).unwrap_or(usize::MAX).max(1000);
    let opts = SledOptions::new(dir.path().join("store")).read_cache_entries(entries).alias_cache_entries(entries);
    let sled = SledStore::open(opts).unwrap();
    assert!(sled.wait_alias_filter());
    cfg.answer_cache_entries = entries;
    let front = DnsFront::new(&cfg, Arc::new(sled)).unwrap();
    for (label, q, rcode) in cases {
        assert_eq!(front.answer(q, Transport::Udp, &mut out).rcode, Some(rcode), "{label}");
        c.bench_function(&format!("dns_daemon_{label}_{n}_aliases"), |b| {
            b.iter(|| front.answer(std::hint::black_box(q), Transport::Udp, &mut out))
        });
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
