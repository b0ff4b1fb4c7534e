//! Store format versions (issue 15, item 3) against a committed fixture:
//! `tests/fixtures/store-v1/` is a sled store written by the format-1 build
//! (`idnode init --demo` plus a few identifiers, see its README). Opening
//! it with this build is refused until it is migrated, the migration keeps
//! every record and entity, and a store from a future format is refused.

use std::path::{Path, PathBuf};

use idnode_registry::store::{FORMAT_VERSION, SledOptions, SledStore, Store, StoreError};

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/store-v1")
}

/// A private copy of the fixture (opening writes to the directory):
/// `*.gz` files are unpacked (sled's segment file is kept gzipped), the
/// empty `blobs/` directory (not in git) is created.
fn copy_fixture() -> tempfile::TempDir {
    use std::io::Read;
    let dir = tempfile::tempdir().unwrap();
    for e in std::fs::read_dir(fixture()).unwrap() {
        let e = e.unwrap();
        let name = e.file_name().into_string().unwrap();
        if !e.file_type().unwrap().is_file() || name.ends_with(".sh") || name == "README.md" {
            continue;
        }
        match name.strip_suffix(".gz") {
            Some(plain) => {
                let mut out = Vec::new();
                flate2::read::GzDecoder::new(std::fs::File::open(e.path()).unwrap()).read_to_end(&mut out).unwrap();
                std::fs::write(dir.path().join(plain), out).unwrap();
            }
            None => {
                std::fs::copy(e.path(), dir.path().join(&name)).unwrap();
            }
        }
    }
    std::fs::create_dir_all(dir.path().join("blobs")).unwrap();
    dir
}

/// What the fixture holds (its README says how it was made).
const IDS: &[&str] = &["88.118.8.1001/LOT2026-000451", "88.118.8.1001/FMT-1", "88.118.8.1001/FMT-2", "0.NA/88.118.8"];

fn open(dir: &Path, migrate: bool) -> Result<SledStore, StoreError> {
    SledStore::open(SledOptions::new(dir).cache_capacity(8 << 20).migrate(migrate).now(1_790_000_000))
}

#[test]
fn format_1_is_refused_without_migration_naming_the_command() {
    let dir = copy_fixture();
    let e = open(dir.path(), false).unwrap_err();
    assert!(matches!(e, StoreError::FormatTooOld { found: 1, current: FORMAT_VERSION }), "{e:?}");
    let msg = e.to_string();
    assert!(msg.contains("idnode store migrate"), "{msg}");
    // Refusing changed nothing: it is refused again.
    assert!(matches!(open(dir.path(), false).unwrap_err(), StoreError::FormatTooOld { .. }));
}

#[test]
fn format_1_migrates_and_keeps_its_data() {
    let dir = copy_fixture();
    let s = open(dir.path(), true).unwrap();
    assert_eq!(s.meta().schema, FORMAT_VERSION);
    let h = s.upgrade_history();
    assert_eq!(h.steps.len(), 1);
    assert_eq!(s.upgraded_at_open(), &h.steps[..]);
    assert_eq!((h.steps[0].from, h.steps[0].to, h.steps[0].at), (1, 2, 1_790_000_000));
    for id in IDS {
        let key = s.canonical_key(id.as_bytes());
        let rec = s.get_record(&key).unwrap().unwrap_or_else(|| panic!("{id} lost by the migration"));
        assert!(!rec.values().unwrap().is_empty(), "{id}");
    }
    assert!(s.count_records(None).unwrap() >= IDS.len() as u64);
    assert!(s.is_homed(b"88.118.8"));
    assert!(!s.list_templates(None).unwrap().is_empty());
    assert!(s.get_identity("admin").unwrap().is_some());
    let last = s.last_seq();
    assert!(last > 0);
    drop(s);

    // Migrated once: opens plainly now, and the history is kept.
    let s = open(dir.path(), false).unwrap();
    assert_eq!(s.meta().schema, FORMAT_VERSION);
    assert_eq!(s.upgrade_history().steps.len(), 1);
    assert!(s.upgraded_at_open().is_empty());
    assert_eq!(s.last_seq(), last, "the migration writes no change-log entry");
}

#[test]
fn a_store_from_a_future_format_is_refused() {
    let dir = copy_fixture();
    drop(open(dir.path(), true).unwrap());
    {
        // What a newer build would leave: a higher fixed-shape version.
        let db = SledStore::open_raw(dir.path()).unwrap();
        db.open_tree("meta").unwrap().insert("format", &(FORMAT_VERSION + 1).to_be_bytes()).unwrap();
        db.flush().unwrap();
    }
    for migrate in [false, true] {
        let e = open(dir.path(), migrate).unwrap_err();
        assert!(
            matches!(e, StoreError::SchemaTooNew { found, supported } if found == FORMAT_VERSION + 1 && supported == FORMAT_VERSION),
            "{e:?}"
        );
        let msg = e.to_string();
        assert!(msg.contains("newer idnode") && msg.contains("downgrade"), "{msg}");
    }
}

#[test]
fn a_new_store_is_written_in_the_current_format() {
    let dir = tempfile::tempdir().unwrap();
    drop(open(dir.path(), false).unwrap());
    let db = SledStore::open_raw(dir.path()).unwrap();
    let v = db.open_tree("meta").unwrap().get("format").unwrap().unwrap();
    assert_eq!(v.as_ref(), FORMAT_VERSION.to_be_bytes());
}
