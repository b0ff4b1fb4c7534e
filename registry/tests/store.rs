//! sled-only store tests: what is specific to the sled backend (change-log
//! groups and their pruning, the node id and schema version in `meta`, a
//! newer schema refused, the directory lock). The backend-neutral cases
//! (write semantics, batches, scans, prefixes, entities, counters, audit,
//! concurrency) are in the generic suite, `store_suite.rs`, which runs them
//! on sled and PostgreSQL.

use idnode_registry::model::{Prefix, Value};
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

/// A store closed and opened again at once, over and over, in one process
/// (a restore does this; sled lets go of its file lock a moment after the
/// close): every open succeeds and sees every earlier write.
#[test]
fn reopen_right_after_close() {
    let dir = tempfile::tempdir().unwrap();
    for i in 0..20u64 {
        let s = open(dir.path());
        assert_eq!(s.last_seq(), i);
        s.create_record(format!("88.1/{i}").as_bytes(), vec![], false, &ctx()).unwrap();
    }
    assert_eq!(open(dir.path()).last_seq(), 20);
}

#[test]
fn newer_schema_refused() {
    use idnode_registry::model::Stored;
    use idnode_registry::store::StoreMeta;
    let dir = tempfile::tempdir().unwrap();
    drop(open(dir.path()));
    {
        let db = SledStore::open_raw(dir.path()).unwrap();
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
