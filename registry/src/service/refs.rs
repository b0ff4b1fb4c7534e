//! Links between identifiers (issue 12): the check on write and the
//! reverse index ("who points at me").
//!
//! * [`check_links`] — every `REF.<relation>` value of a write must be a
//!   valid [`Link`] whose target either exists here (its prefix is homed on
//!   this node) or is a syntactically valid foreign identifier (a prefix not
//!   homed here: it is resolved elsewhere). Doors call it once, before the
//!   write, with the values being written.
//! * [`RefIndex`] — the reverse index, kept by a change-log consumer named
//!   [`CONSUMER`]: for every record change it re-reads the record and
//!   replaces that record's links in the store's link index
//!   ([`Store::set_links`]). Because it follows the change log, every write
//!   path is covered (REST, SNMS, the Handle protocol's admin operations,
//!   the admin API, import, federation) without a hook in each. After a
//!   crash the consumer resumes from its stored position; re-indexing a
//!   record from its current state is idempotent, so a replay converges.
//!   Readers call [`RefIndex::catch_up`] first, so an answer reflects every
//!   write acknowledged before it (writes are durable, hence in the log,
//!   when acknowledged). When the consumer is new or retention removed
//!   changes it had not seen, the index is rebuilt from a scan of all
//!   records.

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use super::ServiceError;
use crate::ident::{Identifier, prefix_of};
use crate::model::link::{Link, links_of};
use crate::model::{Record, Value};
use crate::store::{Store, StoreError};

/// Change-log consumer name of the reverse index.
pub const CONSUMER: &str = "refs";
/// Changes read per step of a catch-up.
const STEP: usize = 1000;

/// Checks the links among `values` (see the module docs). `field` names
/// the offending value as `value[i]` (its position in `values`).
pub fn check_links(store: &dyn Store, values: &[Value]) -> Result<(), ServiceError> {
    for (i, v) in values.iter().enumerate() {
        let Some(link) = Link::from_value(v) else { continue };
        let link = link.map_err(|e| ServiceError::Invalid { field: format!("value[{i}]"), reason: e.to_string() })?;
        if let Some(false) = target_exists(store, &link.target)? {
            return Err(ServiceError::Invalid {
                field: format!("value[{i}]"),
                reason: format!(
                    "{} target {:?} does not exist on this node (its prefix is homed here)",
                    link.relation, link.target
                ),
            });
        }
    }
    Ok(())
}

/// `Some(exists)` for a target whose prefix is homed here, `None` for a
/// foreign identifier.
pub fn target_exists(store: &dyn Store, target: &str) -> Result<Option<bool>, StoreError> {
    let Ok(id) = Identifier::parse(target) else { return Ok(Some(false)) };
    let id = id.to_prefix_handle();
    if store.longest_homed(prefix_of(id.as_bytes())).is_none() {
        return Ok(None);
    }
    Ok(Some(store.contains_record(&store.canonical_key(id.as_bytes()))?))
}

/// The links of the stored record `key` as (relation, target key) pairs.
pub fn stored_links(store: &dyn Store, key: &[u8]) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
    let Some(rec) = store.get_record(key)? else { return Ok(Vec::new()) };
    let values = rec.values().map_err(|e| StoreError::Corrupt { tree: "handles", detail: e.to_string() })?;
    Ok(index_entries(store, &values))
}

fn index_entries(store: &dyn Store, values: &[Value]) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = links_of(values)
        .into_iter()
        .map(|l| {
            let target = Identifier::parse(&l.target).map(|i| i.to_prefix_handle()).ok();
            let key = target.map(|t| store.canonical_key(t.as_bytes())).unwrap_or_else(|| l.target.into_bytes());
            (l.relation, key)
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

/// The reverse index's follower. Share one per store (`Arc`): catch-ups
/// are serialised by its lock.
#[derive(Debug)]
pub struct RefIndex {
    store: Arc<dyn Store>,
    /// Last change indexed (`u64::MAX` = not loaded yet); read without the lock.
    done: AtomicU64,
    lock: Mutex<()>,
}

impl RefIndex {
    pub fn new(store: Arc<dyn Store>) -> Self {
        RefIndex { store, done: AtomicU64::new(u64::MAX), lock: Mutex::new(()) }
    }

    pub fn store(&self) -> &dyn Store {
        &*self.store
    }

    /// Indexes every durable change not yet indexed (rebuilding the index
    /// when needed); returns the position reached. Cheap when nothing
    /// changed (two atomic loads).
    pub fn catch_up(&self) -> Result<u64, StoreError> {
        let target = self.store.durable_seq();
        let done = self.done.load(Ordering::Acquire);
        if done != u64::MAX && done >= target {
            return Ok(done);
        }
        let _g = self.lock.lock().unwrap_or_else(|e| e.into_inner());
        let store = &*self.store;
        let mut pos = match self.done.load(Ordering::Acquire) {
            u64::MAX => store.consumer_position(CONSUMER)?.unwrap_or(u64::MAX),
            p => p,
        };
        let first = store.first_seq()?;
        // New consumer, or changes it never saw were pruned: rebuild.
        if pos == u64::MAX || (first > 0 && first > pos + 1) {
            pos = self.rebuild()?;
        }
        let mut time = 0;
        loop {
            let changes = store.changes_since(pos, STEP)?;
            let Some(last) = changes.last() else { break };
            let last_seq = last.seq;
            for c in changes.iter().filter(|c| c.op.is_record()) {
                let links = stored_links(store, &c.key)?;
                store.set_links(&c.key, &links)?;
                time = c.time;
            }
            pos = last_seq;
        }
        if pos != self.done.load(Ordering::Acquire) {
            store.set_consumer_position(CONSUMER, pos, time)?;
        }
        self.done.store(pos, Ordering::Release);
        Ok(pos)
    }

    /// Clears the index and indexes every record; returns the change-log
    /// position the scan is at least as new as.
    fn rebuild(&self) -> Result<u64, StoreError> {
        let store = &*self.store;
        let from = store.durable_seq();
        store.clear_links()?;
        let mut after: Option<Vec<u8>> = None;
        loop {
            let page = store.scan_records(None, after.as_deref(), 1000)?;
            let Some((last, _)) = page.last() else { break };
            after = Some(last.clone());
            for (key, rec) in &page {
                let Ok(values) = rec.values() else { continue };
                let links = index_entries(store, &values);
                if !links.is_empty() {
                    store.set_links(key, &links)?;
                }
            }
        }
        // Changes made during the scan are replayed after `from`.
        store.set_consumer_position(CONSUMER, from, 0)?;
        Ok(from)
    }

    /// Records pointing at `target` (canonical key) as (source key,
    /// relation), after `after`, at most `limit`, once caught up.
    pub fn sources(
        &self,
        target: &[u8],
        after: Option<(&[u8], &str)>,
        limit: usize,
    ) -> Result<Vec<(Vec<u8>, String)>, StoreError> {
        self.catch_up()?;
        self.store.links_to(target, after, limit)
    }
}

/// The decoded values of the record `key` (none when it does not exist).
pub fn record_values(store: &dyn Store, key: &[u8]) -> Result<Option<Vec<Value>>, StoreError> {
    match store.get_record(key)? {
        None => Ok(None),
        Some(rec) => Ok(Some(
            Record::decode(rec.stored())
                .map_err(|e| StoreError::Corrupt { tree: "handles", detail: e.to_string() })?
                .values,
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Prefix;
    use crate::store::{SledStore, StoreExt, WriteCtx};

    fn store() -> (tempfile::TempDir, Arc<dyn Store>) {
        let dir = tempfile::tempdir().unwrap();
        let s: Arc<dyn Store> = Arc::new(SledStore::open_path(dir.path().join("s")).unwrap());
        s.put_prefix(&Prefix::homed("88.1", 1), &WriteCtx::new(1, "t")).unwrap();
        (dir, s)
    }

    fn k(s: &dyn Store, id: &str) -> Vec<u8> {
        s.canonical_key(id.as_bytes())
    }

    #[test]
    fn check_on_write() {
        let (_d, s) = store();
        let ctx = WriteCtx::new(1, "t");
        s.create_record(&k(&*s, "88.1/LOT"), vec![Value::new(1, "URL", "x")], false, &ctx).unwrap();
        check_links(&*s, &[Link::new("batch", "88.1/LOT").to_value(2)]).unwrap();
        check_links(&*s, &[Link::new("batch", "99.7/ELSEWHERE").to_value(2)]).unwrap();
        let e = check_links(&*s, &[Value::new(1, "URL", "x"), Link::new("batch", "88.1/NOPE").to_value(2)]);
        assert!(matches!(e, Err(ServiceError::Invalid { ref field, .. }) if field == "value[1]"), "{e:?}");
        assert!(check_links(&*s, &[Value::new(2, "REF.Bad", "88.1/LOT")]).is_err());
    }

    #[test]
    fn follows_every_write_and_survives_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s");
        let ctx = WriteCtx::new(5, "t");
        {
            let s: Arc<dyn Store> = Arc::new(SledStore::open_path(&path).unwrap());
            s.put_prefix(&Prefix::homed("88.1", 1), &ctx).unwrap();
            // Written before the index exists: found by the rebuild.
            s.create_record(&k(&*s, "88.1/LOT"), vec![Value::new(1, "URL", "x")], false, &ctx).unwrap();
            s.create_record(&k(&*s, "88.1/A"), vec![Link::new("batch", "88.1/LOT").to_value(2)], false, &ctx).unwrap();
            let idx = RefIndex::new(s.clone());
            let lot = k(&*s, "88.1/LOT");
            assert_eq!(idx.sources(&lot, None, 10).unwrap(), vec![(k(&*s, "88.1/A"), "batch".into())]);
            // Later writes through the store directly (any door) are followed.
            s.create_record(&k(&*s, "88.1/B"), vec![Link::new("batch", "88.1/LOT").to_value(2)], false, &ctx).unwrap();
            s.modify_values(&k(&*s, "88.1/A"), vec![Link::new("batch", "88.1/OTHER").to_value(2)], &ctx).unwrap();
            assert_eq!(idx.sources(&lot, None, 10).unwrap(), vec![(k(&*s, "88.1/B"), "batch".into())]);
            s.create_record(&k(&*s, "88.1/C"), vec![Link::new("batch", "88.1/LOT").to_value(7)], false, &ctx).unwrap();
            s.delete_record(&k(&*s, "88.1/B"), &ctx).unwrap();
            // Paging.
            let p1 = idx.sources(&lot, None, 1).unwrap();
            assert_eq!(p1, vec![(k(&*s, "88.1/C"), "batch".into())]);
            assert!(idx.sources(&lot, Some((&p1[0].0, &p1[0].1)), 1).unwrap().is_empty());
            // A write the index has not seen yet when the process ends.
            s.create_record(&k(&*s, "88.1/D"), vec![Link::new("batch", "88.1/LOT").to_value(2)], false, &ctx).unwrap();
        }
        let s: Arc<dyn Store> = Arc::new(SledStore::open_path(&path).unwrap());
        let idx = RefIndex::new(s.clone());
        let got: Vec<_> = idx.sources(&k(&*s, "88.1/LOT"), None, 10).unwrap().into_iter().map(|(k, _)| k).collect();
        assert_eq!(got, vec![k(&*s, "88.1/C"), k(&*s, "88.1/D")]);
        assert_eq!(s.consumer_position(CONSUMER).unwrap(), Some(s.durable_seq()));
    }
}
