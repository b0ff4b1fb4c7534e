//! The fast path ([`super::wire`]) against the hickory path, byte for byte:
//! hits, NODATA, NXDOMAIN + SOA, REFUSED, FORMERR, EDNS, TC, mixed case,
//! name compression into in-zone name servers, and mutated requests.

use hickory_proto::op::{Edns, Message, Query};
use hickory_proto::rr::rdata::opt::{EdnsCode, EdnsOption};
use hickory_proto::rr::{DNSClass, Name, RecordType};
use idnode_registry::model::{Prefix, Value};
use idnode_registry::store::{StoreExt, WriteCtx};

use super::*;

struct Fx {
    _dir: tempfile::TempDir,
    front: DnsFront,
}

fn fixture(urls: usize, ns: &str, hostmaster: &str) -> Fx {
    let dir = tempfile::tempdir().unwrap();
    let store = super::tests::cached_store(dir.path());
    let ctx = WriteCtx::new(1, "test");
    store.put_prefix(&Prefix::homed("88.1", 1), &ctx).unwrap();
    let mut values = super::tests::model_and_urls(urls);
    // A URL using every delimiter but the last, and one too long for a regexp.
    values.push(Value::new(200, "URL", "https://example.org/!#|~"));
    store.create_record(b"88.1/p1", values, false, &ctx).unwrap();
    store
        .create_record(
            b"88.1/long",
            vec![Value::new(1, "URL", format!("https://e.org/{}", "y".repeat(236)))],
            false,
            &ctx,
        )
        .unwrap();
    store.create_record(b"88.1/none", vec![Value::new(1, "model", "M1")], false, &ctx).unwrap();
    super::tests::bind_aliases(&*store);
    let zone = |scheme, origin: &str| ZoneConfig {
        name_servers: vec![ns.into(), "ns2.example.net".into()],
        hostmaster: hostmaster.into(),
        ..super::tests::zone(scheme, origin)
    };
    Fx { front: DnsFront::new(&super::tests::config(zone), store).unwrap(), _dir: dir }
}

fn request(name: &str, t: RecordType, class: DNSClass, edns: Option<(u16, bool)>, flags: (bool, bool)) -> Vec<u8> {
    let mut q = Message::query();
    q.metadata.id = 0xbeef;
    q.metadata.recursion_desired = flags.0;
    q.metadata.checking_disabled = flags.1;
    let mut query = Query::query(Name::from_ascii(name).unwrap(), t);
    query.set_query_class(class);
    q.add_query(query);
    if let Some((size, cookie)) = edns {
        let mut e = Edns::new();
        e.set_max_payload(size);
        e.set_dnssec_ok(true);
        if cookie {
            e.options_mut().insert(EdnsOption::Unknown(u16::from(EdnsCode::Cookie), vec![7; 8]));
        }
        q.set_edns(e);
    }
    q.to_vec().unwrap()
}

/// Both paths give the same bytes and outcome; `fast` says whether the
/// fast path must have answered.
fn same(front: &DnsFront, req: &[u8], tr: Transport, fast: bool) -> Vec<u8> {
    let (mut a, mut b, mut again) = (Vec::new(), Vec::new(), Vec::new());
    let oa = front.answer(req, tr, &mut a);
    let ob = if req.len() < 12 || req[2] & 0x80 != 0 { oa } else { front.answer_hickory(req, tr, &mut b) };
    // Asked again: answered from the answer cache where the first put it.
    let again_o = front.answer(req, tr, &mut again);
    if oa.rcode.is_some() {
        assert_eq!(a, b, "request {req:02x?}");
        assert_eq!(again, b, "request {req:02x?} asked again");
    }
    assert_eq!(oa, ob, "request {req:02x?}");
    assert_eq!(again_o, ob, "request {req:02x?} asked again");
    let took_fast = wire::parse(req).and_then(|q| front.answer_fast(&q, tr, &mut Vec::new(), None)).is_some();
    assert_eq!(took_fast, fast, "fast path taken for {req:02x?}");
    a
}

const NAMES: [&str; 10] = [
    "1.3001.156.2.1.oid-res.org.",
    "0.9.8.7.6.5.4.3.2.1.0.9.6.gtin.GS1.id.onsepc.com.",
    "0.9.8.7.6.5.4.3.2.1.0.9.6.gtin.gs1.id.onsepc.com.",
    "0000000012345.0001.1.ecode.example.",
    "P1.1.88.VAA.EXAMPLE.",
    "long.1.88.vaa.example.",
    "none.1.88.vaa.example.",
    "2.3001.156.2.1.oid-res.org.",
    "0.2.9.8.7.6.5.4.3.2.1.0.9.6.6.gtin.gs1.id.onsepc.com.",
    "www.example.com.",
];

#[test]
fn fast_path_matches_hickory() {
    for (ns, hm) in [
        ("ns1.example.org", "hostmaster.example.org"),
        ("ns1.gtin.gs1.id.onsepc.com", "hostmaster.gs1.id.onsepc.com"),
        ("a.oid-res.org", "h.a.oid-res.org"),
    ] {
        for urls in [0, 1, 9] {
            let fx = fixture(urls, ns, hm);
            for name in NAMES {
                for t in [RecordType::NAPTR, RecordType::ANY, RecordType::A] {
                    for edns in [None, Some((512, false)), Some((1232, true)), Some((4096, false))] {
                        for tr in [Transport::Udp, Transport::Stream] {
                            let req = request(name, t, DNSClass::IN, edns, (true, urls == 1));
                            // "long" needs a regexp > 255 bytes: hickory answers.
                            let fast = !(name.starts_with("long") && t != RecordType::A);
                            same(&fx.front, &req, tr, fast);
                        }
                    }
                }
            }
            // Class CH: REFUSED on the fast path; the apex: hickory.
            same(
                &fx.front,
                &request(NAMES[0], RecordType::NAPTR, DNSClass::CH, None, (false, false)),
                Transport::Udp,
                true,
            );
            same(
                &fx.front,
                &request("oid-res.org.", RecordType::SOA, DNSClass::IN, None, (false, false)),
                Transport::Udp,
                false,
            );
        }
    }
}

#[test]
fn fast_path_outcomes() {
    let fx = fixture(9, "ns1.example.org", "hostmaster.example.org");
    let rc = |name: &str, edns| {
        let out = same(
            &fx.front,
            &request(name, RecordType::NAPTR, DNSClass::IN, edns, (false, false)),
            Transport::Udp,
            true,
        );
        let m = Message::from_vec(&out).unwrap();
        (u16::from(m.metadata.response_code), m.metadata.truncation, m.answers.len(), m.authorities.len())
    };
    assert_eq!(rc(NAMES[0], Some((1232, false))), (0, false, 10, 0));
    assert_eq!(rc(NAMES[0], None), (0, true, 0, 0));
    assert_eq!(rc(NAMES[7], None), (3, false, 0, 1));
    assert_eq!(rc(NAMES[8], None), (3, false, 0, 1));
    assert_eq!(rc(NAMES[6], None), (0, false, 0, 1));
    assert_eq!(rc(NAMES[9], None), (5, false, 0, 0));
    // FORMERR (question missing) and a second question: the hickory path.
    let bad = [0xab, 0xcd, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 3, b'f'];
    assert_eq!(same(&fx.front, &bad, Transport::Udp, false)[3] & 0x0f, 1);
}

/// Mutated requests (one or two bytes changed, or cut short): whatever path
/// answers, the bytes are the hickory path's.
#[test]
fn mutated_requests_agree() {
    let fx = fixture(2, "ns1.gtin.gs1.id.onsepc.com", "h.example.org");
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let bases: Vec<Vec<u8>> = NAMES
        .iter()
        .flat_map(|n| {
            [
                request(n, RecordType::NAPTR, DNSClass::IN, None, (true, false)),
                request(n, RecordType::NAPTR, DNSClass::IN, Some((1232, true)), (true, true)),
            ]
        })
        .collect();
    for i in 0..4000 {
        let mut req = bases[i % bases.len()].clone();
        for _ in 0..1 + next() % 2 {
            let at = (next() as usize) % req.len();
            req[at] = next() as u8;
        }
        if next() % 8 == 0 {
            req.truncate((next() as usize) % req.len());
        }
        let (mut a, mut b, mut again) = (Vec::new(), Vec::new(), Vec::new());
        let oa = fx.front.answer(&req, Transport::Udp, &mut a);
        if req.len() < 12 || req[2] & 0x80 != 0 {
            assert_eq!(oa.rcode, None);
            continue;
        }
        let ob = fx.front.answer_hickory(&req, Transport::Udp, &mut b);
        assert_eq!((oa, &a), (ob, &b), "request {req:02x?}");
        let again_o = fx.front.answer(&req, Transport::Udp, &mut again);
        assert_eq!((again_o, &again), (ob, &b), "request {req:02x?} asked again");
    }
}

/// A UDP batch ([`DnsFront::answer_batch`]) answers every request once,
/// with the bytes the hickory path gives it alone: cold (nothing kept),
/// warm (answers from the cache under the batch's locks), and after a
/// write made kept answers stale.
#[test]
fn batch_answers_as_alone() {
    let fx = fixture(9, "ns1.example.org", "hostmaster.example.org");
    let mut reqs: Vec<Vec<u8>> = Vec::new();
    for name in NAMES {
        for t in [RecordType::NAPTR, RecordType::ANY, RecordType::A] {
            for edns in [None, Some((1232, true))] {
                reqs.push(request(name, t, DNSClass::IN, edns, (true, false)));
            }
        }
    }
    reqs.push(request(NAMES[0], RecordType::NAPTR, DNSClass::CH, None, (false, false)));
    reqs.push(request("oid-res.org.", RecordType::SOA, DNSClass::IN, None, (false, false)));
    reqs.push(vec![0xab, 0xcd, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 3, b'f']);
    reqs.push(vec![1, 2, 3]);
    // The same name twice in one batch, differently cased.
    reqs.push(request(&NAMES[1].to_ascii_uppercase(), RecordType::NAPTR, DNSClass::IN, None, (true, false)));
    // Kept from batch to batch, as the UDP door keeps them.
    let buffers = std::cell::RefCell::new(super::BatchBuffers::default());
    let check = |when: &str| {
        let refs: Vec<&[u8]> = reqs.iter().map(Vec::as_slice).collect();
        let mut got: Vec<Option<(Outcome, std::ops::Range<usize>)>> = vec![None; refs.len()];
        // Appended after bytes already there (the UDP door's arena).
        let mut arena = b"earlier answers".to_vec();
        fx.front.answer_batch(&refs, Transport::Udp, &mut arena, &mut buffers.borrow_mut(), |i, range, o| {
            assert!(got[i].is_none(), "{when}: request {i} answered twice");
            got[i] = Some((o, range));
        });
        assert!(arena.starts_with(b"earlier answers"));
        for (i, req) in refs.iter().enumerate() {
            let (o, range) = got[i].clone().unwrap_or_else(|| panic!("{when}: request {i} not answered"));
            let answer = arena[range].to_vec();
            if req.len() < 12 || req[2] & 0x80 != 0 {
                assert_eq!(o.rcode, None, "{when}: request {i}");
                continue;
            }
            let mut want = Vec::new();
            let ow = fx.front.answer_hickory(req, Transport::Udp, &mut want);
            assert_eq!((o, &answer), (ow, &want), "{when}: request {i} {req:02x?}");
        }
    };
    check("cold");
    check("warm");
    let ctx = WriteCtx::new(2, "test");
    fx.front
        .store
        .create_record(b"88.1/p1", vec![Value::new(1, "URL", "https://changed.example/")], true, &ctx)
        .unwrap();
    check("after a write");
    check("warm again");
}

/// A known-absent name's authority section (the SOA, its names compressed
/// against QNAME byte for byte) is kept as written after a lower-case
/// QNAME and reused only for one: another case of the same name writes its
/// own, whichever case came first, alone and in a batch. The name servers
/// include one that shares labels with QNAME beyond the zone's origin.
#[test]
fn nx_authority_kept_for_lower_case_only() {
    // Unbound GTINs (known absent through the alias table, as in service).
    let (a, b) = ("0.5.4.3.2.1.0.1.0.0.0.9.6.gtin", "0.4.8.1.8.2.0.1.0.0.0.9.6.gtin");
    let (lower, upper, mixed) = (".gs1.id.onsepc.com.", ".GS1.ID.ONSEPC.COM.", ".gs1.ID.onsepc.com.");
    for ns in ["ns1.example.org", "ns1.gs1.id.onsepc.com", "a.gtin.gs1.id.onsepc.com"] {
        let fx = fixture(1, ns, "hostmaster.gs1.id.onsepc.com");
        let mut buffers = super::BatchBuffers::default();
        for names in [
            [
                format!("{a}{lower}"),
                format!("{}{upper}", a.to_uppercase()),
                format!("{a}{lower}"),
                format!("{a}{mixed}"),
            ],
            [
                format!("{}{upper}", b.to_uppercase()),
                format!("{b}{lower}"),
                format!("{b}{lower}"),
                format!("{b}{mixed}"),
            ],
        ] {
            for name in names {
                let req = request(&name, RecordType::NAPTR, DNSClass::IN, None, (true, false));
                let alone = same(&fx.front, &req, Transport::Udp, true);
                assert_eq!(alone[3] & 0x0f, 3, "{ns} {name}: NXDOMAIN");
                let mut arena = Vec::new();
                let mut got = None;
                fx.front.answer_batch(&[&req], Transport::Udp, &mut arena, &mut buffers, |_, range, o| {
                    got = Some((o, range));
                });
                let (o, range) = got.expect("answered");
                let mut want = Vec::new();
                let ow = fx.front.answer_hickory(&req, Transport::Udp, &mut want);
                assert_eq!((o, &arena[range]), (ow, &want[..]), "{ns} {name} in a batch");
            }
        }
    }
}
