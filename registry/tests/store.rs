//! Store acceptance tests: write semantics and error variants, batches,
//! change log, scans, persistence, entities, counters, audit, locking.

use std::sync::Arc;

use idnode_registry::ident::{CasePolicy, Identifier};
use idnode_registry::model::{
    Alias, AuditEntry, ChangeOp, DayCounters, Enterprise, Identity, Prefix, PrefixState, Role, StateError, Value,
};
use idnode_registry::store::{RecordOp, SledOptions, SledStore, Store, StoreError, StoreExt, WriteCtx};

const NOW: u64 = 1_767_225_600; // 2026-01-01

fn ctx() -> WriteCtx {
    WriteCtx::new(NOW, "test")
}

fn open(dir: &std::path::Path) -> SledStore {
    // The daemon's read path: read snapshot (built in the background) + sled.
    SledStore::open(SledOptions::new(dir).cache_capacity(8 << 20).node_id("node-a").now(NOW).read_snapshot(true))
        .unwrap()
}

fn vals(s: &Arc<dyn Store>, key: &[u8]) -> Vec<Value> {
    s.get_record(key).unwrap().unwrap().values().unwrap()
}

#[test]
fn record_write_semantics() {
    let dir = tempfile::tempdir().unwrap();
    let s: Arc<dyn Store> = Arc::new(open(dir.path()));
    let k = b"88.118.8/Lot-1";
    let url = Value::new(1, "URL", "http://a");
    assert!(s.get_record(k).unwrap().is_none());
    assert!(matches!(s.delete_record(k, &ctx()), Err(StoreError::NotFound)));
    assert!(matches!(s.add_values(k, vec![url.clone()], false, &ctx()), Err(StoreError::NotFound)));
    assert!(matches!(s.replace_record(k, vec![url.clone()], &ctx()), Err(StoreError::NotFound)));

    s.create_record(k, vec![url.clone()], false, &ctx()).unwrap();
    let got = vals(&s, k);
    assert_eq!(got.len(), 1);
    // timestamp 0 is stamped with `now`.
    assert_eq!(got[0].timestamp, NOW as u32);
    assert!(matches!(s.create_record(k, vec![url.clone()], false, &ctx()), Err(StoreError::AlreadyExists)));
    // overwrite replaces
    s.create_record(k, vec![Value::new(2, "EMAIL", "a@b").with_timestamp(5)], true, &ctx()).unwrap();
    let got = vals(&s, k);
    assert_eq!((got.len(), got[0].index, got[0].timestamp), (1, 2, 5));

    // add
    s.add_values(k, vec![url.clone()], false, &ctx()).unwrap();
    assert!(matches!(s.add_values(k, vec![url.clone()], false, &ctx()), Err(StoreError::ValueExists(1))));
    s.add_values(k, vec![Value::new(1, "URL", "http://b")], true, &ctx()).unwrap();
    assert_eq!(s.get_record(k).unwrap().unwrap().find(1).unwrap().data, b"http://b");
    // modify
    s.modify_values(k, vec![Value::new(2, "EMAIL", "c@d")], &ctx()).unwrap();
    assert_eq!(s.get_record(k).unwrap().unwrap().find(2).unwrap().data, b"c@d");
    assert!(matches!(s.modify_values(k, vec![Value::new(9, "X", "")], &ctx()), Err(StoreError::ValueNotFound(9))));
    // remove
    assert!(matches!(s.remove_values(k, vec![1, 9], &ctx()), Err(StoreError::ValueNotFound(9))));
    assert_eq!(vals(&s, k).len(), 2, "a failed remove changes nothing");
    s.remove_values(k, vec![1], &ctx()).unwrap();
    assert_eq!(vals(&s, k).iter().map(|v| v.index).collect::<Vec<_>>(), [2]);
    // replace
    s.replace_record(k, vec![Value::new(3, "DESC", "x"), Value::new(4, "DESC", "y")], &ctx()).unwrap();
    assert_eq!(vals(&s, k).iter().map(|v| v.index).collect::<Vec<_>>(), [3, 4]);
    // duplicate indexes refused
    assert!(matches!(
        s.create_record(b"88.118.8/dup", vec![url.clone(), url.clone()], false, &ctx()),
        Err(StoreError::DuplicateIndex(1))
    ));
    // non-UTF-8 type refused (it would make the record undecodable)
    assert!(matches!(
        s.create_record(b"88.118.8/bad", vec![Value::new(1, vec![0xffu8], "x")], false, &ctx()),
        Err(StoreError::Invalid(_))
    ));
    // record size limit
    assert!(matches!(
        s.create_record(b"88.118.8/big", vec![Value::new(1, "X", vec![b'a'; 300_000])], false, &ctx()),
        Err(StoreError::Limit(_))
    ));
    assert!(matches!(s.create_record(b"", vec![], false, &ctx()), Err(StoreError::Invalid(_))));
    // delete
    s.delete_record(k, &ctx()).unwrap();
    assert!(!s.contains_record(k).unwrap());
}

#[test]
fn batch_per_item_results_and_changelog() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(dir.path());
    s.create_record(b"P/exists", vec![Value::new(1, "URL", "u")], false, &ctx()).unwrap();
    let before = s.last_seq();
    let ops = vec![
        RecordOp::Create { key: b"P/a".to_vec(), values: vec![Value::new(1, "URL", "a")], overwrite: false },
        RecordOp::Create { key: b"P/exists".to_vec(), values: vec![], overwrite: false },
        RecordOp::AddValues { key: b"P/a".to_vec(), values: vec![Value::new(2, "EMAIL", "e")], overwrite: false },
        RecordOp::Delete { key: b"P/missing".to_vec() },
        RecordOp::Create { key: b"P/b".to_vec(), values: vec![], overwrite: false },
        RecordOp::Delete { key: b"P/b".to_vec() },
    ];
    let r = s.write_batch(ops, &ctx()).unwrap();
    assert!(r[0].is_ok());
    assert!(matches!(r[1], Err(StoreError::AlreadyExists)));
    assert!(r[2].is_ok(), "later items see earlier ones");
    assert!(matches!(r[3], Err(StoreError::NotFound)));
    assert!(r[4].is_ok() && r[5].is_ok());
    assert_eq!(s.get_record(b"P/a").unwrap().unwrap().len(), 2);
    assert!(s.get_record(b"P/b").unwrap().is_none());

    let seqs: Vec<u64> = r.iter().filter_map(|x| x.as_ref().ok().map(|w| w.seq)).collect();
    assert_eq!(seqs, [before + 1, before + 2, before + 3, before + 4]);
    let ch = s.changes_since(before, 100).unwrap();
    let got: Vec<(u64, ChangeOp, &[u8])> = ch.iter().map(|c| (c.seq, c.op, c.key.as_slice())).collect();
    assert_eq!(
        got,
        [
            (before + 1, ChangeOp::Create, &b"P/a"[..]),
            (before + 2, ChangeOp::AddValues, b"P/a"),
            (before + 3, ChangeOp::Create, b"P/b"),
            (before + 4, ChangeOp::Delete, b"P/b"),
        ]
    );
    assert!(ch.iter().all(|c| c.actor == "test" && c.time == NOW));
    assert_eq!(s.last_seq(), before + 4);
    assert_eq!(s.changes_since(before, 2).unwrap().len(), 2);
    assert_eq!(s.changes_since(before + 4, 10).unwrap().len(), 0);
    // a batch where everything fails writes nothing
    let r = s.write_batch(vec![RecordOp::Delete { key: b"P/none".to_vec() }], &ctx()).unwrap();
    assert!(r[0].is_err());
    assert_eq!(s.last_seq(), before + 4);
    // pruning (the batch's changes form one group: pruned together)
    assert_eq!(s.prune_changes(before).unwrap(), before);
    assert_eq!(s.changes_since(0, 100).unwrap()[0].seq, before + 1);
}

#[test]
fn large_batches_see_existing_records() {
    // Batches of >= 64 ops check existence with one range scan; make sure
    // that path agrees with per-key lookups, including when it gives up.
    let dir = tempfile::tempdir().unwrap();
    let s = open(dir.path());
    let create = |k: String| RecordOp::Create { key: k.into_bytes(), values: vec![], overwrite: false };
    // Every third key exists beforehand.
    let pre: Vec<RecordOp> = (0..300).step_by(3).map(|i| create(format!("B/{i:04}"))).collect();
    assert!(s.write_batch(pre, &ctx()).unwrap().iter().all(Result::is_ok));
    let r = s.write_batch((0..300).map(|i| create(format!("B/{i:04}"))).collect(), &ctx()).unwrap();
    for (i, r) in r.iter().enumerate() {
        assert_eq!(r.is_err(), i % 3 == 0, "key {i}");
    }
    // A narrow batch inside a dense range (more existing records than ops):
    // the prefetch gives up and per-key lookups are used.
    let mut ops: Vec<RecordOp> = (0..70).map(|i| create(format!("B/{:04}", i * 4))).collect();
    ops.push(create("B/0299x".into()));
    let r = s.write_batch(ops, &ctx()).unwrap();
    assert!(r[..70].iter().all(|r| matches!(r, Err(StoreError::AlreadyExists))));
    assert!(r[70].is_ok());
    // Deletes and re-creates of existing keys within one large batch.
    let mut ops: Vec<RecordOp> = (0..64).map(|i| RecordOp::Delete { key: format!("B/{i:04}").into_bytes() }).collect();
    ops.extend((0..64).map(|i| create(format!("B/{i:04}"))));
    assert!(s.write_batch(ops, &ctx()).unwrap().iter().all(Result::is_ok));
    assert_eq!(s.count_records(Some("B")).unwrap(), 301);
}

#[test]
fn changelog_groups_across_boundaries() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(dir.path());
    // 600 records in one batch: several change-log groups in one transaction.
    let ops: Vec<RecordOp> = (0..600)
        .map(|i| RecordOp::Create { key: format!("G/{i:04}").into_bytes(), values: vec![], overwrite: false })
        .collect();
    assert!(s.write_batch(ops, &ctx()).unwrap().iter().all(Result::is_ok));
    s.create_record(b"G/last", vec![], false, &ctx()).unwrap();
    assert_eq!(s.last_seq(), 601);
    for after in [0u64, 1, 255, 256, 257, 511, 512, 599, 600] {
        let ch = s.changes_since(after, 3).unwrap();
        let want: Vec<u64> = (after + 1..=601).take(3).collect();
        assert_eq!(ch.iter().map(|c| c.seq).collect::<Vec<_>>(), want, "after {after}");
    }
    assert_eq!(s.changes_since(0, usize::MAX).unwrap().len(), 601);
    assert_eq!(s.changes_since(599, 10).unwrap()[0].key, b"G/0599");
    assert_eq!(s.changes_since(600, 10).unwrap()[0].key, b"G/last");
    assert!(s.changes_since(601, 10).unwrap().is_empty());
    // Pruning drops whole groups only.
    assert_eq!(s.prune_changes(300).unwrap(), 256);
    assert_eq!(s.changes_since(0, 1).unwrap()[0].seq, 257);
    drop(s);
    let s = open(dir.path());
    assert_eq!(s.last_seq(), 601, "the sequence is recovered from the last group");
}

#[test]
fn scan_and_count() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(dir.path());
    let mut ops = Vec::new();
    for i in 0..25 {
        ops.push(RecordOp::Create { key: format!("88.1/{i:03}").into_bytes(), values: vec![], overwrite: false });
    }
    ops.push(RecordOp::Create { key: b"88.10/x".to_vec(), values: vec![], overwrite: false });
    ops.push(RecordOp::Create { key: b"88.0/x".to_vec(), values: vec![], overwrite: false });
    assert!(s.write_batch(ops, &ctx()).unwrap().iter().all(Result::is_ok));
    let mut after: Option<Vec<u8>> = None;
    let mut all = Vec::new();
    loop {
        let page = s.scan_records(Some("88.1"), after.as_deref(), 10).unwrap();
        if page.is_empty() {
            break;
        }
        after = Some(page.last().unwrap().0.clone());
        all.extend(page.into_iter().map(|(k, _)| String::from_utf8(k).unwrap()));
    }
    assert_eq!(all.len(), 25);
    assert_eq!(all[0], "88.1/000");
    assert_eq!(all[24], "88.1/024");
    assert_eq!(s.count_records(Some("88.1")).unwrap(), 25);
    assert_eq!(s.count_records(None).unwrap(), 27);
    assert_eq!(s.scan_keys(Some("88.1"), Some(b"88.1/020"), 100).unwrap().len(), 4);
    assert_eq!(s.scan_keys(None, None, 3).unwrap()[0], b"88.0/x");
    assert!(s.scan_records(Some("88.1"), None, 0).unwrap().is_empty());
}

#[test]
fn reopen_persists_and_meta() {
    let dir = tempfile::tempdir().unwrap();
    {
        let s = open(dir.path());
        s.create_record(b"88.1/a", vec![Value::new(1, "URL", "u")], false, &ctx()).unwrap();
        s.put_prefix(&Prefix::homed("88.1", NOW), &ctx()).unwrap();
        s.count_resolution(b"88.1", 7, 3);
        assert_eq!(s.meta().node_id, "node-a");
    }
    let s = SledStore::open(SledOptions::new(dir.path()).node_id("ignored")).unwrap();
    assert_eq!(s.meta().node_id, "node-a", "node id is fixed at creation");
    assert_eq!(s.meta().schema, idnode_registry::store::SCHEMA_VERSION);
    assert_eq!(s.meta().created, NOW);
    assert!(s.get_record(b"88.1/a").unwrap().is_some());
    assert!(s.is_homed(b"88.1"));
    assert_eq!(s.last_seq(), 2);
    // counters were persisted on drop
    assert_eq!(s.counters("88.1", 7, 7).unwrap()[0].1.resolutions, 3);
    // the sequence continues
    let r = s.create_record(b"88.1/b", vec![], false, &ctx()).unwrap();
    assert_eq!(r.seq, 3);
}

#[test]
fn newer_schema_refused() {
    use idnode_registry::model::Stored;
    use idnode_registry::store::StoreMeta;
    let dir = tempfile::tempdir().unwrap();
    drop(open(dir.path()));
    {
        let db = sled::open(dir.path()).unwrap();
        let meta = db.open_tree("meta").unwrap();
        let m = StoreMeta { schema: 99, node_id: "x".into(), created: 0 };
        meta.insert(b"store", m.to_stored()).unwrap();
        db.flush().unwrap();
    }
    match SledStore::open(SledOptions::new(dir.path())) {
        Err(StoreError::SchemaTooNew { found: 99, supported: idnode_registry::store::SCHEMA_VERSION }) => {}
        other => panic!("expected SchemaTooNew, got {other:?}"),
    }
}

#[test]
fn locked_in_process() {
    let dir = tempfile::tempdir().unwrap();
    let _s = open(dir.path());
    match SledStore::open(SledOptions::new(dir.path())) {
        Err(StoreError::Locked { path }) => assert!(path.contains(dir.path().file_name().unwrap().to_str().unwrap())),
        other => panic!("expected Locked, got {other:?}"),
    }
}

#[test]
fn prefixes_and_homing() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(dir.path());
    s.home_prefix("88.118.8", &ctx()).unwrap();
    let mut ent = Prefix::new("88.118.8.1001", PrefixState::AwaitingReview, NOW);
    ent.case_policy = CasePolicy::CaseInsensitive;
    s.put_prefix(&ent, &ctx()).unwrap();
    assert!(s.is_homed(b"88.118.8"));
    assert!(!s.is_homed(b"88.118.8.1001"));
    let m = s.longest_homed(b"88.118.8.1001").unwrap();
    assert_eq!((m.matched, m.prefix.prefix.as_str()), (8, "88.118.8"));
    assert_eq!(s.longest_known(b"88.118.8.1001").unwrap().prefix.prefix, "88.118.8.1001");
    assert!(s.longest_homed(b"88.119").is_none());

    // state machine + homing the enterprise prefix
    let mut p = s.get_prefix("88.118.8.1001").unwrap().unwrap();
    assert!(matches!(p.set_state(PrefixState::Enabled, NOW), Err(StateError::IllegalTransition { .. })));
    p.set_state(PrefixState::UnderReview, NOW).unwrap();
    p.set_state(PrefixState::Enabled, NOW).unwrap();
    p.homed = true;
    s.put_prefix(&p, &ctx()).unwrap();
    let m = s.longest_homed(b"88.118.8.1001").unwrap();
    assert_eq!(m.prefix.case_policy, CasePolicy::CaseInsensitive);
    // the store canonicalises with the homed prefix's policy
    assert_eq!(s.canonical_key(b"88.118.8.1001/abc"), b"88.118.8.1001/ABC");
    assert_eq!(s.canonical_key(b"88.118.8/abc"), b"88.118.8/abc");
    assert_eq!(s.homed_prefixes().len(), 2);
    assert_eq!(s.list_prefixes().unwrap().len(), 2);
    // case-insensitive prefix addressing
    assert!(s.get_prefix("88.118.8.1001").unwrap().is_some());
    s.unhome_prefix("88.118.8.1001", &ctx()).unwrap();
    assert!(!s.is_homed(b"88.118.8.1001"));
    s.delete_prefix("88.118.8.1001", &ctx()).unwrap();
    assert!(matches!(s.delete_prefix("88.118.8.1001", &ctx()), Err(StoreError::EntityNotFound { .. })));
    assert!(matches!(s.put_prefix(&Prefix::homed("88 1", NOW), &ctx()), Err(StoreError::Invalid(_))));
    let ch = s.changes_since(0, 100).unwrap();
    assert!(ch.iter().all(|c| !c.op.is_record()));
    assert_eq!(ch.last().unwrap().op, ChangeOp::PrefixDelete);
    assert_eq!(ch.last().unwrap().key, b"88.118.8.1001");
    // prefixes written in another case are found
    s.put_prefix(&Prefix::homed("abc.Def", NOW), &ctx()).unwrap();
    assert!(s.is_homed(b"ABC.DEF"));
    let id = Identifier::parse("abc.def/X").unwrap();
    assert_eq!(s.canonical_key(id.as_bytes()), b"ABC.DEF/X");
}

#[test]
fn entities_crud() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(dir.path());
    let id1 = s.next_id().unwrap();
    let id2 = s.next_id().unwrap();
    assert!(id1 > 0 && id2 > id1);
    for id in [id1, id2] {
        s.put_enterprise(&Enterprise::new(id, format!("E{id}"), "code", NOW)).unwrap();
    }
    assert_eq!(s.get_enterprise(id1).unwrap().unwrap().name, format!("E{id1}"));
    assert_eq!(s.list_enterprises(0, 10).unwrap().len(), 2);
    assert_eq!(s.list_enterprises(id1, 10).unwrap()[0].id, id2);
    s.delete_enterprise(id1).unwrap();
    assert!(matches!(s.delete_enterprise(id1), Err(StoreError::EntityNotFound { what: "enterprise", .. })));

    for u in ["bob", "alice", "carol"] {
        s.put_identity(&Identity::new(u, Role::EnterpriseUser, "$argon2id$x", NOW)).unwrap();
    }
    let names: Vec<String> = s.list_identities(None, 10).unwrap().into_iter().map(|i| i.username).collect();
    assert_eq!(names, ["alice", "bob", "carol"]);
    assert_eq!(s.list_identities(Some("alice"), 1).unwrap()[0].username, "bob");
    s.delete_identity("bob").unwrap();
    assert!(s.get_identity("bob").unwrap().is_none());

    let seed = idnode_registry::seed::seed_demo(&s, "88.118.8", NOW).unwrap();
    let t = s.get_template("88.118.8.1001", "1.0.0").unwrap().unwrap();
    assert_eq!(t.items.len(), 3);
    assert_eq!(s.list_templates(Some("88.118.8.1001")).unwrap().len(), 1);
    assert_eq!(s.list_templates(Some("88.118.8.100")).unwrap().len(), 0);
    assert_eq!(seed.identifiers[0], "88.118.8.1001/LOT2026-000451");
    let rec = s.get_record(b"88.118.8.1001/LOT2026-000451").unwrap().unwrap();
    assert_eq!(rec.find(1).unwrap().value_type, b"URL");
    // the template validates the sample's 2000+ fields
    let fields: Vec<Value> = rec.values().unwrap().into_iter().filter(|v| v.index >= 2000).collect();
    t.validate_values(&fields).unwrap();
    s.delete_template("88.118.8.1001", "1.0.0").unwrap();

    for code in ["1.2.156.3", "1.2.156.1", "1.2.156.2"] {
        s.put_alias(&Alias { scheme: "oid".into(), code: code.into(), target: format!("88.1/{code}"), created: NOW })
            .unwrap();
    }
    s.put_alias(&Alias { scheme: "ecode".into(), code: "1".into(), target: "88.1/e".into(), created: NOW }).unwrap();
    assert_eq!(s.get_alias("oid", "1.2.156.2").unwrap().unwrap().target, "88.1/1.2.156.2");
    let oids = s.list_aliases("oid", None, 10).unwrap();
    assert_eq!(oids.iter().map(|a| a.code.as_str()).collect::<Vec<_>>(), ["1.2.156.1", "1.2.156.2", "1.2.156.3"]);
    assert_eq!(s.list_aliases("oid", Some("1.2.156.1"), 1).unwrap()[0].code, "1.2.156.2");
    s.delete_alias("oid", "1.2.156.1").unwrap();
    assert!(s.delete_alias("oid", "1.2.156.1").is_err());
}

#[test]
fn counters_and_audit() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(dir.path());
    s.home_prefix("88.1", &ctx()).unwrap();
    let day = idnode_registry::model::day_of(NOW);
    s.count_resolution(b"88.1", day, 2);
    s.count_resolution(b"88.1", day, 3);
    s.count_resolution(b"99.unknown", day, 100); // ignored: not a known prefix
    s.create_record(b"88.1/a", vec![], false, &ctx()).unwrap();
    s.create_record(b"88.1/a", vec![], true, &ctx()).unwrap(); // overwrite: not a registration
    let want = DayCounters { registrations: 1, resolutions: 5 };
    assert_eq!(s.counters("88.1", day, day).unwrap(), [(day, want)]);
    s.persist_counters().unwrap();
    s.count_resolution(b"88.1", day, 1);
    s.count_resolution(b"88.1", day + 1, 1);
    s.persist_counters().unwrap();
    let got = s.counters("88.1", day - 1, day + 5).unwrap();
    assert_eq!(
        got,
        [
            (day, DayCounters { registrations: 1, resolutions: 6 }),
            (day + 1, DayCounters { registrations: 0, resolutions: 1 })
        ]
    );
    assert!(s.counters("99.unknown", 0, u32::MAX).unwrap().is_empty());

    for i in 0..3 {
        let e = AuditEntry {
            seq: 0,
            time: NOW + i,
            actor: "admin".into(),
            action: "login".into(),
            target: "admin".into(),
            outcome: "ok".into(),
            detail: String::new(),
        };
        assert_eq!(s.append_audit(e).unwrap(), i + 1);
    }
    let a = s.read_audit(1, 10).unwrap();
    assert_eq!(a.iter().map(|e| e.seq).collect::<Vec<_>>(), [2, 3]);
}

#[test]
fn concurrent_writers_share_flushes() {
    let dir = tempfile::tempdir().unwrap();
    let s = Arc::new(open(dir.path()));
    let hs: Vec<_> = (0..8)
        .map(|t| {
            let s = s.clone();
            std::thread::spawn(move || {
                for i in 0..50 {
                    s.create_record(
                        format!("88.1/t{t}-{i}").as_bytes(),
                        vec![Value::new(1, "URL", "u")],
                        false,
                        &ctx(),
                    )
                    .unwrap();
                }
            })
        })
        .collect();
    for h in hs {
        h.join().unwrap();
    }
    assert_eq!(s.count_records(Some("88.1")).unwrap(), 400);
    let ch = s.changes_since(0, 1000).unwrap();
    assert_eq!(ch.len(), 400);
    assert!(ch.windows(2).all(|w| w[1].seq == w[0].seq + 1), "gap-free, ordered");
}
