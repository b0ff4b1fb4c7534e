//! The generic store conformance suite: the same cases, run against every
//! backend of `trait Store` — sled always, PostgreSQL with the `postgres`
//! feature (a throwaway server started by `support/pg.rs`, one database per
//! case). Covers records CRUD, batches, scans, compare-and-swap conflicts
//! (also under concurrent writers), the change log (gap-free and ordered
//! under concurrency), consumers and retention, prefixes and homing,
//! entities, aliases, audit, counters, and `kill -9` of a child process in
//! the middle of acknowledged writes.

#[cfg(feature = "postgres")]
#[path = "support/pg.rs"]
mod pg;

#[path = "store_suite/aliases.rs"]
mod aliases;
use aliases::{entities_and_aliases, stamped_resolution};

use std::collections::HashSet;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::Arc;

use idnode_registry::ident::{CasePolicy, Identifier};
use idnode_registry::model::{
    AuditEntry, ChangeOp, DayCounters, Enterprise, Identity, Prefix, PrefixState, Role, StateError, Value,
};
use idnode_registry::store::{
    ABSENT, RecordOp, Retention, SledOptions, SledStore, Store, StoreError, StoreExt, WriteCtx,
};

const NOW: u64 = 1_767_225_600;

fn ctx() -> WriteCtx {
    WriteCtx::new(NOW, "suite")
}

fn v(i: u32, t: &str, d: &str) -> Value {
    Value::new(i, t, d)
}

fn vals(s: &Arc<dyn Store>, key: &[u8]) -> Vec<Value> {
    s.get_record(key).unwrap().unwrap().values().unwrap()
}

/// A store under test plus whatever keeps it alive.
struct Fixture {
    store: Arc<dyn Store>,
    reopen: Box<dyn Fn() -> Arc<dyn Store>>,
    _dir: Option<tempfile::TempDir>,
}

fn sled_fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().to_path_buf();
    let open = move || -> Arc<dyn Store> {
        // The daemon's read path: read snapshot (built in the background) + sled.
        Arc::new(
            SledStore::open(
                SledOptions::new(&p)
                    .cache_capacity(16 << 20)
                    .read_cache_entries(1000)
                    .alias_cache_entries(1000)
                    .now(NOW)
                    .read_snapshot(true),
            )
            .unwrap(),
        )
    };
    Fixture { store: open(), reopen: Box::new(open), _dir: Some(dir) }
}

#[cfg(feature = "postgres")]
fn pg_options(db: &str) -> idnode_registry::store::postgres::PgOptions {
    let srv = pg::shared();
    let mut o = idnode_registry::store::postgres::PgOptions::new(srv.conninfo(db));
    o.password = Some(pg::PG_PASSWORD.to_owned());
    o.pool_size = 8;
    o.read_cache_entries = 1000;
    o.node_id = "suite".into();
    o.now = NOW;
    o
}

#[cfg(feature = "postgres")]
fn pg_fixture() -> Fixture {
    use idnode_registry::store::postgres::PgStore;
    let db = pg::shared().create_db("suite");
    let o = pg_options(&db);
    let open = move || -> Arc<dyn Store> { Arc::new(PgStore::open(o.clone()).unwrap()) };
    Fixture { store: open(), reopen: Box::new(open), _dir: None }
}

// ------------------------------------------------------------------ cases

fn records_crud(f: Fixture) {
    let s = &f.store;
    let k = b"88.118.8/Lot-1";
    let url = Value::new(1, "URL", "http://a");
    assert!(s.get_record(k).unwrap().is_none());
    assert!(matches!(s.delete_record(k, &ctx()), Err(StoreError::NotFound)));
    assert!(matches!(s.add_values(k, vec![url.clone()], false, &ctx()), Err(StoreError::NotFound)));
    assert!(matches!(s.replace_record(k, vec![url.clone()], &ctx()), Err(StoreError::NotFound)));

    s.create_record(k, vec![url.clone()], false, &ctx()).unwrap();
    let got = vals(s, k);
    assert_eq!(got.len(), 1);
    // timestamp 0 is stamped with `now`.
    assert_eq!(got[0].timestamp, NOW as u32);
    assert!(matches!(s.create_record(k, vec![url.clone()], false, &ctx()), Err(StoreError::AlreadyExists)));
    // overwrite replaces
    s.create_record(k, vec![Value::new(2, "EMAIL", "a@b").with_timestamp(5)], true, &ctx()).unwrap();
    let got = vals(s, k);
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
    assert_eq!(vals(s, k).len(), 2, "a failed remove changes nothing");
    s.remove_values(k, vec![1], &ctx()).unwrap();
    assert_eq!(vals(s, k).iter().map(|v| v.index).collect::<Vec<_>>(), [2]);
    // replace
    s.replace_record(k, vec![Value::new(3, "DESC", "x"), Value::new(4, "DESC", "y")], &ctx()).unwrap();
    assert_eq!(vals(s, k).iter().map(|v| v.index).collect::<Vec<_>>(), [3, 4]);
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
    assert!(matches!(s.remove_values(b"88.118.8/dup", vec![1], &ctx()), Err(StoreError::NotFound)));
    s.create_record(b"88.1/w", vec![v(1, "URL", "u"), v(2, "X", "y")], false, &ctx()).unwrap();
    assert!(matches!(s.remove_values(b"88.1/w", vec![2, 2], &ctx()), Err(StoreError::DuplicateIndex(2))));
    // Stored bytes are the wire encoding behind one version byte.
    let r = s.get_record(b"88.1/w").unwrap().unwrap();
    assert_eq!(r.stored(), idnode_registry::model::encode_record(&r.values().unwrap()).as_slice());
}

fn batches_and_changelog(f: Fixture) {
    let s = &f.store;
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
    assert!(ch.iter().all(|c| c.actor == "suite" && c.time == NOW));
    assert_eq!(s.last_seq(), before + 4);
    assert_eq!(s.changes_since(before, 2).unwrap().len(), 2);
    assert_eq!(s.changes_since(before + 4, 10).unwrap().len(), 0);
    // a batch where everything fails writes nothing
    let r = s.write_batch(vec![RecordOp::Delete { key: b"P/none".to_vec() }], &ctx()).unwrap();
    assert!(r[0].is_err());
    assert_eq!(s.last_seq(), before + 4);
    assert!(s.write_batch(Vec::new(), &ctx()).unwrap().is_empty());
}

fn large_batches_see_existing_records(f: Fixture) {
    // Batches of >= 64 ops check existence with one range scan; make sure
    // that path agrees with per-key lookups, including when it gives up.
    let s = &f.store;
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

fn scan_and_count(f: Fixture) {
    let s = &f.store;
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
    assert_eq!(s.scan_keys(None, Some(b"88.1/024"), 10).unwrap(), [b"88.10/x".to_vec()]);
}

fn prefixes_and_homing(f: Fixture) {
    let s = &f.store;
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
    // Deleted: the longest known prefix is the parent again.
    assert!(s.longest_known(b"88.118.8.1001").is_some_and(|m| m.matched == "88.118.8".len()));
    assert!(matches!(s.unhome_prefix("99.none", &ctx()), Err(StoreError::EntityNotFound { .. })));
}

fn audit_and_counters(f: Fixture) {
    let s = &f.store;
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

fn cas_conflicts(f: Fixture) {
    let s = &f.store;
    let c = ctx();
    let mut i = Identity::new("alice", Role::EnterpriseUser, "$argon2id$x", NOW);
    s.put_identity_if(&i, ABSENT).unwrap();
    assert!(matches!(s.put_identity_if(&i, ABSENT), Err(StoreError::Conflict { .. })), "create-only");
    let (_, v1) = s.get_identity_versioned("alice").unwrap().unwrap();
    i.email = "a@x".into();
    s.put_identity_if(&i, v1).unwrap();
    i.email = "b@x".into();
    assert!(matches!(s.put_identity_if(&i, v1), Err(StoreError::Conflict { .. })), "stale version");
    assert_eq!(s.get_identity("alice").unwrap().unwrap().email, "a@x");

    let e = Enterprise::new(7, "E", "code", NOW);
    s.put_enterprise_if(&e, ABSENT).unwrap();
    let (_, ev) = s.get_enterprise_versioned(7).unwrap().unwrap();
    assert_ne!(ev, ABSENT);
    s.update_enterprise(7, &mut |cur| {
        let mut e = cur.unwrap();
        e.name = "E2".into();
        Ok(e)
    })
    .unwrap();
    assert!(matches!(s.put_enterprise_if(&e, ev), Err(StoreError::Conflict { .. })));

    let p = Prefix::new("88.5", PrefixState::Enabled, NOW);
    s.put_prefix_if(&p, ABSENT, &c).unwrap();
    assert!(matches!(s.put_prefix_if(&p, ABSENT, &c), Err(StoreError::Conflict { .. })));

    // Concurrent read-modify-write: no increment is lost.
    s.put_identity(&Identity::new("counter", Role::EnterpriseUser, "h", NOW)).unwrap();
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let s = f.store.clone();
            std::thread::spawn(move || {
                for _ in 0..10 {
                    s.update_identity("counter", &mut |cur| {
                        let mut i = cur.unwrap();
                        let n: u32 = i.mobile.parse().unwrap_or(0);
                        i.mobile = (n + 1).to_string();
                        Ok(i)
                    })
                    .unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(s.get_identity("counter").unwrap().unwrap().mobile, "40");
}

fn changelog_gap_free_concurrent(f: Fixture) {
    let s = f.store.clone();
    let start = s.last_seq();
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let s = s.clone();
            std::thread::spawn(move || {
                let mut got = Vec::new();
                for i in 0..25 {
                    let key = format!("88.1/t{t}-{i}");
                    let r = if i % 5 == 0 {
                        let ops = (0..3)
                            .map(|j| RecordOp::Create {
                                key: format!("{key}-{j}").into_bytes(),
                                values: vec![],
                                overwrite: false,
                            })
                            .collect();
                        s.write_batch(ops, &ctx()).unwrap().into_iter().map(|r| r.unwrap().seq).collect::<Vec<_>>()
                    } else {
                        vec![s.create_record(key.as_bytes(), vec![], false, &ctx()).unwrap().seq]
                    };
                    got.extend(r);
                    if i == 12 {
                        s.home_prefix(&format!("88.{}", 10 + t), &ctx()).unwrap();
                    }
                }
                got
            })
        })
        .collect();
    let mut acked: Vec<u64> = threads.into_iter().flat_map(|t| t.join().unwrap()).collect();
    acked.sort_unstable();
    let log = s.changes_since(start, 100_000).unwrap();
    let seqs: Vec<u64> = log.iter().map(|c| c.seq).collect();
    assert_eq!(seqs, (start + 1..=start + seqs.len() as u64).collect::<Vec<_>>(), "gap-free and ordered");
    assert_eq!(seqs.len(), 4 * (20 + 5 * 3) + 4);
    let record_seqs: HashSet<u64> = log.iter().filter(|c| c.op == ChangeOp::Create).map(|c| c.seq).collect();
    assert!(acked.iter().all(|a| record_seqs.contains(a)), "every receipt names its change");
    assert_eq!(s.last_seq(), start + seqs.len() as u64);
    assert_eq!(s.durable_seq(), s.last_seq());
    assert!(s.first_seq().unwrap() >= 1);
    assert_eq!(s.changes_since(start, 3).unwrap().len(), 3);
    assert!(s.changes_since(s.last_seq(), 10).unwrap().is_empty());
}

fn consumers_and_retention(f: Fixture) {
    let s = &f.store;
    for i in 0..10 {
        s.create_record(format!("88.1/r{i}").as_bytes(), vec![], false, &WriteCtx::new(NOW + i, "suite")).unwrap();
    }
    let last = s.last_seq();
    s.set_consumer_position("mirror:a", 3, NOW).unwrap();
    s.set_consumer_position("outbox", 6, NOW).unwrap();
    assert_eq!(s.consumer_position("mirror:a").unwrap(), Some(3));
    assert_eq!(s.consumers().unwrap().len(), 2);
    // Everything is "too old", but the slowest consumer holds the log.
    let rep = s.prune_changelog(&Retention { max_age_secs: Some(1), max_bytes: None }, NOW + 10_000).unwrap();
    assert!(rep.removed >= 1 && rep.removed <= 3, "{rep:?}");
    assert!(rep.held_for_consumers > 0, "{rep:?}");
    let first = s.first_seq().unwrap();
    assert!(first <= 4, "the change after the slowest consumer's position stays: first {first}");
    assert_eq!(s.changes_since(3, 100).unwrap().len() as u64, last - 3);
    s.remove_consumer("mirror:a").unwrap();
    assert!(matches!(s.remove_consumer("mirror:a"), Err(StoreError::EntityNotFound { .. })));
    s.remove_consumer("outbox").unwrap();
    let rep = s.prune_changelog(&Retention { max_age_secs: Some(1), max_bytes: None }, NOW + 10_000).unwrap();
    assert_eq!(rep.held_for_consumers, 0);
    assert!(s.changes_since(0, 100).unwrap().len() as u64 <= 1, "all but possibly a trailing group removed");
    // Sequence numbers continue after pruning.
    let r = s.create_record(b"88.1/after", vec![], false, &ctx()).unwrap();
    assert_eq!(r.seq, last + 1);
}

fn reopen_keeps_everything(f: Fixture) {
    let c = ctx();
    f.store.home_prefix("88.7", &c).unwrap();
    f.store.create_record(b"88.7/x", vec![v(1, "URL", "u")], false, &c).unwrap();
    let last = f.store.last_seq();
    let meta = f.store.meta();
    drop(f.store);
    let s = (f.reopen)();
    assert!(s.is_homed(b"88.7"));
    assert!(s.get_record(b"88.7/x").unwrap().is_some());
    assert_eq!(s.last_seq(), last);
    assert_eq!(s.meta(), meta);
}

fn link_index(f: Fixture) {
    let s = &f.store;
    let l = |pairs: &[(&str, &str)]| -> Vec<(String, Vec<u8>)> {
        pairs.iter().map(|(r, t)| (r.to_string(), t.as_bytes().to_vec())).collect()
    };
    s.set_links(b"88.1/b", &l(&[("partOf", "88.1/t"), ("madeBy", "88.1/m")])).unwrap();
    s.set_links(b"88.1/a", &l(&[("partOf", "88.1/t"), ("usedBy", "88.1/t")])).unwrap();
    s.set_links(b"88.1/ab", &l(&[("partOf", "88.1/t")])).unwrap();
    let to_t = s.links_to(b"88.1/t", None, 10).unwrap();
    let want = |v: &[(&str, &str)]| -> Vec<(Vec<u8>, String)> {
        v.iter().map(|(k, r)| (k.as_bytes().to_vec(), r.to_string())).collect()
    };
    // (source, relation) in byte order: "88.1/a" < "88.1/ab" < "88.1/b".
    assert_eq!(to_t, want(&[("88.1/a", "partOf"), ("88.1/a", "usedBy"), ("88.1/ab", "partOf"), ("88.1/b", "partOf")]));
    // Pages: strictly after the last (source, relation).
    let p1 = s.links_to(b"88.1/t", None, 2).unwrap();
    let p2 = s.links_to(b"88.1/t", Some((&p1[1].0, &p1[1].1)), 2).unwrap();
    assert_eq!([p1, p2].concat(), to_t);
    assert!(s.links_to(b"88.1/t", Some((b"88.1/b", "partOf")), 5).unwrap().is_empty());
    assert!(s.links_to(b"88.1/t", None, 0).unwrap().is_empty());
    assert_eq!(s.links_to(b"88.1/m", None, 10).unwrap(), want(&[("88.1/b", "madeBy")]));
    // Replacing a source's links removes its old reverse entries.
    s.set_links(b"88.1/b", &l(&[("madeBy", "88.1/m2")])).unwrap();
    assert!(s.links_to(b"88.1/m", None, 10).unwrap().is_empty());
    assert_eq!(s.links_to(b"88.1/m2", None, 10).unwrap(), want(&[("88.1/b", "madeBy")]));
    assert_eq!(s.links_to(b"88.1/t", None, 10).unwrap().len(), 3);
    // No links: the source drops out; the same link twice is one entry.
    s.set_links(b"88.1/a", &[]).unwrap();
    s.set_links(b"88.1/c", &l(&[("partOf", "88.1/t"), ("partOf", "88.1/t")])).unwrap();
    assert_eq!(s.links_to(b"88.1/t", None, 10).unwrap(), want(&[("88.1/ab", "partOf"), ("88.1/c", "partOf")]));
    s.clear_links().unwrap();
    assert!(s.links_to(b"88.1/t", None, 10).unwrap().is_empty());
    assert!(s.links_to(b"88.1/m2", None, 10).unwrap().is_empty());
}

fn batch_marking(f: Fixture) {
    let s = &f.store;
    let c = ctx();
    let ops = vec![
        RecordOp::Create { key: b"88.1/m1".to_vec(), values: vec![v(1, "URL", "u")], overwrite: false },
        RecordOp::Delete { key: b"88.1/none".to_vec() },
    ];
    let r = s.write_batch_marking(ops, &c, "mirror:p", 41).unwrap();
    assert!(r[0].is_ok() && matches!(r[1], Err(StoreError::NotFound)));
    assert!(s.get_record(b"88.1/m1").unwrap().is_some());
    assert_eq!(s.consumer_position("mirror:p").unwrap(), Some(41));
    // Nothing applied: the position still moves (the entries were handled).
    let r = s.write_batch_marking(vec![RecordOp::Delete { key: b"88.1/none".to_vec() }], &c, "mirror:p", 42).unwrap();
    assert!(r[0].is_err());
    assert_eq!(s.consumer_position("mirror:p").unwrap(), Some(42));
    assert!(matches!(s.write_batch_marking(Vec::new(), &c, "", 1), Err(StoreError::Invalid(_))));
    assert_eq!(s.consumers().unwrap().len(), 1);
    // Concurrent markers: the records of every batch and the last position
    // of each consumer land.
    let threads: Vec<_> = (0..3)
        .map(|t| {
            let s = f.store.clone();
            std::thread::spawn(move || {
                for i in 1..=10u64 {
                    let op = RecordOp::Create {
                        key: format!("88.1/mk{t}-{i}").into_bytes(),
                        values: vec![],
                        overwrite: false,
                    };
                    s.write_batch_marking(vec![op], &ctx(), &format!("mirror:{t}"), i).unwrap()[0].as_ref().unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    for t in 0..3 {
        assert_eq!(s.consumer_position(&format!("mirror:{t}")).unwrap(), Some(10));
    }
    assert_eq!(s.count_records(Some("88.1")).unwrap(), 31);
}

/// Two registrars on one store stand for two idnode processes (each has
/// its own in-process account lock): concurrent logins to one account
/// must keep every session (compare-and-swap, no lost update).
fn accounts_across_processes(f: Fixture) {
    use idnode_registry::service::{Actor, Limits, Registrar};
    let regs: Vec<Arc<Registrar>> =
        (0..2).map(|_| Arc::new(Registrar::new(f.store.clone(), Limits::default()))).collect();
    regs[0].put_admin_account("root", "$argon2id$x".into(), None, NOW).unwrap();
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let r = regs[t % 2].clone();
            std::thread::spawn(move || {
                let actor = Actor::new("root", Role::PlatformAdmin, None, "test");
                for i in 0..8 {
                    r.issue_session(&actor, &format!("tok-{t}-{i}"), NOW, 3600, 1000).unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let i = f.store.get_identity("root").unwrap().unwrap();
    assert_eq!(i.api_tokens.len(), 32, "every session of both processes kept");
    // A password reset from the other process keeps the sessions.
    regs[1].put_admin_account("root", "$argon2id$y".into(), None, NOW).unwrap();
    let i = f.store.get_identity("root").unwrap().unwrap();
    assert_eq!((i.password_hash.as_str(), i.api_tokens.len()), ("$argon2id$y", 32));
    // A second create of the same username is refused, not a silent overwrite.
    let a = idnode_registry::service::accounts::NewAccount {
        username: "dup".into(),
        role: Role::EnterpriseUser,
        enterprise_id: None,
        password_phc: "h".into(),
        v1_verifier: None,
        email: String::new(),
        mobile: String::new(),
    };
    regs[0].create_account(None, a.clone(), NOW).unwrap();
    assert!(regs[1].create_account(None, a, NOW).is_err());
}

// ------------------------------------------------------- crash (kill -9)

const CHILD_ENV: &str = "IDNODE_SUITE_CHILD";

/// Writes until killed, printing `ACK <key>` after each acknowledged write.
fn crash_child(store: Arc<dyn Store>) {
    let threads: Vec<_> = (0..3)
        .map(|t| {
            let store = store.clone();
            std::thread::spawn(move || {
                for i in 0..200_000u32 {
                    let keys: Vec<String> = (0..5).map(|j| format!("88.1/t{t}-{i}-{j}")).collect();
                    let ops = keys
                        .iter()
                        .map(|k| RecordOp::Create {
                            key: k.clone().into_bytes(),
                            values: vec![v(1, "URL", k)],
                            overwrite: false,
                        })
                        .collect();
                    for r in store.write_batch(ops, &ctx()).unwrap() {
                        r.unwrap();
                    }
                    let mut out = std::io::stdout().lock();
                    for k in keys {
                        writeln!(out, "ACK {k}").unwrap();
                    }
                    out.flush().unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        let _ = t.join();
    }
}

/// Runs the child (`mode` names the backend and its location) and kills it
/// with SIGKILL after `acks` acknowledged writes; returns the acknowledged keys.
fn run_and_kill(test: &str, mode: &str, acks: usize) -> Vec<String> {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, mode)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut got = Vec::new();
    for line in BufReader::new(child.stdout.take().unwrap()).lines() {
        let line = line.unwrap();
        if let Some(i) = line.find("ACK ") {
            got.push(line[i + 4..].trim().to_owned());
        }
        if got.len() >= acks {
            break;
        }
    }
    child.kill().unwrap(); // SIGKILL
    let _ = child.wait();
    assert!(got.len() >= acks, "child stopped early after {} acks", got.len());
    got
}

fn check_after_crash(s: &dyn Store, acked: &[String]) {
    for k in acked {
        assert!(s.get_record(k.as_bytes()).unwrap().is_some(), "acknowledged {k} lost");
    }
    let log = s.changes_since(0, 10_000_000).unwrap();
    let seqs: Vec<u64> = log.iter().map(|c| c.seq).collect();
    assert_eq!(seqs, (1..=seqs.len() as u64).collect::<Vec<_>>(), "log gap-free after the crash");
    assert_eq!(s.last_seq(), seqs.len() as u64);
    assert_eq!(s.count_records(None).unwrap(), seqs.len() as u64, "one change per record, none half-written");
}

#[test]
fn sled_kill_9_keeps_acknowledged_writes() {
    if let Ok(mode) = std::env::var(CHILD_ENV) {
        if let Some(p) = mode.strip_prefix("sled:") {
            crash_child(Arc::new(SledStore::open(SledOptions::new(p).cache_capacity(16 << 20)).unwrap()));
        }
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let acked = run_and_kill("sled_kill_9_keeps_acknowledged_writes", &format!("sled:{}", dir.path().display()), 300);
    let s = SledStore::open(SledOptions::new(dir.path())).unwrap();
    check_after_crash(&s, &acked);
}

#[cfg(feature = "postgres")]
#[test]
fn pg_kill_9_keeps_acknowledged_writes() {
    use idnode_registry::store::postgres::PgStore;
    if let Ok(mode) = std::env::var(CHILD_ENV) {
        if let Some(rest) = mode.strip_prefix("pg:") {
            let (conn, pw) = rest.split_once('\u{1}').unwrap();
            let mut o = idnode_registry::store::postgres::PgOptions::new(conn);
            o.password = Some(pw.to_owned());
            crash_child(Arc::new(PgStore::open(o).unwrap()));
        }
        return;
    }
    let srv = pg::shared();
    let db = srv.create_db("crash");
    let mode = format!("pg:{}\u{1}{}", srv.conninfo(&db), pg::PG_PASSWORD);
    let acked = run_and_kill("pg_kill_9_keeps_acknowledged_writes", &mode, 300);
    let s = PgStore::open(pg_options(&db)).unwrap();
    check_after_crash(&s, &acked);
}

// ------------------------------------------------------ one test per case

macro_rules! suite {
    ($backend:ident, $fixture:path, [$($case:ident),* $(,)?]) => {
        mod $backend {
            $(
                #[test]
                fn $case() {
                    super::$case($fixture());
                }
            )*
        }
    };
}

/// Every case, on the backend `$fixture` opens.
macro_rules! all_cases {
    ($backend:ident, $fixture:path) => {
        suite!(
            $backend,
            $fixture,
            [
                records_crud,
                batches_and_changelog,
                large_batches_see_existing_records,
                scan_and_count,
                cas_conflicts,
                changelog_gap_free_concurrent,
                consumers_and_retention,
                prefixes_and_homing,
                entities_and_aliases,
                stamped_resolution,
                audit_and_counters,
                reopen_keeps_everything,
                link_index,
                batch_marking,
                accounts_across_processes,
            ]
        );
    };
}

all_cases!(sled, super::sled_fixture);
#[cfg(feature = "postgres")]
all_cases!(postgres, super::pg_fixture);

/// PostgreSQL at SERIALIZABLE isolation (what CockroachDB runs): every
/// writer waiting on the change-log lock gets SQLSTATE 40001 when the
/// holder commits, and the store runs its transaction again.
#[cfg(feature = "postgres")]
fn pg_serializable_fixture() -> Fixture {
    use idnode_registry::store::postgres::PgStore;
    let db = pg::shared().create_db("serial");
    let mut o = pg_options(&db);
    o.serializable = true;
    let open = move || -> Arc<dyn Store> { Arc::new(PgStore::open(o.clone()).unwrap()) };
    Fixture { store: open(), reopen: Box::new(open), _dir: None }
}

#[cfg(feature = "postgres")]
all_cases!(postgres_serializable, super::pg_serializable_fixture);

/// Concurrent conflicting writers at SERIALIZABLE: conflicts happen (the
/// retry counter moves), every write lands, the log stays gap-free, and no
/// serialization failure reaches a caller (each write is `unwrap`ped).
#[cfg(feature = "postgres")]
#[test]
fn postgres_serializable_retries_conflicts() {
    let f = pg_serializable_fixture();
    let s = f.store.clone();
    assert_eq!(s.follow_status().tx_retries, 0);
    s.put_identity(&Identity::new("n", Role::EnterpriseUser, "h", NOW)).unwrap();
    let threads: Vec<_> = (0..6)
        .map(|t| {
            let s = s.clone();
            std::thread::spawn(move || {
                for i in 0..20 {
                    // The same hot record, a new record, a counter by CAS,
                    // a consumer row and the id sequence: all contended.
                    match i % 4 {
                        0 => drop(s.create_record(b"88.1/hot", vec![v(1, "URL", "x")], true, &ctx()).unwrap()),
                        1 => drop(s.create_record(format!("88.1/s{t}-{i}").as_bytes(), vec![], false, &ctx()).unwrap()),
                        2 => drop(
                            s.update_identity("n", &mut |cur| {
                                let mut i = cur.unwrap();
                                i.mobile = (i.mobile.parse::<u32>().unwrap_or(0) + 1).to_string();
                                Ok(i)
                            })
                            .unwrap(),
                        ),
                        _ => {
                            s.set_consumer_position("c", i, NOW).unwrap();
                            s.next_id().unwrap();
                        }
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(s.get_identity("n").unwrap().unwrap().mobile, "30", "6 threads x 5 increments");
    assert_eq!(s.count_records(Some("88.1")).unwrap(), 1 + 6 * 5);
    let log = s.changes_since(0, 10_000).unwrap();
    assert_eq!(log.iter().map(|c| c.seq).collect::<Vec<_>>(), (1..=log.len() as u64).collect::<Vec<_>>());
    let retries = s.follow_status().tx_retries;
    assert!(retries > 0, "concurrent writers at SERIALIZABLE conflicted and were retried");
    eprintln!("serializable: {} changes, {retries} transaction retries", log.len());
}

/// Several processes starting at once on an empty database: one applies
/// each migration, the others find it applied; every open succeeds and they
/// share one schema and one meta row.
#[cfg(feature = "postgres")]
#[test]
fn postgres_concurrent_first_open() {
    use idnode_registry::store::postgres::{PG_SCHEMA_VERSION, PgStore};
    let db = pg::shared().create_db("first_open");
    let threads: Vec<_> = (0..4)
        .map(|i| {
            let mut o = pg_options(&db);
            o.node_id = format!("node-{i}");
            std::thread::spawn(move || PgStore::open(o).map(|s| (s.meta(), s.schema_version())))
        })
        .collect();
    let metas: Vec<_> = threads.into_iter().map(|t| t.join().unwrap().expect("open on a fresh database")).collect();
    assert!(metas.iter().all(|(m, v)| m == &metas[0].0 && *v.as_ref().unwrap() == PG_SCHEMA_VERSION));
}

/// TLS to the database: rustls (ring) verifying the server against the
/// configured CA; the same store cases pass over it, and a wrong CA is
/// refused.
#[cfg(feature = "postgres")]
#[test]
fn postgres_over_tls() {
    use idnode_registry::store::postgres::{PgOptions, PgStore};
    let srv = pg::PgServer::start_tls();
    let db = srv.create_db("tls");
    let mut o = PgOptions::new(srv.tls_conninfo(&db));
    o.password = Some(pg::PG_PASSWORD.to_owned());
    o.tls_ca_pem = Some(srv.tls.as_ref().unwrap().1.clone());
    o.now = NOW;
    let s: Arc<dyn Store> = Arc::new(PgStore::open(o.clone()).unwrap());
    records_crud(Fixture { store: s.clone(), reopen: Box::new(move || s.clone()), _dir: None });
    // A server whose certificate does not chain to the configured CA.
    let other = pg::PgServer::start_tls();
    o.tls_ca_pem = Some(other.tls.as_ref().unwrap().1.clone());
    let e = PgStore::open(o).unwrap_err();
    assert!(e.to_string().to_lowercase().contains("certificate") || matches!(e, StoreError::Unavailable(_)), "{e}");
}

/// `store copy` both ways: sled -> PostgreSQL (COPY loads) -> sled, with an
/// interruption (resume from the last committed key), verified by counts
/// and checksums.
#[cfg(feature = "postgres")]
#[test]
fn copy_sled_to_postgres_and_back() {
    use idnode_registry::store::copy;
    let src = sled_fixture();
    let c = ctx();
    src.store.home_prefix("88.1", &c).unwrap();
    src.store.put_identity(&Identity::new("alice", Role::EnterpriseUser, "h", NOW)).unwrap();
    let ops: Vec<RecordOp> = (0..1234)
        .map(|i| RecordOp::Create {
            key: format!("88.1/c{i:05}").into_bytes(),
            values: vec![v(1, "URL", &format!("https://e/{i}")).with_timestamp(1_700_000_000 + i)],
            overwrite: false,
        })
        .collect();
    src.store.write_batch(ops, &c).unwrap();
    let pg = pg_fixture();
    copy::copy_entities(&*src.store, &*pg.store, &c).unwrap();
    // Interrupted after the first two batches of 500 ...
    let mut cursor = None;
    let mut batches = 0;
    let r = copy::copy_records(&*src.store, &*pg.store, None, 500, &c, &mut |k, _| {
        cursor = Some(k.to_vec());
        batches += 1;
    });
    assert_eq!(r.unwrap(), 1234);
    assert_eq!(batches, 3);
    // ... simulate the interruption by resuming after the second batch's key.
    let resume = Some(format!("88.1/c{:05}", 999).into_bytes());
    let again = copy::copy_records(&*src.store, &*pg.store, resume, 500, &c, &mut |_, _| {}).unwrap();
    assert_eq!(again, 234, "resume copies only what follows the cursor");
    let (sn, ss) = copy::checksum(&*src.store).unwrap();
    let (pn, ps) = copy::checksum(&*pg.store).unwrap();
    assert_eq!((sn, &ss), (pn, &ps), "counts and checksum match");
    assert!(pg.store.is_homed(b"88.1"));
    assert!(pg.store.get_identity("alice").unwrap().is_some());
    // And back to a fresh sled store.
    let back = sled_fixture();
    copy::copy_entities(&*pg.store, &*back.store, &c).unwrap();
    copy::copy_records(&*pg.store, &*back.store, None, 700, &c, &mut |_, _| {}).unwrap();
    assert_eq!(copy::checksum(&*back.store).unwrap(), (sn, ss));
    // A differing target is detected.
    back.store.modify_values(b"88.1/c00007", vec![v(1, "URL", "changed")], &c).unwrap();
    assert_ne!(copy::checksum(&*back.store).unwrap().1, copy::checksum(&*pg.store).unwrap().1);
}
