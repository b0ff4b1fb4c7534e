//! Backup and restore on real sled stores: round trip, secrets, damage,
//! and whole batches under concurrent writes.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use super::*;
use crate::model::{Value, perm};
use crate::seed;
use crate::store::{RecordOp, SledOptions, SledStore, StoreExt};

const NOW: u64 = 1_780_000_000;

fn store(dir: &std::path::Path) -> Arc<SledStore> {
    Arc::new(SledStore::open(SledOptions::new(dir).cache_capacity(8 << 20).node_id("88.118.8").now(NOW)).unwrap())
}

fn seeded(dir: &std::path::Path) -> Arc<SledStore> {
    let s = store(dir);
    seed::seed_demo(&*s, "88.118.8", NOW).unwrap();
    let ctx = WriteCtx::new(NOW, "test");
    let key = s.canonical_key(b"0.NA/88.118.8");
    s.create_record(
        &key,
        vec![
            Value::new(1, "URL", "https://example.test/"),
            Value::new(300, "HS_SECKEY", "top secret").with_permissions(perm::SECRET),
        ],
        true,
        &ctx,
    )
    .unwrap();
    s
}

fn backup_bytes(s: &dyn Store, with_secrets: bool) -> (Vec<u8>, Trailer) {
    let mut out = Vec::new();
    let opts = BackupOptions {
        with_secrets,
        now: NOW,
        software: "test".into(),
        files: vec![("admin.secret".into(), b"s3cret".to_vec())],
    };
    let t = write_backup(s, &mut out, &opts, &mut |_| {}).unwrap();
    (out, t)
}

fn all_records(s: &dyn Store) -> Vec<(Vec<u8>, Vec<u8>)> {
    s.scan_records(None, None, 1_000_000).unwrap().into_iter().map(|(k, r)| (k, r.stored().to_vec())).collect()
}

#[test]
fn round_trip_with_secrets_restores_everything() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let src = seeded(a.path());
    let (bytes, trailer) = backup_bytes(&*src, true);
    assert_eq!(trailer.records, src.count_records(None).unwrap());
    assert_eq!(trailer.counts.files, 1);
    let (h, t) = verify(&mut &bytes[..]).unwrap();
    assert!(h.with_secrets);
    assert_eq!(t, trailer);

    let dst = store(b.path());
    let mut files = Vec::new();
    restore(
        &*dst,
        &mut &bytes[..],
        &WriteCtx::new(NOW, "restore"),
        &mut |n, c| {
            files.push((n.to_owned(), c.to_vec()));
            Ok(())
        },
        &mut |_| {},
    )
    .unwrap();
    assert_eq!(files, vec![("admin.secret".to_owned(), b"s3cret".to_vec())]);
    assert_eq!(all_records(&*src), all_records(&*dst));
    assert_eq!(src.list_prefixes().unwrap(), dst.list_prefixes().unwrap());
    assert_eq!(src.list_templates(None).unwrap(), dst.list_templates(None).unwrap());
    assert_eq!(src.list_enterprises(0, 100).unwrap(), dst.list_enterprises(0, 100).unwrap());
    assert_eq!(src.list_identities(None, 100).unwrap(), dst.list_identities(None, 100).unwrap());
}

#[test]
fn without_secrets_drops_seckeys_and_files() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let src = seeded(a.path());
    let (bytes, t) = backup_bytes(&*src, false);
    assert_eq!(t.counts.files, 0);
    assert!(!bytes.windows(10).any(|w| w == b"top secret"), "a secret key is in the archive");
    let dst = store(b.path());
    restore(&*dst, &mut &bytes[..], &WriteCtx::new(NOW, "restore"), &mut |_, _| panic!("no files"), &mut |_| {})
        .unwrap();
    let key = dst.canonical_key(b"0.NA/88.118.8");
    let values = dst.get_record(&key).unwrap().unwrap().values().unwrap();
    assert_eq!(values.len(), 1);
    assert_eq!(values[0].value_type, b"URL");
}

#[test]
fn a_flipped_byte_or_a_cut_is_refused() {
    let a = tempfile::tempdir().unwrap();
    let src = seeded(a.path());
    let (bytes, _) = backup_bytes(&*src, false);
    for at in [MAGIC.len() + 20, bytes.len() / 2, bytes.len() - 40, bytes.len() - 1] {
        let mut bad = bytes.clone();
        bad[at] ^= 0x01;
        let e = verify(&mut &bad[..]).unwrap_err();
        assert!(matches!(e, BackupError::Invalid(_)), "flip at {at}: {e}");
    }
    let e = verify(&mut &bytes[..bytes.len() - 33]).unwrap_err();
    assert!(e.to_string().contains("truncated") || e.to_string().contains("early"), "{e}");
}

/// Batches of 20 records written while the backup runs: each batch is in
/// the restored store whole or not at all, and every batch acknowledged
/// before the backup started is there.
#[test]
fn a_backup_under_writes_holds_whole_batches() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let src = seeded(a.path());
    for i in 0..3000u32 {
        let key = src.canonical_key(format!("88.118.8/pre-{i:05}").as_bytes());
        src.create_record(&key, vec![Value::new(1, "URL", "https://x.test/")], false, &WriteCtx::new(NOW, "t"))
            .unwrap();
    }
    let stop = Arc::new(AtomicBool::new(false));
    let acked = Arc::new(AtomicU64::new(0));
    let writer = {
        let (src, stop, acked) = (src.clone(), stop.clone(), acked.clone());
        std::thread::spawn(move || {
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) && n < 5000 {
                let ops = (0..20)
                    .map(|j| RecordOp::Create {
                        key: src.canonical_key(format!("88.118.8/b{n:05}-{j:02}").as_bytes()),
                        values: vec![Value::new(1, "URL", format!("https://x.test/{n}/{j}"))],
                        overwrite: false,
                    })
                    .collect();
                for r in src.write_batch(ops, &WriteCtx::new(NOW, "t")).unwrap() {
                    r.unwrap();
                }
                n += 1;
                acked.store(n, Ordering::SeqCst);
            }
            n
        })
    };
    while acked.load(Ordering::SeqCst) < 20 {
        std::thread::yield_now();
    }
    let before = acked.load(Ordering::SeqCst);
    let (bytes, trailer) = backup_bytes(&*src, true);
    stop.store(true, Ordering::Relaxed);
    let written = writer.join().unwrap();
    let dst = store(b.path());
    restore(&*dst, &mut &bytes[..], &WriteCtx::new(NOW, "restore"), &mut |_, _| Ok(()), &mut |_| {}).unwrap();
    let mut whole = 0;
    for n in 0..written {
        let present: Vec<bool> = (0..20)
            .map(|j| dst.contains_record(&dst.canonical_key(format!("88.118.8/b{n:05}-{j:02}").as_bytes())).unwrap())
            .collect();
        assert!(present.iter().all(|p| *p) || present.iter().all(|p| !*p), "batch {n} is torn: {present:?}");
        if present[0] {
            whole += 1;
        }
        if n < before {
            assert!(present[0], "batch {n} was acknowledged before the backup started but is missing");
        }
    }
    assert!(whole >= before);
    assert_eq!(dst.count_records(None).unwrap(), trailer.records);
}

/// Writes made *during* the copy (from the progress callback, after the
/// first page): creates before and after the copy position, a delete of
/// a copied record, an entity change. The restored store equals the
/// source after the backup exactly: the repair phase caught each one.
#[test]
fn changes_during_the_copy_are_repaired() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let src = seeded(a.path());
    let ctx = WriteCtx::new(NOW, "t");
    for i in 0..2500u32 {
        let key = src.canonical_key(format!("88.118.8/m-{i:05}").as_bytes());
        src.create_record(&key, vec![Value::new(1, "URL", "https://x.test/")], false, &ctx).unwrap();
    }
    let mut calls = 0;
    let s2 = src.clone();
    let mut during = |_n: u64| {
        calls += 1;
        if calls != 1 {
            return;
        }
        let key = |h: &str| s2.canonical_key(h.as_bytes());
        let ops = vec![
            RecordOp::Create {
                key: key("0.NA/88.118.8.0000"),
                values: vec![Value::new(1, "URL", "a")],
                overwrite: false,
            },
            RecordOp::Create {
                key: key("88.118.8/zz-late"),
                values: vec![Value::new(1, "URL", "z")],
                overwrite: false,
            },
            RecordOp::Delete { key: key("88.118.8/m-00003") },
            RecordOp::Replace { key: key("88.118.8/m-00004"), values: vec![Value::new(7, "EMAIL", "x@y.test")] },
        ];
        for r in s2.write_batch(ops, &ctx).unwrap() {
            r.unwrap();
        }
        s2.home_prefix("88.118.9", &ctx).unwrap();
    };
    let mut out = Vec::new();
    let opts = BackupOptions { with_secrets: true, now: NOW, software: "test".into(), files: Vec::new() };
    let t = write_backup(&*src, &mut out, &opts, &mut during).unwrap();
    assert!(calls >= 3, "the copy took {calls} pages");
    assert!(t.counts.repair_entries >= 5, "{:?}", t.counts);
    assert_eq!(t.snapshot_seq, src.last_seq());
    assert!(!src.consumers().unwrap().iter().any(|c| c.name.starts_with(CONSUMER)), "the retention hold is released");

    let dst = store(b.path());
    restore(&*dst, &mut &out[..], &WriteCtx::new(NOW, "restore"), &mut |_, _| Ok(()), &mut |_| {}).unwrap();
    assert_eq!(all_records(&*src), all_records(&*dst));
    assert_eq!(src.list_prefixes().unwrap(), dst.list_prefixes().unwrap());
    assert_eq!(t.records, src.count_records(None).unwrap());
}

/// A retention hold left by a backup whose process died is released by a
/// later backup once it is a day old; a recent one (a backup running
/// beside) is kept.
#[test]
fn stale_backup_holds_are_released() {
    let a = tempfile::tempdir().unwrap();
    let src = seeded(a.path());
    src.set_consumer_position("backup:1-dead", 1, NOW - 2 * STALE_HOLD_SECS).unwrap();
    src.set_consumer_position("backup:2-live", 1, NOW - 60).unwrap();
    backup_bytes(&*src, false);
    let names: Vec<String> = src.consumers().unwrap().into_iter().map(|c| c.name).collect();
    assert_eq!(names, vec!["backup:2-live".to_owned()]);
}
