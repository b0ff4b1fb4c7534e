//! In-process tests of the query logic over a real sled store.

use std::sync::Arc;

use hickory_proto::op::{Edns, Message, Query, ResponseCode};
use hickory_proto::rr::{Name, RData, RecordType};
use idnode_registry::model::{Alias, Prefix, Value, perm};
use idnode_registry::store::{SledOptions, SledStore, Store, StoreExt, WriteCtx};

use super::*;

pub(super) fn zone(scheme: ZoneScheme, origin: &str) -> ZoneConfig {
    ZoneConfig {
        scheme,
        origin: origin.into(),
        name_servers: vec!["ns1.example.org".into()],
        hostmaster: "hostmaster.example.org".into(),
        serial: 7,
        ttl: 300,
        negative_ttl: 60,
        naptr_service: "x-idnode+http".into(),
    }
}

/// A sled store with the daemon's read caches (so its resolution reads
/// are stamped and the front keeps answers).
pub(super) fn cached_store(dir: &std::path::Path) -> Arc<dyn Store> {
    let opts = SledOptions::new(dir.join("s")).read_cache_entries(1000).alias_cache_entries(1000);
    Arc::new(SledStore::open(opts).unwrap())
}

struct Fx {
    _dir: tempfile::TempDir,
    front: DnsFront,
}

fn fixture(urls: usize) -> Fx {
    let dir = tempfile::tempdir().unwrap();
    let store = super::tests::cached_store(dir.path());
    let ctx = WriteCtx::new(1, "test");
    store.put_prefix(&Prefix::homed("88.1", 1), &ctx).unwrap();
    let mut values = model_and_urls(urls);
    let mut secret = Value::new(900, "URL", "https://secret.example.org/");
    secret.permissions = perm::ADMIN_READ;
    values.push(secret);
    store.create_record(b"88.1/p1", values, false, &ctx).unwrap();
    bind_aliases(&*store);
    Fx { front: DnsFront::new(&config(zone), store).unwrap(), _dir: dir }
}

/// The fixtures' record values: a model, then `urls` public URL values.
pub(super) fn model_and_urls(urls: usize) -> Vec<Value> {
    let mut values = vec![Value::new(1, "model", "M1")];
    for i in 0..urls {
        let mut v = Value::new(2 + i as u32, "URL", format!("https://example.org/p/{i}/{}", "x".repeat(40)));
        v.permissions = perm::PUBLIC_READ | perm::ADMIN_READ | perm::ADMIN_WRITE;
        values.push(v);
    }
    values
}

/// Binds one OID, GS1 and Ecode alias each to `88.1/p1` (the fixtures' record).
pub(super) fn bind_aliases(store: &dyn Store) {
    for (scheme, code) in [("oid", "1.2.156.3001.1"), ("gs1", "06901234567892"), ("ecode", "100010000000012345")] {
        store
            .put_alias(&Alias { scheme: scheme.into(), code: code.into(), target: "88.1/p1".into(), created: 1 })
            .unwrap();
    }
}

/// The four zones of the fixtures (OID, GS1, Ecode, VAA), each made by `zone`.
pub(super) fn config(zone: impl Fn(ZoneScheme, &str) -> ZoneConfig) -> DnsConfig {
    DnsConfig {
        zones: vec![
            zone(ZoneScheme::Oid, "oid-res.org"),
            zone(ZoneScheme::Gs1, "gs1.id.onsepc.com"),
            zone(ZoneScheme::Ecode, "ecode.example"),
            zone(ZoneScheme::Vaa, "vaa.example"),
        ],
        max_udp_payload: 1232,
        answer_cache_entries: 1000,
    }
}

fn ask(front: &DnsFront, name: &str, t: RecordType, edns: Option<u16>, tr: Transport) -> (Message, Outcome) {
    let mut q = Message::query();
    q.metadata.id = 4242;
    q.add_query(Query::query(Name::from_ascii(name).unwrap(), t));
    if let Some(size) = edns {
        let mut e = Edns::new();
        e.set_max_payload(size);
        q.set_edns(e);
    }
    let mut out = Vec::new();
    let o = front.answer(&q.to_vec().unwrap(), tr, &mut out);
    let m = Message::from_vec(&out).unwrap();
    assert_eq!(m.metadata.id, 4242);
    (m, o)
}

fn regexps(m: &Message) -> Vec<String> {
    m.answers
        .iter()
        .filter_map(|r| match &r.data {
            RData::NAPTR(n) => Some(String::from_utf8(n.regexp.to_vec()).unwrap()),
            _ => None,
        })
        .collect()
}

#[test]
fn naptr_for_every_scheme_public_urls_only() {
    let fx = fixture(1);
    for name in [
        "1.3001.156.2.1.oid-res.org.",
        "0.9.8.7.6.5.4.3.2.1.0.9.6.gtin.GS1.id.onsepc.com.",
        "0000000012345.0001.1.ecode.example.",
        "p1.1.88.vaa.example.",
    ] {
        let (m, o) = ask(&fx.front, name, RecordType::NAPTR, None, Transport::Udp);
        assert_eq!(m.metadata.response_code, ResponseCode::NoError, "{name}");
        assert!(m.metadata.authoritative);
        assert_eq!(regexps(&m), vec![format!("!^.*$!https://example.org/p/0/{}!", "x".repeat(40))], "{name}");
        assert_eq!(o.rcode, Some(0));
    }
}

#[test]
fn nxdomain_nodata_refused_apex() {
    let fx = fixture(1);
    let (m, o) = ask(&fx.front, "2.3001.156.2.1.oid-res.org.", RecordType::NAPTR, None, Transport::Udp);
    assert_eq!(m.metadata.response_code, ResponseCode::NXDomain);
    assert!(matches!(m.authorities[0].data, RData::SOA(_)));
    assert_eq!(o.scheme, Some(ZoneScheme::Oid));
    // Malformed for the zone (leading zero) is NXDOMAIN too, without a store probe.
    let (m, _) = ask(&fx.front, "01.2.1.oid-res.org.", RecordType::NAPTR, None, Transport::Udp);
    assert_eq!(m.metadata.response_code, ResponseCode::NXDomain);
    let (m, _) = ask(&fx.front, "p1.1.88.vaa.example.", RecordType::A, None, Transport::Udp);
    assert_eq!((m.metadata.response_code, m.answers.len()), (ResponseCode::NoError, 0));
    assert!(matches!(m.authorities[0].data, RData::SOA(_)));
    let (m, o) = ask(&fx.front, "example.com.", RecordType::NAPTR, None, Transport::Udp);
    assert_eq!(m.metadata.response_code, ResponseCode::Refused);
    assert!(!m.metadata.authoritative && o.scheme.is_none());
    let (m, _) = ask(&fx.front, "oid-res.org.", RecordType::SOA, None, Transport::Udp);
    assert!(matches!(&m.answers[0].data, RData::SOA(s) if s.serial == 7));
    let (m, _) = ask(&fx.front, "OID-RES.org.", RecordType::NS, None, Transport::Udp);
    assert!(matches!(&m.answers[0].data, RData::NS(n) if n.0.to_ascii() == "ns1.example.org."));
}

#[test]
fn udp_size_edns_and_tc() {
    let fx = fixture(9); // 9 NAPTR of ~110 bytes: > 512, < 1232 bytes
    let name = "p1.1.88.vaa.example.";
    let (m, o) = ask(&fx.front, name, RecordType::NAPTR, None, Transport::Udp);
    assert!(m.metadata.truncation && m.answers.is_empty() && o.truncated);
    let (m, o) = ask(&fx.front, name, RecordType::NAPTR, Some(1232), Transport::Udp);
    assert!(!m.metadata.truncation && !o.truncated);
    assert_eq!(m.answers.len(), 9);
    assert_eq!(m.edns.as_ref().map(|e| e.max_payload()), Some(1232));
    let (m, _) = ask(&fx.front, name, RecordType::NAPTR, None, Transport::Stream);
    assert_eq!(m.answers.len(), 9);
}

#[test]
fn malformed_is_formerr_or_dropped() {
    let fx = fixture(1);
    let mut out = Vec::new();
    // Too short for a header: dropped.
    assert_eq!(fx.front.answer(&[1, 2, 3], Transport::Udp, &mut out).rcode, None);
    assert!(out.is_empty());
    // A header that promises a question that is not there: FORMERR, same id.
    let bad = [0xab, 0xcd, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 3, b'f'];
    let o = fx.front.answer(&bad, Transport::Udp, &mut out);
    assert_eq!(o.rcode, Some(1));
    assert_eq!(&out[..2], &[0xab, 0xcd]);
    assert_eq!(out[3] & 0x0f, 1);
    // A response is never answered.
    let mut resp = bad;
    resp[2] |= 0x80;
    assert_eq!(fx.front.answer(&resp, Transport::Udp, &mut out).rcode, None);
}
