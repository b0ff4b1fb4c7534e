//! The on-disk format version of a sled store and the upgrades between
//! versions (issue 15, item 3).
//!
//! A store says which layout it was written in; this build reads exactly
//! [`FORMAT_VERSION`]. Opening checks the version before anything else is
//! decoded, so a store is never misread:
//!
//! * same version: opened;
//! * older: upgraded in place when the caller asked for it
//!   ([`super::SledOptions::migrate`], what `idnode store migrate` does),
//!   otherwise refused with [`StoreError::FormatTooOld`], whose message
//!   names that command;
//! * newer (a downgrade): refused with [`StoreError::SchemaTooNew`].
//!
//! **Format 1** kept the version only inside the postcard-encoded
//! [`StoreMeta`] under `meta/store`: to learn the version a reader had to
//! decode a struct whose shape is itself part of the format, so a later
//! change of `StoreMeta` would have made old and new stores unreadable to
//! each other's version check. **Format 2** adds `meta/format`: the version
//! as 4 big-endian bytes, a shape that never changes, read first; it also
//! writes the version into `StoreMeta.schema` (so a format-1 binary refuses
//! a format-2 store with its own "newer" error) and records, in
//! `meta/upgraded`, each upgrade as `from`, `to`, `at` (postcard). The
//! upgrade from 1 is therefore small but real: a format-1 store lacks
//! `meta/format`, and this build will not open it until it has one.
//!
//! Each upgrade step is one function from version N to N+1 that writes in
//! a single sled batch and flushes; a crash during a step leaves the store
//! at N (the batch is atomic) and the step runs again.

use super::{StoreError, StoreMeta, backend, decode};
use crate::model::Stored;

/// The store format this build reads and writes.
pub const FORMAT_VERSION: u32 = 2;

/// Key of the fixed-shape version (format >= 2) in the `meta` tree.
pub(super) const FORMAT_KEY: &[u8] = b"format";
/// Key of the upgrade history in the `meta` tree.
const UPGRADED_KEY: &[u8] = b"upgraded";
/// Key of [`StoreMeta`] in the `meta` tree.
pub(super) const META_KEY: &[u8] = b"store";

/// One applied upgrade, kept in `meta/upgraded`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Upgrade {
    pub from: u32,
    pub to: u32,
    /// Unix seconds.
    pub at: u64,
}

impl Stored for Upgrade {}

/// The upgrade history of a store (oldest first).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct UpgradeHistory {
    pub steps: Vec<Upgrade>,
}

impl Stored for UpgradeHistory {}

/// The format version recorded in `meta` (`None`: an empty, new store).
pub(super) fn stored_version(meta: &sled::Tree) -> Result<Option<u32>, StoreError> {
    if let Some(b) = meta.get(FORMAT_KEY).map_err(backend)? {
        let a: [u8; 4] =
            b.as_ref().try_into().map_err(|_| StoreError::corrupt("meta", "the format key is not 4 bytes"))?;
        return Ok(Some(u32::from_be_bytes(a)));
    }
    match meta.get(META_KEY).map_err(backend)? {
        // Format 1: only StoreMeta, whose first field is the version.
        Some(b) => Ok(Some(decode::<StoreMeta>("meta", &b)?.schema)),
        None => Ok(None),
    }
}

/// Checks the format of an existing store and upgrades it when `migrate`;
/// writes the current format into a new one. Returns the store's metadata
/// and how many upgrade steps this call applied.
pub(super) fn open_meta(
    db: &sled::Db,
    meta: &sled::Tree,
    migrate: bool,
    new_meta: impl FnOnce() -> StoreMeta,
    now: u64,
) -> Result<(StoreMeta, usize), StoreError> {
    let Some(found) = stored_version(meta)? else {
        let m = new_meta();
        let mut b = sled::Batch::default();
        b.insert(META_KEY, m.to_stored());
        b.insert(FORMAT_KEY, &FORMAT_VERSION.to_be_bytes());
        meta.apply_batch(b).map_err(backend)?;
        db.flush().map_err(backend)?;
        return Ok((m, 0));
    };
    if found == 0 {
        return Err(StoreError::corrupt("meta", "format version 0"));
    }
    if found > FORMAT_VERSION {
        return Err(StoreError::SchemaTooNew { found, supported: FORMAT_VERSION });
    }
    let mut applied = 0;
    if found < FORMAT_VERSION {
        if !migrate {
            return Err(StoreError::FormatTooOld { found, current: FORMAT_VERSION });
        }
        let mut v = found;
        while v < FORMAT_VERSION {
            upgrade_step(db, meta, v, now)?;
            v += 1;
            applied += 1;
        }
    }
    let b = meta.get(META_KEY).map_err(backend)?.ok_or_else(|| StoreError::corrupt("meta", "no store metadata"))?;
    let m = decode::<StoreMeta>("meta", &b)?;
    // Both places must agree: a newer build writes both.
    if m.schema > FORMAT_VERSION {
        return Err(StoreError::SchemaTooNew { found: m.schema, supported: FORMAT_VERSION });
    }
    if m.schema != FORMAT_VERSION {
        return Err(StoreError::corrupt(
            "meta",
            format!("meta/format says format {FORMAT_VERSION} but the store metadata says {}", m.schema),
        ));
    }
    Ok((m, applied))
}

/// The upgrade history recorded in `meta/upgraded`.
pub(super) fn history(meta: &sled::Tree) -> Result<UpgradeHistory, StoreError> {
    match meta.get(UPGRADED_KEY).map_err(backend)? {
        Some(b) => decode("meta", &b),
        None => Ok(UpgradeHistory::default()),
    }
}

/// Upgrades a store at `from` to `from + 1` (one atomic batch + flush).
fn upgrade_step(db: &sled::Db, meta: &sled::Tree, from: u32, now: u64) -> Result<(), StoreError> {
    let to = from + 1;
    let mut batch = sled::Batch::default();
    match from {
        1 => {
            // 1 -> 2: the fixed-shape version key; StoreMeta.schema follows.
            let b =
                meta.get(META_KEY).map_err(backend)?.ok_or_else(|| StoreError::corrupt("meta", "no store metadata"))?;
            let mut m: StoreMeta = decode("meta", &b)?;
            m.schema = to;
            batch.insert(META_KEY, m.to_stored());
            batch.insert(FORMAT_KEY, &to.to_be_bytes());
        }
        _ => return Err(StoreError::corrupt("meta", format!("no upgrade from format {from}"))),
    }
    let mut h = history(meta)?;
    h.steps.push(Upgrade { from, to, at: now });
    batch.insert(UPGRADED_KEY, h.to_stored());
    meta.apply_batch(batch).map_err(backend)?;
    db.flush().map_err(backend)?;
    Ok(())
}
