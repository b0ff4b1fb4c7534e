//! The read snapshot (sled_store/snapshot.rs): resolutions served from it
//! are the store's current records, across writes, reopens, records
//! changed while it was closed, and a damaged snapshot file.

use idnode_registry::model::Value;
use idnode_registry::store::{SledOptions, SledStore, Store, StoreExt, WriteCtx};

const NOW: u64 = 1_767_225_600;

fn ctx() -> WriteCtx {
    WriteCtx::new(NOW, "test")
}

fn open(dir: &std::path::Path, snapshot: bool) -> SledStore {
    let opts = || SledOptions::new(dir).cache_capacity(8 << 20).read_cache_entries(64).read_snapshot(snapshot);
    // sled's own I/O threads may hold the directory lock for a moment after
    // the previous handle was dropped (these tests reopen many times).
    for _ in 0..50 {
        match SledStore::open(opts()) {
            Err(idnode_registry::store::StoreError::Locked { .. }) => {
                std::thread::sleep(std::time::Duration::from_millis(20))
            }
            r => return r.unwrap(),
        }
    }
    SledStore::open(opts()).unwrap()
}

fn key(i: u32) -> Vec<u8> {
    format!("88.118.8/R-{i}").into_bytes()
}

fn url(s: &SledStore, i: u32) -> Option<Vec<u8>> {
    s.get_record(&key(i)).unwrap().map(|r| r.values().unwrap()[0].data.clone())
}

fn fill(s: &SledStore, n: u32, tag: &str) {
    for i in 0..n {
        let v = vec![Value::new(1, "URL", format!("{tag}-{i}").as_str())];
        s.create_record(&key(i), v, true, &ctx()).unwrap();
    }
}

#[test]
fn reads_come_from_the_snapshot_and_see_every_later_write() {
    let dir = tempfile::tempdir().unwrap();
    {
        let s = open(dir.path(), false);
        fill(&s, 300, "a");
    }
    let s = open(dir.path(), true);
    assert!(s.wait_read_snapshot());
    let (count, dirty, index, _) = s.read_snapshot_stats().unwrap();
    assert_eq!((count, dirty), (300, 0));
    assert!(index >= 300 * 8);
    for i in 0..300 {
        assert_eq!(url(&s, i), Some(format!("a-{i}").into_bytes()));
    }
    assert_eq!(url(&s, 1000), None);
    assert!(s.read_snapshot_stats().unwrap().3 >= 301, "lookups were answered by the snapshot");

    // Writes after the snapshot: the next read sees them.
    s.replace_record(&key(5), vec![Value::new(1, "URL", "b-5")], &ctx()).unwrap();
    assert_eq!(url(&s, 5), Some(b"b-5".to_vec()));
    s.delete_record(&key(6), &ctx()).unwrap();
    assert_eq!(url(&s, 6), None);
    s.create_record(&key(1000), vec![Value::new(1, "URL", "new")], false, &ctx()).unwrap();
    assert_eq!(url(&s, 1000), Some(b"new".to_vec()));
    assert_eq!(url(&s, 7), Some(b"a-7".to_vec()));

    // The record count comes from the snapshot and the keys written since
    // (no walk of the tree): 300 - 1 deleted + 1 created, the replaced one
    // counted once; the same as a walk of one prefix's records.
    assert_eq!(s.count_records(None).unwrap(), 300);
    assert_eq!(s.count_records(Some("88.118.8")).unwrap(), 300);
    s.delete_record(&key(1000), &ctx()).unwrap();
    s.create_record(&key(2000), vec![Value::new(1, "URL", "x")], false, &ctx()).unwrap();
    s.create_record(&key(2001), vec![Value::new(1, "URL", "y")], false, &ctx()).unwrap();
    assert_eq!(s.count_records(None).unwrap(), 301);
    assert_eq!(s.count_records(Some("88.118.8")).unwrap(), 301);
}

#[test]
fn records_changed_while_closed_are_read_from_sled_after_reopen() {
    let dir = tempfile::tempdir().unwrap();
    {
        let s = open(dir.path(), true);
        fill(&s, 200, "a");
        // Built at open (empty) then changed: rebuild it from the 200.
    }
    {
        let s = open(dir.path(), true);
        assert!(s.wait_read_snapshot());
    }
    {
        // Changed without the snapshot (e.g. an offline command).
        let s = open(dir.path(), false);
        s.replace_record(&key(3), vec![Value::new(1, "URL", "c-3")], &ctx()).unwrap();
        s.delete_record(&key(4), &ctx()).unwrap();
    }
    let s = open(dir.path(), true);
    assert!(s.wait_read_snapshot());
    assert!(s.read_snapshot_stats().unwrap().1 >= 2, "the two changed keys are marked");
    assert_eq!(url(&s, 3), Some(b"c-3".to_vec()));
    assert_eq!(url(&s, 4), None);
    assert_eq!(url(&s, 9), Some(b"a-9".to_vec()));
}

#[test]
fn a_damaged_snapshot_file_is_rebuilt() {
    let dir = tempfile::tempdir().unwrap();
    {
        let s = open(dir.path(), false);
        fill(&s, 100, "a");
    }
    {
        let s = open(dir.path(), true);
        assert!(s.wait_read_snapshot());
    }
    let file = dir.path().join("read-snapshot.v1");
    let len = std::fs::metadata(&file).unwrap().len();
    std::fs::OpenOptions::new().write(true).open(&file).unwrap().set_len(len - 7).unwrap();
    let s = open(dir.path(), true);
    assert!(s.wait_read_snapshot());
    assert_eq!(s.read_snapshot_stats().unwrap().0, 100);
    for i in 0..100 {
        assert_eq!(url(&s, i), Some(format!("a-{i}").into_bytes()));
    }
}

fn idx(dir: &std::path::Path) -> std::path::PathBuf {
    dir.join("read-snapshot.v1.idx")
}

/// Opens with the snapshot, waits for it, checks every record; returns
/// whether its index came from the persisted file.
fn open_and_check(dir: &std::path::Path, n: u32, tag: &str) -> bool {
    let s = open(dir, true);
    assert!(s.wait_read_snapshot());
    for i in 0..n {
        assert_eq!(url(&s, i), Some(format!("{tag}-{i}").into_bytes()), "record {i}");
    }
    assert_eq!(url(&s, n + 5000), None);
    s.read_snapshot_index_loaded().expect("a snapshot is in use")
}

#[test]
fn the_index_is_persisted_and_loaded_on_the_next_open() {
    let dir = tempfile::tempdir().unwrap();
    {
        let s = open(dir.path(), false);
        fill(&s, 500, "a");
    }
    assert!(!open_and_check(dir.path(), 500, "a"), "first open builds the index");
    assert!(idx(dir.path()).exists());
    assert!(open_and_check(dir.path(), 500, "a"), "second open loads it");
    {
        // Changed while closed: still read from sled with a loaded index.
        let s = open(dir.path(), false);
        s.replace_record(&key(3), vec![Value::new(1, "URL", "c-3")], &ctx()).unwrap();
    }
    let s = open(dir.path(), true);
    assert!(s.wait_read_snapshot());
    assert_eq!(s.read_snapshot_index_loaded(), Some(true));
    assert_eq!(url(&s, 3), Some(b"c-3".to_vec()));
    assert_eq!(url(&s, 4), Some(b"a-4".to_vec()));
}

#[test]
fn a_truncated_or_damaged_index_is_rebuilt() {
    let dir = tempfile::tempdir().unwrap();
    {
        let s = open(dir.path(), false);
        fill(&s, 300, "a");
    }
    assert!(!open_and_check(dir.path(), 300, "a"));
    let path = idx(dir.path());
    let len = std::fs::metadata(&path).unwrap().len();
    // Truncated.
    std::fs::OpenOptions::new().write(true).open(&path).unwrap().set_len(len - 8).unwrap();
    assert!(!open_and_check(dir.path(), 300, "a"));
    assert_eq!(std::fs::metadata(&path).unwrap().len(), len, "written again whole");
    assert!(open_and_check(dir.path(), 300, "a"));
    // A wrong header (magic), then a flipped slot byte (checksum).
    for at in [0u64, len - 3] {
        let mut b = std::fs::read(&path).unwrap();
        b[at as usize] ^= 0x5a;
        std::fs::write(&path, &b).unwrap();
        assert!(!open_and_check(dir.path(), 300, "a"), "damaged at {at}: rebuilt");
        assert!(open_and_check(dir.path(), 300, "a"));
    }
}

#[test]
fn an_index_of_an_older_snapshot_is_not_used() {
    let dir = tempfile::tempdir().unwrap();
    {
        let s = open(dir.path(), false);
        fill(&s, 200, "a");
    }
    assert!(!open_and_check(dir.path(), 200, "a"));
    let old = std::fs::read(idx(dir.path())).unwrap();
    {
        let s = open(dir.path(), false);
        fill(&s, 200, "b");
    }
    // A new snapshot (later seq) with the old index put back beside it.
    std::fs::remove_file(dir.path().join("read-snapshot.v1")).unwrap();
    assert!(!open_and_check(dir.path(), 200, "b"));
    std::fs::write(idx(dir.path()), &old).unwrap();
    assert!(!open_and_check(dir.path(), 200, "b"), "stale index refused");
    assert!(open_and_check(dir.path(), 200, "b"));
}
